//! Test support for services that use secretscope (cargo feature `testing`):
//!
//! - [`Fixture`]: secrets for the workspace and each project in memory, and managers over
//!   them, to test code that resolves secrets without a vault;
//! - [`StandIn`]: a local HTTPS stand-in of Azure Key Vault and Entra ID, to test the Azure
//!   backend (and code built on it) through the real Azure SDK over real TLS, without an Azure
//!   account or a network. [`StandIn::manager`] gives a ready manager that trusts it.
//!
//! [`StandIn::start`] generates a throw-away CA and serves every host below on one loopback
//! port; [`StandIn::builder`] gives an [`AzureKeyVaultBuilder`] that trusts that CA, pins the
//! hosts to the port, sends the client secret to the stand-in's Entra ID and allows its custom
//! hosts. Requests are dispatched on their `Host` header:
//!
//! | host | serves |
//! |---|---|
//! | [`LOGIN_HOST`] | Entra ID: `POST /{tenant}/oauth2/v2.0/token` (client credentials) |
//! | [`PRIMARY_HOST`] | a Key Vault using the RBAC permission model |
//! | [`SECONDARY_HOST`] | a Key Vault using the access-policy permission model |
//! | `localhost`, `127.0.0.1` | a Key Vault of its own (RBAC model) |
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use secretscope::prelude::*;
//! use secretscope::testing::{PRIMARY_HOST, Seed, StandIn};
//! use secretscope::{Connection, SecretName};
//!
//! let stand_in = StandIn::start().await?;
//! stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("hunter2"));
//!
//! let vault = stand_in.builder(PRIMARY_HOST).build()?;
//! let fetched = vault.fetch(&SecretName::new("db-password")?, None).await?;
//! assert_eq!(fetched.secret.expose_secret(), "hunter2");
//! assert!(Connection::new("local", vault).check().await.is_success());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Identities
//!
//! One tenant, [`TENANT_ID`]; every application has the secret [`CLIENT_SECRET`]:
//! - [`CLIENT_ID`] may get, set, update and delete secrets in every vault;
//! - [`NO_ACCESS_CLIENT_ID`] authenticates, but has no role and no access policy;
//! - [`EXPIRED_SECRET_CLIENT_ID`]'s secret has expired.
//!
//! # What it answers
//!
//! Only what the real services answer, in status, error codes, message texts and headers, as
//! recorded from real vaults and Entra ID:
//!
//! | request | answer |
//! |---|---|
//! | no token | 401 `Unauthorized`, `AKV10000: Request is missing a Bearer or PoP token.`, with the `WWW-Authenticate` challenge |
//! | a token it never issued | 401 `Unauthorized`, `[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'.`, with the challenge |
//! | an expired token ([`StandIn::expire_tokens`]) | 401 `Unauthorized`, `[TokenExpired] Error validating token: 'S2S12086'.`, with the challenge |
//! | a token for another resource | 401 `Unauthorized`, `AKV10022: Invalid audience. Expected ..., found: ....`, with the challenge |
//! | no role (RBAC vault) | 403 `Forbidden` / `ForbiddenByRbac`, `Caller is not authorized to perform action on resource.` and the lines naming caller, action and `DecisionReason` |
//! | no access policy | 403 `Forbidden` / `AccessDenied`, `... does not have secrets get permission on key vault ...` |
//! | a missing secret or version | 404 `SecretNotFound` |
//! | a disabled secret | 403 `Forbidden` / `SecretDisabled`, `Operation get is not allowed on a disabled secret.` |
//! | an expired or not-yet-valid secret | 200 with the secret: the dates are the client's to honour |
//! | a name that differs only in case | the same secret |
//! | an empty value | stored and returned |
//! | `PATCH /secrets/{name}/[{version}]` | updates that version, or the latest, and answers without the value |
//! | `DELETE /secrets/{name}` | soft-deletes it; reusing the name is 409 `Conflict` / `ObjectIsDeletedButRecoverable` |
//! | a missing or unknown `api-version`, an invalid name | 400 `BadParameter` |
//! | a bad client secret, an expired one, an unknown application, tenant or resource | Entra ID's `AADSTS7000215`, `AADSTS7000222`, `AADSTS700016`, `AADSTS90002`, `AADSTS500011`, descriptions ending in `\r\nTrace ID: ...` as Entra ID sends them |
//!
//! Every vault answer carries `x-ms-request-id` and Key Vault's other headers. The challenge
//! names the resource [`CHALLENGE_RESOURCE`], which passes the SDK's challenge check for the
//! `*.localhost` vault hosts; [`StandIn::set_challenge_resource`] makes it name another.
//!
//! Requests outside the part of the secrets API it serves (get, set, update, delete) get a
//! plain-text 404 or 405 that says so: those are the stand-in's own answers, never Key Vault's.
//!
//! # Faults
//!
//! A [`Fault`] makes one host misbehave, once ([`StandIn::inject`]: the next request, or the
//! next TLS handshake) or until cleared ([`StandIn::set_fault`], [`StandIn::clear_faults`]):
//!
//! | fault | what the client gets |
//! |---|---|
//! | [`Fault::throttled`] | Key Vault's 429 `Throttled`, with or without `Retry-After` |
//! | [`Fault::internal_error`], [`Fault::service_unavailable`] | Key Vault's 500 `InternalServerError`, 503 `ServiceUnavailable` (optionally with `Retry-After`) |
//! | [`Fault::expired_tokens`] | 401 `[TokenExpired]` with the challenge for tokens the vault accepted before |
//! | [`Fault::slow`] | the normal answer, late |
//! | [`Fault::hang`] | no answer at all, on an open connection |
//! | [`Fault::connection_reset`] | the normal answer's status, headers and half its body, then a TCP reset |
//! | [`Fault::truncated_body`] | the normal answer with half its body (shorter than its `Content-Length`), then the connection closed |
//! | [`Fault::not_json`] | 200 with an HTML page (a captive portal or proxy) |
//! | [`Fault::untrusted_certificate`] | a TLS certificate from a CA the client was never given |
//! | [`Fault::new`] | any answer at all, exactly as given |
//!
//! Every HTTP answer a fault gives is the real service's (status, body, headers); the others
//! are what a network, a proxy or a restarting server does. [`StandIn::requests`] and
//! [`StandIn::handshakes`] show what reached the stand-in, to count a client's retries.
//!
//! # Going down and coming back
//!
//! [`StandIn::stop`] closes the listener and every open connection, as a vault going away does;
//! [`StandIn::restart`] serves again on the same port with the same certificates, secrets and
//! tokens, so clients built before carry on without any change.
//!
//! No answer, request log entry or `Debug` output holds a client secret or a token.

