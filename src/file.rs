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
//! # use std::{io::Write, os::unix::fs::OpenOptionsExt};
//! # let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
//! file.write_all(toml.as_bytes())?; // readable by its owner alone, or it is refused
//! let backend = FileBackend::open(&path)?;
//!
//! let password = backend.fetch(&SecretName::new("DB-PASSWORD")?, None).await?.secret;
//! assert_eq!(password.expose_secret(), "hunter2");
//!
//! let key = backend.fetch(&SecretName::new("tls-key")?, None).await?.secret;
//! assert!(key.expose_secret().starts_with("-----BEGIN PRIVATE KEY-----\n"));
//! assert_eq!(key.properties().content_type.as_deref(), Some("application/x-pem-file"));
//!
//! let api_key = SecretName::new("api-key")?;
//! let old = SecretVersion::new("00000000000000000000000000000001")?;
//! assert_eq!(backend.fetch(&api_key, None).await?.secret.expose_secret(), "new");
//! assert_eq!(backend.fetch(&api_key, Some(&old)).await?.secret.expose_secret(), "old");
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
//! # use std::{io::Write, os::unix::fs::OpenOptionsExt};
//! # let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
//! # file.write_all(json.as_bytes())?;
//! let backend = FileBackend::open(&path)?;
//! let api_key = backend.fetch(&SecretName::new("api-key")?, None).await?;
//! assert_eq!(api_key.secret.expose_secret(), "new");
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Errors
//!
//! A file that cannot be read, that users other than its owner may read (on Unix; see
//! [`FileOptions`]), or whose extension is neither `.toml` nor `.json`, is
//! [`Error::InvalidConfig`] naming the path. A malformed file is [`Error::InvalidConfig`] whose
//! `field` names the path, line and column of the problem, such as
//! ``secrets file `/home/me/dev.toml`, line 4, column 9``, and whose `reason` starts with the
//! keys leading to it, such as ``` `secrets.db-password.expires`: ```.
//!
//! These messages never quote the file: a value in the wrong place (a number where a string
//! belongs, an unterminated string, a value typed where a key belongs) is reported by its
//! position and the keys leading to it, never by its content.

use std::fmt;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use parking_lot::{RwLock, RwLockReadGuard};
use secrecy::zeroize::Zeroizing;
use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::backend::{Fetched, SecretBackend};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::memory::Store;
use crate::no_echo::{self, Flag, Only, Refuse, SecretText, Shape, Text};
use crate::reference::{
    MAX_NAME_LEN, ReferenceError, ReferenceErrorKind, SecretName, SecretVersion,
};
use crate::text_format::Format;
use crate::value::{Secret, SecretProperties};

/// Secrets read from a local TOML or JSON file; see the [module documentation](self) for the
/// format.
///
/// `Debug` prints the path and the number of secrets, never a value.
pub struct FileBackend {
    path: PathBuf,
    location: Location,
    format: Format,
    options: FileOptions,
    store: RwLock<Store>,
}

/// How a [`FileBackend`] opens its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileOptions {
    allow_readable_by_others: bool,
}

impl FileOptions {
    /// Files readable by other users refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the file even when users other than its owner may read it (`false` by default,
    /// and then such a file is refused, saying so). For files other users must read anyway,
    /// such as a secret mounted into a container with a group mode.
    pub fn with_allow_readable_by_others(mut self, allow: bool) -> Self {
        self.allow_readable_by_others = allow;
        self
    }
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
    /// cannot be read (with the I/O error as its source), when other users can read it, or
    /// when it is malformed (naming the line and column).
    ///
    /// A file readable by users other than its owner is refused (on Unix): it holds secrets.
    /// [`open_with`](Self::open_with) and [`FileOptions`] can allow it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, FileOptions::new())
    }

    /// [`open`](Self::open), with `options`.
    ///
    /// # Errors
    ///
    /// Those of [`open`](Self::open).
    pub fn open_with(path: impl AsRef<Path>, options: FileOptions) -> Result<Self> {
        let given = path.as_ref();
        let path = std::path::absolute(given).unwrap_or_else(|_| given.to_path_buf());
        let format = format_of(&path)?;
        let store = load(&path, format, options)?;
        Ok(Self {
            location: Location::file(&path),
            path,
            format,
            options,
            store: RwLock::new(store),
        })
    }

    /// Reads the file again and serves its new contents.
    ///
    /// # Errors
    ///
    /// The errors of [`open`](Self::open); on any of them the previous contents stay in use.
    pub fn reload(&self) -> Result<()> {
        let store = load(&self.path, self.format, self.options)?;
        // Swap under the lock only once the new file parsed, so readers never see a half-load.
        *self.store.write() = store;
        Ok(())
    }

    /// The path of the file, made absolute when it was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read()
    }
}

