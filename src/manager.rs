//! The [`SecretsManager`] trait services call, its [`SecretsManagerExt`] conveniences, and the
//! [`WorkspaceManager`] that implements it.

use std::fmt;
use std::future::Future;

use std::sync::Arc;
use tracing::Instrument;

use crate::audit::{AuditEvent, AuditSink};
use crate::backend::{Fetched, SecretBackend};
use crate::budget::BudgetOptions;
use crate::cache::CacheOptions;
use crate::connection::{Connection, ConnectionReport, Layers};
use crate::error::{Error, Result};
use crate::future::MaybeReady;
use crate::observe::{self, ResolveSpan};
use crate::reference::SecretRef;
use crate::render::ConfigTree;
use crate::scope::{self, Acknowledgement, PolicyState, Route, ScopeMode, ScopePolicy, SwitchPlan};
use crate::validity::ValidityOptions;
use crate::value::{Resolved, ResolvedSecret, SecretValue, Source};

/// What [`SecretsManager::resolve_ref`] returns: a [`MaybeReady`] future of the resolved
/// secret, ready at once on a cache hit.
pub type Resolving<'a> = MaybeReady<'a, Result<Resolved<'a>>>;

/// Resolves secret references to secret values.
///
/// One required method, [`resolve_ref`](Self::resolve_ref); [`SecretsManagerExt`] (in the
/// [`prelude`](crate::prelude)) adds `resolve(&str)` and the rest on top of it for every
/// manager, so a wrapper cannot make them drift apart. Object-safe: hold it as
/// `Arc<dyn SecretsManager>`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use secretscope::prelude::*;
/// use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};
/// use secretscope::memory::MemoryBackend;
///
/// let vault = MemoryBackend::new();
/// vault.set("db-password", "hunter2")?;
/// let policy = ScopePolicy::builder(ScopeMode::Workspace)
///     .with_workspace_connection(Connection::new("corp-vault", vault))
///     .build()?;
/// let manager: Arc<dyn SecretsManager> = Arc::new(WorkspaceManager::new(policy));
///
/// let password = manager.resolve("db-password").await?;
/// assert_eq!(password.expose_secret(), "hunter2");
/// # Ok::<(), secretscope::Error>(())
/// # }).unwrap();
/// ```
pub trait SecretsManager: Send + Sync + fmt::Debug + 'static {
    /// Resolves a parsed reference to its value and metadata.
    fn resolve_ref<'a>(&'a self, reference: &'a SecretRef) -> Resolving<'a>;

    /// Parses reference text for [`SecretsManagerExt`]'s methods, and lends the parsed
    /// reference to `with` (called once, unless the text does not parse).
    ///
    /// [`SecretRef::parse`] by default. A manager that remembers the references it has seen
    /// (as [`WorkspaceManager`] does) lends a repeated text's parsed form from memory, cloning
    /// nothing; the outcome must be the same either way.
    fn with_parsed(&self, text: &str, with: &mut dyn FnMut(&SecretRef)) -> Result<()> {
        with(&SecretRef::parse(text)?);
        Ok(())
    }
}

impl<T: SecretsManager + ?Sized> SecretsManager for Arc<T> {
    fn resolve_ref<'a>(&'a self, reference: &'a SecretRef) -> Resolving<'a> {
        (**self).resolve_ref(reference)
    }

    fn with_parsed(&self, text: &str, with: &mut dyn FnMut(&SecretRef)) -> Result<()> {
        (**self).with_parsed(text, with)
    }
}

impl<T: SecretsManager + ?Sized> SecretsManager for Box<T> {
    fn resolve_ref<'a>(&'a self, reference: &'a SecretRef) -> Resolving<'a> {
        (**self).resolve_ref(reference)
    }

    fn with_parsed(&self, text: &str, with: &mut dyn FnMut(&SecretRef)) -> Result<()> {
        (**self).with_parsed(text, with)
    }
}

/// What every [`SecretsManager`] can do, built on its one required method.
pub trait SecretsManagerExt: SecretsManager {
    /// Resolves reference text (`db-password`, `{{ project:billing/db-password }}`, a Key
    /// Vault identifier) to its secret value.
    fn resolve<'a>(&'a self, reference: &'a str) -> MaybeReady<'a, Result<SecretValue>> {
        resolve_text(self, reference, |resolved| resolved.into_value())
    }

