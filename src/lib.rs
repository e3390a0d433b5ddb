//! # secretscope
//!
//! Resolve secrets from an external secrets manager — Azure Key Vault first — with
//! workspace-level or project-level scoping.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
pub use error::{BoxError, Error, MissingGrant, Result};
pub use manager::{SecretsManager, ValidityOptions, WorkspaceManager, WorkspaceManagerBuilder};
pub use reference::{ProjectId, RefScope, ReferenceError, SecretName, SecretRef, SecretVersion};
pub use scope::{Acknowledgement, PolicyState, ScopeMode, ScopePolicy, SwitchPlan};
pub use value::{ResolvedSecret, Secret, SecretMetadata, SecretProperties, SecretValue, Source};
