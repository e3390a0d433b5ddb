//! One configuration file for a whole workspace: `secretscope.toml` (or `.json`).
//!
//! ```toml
//! scope = "project"                        # or "workspace"
//! state-file = "secretscope-state.json"    # where an applied switch is saved (optional)
//! known-references = ["project:billing/db-password"]
//!
//! [workspace.azure]                        # the workspace connection: a Key Vault...
//! name = "corp-vault"
//! vault-url = "https://corp-vault.vault.azure.net"
//! tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
//! client-id = "1b730954-1685-4b74-9bfd-dac224a7b894"
//! client-secret = { env = "CORP_VAULT_CLIENT_SECRET" }  # or { file = "/run/secrets/kv" }
//!
//! [projects.billing.file]                  # ...or a local secrets file, per project
//! name = "billing-dev"
//! path = "billing-secrets.toml"            # relative paths are from this file's folder
//!
//! [cache]
//! ttl-seconds = 300
//!
//! [budget]
//! rate-per-second = 100
//!
//! [validity]
//! allow-expired = false
//!
//! [audit]
//! file = "secretscope-audit.jsonl"        # one JSON record a line; `tracing` events without it
//! ```
//!
//! A connection is a table with one key saying what it is: `azure` (the settings of
//! [`AzureKeyVaultConfig`](crate::azure::AzureKeyVaultConfig)) or `file` (`name`, `path`,
//! `allow-readable-by-others`). Every section but `scope` is optional.
//!
//! # Environment variables
//!
//! A variable `SECRETSCOPE_<KEY>[__<KEY>...]` sets the key it names, over the file: `__`
//! separates keys, `_` stands for `-`, case does not matter (a project's ID is matched to the
//! file's). `true` and `false` are flags, digits are numbers, a JSON list (`["a", "b"]`) is a
//! list, anything else is a string.
//!
//! | variable | sets |
//! |---|---|
//! | `SECRETSCOPE_SCOPE=workspace` | `scope` |
//! | `SECRETSCOPE_CACHE__TTL_SECONDS=60` | `cache.ttl-seconds` |
//! | `SECRETSCOPE_WORKSPACE__AZURE__CLIENT_ID=...` | `workspace.azure.client-id` |
//! | `SECRETSCOPE_PROJECTS__BILLING__FILE__PATH=...` | `projects.billing.file.path` |
//!
//! `SECRETSCOPE_CONFIG` is not a key: [`WorkspaceManager::from_config_env`] reads the file it
//! names.
//!
//! # Errors
//!
//! Every error is an [`Error::InvalidConfig`] whose `field` names the file and the line and
//! column (or the variable) and whose `reason` names the key and what to do; none quotes a
//! value, as a value in the wrong place may be a secret.
//!
//! [`WorkspaceManager::from_config_env`]: crate::WorkspaceManager::from_config_env

mod read;

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess};

use crate::audit::JsonLinesAudit;
use crate::budget::BudgetOptions;
use crate::cache::CacheOptions;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::file::{FileBackend, FileOptions};
use crate::manager::WorkspaceManager;
use crate::no_echo::{self, Only, SecretText, Shape};
use crate::reference::{ProjectId, SecretRef};
use crate::scope::{PolicyState, ScopeMode, ScopePolicy};
use crate::validity::ValidityOptions;

pub use read::ENV_CONFIG;
use read::{Document, Step, Vocabulary};

/// A workspace's configuration, read from one file with [`from_file`](Self::from_file).
///
/// [`build`](Self::build) makes the [`WorkspaceManager`];
/// [`WorkspaceManager::from_config_file`] does both.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WorkspaceConfig {
    /// The scope mode, unless the state file holds one.
    pub scope: ScopeMode,
    /// Where the policy's state is saved when a switch is applied, and loaded from at start
    /// (it then overrides `scope`). Relative to the file's folder.
    pub state_file: Option<PathBuf>,
    /// References known to be in use, reported by switch plans.
    pub known_references: Vec<String>,
    /// The workspace connection.
    pub workspace: Option<ConnectionConfig>,
    /// Each project's connection, by project ID.
    pub projects: BTreeMap<String, ConnectionConfig>,
    /// The cache.
    pub cache: CacheSettings,
    /// The request budget.
    pub budget: BudgetSettings,
    /// Validity dates.
    pub validity: ValiditySettings,
    /// The audit trail.
    pub audit: AuditSettings,
    /// Where each connection was written, for errors found when it is built.
    origins: BTreeMap<String, String>,
    /// The file read.
    path: PathBuf,
}

