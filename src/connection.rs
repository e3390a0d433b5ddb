//! A [`Connection`]: one configured backend under one name, with the stack of layers every
//! resolve through it goes down, and its check.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::backend::{Fetched, SecretBackend};
use crate::budget::{BudgetOptions, BudgetedBackend};
use crate::cache::{CacheOptions, CachedBackend};
use crate::clock::CoarseClock;
use crate::error::{Error, Result};
use crate::location::Location;
use crate::observe::{self, ObservedBackend, ResolveCounters};
use crate::reference::{ConnectionName, SecretRef};
use crate::validity::{ValidatedBackend, ValidityOptions};

/// A named backend: what an administrator configures as one secrets-manager connection.
///
/// The name is the connection's only name: reports, metadata and errors use it. Once the
/// connection is part of a [`WorkspaceManager`](crate::WorkspaceManager), resolves go through
/// its stack of layers (validity dates, the cache, the request budget) down to the backend.
#[derive(Clone)]
pub struct Connection {
    name: ConnectionName,
    backend: Arc<dyn SecretBackend>,
    stack: Stack,
}

/// The request budget over a connection's backend, whose requests are observed.
pub(crate) type Budgeted = BudgetedBackend<ObservedBackend<Arc<dyn SecretBackend>>>;

/// The cache layer over the budget.
pub(crate) type Cache = CachedBackend<Arc<Budgeted>>;

/// The layers in front of a connection's backend, outermost first: validity dates, the cache,
/// the request budget, and the spans and metrics of each request. The stack's type is concrete, so a resolve calls through it without a
/// virtual call (and without handing its answer through memory at each layer); only the
/// backend at its bottom is `dyn`.
#[derive(Clone)]
pub(crate) struct Stack {
    /// Where resolves enter: the outermost layer.
    pub(crate) entry: Arc<ValidatedBackend<Arc<Cache>>>,
    /// The cache layer, to evict from.
    pub(crate) cache: Arc<Cache>,
    /// The request budget, for reads that bypass the cache (a switch plan's checks).
    pub(crate) budgeted: Arc<Budgeted>,
    /// The connection's resolve counters.
    pub(crate) counters: ResolveCounters,
}

impl Stack {
    /// A fresh cache hit that passes the validity check, or `None` for anything else (which
    /// the entry layer's [`fetch_now`](SecretBackend::fetch_now) and
    /// [`fetch`](SecretBackend::fetch) answer).
    #[inline(always)]
    pub(crate) fn hit(&self, reference: &SecretRef) -> Option<Fetched> {
        self.entry.hit(reference.name(), reference.version())
    }
}

impl Connection {
    /// Names a backend.
    pub fn new(name: impl Into<String>, backend: impl SecretBackend) -> Self {
        Self::from_arc(name, Arc::new(backend))
    }

    /// Names a backend that is already shared.
    pub fn from_arc(name: impl Into<String>, backend: Arc<dyn SecretBackend>) -> Self {
        let name = ConnectionName::new(name.into());
        let layers = Layers::bare();
        Self {
            stack: layers.stack(&name, Arc::clone(&backend), &layers.clock()),
            backend,
            name,
        }
    }

    /// The connection name.
    pub fn name(&self) -> &ConnectionName {
        &self.name
    }

    /// The backend, without the layers in front of it.
    pub fn backend(&self) -> &Arc<dyn SecretBackend> {
        &self.backend
    }

    /// Where the backend points.
    pub fn location(&self) -> &Location {
        self.backend.location()
    }

    /// Runs the backend's check and reports, in words a person can act on, whether it works.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use secretscope::{Connection, memory::MemoryBackend};
    ///
    /// let report = Connection::new("dev", MemoryBackend::new()).check().await;
    /// assert!(report.is_success());
    /// assert!(report.to_string().starts_with("Connection successful: `dev` (memory)"));
    /// # });
    /// ```
    pub async fn check(&self) -> ConnectionReport {
        let span = tracing::debug_span!(
            "secretscope.check",
            connection = %self.name,
            location = %self.location(),
            outcome = tracing::field::Empty,
            latency_us = tracing::field::Empty,
        );
        let started = Instant::now();
        let outcome = self.backend.check().instrument(span.clone()).await;
        observe::finish_span(&span, observe::outcome(&outcome, "ok"), started);
        ConnectionReport {
            connection: self.name.clone(),
            location: self.location().clone(),
            latency: started.elapsed(),
            outcome,
        }
    }

