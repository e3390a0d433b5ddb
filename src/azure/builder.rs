//! [`AzureKeyVaultBuilder`]: a Key Vault connection as an administrator enters it.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, HttpClient, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, DeveloperToolsCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use secrecy::{ExposeSecret, SecretString};

use super::backend::AzureKeyVaultBackend;
use super::retry::VaultRetryPolicy;
use super::validate::{self, Cloud, VaultUrl};
use crate::error::{Error, Result};
use crate::value::secret_string;

/// The environment variables [`AzureKeyVaultBuilder::from_env`] reads.
pub const ENV_VAULT_URL: &str = "AZURE_KEYVAULT_URL";
/// The tenant ID variable.
pub const ENV_TENANT_ID: &str = "AZURE_TENANT_ID";
/// The client ID variable.
pub const ENV_CLIENT_ID: &str = "AZURE_CLIENT_ID";
/// The client secret variable.
pub const ENV_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
/// The Entra ID authority host variable (optional).
pub const ENV_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";

/// How the backend obtains tokens, other than a client secret.
#[derive(Clone)]
enum CredentialChoice {
    WorkloadIdentity,
    ManagedIdentity { client_id: Option<String> },
    DeveloperTools,
    Custom(Arc<dyn TokenCredential>),
}

/// Builds an [`AzureKeyVaultBackend`]: the fields an administrator enters to connect a vault
/// (vault URL, tenant ID, client ID, client secret; the connection's name goes to
/// [`Connection::new`](crate::Connection::new)), plus the transport.
///
/// Nothing is checked or sent until [`build`](Self::build), which validates every field before
/// any I/O and names the field and the fix when one is wrong.
///
/// ```no_run
/// # async fn demo() -> secretscope::Result<()> {
/// use secretscope::azure::AzureKeyVaultBuilder;
/// use secretscope::Connection;
///
/// let backend = AzureKeyVaultBuilder::new()
///     .with_vault_url("https://corp-vault.vault.azure.net")
///     .with_tenant_id("72f988bf-86f1-41af-91ab-2d7cd011db47")
///     .with_client_id("1b730954-1685-4b74-9bfd-dac224a7b894")
///     .with_client_secret(std::env::var("CORP_VAULT_SECRET").unwrap_or_default())
///     .build()?;
/// let connection = Connection::new("corp-vault", backend);
/// println!("{}", connection.check().await); // "Connection successful: ..." or what to fix
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct AzureKeyVaultBuilder {
    vault_url: Option<String>,
    tenant_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    credential: Option<CredentialChoice>,
    authority_host: Option<String>,
    allow_custom_host: bool,
    from_env: bool,
    api_version: Option<String>,
    connect_timeout: Duration,
    try_timeout: Duration,
    deadline: Duration,
    max_retries: u32,
    initial_retry_delay: Duration,
    max_retry_delay: Duration,
    extra_ca_pem: Vec<String>,
    resolve: Vec<(String, SocketAddr)>,
    http_client: Option<Arc<dyn HttpClient>>,
}

impl Default for AzureKeyVaultBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AzureKeyVaultBuilder {
    /// Nothing set; timeouts and retries at their defaults (see each `with_*`).
    pub fn new() -> Self {
        Self {
            vault_url: None,
            tenant_id: None,
            client_id: None,
            client_secret: None,
            credential: None,
            authority_host: None,
            allow_custom_host: false,
            from_env: false,
            api_version: None,
            // Three tries (two retries) of at most 3 s, with their back-off, fit in the 10 s
            // deadline: the last try's own error, not the deadline, says what went wrong.
            connect_timeout: Duration::from_secs(2),
            try_timeout: Duration::from_secs(3),
            deadline: Duration::from_secs(10),
            max_retries: 2,
            initial_retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(2),
            extra_ca_pem: Vec::new(),
            resolve: Vec::new(),
            http_client: None,
        }
    }