impl FileBackend {
    /// The secret as the file last read holds it: what `fetch` and `fetch_now` both answer.
    fn lookup(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        self.read()
            .fetch(name, version, &self.location)
            .map(Into::into)
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
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        self.lookup(name, version)
    }

    #[inline]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        Some(self.lookup(name, version))
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

    fn location(&self) -> &Location {
        &self.location
    }
}

/// How the secrets file at `path` is written, or why that cannot be told.
fn format_of(path: &Path) -> Result<Format> {
    Format::of(path).ok_or_else(|| {
        Error::invalid_config(
            file_field(path),
            "the file name does not end in `.toml` or `.json`, which says how to read it; use a .toml or .json file",
        )
    })
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

/// Refuses a file that users other than its owner may read.
#[cfg(unix)]
fn refuse_shared(path: &Path, metadata: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o044 == 0 {
        return Ok(());
    }
    Err(Error::InvalidConfig {
        field: file_field(path),
        reason: format!(
            "the file holds secrets but other users can read it (mode {mode:o}); make it private with `chmod 600`, or allow it with `FileOptions::with_allow_readable_by_others`"
        ),
        source: None,
    })
}

#[cfg(not(unix))]
fn refuse_shared(_: &Path, _: &std::fs::Metadata) -> Result<()> {
    Ok(())
}

/// Where a parser stopped (1-based line and column, when known) and why, in words that never
/// quote the file.
struct Malformed {
    position: Option<(usize, usize)>,
    /// The keys leading to the problem (`secrets.db.expires`), empty when unknown.
    keys: String,
    message: String,
}

fn load(path: &Path, format: Format, options: FileOptions) -> Result<Store> {
    let unreadable = |e: std::io::Error| Error::InvalidConfig {
        field: file_field(path),
        reason: format!(
            "the file {}; create it, or give the path of an existing .toml or .json secrets file",
            io_problem(&e)
        ),
        source: Some(crate::ErrorSource::new(e)),
    };
    // The mode is read from the file opened, so it is the mode of the file read.
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let metadata = file.metadata().map_err(unreadable)?;
    // Anything but a regular file fails to read below, saying why.
    if !options.allow_readable_by_others && metadata.is_file() {
        refuse_shared(path, &metadata)?;
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(unreadable)?;
    // The text holds every secret in the file: wipe it once parsed, whatever the outcome.
    let text = crate::text_format::utf8(bytes).map_err(|position| {
        malformed(
            path,
            Malformed {
                position,
                keys: String::new(),
                message: "the file is not UTF-8 text".to_owned(),
            },
        )
    })?;
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
    let keys = match malformed.keys.as_str() {
        "" => String::new(),
        keys => format!("`{keys}`: "),
    };
    Error::invalid_config(
        field,
        format!(
            "{keys}{}; fix the file, then open or reload it",
            malformed.message
        ),
    )
}

fn parse_toml(text: &str) -> std::result::Result<Store, Malformed> {
    // Only spans and messages are kept of the toml crate's errors: their `Display` quotes the
    // offending line and their `Debug` may hold the whole file, either of which may hold a
    // secret.
    let at = |span: Option<std::ops::Range<usize>>| {
        span.map(|span| no_echo::line_column(text, span.start))
    };
    // Parsed apart from deserializing so the toml crate does not copy the whole file into the
    // error of a deserialization failure (it still does for a syntax error). Its syntax errors
    // are in the parser's own words, about the grammar.
    let document = toml::de::DeTable::parse(text).map_err(|e| Malformed {
        position: at(e.span()),
        keys: String::new(),
        message: e.message().trim_end().to_owned(),
    })?;
    read(toml::de::Deserializer::from(document)).map_err(|(e, keys)| Malformed {
        position: at(e.span()),
        keys,
        message: no_echo::sanitize(e.message().trim_end(), OWN_MESSAGES, DOCUMENT_FIELDS),
    })
}

fn parse_json(text: &str) -> std::result::Result<Store, Malformed> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let store = read(&mut deserializer).and_then(|store| {
        let end = deserializer.end(); // nothing but whitespace after the document
        end.map(|()| store).map_err(|e| (e, String::new()))
    });
    store.map_err(|(e, keys)| {
        // serde_json appends " at line L column C" to the message; keep the message alone.
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&suffix).unwrap_or(&message);
        Malformed {
            position: (e.line() > 0).then(|| (e.line(), e.column())),
            keys,
            // Syntax errors are serde_json's own fixed texts; the rest is ours or serde's.
            message: match e.classify() {
                serde_json::error::Category::Data => {
                    no_echo::sanitize(message, OWN_MESSAGES, DOCUMENT_FIELDS)
                }
                _ => message.to_owned(),
            },
        }
    })
}