/// The document as written, before paths are made absolute.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct Written {
    scope: ScopeMode,
    #[serde(default)]
    state_file: Option<PathBuf>,
    #[serde(default)]
    known_references: Vec<String>,
    #[serde(default)]
    workspace: Option<ConnectionConfig>,
    #[serde(default)]
    projects: BTreeMap<String, ConnectionConfig>,
    #[serde(default)]
    cache: CacheSettings,
    #[serde(default)]
    budget: BudgetSettings,
    #[serde(default)]
    validity: ValiditySettings,
    #[serde(default)]
    audit: AuditSettings,
}

/// One connection: a table with one key, `azure` or `file`.
#[derive(Clone)]
#[non_exhaustive]
pub enum ConnectionConfig {
    /// An Azure Key Vault (`[workspace.azure]`).
    #[cfg(feature = "azure")]
    Azure(Box<crate::azure::AzureKeyVaultConfig>),
    /// A local secrets file (`[workspace.file]`).
    File(FileConnectionConfig),
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "azure")]
            Self::Azure(config) => fmt::Debug::fmt(config, f),
            Self::File(config) => fmt::Debug::fmt(config, f),
        }
    }
}

/// A local secrets file as a connection (see [`FileBackend`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct FileConnectionConfig {
    /// The connection name; the file's name when not given.
    #[serde(default)]
    pub name: Option<String>,
    /// The secrets file, relative to the configuration file's folder.
    pub path: PathBuf,
    /// Accept a secrets file other users may read ([`FileOptions::with_allow_readable_by_others`]).
    #[serde(default)]
    pub allow_readable_by_others: bool,
}

/// `[cache]`: see [`CacheOptions`]; what is not given keeps its default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct CacheSettings {
    /// `false` turns the cache off.
    pub enabled: Option<bool>,
    /// How long a value is served without asking the backend again.
    pub ttl_seconds: Option<u64>,
    /// How many secrets each connection keeps at most.
    pub max_entries: Option<usize>,
    /// How long a not-found answer is kept.
    pub negative_ttl_seconds: Option<u64>,
    /// How long past its time to live a value may be served while the backend fails.
    pub stale_if_error_seconds: Option<u64>,
    /// How long before expiry a read refreshes an entry in the background.
    pub refresh_ahead_seconds: Option<u64>,
}

/// `[budget]`: see [`BudgetOptions`]; what is not given keeps its default.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct BudgetSettings {
    /// `false` turns the budget and the shared pause off.
    pub enabled: Option<bool>,
    /// Requests a second to each vault host, sustained.
    pub rate_per_second: Option<NonZeroU32>,
    /// Requests that may go at once.
    pub burst: Option<NonZeroU32>,
    /// Tokens background work leaves to resolves.
    pub reserve: Option<u32>,
    /// How long a fetch may wait for a token.
    pub max_wait_ms: Option<u64>,
    /// The first pause after a 429 without `Retry-After`.
    pub backoff_initial_ms: Option<u64>,
    /// The longest such pause.
    pub backoff_max_ms: Option<u64>,
    /// The longest pause, whatever the vault asks.
    pub max_pause_seconds: Option<u64>,
}

/// `[audit]`: where audit records go (see [`audit`](crate::audit)).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuditSettings {
    /// A file the records are appended to, one JSON object a line, relative to the
    /// configuration file's folder; without it, records are `tracing` events.
    pub file: Option<PathBuf>,
}

/// `[validity]`: see [`ValidityOptions`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ValiditySettings {
    /// Serve secrets past their expiry date.
    pub allow_expired: bool,
    /// Serve secrets before their not-before date.
    pub allow_not_yet_valid: bool,
}

