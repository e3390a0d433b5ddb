//! Builds the inputs of the fuzz targets (`fuzz/`) and of the robustness property tests
//! (`tests/robustness.rs`). Cargo feature `fuzzing`; hidden, and not part of the public API.
//!
//! It holds no checks: what must hold for every input is written once, in `fuzz/src/lib.rs`,
//! which both use. Each entry point is reached the way a caller reaches it, so that what is
//! fuzzed is what runs (their parsing functions are private to their own modules):
//!
//! - the secrets-file loader through [`FileBackend::open`], on a scratch file holding the bytes
//!   ([`open_secrets_file`]), which also covers its refusal of text that is not UTF-8;
//! - the Key Vault error mapping through the Azure backend's `fetch`, over a transport that
//!   answers a given HTTP response ([`fetch_answered`]): the Azure SDK itself turns the response
//!   into its error, as it does for a real vault, before the mapping runs;
//! - the reference parser and the Azure configuration are public, and need only [`splice`] and,
//!   to build a backend without a network, [`offline_http_client`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode};

use crate::azure::AzureKeyVaultBuilder;
use crate::backend::{Fetched, SecretBackend};
use crate::error::Result;
use crate::file::FileBackend;
use crate::reference::SecretName;

/// A marker spliced into fuzzed inputs. It must never show up in an error: `^` and `|` make it
/// valid in no secret name, version, project id, host, GUID or variable name, so no message
/// may quote it as one of those, and no fixed message holds it.
pub const CANARY: &str = "Qx7^canary|Vw3zK9";

/// `text` with [`CANARY`] inserted at the character boundary at or before byte `at` (taken
/// modulo the length plus one, so that any number picks a place).
pub fn splice(text: &str, at: usize) -> String {
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    [&text[..at], CANARY, &text[at..]].concat()
}

/// `bytes` with [`CANARY`] inserted at byte `at` (modulo the length plus one).
pub fn splice_bytes(bytes: &[u8], at: usize) -> Vec<u8> {
    let at = at % (bytes.len() + 1);
    [&bytes[..at], CANARY.as_bytes(), &bytes[at..]].concat()
}

/// How a secrets file is written: the extension of the scratch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `.toml`
    Toml,
    /// `.json`
    Json,
}

/// Opens a secrets file holding exactly `bytes`, as [`FileBackend::open`] does.
///
/// The file is this thread's own scratch file in the temporary directory, readable by its owner
/// only, overwritten on each call, so that property tests may run in parallel.
///
/// # Panics
///
/// When the scratch file cannot be written.
pub fn open_secrets_file(bytes: &[u8], format: FileFormat) -> Result<FileBackend> {
    SCRATCH.with(|scratch| {
        let path = scratch.path(format);
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600); // as a secrets file must be
        std::io::Write::write_all(&mut file.open(&path).expect("a scratch file"), bytes)
            .expect("the scratch secrets file can be written");
        FileBackend::open(&path)
    })
}

/// A directory of this process's scratch files, one pair per thread, removed with the thread.
#[derive(Debug)]
struct Scratch {
    stem: PathBuf,
}

thread_local! {
    static SCRATCH: Scratch = Scratch::new();
}