    /// Resolves reference text to its value and metadata: name, version, scope, content type,
    /// dates, the connection, and whether it came from the backend or the cache.
    fn resolve_with_metadata<'a>(
        &'a self,
        reference: &'a str,
    ) -> MaybeReady<'a, Result<ResolvedSecret>> {
        resolve_text(self, reference, |resolved| resolved.into_owned())
    }

    /// Resolves every reference in `template` and returns the string with their values in
    /// place: `"postgres://app:{{ db-password }}@db/app"`. The references are fetched
    /// concurrently; the first that fails (in the order written) fails the call with
    /// [`Error::Unresolved`], naming it. See [`render`](crate::render) for what counts as a
    /// reference.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use secretscope::memory::MemoryBackend;
    /// use secretscope::prelude::*;
    /// use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};
    ///
    /// let vault = MemoryBackend::new();
    /// vault.set("db-password", "hunter2")?;
    /// let manager = WorkspaceManager::new(
    ///     ScopePolicy::builder(ScopeMode::Workspace)
    ///         .with_workspace_connection(Connection::new("corp-vault", vault))
    ///         .build()?,
    /// );
    /// let url = manager.render("postgres://app:{{ db-password }}@db/app").await?;
    /// assert_eq!(url.expose_secret(), "postgres://app:hunter2@db/app");
    /// # Ok::<(), secretscope::Error>(())
    /// # }).unwrap();
    /// ```
    fn render<'a>(
        &'a self,
        template: &'a str,
    ) -> impl Future<Output = Result<SecretValue>> + Send + 'a {
        crate::render::render(self, template)
    }

    /// Resolves, in place, every string of a configuration tree (a `serde_json::Value`, a
    /// `toml::Value` or `toml::Table`) that holds a reference, as [`render`](Self::render)
    /// does for one string. On failure the tree is left unchanged, and the error names the
    /// key path (`database.url`) and the reference.
    ///
    /// The tree then holds secret values in plain strings: drop it once the service has read
    /// what it needs.
    fn resolve_tree<'a, T: ConfigTree + ?Sized>(
        &'a self,
        tree: &'a mut T,
    ) -> impl Future<Output = Result<()>> + Send + 'a {
        crate::render::resolve_tree(self, tree)
    }
}

impl<M: SecretsManager + ?Sized> SecretsManagerExt for M {}

