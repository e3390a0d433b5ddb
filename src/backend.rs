//! The trait a secrets backend implements, and what a fetch returns.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::location::Location;
use crate::reference::{SecretName, SecretVersion};
use crate::value::{Secret, Source};

/// A place secrets are read from: Azure Key Vault, a local file, memory; or a layer in front
/// of one (the cache, the validity check), which implements the same trait by delegating.
///
/// A backend fetches one secret, checks its connection, and says where it points. It knows
/// nothing of scopes, caching or validity dates, and maps its own failures into
/// [`Error`](crate::Error): a missing secret is [`Error::NotFound`](crate::Error::NotFound), a
/// disabled one [`Error::Disabled`](crate::Error::Disabled), and so on.
///
/// Names and versions arrive already validated, so a backend can put them into a URL path.
///
/// [`fetch_now`](Self::fetch_now) is the one provided method: a backend that can answer
/// without waiting (a lookup in memory) says so there, and every call that can be answered at
/// once is, without a future or an allocation. Layers pass it through to the backend they
/// wrap, and the behaviour suite ([`conformance`](crate::conformance)) checks that both
/// methods agree.
///
/// ```
/// use secretscope::{Fetched, Location, Result, Secret, SecretBackend, SecretName, SecretProperties, SecretVersion};
///
/// #[derive(Debug)]
/// struct Fixed(Location);
///
/// #[async_trait::async_trait]
/// impl SecretBackend for Fixed {
///     async fn fetch(&self, name: &SecretName, _: Option<&SecretVersion>) -> Result<Fetched> {
///         let secret = Secret::new("fixed".to_owned(), SecretProperties::new(name.clone()));
///         Ok(secret.into())
///     }
///
///     async fn check(&self) -> Result<()> {
///         Ok(())
///     }
///
///     fn location(&self) -> &Location {
///         &self.0
///     }
/// }
/// # let _ = Fixed(Location::memory());
/// ```
#[async_trait]
pub trait SecretBackend: Send + Sync + fmt::Debug + 'static {
    /// Fetches the latest version of `name`, or `version` when one is given.
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched>;

    /// What [`fetch`](Self::fetch) would return, if it is known without waiting: a cache hit,
    /// a lookup in memory, a refusal before any I/O. `None`, the default, sends the caller to
    /// `fetch`.
    ///
    /// A layer returns what it can answer itself and otherwise passes the call through, so
    /// that an answer at hand at the bottom of a stack is still answered at once at its top.
    #[inline]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        let _ = (name, version);
        None
    }

    /// Proves the backend is reachable and the caller may read secrets, without reading one.
    async fn check(&self) -> Result<()>;

    /// Where the secrets live. An HTTPS location's [`host`](Location::host) is the only vault
    /// host a Key Vault secret identifier resolved through this backend may name.
    fn location(&self) -> &Location;
}

#[async_trait]
impl<T: SecretBackend + ?Sized> SecretBackend for Arc<T> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        (**self).fetch(name, version).await
    }

    #[inline(always)]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        (**self).fetch_now(name, version)
    }

    async fn check(&self) -> Result<()> {
        (**self).check().await
    }

    fn location(&self) -> &Location {
        (**self).location()
    }
}

/// A fetched secret and where it came from.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fetched {
    /// The value and its properties.
    pub secret: Secret,
    /// The backend itself, or a cache in front of it.
    pub source: Source,
    /// How long ago the backend itself returned it: zero for [`Source::Backend`].
    pub age: Duration,
}

impl Fetched {
    /// A secret the backend itself returned just now.
    pub fn new(secret: Secret) -> Self {
        Self {
            secret,
            source: Source::Backend,
            age: Duration::ZERO,
        }
    }

    /// A secret served by a layer (a cache) from what the backend returned `age` ago.
    pub fn served(secret: Secret, source: Source, age: Duration) -> Self {
        Self {
            secret,
            source,
            age,
        }
    }
}

impl From<Secret> for Fetched {
    fn from(secret: Secret) -> Self {
        Self::new(secret)
    }
}