mod entra;
mod fault;
mod fixture;
mod server;
/// [`StandIn::builder`] for a stand-in listening at `addr` whose CA is `ca_pem`, such as one
/// started in another process (which then shares only those two).
pub fn builder_at(addr: SocketAddr, ca_pem: &str, host: &str) -> AzureKeyVaultBuilder {
    let port = addr.port();
    let mut builder = AzureKeyVaultBuilder::new()
        .with_vault_url(format!("https://{host}:{port}"))
        .with_allow_custom_host(true)
        .with_tenant_id(TENANT_ID)
        .with_client_id(CLIENT_ID)
        .with_client_secret(CLIENT_SECRET)
        .with_authority_host(format!("https://{LOGIN_HOST}:{port}"))
        .with_extra_ca_pem(ca_pem);
    let hosts = StandIn::hosts();
    for name in hosts {
        builder = builder.with_resolve(name, addr);
    }
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        builder = builder.with_resolve(host, addr);
    }
    builder
}

#[cfg(test)]
mod tests;
mod tls;
mod vault;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::azure::AzureKeyVaultBuilder;
use crate::reference::SecretVersion;
pub use fault::Fault;
pub use fixture::Fixture;
use server::{Shared, State};

/// The only tenant the token endpoint knows.
pub const TENANT_ID: &str = "7f3c2a1e-5b4d-4c8e-9a6f-0d1e2b3c4a5f";
/// A registered application with the secret [`CLIENT_SECRET`], allowed to get, set, update and
/// delete secrets in every vault.
pub const CLIENT_ID: &str = "2b8e4f6a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
/// The secret of every registered application. A test value, known to everyone.
pub const CLIENT_SECRET: &str = "Sts8Q~stand-in.client-secret_0123456789abcd";
/// A registered application with the secret [`CLIENT_SECRET`]: it authenticates, but has no
/// role (RBAC vault: 403 `ForbiddenByRbac`) and no access policy (access-policy vault: 403
/// `AccessDenied`).
pub const NO_ACCESS_CLIENT_ID: &str = "9d4c7b2e-6f1a-4b3c-8d5e-2f6a7b8c9d0e";
/// A registered application whose secret [`CLIENT_SECRET`] has expired: 401 `AADSTS7000222`.
pub const EXPIRED_SECRET_CLIENT_ID: &str = "4e1a9c3b-8d2f-4a6e-b5c7-3d9e0f1a2b4c";
/// The `api-version` the SDK sends. The vaults also accept Key Vault's earlier stable versions
/// (`7.0` to `7.6`, `2016-10-01`), and refuse any other with 400 `BadParameter`.
pub const API_VERSION: &str = "2025-07-01";
/// The resource the vaults' challenge names by default (so the scope is
/// `https://localhost/.default`).
pub const CHALLENGE_RESOURCE: &str = "https://localhost";
/// The host of the token endpoint.
pub const LOGIN_HOST: &str = "login.localhost";
/// The host of the RBAC-model vault.
pub const PRIMARY_HOST: &str = "primary.localhost";
/// The host of the access-policy-model vault.
pub const SECONDARY_HOST: &str = "secondary.localhost";

