//! The names a reference is made of: secret names, versions, project ids; and connection names.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{ReferenceError, ReferenceErrorKind};
use super::{MAX_NAME_LEN, MAX_PROJECT_ID_LEN};

/// ASCII text that compares and hashes ignoring case, as Key Vault compares names and versions.
///
/// It keeps the text as written, for messages, and its lower-case form, folded once here: a
/// name is hashed on every cache hit, and hashing a folded string is one pass over its bytes
/// (about 7 ns for a 21-byte name), where folding while hashing (as `unicase` does, byte by
/// byte) measured 67 ns. One allocation holds both; when the text is already lower-case, as
/// names usually are, it is stored once.
#[derive(Clone)]
struct Folded {
    /// The text as written, followed by its lower-case form when the two differ.
    text: Arc<str>,
    written_len: usize,
    /// The lower-case form's hash, computed once: a hit hashes one word.
    hash: u64,
}

impl Folded {
    fn new(written: &str) -> Self {
        let text: Arc<str> = if written.bytes().any(|b| b.is_ascii_uppercase()) {
            let mut both = String::with_capacity(written.len() * 2);
            both.push_str(written);
            both.push_str(&written.to_ascii_lowercase());
            both.into()
        } else {
            written.into()
        };
        let mut folded = Self {
            text,
            written_len: written.len(),
            hash: 0,
        };
        folded.hash = fold_hash(folded.folded());
        folded
    }

    #[inline]
    fn as_str(&self) -> &str {
        &self.text[..self.written_len]
    }

    #[inline]
    fn folded(&self) -> &str {
        match self.text.len() == self.written_len {
            true => &self.text,
            false => &self.text[self.written_len..],
        }
    }
}

impl PartialEq for Folded {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        // Clones share their text: a name compared with the key made from it compares one
        // pointer.
        self.hash == other.hash
            && (Arc::ptr_eq(&self.text, &other.text) || self.folded() == other.folded())
    }
}
impl Eq for Folded {}

impl Hash for Folded {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The hash of folded text, keyed once per process so that names cannot be chosen to collide.
fn fold_hash(folded: &str) -> u64 {
    static STATE: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    STATE.get_or_init(Default::default).hash_one(folded)
}

/// A secret name: 1 to 127 ASCII letters, digits and hyphens, compared case-insensitively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretName(Folded);

impl SecretName {
    /// Checks `name` against Key Vault's naming rule.
    pub fn new(name: &str) -> Result<Self, ReferenceError> {
        validate_name(name, 1)?;
        Ok(Self(Folded::new(name)))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A name the parser has validated.
    pub(super) fn from_valid(name: &str) -> Self {
        Self(Folded::new(name))
    }
}

/// A pinned secret version: 32 hexadecimal digits, compared case-insensitively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretVersion(Folded);

impl SecretVersion {
    /// Checks that `version` is 32 hexadecimal digits.
    pub fn new(version: &str) -> Result<Self, ReferenceError> {
        validate_version(version, 1)?;
        Ok(Self(Folded::new(version)))
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// A version the parser has validated.
    pub(super) fn from_valid(version: &str) -> Self {
        Self(Folded::new(version))
    }
}

/// A project id: 1 to 64 ASCII letters, digits, `-`, `_` and `.`, compared exactly.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(Arc<str>);

impl ProjectId {
    /// Checks `id` against the project-id rule.
    pub fn new(id: &str) -> Result<Self, ReferenceError> {
        validate_project_id(id, 1)?;
        Ok(Self(id.into()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id the parser has validated.
    pub(super) fn from_valid(id: &str) -> Self {
        Self(id.into())
    }
}

macro_rules! string_like {
    ($($ty:ident),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl FromStr for $ty {
            type Err = ReferenceError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::new(&s).map_err(serde::de::Error::custom)
            }
        }
    )*};
}
string_like!(SecretName, SecretVersion, ProjectId);

pub(super) fn validate_name(name: &str, position: usize) -> Result<(), ReferenceError> {
    if name.is_empty() {
        return Err(ReferenceError::new(ReferenceErrorKind::EmptyName, position));
    }
    check_chars(name, position, "secret name", |c| {
        c.is_ascii_alphanumeric() || c == '-'
    })?;
    let length = name.len();
    if length > MAX_NAME_LEN {
        return Err(ReferenceError::new(
            ReferenceErrorKind::NameTooLong { length },
            position,
        ));
    }
    Ok(())
}

pub(super) fn validate_project_id(id: &str, position: usize) -> Result<(), ReferenceError> {
    if id.is_empty() {
        return Err(ReferenceError::new(
            ReferenceErrorKind::EmptyProjectId,
            position,
        ));
    }
    check_chars(id, position, "project id", |c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
    })?;
    let length = id.len();
    if length > MAX_PROJECT_ID_LEN {
        return Err(ReferenceError::new(
            ReferenceErrorKind::ProjectIdTooLong { length },
            position,
        ));
    }
    Ok(())
}

pub(super) fn validate_version(version: &str, position: usize) -> Result<(), ReferenceError> {
    let bad = |reason| ReferenceError::new(ReferenceErrorKind::BadVersion { reason }, position);
    if version.is_empty() {
        return Err(bad("is empty"));
    }
    if let Some((i, _)) = version
        .chars()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(ReferenceError::new(
            ReferenceErrorKind::BadVersion {
                reason: "has a character that is not a hexadecimal digit",
            },
            position + i,
        ));
    }
    if version.len() != 32 {
        return Err(bad("does not have 32 digits"));
    }
    Ok(())
}

fn check_chars(
    s: &str,
    position: usize,
    part: &'static str,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ReferenceError> {
    match s.chars().enumerate().find(|&(_, c)| !allowed(c)) {
        None => Ok(()),
        Some((i, found)) => {
            let part = if found == ' ' { "reference" } else { part };
            Err(ReferenceError::new(
                ReferenceErrorKind::BadCharacter { found, part },
                position + i,
            ))
        }
    }
}

/// The name of a connection, as administrators see it. Cloning is cheap.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionName(Arc<str>);

impl ConnectionName {
    pub(crate) fn new(name: String) -> Self {
        Self(name.into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ConnectionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for ConnectionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for ConnectionName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for ConnectionName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl Serialize for ConnectionName {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConnectionName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(Self(String::deserialize(deserializer)?.into()))
    }
}
