//! A local secrets file (TOML or JSON) for development without a cloud account.
//!
//! [`FileBackend`] reads a file when it is opened and again on [`FileBackend::reload`], and
//! answers from what it read: it behaves like a vault holding those secrets (latest or pinned
//! version, disabled versions refused, names compared case-insensitively), so a service can run
//! against it unchanged and later point at Azure Key Vault.
//!
//! # Format
//!
//! The extension says how to read the file: `.toml` or `.json`. Every secret sits in the
//! `secrets` table under its name, which follows Key Vault's rule (1 to 127 letters, digits and
//! `-`) and is compared case-insensitively, so two names that differ only in case are an error.
//!
//! A secret is either a string, its value (the shorthand), or a table with these fields, all
//! optional but `value`:
//!
//! | field | meaning |
//! |---|---|
//! | `value` | the value: a string, possibly empty or spanning lines |
//! | `version` | a version id of 32 hexadecimal digits, to pin it in references |
//! | `content-type` | such as `text/plain` or `application/x-pem-file` |
//! | `enabled` | `false` makes the secret unreadable ([`Error::Disabled`]); `true` by default |
//! | `not-before`, `expires` | validity dates, enforced by the manager, not the backend |
//! | `created`, `updated` | dates reported in the secret's properties |
//!
//! Dates need a time and an offset: a TOML offset date-time (`2027-01-01T00:00:00Z`) or an
//! RFC 3339 string (`"2027-01-01T00:00:00Z"`). A secret with several versions has `versions`
//! instead of `value`: a list of such tables, oldest first (the last is the latest), each with
//! its own `version`, distinct within the secret. A secret without a `version` has no version
//! id and can only be fetched as the latest.
//!
//! Unknown fields are errors, so a typo never silently drops a setting.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! use secretscope::file::FileBackend;
//! use secretscope::{SecretBackend, SecretName, SecretVersion};
//!
//! let toml = r#"
//! [secrets]
//! db-password = "hunter2"                  # shorthand: one value
//!
//! [secrets.tls-key]                        # full form
//! value = """
//! -----BEGIN PRIVATE KEY-----
//! MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
//! -----END PRIVATE KEY-----
//! """
//! content-type = "application/x-pem-file"
//! enabled = true
//! not-before = 2026-01-01T00:00:00Z        # TOML date-time or RFC 3339 string
//! expires = "2027-01-01T00:00:00Z"
//! version = "0123456789abcdef0123456789abcdef"   # optional, 32 hexadecimal digits
//!
//! [secrets.api-key]                        # several versions, the last one is the latest
//! versions = [
//!   { version = "00000000000000000000000000000001", value = "old" },
//!   { version = "00000000000000000000000000000002", value = "new", expires = 2027-01-01T00:00:00Z },
//! ]
//! "#;
//! let path = std::env::temp_dir().join(format!("secretscope-doc-{}.toml", std::process::id()));
//! std::fs::write(&path, toml)?;
//! let backend = FileBackend::open(&path)?;
//!
//! let password = backend.fetch(&SecretName::new("DB-PASSWORD")?, None).await?;
//! assert_eq!(password.value.expose_secret(), "hunter2");
//!
//! let key = backend.fetch(&SecretName::new("tls-key")?, None).await?;
//! assert!(key.value.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----\n"));
//! assert_eq!(key.properties.content_type.as_deref(), Some("application/x-pem-file"));
//!
//! let api_key = SecretName::new("api-key")?;
//! let old = SecretVersion::new("00000000000000000000000000000001")?;
//! assert_eq!(backend.fetch(&api_key, None).await?.value.expose_secret(), "new");
//! assert_eq!(backend.fetch(&api_key, Some(&old)).await?.value.expose_secret(), "old");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! JSON has the same shape, with dates as RFC 3339 strings:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! use secretscope::file::FileBackend;
//! use secretscope::{SecretBackend, SecretName};
//!
//! let json = r#"{
//!   "secrets": {
//!     "db-password": "hunter2",
//!     "tls-key": {
//!       "value": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
//!       "content-type": "application/x-pem-file",
//!       "expires": "2027-01-01T00:00:00Z"
//!     },
//!     "api-key": {
//!       "versions": [
//!         { "version": "00000000000000000000000000000001", "value": "old" },
//!         { "version": "00000000000000000000000000000002", "value": "new" }
//!       ]
//!     }
//!   }
//! }"#;
//! let path = std::env::temp_dir().join(format!("secretscope-doc-{}.json", std::process::id()));
//! std::fs::write(&path, json)?;
//! let backend = FileBackend::open(&path)?;
//! let api_key = backend.fetch(&SecretName::new("api-key")?, None).await?;
//! assert_eq!(api_key.value.expose_secret(), "new");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Errors
//!
//! A file that cannot be read, or whose extension is neither `.toml` nor `.json`, is
//! [`Error::InvalidConfig`] naming the path. A malformed file is [`Error::InvalidConfig`] whose
//! `field` names the path, line and column of the problem, such as
//! ``secrets file `/home/me/dev.toml`, line 4, column 9``.
//!
//! These messages never quote the file: a value in the wrong place (a number where a string
//! belongs, an unterminated string) is reported by its position, never by its content.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};

use async_trait::async_trait;
use secrecy::zeroize::{Zeroize, Zeroizing};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::backend::SecretBackend;
use crate::error::{Error, Result};
use crate::memory::Store;
use crate::reference::{
    MAX_NAME_LEN, ReferenceError, ReferenceErrorKind, SecretName, SecretVersion,
};
use crate::value::{Secret, SecretProperties, SecretValue};

/// Secrets read from a local TOML or JSON file; see the [module documentation](self) for the
/// format.
///
/// `Debug` prints the path and the number of secrets, never a value.
pub struct FileBackend {
    path: PathBuf,
    location: String,
    format: Format,
    store: RwLock<Store>,
}

impl FileBackend {
    /// Reads and parses the secrets file at `path`; `.toml` or `.json` says how.
    ///
    /// A relative path is made absolute against the current directory now, so a later
    /// [`reload`](Self::reload) reads the same file.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when the extension is neither `.toml` nor `.json`, when the file
    /// cannot be read (with the I/O error as its source), or when it is malformed (naming the
    /// line and column).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let given = path.as_ref();
        let path = std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
        let format = Format::of(&path)?;
        let store = load(&path, format)?;
        Ok(Self {
            location: format!("file {}", path.display()),
            path,
            format,
            store: RwLock::new(store),
        })
    }

    /// Reads the file again and serves its new contents.
    ///
    /// # Errors
    ///
    /// The errors of [`open`](Self::open); on any of them the previous contents stay in use.
    pub fn reload(&self) -> Result<()> {
        let store = load(&self.path, self.format)?;
        // Swap under the lock only once the new file parsed, so readers never see a half-load.
        *self.store.write().unwrap_or_else(|p| p.into_inner()) = store;
        Ok(())
    }

    /// The path of the file, made absolute when it was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        // The store is replaced in one assignment, so a poisoned lock still guards a whole map.
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Debug for FileBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBackend")
            .field("path", &self.path)
            .field("secrets", &self.read().len())
            .finish()
    }
}

#[async_trait]
impl SecretBackend for FileBackend {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Secret> {
        self.read().fetch(name, version, &self.location)
    }

    async fn check(&self) -> Result<()> {
        let unavailable = |reason: String, source: Option<std::io::Error>| Error::Unavailable {
            location: self.location.clone(),
            reason,
            source: source.map(crate::ErrorSource::new),
        };
        match std::fs::metadata(&self.path) {
            Ok(metadata) if metadata.is_file() => Ok(()),
            Ok(_) => Err(unavailable(
                format!(
                    "`{}` is no longer a regular file; put the secrets file back, or open another one",
                    self.path.display()
                ),
                None,
            )),
            Err(e) => Err(unavailable(
                format!(
                    "the secrets file `{}` {}; put it back, or open another one",
                    self.path.display(),
                    io_problem(&e)
                ),
                Some(e),
            )),
        }
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn vault_host(&self) -> Option<&str> {
        None
    }
}

/// How a secrets file is written, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Toml,
    Json,
}

