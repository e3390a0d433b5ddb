//! Resolve secrets from an external secrets manager, with workspace-level or project-level
//! scoping.
//!
//! A service keeps *references* to secrets in its own configuration (`db-password`,
//! `project:billing/db-password`) and asks a [`SecretsManager`] for the values at run time.
//! Secrets management is set up either for the entire workspace (one connection every project
//! uses) or for each project (each its own connection); the [`ScopePolicy`] says which, and
//! references written for the other scope fail with [`Error::ScopeInvalidated`].
//!
//! # Resolving secrets
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use secretscope::memory::MemoryBackend;
//! use secretscope::prelude::*;
//! use secretscope::{Connection, Error, ScopeMode, ScopePolicy, WorkspaceManager};
//!
//! let billing = MemoryBackend::new();
//! billing.set("db-password", "billing-secret")?;
//! let policy = ScopePolicy::builder(ScopeMode::Project)
//!     .with_project_connection("billing", Connection::new("billing-vault", billing))
//!     .build()?;
//! let manager = WorkspaceManager::new(policy);
//!
//! let value = manager.resolve("{{ project:billing/db-password }}").await?;
//! assert_eq!(value.expose_secret(), "billing-secret");
//!
//! // Workspace-level references are invalid while the project scope is active.
//! let err = manager.resolve("db-password").await.unwrap_err();
//! assert!(matches!(err, Error::ScopeInvalidated { .. }));
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
//!
//! `resolve` and friends come from [`SecretsManagerExt`], built on the one method a manager
//! implements, [`SecretsManager::resolve_ref`]; `use secretscope::prelude::*` brings both in.
//! [`SecretsManagerExt::resolve_with_metadata`] also returns where the value came from: name,
//! version, content type, enabled flag and dates ([`SecretProperties`]), the connection, and
//! whether it came from the backend, the cache, or the cache past its time to live, and how
//! old it is.
//!
//! # How a resolve flows
//!
//! One way, through layers:
//!
//! ```text
//! resolve(&str) -> parse (a plain name in place; another text found parsed already)
//!   -> ScopePolicy routes it (the scope check, the connection, a Key Vault identifier's host)
//!   -> the connection's stack: validity dates -> cache -> request budget
//!      -> spans and metrics of each request -> backend
//!   -> the scope is confirmed unchanged -> Resolved
//! ```
//!
//! Each layer is a backend wrapping a backend, in a module of its own ([`validity`], [`cache`],
//! [`budget`], [`observe`]),
//! and passes the same behaviour suite as the backends. What a stack can answer without
//! waiting (a cache hit, a value in memory) it answers through
//! [`SecretBackend::fetch_now`], with no future and no allocation; the rest through
//! [`SecretBackend::fetch`]. A cache hit is answered without awaiting, allocating or locking
//! (its future is ready on the first poll), and writes no memory another core's readers write;
//! the cache has a time to live, a bound, single flight, refresh ahead, negative caching and
//! opt-in stale-if-error ([`CacheOptions`]), and [`WorkspaceManager::invalidate`],
//! [`invalidate_connection`](WorkspaceManager::invalidate_connection) and
//! [`clear`](WorkspaceManager::clear) control it.
//!
//! # Switching the scope
//!
//! A switch invalidates the references of the scope being left, so it is planned, its impact
//! shown, and applied only with an acknowledgement made from that plan.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use secretscope::memory::MemoryBackend;
//! use secretscope::prelude::*;
//! use secretscope::{Connection, Error, ScopeMode, ScopePolicy, WorkspaceManager};
//!
//! let workspace = MemoryBackend::new();
//! workspace.set("db-password", "workspace-secret")?;
//! let billing = MemoryBackend::new();
//! billing.set("db-password", "billing-secret")?;
//! let policy = ScopePolicy::builder(ScopeMode::Project)
//!     .with_workspace_connection(Connection::new("corp-vault", workspace))
//!     .with_project_connection("billing", Connection::new("billing-vault", billing))
//!     .with_known_reference("project:billing/db-password")
//!     .build()?;
//! let manager = WorkspaceManager::new(policy);
//!
//! let plan = manager.plan_switch(ScopeMode::Workspace).await; // a dry run
//! assert_eq!(plan.breaking().len(), 1);
//! println!("{plan}"); // the impact report, for a person
//!
//! // Refused without the acknowledgement; nothing changes.
//! assert!(matches!(
//!     manager.apply_switch(&plan, None),
//!     Err(Error::AcknowledgementRequired { .. })
//! ));
//!
//! let state = manager.apply_switch(&plan, Some(&plan.acknowledge("alice")))?;
//! assert_eq!(state.mode, ScopeMode::Workspace);
//! assert!(manager.resolve("project:billing/db-password").await.is_err());
//! assert_eq!(manager.resolve("db-password").await?.expose_secret(), "workspace-secret");
//! # Ok::<(), Error>(())
//! # }).unwrap();
//! ```
//!
//! # Connecting a vault
//!
//! A connection is one configured backend under one name. For Azure Key Vault, an
//! administrator's connection name, vault URL, tenant ID, client ID and client secret go
//! through [`azure::AzureKeyVaultBuilder`], which checks every field before any request;
//! [`Connection::check`] then says plainly whether it works and, if not, what to fix (a wrong
//! secret, the missing *Key Vault Secrets User* role or *Get* permission, a wrong URL...).
//!
//! ```no_run
//! # async fn run() -> secretscope::Result<()> {
//! use secretscope::Connection;
//! use secretscope::azure::AzureKeyVaultBuilder;
//!
//! let vault = AzureKeyVaultBuilder::new()
//!     .with_vault_url("https://corp-vault.vault.azure.net")
//!     .with_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47")
//!     .with_client_id("1b730954-1685-4b74-9bfd-dac224a7b894")
//!     .with_client_secret(std::env::var("CORP_VAULT_CLIENT_SECRET").unwrap_or_default())
//!     .build()?;
//! let connection = Connection::new("corp-vault", vault);
//! println!("{}", connection.check().await); // Connection successful: `corp-vault` (...) answered in 84 ms
//! # Ok(()) }
//! ```
//!
//! One vault for the whole workspace from the `AZURE_*` variables is one call:
//! [`WorkspaceManager::from_env`].
//!
//! # Configuring a workspace from a file
//!
//! One file, `secretscope.toml` (or JSON), holds the scope, the connections, and the cache,
//! budget, validity and audit settings; `SECRETSCOPE_*` variables set any key over it, and
//! errors name the file, the line and the key, never a value. See [`config`].
//!
//! ```no_run
//! let manager = secretscope::WorkspaceManager::from_config_file("secretscope.toml")?;
//! # Ok::<(), secretscope::Error>(())
//! ```
//!
//! # Resolving references in configuration
//!
//! [`SecretsManagerExt::render`] fills the `{{ ... }}` references of a string, and
//! [`SecretsManagerExt::resolve_tree`] every string of a JSON or TOML tree that holds one (App
//! Service's `@Microsoft.KeyVault(...)` references included), fetching them concurrently; the
//! [`render`] module says what counts as a reference, and the `figment` module (cargo feature
//! `figment`) does the same for figment.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use secretscope::prelude::*;
//! use secretscope::testing::Fixture;
//! use secretscope::ScopeMode;
//!
//! let manager = Fixture::new()
//!     .with_workspace_secret("db-password", "hunter2")
//!     .manager(ScopeMode::Workspace);
//! let mut config = serde_json::json!({ "database": { "url": "postgres://app:{{ db-password }}@db" } });
//! manager.resolve_tree(&mut config).await?;
//! assert_eq!(config["database"]["url"], "postgres://app:hunter2@db");
//! # Ok::<(), secretscope::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Observing it
//!
//! Spans for every resolve, cache miss, budget wait, backend request and connection check,
//! metrics through the `metrics` facade ([`observe`] lists every name and label), and an audit
//! trail of plans, switches, adopted states, cache clears and connections ([`audit`]):
//!
//! ```
//! use std::sync::Arc;
//! use secretscope::audit::JsonLinesAudit;
//! use secretscope::testing::Fixture;
//! use secretscope::{ScopeMode, WorkspaceManager};
//!
//! # let folder = tempfile::tempdir().unwrap();
//! # let path = folder.path().join("audit.jsonl");
//! let manager = WorkspaceManager::builder(Fixture::new().policy(ScopeMode::Workspace))
//!     .with_audit(Arc::new(JsonLinesAudit::open(&path)?))
//!     .build();
//! manager.clear(); // {"at":"...","event":"cache_cleared","connection":null,"reference":null}
//! # assert!(std::fs::read_to_string(&path).unwrap().contains("cache_cleared"));
//! # Ok::<(), secretscope::Error>(())
//! ```
//!
//! # Testing with it
//!
//! The `testing` module (cargo feature `testing`) has [`testing::Fixture`], workspace and
//! project secrets in memory with managers over them, and [`testing::StandIn`], a local HTTPS
//! stand-in of Key Vault and Entra ID whose [`manager`](testing::StandIn::manager) trusts it.
//!
//! # Backends
//!
//! | backend | module | cargo feature | for |
//! |---|---|---|---|
//! | Azure Key Vault | `azure` | `azure` (default) | production: the official Azure SDK crates |
//! | local secrets file (TOML or JSON) | [`file`](mod@file) | none | development without a cloud account |
//! | memory | [`memory`] | none | tests and examples |
//! | your own | implement [`SecretBackend`] | none | anything else |
//!
//! Every backend passes the same behaviour suite, the `conformance` module (cargo feature
//! `conformance`), which your own backend's tests can run too.
//!
//! # Secret values
//!
//! [`SecretValue`] is zeroized on drop, its `Debug` prints `[REDACTED]`, it has no `Display` and
//! no `Serialize`, and reading it takes [`SecretValue::expose_secret`]. Errors, `Debug` output
//! and log lines (through [`tracing`](https://docs.rs/tracing)) carry names, versions, dates and
//! connection names only.
//!
//! # Errors
//!
//! One [`Error`] enum, by meaning: each variant's message says what is wrong and what to do.
//! [`Error::kind`] gives a small `Copy` [`ErrorKind`] for matching, logging and metrics, and
//! [`Error::is_temporary`] tells whether a retry may help.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `azure` | yes | the `azure` module: the Azure Key Vault backend, on `azure_core`, `azure_identity` and `azure_security_keyvault_secrets` |
//! | `cli` | no | the `secretscope` command: `check`, `resolve`, `plan-switch`, `apply-switch`, `render`, `lint` |
//! | `figment` | no | the `figment` module: a figment provider whose references are resolved |
//! | `conformance` | no | the `conformance` module: the behaviour suite for testing your own backend |
//! | `testing` | no | the `testing` module: `Fixture`, and a local HTTPS stand-in of Key Vault and Entra ID (implies `azure`) |
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod audit;
#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub mod azure;
mod backend;
pub mod budget;
pub mod cache;
mod clock;
pub mod config;
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
mod connection;
mod error;
#[cfg(feature = "figment")]
#[cfg_attr(docsrs, doc(cfg(feature = "figment")))]
pub mod figment;
pub mod file;
mod future;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod location;
mod manager;
pub mod memory;
mod no_echo;
pub mod observe;
pub mod reference;
pub mod render;
pub mod scope;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod text_format;
pub mod validity;
mod value;

