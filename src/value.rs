//! Secret values and the metadata that travels with them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use time::OffsetDateTime;

use crate::reference::ConnectionName;
use crate::reference::{RefScope, SecretName, SecretRef, SecretVersion};

/// One version of a secret, immutable once made: the value and, for a secret a backend
/// returned, its properties. Its bytes are zeroized when the last handle to it is dropped.
struct Core {
    value: SecretString,
    /// `None` only for a value made with [`SecretValue::new`].
    properties: Option<SecretProperties>,
}

/// A counted handle to a [`Core`]: what [`Secret`] and [`SecretValue`] hold.
///
/// Cloning a handle writes its count and nothing else. A cache keeps several handles to one
/// secret ([`Secret::with_own_count`]) and gives each core's readers their own, so readers on
/// different cores never write the same memory. Each handle's allocation is a cache line long
/// (64 bytes with its counts, which come first), so no two handles' counts fall in one line;
/// the flags a validity check reads on every hit sit beside the count, so a hit reads no other
/// line of the secret.
struct Handle {
    core: Arc<Core>,
    gate: Gate,
    _line: [u8; HANDLE_PADDING],
}

/// Pads a handle's allocation (two counts, a pointer, the gate) to a cache line.
const HANDLE_PADDING: usize = 64 - 2 * size_of::<usize>() - size_of::<usize>() - 1;

impl Handle {
    fn new(value: String, properties: Option<SecretProperties>) -> Arc<Self> {
        let gate = Gate::of(properties.as_ref());
        Arc::new(Self {
            core: Arc::new(Core {
                value: secret_string(value),
                properties,
            }),
            gate,
            _line: [0; HANDLE_PADDING],
        })
    }
}

/// What a validity check needs to know of a secret's properties without reading them: whether
/// it is enabled, and which dates it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gate(u8);

impl Gate {
    const ENABLED: u8 = 1;
    const EXPIRES: u8 = 2;
    const NOT_BEFORE: u8 = 4;

    fn of(properties: Option<&SecretProperties>) -> Self {
        let Some(p) = properties else {
            return Self(Self::ENABLED);
        };
        let mut gate = 0;
        if p.enabled {
            gate |= Self::ENABLED;
        }
        if p.expires.is_some() {
            gate |= Self::EXPIRES;
        }
        if p.not_before.is_some() {
            gate |= Self::NOT_BEFORE;
        }
        Self(gate)
    }

    /// Enabled, and without an expiry date unless `allow_expired`, nor a not-before date unless
    /// `allow_not_yet_valid`: nothing to check against the clock.
    #[inline]
    pub(crate) fn passes(self, allow_expired: bool, allow_not_yet_valid: bool) -> bool {
        let mut blocking = 0;
        if !allow_expired {
            blocking |= Self::EXPIRES;
        }
        if !allow_not_yet_valid {
            blocking |= Self::NOT_BEFORE;
        }
        self.0 & (Self::ENABLED | blocking) == Self::ENABLED
    }
}

/// A secret value.
///
/// The bytes are zeroized when the last handle is dropped; `Debug` prints `SecretValue([REDACTED])`;
/// there is no `Display` and no `Serialize`. Reading the value takes an explicit
/// [`expose_secret`](Self::expose_secret) call, which is easy to find in a review.
///
/// Cloning is cheap and does not copy the bytes: clones share one zeroize-on-drop buffer.
///
/// ```
/// use secretscope::SecretValue;
///
/// let value = SecretValue::new(String::from("hunter2"));
/// assert_eq!(format!("{value:?}"), "SecretValue([REDACTED])");
/// assert_eq!(value.expose_secret(), "hunter2");
/// ```
///
/// It cannot be displayed or serialised by accident:
///
/// ```compile_fail
/// let value = secretscope::SecretValue::new(String::from("hunter2"));
/// println!("{value}"); // no `Display`
/// ```
///
/// ```compile_fail
/// let value = secretscope::SecretValue::new(String::from("hunter2"));
/// serde_json::to_string(&value); // no `Serialize`
/// ```
///
/// ```
/// // (The same line compiles for a type that is `Serialize`.)
/// serde_json::to_string(&"not a secret").unwrap();
/// ```
#[derive(Clone)]
pub struct SecretValue(Arc<Handle>);