/// One request the stand-in received (token requests included), in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// `GET`, `PUT`, `POST`, ...
    pub method: String,
    /// The `Host` header without the port, lower-cased.
    pub host: String,
    /// As sent, such as `/secrets/db-password/?api-version=2025-07-01`.
    pub path_and_query: String,
    /// Whether the request carried an `Authorization` header (valid or not).
    pub authorized: bool,
    /// The status the stand-in answered; 0 when it sent none ([`Fault::hang`]).
    pub status: u16,
    /// Token requests: the form's `client_id`. Vault requests: the client a *valid* token was
    /// issued to (`None` without one).
    pub client_id: Option<String>,
}

/// One TLS handshake the stand-in took part in, in arrival order of the clients' hellos.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Handshake {
    /// The host the client asked for (its SNI), lower-cased; empty when it named none.
    pub host: String,
    /// Whether the stand-in presented the certificate no client trusts
    /// ([`Fault::untrusted_certificate`]).
    pub untrusted_certificate: bool,
    /// Whether the handshake has completed (so far: it is recorded when the client's hello
    /// arrives). A client refusing the certificate ends it uncompleted.
    pub completed: bool,
}

/// A secret version to store with [`StandIn::seed`], directly rather than through the SDK.
///
/// `Debug` does not show the value.
#[derive(Clone)]
#[must_use]
pub struct Seed {
    value: String,
    content_type: Option<String>,
    tags: Vec<(String, String)>,
    enabled: bool,
    not_before: Option<OffsetDateTime>,
    expires: Option<OffsetDateTime>,
}

impl Seed {
    /// An enabled secret with this value and nothing else.
    pub fn value(value: impl Into<String>) -> Seed {
        Seed {
            value: value.into(),
            content_type: None,
            tags: Vec::new(),
            enabled: true,
            not_before: None,
            expires: None,
        }
    }

