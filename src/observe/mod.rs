//! What secretscope tells a service's tracing and metrics: the spans it opens and the metrics
//! it records, never a secret value or credential.
//!
//! # Spans (`tracing`, level DEBUG)
//!
//! | span | where | fields |
//! |---|---|---|
//! | `secretscope.resolve` | every resolve | `reference` (as parsed), `scope`, `connection`, `outcome`, `latency_us` |
//! | `secretscope.cache` | a cache miss, under the resolve | `secret`, `outcome` (`fetched`, `joined` another caller's fetch, `stale`, `failed`) |
//! | `secretscope.budget.wait` | a fetch waiting for the request budget or a pause | `host`, `waited_ms`, `outcome` |
//! | `secretscope.backend.fetch` | every request to a backend | `connection`, `secret`, `version`, `outcome`, `latency_us` |
//! | `secretscope.check` | a connection check | `connection`, `location`, `outcome`, `latency_us` |
//!
//! `outcome` is `hit`, `miss` or `stale` for a value, `negative` for a not-found answer kept
//! by the cache, and otherwise the [`ErrorKind`] name (`not_found`, `throttled`, ...).
//!
//! # Metrics (the [`metrics`](https://docs.rs/metrics) facade)
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | [`RESOLVES`] `secretscope_resolves_total` | counter | `connection`, `outcome` | resolves, by outcome as above (`connection` is empty when none was chosen) |
//! | [`BACKEND_REQUESTS`] `secretscope_backend_requests_total` | counter | `connection`, `status` | requests to a backend: `status` is `ok` or the [`ErrorKind`] name |
//! | [`BACKEND_DURATION`] `secretscope_backend_request_duration_seconds` | histogram | `connection` | how long each request took |
//! | [`THROTTLED`] `secretscope_throttled_total` | counter | `host`, `by` | throttling: `by` is `service` (a 429) or `budget` (ours) |
//! | [`BUDGET_WAITS`] `secretscope_budget_waits_total` | counter | `host` | fetches that waited for the request budget or a pause |
//! | [`BUDGET_WAIT`] `secretscope_budget_wait_seconds` | histogram | `host` | how long they waited |
//! | [`CACHE_ENTRIES`] `secretscope_cache_entries` | gauge | `connection` | answers cached, not-found answers included |
//!
//! Install the recorder before building the [`WorkspaceManager`](crate::WorkspaceManager): the
//! metrics of a hit are handles registered when its stack is built, so that a hit only
//! increments a counter. Without a recorder that increment does nothing (about 20
//! instructions); with one, it is the recorder's own (typically an atomic add on memory every
//! core's hits write), the one write a hit makes besides reference counts.

mod layer;

use std::time::Instant;

use metrics::{Counter, Histogram, Label};
use tracing::Span;
use tracing::field::Empty;

use crate::error::{ErrorKind, Result};
use crate::reference::{ConnectionName, RefScope, SecretRef};
use crate::value::Source;

pub(crate) use layer::ObservedBackend;

/// Resolves, by connection and outcome.
pub const RESOLVES: &str = "secretscope_resolves_total";
/// Requests to a backend, by connection and status.
pub const BACKEND_REQUESTS: &str = "secretscope_backend_requests_total";
/// How long each backend request took, by connection.
pub const BACKEND_DURATION: &str = "secretscope_backend_request_duration_seconds";
/// Throttling events, by host and by whom (`service` or `budget`).
pub const THROTTLED: &str = "secretscope_throttled_total";
/// Fetches that waited for the request budget or a pause, by host.
pub const BUDGET_WAITS: &str = "secretscope_budget_waits_total";
/// How long those fetches waited, by host.
pub const BUDGET_WAIT: &str = "secretscope_budget_wait_seconds";
/// Answers cached, by connection.
pub const CACHE_ENTRIES: &str = "secretscope_cache_entries";

/// The outcome a resolve or a request is labelled with.
pub(crate) fn outcome<T>(result: &Result<T>, success: &'static str) -> &'static str {
    match result {
        Ok(_) => success,
        Err(error) => error.kind().as_str(),
    }
}

/// The outcome of a resolve that returned a value from `source`.
pub(crate) fn source_outcome(source: Source) -> &'static str {
    match source {
        Source::Cache => "hit",
        Source::StaleCache => "stale",
        Source::Backend => "miss",
    }
}

/// A label with the connection's name.
fn connection_label(connection: Option<&ConnectionName>) -> Label {
    Label::new(
        "connection",
        connection.map_or_else(String::new, |c| c.as_str().to_owned()),
    )
}

/// The resolve counters of one connection, registered once so that a hit only increments one.
#[derive(Clone)]
pub(crate) struct ResolveCounters {
    hit: Counter,
    miss: Counter,
    stale: Counter,
    negative: Counter,
}

impl ResolveCounters {
    pub(crate) fn new(connection: &ConnectionName) -> Self {
        let counter = |outcome: &'static str| {
            metrics::counter!(
                RESOLVES,
                vec![
                    connection_label(Some(connection)),
                    Label::from_static_parts("outcome", outcome),
                ]
            )
        };
        Self {
            hit: counter("hit"),
            miss: counter("miss"),
            stale: counter("stale"),
            negative: counter("negative"),
        }
    }

    /// Counts a resolve that returned a value from `source`.
    #[inline(always)]
    pub(crate) fn value(&self, source: Source) {
        match source {
            Source::Cache => self.hit.increment(1),
            Source::Backend => self.miss.increment(1),
            Source::StaleCache => self.stale.increment(1),
        }
    }

    /// Counts a not-found answer the cache kept.
    pub(crate) fn negative(&self) {
        self.negative.increment(1);
    }
}

