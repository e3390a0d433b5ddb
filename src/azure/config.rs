//! [`AzureKeyVaultConfig`]: a Key Vault connection in a configuration file.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::zeroize::{Zeroize, Zeroizing};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess};

use super::builder::AzureKeyVaultBuilder;
use super::validate;
use crate::backend::SecretBackend;
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::no_echo::{self, Flag, Number, Only, SecretText, Shape, Text};
use crate::value::secret_string;

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
#[derive(Clone, Deserialize)]
#[serde(remote = "Self", rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub struct AzureKeyVaultConfig {
    /// The connection name; the vault's host when not given.
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
    #[serde(default, deserialize_with = "flag")]
    pub allow_custom_host: bool,
    /// PEM files of extra CA roots.
    #[serde(default, deserialize_with = "ca_files")]
    pub extra_ca_files: Vec<PathBuf>,
    /// The connect timeout in milliseconds.
    #[serde(default, deserialize_with = "millis")]
    pub connect_timeout_ms: Option<u64>,
    /// The per-try timeout in milliseconds.
    #[serde(default, deserialize_with = "millis")]
    pub try_timeout_ms: Option<u64>,
    /// The overall deadline of one fetch in milliseconds.
    #[serde(default, deserialize_with = "millis")]
    pub deadline_ms: Option<u64>,
    /// How many times a failed request is retried.
    #[serde(default, deserialize_with = "retries")]
    pub max_retries: Option<u32>,
}

/// The settings of a connection, as keys.
pub(crate) const SETTINGS: [&str; 14] = [
    "name",
    "vault-url",
    "tenant-id",
    "client-id",
    "client-secret",
    "credential",
    "managed-identity-client-id",
    "authority-host",
    "allow-custom-host",
    "extra-ca-files",
    "connect-timeout-ms",
    "try-timeout-ms",
    "deadline-ms",
    "max-retries",
];

const CONFIG_SHAPE: &str = "a Key Vault connection must be a table of settings, such as vault-url = \"https://corp-vault.vault.azure.net\"";
pub(crate) const UNKNOWN_SETTING: &str = "a key of the Key Vault connection is not one of its settings (it is not repeated here: it may be a secret typed in the wrong place); the settings are name, vault-url, tenant-id, client-id, client-secret, credential, managed-identity-client-id, authority-host, allow-custom-host, extra-ca-files, connect-timeout-ms, try-timeout-ms, deadline-ms and max-retries";

impl<'de> Deserialize<'de> for AzureKeyVaultConfig {
    /// The derived reading of the settings, behind two refusals that quote nothing: a document
    /// that is not a table (a secret pasted where the connection belongs), and a key that is no
    /// setting (serde would name it).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        no_echo::read(ConfigShape, deserializer)
    }
}

/// A connection: a table whose keys are settings.
struct ConfigShape;

impl Shape for ConfigShape {
    type Value = AzureKeyVaultConfig;

    fn expected(&self) -> &'static str {
        CONFIG_SHAPE
    }

    fn table<'de, A: MapAccess<'de>>(
        self,
        table: A,
    ) -> std::result::Result<AzureKeyVaultConfig, A::Error> {
        AzureKeyVaultConfig::deserialize(de::value::MapAccessDeserializer::new(Settings(table)))
    }
}

/// A table whose keys are refused, unquoted, unless they are settings.
struct Settings<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Settings<A> {
    type Error = A::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, A::Error> {
        let Some(key) = self.0.next_key_seed(Only(SecretText(UNKNOWN_SETTING)))? else {
            return Ok(None);
        };
        if !SETTINGS.contains(&key.as_str()) {
            return Err(de::Error::custom(UNKNOWN_SETTING));
        }
        let key: de::value::StrDeserializer<'_, A::Error> =
            de::IntoDeserializer::into_deserializer(key.as_str());
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl fmt::Debug for AzureKeyVaultConfig {
    // Typed values are printed only once they validate, as by the builder's `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = validate::printable(Some(&self.vault_url), |u| {
            validate::vault_url(u, self.allow_custom_host).map(|v| v.url)
        });
        f.debug_struct("AzureKeyVaultConfig")
            .field("name", &self.name)
            .field("vault_url", &url)
            .field(
                "tenant_id",
                &validate::printable(self.tenant_id.as_deref(), validate::tenant_id),
            )
            .field(
                "client_id",
                &validate::printable(self.client_id.as_deref(), validate::client_id),
            )
            .field("client_secret", &self.client_secret)
            .field("credential", &self.credential)
            .field(
                "managed_identity_client_id",
                &validate::printable(
                    self.managed_identity_client_id.as_deref(),
                    validate::client_id,
                ),
            )
            .field(
                "authority_host",
                &validate::printable(self.authority_host.as_deref(), validate::authority_host),
            )
            .field("allow_custom_host", &self.allow_custom_host)
            .field("extra_ca_files", &self.extra_ca_files)
            .finish_non_exhaustive()
    }
}

