//! An in-memory backend for tests and examples.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use parking_lot::RwLock;
use time::OffsetDateTime;

use crate::backend::{Fetched, SecretBackend};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::reference::{SecretName, SecretVersion};
use crate::value::{Secret, SecretProperties};

/// Optional attributes of a secret being stored: content type, enabled flag and dates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretAttributes {
    /// The content type.
    pub content_type: Option<String>,
    /// Whether the secret may be read (`true` unless set otherwise).
    pub enabled: bool,
    /// Not valid before this date.
    pub not_before: Option<OffsetDateTime>,
    /// Expired after this date.
    pub expires: Option<OffsetDateTime>,
}

impl SecretAttributes {
    /// No attributes: an enabled secret without dates.
    pub fn new() -> Self {
        Self {
            content_type: None,
            enabled: true,
            not_before: None,
            expires: None,
        }
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets whether the secret is enabled.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets the not-before date.
    pub fn with_not_before(mut self, not_before: OffsetDateTime) -> Self {
        self.not_before = Some(not_before);
        self
    }

    /// Sets the expiry date.
    pub fn with_expires(mut self, expires: OffsetDateTime) -> Self {
        self.expires = Some(expires);
        self
    }
}

/// Versions of secrets by name, oldest first; shared by the memory and file backends.
#[derive(Default)]
pub(crate) struct Store {
    secrets: HashMap<SecretName, Vec<Secret>>,
}

impl Store {
    /// Adds `secret` as the latest version of its name.
    pub(crate) fn push(&mut self, secret: Secret) {
        self.secrets
            .entry(secret.properties().name.clone())
            .or_default()
            .push(secret);
    }

    pub(crate) fn contains(&self, name: &SecretName) -> bool {
        self.secrets.contains_key(name)
    }

    pub(crate) fn remove(&mut self, name: &SecretName) -> bool {
        self.secrets.remove(name).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Looks a secret up the way Key Vault does: latest or pinned version, disabled refused.
    pub(crate) fn fetch(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
        location: &Location,
    ) -> Result<Secret> {
        let not_found = || Error::NotFound {
            name: name.clone(),
            version: version.cloned(),
            location: location.clone(),
        };
        let versions = self.secrets.get(name).ok_or_else(not_found)?;
        let secret = match version {
            None => versions.last(),
            Some(v) => versions
                .iter()
                .rev()
                .find(|s| s.properties().version.as_ref() == Some(v)),
        }
        .ok_or_else(not_found)?;
        let properties = secret.properties();
        if !properties.enabled {
            return Err(Error::Disabled {
                name: properties.name.clone(),
                version: properties.version,
                location: location.clone(),
            });
        }
        Ok(secret.clone())
    }
}

/// Secrets held in memory. For tests and examples; nothing is persisted.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use secretscope::{SecretBackend, SecretName, memory::MemoryBackend};
///
/// let backend = MemoryBackend::new();
/// backend.set("db-password", "hunter2")?;
/// let fetched = backend.fetch(&SecretName::new("DB-PASSWORD")?, None).await?;
/// assert_eq!(fetched.secret.expose_secret(), "hunter2");
/// # Ok::<(), secretscope::Error>(())
/// # }).unwrap();
/// ```
pub struct MemoryBackend {
    store: RwLock<Store>,
    next_version: AtomicU64,
    location: Location,
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self {
            store: RwLock::new(Store::default()),
            next_version: AtomicU64::new(1),
            location: Location::memory(),
        }
    }

    /// Says the backend points to `location` rather than to memory: a stand-in for a vault in
    /// tests, so that Key Vault identifiers of that host route to it.
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = location;
        self
    }

    /// Stores `value` as the new latest version of `name` and returns its version.
    pub fn set(&self, name: &str, value: impl Into<String>) -> Result<SecretVersion> {
        self.set_with(name, value, SecretAttributes::new())
    }

    /// Stores `value` with attributes as the new latest version of `name`.
    pub fn set_with(
        &self,
        name: &str,
        value: impl Into<String>,
        attributes: SecretAttributes,
    ) -> Result<SecretVersion> {
        let name = SecretName::new(name)
            .map_err(|e| Error::invalid_config("secret name", e.to_string()))?;
        let counter = self.next_version.fetch_add(1, Ordering::Relaxed);
        let version = SecretVersion::new(&format!("{counter:032x}")).expect("32 hex digits");
        let now = OffsetDateTime::now_utc();
        let mut properties = SecretProperties::new(name);
        properties.version = Some(version);
        properties.content_type = attributes.content_type;
        properties.enabled = attributes.enabled;
        properties.not_before = attributes.not_before;
        properties.expires = attributes.expires;
        properties.created = Some(now);
        properties.updated = Some(now);
        let secret = Secret::new(value.into(), properties);
        self.store.write().push(secret);
        Ok(version)
    }

    /// Deletes every version of `name`; returns whether it existed.
    pub fn remove(&self, name: &str) -> bool {
        SecretName::new(name).is_ok_and(|name| self.store.write().remove(&name))
    }
}

impl Default for SecretAttributes {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for MemoryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBackend {
    fn read(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        let outcome = self.store.read().fetch(name, version, &self.location);
        outcome.map(Into::into)
    }
}

impl fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("secrets", &self.store.read().len())
            .finish()
    }
}

#[async_trait]
impl SecretBackend for MemoryBackend {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        self.read(name, version)
    }

    #[inline]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        Some(self.read(name, version))
    }

    async fn check(&self) -> Result<()> {
        Ok(())
    }

    fn location(&self) -> &Location {
        &self.location
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn passes_the_conformance_suite() {
        let (backend, seeded) = conformance::seeded_memory();
        conformance::run_all(&backend, &seeded).await;
        let shared: std::sync::Arc<dyn SecretBackend> = std::sync::Arc::new(backend);
        conformance::run_all(&shared, &seeded).await;
    }

    #[test]
    fn debug_shows_only_a_count() {
        let backend = MemoryBackend::new();
        backend.set("a", "canary-value").unwrap();
        assert_eq!(format!("{backend:?}"), "MemoryBackend { secrets: 1 }");
    }
}
