//! The [`SecretsManager`] trait services call, and the [`WorkspaceManager`] that implements it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::backend::{Connection, ConnectionReport};
use crate::cache::{Cache, CacheKey, CacheOptions};
use crate::error::{Error, Result};
use crate::reference::{ReferenceError, SecretRef, normalise_authority};
use crate::scope::{Acknowledgement, PolicyState, ScopeMode, ScopePolicy, SwitchPlan};
use crate::value::{ResolvedSecret, Secret, SecretMetadata, SecretProperties, SecretValue, Source};

/// Resolves secret references to secret values.
///
/// Object-safe: hold it as `Arc<dyn SecretsManager>`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use secretscope::{Connection, ScopeMode, ScopePolicy, SecretsManager, WorkspaceManager};
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
#[async_trait]
pub trait SecretsManager: Send + Sync + fmt::Debug + 'static {
    /// Resolves `reference` to its secret value.
    async fn resolve(&self, reference: &str) -> Result<SecretValue>;

    /// Resolves `reference` to its value and metadata: name, version, scope, content type,
    /// enabled flag, dates, and whether it came from the backend or the cache.
    async fn resolve_with_metadata(&self, reference: &str) -> Result<ResolvedSecret>;
}

#[async_trait]
impl<T: SecretsManager + ?Sized> SecretsManager for Arc<T> {
    async fn resolve(&self, reference: &str) -> Result<SecretValue> {
        (**self).resolve(reference).await
    }

    async fn resolve_with_metadata(&self, reference: &str) -> Result<ResolvedSecret> {
        (**self).resolve_with_metadata(reference).await
    }
}

/// Whether secrets outside their validity dates are served.
///
/// Key Vault returns expired and not-yet-valid secrets like any other: honouring the dates is
/// the client's job. By default both are refused with a typed error giving the date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidityOptions {
    allow_expired: bool,
    allow_not_yet_valid: bool,
}

impl ValidityOptions {
    /// Refuse expired and not-yet-valid secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serve secrets past their expiry date (`true`) or refuse them (`false`, the default).
    pub fn with_allow_expired(mut self, allow: bool) -> Self {
        self.allow_expired = allow;
        self
    }

    /// Serve secrets before their not-before date (`true`) or refuse them (the default).
    pub fn with_allow_not_yet_valid(mut self, allow: bool) -> Self {
        self.allow_not_yet_valid = allow;
        self
    }

    fn check(
        &self,
        reference: &SecretRef,
        properties: &SecretProperties,
        location: &str,
    ) -> Result<()> {
        if !properties.enabled {
            return Err(Error::Disabled {
                name: properties.name.to_string(),
                version: properties.version.as_ref().map(ToString::to_string),
                location: location.to_owned(),
            });
        }
        let dated = (properties.expires.is_some() && !self.allow_expired)
            || (properties.not_before.is_some() && !self.allow_not_yet_valid);
        if !dated {
            // Most secrets have no dates: no clock read on the hot path for them.
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        if let Some(expired_at) = properties.expires.filter(|&at| at <= now)
            && !self.allow_expired
        {
            return Err(Error::Expired {
                reference: reference.clone(),
                expired_at,
            });
        }
        if let Some(not_before) = properties.not_before.filter(|&at| at > now)
            && !self.allow_not_yet_valid
        {
            return Err(Error::NotYetValid {
                reference: reference.clone(),
                not_before,
            });
        }
        Ok(())
    }
}

/// Resolves references for one workspace: routes each through the [`ScopePolicy`] to the
/// workspace connection or the project's connection, caches values, and enforces validity
/// dates.
///
/// The flow of one resolve: parse the reference, check it against the active scope, pick the
/// connection, serve from the cache or fetch from the backend, check the dates, and confirm
/// the scope did not change meanwhile. References it sees become known to
/// [`plan_switch`](Self::plan_switch).
pub struct WorkspaceManager {
    policy: Arc<ScopePolicy>,
    cache: Cache,
    validity: ValidityOptions,
    /// The policy generation the cache was last pruned for.
    pruned_for: AtomicU64,
}

impl WorkspaceManager {
    /// A manager with the default cache and validity options.
    pub fn new(policy: ScopePolicy) -> Self {
        Self::builder(Arc::new(policy)).build()
    }

    /// Starts a manager over a (possibly shared) policy.
    pub fn builder(policy: Arc<ScopePolicy>) -> WorkspaceManagerBuilder {
        WorkspaceManagerBuilder {
            policy,
            cache: CacheOptions::new(),
            validity: ValidityOptions::new(),
        }
    }

    /// The scope policy.
    pub fn policy(&self) -> &Arc<ScopePolicy> {
        &self.policy
    }

    /// Dry run of a scope switch; see [`ScopePolicy::plan_switch`].
    pub async fn plan_switch(&self, target: ScopeMode) -> SwitchPlan {
        self.policy.plan_switch(target).await
    }

