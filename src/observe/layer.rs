//! [`ObservedBackend`]: the layer at the bottom of a connection's stack that gives every
//! request to the backend a span and its metrics.

use std::fmt;
use std::time::Instant;

use async_trait::async_trait;
use tracing::Instrument;
use tracing::field::Empty;

use super::{BackendMetrics, finish_span, outcome};
use crate::backend::{Fetched, SecretBackend};
use crate::error::Result;
use crate::location::Location;
use crate::reference::{ConnectionName, SecretName, SecretVersion};

/// A backend whose requests are traced (`secretscope.backend.fetch`) and counted
/// ([`BACKEND_REQUESTS`](super::BACKEND_REQUESTS), [`BACKEND_DURATION`](super::BACKEND_DURATION)).
pub(crate) struct ObservedBackend<B> {
    inner: B,
    metrics: BackendMetrics,
}

impl<B: SecretBackend> ObservedBackend<B> {
    pub(crate) fn new(inner: B, connection: &ConnectionName) -> Self {
        Self {
            inner,
            metrics: BackendMetrics::new(connection),
        }
    }

    fn span(&self, name: &SecretName, version: Option<&SecretVersion>) -> tracing::Span {
        tracing::debug_span!(
            "secretscope.backend.fetch",
            connection = %self.metrics.connection(),
            secret = %name,
            version = version.map(tracing::field::display),
            outcome = Empty,
            latency_us = Empty,
        )
    }
}

#[async_trait]
impl<B: SecretBackend> SecretBackend for ObservedBackend<B> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        let span = self.span(name, version);
        let started = Instant::now();
        let result = self
            .inner
            .fetch(name, version)
            .instrument(span.clone())
            .await;
        self.metrics.request(&result, started);
        finish_span(&span, outcome(&result, "ok"), started);
        result
    }

    /// Reached only when the cache above had no answer (or is turned off): an answer the
    /// backend has at hand is a request all the same.
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        let started = Instant::now();
        let result = self.inner.fetch_now(name, version)?;
        self.metrics.request(&result, started);
        let span = self.span(name, version);
        finish_span(&span, outcome(&result, "ok"), started);
        Some(result)
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }

    fn location(&self) -> &Location {
        self.inner.location()
    }
}

impl<B: fmt::Debug> fmt::Debug for ObservedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The layer adds nothing worth showing: print the backend it observes.
        fmt::Debug::fmt(&self.inner, f)
    }
}