const TOP_FIELDS: &[&str] = &[
    "scope",
    "state-file",
    "known-references",
    "workspace",
    "projects",
    "cache",
    "budget",
    "validity",
    "audit",
];
const SECTION_FIELDS: &[&str] = &[
    "azure",
    "file",
    "name",
    "path",
    "allow-readable-by-others",
    "enabled",
    "ttl-seconds",
    "max-entries",
    "negative-ttl-seconds",
    "stale-if-error-seconds",
    "refresh-ahead-seconds",
    "rate-per-second",
    "burst",
    "reserve",
    "max-wait-ms",
    "backoff-initial-ms",
    "backoff-max-ms",
    "max-pause-seconds",
    "allow-expired",
    "allow-not-yet-valid",
];
#[cfg(feature = "azure")]
const AZURE_FIELDS: &[&str] = &crate::azure::config::SETTINGS;
#[cfg(not(feature = "azure"))]
const AZURE_FIELDS: &[&str] = &[];
#[cfg(feature = "azure")]
const AZURE_MESSAGES: &[&str] = crate::azure::config::OWN_MESSAGES;
#[cfg(not(feature = "azure"))]
const AZURE_MESSAGES: &[&str] = &[];
#[cfg(feature = "azure")]
const AZURE_UNKNOWN_SETTING: &str = crate::azure::config::UNKNOWN_SETTING;
#[cfg(not(feature = "azure"))]
const AZURE_UNKNOWN_SETTING: &str = "unknown field";

const CONNECTION_SHAPE: &str = "a connection must be a table with one key saying what it is: `azure` (a Key Vault) or `file` (a local secrets file), such as [workspace.azure]";
#[cfg(not(feature = "azure"))]
const NO_AZURE: &str = "this connection is an Azure Key Vault, but secretscope was built without its `azure` feature; enable the feature";

const VOCABULARY: Vocabulary = Vocabulary {
    own_messages: &[&[CONNECTION_SHAPE], AZURE_MESSAGES],
    unknown_key_messages: &[AZURE_UNKNOWN_SETTING],
    fields: &[TOP_FIELDS, SECTION_FIELDS, AZURE_FIELDS],
    shown: shown_key,
};

/// Whether a key on the way to an error may be named: the settings' names, and a project ID
/// under `projects`. Any other key may be a value typed where a key belongs.
fn shown_key(index: usize, key: &str) -> bool {
    if index == 1 && ProjectId::new(key).is_ok() {
        return true;
    }
    [TOP_FIELDS, SECTION_FIELDS, AZURE_FIELDS]
        .iter()
        .any(|fields| fields.contains(&key))
}

impl<'de> Deserialize<'de> for ConnectionConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        no_echo::read(ConnectionShape, deserializer)
    }
}

/// A connection: a table with one key, `azure` or `file`, whose value is its settings.
struct ConnectionShape;

impl Shape for ConnectionShape {
    type Value = ConnectionConfig;

    fn expected(&self) -> &'static str {
        CONNECTION_SHAPE
    }

    fn table<'de, A: MapAccess<'de>>(
        self,
        mut table: A,
    ) -> std::result::Result<ConnectionConfig, A::Error> {
        let key = table.next_key_seed(Only(SecretText(CONNECTION_SHAPE)))?;
        let connection = match key.as_ref().map(|key| key.as_str()) {
            #[cfg(feature = "azure")]
            Some("azure") => ConnectionConfig::Azure(table.next_value()?),
            #[cfg(not(feature = "azure"))]
            Some("azure") => return Err(de::Error::custom(NO_AZURE)),
            Some("file") => ConnectionConfig::File(table.next_value()?),
            _ => return Err(de::Error::custom(CONNECTION_SHAPE)),
        };
        if table
            .next_key_seed(Only(SecretText(CONNECTION_SHAPE)))?
            .is_some()
        {
            return Err(de::Error::custom(CONNECTION_SHAPE));
        }
        Ok(connection)
    }
}

