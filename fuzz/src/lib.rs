//! What must hold for every input of secretscope's four text-reading entry points: no panic, an
//! answer within a bound, and no input quoted back. The fuzz targets (`fuzz_targets/`) check it
//! on libFuzzer's inputs; `tests/robustness.rs` includes this file and checks it on proptest's.
//!
//! Each check splices [`CANARY`] into its input at a place the input picks, then asserts that
//! the canary shows up in no error text: `Display`, `Debug`, and both of every `source()` below
//! it. Where the crate shows part of an input on purpose (a vault's own error code and the
//! first line of its message, a connection name, a path, a vault URL) the check says so, and
//! allows the canary there only.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use secretscope::azure::{AzureKeyVaultConfig, ClientSecretSource};
use secretscope::fuzzing::{self, CANARY, FileFormat, VaultAnswer};
use secretscope::{Error, SecretRef};

/// The longest any one input may take, far above what any takes: a breach is a hang in the
/// making. libFuzzer's `-timeout` catches real hangs.
const BOUND: Duration = Duration::from_secs(5);

/// Every text that may be printed about `error`: its message, its `Debug`, and both of every
/// cause below it.
pub fn error_texts(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut source = error.source();
    while let Some(cause) = source {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        source = cause.source();
    }
    texts
}

fn assert_not_quoted(what: &str, texts: &[String]) {
    for text in texts {
        assert!(
            !text.contains(CANARY),
            "{what} quoted its input back: {text}"
        );
    }
}

fn assert_bounded(what: &str, started: Instant) {
    let took = started.elapsed();
    assert!(took < BOUND, "{what} took {took:?}");
}

/// [`SecretRef::parse`] of `text` as it is, then with the canary at `at`: a reference that
/// parses writes itself in a form that parses back to it (bare and wrapped); a refusal quotes
/// nothing. (The canary is valid in no reference, so only `text` as it is can parse.)
pub fn reference(text: &str, at: usize) {
    round_trip(text);
    let input = fuzzing::splice(text, at);
    round_trip(&input);
}

fn round_trip(input: &str) {
    let started = Instant::now();
    let parsed = SecretRef::parse(input);
    assert_bounded("SecretRef::parse", started);
    match parsed {
        Ok(reference) => {
            let canonical = reference.to_string();
            let again = SecretRef::parse(&canonical)
                .unwrap_or_else(|e| panic!("{canonical:?}, written by {reference:?}: {e}"));
            assert_eq!(again, reference, "{canonical:?}");
            assert_eq!(again.to_string(), canonical, "the canonical form is stable");
            let wrapped = SecretRef::parse(&format!("{{{{ {canonical} }}}}"));
            assert_eq!(wrapped.as_ref(), Ok(&reference), "{canonical:?} wrapped");
        }
        Err(refusal) => {
            assert_not_quoted("SecretRef::parse", &error_texts(&refusal));
            assert_not_quoted(
                "SecretRef::parse",
                &error_texts(&Error::InvalidReference(refusal)),
            );
        }
    }
}

/// [`FileBackend::open`](secretscope::file::FileBackend::open) of a file holding `bytes` with
/// the canary at `at`: a refusal quotes nothing, and a backend's `Debug` shows no value.
pub fn secrets_file(bytes: &[u8], at: usize, format: FileFormat) {
    let input = fuzzing::splice_bytes(bytes, at);
    let started = Instant::now();
    let opened = fuzzing::open_secrets_file(&input, format);
    assert_bounded("FileBackend::open", started);
    match opened {
        Ok(backend) => assert_not_quoted("FileBackend's Debug", &[format!("{backend:?}")]),
        Err(refusal) => assert_not_quoted("FileBackend::open", &error_texts(&refusal)),
    }
}