impl Format {
    fn of(path: &Path) -> Result<Self> {
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if extension.eq_ignore_ascii_case("toml") {
            Ok(Self::Toml)
        } else if extension.eq_ignore_ascii_case("json") {
            Ok(Self::Json)
        } else {
            Err(Error::invalid_config(
                file_field(path),
                "the file name does not end in `.toml` or `.json`, which says how to read it; use a .toml or .json file",
            ))
        }
    }
}

fn file_field(path: &Path) -> String {
    format!("secrets file `{}`", path.display())
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "does not exist".to_owned(),
        std::io::ErrorKind::PermissionDenied => "cannot be read: permission denied".to_owned(),
        kind => format!("cannot be read ({kind})"),
    }
}

/// Where a parser stopped (1-based line and column, when known) and why, in words that never
/// quote the file.
struct Malformed {
    position: Option<(usize, usize)>,
    message: String,
}

fn load(path: &Path, format: Format) -> Result<Store> {
    let bytes = std::fs::read(path).map_err(|e| Error::InvalidConfig {
        field: file_field(path),
        reason: format!(
            "the file {}; create it, or give the path of an existing .toml or .json secrets file",
            io_problem(&e)
        ),
        source: Some(crate::ErrorSource::new(e)),
    })?;
    // The text holds every secret in the file: wipe it once parsed, whatever the outcome.
    let text = match String::from_utf8(bytes) {
        Ok(text) => Zeroizing::new(text),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            let position = std::str::from_utf8(&bytes[..valid])
                .map(|before| line_column(before, before.len()))
                .ok();
            bytes.zeroize();
            return Err(malformed(
                path,
                Malformed {
                    position,
                    message: "the file is not UTF-8 text".to_owned(),
                },
            ));
        }
    };
    match format {
        Format::Toml => parse_toml(&text),
        Format::Json => parse_json(&text),
    }
    .map_err(|m| malformed(path, m))
}

fn malformed(path: &Path, malformed: Malformed) -> Error {
    let field = match malformed.position {
        Some((line, column)) => format!("{}, line {line}, column {column}", file_field(path)),
        None => file_field(path),
    };
    Error::invalid_config(
        field,
        format!(
            "{}; fix the file, then open or reload it",
            malformed.message
        ),
    )
}

fn parse_toml(text: &str) -> std::result::Result<Store, Malformed> {
    // Parsed apart from deserializing so the toml crate does not copy the whole file into the
    // error of a deserialization failure (it still does for a syntax error).
    toml::de::DeTable::parse(text)
        .map(toml::de::Deserializer::from)
        .and_then(Document::deserialize)
        .map(|document| document.0)
        // Only the span and the message: the toml error's `Display` quotes the offending line
        // and its `Debug` may hold the whole file, either of which may hold a secret.
        .map_err(|e| Malformed {
            position: e.span().map(|span| line_column(text, span.start)),
            message: e.message().trim_end().to_owned(),
        })
}

fn parse_json(text: &str) -> std::result::Result<Store, Malformed> {
    serde_json::from_str::<Document>(text)
        .map(|document| document.0)
        .map_err(|e| {
            // serde_json appends " at line L column C" to the message; keep the message alone.
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
            Malformed {
                position: (e.line() > 0).then(|| (e.line(), e.column())),
                message,
            }
        })
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------------
// Deserialization.
//
// serde's default errors quote the input they refuse (`invalid type: integer `1234`, expected a
// string`), and a value in the wrong place may be a secret. So every type read from the file
// has a hand-written visitor that accepts only what belongs there and refuses everything else
// with a fixed message. Derived impls, `String`, `Vec` and `bool` are never used on file input.
// ---------------------------------------------------------------------------------------------

/// How the toml crate hands a date-time to a visitor: a map with this one key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

const NOT_A_DOCUMENT: &str =
    "a secrets file holds a `secrets` table (in JSON, an object with a `secrets` object)";
const NOT_A_SECRETS_TABLE: &str =
    "`secrets` must be a table (in JSON, an object) of secrets by name";
const NOT_A_NAME: &str = "a secret name must be a string";
const NOT_A_SECRET: &str =
    "a secret must be a string (its value) or a table with `value` or `versions`";
const NOT_A_VALUE: &str = "a secret value must be a string; put it in quotes";
const NOT_A_VERSION_LIST: &str = "`versions` must be a list of tables, oldest first";
const NOT_A_VERSION_ENTRY: &str =
    "each entry of `versions` must be a table with `version` and `value`";
const NOT_A_VERSION: &str = "`version` must be a string of 32 hexadecimal digits, such as \"0123456789abcdef0123456789abcdef\"";
const NOT_A_CONTENT_TYPE: &str = "`content-type` must be a string, such as \"text/plain\"";
const NOT_A_FLAG: &str = "`enabled` must be true or false";
const NOT_A_DATE: &str = "a date must have a time and an offset: a TOML date-time such as 2027-01-01T00:00:00Z, or an RFC 3339 string such as \"2027-01-01T00:00:00Z\"";

const SECRET_FIELDS: &[&str] = &[
    "value",
    "versions",
    "version",
    "content-type",
    "enabled",
    "not-before",
    "expires",
    "created",
    "updated",
];
const VERSION_FIELDS: &[&str] = &[
    "value",
    "version",
    "content-type",
    "enabled",
    "not-before",
    "expires",
    "created",
    "updated",
];

/// Implements the listed groups of `Visitor` methods as refusals with a fixed message, which
/// never repeats the refused input.
macro_rules! refuse {
    ($msg:expr => $($group:ident),+ $(,)?) => {
        $( refuse!(@$group $msg); )+
    };
    (@bool $msg:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
    (@numbers $msg:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
    (@str $msg:expr) => {
        // `visit_string`, `visit_borrowed_str` and `visit_char` all default to this one.
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
    (@bytes $msg:expr) => {
        fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
    (@unit $msg:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Err(E::custom($msg))
        }
    };
    (@wrappers $msg:expr) => {
        fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
            Err(de::Error::custom($msg))
        }
        fn visit_newtype_struct<D: Deserializer<'de>>(
            self,
            _: D,
        ) -> Result<Self::Value, D::Error> {
            Err(de::Error::custom($msg))
        }
        fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
    (@seq $msg:expr) => {
        fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
    (@map $msg:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
            Err(de::Error::custom($msg))
        }
    };
}

/// The whole file: `secrets` and nothing else.
struct Document(Store);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_DOCUMENT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut store = None;
        while let Some(field) = map.next_key_seed(FieldSeed(&["secrets"]))? {
            if field != "secrets" {
                return Err(de::Error::custom(NOT_A_DOCUMENT));
            }
            if store.is_some() {
                return Err(de::Error::duplicate_field(field));
            }
            store = Some(map.next_value_seed(SecretsSeed)?);
        }
        Ok(Document(store.unwrap_or_default()))
    }

    refuse!(NOT_A_DOCUMENT => bool, numbers, str, bytes, unit, wrappers, seq);
}

/// A field name, one of the given ones (or the key of a TOML date-time); anything else is an
/// error at the key's position. A refused field name is not quoted: a value typed where a key
/// belongs (`{"db": {"hunter2"}}` reads as a key) may be a secret.
struct FieldSeed(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldSeed {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        if v == TOML_DATETIME_KEY {
            return Ok(TOML_DATETIME_KEY);
        }
        self.0
            .iter()
            .find(|field| **field == v)
            .copied()
            .ok_or_else(|| {
                let expected: Vec<String> = self.0.iter().map(|f| format!("`{f}`")).collect();
                E::custom(format_args!(
                    "unknown field; expected one of {}",
                    expected.join(", ")
                ))
            })
    }

    refuse!("a field name must be a string" => bool, numbers, bytes, unit, wrappers, seq, map);
}

/// A field whose only valid input is a string. Any other input is refused with `EXPECTED`,
/// without being quoted; a TOML date-time arrives as a map, and is refused with the others.
trait TextField: Sized {
    const EXPECTED: &'static str;

    fn from_text<E: de::Error>(text: String) -> Result<Self, E>;
}

/// Reads a [`TextField`], taking ownership of the string where the deserializer gives one.
struct TextVisitor<T>(PhantomData<T>);

impl<'de, T: TextField> Visitor<'de> for TextVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTED)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_text(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        T::from_text(v)
    }

    refuse!(T::EXPECTED => bool, numbers, bytes, unit, wrappers, seq, map);
}