impl SecretValue {
    /// Takes ownership of `value` without leaving an unzeroized copy behind.
    pub fn new(value: String) -> Self {
        Self(Handle::new(value, None))
    }

    /// The secret itself. Keep the borrow short and do not log it.
    pub fn expose_secret(&self) -> &str {
        self.0.core.value.expose_secret()
    }

    /// The length of the value in bytes.
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the value is empty (Key Vault allows empty values).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
    }
}

/// Moves `value` into a [`SecretString`] without leaving an unzeroized copy behind.
///
/// `String` -> `Box<str>` reallocates when there is spare capacity, and the old buffer would be
/// freed without being wiped: copy to an exact-size box and wipe the original instead.
pub(crate) fn secret_string(mut value: String) -> SecretString {
    let boxed: Box<str> = if value.capacity() == value.len() {
        value.into_boxed_str()
    } else {
        let exact = Box::<str>::from(value.as_str());
        value.zeroize();
        exact
    };
    SecretString::from(boxed)
}

/// One version of a secret as a backend returns it: the value and its properties.
///
/// Cloning is cheap: clones share the value's zeroize-on-drop buffer and the properties.
/// `Debug` shows the properties and never the value.
///
/// ```
/// use secretscope::{Secret, SecretName, SecretProperties};
///
/// let secret = Secret::new("hunter2".to_owned(), SecretProperties::new(SecretName::new("db")?));
/// assert_eq!(secret.expose_secret(), "hunter2");
/// assert_eq!(secret.properties().name.as_str(), "db");
/// assert!(!format!("{secret:?}").contains("hunter2"));
/// # Ok::<(), secretscope::ReferenceError>(())
/// ```
#[derive(Clone)]
pub struct Secret(Arc<Handle>);

impl Secret {
    /// Pairs a value with its properties, taking ownership of the value without leaving an
    /// unzeroized copy behind.
    pub fn new(value: String, properties: SecretProperties) -> Self {
        Self(Handle::new(value, Some(properties)))
    }

    /// The value. Keep the borrow short and do not log it.
    pub fn expose_secret(&self) -> &str {
        self.0.core.value.expose_secret()
    }

    /// Everything but the value.
    pub fn properties(&self) -> &SecretProperties {
        self.0
            .core
            .properties
            .as_ref()
            .expect("a Secret is always made with its properties")
    }

    /// The value, as a handle sharing this secret's buffer.
    pub fn value(&self) -> SecretValue {
        SecretValue(Arc::clone(&self.0))
    }

    /// The value, without touching the reference count.
    pub fn into_value(self) -> SecretValue {
        SecretValue(self.0)
    }

    /// Another handle to the same secret (no copy of the value), with a reference count of
    /// its own: clones of the two write different memory.
    pub(crate) fn with_own_count(&self) -> Self {
        Self(Arc::new(Handle {
            core: Arc::clone(&self.0.core),
            gate: self.0.gate,
            _line: [0; HANDLE_PADDING],
        }))
    }

    /// Whether it is enabled and which dates it has, read beside its reference count.
    #[inline]
    pub(crate) fn gate(&self) -> Gate {
        self.0.gate
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("value", &format_args!("[REDACTED]"))
            .field("properties", self.properties())
            .finish()
    }
}

/// What a backend knows about one version of a secret, apart from its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SecretProperties {
    /// The secret name.
    pub name: SecretName,
    /// The version identifier, where the backend has one.
    pub version: Option<SecretVersion>,
    /// The content type, such as `text/plain` or `application/x-pem-file`.
    pub content_type: Option<String>,
    /// Whether the secret may be read. Backends report disabled secrets as
    /// [`Error::Disabled`](crate::Error::Disabled).
    pub enabled: bool,
    /// When this version was created.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    /// When this version was last updated.
    #[serde(with = "time::serde::rfc3339::option")]
    pub updated: Option<OffsetDateTime>,
    /// Before this date the secret is not valid yet.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_before: Option<OffsetDateTime>,
    /// After this date the secret has expired.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
}