pub use backend::{Fetched, SecretBackend};
pub use cache::CacheOptions;
pub use config::WorkspaceConfig;
pub use connection::{Connection, ConnectionReport};
pub use error::{Error, ErrorKind, ErrorSource, MissingGrant, Result, ThrottledBy};
pub use future::MaybeReady;
pub use location::Location;
pub use manager::{
    Resolving, SecretsManager, SecretsManagerExt, WorkspaceManager, WorkspaceManagerBuilder,
};
pub use reference::{
    ConnectionName, ProjectId, RefScope, ReferenceError, ReferenceErrorKind, SecretName, SecretRef,
    SecretVersion,
};
pub use render::ConfigTree;
pub use scope::{
    Acknowledgement, PolicyState, Presence, ReferenceImpact, Replacement, ScopeMode, ScopePolicy,
    ScopePolicyBuilder, SwitchPlan,
};
pub use validity::ValidityOptions;
pub use value::{
    Resolved, ResolvedSecret, Secret, SecretMetadata, SecretProperties, SecretValue, Source,
};

/// The traits a caller needs in scope: `use secretscope::prelude::*;`.
pub mod prelude {
    pub use crate::backend::SecretBackend;
    pub use crate::manager::{SecretsManager, SecretsManagerExt};
}

/// The README's examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