/// Reads the document, or gives the error and the keys leading to it.
fn read<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Store, (D::Error, String)> {
    let mut track = serde_path_to_error::Track::new();
    let outcome = Only(DocumentShape).deserialize(serde_path_to_error::Deserializer::new(
        deserializer,
        &mut track,
    ));
    outcome.map_err(|e| (e, no_echo::path(&track.path(), shown_key)))
}

/// Whether a key on the way to an error may be named: `secrets`, a valid secret name in it,
/// and field names below. Any other key may be a value typed where a key belongs.
fn shown_key(index: usize, key: &str) -> bool {
    match index {
        0 => key == "secrets",
        1 => SecretName::new(key).is_ok(),
        _ => DOCUMENT_FIELDS.contains(&key),
    }
}

// ---------------------------------------------------------------------------------------------
// The document.
//
// Every place in the document is read through a `no_echo` shape, which refuses whatever does not
// belong there without quoting it. The derived structs give the field names and refuse unknown
// and repeated fields; they are only ever reached through a shape's table. What they report is
// made safe by `no_echo::sanitize`, which keeps the messages below whole (`OWN_MESSAGES`).
// ---------------------------------------------------------------------------------------------

/// How the toml crate hands a date-time to a visitor: a table with this one key.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

const NOT_A_DOCUMENT: &str =
    "a secrets file holds a `secrets` table (in JSON, an object with a `secrets` object)";
const NOT_A_SECRETS_TABLE: &str =
    "`secrets` must be a table (in JSON, an object) of secrets by name";
const NOT_A_NAME: &str = "a secret name must be a string";
const BAD_NAME: &str = "invalid secret name: ";
const NAME_TWICE: &str = "this secret is defined twice, under names that are the same or differ only in case; names are case-insensitive, as in Key Vault, so keep one";
const NOT_A_SECRET: &str =
    "a secret must be a string (its value) or a table with `value` or `versions`";
const BOTH: &str = "this secret has both `value` and `versions`; keep `value` for one version, or `versions` for several";
const NEITHER: &str = "this secret has neither `value` nor `versions`; give `value` for one version, or `versions` for several";
const MISPLACED: &str = "this secret has `versions`, so `";
const NOT_A_VALUE: &str = "a secret value must be a string; put it in quotes";
const NOT_A_VERSION_LIST: &str = "`versions` must be a list of tables, oldest first";
const NO_VERSIONS: &str = "`versions` is empty; give at least one version";
const NOT_A_VERSION_ENTRY: &str =
    "each entry of `versions` must be a table with `version` and `value`";