impl SecretProperties {
    /// Properties of an enabled secret with no version, content type or dates.
    pub fn new(name: SecretName) -> Self {
        Self {
            name,
            version: None,
            content_type: None,
            enabled: true,
            created: None,
            updated: None,
            not_before: None,
            expires: None,
        }
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Source {
    /// Fetched from the backend by this call.
    Backend,
    /// Served from the in-memory cache within its time to live.
    Cache,
    /// Served from the cache past its time to live because the backend had a temporary failure
    /// (only when stale-if-error is enabled).
    StaleCache,
}

impl Source {
    /// The name used in logs and metrics: `backend`, `cache`, `stale-cache`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backend => "backend",
            Self::Cache => "cache",
            Self::StaleCache => "stale-cache",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Backend => "backend",
            Self::Cache => "cache",
            Self::StaleCache => "stale cache",
        })
    }
}

/// The accessors [`Resolved`] and [`ResolvedSecret`] share: the value, and where and when it
/// was served. One definition, so that the borrowed and the owned form cannot drift apart.
macro_rules! served_accessors {
    () => {
        /// The value.
        pub fn value(&self) -> SecretValue {
            self.secret.value()
        }

        /// The value, without touching the reference count.
        pub fn into_value(self) -> SecretValue {
            self.secret.into_value()
        }

        /// The value and its properties.
        pub fn secret(&self) -> &Secret {
            &self.secret
        }

        /// The backend's properties of the secret: name, version, content type, dates.
        pub fn properties(&self) -> &SecretProperties {
            self.secret.properties()
        }

        /// Whether the value came from the backend, the cache, or the cache past its time to
        /// live.
        pub fn source(&self) -> Source {
            self.served.source
        }

        /// How long ago the value was fetched from the backend: zero when
        /// [`source`](Self::source) is [`Source::Backend`].
        pub fn age(&self) -> Duration {
            self.served.age
        }

        /// The scope-policy generation the reference was resolved under.
        pub fn policy_generation(&self) -> u64 {
            self.served.policy_generation
        }
    };
}

/// What resolving a parsed reference gives: the value, and everything known about where it
/// came from.
///
/// What [`SecretsManager::resolve_ref`](crate::SecretsManager::resolve_ref) returns. It borrows
/// the reference and the connection name from the resolve that made it, so that a cache hit
/// copies nothing but one reference count; [`into_owned`](Self::into_owned) makes a
/// [`ResolvedSecret`] that owns them.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    secret: Secret,
    reference: &'a SecretRef,
    connection: &'a ConnectionName,
    served: Served,
}

/// Where a value was served from, how old it was, and under which policy generation.
#[derive(Debug, Clone, Copy)]
struct Served {
    source: Source,
    age: Duration,
    policy_generation: u64,
}

impl<'a> Resolved<'a> {
    /// A resolved secret, for [`SecretsManager`](crate::SecretsManager) implementations.
    pub fn new(
        secret: Secret,
        reference: &'a SecretRef,
        connection: &'a ConnectionName,
        source: Source,
        age: Duration,
        policy_generation: u64,
    ) -> Self {
        Self {
            secret,
            reference,
            connection,
            served: Served {
                source,
                age,
                policy_generation,
            },
        }
    }

    served_accessors!();

    /// The reference that was resolved.
    pub fn reference(&self) -> &'a SecretRef {
        self.reference
    }

    /// The connection that served it.
    pub fn connection(&self) -> &'a ConnectionName {
        self.connection
    }

    /// Everything but the value, to log or serialise.
    pub fn metadata(&self) -> SecretMetadata {
        SecretMetadata::new(&self.secret, self.reference, self.connection, self.served)
    }

    /// A [`ResolvedSecret`] that owns the reference and the connection name.
    pub fn into_owned(self) -> ResolvedSecret {
        ResolvedSecret {
            secret: self.secret,
            reference: self.reference.clone(),
            connection: self.connection.clone(),
            served: self.served,
        }
    }
}

