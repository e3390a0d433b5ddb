//! The trait a secrets backend implements, and the connection check built on it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::reference::{SecretName, SecretVersion};
use crate::value::Secret;

/// A place secrets are read from: Azure Key Vault, a local file, memory.
///
/// Backends know nothing of scopes, caching or validity dates: the
/// [`WorkspaceManager`](crate::WorkspaceManager) wraps them with all of that. A backend only
/// fetches one secret and checks its connection, and maps its own failures into [`Error`]
/// (a missing secret is [`Error::NotFound`], a disabled one [`Error::Disabled`], and so on).
///
/// Names and versions arrive already validated, so a backend can put them into a URL path.
/// Every method is required, so a wrapper cannot silently fall back to a default.
#[async_trait]
pub trait SecretBackend: Send + Sync + fmt::Debug + 'static {
    /// Fetches the latest version of `name`, or `version` when one is given.
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Secret>;

    /// Proves the backend is reachable and the caller may read secrets, without reading one.
    async fn check(&self) -> Result<()>;

    /// Where the secrets live, for messages: a vault URL, a file path, `memory`.
    fn location(&self) -> &str;

    /// The vault host (`host` or `host:port`, lower-case) that Key Vault secret identifiers
    /// must name to be resolved through this backend; `None` for backends without one.
    fn vault_host(&self) -> Option<&str>;
}

#[async_trait]
impl<T: SecretBackend + ?Sized> SecretBackend for Arc<T> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Secret> {
        (**self).fetch(name, version).await
    }

    async fn check(&self) -> Result<()> {
        (**self).check().await
    }

    fn location(&self) -> &str {
        (**self).location()
    }

    fn vault_host(&self) -> Option<&str> {
        (**self).vault_host()
    }
}

/// A named backend: what an administrator configures as one secrets-manager connection.
#[derive(Debug, Clone)]
pub struct Connection {
    name: String,
    backend: Arc<dyn SecretBackend>,
}

impl Connection {
    /// Names a backend.
    pub fn new(name: impl Into<String>, backend: impl SecretBackend) -> Self {
        Self::from_arc(name, Arc::new(backend))
    }

    /// Names a backend that is already shared.
    pub fn from_arc(name: impl Into<String>, backend: Arc<dyn SecretBackend>) -> Self {
        Self {
            name: name.into(),
            backend,
        }
    }

    /// The connection name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn SecretBackend> {
        &self.backend
    }

    /// Runs the backend's check and reports, in words a person can act on, whether it works.
    ///
    /// ```
    /// # tokio_test_block_on(async {
    /// use secretscope::{Connection, memory::MemoryBackend};
    ///
    /// let report = Connection::new("dev", MemoryBackend::new()).test().await;
    /// assert!(report.is_success());
    /// assert!(report.to_string().starts_with("Connection successful: `dev` (memory)"));
    /// # });
    /// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
    /// # }
    /// ```
    pub async fn test(&self) -> ConnectionReport {
        let started = Instant::now();
        let outcome = self.backend.check().await;
        ConnectionReport {
            connection: self.name.clone(),
            location: self.backend.location().to_owned(),
            latency: started.elapsed(),
            outcome,
        }
    }
}

/// The result of testing one connection.
#[derive(Debug)]
pub struct ConnectionReport {
    connection: String,
    location: String,
    latency: Duration,
    outcome: Result<()>,
}

impl ConnectionReport {
    /// Whether the connection works.
    pub fn is_success(&self) -> bool {
        self.outcome.is_ok()
    }

    /// The connection name.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// Where the connection points.
    pub fn location(&self) -> &str {
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