impl std::fmt::Debug for ResolveCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResolveCounters")
    }
}

/// Counts a resolve that failed with `kind`, through `connection` if one was chosen.
#[cold]
pub(crate) fn resolve_failed(connection: Option<&ConnectionName>, kind: ErrorKind) {
    metrics::counter!(
        RESOLVES,
        vec![
            connection_label(connection),
            Label::from_static_parts("outcome", kind.as_str()),
        ]
    )
    .increment(1);
}

/// Whether a subscriber listens at DEBUG, where the resolve spans are: one relaxed load.
#[inline(always)]
pub(crate) fn tracing_resolves() -> bool {
    tracing::level_enabled!(tracing::Level::DEBUG)
}

/// The span of a resolve answered at once (a hit, a refusal), when `traced`: built, filled
/// and closed here, so that a hit carries no span while tracing is off.
#[inline(always)]
pub(crate) fn resolved_at_once(
    traced: bool,
    reference: &SecretRef,
    connection: Option<&ConnectionName>,
    outcome: &'static str,
) {
    if traced {
        ResolveSpan::start(true, reference).finish(connection, outcome);
    }
}

/// The span of one resolve and when it started, when a subscriber listens at DEBUG; nothing
/// (one word, no span built) otherwise.
pub(crate) struct ResolveSpan(Option<Box<Traced>>);

struct Traced {
    span: Span,
    started: Instant,
}

impl ResolveSpan {
    /// The span of a resolve of `reference`, if `traced`.
    pub(crate) fn start(traced: bool, reference: &SecretRef) -> Self {
        if !traced {
            return Self(None);
        }
        Self::describe(reference)
    }

    #[cold]
    #[inline(never)]
    fn describe(reference: &SecretRef) -> Self {
        let span = tracing::debug_span!(
            "secretscope.resolve",
            reference = %reference,
            scope = Empty,
            connection = Empty,
            outcome = Empty,
            latency_us = Empty,
        );
        if span.is_disabled() {
            return Self(None);
        }
        match reference.scope() {
            RefScope::Workspace => span.record("scope", "workspace"),
            RefScope::Project(project) => span.record(
                "scope",
                tracing::field::display(format_args!("project:{project}")),
            ),
        };
        Self(Some(Box::new(Traced {
            span,
            started: Instant::now(),
        })))
    }

    /// The span, to enter while the resolve waits.
    pub(crate) fn span(&self) -> Span {
        self.0
            .as_ref()
            .map_or_else(Span::none, |traced| traced.span.clone())
    }

    /// Records the connection and the outcome.
    pub(crate) fn finish(&self, connection: Option<&ConnectionName>, outcome: &'static str) {
        if let Some(traced) = &self.0 {
            traced.record(connection, outcome);
        }
    }
}

impl Traced {
    #[cold]
    #[inline(never)]
    fn record(&self, connection: Option<&ConnectionName>, outcome: &'static str) {
        if let Some(connection) = connection {
            self.span
                .record("connection", tracing::field::display(connection));
        }
        finish_span(&self.span, outcome, self.started);
    }
}

/// Records a span's `outcome` and `latency_us` since `started`.
pub(crate) fn finish_span(span: &Span, outcome: &'static str, started: Instant) {
    span.record("outcome", outcome);
    span.record("latency_us", started.elapsed().as_micros() as u64);
}

/// The metrics of one backend's requests.
#[derive(Clone)]
pub(crate) struct BackendMetrics {
    connection: ConnectionName,
    ok: Counter,
    duration: Histogram,
}

impl BackendMetrics {
    pub(crate) fn new(connection: &ConnectionName) -> Self {
        Self {
            connection: connection.clone(),
            ok: metrics::counter!(
                BACKEND_REQUESTS,
                vec![
                    connection_label(Some(connection)),
                    Label::from_static_parts("status", "ok"),
                ]
            ),
            duration: metrics::histogram!(
                BACKEND_DURATION,
                vec![connection_label(Some(connection))]
            ),
        }
    }

    pub(crate) fn connection(&self) -> &ConnectionName {
        &self.connection
    }

    /// Counts a request and its duration.
    pub(crate) fn request<T>(&self, result: &Result<T>, started: Instant) {
        self.duration.record(started.elapsed().as_secs_f64());
        match result {
            Ok(_) => self.ok.increment(1),
            Err(error) => metrics::counter!(
                BACKEND_REQUESTS,
                vec![
                    connection_label(Some(&self.connection)),
                    Label::from_static_parts("status", error.kind().as_str()),
                ]
            )
            .increment(1),
        }
    }
}

impl std::fmt::Debug for BackendMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendMetrics")
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

/// Counts a throttling event at `host`.
pub(crate) fn throttled(host: &str, by: crate::error::ThrottledBy) {
    let by = match by {
        crate::error::ThrottledBy::Service => "service",
        crate::error::ThrottledBy::Budget => "budget",
    };
    metrics::counter!(THROTTLED, "host" => host.to_owned(), "by" => by).increment(1);
}

/// Counts a wait for the budget of `host`, and how long it was.
pub(crate) fn budget_waited(host: &str, waited: std::time::Duration) {
    metrics::counter!(BUDGET_WAITS, "host" => host.to_owned()).increment(1);
    metrics::histogram!(BUDGET_WAIT, "host" => host.to_owned()).record(waited.as_secs_f64());
}

/// The gauge of a connection's cached answers; a no-op for a cache outside a manager.
pub(crate) fn cache_entries(connection: Option<&ConnectionName>) -> metrics::Gauge {
    match connection {
        Some(connection) => {
            metrics::gauge!(CACHE_ENTRIES, vec![connection_label(Some(connection))])
        }
        None => metrics::Gauge::noop(),
    }
}