const NO_VALUE: &str = "this version has no `value`";
const NO_VERSION: &str = "this version has no `version`; give each entry of `versions` its own `version` of 32 hexadecimal digits, so that it can be pinned";
const VERSION_TWICE: &str = "this version repeats the `version` of an earlier one; each version of a secret needs its own id";
const NOT_A_VERSION: &str = "`version` must be a string of 32 hexadecimal digits, such as \"0123456789abcdef0123456789abcdef\"";
const BAD_VERSION: &str = "invalid `version`: ";
const NOT_A_CONTENT_TYPE: &str = "`content-type` must be a string, such as \"text/plain\"";
const NOT_A_FLAG: &str = "`enabled` must be true or false";
const NOT_A_DATE: &str = "a date must have a time and an offset: a TOML date-time such as 2027-01-01T00:00:00Z, or an RFC 3339 string such as \"2027-01-01T00:00:00Z\"";

/// How the messages written here begin: [`no_echo::sanitize`] keeps these whole.
const OWN_MESSAGES: &[&str] = &[
    NOT_A_DOCUMENT,
    NOT_A_SECRETS_TABLE,
    NOT_A_NAME,
    BAD_NAME,
    NAME_TWICE,
    NOT_A_SECRET,
    BOTH,
    NEITHER,
    MISPLACED,
    NOT_A_VALUE,
    NOT_A_VERSION_LIST,
    NO_VERSIONS,
    NOT_A_VERSION_ENTRY,
    NO_VALUE,
    NO_VERSION,
    VERSION_TWICE,
    NOT_A_VERSION,
    BAD_VERSION,
    NOT_A_CONTENT_TYPE,
    NOT_A_FLAG,
    NOT_A_DATE,
];

/// Every field name in the document.
const DOCUMENT_FIELDS: &[&str] = &[
    "secrets",
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

/// The whole file: `secrets` and nothing else.
struct DocumentShape;

impl Shape for DocumentShape {
    type Value = Store;

    fn expected(&self) -> &'static str {
        NOT_A_DOCUMENT
    }

    fn table<'de, A: MapAccess<'de>>(self, table: A) -> std::result::Result<Store, A::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Document {
            #[serde(default, deserialize_with = "secrets")]
            secrets: Option<Store>,
        }
        let document = Document::deserialize(MapAccessDeserializer::new(table))?;
        Ok(document.secrets.unwrap_or_default())
    }
}

/// The `secrets` table, read straight into a [`Store`].
struct SecretsShape;

impl Shape for SecretsShape {
    type Value = Store;

    fn expected(&self) -> &'static str {
        NOT_A_SECRETS_TABLE
    }

    fn table<'de, A: MapAccess<'de>>(self, mut table: A) -> std::result::Result<Store, A::Error> {
        let mut store = Store::default();
        while let Some(name) = table.next_key_seed(Only(NameShape))? {
            if store.contains(&name) {
                // Refused as its value is read, so the error points at the second definition.
                let never = table.next_value_seed(Only(Refuse(NAME_TWICE)))?;
                match never {}
            }
            for secret in table.next_value_seed(Only(EntryShape { name: &name }))? {
                store.push(secret);
            }
        }
        Ok(store)
    }
}

/// A secret's name. The refused name is not quoted: what was typed as a name may be a
/// misplaced value.
struct NameShape;

impl Shape for NameShape {
    type Value = SecretName;

    fn expected(&self) -> &'static str {
        NOT_A_NAME
    }

    fn text<E: de::Error>(self, text: Zeroizing<String>) -> std::result::Result<SecretName, E> {
        SecretName::new(&text).map_err(|e| {
            E::custom(format_args!(
                "{BAD_NAME}{}; names are 1 to 127 letters, digits and '-'",
                name_problem(&e)
            ))
        })
    }
}

/// One secret: the shorthand string or the full form; gives its versions, oldest first.
struct EntryShape<'a> {
    name: &'a SecretName,
}