    /// Puts `layers` in front of the backend, replacing any there were; the cache tells time
    /// from `clock`.
    pub(crate) fn compose(&mut self, layers: &Layers, clock: &CoarseClock) {
        self.stack = layers.stack(&self.name, Arc::clone(&self.backend), clock);
    }

    pub(crate) fn stack(&self) -> &Stack {
        &self.stack
    }

    /// Whether both are the same connection: the same name for the same backend.
    pub(crate) fn same_as(&self, other: &Connection) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.backend, &other.backend)
    }

    /// Checks the name, for the field `field` of a configuration.
    pub(crate) fn validate(&self, field: &str) -> Result<()> {
        if self.name.as_str().trim().is_empty() {
            return Err(Error::invalid_config(
                field,
                "the connection name is empty; name it as administrators will see it",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// What every connection's stack is made of, set on the
/// [`WorkspaceManagerBuilder`](crate::WorkspaceManagerBuilder).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layers {
    pub(crate) cache: CacheOptions,
    pub(crate) validity: ValidityOptions,
    pub(crate) budget: BudgetOptions,
}

impl Layers {
    /// The layers of a connection no manager has composed yet: a cache and the validity
    /// check, but no request budget, which only a manager's settings decide (a budget is
    /// shared by host, so an unsettled one would take the place of the one configured).
    fn bare() -> Self {
        Self {
            budget: BudgetOptions::disabled(),
            ..Self::default()
        }
    }

    /// One clock for every connection's cache: one task advances it.
    pub(crate) fn clock(&self) -> CoarseClock {
        CoarseClock::new(self.cache.clock_resolution())
    }

    /// validity dates -> cache -> request budget -> backend. The validity check sits above
    /// the cache so that a secret that expires while cached is refused from then on; the
    /// budget sits below it, so that it counts the requests the cache could not spare.
    fn stack(
        &self,
        name: &ConnectionName,
        backend: Arc<dyn SecretBackend>,
        clock: &CoarseClock,
    ) -> Stack {
        let observed = ObservedBackend::new(backend, name);
        let budgeted = Arc::new(BudgetedBackend::new(observed, self.budget));
        let cache = Arc::new(CachedBackend::with_clock(
            Arc::clone(&budgeted),
            self.cache.clone(),
            clock.clone(),
            Some(name),
        ));
        Stack {
            entry: Arc::new(ValidatedBackend::new(Arc::clone(&cache), self.validity)),
            cache,
            budgeted,
            counters: ResolveCounters::new(name),
        }
    }
}

/// The result of checking one connection.
#[derive(Debug)]
pub struct ConnectionReport {
    connection: ConnectionName,
    location: Location,
    latency: Duration,
    outcome: Result<()>,
}

impl ConnectionReport {
    /// Whether the connection works.
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The connection name.
    pub fn connection(&self) -> &ConnectionName {
        &self.connection
    }

    /// Where the connection points.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// How long the check took.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// The failure, with what to fix, if the check failed.
    pub fn error(&self) -> Option<&Error> {
        self.outcome.as_ref().err()
    }

    /// The outcome as a `Result`.
    pub fn into_result(self) -> Result<()> {
        self.outcome
    }
}

impl fmt::Display for ConnectionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.latency.as_millis();
        match &self.outcome {
            Ok(()) => write!(
                f,
                "Connection successful: `{}` ({}) answered in {millis} ms",
                self.connection, self.location
            ),
            Err(e) => write!(
                f,
                "Connection failed: `{}` ({}) after {millis} ms: {e}",
                self.connection, self.location
            ),
        }
    }
}
