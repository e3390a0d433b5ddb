//! [`Resolved`]: a [figment](https://docs.rs/figment) provider whose references are resolved,
//! so that `extract()` yields secret values. Cargo feature `figment`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use figment::Figment;
//! use figment::providers::{Format, Toml};
//! use secretscope::figment::Resolved;
//! use secretscope::memory::MemoryBackend;
//! use secretscope::{Connection, ScopeMode, ScopePolicy, WorkspaceManager};
//!
//! #[derive(serde::Deserialize)]
//! struct AppConfig {
//!     database_url: String,
//!     port: u16,
//! }
//!
//! let vault = MemoryBackend::new();
//! vault.set("db-password", "hunter2")?;
//! let manager = WorkspaceManager::new(
//!     ScopePolicy::builder(ScopeMode::Workspace)
//!         .with_workspace_connection(Connection::new("corp-vault", vault))
//!         .build()?,
//! );
//!
//! let figment = Figment::new().merge(Toml::string(r#"
//!     database_url = "postgres://app:{{ db-password }}@db/app"
//!     port = 8080
//! "#));
//! let config: AppConfig = Figment::from(Resolved::new(figment, &manager).await?)
//!     .extract()
//!     .expect("the configuration matches AppConfig");
//! assert_eq!(config.database_url, "postgres://app:hunter2@db/app");
//! assert_eq!(config.port, 8080);
//! # Ok::<(), secretscope::Error>(())
//! # }).unwrap();
//! ```
//!
//! Every string of every profile that holds a reference is resolved (see
//! [`render`](crate::render) for what counts as one), concurrently, when [`Resolved::new`]
//! runs: a reference that cannot be resolved fails there, with [`Error::Unresolved`] naming
//! the key, and never becomes an empty string.

use std::fmt;

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use crate::error::{Error, Result};
use crate::manager::{SecretsManager, SecretsManagerExt};
use crate::render::{ConfigTree, visit_entries, visit_items};

/// The data of a figment provider (say, a whole `Figment`), its references resolved.
///
/// It holds secret values in plain strings, as figment does: drop it once the configuration
/// is extracted. Its `Debug` shows the profiles and keys, never a value.
pub struct Resolved {
    data: Map<Profile, Dict>,
    profile: Option<Profile>,
}

impl Resolved {
    /// Reads `provider`'s data and resolves every reference in it through `manager`.
    ///
    /// A provider that fails to give its data (a file that does not parse, say) is reported as
    /// [`Error::InvalidConfig`] naming the provider and the key, but not with figment's own
    /// message, which may quote the file; extract from the provider directly to see it.
    pub async fn new<P: Provider, M: SecretsManager + ?Sized>(
        provider: P,
        manager: &M,
    ) -> Result<Self> {
        let mut data = provider
            .data()
            .map_err(|error| provider_error(error, &provider.metadata()))?;
        for (profile, dict) in &mut data {
            manager
                .resolve_tree(dict)
                .await
                .map_err(|error| in_profile(profile, error))?;
        }
        Ok(Self {
            data,
            profile: provider.profile(),
        })
    }
}

/// Names the profile in the place of an error, unless it is the default one.
fn in_profile(profile: &Profile, error: Error) -> Error {
    match error {
        Error::Unresolved {
            place,
            reference,
            error,
        } if *profile != Profile::Default => Error::Unresolved {
            place: format!("profile `{profile}`, {place}"),
            reference,
            error,
        },
        other => other,
    }
}

fn provider_error(error: figment::Error, provider: &Metadata) -> Error {
    let count = error.count();
    let metadata = error.metadata.as_ref().unwrap_or(provider);
    let from = match &metadata.source {
        Some(source) => format!("`{}` ({source})", metadata.name),
        None => format!("`{}`", metadata.name),
    };
    let key = match error.path.as_slice() {
        [] => String::new(),
        path => format!(", at `{}`", path.join(".")),
    };
    Error::invalid_config(
        format!("figment provider {from}{key}"),
        format!(
            "the configuration could not be read ({count} error(s)); extract it with figment alone to see the providers' messages, which are not repeated here as they may quote the file"
        ),
    )
}

impl Provider for Resolved {
    fn metadata(&self) -> Metadata {
        Metadata::named("secretscope: references resolved")
    }

    fn data(&self) -> std::result::Result<Map<Profile, Dict>, figment::Error> {
        Ok(self.data.clone())
    }

    fn profile(&self) -> Option<Profile> {
        self.profile.clone()
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Map<&Profile, Vec<&String>> = self
            .data
            .iter()
            .map(|(profile, dict)| (profile, dict.keys().collect()))
            .collect();
        f.debug_struct("Resolved")
            .field("keys", &keys)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl ConfigTree for Value {
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    ) {
        match self {
            Self::String(_, text) => visit(path, text),
            Self::Array(_, items) => visit_items(items.iter_mut(), path, visit),
            Self::Dict(_, dict) => dict.visit_strings(path, visit),
            Self::Char(..) | Self::Bool(..) | Self::Num(..) | Self::Empty(..) => {}
        }
    }
}

impl ConfigTree for Dict {
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    ) {
        visit_entries(self.iter_mut(), path, visit);
    }
}