impl WorkspaceConfig {
    /// Reads the file at `path` (`.toml` or `.json`), with the process's `SECRETSCOPE_*`
    /// variables over it.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        // Only the `SECRETSCOPE_*` variables are copied: the others may hold secrets of their
        // own (`AZURE_CLIENT_SECRET`) that have no business in this process's heap twice.
        let variables = std::env::vars_os().filter_map(|(name, value)| {
            let name = name.into_string().ok()?;
            if !name.starts_with(read::ENV_PREFIX) {
                return None;
            }
            Some((name, value.into_string().ok()?))
        });
        Self::from_file_with_env(path, variables)
    }

    /// Reads the file at `path` with `variables` (name and value) in place of the process's
    /// environment: the `SECRETSCOPE_*` ones among them are laid over the file.
    pub fn from_file_with_env(
        path: impl AsRef<Path>,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let path = path.as_ref();
        let document = Document::open(path, variables)?;
        let raw: Written = document.read(&VOCABULARY)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for (index, reference) in raw.known_references.iter().enumerate() {
            if let Err(error) = SecretRef::parse(reference) {
                return Err(document.error(
                    &[Step::Key("known-references".into()), Step::Index(index)],
                    &format!("`known-references[{index}]` is not a valid reference: {error}"),
                ));
            }
        }
        let mut origins = BTreeMap::new();
        if let Some(workspace) = &raw.workspace {
            let steps = [
                Step::Key("workspace".into()),
                Step::Key(workspace.kind().into()),
            ];
            origins.insert("workspace".to_owned(), document.field(&steps));
        }
        for (id, connection) in &raw.projects {
            let steps = [Step::Key("projects".into()), Step::Key(id.clone())];
            if let Err(error) = ProjectId::new(id) {
                return Err(document.error(
                    &steps,
                    &format!("a key of `projects` is not a valid project ID: {error}"),
                ));
            }
            let steps = [
                steps[0].clone(),
                steps[1].clone(),
                Step::Key(connection.kind().into()),
            ];
            origins.insert(format!("projects.{id}"), document.field(&steps));
        }
        Ok(Self {
            scope: raw.scope,
            state_file: raw.state_file.map(|file| base.join(file)),
            known_references: raw.known_references,
            workspace: raw.workspace.map(|c| c.relative_to(base)),
            projects: raw
                .projects
                .into_iter()
                .map(|(id, c)| (id, c.relative_to(base)))
                .collect(),
            cache: raw.cache,
            budget: raw.budget,
            validity: raw.validity,
            audit: AuditSettings {
                file: raw.audit.file.map(|file| base.join(file)),
            },
            origins,
            path: path.to_owned(),
        })
    }

    /// The file this configuration was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved state, when `state-file` names a file that exists.
    pub fn load_state(&self) -> Result<Option<PolicyState>> {
        let Some(file) = &self.state_file else {
            return Ok(None);
        };
        let field = || format!("state file `{}`", file.display());
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::InvalidConfig {
                    field: field(),
                    reason: "the file cannot be read; check its permissions".to_owned(),
                    source: Some(crate::ErrorSource::new(e)),
                });
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::invalid_config(
                field(),
                format!(
                    "the saved state is not valid (line {}, column {}); save a fresh state with `secretscope apply-switch`, or delete the file to start from `scope`",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// Saves `state` to `state-file`, replacing the file in one step (a reader sees the old
    /// state or the new one). Does nothing when the configuration names no state file.
    pub fn save_state(&self, state: &PolicyState) -> Result<()> {
        let Some(file) = &self.state_file else {
            return Ok(());
        };
        let failed = |e: std::io::Error| Error::InvalidConfig {
            field: format!("state file `{}`", file.display()),
            reason:
                "the state cannot be written there; check the folder exists and its permissions"
                    .to_owned(),
            source: Some(crate::ErrorSource::new(e)),
        };
        let text = serde_json::to_string_pretty(state).expect("a state serialises");
        let mut temporary = file.clone().into_os_string();
        temporary.push(".tmp");
        std::fs::write(&temporary, text + "\n").map_err(failed)?;
        std::fs::rename(&temporary, file).map_err(failed)
    }

    /// The cache options these settings give.
    pub fn cache_options(&self) -> CacheOptions {
        let settings = &self.cache;
        if settings.enabled == Some(false) {
            return CacheOptions::disabled();
        }
        let mut options = CacheOptions::new();
        if let Some(ttl) = settings.ttl_seconds {
            options = options.with_ttl(Duration::from_secs(ttl));
        }
        if let Some(max) = settings.max_entries {
            options = options.with_max_entries(max);
        }
        if let Some(ttl) = settings.negative_ttl_seconds {
            options = options.with_negative_ttl(Duration::from_secs(ttl));
        }
        if let Some(window) = settings.stale_if_error_seconds {
            options = options.with_stale_if_error(Duration::from_secs(window));
        }
        if let Some(window) = settings.refresh_ahead_seconds {
            options = options.with_refresh_ahead(Duration::from_secs(window));
        }
        options
    }

    /// The budget options these settings give.
    pub fn budget_options(&self) -> BudgetOptions {
        let settings = &self.budget;
        if settings.enabled == Some(false) {
            return BudgetOptions::disabled();
        }
        let mut options = BudgetOptions::new();
        if let Some(rate) = settings.rate_per_second {
            options = options.with_rate(rate);
        }
        if let Some(burst) = settings.burst {
            options = options.with_burst(burst);
        }
        if let Some(reserve) = settings.reserve {
            options = options.with_reserve(reserve);
        }
        if let Some(wait) = settings.max_wait_ms {
            options = options.with_max_wait(Duration::from_millis(wait));
        }
        let (initial, max) = options.backoff_range();
        let initial = settings
            .backoff_initial_ms
            .map_or(initial, Duration::from_millis);
        let max = settings.backoff_max_ms.map_or(max, Duration::from_millis);
        options = options.with_backoff(initial, max);
        if let Some(pause) = settings.max_pause_seconds {
            options = options.with_max_pause(Duration::from_secs(pause));
        }
        options
    }

    /// The validity options these settings give.
    pub fn validity_options(&self) -> ValidityOptions {
        ValidityOptions::new()
            .with_allow_expired(self.validity.allow_expired)
            .with_allow_not_yet_valid(self.validity.allow_not_yet_valid)
    }

    /// The scope policy: the saved state (or `scope`), the connections and the known
    /// references. Connections are built here: an Azure connection reads its client secret
    /// and checks its settings, a file connection opens its file.
    pub fn policy(&self) -> Result<ScopePolicy> {
        let mut builder = match self.load_state()? {
            Some(state) => ScopePolicy::builder_from_state(state),
            None => ScopePolicy::builder(self.scope),
        };
        if let Some(workspace) = &self.workspace {
            builder = builder.with_workspace_connection(self.connect("workspace", workspace)?);
        }
        for (id, project) in &self.projects {
            builder = builder.with_project_connection(
                id.clone(),
                self.connect(&format!("projects.{id}"), project)?,
            );
        }
        for reference in &self.known_references {
            builder = builder.with_known_reference(reference.clone());
        }
        builder.build()
    }

    /// Builds the manager: [`policy`](Self::policy) with the cache, budget and validity
    /// settings.
    pub fn build(&self) -> Result<WorkspaceManager> {
        let mut builder = WorkspaceManager::builder(self.policy()?)
            .with_cache(self.cache_options())
            .with_budget(self.budget_options())
            .with_validity(self.validity_options());
        if let Some(file) = &self.audit.file {
            builder = builder.with_audit(std::sync::Arc::new(JsonLinesAudit::open(file)?));
        }
        Ok(builder.build())
    }

    /// Builds one connection; a configuration error names where it was written.
    fn connect(&self, key: &str, config: &ConnectionConfig) -> Result<Connection> {
        config.connection().map_err(|error| match error {
            Error::InvalidConfig {
                field,
                reason,
                source,
            } => Error::InvalidConfig {
                field: self
                    .origins
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| read::file_field(&self.path, None)),
                reason: format!("`{key}.{}`: {field}: {reason}", config.kind()),
                source,
            },
            other => other,
        })
    }
}