/// Parses `text` and resolves it, handing the outcome to `finish`.
///
/// A hit is answered at once, on the reference the manager lends, with nothing cloned or
/// allocated. On a miss the reference has to live as long as the fetch, so the resolve starts
/// again inside a future that owns a copy of it: the first attempt's future was never polled,
/// so dropping it undid nothing.
///
/// `finish` is a type parameter, not a function pointer, so that it is inlined: called through
/// a pointer it cost a hit about 40 instructions and the processor a prediction.
#[inline(always)]
fn resolve_text<'a, M, T, F>(manager: &'a M, text: &'a str, finish: F) -> MaybeReady<'a, Result<T>>
where
    M: SecretsManager + ?Sized,
    T: Send + 'a,
    F: Fn(Resolved<'_>) -> T + Send + 'a,
{
    // One place for each outcome, so that a hit moves nothing the size of an error.
    let (mut value, mut refused, mut pending) = (None, None, None);
    let parsed = manager.with_parsed(text, &mut |reference| match manager
        .resolve_ref(reference)
        .into_ready()
    {
        Ok(Ok(resolved)) => value = Some(finish(resolved)),
        Ok(Err(error)) => refused = Some(error),
        Err(_future) => pending = Some(reference.clone()),
    });
    if let Some(value) = value {
        return MaybeReady::ready(Ok(value));
    }
    let pending = match (parsed, refused, pending) {
        (Err(error), ..) | (Ok(()), Some(error), _) => return MaybeReady::ready(Err(error)),
        (Ok(()), None, Some(reference)) => reference,
        // A manager that lent nothing: parse the text here instead.
        (Ok(()), None, None) => match SecretRef::parse(text) {
            Ok(reference) => reference,
            Err(error) => return MaybeReady::ready(Err(error.into())),
        },
    };
    MaybeReady::new(async move { manager.resolve_ref(&pending).await.map(finish) })
}

/// Resolves references for one workspace.
///
/// The flow of one resolve goes one way: parse the reference (or find it parsed already),
/// route it through the [`ScopePolicy`] (the scope check, the choice of connection, the vault
/// host of a Key Vault identifier), down the connection's stack of layers (validity dates, the
/// cache, the request budget, the spans and metrics of each request) to its backend, and
/// confirm the scope did not change meanwhile. The manager composes the stacks when it is
/// built and keeps no state of its own; it opens each resolve's span and counts its outcome.
///
/// References it sees become known to [`plan_switch`](Self::plan_switch).
pub struct WorkspaceManager {
    policy: ScopePolicy,
}

impl WorkspaceManager {
    /// A manager with the default cache and validity options.
    pub fn new(policy: ScopePolicy) -> Self {
        Self::builder(policy).build()
    }

    /// The manager a configuration file describes; see [`WorkspaceConfig`](crate::WorkspaceConfig)
    /// for the file, and the `SECRETSCOPE_*` variables laid over it.
    ///
    /// ```no_run
    /// use secretscope::WorkspaceManager;
    ///
    /// let manager = WorkspaceManager::from_config_file("secretscope.toml")?;
    /// # Ok::<(), secretscope::Error>(())
    /// ```
    pub fn from_config_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        crate::config::WorkspaceConfig::from_file(path)?.build()
    }

    /// The manager of the configuration file `SECRETSCOPE_CONFIG` names, or `secretscope.toml`
    /// in the working folder when it names none.
    pub fn from_config_env() -> Result<Self> {
        let path = std::env::var_os(crate::config::ENV_CONFIG)
            .unwrap_or_else(|| "secretscope.toml".into());
        Self::from_config_file(std::path::PathBuf::from(path))
    }

    /// One Key Vault for the whole workspace, from the `AZURE_KEYVAULT_URL`, `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` variables (see
    /// [`AzureKeyVaultBuilder::from_env`](crate::azure::AzureKeyVaultBuilder::from_env)): the
    /// simplest setup, in one call. The connection is named after the vault's host.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), secretscope::Error> {
    /// use secretscope::prelude::*;
    ///
    /// let manager = secretscope::WorkspaceManager::from_env()?;
    /// let password = manager.resolve("db-password").await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "azure")]
    #[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
    pub fn from_env() -> Result<Self> {
        let backend = crate::azure::AzureKeyVaultBuilder::from_env().build()?;
        let name = backend.location().host().unwrap_or("key-vault").to_owned();
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(crate::Connection::new(name, backend))
            .build()?;
        Ok(Self::new(policy))
    }

    /// Starts a manager over `policy`.
    pub fn builder(policy: ScopePolicy) -> WorkspaceManagerBuilder {
        WorkspaceManagerBuilder {
            policy,
            layers: Layers::default(),
        }
    }

    /// The scope policy. A switch applied or adopted through it takes full effect, cached
    /// values included.
    pub fn policy(&self) -> &ScopePolicy {
        &self.policy
    }

    /// Dry run of a scope switch; see [`ScopePolicy::plan_switch`].
    pub async fn plan_switch(&self, target: ScopeMode) -> SwitchPlan {
        self.policy.plan_switch(target).await
    }

    /// Applies a planned, acknowledged switch; see [`ScopePolicy::apply`].
    pub fn apply_switch(
        &self,
        plan: &SwitchPlan,
        acknowledgement: Option<&Acknowledgement>,
    ) -> Result<PolicyState> {
        self.policy.apply(plan, acknowledgement)
    }

    /// Checks every connection that serves the active scope.
    pub async fn check_connections(&self) -> Vec<ConnectionReport> {
        let mut reports = Vec::new();
        for connection in self.policy.active_connections() {
            reports.push(connection.check().await);
        }
        reports
    }

    /// Drops the cached answer for `reference` (the exact version it names; the latest when it
    /// names none), whatever the active scope; returns whether there was one. A Key Vault
    /// identifier of a vault no connection serves drops nothing.
    pub fn invalidate(&self, reference: &str) -> Result<bool> {
        let reference = SecretRef::parse(reference)?;
        self.policy.audit(AuditEvent::CacheCleared {
            connection: None,
            reference: Some(reference.to_string()),
        });
        let dropped = self
            .policy
            .connection_for(reference.scope())
            .filter(|connection| scope::serves_host(connection, &reference))
            .is_some_and(|connection| {
                connection
                    .stack()
                    .cache
                    .invalidate(reference.name(), reference.version())
            });
        Ok(dropped)
    }

    /// Drops every cached answer of the connection named `name`; returns whether there is such
    /// a connection.
    pub fn invalidate_connection(&self, name: &str) -> bool {
        let Some(connection) = self.policy.connection(name) else {
            return false;
        };
        connection.stack().cache.clear();
        self.policy.audit(AuditEvent::CacheCleared {
            connection: Some(connection.name().to_string()),
            reference: None,
        });
        true
    }

    /// Drops every cached answer of every connection.
    pub fn clear(&self) {
        for connection in self.policy.connections() {
            connection.stack().cache.clear();
        }
        self.policy.audit(AuditEvent::CacheCleared {
            connection: None,
            reference: None,
        });
    }

    /// A failure known at once: logged, counted, and the reference recorded as known (a
    /// resolve that fails still shows the reference is in use).
    #[cold]
    fn refuse<'a>(
        &self,
        traced: bool,
        connection: Option<&Connection>,
        reference: &SecretRef,
        error: Error,
    ) -> Resolving<'a> {
        self.policy.registry().observe(reference);
        log_failure(reference, &error);
        let name = connection.map(Connection::name);
        // With the cache on, the only not-found a stack answers at once is one the cache
        // kept (it asks its backend for nothing at once); with it off, it is the backend's.
        let negative = matches!(error, Error::NotFound { .. })
            && connection.is_some_and(|c| c.stack().cache.is_enabled());
        if let (true, Some(connection)) = (negative, connection) {
            connection.stack().counters.negative();
            observe::resolved_at_once(traced, reference, name, "negative");
        } else {
            observe::resolve_failed(name, error.kind());
            observe::resolved_at_once(traced, reference, name, error.kind().as_str());
        }
        MaybeReady::ready(Err(error))
    }

    /// Fetches what the stack did not have at hand, then confirms the scope is unchanged.
    fn fetch<'a>(
        &'a self,
        traced: bool,
        route: Route<'a>,
        reference: &'a SecretRef,
    ) -> Resolving<'a> {
        let observed = ResolveSpan::start(traced, reference);
        let span = observed.span();
        MaybeReady::new(
            async move {
                self.policy.registry().observe(reference);
                let connection = route.connection;
                let outcome = connection
                    .stack()
                    .entry
                    .fetch(reference.name(), reference.version())
                    .await
                    .and_then(|fetched| {
                        let generation = route
                            .confirm(reference)
                            .map_err(|refusal| refusal.error(reference))?;
                        Ok(resolved(&route, reference, fetched, generation))
                    });
                match &outcome {
                    Ok(resolved) => {
                        let source = resolved.source();
                        connection.stack().counters.value(source);
                        observed.finish(Some(connection.name()), observe::source_outcome(source));
                        tracing::debug!(%reference, connection = %connection.name(), "secret fetched");
                    }
                    Err(error) => {
                        log_failure(reference, error);
                        observe::resolve_failed(Some(connection.name()), error.kind());
                        observed.finish(Some(connection.name()), error.kind().as_str());
                    }
                }
                outcome
            }
            .instrument(span),
        )
    }
}

