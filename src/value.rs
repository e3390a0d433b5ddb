//! Secret values and the metadata that travels with them.

use std::fmt;
use std::sync::Arc;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use time::OffsetDateTime;

use crate::reference::{RefScope, SecretName, SecretRef, SecretVersion};

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
pub struct SecretValue(Arc<SecretString>);

impl SecretValue {
    /// Takes ownership of `value` without leaving an unzeroized copy behind.
    pub fn new(value: String) -> Self {
        Self(Arc::new(secret_string(value)))
    }

    /// The secret itself. Keep the borrow short and do not log it.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
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

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<SecretString> for SecretValue {
    fn from(value: SecretString) -> Self {
        Self(Arc::new(value))
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue([REDACTED])")
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

/// One version of a secret as a backend returns it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Secret {
    /// The value.
    pub value: SecretValue,
    /// Everything else.
    pub properties: SecretProperties,
}

impl Secret {
    /// Pairs a value with its properties.
    pub fn new(value: SecretValue, properties: SecretProperties) -> Self {
        Self { value, properties }
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

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Backend => "backend",
            Self::Cache => "cache",
            Self::StaleCache => "stale cache",
        })
    }
}

/// A resolved secret: the value and everything known about it.
#[derive(Debug, Clone)]
pub struct ResolvedSecret {
    value: SecretValue,
    metadata: SecretMetadata,
}

impl ResolvedSecret {
    pub(crate) fn new(value: SecretValue, metadata: SecretMetadata) -> Self {
        Self { value, metadata }
    }

    /// The value.
    pub fn value(&self) -> &SecretValue {
        &self.value
    }

    /// Everything but the value.
    pub fn metadata(&self) -> &SecretMetadata {
        &self.metadata
    }

    /// Splits into the value and the metadata.
    pub fn into_parts(self) -> (SecretValue, SecretMetadata) {
        (self.value, self.metadata)
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
    pub connection: String,
    /// The backend's properties of the secret.
    #[serde(flatten)]
    pub properties: SecretProperties,
    /// Whether the value came from the backend or the cache.
    pub source: Source,
    /// The scope-policy generation the reference was resolved under.
    pub policy_generation: u64,
}

fn serialize_scope<S: serde::Serializer>(scope: &RefScope, s: S) -> Result<S::Ok, S::Error> {
    match scope {
        RefScope::Workspace => s.serialize_str("workspace"),
        RefScope::Project(p) => s.collect_str(&format_args!("project:{p}")),
    }
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
    fn clones_share_the_buffer() {
        let a = SecretValue::new("v".to_owned());
        let b = a.clone();
        assert!(std::ptr::eq(a.expose_secret(), b.expose_secret()));
    }
}
