//! [`AzureKeyVaultBackend`]: reads secrets from Azure Key Vault through the official SDK.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_security_keyvault_secrets::SecretClient;
use azure_security_keyvault_secrets::models::{Secret as SdkSecret, SecretClientGetSecretOptions};

use super::map::{Context, map_error};
use super::validate::VaultUrl;
use crate::backend::{Fetched, SecretBackend};
use crate::error::{Error, Result};
use crate::location::Location;
use crate::reference::{SecretName, SecretVersion};
use crate::value::{Secret, SecretProperties};

/// An Azure Key Vault, read through `azure_security_keyvault_secrets`.
///
/// Built with [`AzureKeyVaultBuilder`](super::AzureKeyVaultBuilder). Every fetch runs under an
/// overall deadline; names and versions arrive validated by the crate's reference grammar, so
/// nothing but a valid name or version ever reaches the URL path.
pub struct AzureKeyVaultBackend {
    vault: VaultUrl,
    location: Location,
    client: Arc<SecretClient>,
    deadline: Duration,
    credential_hint: &'static str,
}

impl AzureKeyVaultBackend {
    pub(crate) fn new(
        vault: VaultUrl,
        client: Arc<SecretClient>,
        deadline: Duration,
        credential_hint: &'static str,
    ) -> Self {
        Self {
            location: Location::url(&vault.url).expect("a validated vault URL"),
            vault,
            client,
            deadline,
            credential_hint,
        }
    }

    /// The vault URL, `https://<host>[:port]`.
    pub fn vault_url(&self) -> &str {
        &self.vault.url
    }

    /// The SDK client, to manage secrets (set, delete, list) with the same credential and
    /// transport.
    pub fn client(&self) -> &Arc<SecretClient> {
        &self.client
    }

    async fn get(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Secret> {
        let context = Context {
            location: &self.location,
            name,
            version,
            credential_hint: self.credential_hint,
        };
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(ToString::to_string),
            ..Default::default()
        };
        let call = async {
            self.client
                .get_secret(name.as_str(), Some(options))
                .await?
                .into_model()
        };
        match tokio::time::timeout(self.deadline, call).await {
            Err(_elapsed) => Err(Error::Unavailable {
                location: self.location.clone(),
                reason: format!(
                    "no answer within the {} s deadline; check the network path to the vault and to Entra ID (proxy, firewall), or raise the deadline",
                    self.deadline.as_secs_f64()
                ),
                source: None,
            }),
            Ok(Err(e)) => Err(map_error(e, &context)),
            Ok(Ok(secret)) => self.convert(secret, name),
        }
    }

    fn convert(&self, secret: SdkSecret, asked: &SecretName) -> Result<Secret> {
        let id = secret.id.as_deref().and_then(id_parts);
        let name = id
            .and_then(|(name, _)| SecretName::new(name).ok())
            .unwrap_or_else(|| asked.clone());
        let version = id
            .and_then(|(_, version)| version)
            .and_then(|v| SecretVersion::new(v).ok());
        let attributes = secret.attributes.unwrap_or_default();
        let mut properties = SecretProperties::new(name);
        properties.version = version;
        properties.content_type = secret.content_type;
        properties.enabled = attributes.enabled.unwrap_or(true);
        properties.created = attributes.created;
        properties.updated = attributes.updated;
        properties.not_before = attributes.not_before;
        properties.expires = attributes.expires;
        let Some(value) = secret.value else {
            return Err(Error::Unavailable {
                location: self.location.clone(),
                reason:
                    "the vault answered without a value; check that the URL points to Key Vault"
                        .to_owned(),
                source: None,
            });
        };
        Ok(Secret::new(value, properties))
    }
}

/// The name and version of a secret identifier, `https://{vault}/secrets/{name}[/{version}]`,
/// read in place. The SDK's `resource_id` parses the whole URL, which cost more instructions
/// than everything else this crate does for a fetch; the parts are checked as names and
/// versions afterwards anyway.
fn id_parts(id: &str) -> Option<(&str, Option<&str>)> {
    let (_, rest) = id.split_once("://")?;
    let path = rest[rest.find('/')?..].strip_prefix("/secrets/")?;
    let path = path.split(['?', '#']).next()?.trim_end_matches('/');
    let (name, version) = match path.split_once('/') {
        Some((name, version)) => (name, Some(version)),
        None => (path, None),
    };
    (!name.is_empty()).then_some((name, version.filter(|v| !v.is_empty())))
}

/// The prefix of the names the connection check reads.
const PROBE_PREFIX: &str = "secretscope-connection-check-";

/// A name that cannot exist in any vault a person set up, for the connection check: the prefix
/// and a random (v4) UUID, 65 characters of letters, digits and hyphens.
fn probe_name() -> SecretName {
    let id = uuid::Uuid::new_v4();
    SecretName::new(&format!("{PROBE_PREFIX}{}", id.hyphenated())).expect("valid name")
}

#[async_trait]
impl SecretBackend for AzureKeyVaultBackend {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        self.get(name, version).await.map(Into::into)
    }

    /// Authenticates and proves the *Get* permission without knowing any secret: it reads a
    /// random name that cannot exist. "Not found" means authenticated and allowed; "forbidden"
    /// says which grant is missing.
    async fn check(&self) -> Result<()> {
        match self.get(&probe_name(), None).await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn location(&self) -> &Location {
        &self.location
    }
}

impl fmt::Debug for AzureKeyVaultBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureKeyVaultBackend")
            .field("vault_url", &self.vault.url)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::id_parts;

    #[test]
    fn identifiers_give_their_name_and_version() {
        let v = "0123456789abcdef0123456789abcdef";
        let cases = [
            (
                "https://corp.vault.azure.net/secrets/db",
                Some(("db", None)),
            ),
            (
                "https://corp.vault.azure.net/secrets/db/",
                Some(("db", None)),
            ),
            (
                &*format!("https://corp.vault.azure.net/secrets/db/{v}"),
                Some(("db", Some(v))),
            ),
            (
                &*format!("https://h:8443/secrets/db/{v}?api-version=1"),
                Some(("db", Some(v))),
            ),
            // A version that is not one is dropped when checked, as the name falls back.
            ("https://h/secrets/db/a/b", Some(("db", Some("a/b")))),
            ("https://h/keys/db", None),
            ("https://h/secrets/", None),
            ("https://h", None),
            ("not a url", None),
        ];
        for (id, expected) in cases {
            assert_eq!(id_parts(id), expected, "{id}");
        }
    }
}