impl ConnectionConfig {
    /// What the connection is: `azure` or `file`.
    pub fn kind(&self) -> &'static str {
        match self {
            #[cfg(feature = "azure")]
            Self::Azure(_) => "azure",
            Self::File(_) => "file",
        }
    }

    /// Builds the connection.
    pub fn connection(&self) -> Result<Connection> {
        match self {
            #[cfg(feature = "azure")]
            Self::Azure(config) => config.connection(),
            Self::File(config) => {
                let backend = FileBackend::open_with(
                    &config.path,
                    FileOptions::new()
                        .with_allow_readable_by_others(config.allow_readable_by_others),
                )?;
                let name = match &config.name {
                    Some(name) => name.clone(),
                    None => config
                        .path
                        .file_stem()
                        .map(|stem| stem.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "secrets-file".to_owned()),
                };
                Ok(Connection::new(name, backend))
            }
        }
    }

    /// The same connection with its relative paths made relative to `base`.
    fn relative_to(self, base: &Path) -> Self {
        match self {
            #[cfg(feature = "azure")]
            Self::Azure(mut config) => {
                config.relative_to(base);
                Self::Azure(config)
            }
            Self::File(mut config) => {
                config.path = base.join(&config.path);
                Self::File(config)
            }
        }
    }
}