    /// Sets the content type.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Seed {
        self.content_type = Some(content_type.into());
        self
    }

    /// Adds a tag.
    pub fn with_tag(mut self, name: impl Into<String>, value: impl Into<String>) -> Seed {
        self.tags.push((name.into(), value.into()));
        self
    }

    /// Sets whether the secret is enabled.
    pub fn with_enabled(mut self, enabled: bool) -> Seed {
        self.enabled = enabled;
        self
    }

    /// Sets the not-before date.
    pub fn with_not_before(mut self, not_before: OffsetDateTime) -> Seed {
        self.not_before = Some(not_before);
        self
    }

    /// Sets the expiry date.
    pub fn with_expires(mut self, expires: OffsetDateTime) -> Seed {
        self.expires = Some(expires);
        self
    }

    /// The `SetSecretParameters` JSON the SDK would send for this seed.
    fn to_params(&self) -> Value {
        let mut attributes = json!({ "enabled": self.enabled });
        if let Some(nbf) = self.not_before {
            attributes["nbf"] = json!(nbf.unix_timestamp());
        }
        if let Some(exp) = self.expires {
            attributes["exp"] = json!(exp.unix_timestamp());
        }
        let mut params = json!({ "value": self.value, "attributes": attributes });
        if let Some(ct) = &self.content_type {
            params["contentType"] = json!(ct);
        }
        if !self.tags.is_empty() {
            params["tags"] = self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        params
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Seed")
            .field("value", &format_args!("[REDACTED]"))
            .field("content_type", &self.content_type)
            .field("tags", &self.tags)
            .field("enabled", &self.enabled)
            .field("not_before", &self.not_before)
            .field("expires", &self.expires)
            .finish()
    }
}

/// The running stand-in of Key Vault and Entra ID; see the [module documentation](self).
///
/// The server runs on the Tokio runtime that started it, and stops, closing every open
/// connection, when the `StandIn` is dropped. [`stop`](Self::stop) and
/// [`restart`](Self::restart) take it down and bring it back on the same port, with the same
/// certificates and data. `Debug` shows the address only.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// The server while it runs.
    running: Mutex<Option<Running>>,
}