    /// Reads `AZURE_KEYVAULT_URL`, `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and,
    /// if set, `AZURE_AUTHORITY_HOST`. Missing variables are reported by
    /// [`build`](Self::build), naming the variable.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
        let mut builder = Self::new();
        builder.from_env = true;
        builder.vault_url = var(ENV_VAULT_URL);
        builder.tenant_id = var(ENV_TENANT_ID);
        builder.client_id = var(ENV_CLIENT_ID);
        builder.client_secret = var(ENV_CLIENT_SECRET).map(trimmed_secret);
        builder.authority_host = var(ENV_AUTHORITY_HOST);
        builder
    }

    /// The vault's URI, such as `https://corp-vault.vault.azure.net`.
    pub fn with_vault_url(mut self, url: impl Into<String>) -> Self {
        self.vault_url = Some(url.into());
        self
    }

    /// The Directory (tenant) ID of the app registration: a GUID or a domain.
    pub fn with_tenant_id(mut self, tenant_id: impl Into<String>) -> Self {
        self.tenant_id = Some(tenant_id.into());
        self
    }

    /// The Application (client) ID of the app registration: a GUID.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret's value (surrounding whitespace is ignored). It is never printed, and
    /// this builder keeps it in a zeroize-on-drop buffer; the Azure SDK's credential keeps its
    /// own copy, which it does not zeroize, for the backend's lifetime.
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(trimmed_secret(secret.into()));
        self
    }

    /// Authenticate with Kubernetes workload identity (`AZURE_FEDERATED_TOKEN_FILE`), using the
    /// tenant and client IDs given or those of the environment.
    pub fn with_workload_identity(mut self) -> Self {
        self.credential = Some(CredentialChoice::WorkloadIdentity);
        self
    }

    /// Authenticate with the host's managed identity: system-assigned, or the user-assigned
    /// identity with `client_id`.
    pub fn with_managed_identity(mut self, client_id: Option<String>) -> Self {
        self.credential = Some(CredentialChoice::ManagedIdentity { client_id });
        self
    }

    /// Authenticate as the developer signed in to the Azure CLI (`az login`) or the Azure
    /// Developer CLI, for local development.
    pub fn with_developer_tools_credential(mut self) -> Self {
        self.credential = Some(CredentialChoice::DeveloperTools);
        self
    }

    /// Authenticate with any credential of the Azure SDK.
    pub fn with_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(CredentialChoice::Custom(credential));
        self
    }

    /// The Entra ID authority host. By default, and normally, the host of the vault's cloud
    /// (`https://login.microsoftonline.com`, `https://login.chinacloudapi.cn`,
    /// `https://login.microsoftonline.us`); any other host, where the client secret would be
    /// sent, needs [`with_allow_custom_host`](Self::with_allow_custom_host).
    pub fn with_authority_host(mut self, url: impl Into<String>) -> Self {
        self.authority_host = Some(url.into());
        self
    }

    /// Accept a vault host outside the known clouds' Key Vault suffixes, and an authority host
    /// other than the vault's cloud's own: for local stand-ins only.
    pub fn with_allow_custom_host(mut self, allow: bool) -> Self {
        self.allow_custom_host = allow;
        self
    }

    /// The Key Vault REST API version; the SDK's stable default (`2025-07-01`) otherwise.
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Extra CA certificates (PEM, one or more) to trust besides the system roots, for
    /// corporate TLS inspection or local stand-ins. Used for the vault and for Entra ID.
    pub fn with_extra_ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.extra_ca_pem.push(pem.into());
        self
    }

    /// How long to wait for a TCP and TLS connection (default 2 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one try of a request may take (default 3 s).
    pub fn with_try_timeout(mut self, timeout: Duration) -> Self {
        self.try_timeout = timeout;
        self
    }

    /// How many times a failed request is retried (default 2): 408, 5xx, timeouts and
    /// connection failures, with exponential back-off. Throttling (429) is not retried here: it
    /// is reported at once with the service's retry-after, for the cache and callers to honour.
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first and the longest back-off between retries (default 200 ms and 2 s); a
    /// service's `Retry-After` is honoured up to the longest.
    pub fn with_retry_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_retry_delay = initial;
        self.max_retry_delay = max;
        self
    }

    /// The overall deadline of one fetch, tries and back-off included (default 10 s): an
    /// unreachable vault fails within it.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Connect to `addr` whenever `host` is asked for (like an `/etc/hosts` line), for tests and
    /// split-horizon networks. TLS still checks the certificate against `host`.
    pub fn with_resolve(mut self, host: impl Into<String>, addr: SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// Send requests through this HTTP client instead of the built-in one (then the CA roots,
    /// connect and try timeouts and resolve settings are the client's business).
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http_client = Some(client);
        self
    }

    fn field(&self, label: &str, env: &str) -> String {
        if self.from_env {
            format!("{label} ({env})")
        } else {
            label.to_owned()
        }
    }

    /// Validates every setting, then builds the backend. No request is sent: use
    /// [`Connection::check`](crate::Connection::check) to test the connection.
    pub fn build(self) -> Result<AzureKeyVaultBackend> {
        let raw_url = self.vault_url.as_deref().unwrap_or_default();
        let vault = validate::vault_url(raw_url, self.allow_custom_host)
            .map_err(|e| relabel(e, &self.field("vault URL", ENV_VAULT_URL)))?;
        if self.deadline.is_zero() || self.try_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(Error::invalid_config(
                "timeouts",
                "the deadline, try timeout and connect timeout must be longer than zero",
            ));
        }
        let cloud = self.cloud(&vault)?;
        let client_options = self.client_options(cloud)?;
        let credential = self.credential(&client_options)?;
        let options = SecretClientOptions {
            api_version: self
                .api_version
                .clone()
                .unwrap_or_else(|| SecretClientOptions::default().api_version),
            client_options,
            // The challenge check keeps tokens from going to a host that merely claims to be a
            // vault. Only a bare loopback stand-in, which can never pass it, skips it.
            verify_challenge_resource: Some(!validate::skips_challenge_check(&vault.host)),
        };
        let client = SecretClient::new(&vault.url, credential, Some(options)).map_err(|e| {
            Error::InvalidConfig {
                field: "vault URL".to_owned(),
                reason: "the Azure SDK refused it".to_owned(),
                source: Some(crate::ErrorSource::new(e)),
            }
        })?;
        Ok(AzureKeyVaultBackend::new(
            vault,
            Arc::new(client),
            self.deadline,
            self.credential_hint(),
        ))
    }

    /// What to check when the credential in use cannot get a token.
    fn credential_hint(&self) -> &'static str {
        match &self.credential {
            None => "check the tenant ID, client ID and client secret",
            Some(CredentialChoice::WorkloadIdentity) => {
                "check the workload identity: the federated token file, the client and tenant IDs, and the federated credential of the app registration"
            }
            Some(CredentialChoice::ManagedIdentity { .. }) => {
                "check that the host has a managed identity (and, for a user-assigned one, its client ID)"
            }
            Some(CredentialChoice::DeveloperTools) => {
                "sign in with `az login` (or `azd auth login`) as a user who may read the vault"
            }
            Some(CredentialChoice::Custom(_)) => "check the credential given to the builder",
        }
    }

    /// The cloud whose Entra ID issues tokens. The client secret is sent to its authority host,
    /// so a host other than the vault's cloud's own needs custom hosts allowed explicitly; and
    /// nothing is left for the SDK to pick up from the environment behind the caller's back.
    fn cloud(&self, vault: &VaultUrl) -> Result<Option<Arc<CloudConfiguration>>> {
        let own = match vault.cloud {
            Cloud::Public | Cloud::Custom => CloudConfiguration::AzurePublic,
            Cloud::China => CloudConfiguration::AzureChina,
            Cloud::UsGovernment => CloudConfiguration::AzureGovernment,
        };
        let Some(raw) = &self.authority_host else {
            return Ok(Some(Arc::new(own)));
        };
        let field = self.field("authority host", ENV_AUTHORITY_HOST);
        let host = validate::authority_host(raw).map_err(|e| relabel(e, &field))?;
        if host == validate::authority_of(vault.cloud) {
            return Ok(Some(Arc::new(own)));
        }
        if !self.allow_custom_host {
            return Err(Error::invalid_config(
                field,
                format!(
                    "`{host}` is not the Entra ID host of the vault's cloud ({}), and the client secret would be sent there; fix it, or allow custom hosts explicitly for a local stand-in",
                    validate::authority_of(vault.cloud)
                ),
            ));
        }
        let mut custom = CustomConfiguration::default();
        custom.authority_host = host;
        Ok(Some(Arc::new(CloudConfiguration::Custom(custom))))
    }

    fn client_options(&self, cloud: Option<Arc<CloudConfiguration>>) -> Result<ClientOptions> {
        let http: Arc<dyn HttpClient> = match &self.http_client {
            Some(client) => Arc::clone(client),
            None => Arc::new(self.reqwest_client()?),
        };
        let retry = RetryOptions::custom(Arc::new(VaultRetryPolicy::new(
            self.initial_retry_delay,
            self.max_retry_delay,
            self.max_retries,
            self.deadline,
        )));
        Ok(ClientOptions {
            transport: Some(Transport::new(http)),
            retry,
            cloud,
            ..ClientOptions::default()
        })
    }

    fn reqwest_client(&self) -> Result<reqwest::Client> {
        let mut builder = reqwest::Client::builder()
            // The SDK's own client does not follow redirects either: a redirect could carry the
            // bearer token to another host.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.try_timeout);
        for (i, pem) in self.extra_ca_pem.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .ok()
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    Error::invalid_config(
                        "extra CA roots",
                        format!(
                            "entry {} is not a PEM certificate (-----BEGIN CERTIFICATE-----)",
                            i + 1
                        ),
                    )
                })?;
            builder = builder.tls_certs_merge(certs);
        }
        for (host, addr) in &self.resolve {
            builder = builder.resolve(host, *addr);
        }
        builder.build().map_err(|e| Error::InvalidConfig {
            field: "transport".to_owned(),
            reason: "the HTTP client could not be built".to_owned(),
            source: Some(crate::ErrorSource::new(e)),
        })
    }

    fn credential(&self, client_options: &ClientOptions) -> Result<Arc<dyn TokenCredential>> {
        let sdk_error = |field: &str, e: azure_core::Error| Error::InvalidConfig {
            field: field.to_owned(),
            reason: "the Azure SDK refused it".to_owned(),
            source: Some(crate::ErrorSource::new(e)),
        };
        match &self.credential {
            Some(CredentialChoice::Custom(credential)) => Ok(Arc::clone(credential)),
            Some(CredentialChoice::WorkloadIdentity) => {
                let mut options = WorkloadIdentityCredentialOptions::default();
                options.credential_options.client_options = client_options.clone();
                options.tenant_id = self
                    .tenant_id
                    .as_deref()
                    .map(validate::tenant_id)
                    .transpose()?;
                options.client_id = self
                    .client_id
                    .as_deref()
                    .map(validate::client_id)
                    .transpose()?;
                let credential = WorkloadIdentityCredential::new(Some(options))
                    .map_err(|e| sdk_error("workload identity", e))?;
                Ok(credential)
            }
            Some(CredentialChoice::ManagedIdentity { client_id }) => {
                let options = ManagedIdentityCredentialOptions {
                    user_assigned_id: client_id
                        .as_deref()
                        .map(validate::client_id)
                        .transpose()?
                        .map(UserAssignedId::ClientId),
                    client_options: client_options.clone(),
                };
                let credential = ManagedIdentityCredential::new(Some(options))
                    .map_err(|e| sdk_error("managed identity", e))?;
                Ok(credential)
            }
            Some(CredentialChoice::DeveloperTools) => {
                let credential = DeveloperToolsCredential::new(None)
                    .map_err(|e| sdk_error("developer tools credential", e))?;
                Ok(credential)
            }
            None => self.client_secret_credential(client_options),
        }
    }

    fn client_secret_credential(
        &self,
        client_options: &ClientOptions,
    ) -> Result<Arc<dyn TokenCredential>> {
        let missing = |label: &str, env: &str, what: &str| {
            Error::invalid_config(
                self.field(label, env),
                format!(
                    "it is empty; {what}, or choose another credential (managed identity, workload identity, developer tools)"
                ),
            )
        };
        let tenant = self.tenant_id.as_deref().ok_or_else(|| {
            missing(
                "tenant ID",
                ENV_TENANT_ID,
                "enter the Directory (tenant) ID of the app registration",
            )
        })?;
        let tenant = validate::tenant_id(tenant)
            .map_err(|e| relabel(e, &self.field("tenant ID", ENV_TENANT_ID)))?;
        let client = self.client_id.as_deref().ok_or_else(|| {
            missing(
                "client ID",
                ENV_CLIENT_ID,
                "enter the Application (client) ID of the app registration",
            )
        })?;
        let client = validate::client_id(client)
            .map_err(|e| relabel(e, &self.field("client ID", ENV_CLIENT_ID)))?;
        let secret = self
            .client_secret
            .as_ref()
            .filter(|s| !s.expose_secret().trim().is_empty())
            .ok_or_else(|| {
                missing(
                    "client secret",
                    ENV_CLIENT_SECRET,
                    "create one under the app registration's Certificates & secrets and enter its Value",
                )
            })?;
        let options = ClientSecretCredentialOptions {
            client_options: client_options.clone(),
        };
        let secret = azure_core::credentials::Secret::new(secret.expose_secret().to_owned());
        ClientSecretCredential::new(&tenant, client, secret, Some(options))
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| Error::InvalidConfig {
                field: "client secret credential".to_owned(),
                reason: "the Azure SDK refused the tenant ID, client ID or secret".to_owned(),
                source: Some(crate::ErrorSource::new(e)),
            })
    }
}