impl Scratch {
    fn new() -> Self {
        static THREADS: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("secretscope-fuzzing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
        let thread = THREADS.fetch_add(1, Ordering::Relaxed);
        Self {
            stem: dir.join(format!("secrets-{thread}")),
        }
    }

    fn path(&self, format: FileFormat) -> PathBuf {
        self.stem.with_extension(match format {
            FileFormat::Toml => "toml",
            FileFormat::Json => "json",
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for format in [FileFormat::Toml, FileFormat::Json] {
            let _ = std::fs::remove_file(self.path(format));
        }
        if let Some(dir) = self.stem.parent() {
            let _ = std::fs::remove_dir(dir); // only once the last thread's files are gone
        }
    }
}

/// The vault the answered fetches go to.
pub const VAULT_URL: &str = "https://corp-vault.vault.azure.net";
/// The secret they ask for.
pub const SECRET_NAME: &str = "db-password";

/// One HTTP response of the vault.
#[derive(Debug, Clone, Default)]
pub struct VaultAnswer {
    /// The status: 100 to 999, as an HTTP client gives it; any other number is taken modulo 900
    /// from 100.
    pub status: u16,
    /// Header names and values, in order; a repeated name keeps its last value. As from the
    /// SDK's HTTP client, a name that is no HTTP token, or a value that is not visible ASCII, is
    /// dropped.
    pub headers: Vec<(String, String)>,
    /// The body, any bytes.
    pub body: Vec<u8>,
    /// Whether the vault first answers the authentication challenge (401 with
    /// `WWW-Authenticate`), as it does to a new client, so that this answer is the one to the
    /// request that carries a token.
    pub after_challenge: bool,
}

/// The challenge of the public cloud's Key Vault, and its body, as a real vault sends them.
const CHALLENGE: &str = r#"Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net""#;
const NO_TOKEN: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#;

/// Fetches the latest [`SECRET_NAME`] from a new backend whose vault answers `answer` to every
/// request (after the challenge, if asked), with no retries and a 5 s deadline.
///
/// # Panics
///
/// When the backend cannot be built (the settings are fixed and valid).
pub fn fetch_answered(answer: &VaultAnswer) -> Result<Fetched> {
    let transport = Arc::new(Answering {
        answer: answer.clone(),
        requests: AtomicUsize::new(0),
    });
    let backend = AzureKeyVaultBuilder::new()
        .with_vault_url(VAULT_URL)
        .with_credential(Arc::new(StaticToken))
        .with_http_client(transport)
        .with_max_retries(0)
        .with_deadline(Duration::from_secs(5))
        .build()
        .expect("fixed, valid settings");
    let name = SecretName::new(SECRET_NAME).expect("a valid name");
    RUNTIME.with(|runtime| runtime.block_on(backend.fetch(&name, None)))
}

thread_local! {
    /// A runtime per thread for [`fetch_answered`]: the backend needs Tokio's timers.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a Tokio runtime");
}

/// A transport that answers every vault request with one response. It gives up with an I/O
/// error after a few requests, so that no input can make a fetch loop.
#[derive(Debug)]
struct Answering {
    answer: VaultAnswer,
    requests: AtomicUsize,
}

#[async_trait]
impl HttpClient for Answering {
    async fn execute_request(&self, _request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let request = self.requests.fetch_add(1, Ordering::Relaxed);
        let mut headers = Headers::new();
        if request == 0 && self.answer.after_challenge {
            headers.insert("www-authenticate", CHALLENGE);
            return Ok(AsyncRawResponse::from_bytes(
                StatusCode::Unauthorized,
                headers,
                NO_TOKEN.as_bytes().to_vec(),
            ));
        }
        if request >= 8 {
            return Err(azure_core::Error::with_message(
                ErrorKind::Io,
                "the answering transport gives up after 8 requests",
            ));
        }
        // As the SDK's reqwest transport hands them over: names are HTTP tokens, lower-cased;
        // a value that is not visible ASCII is dropped; the status is 100 to 999.
        let token = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let visible = |value: &str| {
            value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        };
        for (name, value) in &self.answer.headers {
            if token(name) && visible(value) {
                headers.insert(
                    HeaderName::from(name.to_ascii_lowercase()),
                    HeaderValue::from(value.clone()),
                );
            }
        }
        let status = match self.answer.status {
            status @ 100..=999 => status,
            other => 100 + other % 900,
        };
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(status),
            headers,
            self.answer.body.clone(),
        ))
    }
}

/// A credential that hands out a fixed token, valid for an hour.
#[derive(Debug)]
struct StaticToken;

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            "fuzzing-token",
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// A transport that refuses every request: backends built from fuzzed configurations must not
/// reach a network, and building the default client (which loads the system's CA roots) would
/// make each input cost milliseconds.
pub fn offline_http_client() -> Arc<dyn HttpClient> {
    Arc::new(Offline)
}

#[derive(Debug)]
struct Offline;

#[async_trait]
impl HttpClient for Offline {
    async fn execute_request(&self, _request: &Request) -> azure_core::Result<AsyncRawResponse> {
        Err(azure_core::Error::with_message(
            ErrorKind::Connection,
            "no network while fuzzing",
        ))
    }
}