    /// Applies a planned, acknowledged switch and drops cached values of connections that no
    /// longer serve; see [`ScopePolicy::apply`].
    pub fn apply_switch(
        &self,
        plan: &SwitchPlan,
        acknowledgement: Option<&Acknowledgement>,
    ) -> Result<PolicyState> {
        let state = self.policy.apply(plan, acknowledgement)?;
        self.prune_cache(state.generation);
        Ok(state)
    }

    /// Tests every connection that serves the active scope.
    pub async fn test_connections(&self) -> Vec<ConnectionReport> {
        let mut reports = Vec::new();
        for connection in self.policy.active_connections() {
            reports.push(connection.test().await);
        }
        reports
    }

    /// After a switch, cached values of connections that no longer serve are dead weight
    /// holding secrets: drop them. (They could not be served anyway: the scope check comes
    /// before the cache.)
    fn prune_cache(&self, generation: u64) {
        if self.pruned_for.swap(generation, Ordering::AcqRel) != generation {
            let mode = self.policy.mode();
            self.cache
                .retain(|connection| self.policy.serves(mode, connection));
        }
    }

    /// The whole flow of one resolve, up to the secret and where it came from; the metadata is
    /// built only by [`SecretsManager::resolve_with_metadata`], so `resolve` stays cheap.
    async fn resolve_parsed(&self, reference: &SecretRef) -> Result<Resolved<'_>> {
        self.policy.observe(reference);
        let route = self.policy.route(reference)?;
        let backend = route.connection.backend();
        if let Some(host) = reference.vault_host() {
            // Compare canonical forms, whatever case or default port the backend reports.
            let serving = backend.vault_host().and_then(normalise_authority);
            if serving.as_deref() != Some(host) {
                return Err(ReferenceError::unconfigured_vault_host().into());
            }
        }
        if self.pruned_for.load(Ordering::Acquire) != route.generation {
            self.prune_cache(route.generation);
        }
        let key = CacheKey {
            connection: route.connection_id,
            name: reference.name().clone(),
            version: reference.version().cloned(),
        };
        let (secret, source) = self
            .cache
            .get_or_fetch(key, || backend.fetch(reference.name(), reference.version()))
            .await?;
        self.validity
            .check(reference, &secret.properties, backend.location())?;
        self.policy.confirm(reference, route.generation)?;
        tracing::debug!(
            reference = %reference,
            connection = route.connection.name(),
            ?source,
            "secret resolved"
        );
        Ok(Resolved {
            secret,
            source,
            connection: route.connection,
            generation: route.generation,
        })
    }

    async fn resolve_str(&self, reference: &str) -> Result<(SecretRef, Resolved<'_>)> {
        let result = match SecretRef::parse(reference) {
            Ok(parsed) => self.resolve_parsed(&parsed).await.map(|r| (parsed, r)),
            Err(e) => Err(e.into()),
        };
        if let Err(error) = &result {
            tracing::debug!(%error, "secret not resolved");
        }
        result
    }
}

/// A resolve's outcome before its metadata is built.
struct Resolved<'a> {
    secret: Arc<Secret>,
    source: Source,
    connection: &'a Connection,
    generation: u64,
}

#[async_trait]
impl SecretsManager for WorkspaceManager {
    async fn resolve(&self, reference: &str) -> Result<SecretValue> {
        let (_, resolved) = self.resolve_str(reference).await?;
        Ok(resolved.secret.value.clone())
    }

    async fn resolve_with_metadata(&self, reference: &str) -> Result<ResolvedSecret> {
        let (reference, resolved) = self.resolve_str(reference).await?;
        let metadata = SecretMetadata {
            scope: reference.scope().clone(),
            reference,
            connection: resolved.connection.name().to_owned(),
            properties: resolved.secret.properties.clone(),
            source: resolved.source,
            policy_generation: resolved.generation,
        };
        Ok(ResolvedSecret::new(resolved.secret.value.clone(), metadata))
    }
}

impl fmt::Debug for WorkspaceManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkspaceManager")
            .field("policy", &self.policy)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

/// Builds a [`WorkspaceManager`].
#[derive(Debug)]
#[must_use]
pub struct WorkspaceManagerBuilder {
    policy: Arc<ScopePolicy>,
    cache: CacheOptions,
    validity: ValidityOptions,
}

impl WorkspaceManagerBuilder {
    /// How values are cached; [`CacheOptions::new`] by default.
    pub fn with_cache(mut self, cache: CacheOptions) -> Self {
        self.cache = cache;
        self
    }

    /// Whether expired and not-yet-valid secrets are served; refused by default.
    pub fn with_validity(mut self, validity: ValidityOptions) -> Self {
        self.validity = validity;
        self
    }

    /// Builds the manager.
    pub fn build(self) -> WorkspaceManager {
        WorkspaceManager {
            pruned_for: AtomicU64::new(self.policy.generation()),
            policy: self.policy,
            cache: Cache::new(self.cache),
            validity: self.validity,
        }
    }
}