/// `Deserialize` for a [`TextField`], through [`TextVisitor`].
macro_rules! text_field {
    ($($ty:ident),+) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any(TextVisitor::<$ty>(PhantomData))
            }
        }
    )+};
}

/// The text of a TOML date-time, as the toml crate hands it over.
struct DatetimeText(String);

impl TextField for DatetimeText {
    const EXPECTED: &'static str = NOT_A_DATE;

    fn from_text<E: de::Error>(text: String) -> Result<Self, E> {
        Ok(Self(text))
    }
}

/// A secret value: a string only, moved into a [`SecretValue`] without another copy.
struct ValueField(SecretValue);

impl TextField for ValueField {
    const EXPECTED: &'static str = NOT_A_VALUE;

    fn from_text<E: de::Error>(text: String) -> Result<Self, E> {
        Ok(Self(SecretValue::new(text)))
    }
}

/// A `version` field.
struct VersionField(SecretVersion);

impl TextField for VersionField {
    const EXPECTED: &'static str = NOT_A_VERSION;

    fn from_text<E: de::Error>(text: String) -> Result<Self, E> {
        SecretVersion::new(&text).map(Self).map_err(|e| {
            E::custom(format_args!(
                "invalid `version`: {}; {NOT_A_VERSION}",
                version_problem(&e)
            ))
        })
    }
}

/// A `content-type` field.
struct ContentTypeField(String);

impl TextField for ContentTypeField {
    const EXPECTED: &'static str = NOT_A_CONTENT_TYPE;

    fn from_text<E: de::Error>(text: String) -> Result<Self, E> {
        Ok(Self(text))
    }
}

text_field!(DatetimeText, ValueField, VersionField, ContentTypeField);

/// The `secrets` table, read straight into a [`Store`].
struct SecretsSeed;

impl<'de> DeserializeSeed<'de> for SecretsSeed {
    type Value = Store;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Store, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SecretsSeed {
    type Value = Store;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_SECRETS_TABLE)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Store, A::Error> {
        let mut store = Store::default();
        while let Some(name) = map.next_key_seed(NameSeed { store: &store })? {
            for secret in map.next_value_seed(EntrySeed { name: &name })? {
                store.push(secret);
            }
        }
        Ok(store)
    }

    refuse!(NOT_A_SECRETS_TABLE => bool, numbers, str, bytes, unit, wrappers, seq);
}

/// A secret's name: valid, and not yet in `store` under any casing.
struct NameSeed<'a> {
    store: &'a Store,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = SecretName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<SecretName, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = SecretName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretName, E> {
        // The refused name is not quoted: what was typed as a name may be a misplaced value.
        let name = SecretName::new(v).map_err(|e| {
            E::custom(format_args!(
                "invalid secret name: {}; names are 1 to 127 letters, digits and '-'",
                name_problem(&e)
            ))
        })?;
        if self.store.contains(&name) {
            return Err(E::custom(format_args!(
                "secret `{name}` is defined twice, under names that differ only in case; names are case-insensitive, as in Key Vault, so keep one"
            )));
        }
        Ok(name)
    }

    refuse!(NOT_A_NAME => bool, numbers, bytes, unit, wrappers, seq, map);
}

/// One secret: the shorthand string or the full form; gives its versions, oldest first.
struct EntrySeed<'a> {
    name: &'a SecretName,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Vec<Secret>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Secret>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Vec<Secret>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_SECRET)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<Secret>, E> {
        self.visit_string(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Vec<Secret>, E> {
        let secret = Fields::default().into_secret(self.name.clone(), SecretValue::new(v));
        Ok(vec![secret])
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Secret>, A::Error> {
        let fields = Fields::read(map, Some(self.name))?;
        fields.into_secrets(self.name).map_err(de::Error::custom)
    }

    refuse!(NOT_A_SECRET => bool, numbers, bytes, unit, wrappers, seq);
}

/// The fields of a secret in full form, or of one entry of its `versions`.
#[derive(Default)]
struct Fields {
    value: Option<SecretValue>,
    versions: Option<Vec<Secret>>,
    version: Option<SecretVersion>,
    content_type: Option<String>,
    enabled: Option<bool>,
    not_before: Option<OffsetDateTime>,
    expires: Option<OffsetDateTime>,
    created: Option<OffsetDateTime>,
    updated: Option<OffsetDateTime>,
}

impl Fields {
    /// Reads a table's fields; `versions` is allowed only when `name` is given.
    fn read<'de, A: MapAccess<'de>>(
        mut map: A,
        name: Option<&SecretName>,
    ) -> Result<Self, A::Error> {
        fn put<T, E: de::Error>(
            slot: &mut Option<T>,
            value: T,
            field: &'static str,
        ) -> Result<(), E> {
            if slot.is_some() {
                return Err(E::duplicate_field(field));
            }
            *slot = Some(value);
            Ok(())
        }
        let mut fields = Self::default();
        let expected = if name.is_some() {
            SECRET_FIELDS
        } else {
            VERSION_FIELDS
        };
        while let Some(field) = map.next_key_seed(FieldSeed(expected))? {
            match (field, name) {
                ("value", _) => put(&mut fields.value, map.next_value::<ValueField>()?.0, field)?,
                ("versions", Some(name)) => {
                    let versions = map.next_value_seed(VersionsSeed { name })?;
                    put(&mut fields.versions, versions, field)?
                }
                ("version", _) => put(
                    &mut fields.version,
                    map.next_value::<VersionField>()?.0,
                    field,
                )?,
                ("content-type", _) => {
                    let content_type = map.next_value::<ContentTypeField>()?.0;
                    put(&mut fields.content_type, content_type, field)?
                }
                ("enabled", _) => {
                    put(&mut fields.enabled, map.next_value::<FlagField>()?.0, field)?
                }
                ("not-before", _) => put(
                    &mut fields.not_before,
                    map.next_value::<DateField>()?.0,
                    field,
                )?,
                ("expires", _) => {
                    put(&mut fields.expires, map.next_value::<DateField>()?.0, field)?
                }
                ("created", _) => {
                    put(&mut fields.created, map.next_value::<DateField>()?.0, field)?
                }
                ("updated", _) => {
                    put(&mut fields.updated, map.next_value::<DateField>()?.0, field)?
                }
                // A TOML date-time where a secret, or an entry of `versions`, belongs.
                (_, Some(_)) => return Err(de::Error::custom(NOT_A_SECRET)),
                (_, None) => return Err(de::Error::custom(NOT_A_VERSION_ENTRY)),
            }
        }
        Ok(fields)
    }

    /// The versions of a secret in full form, oldest first.
    fn into_secrets(mut self, name: &SecretName) -> std::result::Result<Vec<Secret>, String> {
        match (self.value.take(), self.versions.take()) {
            (Some(value), None) => Ok(vec![self.into_secret(name.clone(), value)]),
            (Some(_), Some(_)) => Err(format!(
                "secret `{name}` has both `value` and `versions`; keep `value` for one version, or `versions` for several"
            )),
            (None, None) => Err(format!(
                "secret `{name}` has neither `value` nor `versions`; give `value` for one version, or `versions` for several"
            )),
            (None, Some(versions)) => {
                let misplaced = [
                    ("version", self.version.is_some()),
                    ("content-type", self.content_type.is_some()),
                    ("enabled", self.enabled.is_some()),
                    ("not-before", self.not_before.is_some()),
                    ("expires", self.expires.is_some()),
                    ("created", self.created.is_some()),
                    ("updated", self.updated.is_some()),
                ];
                match misplaced.iter().find(|(_, given)| *given) {
                    Some((field, _)) => Err(format!(
                        "secret `{name}` has `versions`, so `{field}` belongs on each of its versions, not on the secret"
                    )),
                    None => Ok(versions),
                }
            }
        }
    }

    /// One version of `name` with `value` and these attributes.
    fn into_secret(self, name: SecretName, value: SecretValue) -> Secret {
        let mut properties = SecretProperties::new(name);
        properties.version = self.version;
        properties.content_type = self.content_type;
        properties.enabled = self.enabled.unwrap_or(true);
        properties.not_before = self.not_before;
        properties.expires = self.expires;
        properties.created = self.created;
        properties.updated = self.updated;
        Secret::new(value, properties)
    }
}

/// The `versions` list of a secret.
struct VersionsSeed<'a> {
    name: &'a SecretName,
}