/// A running server: dropping `stop` stops it.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl fmt::Debug for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandIn")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl StandIn {
    /// Generates the certificates, binds `127.0.0.1:0` and spawns the server on the current
    /// Tokio runtime (which needs its I/O driver: `#[tokio::test]`, `#[tokio::main]`, or a
    /// runtime built with `enable_all()`).
    ///
    /// # Errors
    ///
    /// When the certificates cannot be made or the port cannot be bound.
    pub async fn start() -> io::Result<StandIn> {
        let certificates = tls::Certificates::generate()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(addr.port())),
            certificates,
            released: watch::Sender::new(0),
            closing: watch::Sender::new(0),
        });
        let stand_in = StandIn {
            addr,
            shared,
            running: Mutex::new(None),
        };
        stand_in.serve(listener);
        Ok(stand_in)
    }

    fn serve(&self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&self.shared), stopped));
        *self.running.lock() = Some(Running { stop, task });
    }

    /// Stops the server as a vault going down does: closes the listener (new connections are
    /// refused) and every open connection, requests in progress included, and returns once
    /// they are closed. Secrets, tokens, faults and recorded requests are kept for
    /// [`restart`](Self::restart). Stopping a stopped stand-in does nothing.
    pub async fn stop(&self) {
        let running = self.running.lock().take();
        if let Some(Running { stop, task }) = running {
            let _ = stop.send(());
            // The task ends once the listener and every connection are closed; it only fails
            // if the runtime is shutting down, when there is nothing left to wait for.
            let _ = task.await;
        }
    }

    /// Serves again on the same address, with the same certificates (so clients that trust
    /// [`ca_pem`](Self::ca_pem) keep trusting it) and the same secrets, tokens and faults, as a
    /// vault coming back does. A running stand-in is [stopped](Self::stop) first.
    ///
    /// # Errors
    ///
    /// When the port cannot be bound again (another program took it meanwhile).
    pub async fn restart(&self) -> io::Result<()> {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await?;
        self.serve(listener);
        Ok(())
    }

    /// Whether the server is running (started or restarted, and not stopped).
    pub fn is_running(&self) -> bool {
        self.running.lock().is_some()
    }

    /// The loopback address every host is served on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the CA that signed the server's certificate (valid for [`StandIn::hosts`],
    /// `localhost` and `127.0.0.1`).
    pub fn ca_pem(&self) -> &str {
        &self.shared.certificates.ca_pem
    }

    /// `https://{host}:{port}`, such as the URL of the vault at [`PRIMARY_HOST`].
    pub fn vault_url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }

    /// `https://login.localhost:{port}`: the Entra ID authority host.
    pub fn authority_host(&self) -> String {
        format!("https://{LOGIN_HOST}:{}", self.addr.port())
    }

    /// The host names to pin to [`StandIn::addr`]: [`LOGIN_HOST`], [`PRIMARY_HOST`] and
    /// [`SECONDARY_HOST`].
    pub fn hosts() -> [&'static str; 3] {
        [LOGIN_HOST, PRIMARY_HOST, SECONDARY_HOST]
    }

    /// A builder for the vault at `host` ([`PRIMARY_HOST`], [`SECONDARY_HOST`] or `localhost`)
    /// as an administrator would fill it in for [`CLIENT_ID`], plus what a local stand-in
    /// needs: its CA trusted, its hosts pinned to its address, its Entra ID as the authority
    /// host, custom hosts allowed. Retries, timeouts and the deadline keep their defaults;
    /// change any setting on the builder.
    pub fn builder(&self, host: &str) -> AzureKeyVaultBuilder {
        builder_at(self.addr, self.ca_pem(), host)
    }

    /// A ready manager for the vault at `host`: one Key Vault connection, named after the
    /// host, serving the workspace scope, through [`builder`](Self::builder).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use secretscope::prelude::*;
    /// use secretscope::testing::{PRIMARY_HOST, Seed, StandIn};
    ///
    /// let stand_in = StandIn::start().await?;
    /// stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("hunter2"));
    /// let manager = stand_in.manager(PRIMARY_HOST)?;
    /// assert_eq!(manager.resolve("db-password").await?.expose_secret(), "hunter2");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn manager(&self, host: &str) -> crate::Result<crate::WorkspaceManager> {
        let policy = crate::ScopePolicy::builder(crate::ScopeMode::Workspace)
            .with_workspace_connection(self.connection(host)?)
            .build()?;
        Ok(crate::WorkspaceManager::new(policy))
    }

    /// A connection to the vault at `host`, named after the host, through
    /// [`builder`](Self::builder).
    pub fn connection(&self, host: &str) -> crate::Result<crate::Connection> {
        Ok(crate::Connection::new(
            host.to_ascii_lowercase(),
            self.builder(host).build()?,
        ))
    }

    /// Every request received so far, token requests included, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Every TLS handshake so far, in arrival order: how many connections clients opened, to
    /// which host, and which ones failed.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.lock()
            .handshakes
            .iter()
            .map(|(_, handshake)| handshake.clone())
            .collect()
    }

    /// Forgets the requests and handshakes recorded so far.
    pub fn clear_requests(&self) {
        let mut state = self.lock();
        state.requests.clear();
        state.handshakes.clear();
    }

    /// Stores a new version of `name` in the vault at `host` directly (not recorded as a
    /// request) and returns its version.
    ///
    /// # Panics
    ///
    /// When the vault refuses it: an invalid name, or the name of a deleted secret.
    pub fn seed(&self, host: &str, name: &str, seed: Seed) -> SecretVersion {
        let mut state = self.lock();
        match vault::store(
            &mut state,
            &host.to_ascii_lowercase(),
            name,
            &seed.to_params(),
        ) {
            Ok(version) => SecretVersion::new(&version).expect("32 hex digits"),
            Err(answer) => panic!("the stand-in refused the seed: {}", answer.body()),
        }
    }

    /// Queues `fault` for the next request to its host (for
    /// [`Fault::untrusted_certificate`], the next TLS handshake), once. Faults queued for one
    /// host are used in order, before any [set](Self::set_fault) for it.
    pub fn inject(&self, fault: Fault) {
        let host = fault.host().to_owned();
        let handshake = fault.stage() == fault::Stage::Handshake;
        self.lock().queued.push_back(fault);
        if handshake {
            self.shared.close_connections(&host);
        }
    }

    /// Makes `fault` answer every request to its host (for [`Fault::untrusted_certificate`],
    /// every TLS handshake) until [`clear_faults`](Self::clear_faults), replacing a fault set
    /// before for that host.
    pub fn set_fault(&self, fault: Fault) {
        let host = fault.host().to_owned();
        let handshake = fault.stage() == fault::Stage::Handshake;
        self.lock().standing.insert(host.clone(), fault);
        if handshake {
            self.shared.close_connections(&host);
        }
    }

    /// Removes every fault, set or queued, so that the stand-in answers normally again; and
    /// closes, without an answer, the connections of requests left hanging by
    /// [`Fault::hang`].
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.queued.clear();
        state.standing.clear();
        // Under the lock, so that a request hanging from now on waits for the next clear.
        self.shared.released.send_modify(|n| *n += 1);
    }

    /// Makes the vaults' challenge name `resource` instead of [`CHALLENGE_RESOURCE`] (such as
    /// `https://vault.azure.net`, to see the SDK's challenge check refuse it).
    pub fn set_challenge_resource(&self, resource: &str) {
        self.lock().challenge_resource = resource.to_owned();
    }

    /// Makes every token issued so far expire: the vaults answer them with 401
    /// `[TokenExpired]` and the challenge, as a real vault answers a token past its expiry.
    pub fn expire_tokens(&self) {
        for token in self.lock().tokens.values_mut() {
            token.expired = true;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock()
    }
}

