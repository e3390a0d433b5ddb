//! The Azure Key Vault backend, on the official Azure SDK crates (`azure_core`,
//! `azure_identity`, `azure_security_keyvault_secrets`). Cargo feature `azure`, on by default.
//!
//! # Connecting a vault
//!
//! An administrator connects a vault with five fields: a connection name, the vault URL, the
//! tenant ID, the client ID and the client secret of an app registration that has the
//! *Key Vault Secrets User* role on the vault (or, on a vault using access policies, the secret
//! *Get* permission). [`AzureKeyVaultBuilder`] takes the vault's four and checks each before
//! any I/O, [`Connection::new`](crate::Connection::new) gives the backend its one name, and
//! [`Connection::check`](crate::Connection::check) then says plainly whether the connection
//! works and, if not, what to fix.
//!
//! ```no_run
//! # async fn demo() -> secretscope::Result<()> {
//! use secretscope::azure::AzureKeyVaultBuilder;
//! use secretscope::prelude::*;
//! use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};
//!
//! // AZURE_KEYVAULT_URL, AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
//! let vault = AzureKeyVaultBuilder::from_env().build()?;
//! let connection = Connection::new("corp-vault", vault);
//! let report = connection.check().await;
//! println!("{report}"); // Connection successful: `corp-vault` (https://...) answered in 84 ms
//!
//! let policy = ScopePolicy::builder(ScopeMode::Workspace)
//!     .with_workspace_connection(connection)
//!     .build()?;
//! let manager = WorkspaceManager::new(policy);
//! let password = manager.resolve("db-password").await?;
//! # let _ = password;
//! # Ok(())
//! # }
//! ```
//!
//! Other credentials: [`with_managed_identity`](AzureKeyVaultBuilder::with_managed_identity),
//! [`with_workload_identity`](AzureKeyVaultBuilder::with_workload_identity),
//! [`with_developer_tools_credential`](AzureKeyVaultBuilder::with_developer_tools_credential)
//! (Azure CLI), or any SDK credential with
//! [`with_credential`](AzureKeyVaultBuilder::with_credential). In a configuration file, use
//! [`AzureKeyVaultConfig`], where the client secret can come from an environment variable or a
//! file.
//!
//! # Transport
//!
//! Extra CA roots, connect and per-try timeouts, retries with exponential back-off, and an
//! overall deadline per fetch (10 s by default): an unreachable vault fails within it rather
//! than after the SDK's default of about 80 s. Redirects are never followed, and the check
//! that a vault's authentication challenge names the vault's own resource stays on for every
//! host but a bare loopback name or address (for which no real challenge can pass it), so a token
//! only goes to the vault that was configured. The client secret only goes to the Entra ID host
//! of the vault's cloud, unless custom hosts are allowed for a local stand-in.
//!
//! The backend runs on Tokio and needs its timers (`#[tokio::main]`, or a runtime built with
//! `enable_all()`). The Azure SDK keeps its own copies of the client secret (in its credential,
//! for the backend's lifetime) and of fetched values (briefly, in HTTP buffers), which it does
//! not zeroize.
//!
//! # Errors
//!
//! Every SDK failure is mapped in one place to the crate's [`Error`](crate::Error): not found,
//! disabled, permission denied naming the missing grant (*Key Vault Secrets User* role, *Get*
//! permission, or the vault firewall; read from the vault's message when an emulator leaves out
//! the inner error code), unauthenticated with the Entra ID code (`AADSTS7000215` wrong secret,
//! `AADSTS7000222` expired secret, `AADSTS700016` unknown application, `AADSTS90002` unknown
//! tenant) or Key Vault's (`AKV10032` a token of another tenant, `AKV10022` a token for another
//! resource, `TokenExpired`, `AKV10000` no token), throttled with the service's retry-after
//! (seconds or an HTTP date), unavailable for 5xx, timeouts, TLS failures and refused
//! connections, keeping the cause, and [`Error::Rejected`](crate::Error::Rejected) for any
//! other 4xx (`BadParameter`, `Conflict`, a 404 that is not Key Vault's), saying what to check.
//!
//! # Testing
//!
//! The cargo feature `testing` adds `secretscope::testing`: a local HTTPS stand-in of Key Vault and
//! Entra ID that answers as the real services do, with a ready builder that trusts it.

mod backend;
mod builder;
pub(crate) mod config;
mod map;
mod retry;
mod validate;

pub use backend::AzureKeyVaultBackend;
pub use builder::{
    AzureKeyVaultBuilder, ENV_AUTHORITY_HOST, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_TENANT_ID,
    ENV_VAULT_URL,
};
pub use config::{AzureKeyVaultConfig, ClientSecretSource, CredentialKind};

/// The Azure SDK crates this backend is built on, re-exported so callers use the same versions
/// (for [`AzureKeyVaultBuilder::with_credential`] and
/// [`AzureKeyVaultBuilder::with_http_client`]).
pub mod sdk {
    pub use azure_core;
    pub use azure_identity;
    pub use azure_security_keyvault_secrets;
}