impl Shape for EntryShape<'_> {
    type Value = Vec<Secret>;

    fn expected(&self) -> &'static str {
        NOT_A_SECRET
    }

    fn text<E: de::Error>(self, value: Zeroizing<String>) -> std::result::Result<Vec<Secret>, E> {
        let fields = VersionFields {
            value: Some(value),
            ..VersionFields::default()
        };
        Ok(vec![fields.into_secret(self.name.clone())])
    }

    fn table<'de, A: MapAccess<'de>>(self, table: A) -> std::result::Result<Vec<Secret>, A::Error> {
        let fields = SecretFields::deserialize(MapAccessDeserializer::new(table))?;
        fields.into_secrets(self.name).map_err(de::Error::custom)
    }
}

/// A secret in full form. Every field is optional here; [`into_secrets`](Self::into_secrets)
/// checks which go together.
///
/// It repeats [`VersionFields`] with `versions` added rather than `#[serde(flatten)]` it in:
/// serde refuses `deny_unknown_fields` together with `flatten`, and an unknown key must be an
/// error naming its path.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct SecretFields {
    #[serde(deserialize_with = "versions")]
    versions: Option<Vec<VersionFields>>,
    #[serde(deserialize_with = "value")]
    value: Option<Zeroizing<String>>,
    #[serde(deserialize_with = "version")]
    version: Option<SecretVersion>,
    #[serde(deserialize_with = "content_type")]
    content_type: Option<String>,
    #[serde(deserialize_with = "enabled")]
    enabled: Option<bool>,
    #[serde(deserialize_with = "date")]
    not_before: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    expires: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    created: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    updated: Option<OffsetDateTime>,
}

/// One version: a secret in full form without `versions`, or one entry of `versions`.
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
struct VersionFields {
    #[serde(deserialize_with = "value")]
    value: Option<Zeroizing<String>>,
    #[serde(deserialize_with = "version")]
    version: Option<SecretVersion>,
    #[serde(deserialize_with = "content_type")]
    content_type: Option<String>,
    #[serde(deserialize_with = "enabled")]
    enabled: Option<bool>,
    #[serde(deserialize_with = "date")]
    not_before: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    expires: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    created: Option<OffsetDateTime>,
    #[serde(deserialize_with = "date")]
    updated: Option<OffsetDateTime>,
}

impl SecretFields {
    /// The versions of secret `name`, oldest first.
    fn into_secrets(self, name: &SecretName) -> std::result::Result<Vec<Secret>, String> {
        let Self {
            versions,
            value,
            version,
            content_type,
            enabled,
            not_before,
            expires,
            created,
            updated,
        } = self;
        let given = [
            ("version", version.is_some()),
            ("content-type", content_type.is_some()),
            ("enabled", enabled.is_some()),
            ("not-before", not_before.is_some()),
            ("expires", expires.is_some()),
            ("created", created.is_some()),
            ("updated", updated.is_some()),
        ];
        let one = VersionFields {
            value,
            version,
            content_type,
            enabled,
            not_before,
            expires,
            created,
            updated,
        };
        match (one.value.is_some(), versions) {
            (true, None) => Ok(vec![one.into_secret(name.clone())]),
            (true, Some(_)) => Err(BOTH.to_owned()),
            (false, None) => Err(NEITHER.to_owned()),
            (false, Some(versions)) => match given.iter().find(|(_, given)| *given) {
                Some((field, _)) => Err(format!(
                    "{MISPLACED}{field}` belongs on each of its versions, not on the secret"
                )),
                None => Ok(versions
                    .into_iter()
                    .map(|version| version.into_secret(name.clone()))
                    .collect()),
            },
        }
    }
}

impl VersionFields {
    /// One version of `name` with these fields; the value is moved, never copied.
    fn into_secret(self, name: SecretName) -> Secret {
        let mut properties = SecretProperties::new(name);
        properties.version = self.version;
        properties.content_type = self.content_type;
        properties.enabled = self.enabled.unwrap_or(true);
        properties.not_before = self.not_before;
        properties.expires = self.expires;
        properties.created = self.created;
        properties.updated = self.updated;
        let mut value = self.value.unwrap_or_default();
        Secret::new(std::mem::take(&mut *value), properties)
    }
}

/// The `versions` list: at least one entry, each with its own `version`.
struct VersionsShape;

impl Shape for VersionsShape {
    type Value = Vec<VersionFields>;