/// Ready-made SDK clients, for tests of the stand-in itself or of code that uses the SDK
/// directly.
impl StandIn {
    /// A reqwest client that trusts only [`StandIn::ca_pem`], resolves [`StandIn::hosts`] to
    /// [`StandIn::addr`], follows no redirects (like the SDK's own client) and gives up after
    /// 10 s.
    pub fn reqwest_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem().as_bytes())
            .expect("the stand-in's CA is valid PEM");
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .tls_certs_only([ca]);
        for host in StandIn::hosts() {
            builder = builder.resolve(host, self.addr);
        }
        builder.build().expect("a reqwest client")
    }

    /// SDK client options: [`StandIn::reqwest_client`] as the transport, a custom cloud whose
    /// authority host is [`StandIn::authority_host`], and no retries.
    pub fn client_options(&self) -> azure_core::http::ClientOptions {
        use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
        use azure_core::http::{ClientOptions, RetryOptions, Transport};

        let mut cloud = CustomConfiguration::default(); // #[non_exhaustive]
        cloud.authority_host = self.authority_host();
        ClientOptions {
            transport: Some(Transport::new(Arc::new(self.reqwest_client()))),
            cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        }
    }

    /// A `ClientSecretCredential` for `client_id` with `secret` in [`TENANT_ID`], using
    /// [`StandIn::client_options`].
    pub fn credential(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Arc<azure_identity::ClientSecretCredential> {
        azure_identity::ClientSecretCredential::new(
            TENANT_ID,
            client_id.to_owned(),
            azure_core::credentials::Secret::new(secret.to_owned()),
            Some(azure_identity::ClientSecretCredentialOptions {
                client_options: self.client_options(),
            }),
        )
        .expect("a valid credential configuration")
    }

    /// A `SecretClient` for the vault at `host`, with the challenge check on and
    /// [`StandIn::client_options`].
    pub fn secret_client(
        &self,
        host: &str,
        credential: Arc<dyn azure_core::credentials::TokenCredential>,
    ) -> azure_security_keyvault_secrets::SecretClient {
        azure_security_keyvault_secrets::SecretClient::new(
            &self.vault_url(host),
            credential,
            Some(azure_security_keyvault_secrets::SecretClientOptions {
                client_options: self.client_options(),
                verify_challenge_resource: Some(true),
                ..Default::default()
            }),
        )
        .expect("a valid vault URL")
    }
}