impl<'de> DeserializeSeed<'de> for VersionsSeed<'_> {
    type Value = Vec<Secret>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Secret>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for VersionsSeed<'_> {
    type Value = Vec<Secret>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_VERSION_LIST)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Secret>, A::Error> {
        let mut versions: Vec<Secret> = Vec::new();
        let mut seen = HashSet::new();
        while let Some(secret) = seq.next_element_seed(VersionSeed {
            name: self.name,
            index: versions.len() + 1,
            seen: &seen,
        })? {
            seen.extend(secret.properties.version.clone());
            versions.push(secret);
        }
        if versions.is_empty() {
            return Err(de::Error::custom(format_args!(
                "secret `{}` has an empty `versions` list; give at least one version",
                self.name
            )));
        }
        Ok(versions)
    }

    refuse!(NOT_A_VERSION_LIST => bool, numbers, str, bytes, unit, wrappers, map);
}

/// Entry `index` (1-based) of a `versions` list, whose version id must not be in `seen`.
struct VersionSeed<'a> {
    name: &'a SecretName,
    index: usize,
    seen: &'a HashSet<SecretVersion>,
}

impl<'de> DeserializeSeed<'de> for VersionSeed<'_> {
    type Value = Secret;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Secret, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for VersionSeed<'_> {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_VERSION_ENTRY)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Secret, A::Error> {
        let (name, index) = (self.name, self.index);
        let mut fields = Fields::read(map, None)?;
        let Some(value) = fields.value.take() else {
            return Err(de::Error::custom(format_args!(
                "version {index} of secret `{name}` has no `value`"
            )));
        };
        match &fields.version {
            None => Err(de::Error::custom(format_args!(
                "version {index} of secret `{name}` has no `version`; give each entry of `versions` its own `version` of 32 hexadecimal digits, so that it can be pinned"
            ))),
            Some(version) if self.seen.contains(version) => Err(de::Error::custom(format_args!(
                "version {index} of secret `{name}` repeats version `{version}`; each version of a secret needs its own id"
            ))),
            Some(_) => Ok(fields.into_secret(name.clone(), value)),
        }
    }

    refuse!(NOT_A_VERSION_ENTRY => bool, numbers, str, bytes, unit, wrappers, seq);
}

/// The `enabled` field.
struct FlagField(bool);

impl<'de> Deserialize<'de> for FlagField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FlagVisitor)
    }
}

struct FlagVisitor;

impl<'de> Visitor<'de> for FlagVisitor {
    type Value = FlagField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_FLAG)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FlagField, E> {
        Ok(FlagField(v))
    }

    refuse!(NOT_A_FLAG => numbers, str, bytes, unit, wrappers, seq, map);
}

/// A date field: a TOML offset date-time or an RFC 3339 string.
struct DateField(OffsetDateTime);

impl<'de> Deserialize<'de> for DateField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DateVisitor)
    }
}

struct DateVisitor;

impl<'de> Visitor<'de> for DateVisitor {
    type Value = DateField;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_A_DATE)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DateField, E> {
        OffsetDateTime::parse(v, &Rfc3339)
            .map(DateField)
            .map_err(|_| E::custom(NOT_A_DATE))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DateField, A::Error> {
        // Only the toml crate's date-time map is a date; any other map is refused unread.
        let is_toml_datetime = map
            .next_key_seed(FieldSeed(&[]))
            .is_ok_and(|key| key == Some(TOML_DATETIME_KEY));
        if !is_toml_datetime {
            return Err(de::Error::custom(NOT_A_DATE));
        }
        let text = map.next_value::<DatetimeText>()?.0;
        text.parse::<toml::value::Datetime>()
            .ok()
            .and_then(|datetime| offset_date_time(&datetime))
            .map(DateField)
            .ok_or_else(|| de::Error::custom(NOT_A_DATE))
    }

    refuse!(NOT_A_DATE => bool, numbers, bytes, unit, wrappers, seq);
}

/// Why a secret name was refused, without quoting it (but the one offending character).
fn name_problem(e: &ReferenceError) -> String {
    match e.kind() {
        ReferenceErrorKind::BadCharacter { found, .. } => format!(
            "character '{}' at position {} is not allowed",
            found.escape_debug(),
            e.position()
        ),
        ReferenceErrorKind::NameTooLong { length } => {
            format!("it is {length} characters long, over the limit of {MAX_NAME_LEN}")
        }
        ReferenceErrorKind::Empty | ReferenceErrorKind::EmptyName => "it is empty".to_owned(),
        _ => e.to_string(),
    }
}

/// Why a version was refused, without quoting it.
fn version_problem(e: &ReferenceError) -> String {
    match e.kind() {
        ReferenceErrorKind::BadVersion { reason } => format!("it {reason}"),
        _ => e.to_string(),
    }
}

