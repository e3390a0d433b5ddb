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
//! use secretscope::{Connection, Error, ScopeMode, ScopePolicy, SecretsManager, WorkspaceManager};
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
//! [`SecretsManager::resolve_with_metadata`] also returns the [`SecretMetadata`]: name, version,
//! scope, content type, enabled flag, dates, the connection, and whether the value came from the
//! backend or the cache.
//!
//! # Switching the scope
//!
//! A switch invalidates the references of the scope being left, so it is planned, its impact
//! shown, and applied only with an acknowledgement made from that plan.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use secretscope::memory::MemoryBackend;
//! use secretscope::{Connection, Error, ScopeMode, ScopePolicy, SecretsManager, WorkspaceManager};
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
//! # Backends
//!
//! | backend | module | for |
//! |---|---|---|
//! | local secrets file (TOML or JSON) | [`file`](mod@file) | development without a cloud account |
//! | memory | [`memory`] | tests and examples |
//! | your own | implement [`SecretBackend`] | anything else |
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
//! [`Error::is_temporary`] tells whether a retry may help.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `conformance` | no | the `conformance` module: the behaviour suite for testing your own backend |
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub mod azure;
mod backend;
mod cache;
#[cfg(any(test, feature = "conformance"))]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;
mod error;
pub mod file;
mod manager;
pub mod memory;
pub mod reference;
pub mod scope;
mod value;

pub use backend::{Connection, ConnectionReport, SecretBackend};
pub use cache::CacheOptions;
pub use error::{Error, ErrorSource, MissingGrant, Result};
pub use manager::{SecretsManager, ValidityOptions, WorkspaceManager, WorkspaceManagerBuilder};
pub use reference::{
    ProjectId, RefScope, ReferenceError, ReferenceErrorKind, SecretName, SecretRef, SecretVersion,
};
pub use scope::{
    Acknowledgement, PolicyState, Presence, ReferenceImpact, Replacement, ScopeMode, ScopePolicy,
    ScopePolicyBuilder, SwitchPlan,
};
pub use value::{ResolvedSecret, Secret, SecretMetadata, SecretProperties, SecretValue, Source};

/// The README's examples compile and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
