//! [`AzureKeyVaultConfig`]: a Key Vault connection in a configuration file.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::builder::AzureKeyVaultBuilder;
use crate::error::{Error, Result};

/// A Key Vault connection as it appears in a service's configuration (TOML, JSON, YAML...).
///
/// The client secret can come from an environment variable or a file instead of being written
/// inline:
///
/// ```
/// use secretscope::azure::AzureKeyVaultConfig;
///
/// let config: AzureKeyVaultConfig = toml::from_str(r#"
///     name = "corp-vault"
///     vault-url = "https://corp-vault.vault.azure.net"
///     tenant-id = "72f988bf-86f1-41af-91ab-2d7cd011db47"
///     client-id = "1b730954-1685-4b74-9bfd-dac224a7b894"
///     client-secret = { env = "CORP_VAULT_CLIENT_SECRET" }   # or { file = "/run/secrets/kv" }
///     deadline-ms = 5000
/// "#)?;
/// // `config.builder()` reads the secret and gives an `AzureKeyVaultBuilder`;
/// // `.build()` validates everything.
/// # let _ = config;
/// # Ok::<(), toml::de::Error>(())
/// ```
///
/// Other credentials: `credential = "managed-identity"` (with an optional
/// `managed-identity-client-id`), `"workload-identity"` or `"developer-tools"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct AzureKeyVaultConfig {
    /// The connection name.
    pub name: Option<String>,
    /// The vault URI.
    pub vault_url: String,
    /// The Directory (tenant) ID.
    pub tenant_id: Option<String>,
    /// The Application (client) ID.
    pub client_id: Option<String>,
    /// Where the client secret comes from.
    pub client_secret: Option<ClientSecretSource>,
    /// A credential other than a client secret.
    pub credential: Option<CredentialKind>,
    /// The client ID of a user-assigned managed identity.
    pub managed_identity_client_id: Option<String>,
    /// The Entra ID authority host.
    pub authority_host: Option<String>,
    /// Accept a host outside the known clouds (local stand-ins).
    #[serde(default)]
    pub allow_custom_host: bool,
    /// PEM files of extra CA roots.
    #[serde(default)]
    pub extra_ca_files: Vec<PathBuf>,
    /// The connect timeout in milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// The per-try timeout in milliseconds.
    pub try_timeout_ms: Option<u64>,
    /// The overall deadline of one fetch in milliseconds.
    pub deadline_ms: Option<u64>,
    /// How many times a failed request is retried.
    pub max_retries: Option<u32>,
}

/// A credential other than a client secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CredentialKind {
    /// Tenant ID, client ID and client secret (the default when a secret is given).
    ClientSecret,
    /// The host's managed identity.
    ManagedIdentity,
    /// Kubernetes workload identity.
    WorkloadIdentity,
    /// The Azure CLI or Azure Developer CLI sign-in.
    DeveloperTools,
}

/// Where a client secret comes from.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientSecretSource {
    /// Written inline (`client-secret = { value = "..." }`); prefer `env` or `file`.
    Value(SecretString),
    /// An environment variable (`client-secret = { env = "NAME" }`).
    Env(String),
    /// A file holding only the secret (`client-secret = { file = "/run/secrets/kv" }`);
    /// surrounding whitespace is ignored.
    File(PathBuf),
}

impl fmt::Debug for ClientSecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value([REDACTED])"),
            Self::Env(name) => f.debug_tuple("Env").field(name).finish(),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

impl ClientSecretSource {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn read(&self) -> Result<SecretString> {
        let secret = match self {
            Self::Value(secret) => secret.clone(),
            Self::Env(name) => {
                let mut value = std::env::var(name).map_err(|_| {
                    Error::invalid_config(
                        "client secret",
                        format!("the environment variable `{name}` is not set (or not UTF-8); set it to the client secret's value"),
                    )
                })?;
                let secret = SecretString::from(value.trim());
                value.zeroize();
                secret
            }
            Self::File(path) => {
                let mut value =
                    std::fs::read_to_string(path).map_err(|e| Error::InvalidConfig {
                        field: "client secret".to_owned(),
                        reason: format!(
                            "the file `{}` cannot be read; check the path and its permissions",
                            path.display()
                        ),
                        source: Some(crate::ErrorSource::new(e)),
                    })?;
                let secret = SecretString::from(value.trim());
                value.zeroize();
                secret
            }
        };
        Ok(secret)
    }
}