/// A resolved secret: the value, and everything known about where it came from.
///
/// What [`SecretsManagerExt::resolve_with_metadata`](crate::SecretsManagerExt::resolve_with_metadata)
/// returns; [`Resolved::into_owned`] makes one from what
/// [`resolve_ref`](crate::SecretsManager::resolve_ref) returns.
#[derive(Debug, Clone)]
pub struct ResolvedSecret {
    secret: Secret,
    reference: SecretRef,
    connection: ConnectionName,
    served: Served,
}

impl ResolvedSecret {
    served_accessors!();

    /// The reference that was resolved, in canonical form.
    pub fn reference(&self) -> &SecretRef {
        &self.reference
    }

    /// The connection that served it.
    pub fn connection(&self) -> &ConnectionName {
        &self.connection
    }

    /// Everything but the value, to log or serialise.
    pub fn metadata(&self) -> SecretMetadata {
        SecretMetadata::new(&self.secret, &self.reference, &self.connection, self.served)
    }
}

/// Everything known about a resolved secret except its value. Safe to log and serialise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SecretMetadata {
    /// The reference that was resolved, in canonical form.
    pub reference: SecretRef,
    /// The scope the reference was resolved in.
    #[serde(serialize_with = "serialize_scope")]
    pub scope: RefScope,
    /// The name of the connection that served it.
    pub connection: ConnectionName,
    /// The backend's properties of the secret.
    #[serde(flatten)]
    pub properties: SecretProperties,
    /// Whether the value came from the backend or the cache.
    pub source: Source,
    /// How long ago the value was fetched from the backend.
    #[serde(serialize_with = "serialize_millis", rename = "age_ms")]
    pub age: Duration,
    /// The scope-policy generation the reference was resolved under.
    pub policy_generation: u64,
}

impl SecretMetadata {
    fn new(
        secret: &Secret,
        reference: &SecretRef,
        connection: &ConnectionName,
        served: Served,
    ) -> Self {
        Self {
            reference: reference.clone(),
            scope: reference.scope().clone(),
            connection: connection.clone(),
            properties: secret.properties().clone(),
            source: served.source,
            age: served.age,
            policy_generation: served.policy_generation,
        }
    }
}

fn serialize_scope<S: serde::Serializer>(scope: &RefScope, s: S) -> Result<S::Ok, S::Error> {
    match scope {
        RefScope::Workspace => s.serialize_str("workspace"),
        RefScope::Project(p) => s.collect_str(&format_args!("project:{p}")),
    }
}

fn serialize_millis<S: serde::Serializer>(age: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(age.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keeps_the_value_whatever_the_capacity() {
        let mut spare = String::with_capacity(64);
        spare.push_str("s3cr3t");
        assert_eq!(SecretValue::new(spare).expose_secret(), "s3cr3t");
        assert_eq!(
            SecretValue::from("exact".to_owned()).expose_secret(),
            "exact"
        );
        assert!(SecretValue::new(String::new()).is_empty());
    }

    #[test]
    fn a_handle_with_its_counts_fills_one_cache_line() {
        assert_eq!(size_of::<Handle>() + 2 * size_of::<usize>(), 64);
    }

    #[test]
    fn values_taken_from_a_secret_share_its_buffer() {
        let secret = Secret::new(
            "v".to_owned(),
            SecretProperties::new(SecretName::new("s").unwrap()),
        );
        let a = secret.value();
        let b = secret.clone().into_value();
        assert!(std::ptr::eq(a.expose_secret(), b.expose_secret()));
        assert!(std::ptr::eq(a.expose_secret(), secret.expose_secret()));
    }
}