/// A credential other than a client secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
            // A value typed where the variable's name belongs is not printed either.
            Self::Env(name) if looks_like_a_variable(name) => {
                f.debug_tuple("Env").field(name).finish()
            }
            Self::Env(_) => f.write_str("Env([not a variable name])"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

fn looks_like_a_variable(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl ClientSecretSource {
    /// Reads the secret. Errors name the variable or file, never the value.
    pub fn read(&self) -> Result<SecretString> {
        let secret = match self {
            Self::Value(secret) => secret.clone(),
            Self::Env(name) => {
                let mut value = std::env::var(name).map_err(|_| {
                    // Quote the name only if it looks like one: a secret typed where the
                    // variable's name belongs must not be echoed.
                    let which = if looks_like_a_variable(name) {
                        format!("`{name}`")
                    } else {
                        "named in `env` (not a valid variable name: letters, digits and `_`)".to_owned()
                    };
                    Error::invalid_config(
                        "client secret",
                        format!("the environment variable {which} is not set (or not UTF-8); set it to the client secret's value"),
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
        // Anything but the table is refused without being quoted back: it is most likely the
        // secret itself, written where the table belongs.
        no_echo::read(SourceShape, deserializer)
    }
}

/// How this module's own messages begin, for readers that keep only known messages whole.
pub(crate) const OWN_MESSAGES: &[&str] = &[
    CONFIG_SHAPE,
    UNKNOWN_SETTING,
    SOURCE_SHAPE,
    NOT_A_VARIABLE,
    NOT_A_PATH,
    NOT_INLINE,
    "`credential` must be one of",
    "`allow-custom-host` must be",
    "timeouts and deadlines must be",
    "`max-retries` must be",
    "`extra-ca-files` must be",
];

const SOURCE_SHAPE: &str = "`client-secret` must be a table with one of `env`, `file` or `value`, such as { env = \"KV_CLIENT_SECRET\" }";
const NOT_A_VARIABLE: &str =
    "`client-secret.env` must be the name of an environment variable, as a string";
const NOT_A_PATH: &str = "`client-secret.file` must be the path of a file, as a string";
const NOT_INLINE: &str = "an inline client secret must be a string";

/// `client-secret`: a table with one of `env`, `file` or `value`.
struct SourceShape;

impl Shape for SourceShape {
    type Value = ClientSecretSource;

    fn expected(&self) -> &'static str {
        SOURCE_SHAPE
    }

    fn table<'de, A: MapAccess<'de>>(
        self,
        mut table: A,
    ) -> std::result::Result<ClientSecretSource, A::Error> {
        // A key that is none of the three is neither quoted nor kept: it may be the secret.
        let key = table.next_key_seed(Only(SecretText(SOURCE_SHAPE)))?;
        let source = match key.as_ref().map(|key| key.as_str()) {
            Some("env") => {
                ClientSecretSource::Env(table.next_value_seed(Only(Text(NOT_A_VARIABLE)))?)
            }
            Some("file") => {
                ClientSecretSource::File(table.next_value_seed(Only(Text(NOT_A_PATH)))?.into())
            }
            Some("value") => {
                let mut secret = table.next_value_seed(Only(SecretText(NOT_INLINE)))?;
                ClientSecretSource::Value(secret_string(std::mem::take(&mut *secret)))
            }
            _ => return Err(de::Error::custom(SOURCE_SHAPE)),
        };
        if table
            .next_key_seed(Only(SecretText(SOURCE_SHAPE)))?
            .is_some()
        {
            return Err(de::Error::custom(SOURCE_SHAPE));
        }
        Ok(source)
    }
}

impl<'de> Deserialize<'de> for CredentialKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        // A client secret typed where the credential's kind belongs is not quoted back.
        no_echo::read(CredentialShape, deserializer)
    }
}

/// `credential`: one of the kinds, by its kebab-case name.
struct CredentialShape;

impl Shape for CredentialShape {
    type Value = CredentialKind;

    fn expected(&self) -> &'static str {
        "`credential` must be one of \"client-secret\", \"managed-identity\", \"workload-identity\" or \"developer-tools\""
    }

    fn text<E: de::Error>(self, text: Zeroizing<String>) -> std::result::Result<CredentialKind, E> {
        match text.as_str() {
            "client-secret" => Ok(CredentialKind::ClientSecret),
            "managed-identity" => Ok(CredentialKind::ManagedIdentity),
            "workload-identity" => Ok(CredentialKind::WorkloadIdentity),
            "developer-tools" => Ok(CredentialKind::DeveloperTools),
            _ => Err(E::custom(self.expected())),
        }
    }
}

// The other settings that do not take a string refuse one without quoting it, in case it is
// the client secret in the wrong place.

fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<bool, D::Error> {
    no_echo::read(
        Flag("`allow-custom-host` must be true or false"),
        deserializer,
    )
}

fn millis<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<u64>, D::Error> {
    no_echo::some(
        Number("timeouts and deadlines must be whole numbers of milliseconds"),
        deserializer,
    )
}

fn retries<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<u32>, D::Error> {
    no_echo::some(RetriesShape, deserializer)
}

/// `max-retries`: a whole number that fits a `u32`.
struct RetriesShape;

impl Shape for RetriesShape {
    type Value = u32;

    fn expected(&self) -> &'static str {
        "`max-retries` must be a whole number up to 4294967295"
    }

    fn number<E: de::Error>(self, number: u64) -> std::result::Result<u32, E> {
        u32::try_from(number).map_err(|_| E::custom(self.expected()))
    }
}

fn ca_files<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<PathBuf>, D::Error> {
    no_echo::read(CaFilesShape, deserializer)
}

/// `extra-ca-files`: a list of paths.
struct CaFilesShape;

impl Shape for CaFilesShape {
    type Value = Vec<PathBuf>;

    fn expected(&self) -> &'static str {
        "`extra-ca-files` must be a list of paths of PEM files, as strings"
    }

    fn list<'de, A: SeqAccess<'de>>(
        self,
        mut list: A,
    ) -> std::result::Result<Vec<PathBuf>, A::Error> {
        let mut paths = Vec::new();
        while let Some(path) = list.next_element_seed(Only(Text(self.expected())))? {
            paths.push(PathBuf::from(path));
        }
        Ok(paths)
    }
}

impl AzureKeyVaultConfig {
    /// Makes the paths it holds (CA files, a client-secret file) relative to `base`, the folder
    /// of the file it was read from.
    pub(crate) fn relative_to(&mut self, base: &std::path::Path) {
        for file in &mut self.extra_ca_files {
            *file = base.join(&*file);
        }
        if let Some(ClientSecretSource::File(file)) = &mut self.client_secret {
            *file = base.join(&*file);
        }
    }

    /// Builds the connection: the backend, named `name`, or after the vault's host when the
    /// configuration gives no name.
    pub fn connection(&self) -> Result<Connection> {
        let backend = self.builder()?.build()?;
        let name = match &self.name {
            Some(name) => name.clone(),
            None => backend.location().host().unwrap_or_default().to_owned(),
        };
        Ok(Connection::new(name, backend))
    }

    /// Reads the client secret (from its variable or file) and fills a builder. Call
    /// [`build`](AzureKeyVaultBuilder::build) on it to validate everything and get the backend,
    /// or add what a file cannot hold first (a custom credential, an HTTP client).
    pub fn builder(&self) -> Result<AzureKeyVaultBuilder> {
        let mut builder = AzureKeyVaultBuilder::new()
            .with_vault_url(&self.vault_url)
            .with_allow_custom_host(self.allow_custom_host);
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

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn parse(text: &str) -> std::result::Result<AzureKeyVaultConfig, toml::de::Error> {
        toml::from_str(text)
    }

    fn config(secret: &str) -> String {
        format!(
            "vault-url = \"https://corp-vault.vault.azure.net\"\ntenant-id = \"{GUID}\"\nclient-id = \"{GUID}\"\nclient-secret = {secret}\n"
        )
    }

    #[test]
    fn the_secret_comes_from_a_file_a_variable_or_inline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv-secret");
        std::fs::write(&path, "from-file\n").unwrap();
        let from_file = parse(&config(&format!(
            "{{ file = {:?} }}",
            path.display().to_string()
        )))
        .unwrap();
        let Some(source) = &from_file.client_secret else {
            panic!("no secret source")
        };
        assert_eq!(source.read().unwrap().expose_secret(), "from-file");
        from_file.builder().unwrap().build().unwrap();

        let inline = parse(&config("{ value = \"inline-secret\" }")).unwrap();
        let debug = format!("{inline:?}");
        assert!(!debug.contains("inline-secret"), "{debug}");
        assert!(debug.contains("Value([REDACTED])"), "{debug}");
        let builder = inline.builder().unwrap();
        assert!(!format!("{builder:?}").contains("inline-secret"));
        builder.build().unwrap();

        // The process environment is shared by the tests of this binary: use PATH, which is
        // always set, to prove variables are read, and a name nobody sets for the error.
        let from_env = parse(&config("{ env = \"PATH\" }")).unwrap();
        from_env.builder().unwrap().build().unwrap();
        let unset = parse(&config("{ env = \"SECRETSCOPE_TEST_UNSET_VARIABLE\" }")).unwrap();
        match unset.builder() {
            Err(e) => assert!(
                e.to_string()
                    .contains("`SECRETSCOPE_TEST_UNSET_VARIABLE` is not set"),
                "{e}"
            ),
            Ok(b) => panic!("expected an error, got {b:?}"),
        }
        let missing = parse(&config(&format!(
            "{{ file = {:?} }}",
            dir.path().join("absent").display().to_string()
        )))
        .unwrap();
        match missing.builder() {
            Err(e) => assert!(e.to_string().contains("absent` cannot be read"), "{e}"),
            Ok(b) => panic!("expected an error, got {b:?}"),
        }
    }

    #[test]
    fn unknown_keys_and_documents_that_are_not_tables_are_refused_unquoted() {
        let pasted = "Xy7-misplaced-secret-0123";
        let unknown = format!("vault-url = \"https://v.vault.azure.net\"\n{pasted} = 1\n");
        let json = format!("{{\"vault-url\": \"https://v.vault.azure.net\", \"{pasted}\": 1}}");
        // TOML's `Display` shows the document's line, as for any error; the message is ours.
        for message in [
            parse(&unknown).unwrap_err().message().to_owned(),
            serde_json::from_str::<AzureKeyVaultConfig>(&json)
                .unwrap_err()
                .to_string(),
        ] {
            assert!(message.contains("is not one of its settings"), "{message}");
            assert!(!message.contains(pasted), "{message}");
        }
        let message = serde_json::from_str::<AzureKeyVaultConfig>(&format!("\"{pasted}\""))
            .unwrap_err()
            .to_string();
        assert!(message.contains("must be a table of settings"), "{message}");
        assert!(!message.contains(pasted), "{message}");
    }

    #[test]
    fn every_setting_is_a_key_the_connection_reads() {
        for setting in SETTINGS {
            // A value of the wrong type for every setting: refused for its value, never as a
            // key that is no setting.
            let text = format!("vault-url = \"https://v.vault.azure.net\"\n{setting} = {{}}\n");
            let message = match parse(&text) {
                Ok(_) => continue,
                Err(e) => e.to_string(),
            };
            assert!(
                !message.contains("not one of its settings") && !message.contains("unknown field"),
                "{setting}: {message}"
            );
        }
    }

    #[test]
    fn a_misplaced_secret_is_never_quoted() {
        for secret in [
            "\"bare-secret-value\"",
            "12345678901234",
            "{ value = 12345678901234 }",
            "{ value = true }",
            "{ secret = \"bare-secret-value\" }",
            "{ env = \"A\", value = \"bare-secret-value\" }",
        ] {
            let error = parse(&config(secret)).unwrap_err();
            let message = error.message();
            assert!(
                !message.contains("bare-secret-value"),
                "{secret}: {message}"
            );
            assert!(!message.contains("12345678901234"), "{secret}: {message}");
            assert!(
                message.contains("client secret") || message.contains("client-secret"),
                "{secret}: {message}"
            );
        }
    }

    #[test]
    fn a_secret_typed_in_another_setting_is_never_quoted() {
        let base = "vault-url = \"https://corp-vault.vault.azure.net\"\n";
        for (setting, expected) in [
            ("credential", "`credential` must be one of"),
            (
                "allow-custom-host",
                "`allow-custom-host` must be true or false",
            ),
            ("deadline-ms", "timeouts and deadlines must be"),
            ("connect-timeout-ms", "timeouts and deadlines must be"),
            ("try-timeout-ms", "timeouts and deadlines must be"),
            ("max-retries", "`max-retries` must be a whole number"),
            ("extra-ca-files", "`extra-ca-files` must be a list of paths"),
        ] {
            for typed in [
                "\"bare-secret-value\"",
                "[\"bare-secret-value\"]",
                "{ value = \"bare-secret-value\" }",
                "-12345678901234",
            ] {
                let text = format!("{base}{setting} = {typed}\n");
                if setting == "extra-ca-files" && typed.starts_with('[') {
                    // A list of strings is what belongs there.
                    parse(&text).unwrap();
                    continue;
                }
                let error = parse(&text).unwrap_err();
                let message = error.message();
                assert!(!message.contains("bare-secret-value"), "{text}: {message}");
                assert!(!message.contains("12345678901234"), "{text}: {message}");
                assert!(message.starts_with(expected), "{text}: {message}");
                let json = format!(
                    r#"{{"vault-url": "https://corp-vault.vault.azure.net", "{setting}": "bare-secret-value"}}"#
                );
                let error = serde_json::from_str::<AzureKeyVaultConfig>(&json).unwrap_err();
                assert!(!error.to_string().contains("bare-secret-value"), "{error}");
            }
        }
        let too_many = parse(&format!("{base}max-retries = 4294967296\n")).unwrap_err();
        assert!(
            too_many.message().starts_with("`max-retries` must be"),
            "{too_many}"
        );
    }

    #[test]
    fn every_credential_kind_and_list_of_ca_files_reads() {
        for (name, kind) in [
            ("client-secret", CredentialKind::ClientSecret),
            ("managed-identity", CredentialKind::ManagedIdentity),
            ("workload-identity", CredentialKind::WorkloadIdentity),
            ("developer-tools", CredentialKind::DeveloperTools),
        ] {
            let config = parse(&format!(
                "vault-url = \"https://v.vault.azure.net\"\ncredential = \"{name}\"\n"
            ))
            .unwrap();
            assert_eq!(config.credential, Some(kind));
        }
        let config = parse(
            "vault-url = \"https://v.vault.azure.net\"\nallow-custom-host = true\nextra-ca-files = [\"/a.pem\", \"/b.pem\"]\nconnect-timeout-ms = 10\ntry-timeout-ms = 20\nmax-retries = 0\n",
        )
        .unwrap();
        assert!(config.allow_custom_host);
        assert_eq!(
            config.extra_ca_files,
            [PathBuf::from("/a.pem"), PathBuf::from("/b.pem")]
        );
        assert_eq!(
            (
                config.connect_timeout_ms,
                config.try_timeout_ms,
                config.deadline_ms
            ),
            (Some(10), Some(20), None)
        );
        assert_eq!(config.max_retries, Some(0));
        let defaults = parse("vault-url = \"https://v.vault.azure.net\"\n").unwrap();
        assert!(!defaults.allow_custom_host);
        assert!(defaults.extra_ca_files.is_empty());
        assert_eq!(defaults.max_retries, None);
    }

    #[test]
    fn other_credentials_and_transport_settings() {
        let text = format!(
            "name = \"corp\"\nvault-url = \"https://corp-vault.vault.azure.net\"\ncredential = \"managed-identity\"\nmanaged-identity-client-id = \"{GUID}\"\ndeadline-ms = 2500\nmax-retries = 1\n"
        );
        let config = parse(&text).unwrap();
        assert_eq!(config.credential, Some(CredentialKind::ManagedIdentity));
        assert_eq!(config.connection().unwrap().name().as_str(), "corp");
        let backend = config.builder().unwrap().build().unwrap();
        assert!(format!("{backend:?}").contains("2.5s"), "{backend:?}");
        let pasted = parse(&format!(
            "vault-url = \"https://admin:pw-canary@corp-vault.vault.azure.net\"\nclient-id = \"Sts8Q~pasted.canary\"\ntenant-id = \"{GUID}\"\n"
        ))
        .unwrap();
        let debug = format!("{pasted:?}");
        assert!(!debug.contains("canary"), "{debug}");
        assert!(debug.contains(GUID), "valid settings are shown: {debug}");
        let unknown = parse(
            "vault-url = \"https://corp-vault.vault.azure.net\"\nclient-secrt = { env = \"X\" }\n",
        );
        assert!(unknown.is_err(), "unknown keys are refused");
    }
}