/// An [`AzureKeyVaultConfig`] read from `text` (TOML or JSON) with the canary at `at`, then
/// turned into a backend as [`AzureKeyVaultConfig::builder`] and `build` do, over a transport
/// that refuses every request.
///
/// A refusal to read quotes nothing (for TOML, in its `message()`: the toml crate's `Display`
/// quotes the line, whatever the type read; for JSON, in its `Display` and `Debug`). A
/// config that reads shows the canary only where it shows a setting as written: its connection
/// `name`, a path, or the vault URL (whose faults are named by quoting it).
pub fn azure_config(text: &str, at: usize, format: FileFormat) {
    let input = fuzzing::splice(text, at);
    let started = Instant::now();
    let read = match format {
        FileFormat::Toml => {
            toml::from_str::<AzureKeyVaultConfig>(&input).map_err(|e| vec![e.message().to_owned()])
        }
        FileFormat::Json => serde_json::from_str::<AzureKeyVaultConfig>(&input)
            .map_err(|e| vec![e.to_string(), format!("{e:?}")]),
    };
    let mut config = match read {
        Ok(config) => config,
        Err(texts) => {
            assert_bounded("reading an AzureKeyVaultConfig", started);
            assert_not_quoted("reading an AzureKeyVaultConfig", &texts);
            return;
        }
    };
    let file = match &config.client_secret {
        Some(ClientSecretSource::File(path)) => Some(path.clone()),
        _ => None,
    };
    let shown = config.name.as_deref().is_some_and(|n| n.contains(CANARY))
        || config.vault_url.contains(CANARY)
        || config
            .extra_ca_files
            .iter()
            .chain(&file)
            .any(|p| p.to_string_lossy().contains(CANARY));
    // No file is read: a path such as /dev/zero or a FIFO would never end, and what a read
    // file holds is not this input.
    config.extra_ca_files.clear();
    if file.is_some() {
        config.client_secret = None;
    }
    let mut texts = vec![format!("{config:?}")];
    match config.builder() {
        Ok(builder) => match builder
            .with_http_client(fuzzing::offline_http_client())
            .build()
        {
            Ok(backend) => texts.push(format!("{backend:?}")),
            Err(refusal) => texts.extend(error_texts(&refusal)),
        },
        Err(refusal) => texts.extend(error_texts(&refusal)),
    }
    assert_bounded("building from an AzureKeyVaultConfig", started);
    if !shown {
        assert_not_quoted("an AzureKeyVaultConfig", &texts);
    }
}

/// Where the canary goes in a vault's answer.
#[derive(Debug, Clone, Copy)]
pub enum CanaryIn {
    /// Into the body, at this byte (modulo its length plus one).
    Body(usize),
    /// Into the value of the header at this index (modulo their number; into the body when there
    /// is none), at this byte.
    Header(usize, usize),
}

/// The error a fetch maps `answer` to, with the canary placed as `canary` says: the mapping
/// ends, and quotes nothing of the answer but what it shows on purpose.
///
/// Shown on purpose: the vault's error code, inner error code and the first line of its
/// message (`{"error":{"code":..,"message":..,"innererror":{"code":..}}}`), in the message and
/// everywhere else.
pub fn error_mapping(mut answer: VaultAnswer, canary: CanaryIn) {
    let in_header = match canary {
        CanaryIn::Header(index, at) if !answer.headers.is_empty() => {
            let index = index % answer.headers.len();
            let value = &mut answer.headers[index].1;
            *value = fuzzing::splice(value, at);
            Some(answer.headers[index].0.to_lowercase())
        }
        CanaryIn::Body(at) | CanaryIn::Header(_, at) => {
            answer.body = fuzzing::splice_bytes(&answer.body, at);
            None
        }
    };
    // A later header of the same name replaces the one holding the canary.
    if let Some(name) = &in_header {
        let last = answer
            .headers
            .iter()
            .rposition(|(n, _)| n.to_lowercase() == *name);
        if last.is_some_and(|i| !answer.headers[i].1.contains(CANARY)) {
            return;
        }
    }
    let started = Instant::now();
    let fetched = fuzzing::fetch_answered(&answer);
    assert_bounded("mapping a vault answer", started);
    let Err(error) = fetched else {
        return; // a 2xx holding a secret bundle: its value is the caller's
    };
    if in_header.is_none() && VaultSaid::read(&answer.body).shows_canary() {
        return;
    }
    assert_not_quoted("the mapped error", &error_texts(&error));
}

/// What the mapping reads of a Key Vault error body, read the same way (`src/azure/map.rs`):
/// a body whose shape differs is read as saying nothing.
#[derive(serde::Deserialize, Default)]
struct VaultSaid {
    error: Option<VaultError>,
}

#[derive(serde::Deserialize, Default)]
struct VaultError {
    code: Option<String>,
    message: Option<String>,
    innererror: Option<Box<VaultError>>,
}

impl VaultSaid {
    fn read(body: &[u8]) -> Self {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// Whether the canary is in what the mapping shows: the codes, and the message's first
    /// non-blank line.
    fn shows_canary(&self) -> bool {
        let Some(error) = &self.error else {
            return false;
        };
        let has = |text: &Option<String>| text.as_deref().is_some_and(|t| t.contains(CANARY));
        let first_line = error
            .message
            .as_deref()
            .and_then(|m| m.lines().find(|l| !l.trim().is_empty()))
            .unwrap_or_default();
        has(&error.code)
            || error.innererror.as_ref().is_some_and(|i| has(&i.code))
            || first_line.contains(CANARY)
    }
}
