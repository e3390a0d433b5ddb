//! The validity layer: refuses secrets outside their validity dates, and disabled ones.
//!
//! Key Vault returns expired and not-yet-valid secrets like any other: honouring the dates is
//! the client's job. This layer does it in front of the cache, so a secret that expires while
//! cached is refused from that moment on.

use std::fmt;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::backend::{Fetched, SecretBackend};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::reference::{SecretName, SecretVersion};

/// Whether secrets outside their validity dates are served.
///
/// By default both expired and not-yet-valid secrets are refused with a typed error giving the
/// date ([`Error::Expired`], [`Error::NotYetValid`]).
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

    /// Whether `fetched` passes without looking at the clock: enabled, and without a date these
    /// options enforce. Most secrets have no dates, so this is all a hit does.
    #[inline(always)]
    fn passes_at_once(self, fetched: &Fetched) -> bool {
        fetched
            .secret
            .gate()
            .passes(self.allow_expired, self.allow_not_yet_valid)
    }

    /// Refuses `fetched` if it is disabled or outside the dates these options enforce; errors
    /// name the location `at` gives.
    #[cold]
    #[inline(never)]
    fn check(self, fetched: Fetched, at: &Location) -> Result<Fetched> {
        let properties = fetched.secret.properties();
        let subject = || (properties.name.clone(), properties.version, at.clone());
        if !properties.enabled {
            let (name, version, location) = subject();
            return Err(Error::Disabled {
                name,
                version,
                location,
            });
        }
        let expires = properties.expires.filter(|_| !self.allow_expired);
        let not_before = properties.not_before.filter(|_| !self.allow_not_yet_valid);
        let now = OffsetDateTime::now_utc();
        if let Some(expired_at) = expires.filter(|&at| at <= now) {
            let (name, version, location) = subject();
            return Err(Error::Expired {
                name,
                version,
                location,
                expired_at,
            });
        }
        if let Some(not_before) = not_before.filter(|&at| at > now) {
            let (name, version, location) = subject();
            return Err(Error::NotYetValid {
                name,
                version,
                location,
                not_before,
            });
        }
        Ok(fetched)
    }
}

/// A backend whose secrets are checked against their validity dates and enabled flag.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use secretscope::memory::{MemoryBackend, SecretAttributes};
/// use secretscope::validity::{ValidatedBackend, ValidityOptions};
/// use secretscope::{Error, SecretBackend, SecretName};
///
/// let memory = MemoryBackend::new();
/// let yesterday = time::OffsetDateTime::now_utc() - time::Duration::days(1);
/// memory.set_with("old", "v", SecretAttributes::new().with_expires(yesterday))?;
/// let checked = ValidatedBackend::new(memory, ValidityOptions::new());
/// let err = checked.fetch(&SecretName::new("old")?, None).await.unwrap_err();
/// assert!(matches!(err, Error::Expired { .. }));
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
pub struct ValidatedBackend<B> {
    inner: B,
    options: ValidityOptions,
}

impl<B: SecretBackend> ValidatedBackend<B> {
    /// Checks what `inner` returns against `options`.
    pub fn new(inner: B, options: ValidityOptions) -> Self {
        Self { inner, options }
    }
}

impl ValidatedBackend<std::sync::Arc<crate::connection::Cache>> {
    /// A fresh cache hit that passes at once: what a connection's stack answers on the way
    /// nearly every resolve takes (see [`CachedBackend::hit`](crate::cache::CachedBackend)).
    #[inline(always)]
    pub(crate) fn hit(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Fetched> {
        self.inner
            .hit(name, version)
            .filter(|fetched| self.options.passes_at_once(fetched))
    }
}

impl<B: fmt::Debug> fmt::Debug for ValidatedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidatedBackend")
            .field("inner", &self.inner)
            .field("options", &self.options)
            .finish()
    }
}

#[async_trait]
impl<B: SecretBackend> SecretBackend for ValidatedBackend<B> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        let fetched = self.inner.fetch(name, version).await?;
        self.options.check(fetched, self.inner.location())
    }

    #[inline(always)]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        match self.inner.fetch_now(name, version)? {
            // A hit that passes goes up as it came.
            Ok(fetched) if self.options.passes_at_once(&fetched) => Some(Ok(fetched)),
            outcome => Some(outcome.and_then(|f| self.options.check(f, self.inner.location()))),
        }
    }

    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }

    fn location(&self) -> &Location {
        self.inner.location()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{self, Dates};

    #[tokio::test]
    async fn passes_the_conformance_suite_enforcing_dates() {
        let (backend, seeded) = conformance::seeded_memory();
        let checked = ValidatedBackend::new(backend, ValidityOptions::new());
        conformance::run_all_with(&checked, &seeded, Dates::Enforced).await;
        let shared: std::sync::Arc<dyn SecretBackend> = std::sync::Arc::new(checked);
        conformance::run_all_with(&shared, &seeded, Dates::Enforced).await;
    }

    #[test]
    fn answers_the_backend_has_at_hand_are_checked_and_passed_on_at_once() {
        let (backend, _) = conformance::seeded_memory();
        let checked = ValidatedBackend::new(backend, ValidityOptions::new());
        let name = |n| SecretName::new(n).unwrap();
        assert!(matches!(
            checked.fetch_now(&name(conformance::PLAIN), None),
            Some(Ok(_))
        ));
        assert!(matches!(
            checked.fetch_now(&name(conformance::EXPIRED), None),
            Some(Err(Error::Expired { .. }))
        ));
    }

    #[tokio::test]
    async fn passes_the_conformance_suite_when_dates_are_allowed() {
        let (backend, seeded) = conformance::seeded_memory();
        let lenient = ValidityOptions::new()
            .with_allow_expired(true)
            .with_allow_not_yet_valid(true);
        conformance::run_all(&ValidatedBackend::new(backend, lenient), &seeded).await;
    }
}