    fn expected(&self) -> &'static str {
        NOT_A_VERSION_LIST
    }

    fn list<'de, A: SeqAccess<'de>>(
        self,
        mut list: A,
    ) -> std::result::Result<Vec<VersionFields>, A::Error> {
        let mut versions = Vec::new();
        while let Some(version) =
            list.next_element_seed(Only(VersionEntryShape { earlier: &versions }))?
        {
            versions.push(version);
        }
        if versions.is_empty() {
            return Err(de::Error::custom(NO_VERSIONS));
        }
        Ok(versions)
    }
}

/// One entry of `versions`, whose `version` must not be one of the `earlier` entries'.
struct VersionEntryShape<'a> {
    earlier: &'a [VersionFields],
}

impl Shape for VersionEntryShape<'_> {
    type Value = VersionFields;

    fn expected(&self) -> &'static str {
        NOT_A_VERSION_ENTRY
    }

    fn table<'de, A: MapAccess<'de>>(
        self,
        table: A,
    ) -> std::result::Result<VersionFields, A::Error> {
        let fields = VersionFields::deserialize(MapAccessDeserializer::new(table))?;
        let repeated = |version| {
            self.earlier
                .iter()
                .any(|e| e.version.as_ref() == Some(version))
        };
        match &fields.version {
            _ if fields.value.is_none() => Err(de::Error::custom(NO_VALUE)),
            None => Err(de::Error::custom(NO_VERSION)),
            Some(version) if repeated(version) => Err(de::Error::custom(VERSION_TWICE)),
            Some(_) => Ok(fields),
        }
    }
}

/// A `version` id.
struct VersionShape;

impl Shape for VersionShape {
    type Value = SecretVersion;

    fn expected(&self) -> &'static str {
        NOT_A_VERSION
    }

    fn text<E: de::Error>(self, text: Zeroizing<String>) -> std::result::Result<SecretVersion, E> {
        SecretVersion::new(&text).map_err(|e| {
            E::custom(format_args!(
                "{BAD_VERSION}{}; {NOT_A_VERSION}",
                version_problem(&e)
            ))
        })
    }
}

/// A date: a TOML offset date-time or an RFC 3339 string.
struct DateShape;

impl Shape for DateShape {
    type Value = OffsetDateTime;

    fn expected(&self) -> &'static str {
        NOT_A_DATE
    }

    fn text<E: de::Error>(self, text: Zeroizing<String>) -> std::result::Result<OffsetDateTime, E> {
        OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| E::custom(NOT_A_DATE))
    }

    fn table<'de, A: MapAccess<'de>>(
        self,
        mut table: A,
    ) -> std::result::Result<OffsetDateTime, A::Error> {
        // Only the toml crate's date-time table is a date; any other table is refused unread.
        let key = table.next_key_seed(Only(Text(NOT_A_DATE)))?;
        if key.as_deref() != Some(TOML_DATETIME_KEY) {
            return Err(de::Error::custom(NOT_A_DATE));
        }
        let text = table.next_value_seed(Only(SecretText(NOT_A_DATE)))?;
        text.parse::<toml::value::Datetime>()
            .ok()
            .and_then(|datetime| offset_date_time(&datetime))
            .ok_or_else(|| de::Error::custom(NOT_A_DATE))
    }
}

// How each field is read, for `deserialize_with`: always through a shape, and a JSON `null` is
// refused rather than taken as "absent".

fn secrets<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Store>, D::Error> {
    no_echo::some(SecretsShape, d)
}

fn versions<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<VersionFields>>, D::Error> {
    no_echo::some(VersionsShape, d)
}

fn value<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Zeroizing<String>>, D::Error> {
    no_echo::some(SecretText(NOT_A_VALUE), d)
}

fn version<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<SecretVersion>, D::Error> {
    no_echo::some(VersionShape, d)
}

fn content_type<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    no_echo::some(Text(NOT_A_CONTENT_TYPE), d)
}

fn enabled<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<bool>, D::Error> {
    no_echo::some(Flag(NOT_A_FLAG), d)
}

fn date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<OffsetDateTime>, D::Error> {
    no_echo::some(DateShape, d)
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