impl SecretsManager for WorkspaceManager {
    fn resolve_ref<'a>(&'a self, reference: &'a SecretRef) -> Resolving<'a> {
        // One relaxed load; a span is built only when a subscriber listens at DEBUG.
        let traced = observe::tracing_resolves();
        let route = match self.policy.route(reference) {
            Ok(route) => route,
            Err(refusal) => {
                return self.refuse(traced, None, reference, refusal.error(reference));
            }
        };
        let stack = route.connection.stack();
        let (name, version) = (reference.name(), reference.version());
        let fetched = match stack.hit(reference) {
            // A fresh cache hit: the way nearly every resolve takes.
            Some(fetched) => fetched,
            None => match stack.entry.fetch_now(name, version) {
                // A value the backend had at hand.
                Some(Ok(fetched)) => fetched,
                // A refusal known at once (a cached not-found, a date the validity layer refuses).
                Some(Err(error)) => {
                    return self.refuse(traced, Some(route.connection), reference, error);
                }
                None => return self.fetch(traced, route, reference),
            },
        };
        // Every reference answered is known to switch plans, even one parsed elsewhere. A
        // cache hit of a connection only one scope reaches is of a reference recorded when it
        // was fetched, so only the others look.
        if route.shared || fetched.source == Source::Backend {
            self.policy.registry().observe(reference);
        }
        match route.confirm(reference) {
            Ok(generation) => {
                stack.counters.value(fetched.source);
                observe::resolved_at_once(
                    traced,
                    reference,
                    Some(route.connection.name()),
                    observe::source_outcome(fetched.source),
                );
                MaybeReady::ready(Ok(resolved(&route, reference, fetched, generation)))
            }
            Err(refusal) => self.refuse(
                traced,
                Some(route.connection),
                reference,
                refusal.error(reference),
            ),
        }
    }