/// Keeps a client secret without surrounding whitespace (Entra ID secrets have none; a pasted
/// one often does), leaving no unzeroized copy behind.
fn trimmed_secret(secret: String) -> SecretString {
    if secret.trim().len() == secret.len() {
        return secret_string(secret);
    }
    let trimmed = secret_string(secret.trim().to_owned());
    secret_string(secret); // wiped on drop
    trimmed
}

/// Puts the builder's field label (which may name an environment variable) on a validation error.
fn relabel(error: Error, field: &str) -> Error {
    match error {
        Error::InvalidConfig { reason, source, .. } => Error::InvalidConfig {
            field: field.to_owned(),
            reason,
            source,
        },
        other => other,
    }
}

impl fmt::Debug for AzureKeyVaultBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let credential = match (&self.credential, &self.client_secret) {
            (Some(CredentialChoice::WorkloadIdentity), _) => "workload identity",
            (Some(CredentialChoice::ManagedIdentity { .. }), _) => "managed identity",
            (Some(CredentialChoice::DeveloperTools), _) => "developer tools",
            (Some(CredentialChoice::Custom(_)), _) => "custom",
            (None, Some(_)) => "client secret ([REDACTED])",
            (None, None) => "none",
        };
        f.debug_struct("AzureKeyVaultBuilder")
            // Typed values are printed only once they validate: a URL may carry a password
            // (`user:pw@host`), and an ID field may hold a secret pasted into the wrong place.
            .field(
                "vault_url",
                &validate::printable(self.vault_url.as_deref(), |u| {
                    validate::vault_url(u, self.allow_custom_host).map(|v| v.url)
                }),
            )
            .field(
                "tenant_id",
                &validate::printable(self.tenant_id.as_deref(), validate::tenant_id),
            )
            .field(
                "client_id",
                &validate::printable(self.client_id.as_deref(), validate::client_id),
            )
            .field("credential", &credential)
            .field(
                "authority_host",
                &validate::printable(self.authority_host.as_deref(), validate::authority_host),
            )
            .field("allow_custom_host", &self.allow_custom_host)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
