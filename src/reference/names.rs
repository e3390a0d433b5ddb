//! The names a reference is made of: secret names, versions, project ids; and connection names.

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::num::NonZeroU64;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

use super::error::{ReferenceError, ReferenceErrorKind};
use super::{MAX_NAME_LEN, MAX_PROJECT_ID_LEN};

/// ASCII text that compares and hashes ignoring case, as Key Vault compares names and versions.
///
/// It keeps the text as written, for messages, with the hash of its lower-case form computed
/// once here: a cache hit hashes one word. Text of up to 23 bytes (most names) is held inline,
/// so comparing two names reads no memory but their own, and cloning one allocates nothing.
#[derive(Clone)]
struct Folded {
    /// The hash of the lower-case form.
    hash: u64,
    /// The text as written.
    text: SmolStr,
}

impl Folded {
    #[inline]
    fn new(written: &str) -> Self {
        Self {
            hash: fold_hash(written),
            text: SmolStr::new(written),
        }
    }

    #[inline]
    fn as_str(&self) -> &str {
        &self.text
    }
}

impl PartialEq for Folded {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        // Equal hashes almost always mean equal text, and usually written alike.
        self.hash == other.hash
            && (self.text.as_bytes() == other.text.as_bytes()
                || self.text.eq_ignore_ascii_case(&other.text))
    }
}
impl Eq for Folded {}

impl Hash for Folded {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The hash of `text`'s lower-case form, keyed once per process so that names cannot be chosen
/// to collide. Folds in chunks on the stack: nothing is allocated.
fn fold_hash(text: &str) -> u64 {
    let mut hasher = folded_hasher();
    let mut folded = [0u8; 64];
    for chunk in text.as_bytes().chunks(folded.len()) {
        let folded = &mut folded[..chunk.len()];
        folded.copy_from_slice(chunk);
        folded.make_ascii_lowercase();
        hasher.write(folded);
    }
    hasher.finish()
}

fn folded_hasher() -> foldhash::quality::FoldHasher<'static> {
    static STATE: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    STATE.get_or_init(Default::default).build_hasher()
}

/// A secret name: 1 to 127 ASCII letters, digits and hyphens, compared case-insensitively.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretName(Folded);

impl SecretName {
    /// Whether its text is held inline, owning no heap memory.
    pub(crate) fn is_inline(&self) -> bool {
        !self.0.text.is_heap_allocated()
    }