    fn with_parsed(&self, text: &str, with: &mut dyn FnMut(&SecretRef)) -> Result<()> {
        // A plain name is parsed in place for less than a lookup among the texts parsed
        // before would cost; the registry remembers the other forms.
        if let Some(reference) = SecretRef::parse_plain(text) {
            with(&reference);
            // A plain name owns no heap memory (its text is held inline, and it has no
            // project, vault or version), so there is nothing to drop: skipping the drop glue
            // saves a hit about 16 instructions, and leaks nothing.
            debug_assert!(reference.owns_nothing());
            std::mem::forget(reference);
            return Ok(());
        }
        Ok(self.policy.registry().with_parsed(text, with)?)
    }
}

/// What `route` fetched for `reference`, confirmed under policy `generation`.
#[inline(always)]
fn resolved<'a>(
    route: &Route<'a>,
    reference: &'a SecretRef,
    fetched: Fetched,
    generation: u64,
) -> Resolved<'a> {
    Resolved::new(
        fetched.secret,
        reference,
        route.connection.name(),
        fetched.source,
        fetched.age,
        generation,
    )
}

fn log_failure(reference: &SecretRef, error: &Error) {
    tracing::debug!(%reference, kind = %error.kind(), %error, "secret not resolved");
}

impl fmt::Debug for WorkspaceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkspaceManager")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WorkspaceManager`]: the layers every connection's stack is made of.
#[derive(Debug)]
#[must_use]
pub struct WorkspaceManagerBuilder {
    policy: ScopePolicy,
    layers: Layers,
}

impl WorkspaceManagerBuilder {
    /// How values are cached; [`CacheOptions::new`] by default.
    pub fn with_cache(mut self, cache: CacheOptions) -> Self {
        self.layers.cache = cache;
        self
    }

    /// Whether expired and not-yet-valid secrets are served; refused by default.
    pub fn with_validity(mut self, validity: ValidityOptions) -> Self {
        self.layers.validity = validity;
        self
    }

    /// How many requests each vault host is sent, and how callers back off together when it
    /// throttles; [`BudgetOptions::new`] by default. The budget of a host is shared by every
    /// stack in the process that talks to it.
    pub fn with_budget(mut self, budget: BudgetOptions) -> Self {
        self.layers.budget = budget;
        self
    }

    /// Where audit records go (plans, switches, adopted states, cache clears, connections);
    /// [`TracingAudit`](crate::audit::TracingAudit) by default. See [`audit`](crate::audit).
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.policy.set_audit(sink);
        self
    }

    /// Composes each connection's stack and builds the manager.
    pub fn build(mut self) -> WorkspaceManager {
        self.policy.compose(&self.layers);
        for (connection, serves) in self.policy.served() {
            self.policy.audit(AuditEvent::ConnectionConfigured {
                connection: connection.name().to_string(),
                location: connection.location().to_string(),
                serves,
            });
        }
        WorkspaceManager {
            policy: self.policy,
        }
    }
}