/// A TOML offset date-time as an [`OffsetDateTime`]; `None` for local dates and times.
fn offset_date_time(datetime: &toml::value::Datetime) -> Option<OffsetDateTime> {
    let (date, clock, offset) = (datetime.date?, datetime.time?, datetime.offset?);
    let date = time::Date::from_calendar_date(
        i32::from(date.year),
        time::Month::try_from(date.month).ok()?,
        date.day,
    )
    .ok()?;
    let clock = time::Time::from_hms_nano(
        clock.hour,
        clock.minute,
        clock.second.unwrap_or(0),
        clock.nanosecond.unwrap_or(0),
    )
    .ok()?;
    let offset = match offset {
        toml::value::Offset::Z => UtcOffset::UTC,
        toml::value::Offset::Custom { minutes } => {
            UtcOffset::from_whole_seconds(i32::from(minutes) * 60).ok()?
        }
    };
    Some(PrimitiveDateTime::new(date, clock).assume_offset(offset))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use time::macros::datetime;

    use super::*;
    use crate::conformance::{self, Seeded};
    use crate::error::rfc3339;

    const CANARY: &str = "CANARY-9f8e7d";
    /// Substrings of the canaries that no message may contain, whatever the formatting.
    const LEAKS: &[&str] = &[
        "CANARY",
        "9f8e7d",
        "1234567890123",
        "170141183460469231731687303715884105727",
        "340282366920938463463374607431768211455",
    ];

    const EXAMPLE_TOML: &str = r#"
[secrets]
db-password = "hunter2"                 # shorthand: one value

[secrets.tls-key]                        # full form
value = """
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
-----END PRIVATE KEY-----
"""
content-type = "application/x-pem-file"
enabled = true
not-before = 2026-01-01T00:00:00Z        # TOML datetime or RFC 3339 string
expires = "2027-01-01T00:00:00Z"
version = "0123456789abcdef0123456789abcdef"

[secrets.api-key]                        # several versions, the last one is the latest
versions = [
  { version = "00000000000000000000000000000001", value = "old" },
  { version = "00000000000000000000000000000002", value = "new", expires = 2027-01-01T00:00:00Z },
]
"#;

    const EXAMPLE_JSON: &str = r#"{
  "secrets": {
    "db-password": "hunter2",
    "tls-key": {
      "value": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
      "content-type": "application/x-pem-file",
      "enabled": true,
      "not-before": "2026-01-01T00:00:00Z",
      "expires": "2027-01-01T00:00:00Z",
      "version": "0123456789abcdef0123456789abcdef"
    },
    "api-key": {
      "versions": [
        { "version": "00000000000000000000000000000001", "value": "old" },
        { "version": "00000000000000000000000000000002", "value": "new", "expires": "2027-01-01T00:00:00Z" }
      ]
    }
  }
}"#;

    fn write(dir: &tempfile::TempDir, file_name: &str, contents: &str) -> PathBuf {
        let path = dir.path().join(file_name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn open(file_name: &str, contents: &str) -> (tempfile::TempDir, FileBackend) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, file_name, contents);
        let backend = FileBackend::open(path).unwrap_or_else(|e| panic!("{e}"));
        (dir, backend)
    }

    /// The error of opening `contents` as `file_name`, and the path it was written to.
    fn open_err(file_name: &str, contents: &str) -> (Error, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, file_name, contents);
        match FileBackend::open(&path) {
            Ok(backend) => panic!("{file_name} opened but should not have: {backend:?}"),
            Err(e) => (e, path),
        }
    }

    /// `field` and `reason` of an [`Error::InvalidConfig`].
    fn invalid_config(e: &Error) -> (&str, &str) {
        match e {
            Error::InvalidConfig { field, reason, .. } => (field, reason),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    fn name(s: &str) -> SecretName {
        SecretName::new(s).unwrap()
    }

    fn version(s: &str) -> SecretVersion {
        SecretVersion::new(s).unwrap()
    }

    async fn value(backend: &FileBackend, n: &str, v: Option<&str>) -> String {
        let v = v.map(version);
        let secret = backend.fetch(&name(n), v.as_ref()).await;
        secret
            .unwrap_or_else(|e| panic!("{e}"))
            .value
            .expose_secret()
            .to_owned()
    }

    /// The conformance fixtures as a `secrets` table, with versions numbered from 1, and the
    /// versions recorded. Single-version fixtures use the full form (the plain one the
    /// shorthand, without a version id); the others a `versions` list. Dates are TOML
    /// date-times when `toml_dates`, RFC 3339 strings otherwise.
    fn conformance_document(toml_dates: bool) -> (toml::Table, Seeded) {
        let date = |d: OffsetDateTime| {
            if toml_dates {
                toml::Value::Datetime(rfc3339(&d).parse().unwrap())
            } else {
                toml::Value::String(rfc3339(&d))
            }
        };
        let mut seeded = Seeded::new();
        let mut secrets = toml::Table::new();
        let mut counter = 0u64;
        for fixture in conformance::fixtures() {
            if fixture.name == conformance::PLAIN {
                let [only] = fixture.versions.as_slice() else {
                    panic!("the plain fixture has one version")
                };
                secrets.insert(fixture.name.into(), only.value.into());
                seeded.record(fixture.name, None);
                continue;
            }
            let mut versions = Vec::new();
            for fixture_version in &fixture.versions {
                counter += 1;
                let id = format!("{counter:032x}");
                seeded.record(fixture.name, Some(version(&id)));
                let attributes = &fixture_version.attributes;
                let mut table = toml::Table::new();
                table.insert("version".into(), id.into());
                table.insert("value".into(), fixture_version.value.into());
                if let Some(content_type) = &attributes.content_type {
                    table.insert("content-type".into(), content_type.as_str().into());
                }
                if !attributes.enabled {
                    table.insert("enabled".into(), false.into());
                }
                if let Some(not_before) = attributes.not_before {
                    table.insert("not-before".into(), date(not_before));
                }
                if let Some(expires) = attributes.expires {
                    table.insert("expires".into(), date(expires));
                }
                versions.push(toml::Value::Table(table));
            }
            let entry = match <[_; 1]>::try_from(versions) {
                Ok([single]) => single,
                Err(versions) => toml::Value::Table(
                    [("versions".to_owned(), versions.into())]
                        .into_iter()
                        .collect(),
                ),
            };
            secrets.insert(fixture.name.into(), entry);
        }
        let document = [("secrets".to_owned(), toml::Value::Table(secrets))]
            .into_iter()
            .collect();
        (document, seeded)
    }

    async fn run_conformance(backend: FileBackend, seeded: &Seeded) {
        conformance::run_all(&backend, seeded).await;
        let shared: Arc<dyn SecretBackend> = Arc::new(backend);
        conformance::run_all(&shared, seeded).await;
    }

    #[tokio::test]
    async fn passes_the_conformance_suite_from_toml() {
        let (document, seeded) = conformance_document(true);
        let text = toml::to_string(&document).unwrap();
        let (_dir, backend) = open("conformance.toml", &text);
        run_conformance(backend, &seeded).await;
    }

    #[tokio::test]
    async fn passes_the_conformance_suite_from_json() {
        let (document, seeded) = conformance_document(false);
        let text = serde_json::to_string_pretty(&document).unwrap();
        let (_dir, backend) = open("conformance.json", &text);
        run_conformance(backend, &seeded).await;
    }

    async fn check_example(backend: &FileBackend) {
        let password = backend.fetch(&name("DB-Password"), None).await.unwrap();
        assert_eq!(password.value.expose_secret(), "hunter2");
        assert_eq!(password.properties.name.as_str(), "db-password");
        assert_eq!(password.properties.version, None);
        assert!(password.properties.enabled);
        assert_eq!(password.properties.content_type, None);

        let pinned = "0123456789abcdef0123456789abcdef";
        let key = backend
            .fetch(&name("tls-key"), Some(&version(pinned)))
            .await
            .unwrap();
        assert_eq!(
            key.value.expose_secret(),
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
        );
        let properties = &key.properties;
        assert_eq!(properties.version, Some(version(pinned)));
        assert_eq!(
            properties.content_type.as_deref(),
            Some("application/x-pem-file")
        );
        assert_eq!(properties.not_before, Some(datetime!(2026-01-01 0:00 UTC)));
        assert_eq!(properties.expires, Some(datetime!(2027-01-01 0:00 UTC)));
        assert_eq!((properties.created, properties.updated), (None, None));

        let old = "00000000000000000000000000000001";
        let new = "00000000000000000000000000000002";
        assert_eq!(value(backend, "api-key", None).await, "new");
        assert_eq!(value(backend, "api-key", Some(old)).await, "old");
        assert_eq!(value(backend, "api-key", Some(new)).await, "new");
        let latest = backend.fetch(&name("api-key"), None).await.unwrap();
        assert_eq!(latest.properties.version, Some(version(new)));
        assert_eq!(
            latest.properties.expires,
            Some(datetime!(2027-01-01 0:00 UTC))
        );
        let first = backend
            .fetch(&name("api-key"), Some(&version(old)))
            .await
            .unwrap();
        assert_eq!(first.properties.expires, None);
        let missing = backend
            .fetch(&name("api-key"), Some(&version(pinned)))
            .await;
        assert!(
            matches!(missing, Err(Error::NotFound { .. })),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn reads_shorthand_full_form_and_versions_from_toml() {
        let (_dir, backend) = open("dev.toml", EXAMPLE_TOML);
        check_example(&backend).await;
    }

    #[tokio::test]
    async fn reads_the_same_shape_from_json() {
        let (_dir, backend) = open("dev.json", EXAMPLE_JSON);
        check_example(&backend).await;
    }

    #[tokio::test]
    async fn extensions_are_case_insensitive() {
        let (_dir, backend) = open("DEV.TOML", EXAMPLE_TOML);
        assert_eq!(value(&backend, "db-password", None).await, "hunter2");
    }

    #[tokio::test]
    async fn keeps_empty_and_multi_line_values_byte_for_byte() {
        let toml = concat!(
            "[secrets]\n",
            "empty = \"\"\n",
            "escaped = \"tab\\there\\nquote \\\" backslash \\\\ unicode \\u00e9\"\n",
            "literal = '''\n",
            "C:\\no\\escapes\\here\n",
            "  \"indented\" line\n",
            "'''\n",
            "[secrets.basic]\n",
            "value = \"\"\"\n",
            "first\n",
            "\tsecond \"quoted\"\n",
            "\"\"\"\n",
        );
        let (_dir, backend) = open("values.toml", toml);
        assert_eq!(value(&backend, "empty", None).await, "");
        assert_eq!(
            value(&backend, "escaped", None).await,
            "tab\there\nquote \" backslash \\ unicode é"
        );
        assert_eq!(
            value(&backend, "literal", None).await,
            "C:\\no\\escapes\\here\n  \"indented\" line\n"
        );
        assert_eq!(
            value(&backend, "basic", None).await,
            "first\n\tsecond \"quoted\"\n"
        );

        let json = r#"{"secrets": {"empty": {"value": ""}, "lines": "a\nb\r\n\tc \"d\""}}"#;
        let (_dir, backend) = open("values.json", json);
        assert_eq!(value(&backend, "empty", None).await, "");
        assert_eq!(value(&backend, "lines", None).await, "a\nb\r\n\tc \"d\"");
    }

    #[tokio::test]
    async fn reads_dates_flags_and_offsets() {
        let toml = r#"
[secrets.dated]
value = "v"
enabled = true
created = 2025-06-01T12:30:00+02:00
updated = "2025-06-02T08:00:00.5-01:30"
not-before = 2025-07-01 00:00:00Z
expires = 2030-01-01T00:00Z

[secrets.off]
value = "v"
enabled = false
"#;
        let (_dir, backend) = open("dates.toml", toml);
        let secret = backend.fetch(&name("dated"), None).await.unwrap();
        let properties = &secret.properties;
        assert!(properties.enabled);
        assert_eq!(properties.created, Some(datetime!(2025-06-01 12:30 +2)));
        assert_eq!(
            properties.updated,
            Some(datetime!(2025-06-02 08:00:00.5 -1:30))
        );
        assert_eq!(properties.not_before, Some(datetime!(2025-07-01 0:00 UTC)));
        assert_eq!(properties.expires, Some(datetime!(2030-01-01 0:00 UTC)));
        match backend.fetch(&name("off"), None).await {
            Err(Error::Disabled { name, location, .. }) => {
                assert_eq!(name, "off");
                assert_eq!(location, backend.location());
            }
            other => panic!("expected Disabled, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.toml");
        let e = FileBackend::open(&path).unwrap_err();
        let (field, reason) = invalid_config(&e);
        assert_eq!(field, format!("secrets file `{}`", path.display()));
        assert!(reason.contains("does not exist"), "{reason}");
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        let source = std::error::Error::source(&e).expect("the I/O error is kept");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("an io::Error");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    }

    #[test]
    fn a_directory_is_not_a_secrets_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dir.json");
        std::fs::create_dir(&path).unwrap();
        let e = FileBackend::open(&path).unwrap_err();
        let (field, _) = invalid_config(&e);
        assert!(field.contains(&path.display().to_string()), "{e}");
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn other_extensions_are_refused() {
        for file_name in ["secrets.yaml", "secrets", "secrets.toml.bak", ".toml"] {
            let dir = tempfile::tempdir().unwrap();
            let path = write(&dir, file_name, EXAMPLE_TOML);
            let e = FileBackend::open(&path).unwrap_err();
            let (field, reason) = invalid_config(&e);
            assert_eq!(field, format!("secrets file `{}`", path.display()));
            assert!(reason.contains(".toml or .json"), "{file_name}: {reason}");
        }
    }

    #[test]
    fn a_toml_syntax_error_names_the_path_line_and_column() {
        let text = "[secrets]\na = \"1\"\nb = \"2\"\nc = = \"3\"\n";
        let (e, path) = open_err("broken.toml", text);
        let (field, reason) = invalid_config(&e);
        assert_eq!(
            field,
            format!("secrets file `{}`, line 4, column 5", path.display())
        );
        assert!(
            reason.ends_with("; fix the file, then open or reload it"),
            "{reason}"
        );
        assert!(!reason.contains('\n'), "{reason}");

        let text = "[secrets]\n\n\nkey = \"unterminated\n";
        let (e, _) = open_err("broken.toml", text);
        let (field, reason) = invalid_config(&e);
        assert!(field.ends_with(", line 4, column 20"), "{field}");
        assert!(reason.contains("string"), "{reason}");
    }

    #[test]
    fn a_json_syntax_error_names_the_path_line_and_column() {
        let text =
            "{\n  \"secrets\": {\n    \"a\": \"1\",\n    \"b\": \"2\"\n    \"c\": \"3\"\n  }\n}\n";
        let (e, path) = open_err("broken.json", text);
        let (field, reason) = invalid_config(&e);
        assert_eq!(
            field,
            format!("secrets file `{}`, line 5, column 5", path.display())
        );
        assert!(reason.starts_with("expected `,` or `}`"), "{reason}");
        assert!(!reason.contains(" at line "), "{reason}");
    }

    #[test]
    fn a_file_that_is_not_utf8_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1.toml");
        std::fs::write(&path, b"[secrets]\nkey = \"caf\xe9\"\n").unwrap();
        let e = FileBackend::open(&path).unwrap_err();
        let (field, reason) = invalid_config(&e);
        assert!(field.ends_with(", line 2, column 11"), "{field}");
        assert!(reason.contains("UTF-8"), "{reason}");
    }

    #[test]
    fn an_empty_file_holds_no_secrets() {
        let (_dir, backend) = open("empty.toml", "");
        assert_eq!(format!("{backend:?}").matches("secrets: 0").count(), 1);
        let (_dir, backend) = open("empty.json", "{}");
        assert!(format!("{backend:?}").ends_with("secrets: 0 }"));
    }

    /// Opens every `(file name, contents)` and checks that the reason contains `expected`.
    fn assert_refused(cases: &[(&str, &str)], expected: &str) {
        for (file_name, contents) in cases {
            let (e, _) = open_err(file_name, contents);
            let (field, reason) = invalid_config(&e);
            assert!(
                field.contains(", line "),
                "{file_name} {contents:?}: {field}"
            );
            assert!(
                reason.contains(expected),
                "{file_name} {contents:?}: expected {expected:?} in: {reason}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert_refused(
            &[
                ("x.toml", "[secrets.a]\nvalue = \"v\"\nvalu = \"v\"\n"),
                (
                    "x.json",
                    r#"{"secrets": {"a": {"value": "v", "valu": "v"}}}"#,
                ),
            ],
            "unknown field; expected one of `value`, `versions`",
        );
        assert_refused(
            &[
                (
                    "x.toml",
                    "[secrets.a]\nversions = [{ value = \"v\", version = \"0123456789abcdef0123456789abcdef\", versions = [] }]\n",
                ),
                (
                    "x.json",
                    r#"{"secrets": {"a": {"versions": [{"value": "v", "versions": []}]}}}"#,
                ),
            ],
            "unknown field; expected one of `value`, `version`,",
        );
        assert_refused(
            &[
                ("x.toml", "a = \"v\"\n"),
                ("x.json", r#"{"secret": {"a": "v"}}"#),
            ],
            "expected one of `secrets`",
        );
        assert_refused(
            &[(
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "value": "w"}}}"#,
            )],
            "duplicate field `value`",
        );
    }

    #[test]
    fn an_unknown_field_is_reported_at_its_line() {
        let (e, _) = open_err(
            "x.toml",
            "[secrets.a]\nvalue = \"v\"\n\ncontent_type = \"text/plain\"\n",
        );
        let (field, _) = invalid_config(&e);
        assert!(field.ends_with(", line 4, column 1"), "{field}");
    }

    #[test]
    fn invalid_names_are_refused() {
        assert_refused(
            &[
                ("x.toml", "[secrets]\n\"db_password\" = \"v\"\n"),
                ("x.json", r#"{"secrets": {"db_password": "v"}}"#),
            ],
            "invalid secret name: character '_' at position 3 is not allowed",
        );
        assert_refused(
            &[
                ("x.toml", "[secrets]\n\"\" = \"v\"\n"),
                ("x.json", r#"{"secrets": {"": "v"}}"#),
            ],
            "invalid secret name: it is empty",
        );
        let long = "a".repeat(128);
        assert_refused(
            &[("x.toml", &format!("[secrets]\n{long} = \"v\"\n"))],
            "it is 128 characters long, over the limit of 127",
        );
        let (e, _) = open_err("x.toml", "[secrets]\n\"not valid\" = \"v\"\n");
        assert!(!e.to_string().contains("not valid"), "{e}");
    }

    #[test]
    fn invalid_versions_are_refused() {
        assert_refused(
            &[
                ("x.toml", "[secrets.a]\nvalue = \"v\"\nversion = \"0123\"\n"),
                (
                    "x.json",
                    r#"{"secrets": {"a": {"value": "v", "version": "0123"}}}"#,
                ),
            ],
            "invalid `version`: it does not have 32 digits",
        );
        assert_refused(
            &[(
                "x.toml",
                "[secrets.a]\nversions = [{ value = \"v\", version = \"0123456789abcdef0123456789abcdeg\" }]\n",
            )],
            "invalid `version`: it has a character that is not a hexadecimal digit",
        );
        assert_refused(
            &[("x.toml", "[secrets.a]\nvalue = \"v\"\nversion = 12\n")],
            "`version` must be a string of 32 hexadecimal digits",
        );
    }

    #[test]
    fn value_and_versions_together_are_refused() {
        let v1 = "00000000000000000000000000000001";
        assert_refused(
            &[
                (
                    "x.toml",
                    &format!(
                        "[secrets.a]\nvalue = \"v\"\nversions = [{{ version = \"{v1}\", value = \"w\" }}]\n"
                    ),
                ),
                (
                    "x.json",
                    &format!(
                        r#"{{"secrets": {{"a": {{"versions": [{{"version": "{v1}", "value": "w"}}], "value": "v"}}}}}}"#
                    ),
                ),
            ],
            "secret `a` has both `value` and `versions`",
        );
    }

    #[test]
    fn a_secret_needs_a_value_or_versions() {
        assert_refused(
            &[
                ("x.toml", "[secrets.a]\ncontent-type = \"text/plain\"\n"),
                ("x.json", r#"{"secrets": {"a": {}}}"#),
            ],
            "secret `a` has neither `value` nor `versions`",
        );
        assert_refused(
            &[("x.toml", "[secrets.a]\nversions = []\n")],
            "secret `a` has an empty `versions` list",
        );
        assert_refused(
            &[(
                "x.toml",
                "[secrets.a]\nversions = [{ version = \"00000000000000000000000000000001\" }]\n",
            )],
            "version 1 of secret `a` has no `value`",
        );
        assert_refused(
            &[(
                "x.json",
                r#"{"secrets": {"a": {"versions": [{"version": "00000000000000000000000000000001", "value": "1"}, {"value": "2"}]}}}"#,
            )],
            "version 2 of secret `a` has no `version`",
        );
        assert_refused(
            &[(
                "x.toml",
                "[secrets.a]\nenabled = false\nversions = [{ version = \"00000000000000000000000000000001\", value = \"1\" }]\n",
            )],
            "so `enabled` belongs on each of its versions",
        );
    }

    #[test]
    fn duplicate_versions_are_refused() {
        let toml = concat!(
            "[secrets.a]\n",
            "versions = [\n",
            "  { version = \"0123456789abcdef0123456789abcdef\", value = \"1\" },\n",
            "  { version = \"0123456789ABCDEF0123456789ABCDEF\", value = \"2\" },\n",
            "]\n",
        );
        let (e, _) = open_err("x.toml", toml);
        let (field, reason) = invalid_config(&e);
        assert!(field.ends_with(", line 4, column 3"), "{field}");
        assert!(
            reason.contains("version 2 of secret `a` repeats version"),
            "{reason}"
        );
        let json = r#"{"secrets": {"a": {"versions": [
            {"version": "00000000000000000000000000000001", "value": "1"},
            {"version": "00000000000000000000000000000001", "value": "2"}]}}}"#;
        assert_refused(&[("x.json", json)], "repeats version");
    }

    #[test]
    fn names_that_differ_only_in_case_are_refused() {
        assert_refused(
            &[
                (
                    "x.toml",
                    "[secrets]\nDb-Password = \"1\"\ndb-password = \"2\"\n",
                ),
                (
                    "x.toml",
                    "[secrets]\ndb-password = \"1\"\n[secrets.DB-PASSWORD]\nvalue = \"2\"\n",
                ),
                (
                    "x.json",
                    r#"{"secrets": {"db-password": "1", "DB-password": {"value": "2"}}}"#,
                ),
            ],
            "differ only in case",
        );
    }

    #[test]
    fn dates_need_a_time_and_an_offset() {
        assert_refused(
            &[
                (
                    "x.toml",
                    "[secrets.a]\nvalue = \"v\"\nexpires = 2027-01-01T00:00:00\n",
                ),
                (
                    "x.toml",
                    "[secrets.a]\nvalue = \"v\"\nexpires = 2027-01-01\n",
                ),
                ("x.toml", "[secrets.a]\nvalue = \"v\"\nexpires = 10:00:00\n"),
                (
                    "x.toml",
                    "[secrets.a]\nvalue = \"v\"\nexpires = \"2027-01-01\"\n",
                ),
                (
                    "x.toml",
                    "[secrets.a]\nvalue = \"v\"\nexpires = 1798761600\n",
                ),
                (
                    "x.json",
                    r#"{"secrets": {"a": {"value": "v", "expires": "yesterday"}}}"#,
                ),
                (
                    "x.json",
                    r#"{"secrets": {"a": {"value": "v", "expires": {"$__toml_private_datetime": 1}}}}"#,
                ),
            ],
            "a date must have a time and an offset",
        );
    }

    #[test]
    fn malformed_files_never_echo_values() {
        let cases: &[(&str, &str)] = &[
            // TOML, shorthand.
            ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\n"),
            ("x.toml", "[secrets]\ndb = 'CANARY-9f8e7d\n"),
            ("x.toml", "[secrets]\ndb = \"\"\"CANARY-9f8e7d\n"),
            ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\\q\"\n"),
            ("x.toml", "[secrets]\ndb = CANARY-9f8e7d\n"),
            ("x.toml", "[secrets]\ndb = [\"CANARY-9f8e7d\"]\n"),
            ("x.toml", "[secrets]\ndb = 1234567890123\n"),
            ("x.toml", "[secrets]\ndb = -1234567890123\n"),
            ("x.toml", "[secrets]\ndb = 1234567890123.5\n"),
            (
                "x.toml",
                "[secrets]\ndb = 170141183460469231731687303715884105727\n",
            ),
            (
                "x.toml",
                "[secrets]\ndb = 340282366920938463463374607431768211455\n",
            ),
            (
                "x.toml",
                "[secrets]\ndb = 1234567890123456789012345678901234567890123\n",
            ),
            ("x.toml", "[secrets]\ndb = true # CANARY-9f8e7d\n"),
            (
                "x.toml",
                "[secrets]\ndb = 2026-01-01T00:00:00Z # CANARY-9f8e7d\n",
            ),
            (
                "x.toml",
                "[secrets]\ndb = \"CANARY-9f8e7d\"\ndb = \"CANARY-9f8e7d\"\n",
            ),
            ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\" extra\n"),
            ("x.toml", "secrets = \"CANARY-9f8e7d\"\n"),
            ("x.toml", "secrets = 1234567890123\n"),
            // TOML, full form.
            ("x.toml", "[secrets.db]\nvalue = \"CANARY-9f8e7d\n"),
            ("x.toml", "[secrets.db]\nvalue = 1234567890123\n"),
            (
                "x.toml",
                "[secrets.db]\nvalue = 170141183460469231731687303715884105727\n",
            ),
            ("x.toml", "[secrets.db]\nvalue = [\"CANARY-9f8e7d\"]\n"),
            (
                "x.toml",
                "[secrets.db]\nvalue = { inner = \"CANARY-9f8e7d\" }\n",
            ),
            ("x.toml", "[secrets.db]\nvalue = false # CANARY-9f8e7d\n"),
            (
                "x.toml",
                "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nenabled = \"CANARY-9f8e7d\"\n",
            ),
            (
                "x.toml",
                "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nexpires = \"CANARY-9f8e7d\"\n",
            ),
            (
                "x.toml",
                "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nversion = \"CANARY-9f8e7d\"\n",
            ),
            (
                "x.toml",
                "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\ncontent-type = 1234567890123\n",
            ),
            (
                "x.toml",
                "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nvalu = \"CANARY-9f8e7d\"\n",
            ),
            ("x.toml", "[secrets.db]\nversions = \"CANARY-9f8e7d\"\n"),
            ("x.toml", "[secrets.db]\nversions = [\"CANARY-9f8e7d\"]\n"),
            ("x.toml", "[secrets.db]\nversions = [[\"CANARY-9f8e7d\"]]\n"),
            (
                "x.toml",
                "[secrets.db]\nversions = [{ version = \"0123456789abcdef0123456789abcdef\", value = 1234567890123 }]\n",
            ),
            // JSON, document and shorthand.
            ("x.json", "\"CANARY-9f8e7d\""),
            ("x.json", "[\"CANARY-9f8e7d\"]"),
            ("x.json", "1234567890123"),
            ("x.json", "{\"secrets\": \"CANARY-9f8e7d\"}"),
            ("x.json", "{\"secrets\": [\"CANARY-9f8e7d\"]}"),
            ("x.json", "{\"secrets\": {\"db\": \"CANARY-9f8e7d}}"),
            ("x.json", "{\"secrets\": {\"db\": \"CANARY-9f8e7d\\q\"}}"),
            ("x.json", "{\"secrets\": {\"db\": CANARY-9f8e7d}}"),
            ("x.json", "{\"secrets\": {\"db\": 1234567890123}}"),
            ("x.json", "{\"secrets\": {\"db\": -1234567890123}}"),
            ("x.json", "{\"secrets\": {\"db\": 1234567890123.5}}"),
            (
                "x.json",
                "{\"secrets\": {\"db\": 1234567890123456789012345678901234567890}}",
            ),
            ("x.json", "{\"secrets\": {\"db\": [\"CANARY-9f8e7d\"]}}"),
            (
                "x.json",
                "{\"secrets\": {\"db\": true}, \"x\": \"CANARY-9f8e7d\"}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": null}, \"x\": \"CANARY-9f8e7d\"}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": \"CANARY-9f8e7d\"}} \"CANARY-9f8e7d\"",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": \"CANARY-9f8e7d\", \"DB\": \"CANARY-9f8e7d\"}}",
            ),
            // JSON, full form.
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": 1234567890123}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": 1234567890123.5}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": [\"CANARY-9f8e7d\"]}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": {\"x\": \"CANARY-9f8e7d\"}}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": true, \"x\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"enabled\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"expires\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"version\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"content-type\": 1234567890123}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"value\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"versions\": \"CANARY-9f8e7d\"}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"versions\": [\"CANARY-9f8e7d\"]}}}",
            ),
            (
                "x.json",
                "{\"secrets\": {\"db\": {\"versions\": [{\"value\": 1234567890123}]}}}",
            ),
        ];
        for (file_name, contents) in cases {
            let (e, _) = open_err(file_name, contents);
            invalid_config(&e);
            let mut texts = vec![e.to_string(), format!("{e:?}")];
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                texts.extend([cause.to_string(), format!("{cause:?}")]);
                source = cause.source();
            }
            for text in &texts {
                for leak in LEAKS {
                    assert!(
                        !text.contains(leak),
                        "{file_name} {contents:?}: `{leak}` leaked into: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn values_typed_where_keys_belong_are_not_echoed() {
        for (file_name, contents) in [
            ("x.json", r#"{"secrets": {"db": {"CANARY-9f8e7d"}}}"#),
            ("x.json", r#"{"CANARY-9f8e7d"}"#),
            ("x.json", r#"{"secrets": {"db": {"value: CANARY-9f8e7d"}}}"#),
            ("x.toml", "[secrets.db]\n\"CANARY-9f8e7d\" = 1\n"),
            ("x.toml", "[secrets.db]\nCANARY-9f8e7d\n"),
            ("x.toml", "CANARY-9f8e7d = 1\n"),
        ] {
            let (e, _) = open_err(file_name, contents);
            let texts = [e.to_string(), format!("{e:?}")];
            for text in texts {
                assert!(!text.contains("CANARY"), "{contents:?}: leaked into {text}");
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Random damage to a valid file never makes an error quote the secret value: the
        /// parsers' messages are only ever about positions and expected shapes.
        #[test]
        fn damaged_files_never_echo_the_value(
            json in proptest::bool::ANY,
            edits in proptest::collection::vec((proptest::bool::ANY, 0usize..20, 0usize..15), 1..4),
        ) {
            // Underscores make the canary invalid as a secret name, so it cannot become one.
            const VALUE: &str = "CANARY_9f8e7d";
            let mut text = if json {
                format!(r#"{{"secrets": {{"db": "{VALUE}", "tls": {{"value": "{VALUE}", "enabled": true}}}}}}"#)
            } else {
                format!("[secrets]\ndb = \"{VALUE}\"\n[secrets.tls]\nvalue = \"{VALUE}\"\nenabled = true\n")
            }
            .into_bytes();
            // Damage lands around one of the two values, where it can move a value into
            // another role (a key, a bare word, a table).
            let starts: Vec<usize> = {
                let t = String::from_utf8_lossy(&text).into_owned();
                t.match_indices(VALUE).map(|(i, _)| i).collect()
            };
            for (second, offset, what) in edits {
                let at = (starts[usize::from(second)] + offset).saturating_sub(4).min(text.len());
                match what {
                    0 if at < text.len() => { text.remove(at); }
                    1 if at < text.len() => { let c = text[at]; text.insert(at, c); }
                    n => text.insert(at, b"{}[]\":=,\n' #x"[n - 2]),
                }
            }
            let Ok(text) = String::from_utf8(text) else { return Ok(()) };
            let result = if json { parse_json(&text) } else { parse_toml(&text) };
            if let Err(malformed) = result {
                proptest::prop_assert!(
                    !malformed.message.contains("CANARY"),
                    "{text:?} gave {:?}", malformed.message
                );
            }
        }
    }

    #[test]
    fn debug_shows_only_the_path_and_the_count() {
        let toml = format!("[secrets]\na = \"{CANARY}\"\n[secrets.b]\nvalue = \"{CANARY}\"\n");
        let (_dir, backend) = open("debug.toml", &toml);
        let debug = format!("{backend:?}");
        assert_eq!(
            debug,
            format!("FileBackend {{ path: {:?}, secrets: 2 }}", backend.path())
        );
        assert!(!debug.contains(CANARY));
        let pretty = format!("{backend:#?}");
        assert!(!pretty.contains(CANARY));
    }

    #[tokio::test]
    async fn location_and_path_name_the_file() {
        let (dir, backend) = open("loc.json", r#"{"secrets": {}}"#);
        let path = dir.path().join("loc.json");
        assert_eq!(backend.path(), path);
        assert_eq!(backend.location(), format!("file {}", path.display()));
        assert_eq!(backend.vault_host(), None);
        match backend.fetch(&name("absent"), None).await {
            Err(e @ Error::NotFound { .. }) => {
                assert!(e.to_string().contains(&path.display().to_string()), "{e}")
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn reload_picks_up_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
        let backend = FileBackend::open(&path).unwrap();
        assert_eq!(value(&backend, "a", None).await, "one");
        write(&dir, "dev.toml", "[secrets]\na = \"two\"\nb = \"new\"\n");
        assert_eq!(value(&backend, "a", None).await, "one", "not before reload");
        backend.reload().unwrap();
        assert_eq!(value(&backend, "a", None).await, "two");
        assert_eq!(value(&backend, "b", None).await, "new");
        write(&dir, "dev.toml", "[secrets]\nb = \"newer\"\n");
        backend.reload().unwrap();
        assert!(matches!(
            backend.fetch(&name("a"), None).await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_old_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "dev.json", r#"{"secrets": {"a": "one"}}"#);
        let backend = FileBackend::open(&path).unwrap();
        write(&dir, "dev.json", r#"{"secrets": {"a": "two", }}"#);
        let e = backend.reload().unwrap_err();
        let (field, _) = invalid_config(&e);
        assert!(field.contains(", line 1, column "), "{field}");
        assert_eq!(value(&backend, "a", None).await, "one");
        std::fs::remove_file(&path).unwrap();
        let e = backend.reload().unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        assert_eq!(value(&backend, "a", None).await, "one");
    }

    #[tokio::test]
    async fn check_reports_a_vanished_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
        let backend = FileBackend::open(&path).unwrap();
        backend.check().await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let e = backend.check().await.unwrap_err();
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert!(e.is_temporary());
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(std::error::Error::source(&e).is_some());
        assert_eq!(value(&backend, "a", None).await, "one", "still served");
        write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
        backend.check().await.unwrap();
    }
}