impl<'de> Deserialize<'de> for ClientSecretSource {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_map(SourceVisitor)
    }
}

struct SourceVisitor;

const SOURCE_SHAPE: &str = "`client-secret` must be a table with one of `env`, `file` or `value`, such as { env = \"KV_CLIENT_SECRET\" }";

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = ClientSecretSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SOURCE_SHAPE)
    }

    // A bare string is refused without being quoted back: it is most likely the secret itself.
    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
        Err(E::custom(SOURCE_SHAPE))
    }

    fn visit_map<A: de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(SOURCE_SHAPE));
        };
        let source = match key.as_str() {
            "env" => ClientSecretSource::Env(map.next_value()?),
            "file" => ClientSecretSource::File(map.next_value()?),
            "value" => ClientSecretSource::Value(map.next_value::<InlineSecret>()?.0),
            _ => return Err(de::Error::custom(SOURCE_SHAPE)),
        };
        if map.next_key::<String>()?.is_some() {
            return Err(de::Error::custom(SOURCE_SHAPE));
        }
        Ok(source)
    }
}

/// An inline secret: a string, and any other input refused without quoting it.
struct InlineSecret(SecretString);

impl<'de> Deserialize<'de> for InlineSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct V;
        const MUST: &str = "an inline client secret must be a string";
        impl Visitor<'_> for V {
            type Value = InlineSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(MUST)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<InlineSecret, E> {
                Ok(InlineSecret(SecretString::from(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> std::result::Result<InlineSecret, E> {
                Ok(InlineSecret(SecretString::from(v)))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
            fn visit_i128<E: de::Error>(self, _: i128) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
            fn visit_u128<E: de::Error>(self, _: u128) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<InlineSecret, E> {
                Err(E::custom(MUST))
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl AzureKeyVaultConfig {
    /// Reads the client secret (from its variable or file) and fills a builder. Call
    /// [`build`](AzureKeyVaultBuilder::build) on it to validate everything and get the backend,
    /// or add what a file cannot hold first (a custom credential, an HTTP client).
    pub fn builder(&self) -> Result<AzureKeyVaultBuilder> {
        let mut builder = AzureKeyVaultBuilder::new()
            .with_vault_url(&self.vault_url)
            .with_allow_custom_host(self.allow_custom_host);
        if let Some(name) = &self.name {
            builder = builder.with_connection_name(name);
        }
        if let Some(tenant) = &self.tenant_id {
            builder = builder.with_tenant_id(tenant);
        }
        if let Some(client) = &self.client_id {
            builder = builder.with_client_id(client);
        }
        if let Some(host) = &self.authority_host {
            builder = builder.with_authority_host(host);
        }
        builder = match self.credential {
            None | Some(CredentialKind::ClientSecret) => match &self.client_secret {
                Some(source) => builder.with_client_secret(source.read()?.expose_secret()),
                None => builder,
            },
            Some(CredentialKind::ManagedIdentity) => {
                builder.with_managed_identity(self.managed_identity_client_id.clone())
            }
            Some(CredentialKind::WorkloadIdentity) => builder.with_workload_identity(),
            Some(CredentialKind::DeveloperTools) => builder.with_developer_tools_credential(),
        };
        for path in &self.extra_ca_files {
            let pem = std::fs::read_to_string(path).map_err(|e| Error::InvalidConfig {
                field: "extra CA roots".to_owned(),
                reason: format!(
                    "the file `{}` cannot be read; check the path",
                    path.display()
                ),
                source: Some(crate::ErrorSource::new(e)),
            })?;
            builder = builder.with_extra_ca_pem(pem);
        }
        let ms = Duration::from_millis;
        if let Some(t) = self.connect_timeout_ms {
            builder = builder.with_connect_timeout(ms(t));
        }
        if let Some(t) = self.try_timeout_ms {
            builder = builder.with_try_timeout(ms(t));
        }
        if let Some(t) = self.deadline_ms {
            builder = builder.with_deadline(ms(t));
        }
        if let Some(n) = self.max_retries {
            builder = builder.with_max_retries(n);
        }
        Ok(builder)
    }
}