    /// Checks `name` against Key Vault's naming rule.
    pub fn new(name: &str) -> Result<Self, ReferenceError> {
        validate_name(name, 1)?;
        Ok(Self(Folded::new(name)))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The hash of its lower-case form, keyed once per process.
    #[inline]
    pub(crate) fn folded_hash(&self) -> u64 {
        self.0.hash
    }

    /// Its text as written, for keeping it without its hash (a cache entry does, to fit in one
    /// cache line); [`from_text`](Self::from_text) makes the name again.
    pub(crate) fn text(&self) -> &SmolStr {
        &self.0.text
    }

    /// The name whose [`text`](Self::text) this is: hashed again, not checked again.
    pub(crate) fn from_text(text: SmolStr) -> Self {
        Self(Folded {
            hash: fold_hash(&text),
            text,
        })
    }

    /// Whether `text` is this name's text, ignoring case: equality without the other's hash.
    #[inline(always)]
    pub(crate) fn is(&self, text: &SmolStr) -> bool {
        #[cold]
        #[inline(never)]
        fn ignoring_case(mine: &[u8], theirs: &[u8]) -> bool {
            mine.eq_ignore_ascii_case(theirs)
        }
        let (mine, theirs) = (self.0.text.as_bytes(), text.as_bytes());
        mine == theirs || ignoring_case(mine, theirs)
    }

    /// A name the parser has validated.
    #[inline]
    pub(super) fn from_valid(name: &str) -> Self {
        Self(Folded::new(name))
    }

    /// `text` as a name if it is 1 to [`INLINE_LEN`] name bytes (so held inline): checked,
    /// folded and hashed in one pass, allocating nothing.
    #[inline]
    pub(super) fn plain(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let len = bytes.len();
        if !(8..=INLINE_LEN).contains(&len) {
            // Shorter names cost little either way; longer ones are not held inline.
            return (1..8)
                .contains(&len)
                .then(|| Self::new(text).ok())
                .flatten();
        }
        // Eight bytes at a time, read in place (the last word overlaps the one before it), with
        // no branch per byte.
        let word = |at: usize| {
            let mut word = [0; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let (mut valid, mut upper) = (HIGH, 0);
        for at in [0, 8, len - 8] {
            let x = word(at.min(len - 8));
            let upper_here = between(x, b'A' - 1, b'Z' + 1);
            valid &= upper_here
                | between(x, b'a' - 1, b'z' + 1)
                | between(x, b'0' - 1, b'9' + 1)
                | between(x, b'-' - 1, b'-' + 1);
            upper |= upper_here;
        }
        if valid != HIGH {
            return None;
        }
        // Names are mostly written in lower case, and then the text is its folded form.
        let hash = if upper == 0 {
            let mut hasher = folded_hasher();
            hasher.write(bytes);
            hasher.finish()
        } else {
            fold_hash(text)
        };
        // At most INLINE_LEN bytes, as checked above, so `new_inline` cannot panic; it skips
        // `SmolStr::new`'s search for text made of newlines and spaces, which cost a hit about
        // 35 instructions.
        Some(Self(Folded {
            hash,
            text: SmolStr::new_inline(text),
        }))
    }
}

/// The longest text a name holds inline, without an allocation of its own.
pub(super) const INLINE_LEN: usize = 23;

/// The high bit of every byte of a word.
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `x` set where `low < byte < high`, the others clear (bytes of
/// 0x80 and above included). Each byte is worked out on its own: no carry or borrow crosses
/// from one byte to the next, since `low` and `high` are below 0x80.
#[inline(always)]
const fn between(x: u64, low: u8, high: u8) -> u64 {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    let seven = x & (ONES * 0x7f);
    let below_high = (ONES * (0x7f + high as u64)).wrapping_sub(seven);
    let above_low = seven.wrapping_add(ONES * (0x7f - low as u64));
    below_high & above_low & !x & HIGH
}

/// A pinned secret version: 32 hexadecimal digits, compared case-insensitively.
///
/// Held inline, as written, with the hash of its lower-case form: copying, comparing and
/// hashing one reads no other memory.
#[derive(Clone, Copy)]
pub struct SecretVersion {
    digits: [u8; VERSION_LEN],
    /// Never zero, so that an `Option<SecretVersion>` takes no more room.
    hash: NonZeroU64,
}

/// How many hexadecimal digits a version has.
const VERSION_LEN: usize = 32;

impl SecretVersion {
    /// Checks that `version` is 32 hexadecimal digits.
    pub fn new(version: &str) -> Result<Self, ReferenceError> {
        validate_version(version, 1)?;
        Ok(Self::from_valid(version))
    }

    /// The hash of its lower-case form, keyed once per process.
    #[inline]
    pub(crate) fn folded_hash(&self) -> u64 {
        self.hash.get()
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        // Validated ASCII when made, so this never falls back.
        std::str::from_utf8(&self.digits).unwrap_or_default()
    }

    /// A version the parser has validated: 32 hexadecimal digits.
    pub(super) fn from_valid(version: &str) -> Self {
        let mut digits = [0; VERSION_LEN];
        digits.copy_from_slice(&version.as_bytes()[..VERSION_LEN]);
        Self {
            digits,
            hash: NonZeroU64::MIN | fold_hash(version),
        }
    }
}

impl PartialEq for SecretVersion {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && (self.digits == other.digits || self.digits.eq_ignore_ascii_case(&other.digits))
    }
}
impl Eq for SecretVersion {}

impl Hash for SecretVersion {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash.get());
    }
}

/// A project id: 1 to 64 ASCII letters, digits, `-`, `_` and `.`, compared exactly.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(SmolStr);

impl ProjectId {
    /// Checks `id` against the project-id rule.
    pub fn new(id: &str) -> Result<Self, ReferenceError> {
        validate_project_id(id, 1)?;
        Ok(Self(SmolStr::new(id)))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id the parser has validated.
    pub(super) fn from_valid(id: &str) -> Self {
        Self(SmolStr::new(id))
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
