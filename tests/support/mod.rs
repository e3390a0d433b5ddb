//! An in-process HTTPS stand-in for Entra ID's token endpoint and Key Vault's secrets API, for
//! integration tests of the Azure backend through the real Azure SDK over real TLS (the
//! third-party emulators cannot be downloaded where these tests run).
//!
//! One loopback port serves every host; requests are dispatched on the `Host` header:
//!
//! | host | serves |
//! |---|---|
//! | `login.localhost` | Entra ID: `POST /{tenant}/oauth2/v2.0/token` (client credentials) |
//! | `primary.localhost` | a Key Vault using the RBAC permission model |
//! | `secondary.localhost` | a Key Vault using the access-policy permission model |
//! | any other host (`localhost`, `127.0.0.1`) | a Key Vault of its own (RBAC model) |
//!
//! Pin the hosts to [`StandIn::addr`] in the HTTP client (`reqwest::ClientBuilder::resolve`) and
//! trust [`StandIn::ca_pem`]. The 401 challenge names the resource `https://localhost`, which
//! passes the SDK's challenge check (`verify_challenge_resource`) for `*.localhost` vault hosts.
//!
//! Identities ([`TENANT_ID`], all with the secret [`CLIENT_SECRET`]):
//! - [`CLIENT_ID`]: may get and set secrets in every vault;
//! - [`NO_ACCESS_CLIENT_ID`]: authenticates, but has no role or access policy (403);
//! - [`EXPIRED_SECRET_CLIENT_ID`]: its secret has expired (`AADSTS7000222`).
//!
//! Status codes, error bodies and headers follow recordings of the real services (Entra's
//! `AADSTS` errors; Key Vault's `Unauthorized`, `Forbidden` with `ForbiddenByRbac`,
//! `AccessDenied` or `SecretDisabled`, `SecretNotFound`, `BadParameter`). No answer ever contains
//! a client secret, and the request log never records one.
//!
//! Use it with `mod support;` from a test crate, or with
//! `#[path = "../tests/support/mod.rs"] mod support;` from an example.

// Each test crate (and the example) that includes this module uses only part of its API, so the
// unused rest would otherwise warn as dead code in that crate.
#![allow(dead_code)]

mod entra;
mod tls;
mod vault;

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The only tenant the token endpoint knows.
pub const TENANT_ID: &str = "7f3c2a1e-5b4d-4c8e-9a6f-0d1e2b3c4a5f";
/// A registered application with secret [`CLIENT_SECRET`], allowed to get and set secrets in
/// both vaults.
pub const CLIENT_ID: &str = "2b8e4f6a-1c3d-4e5f-8a9b-0c1d2e3f4a5b";
/// The secret of every registered application.
pub const CLIENT_SECRET: &str = "Sts8Q~stand-in.client-secret_0123456789abcd";
/// A registered application with secret [`CLIENT_SECRET`]: it authenticates, but has no role
/// (RBAC vault: 403 `ForbiddenByRbac`) and no access policy (access-policy vault: 403
/// `AccessDenied`).
pub const NO_ACCESS_CLIENT_ID: &str = "9d4c7b2e-6f1a-4b3c-8d5e-2f6a7b8c9d0e";
/// A registered application whose secret [`CLIENT_SECRET`] has expired: 401 `AADSTS7000222`.
pub const EXPIRED_SECRET_CLIENT_ID: &str = "4e1a9c3b-8d2f-4a6e-b5c7-3d9e0f1a2b4c";
/// The only `api-version` the vaults accept (the SDK's default).
pub const API_VERSION: &str = "2025-07-01";
/// The resource the vaults' 401 challenge names (so the scope is `https://localhost/.default`).
pub const CHALLENGE_RESOURCE: &str = "https://localhost";
/// The host of the token endpoint.
pub const LOGIN_HOST: &str = "login.localhost";
/// The host of the RBAC-model vault.
pub const PRIMARY_HOST: &str = "primary.localhost";
/// The host of the access-policy-model vault.
pub const SECONDARY_HOST: &str = "secondary.localhost";

/// A registered application.
struct App {
    client_id: &'static str,
    object_id: &'static str,
    secret: &'static str,
    secret_expired: bool,
    can_access: bool,
}

const APPS: [App; 3] = [
    App {
        client_id: CLIENT_ID,
        object_id: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        secret: CLIENT_SECRET,
        secret_expired: false,
        can_access: true,
    },
    App {
        client_id: NO_ACCESS_CLIENT_ID,
        object_id: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        secret: CLIENT_SECRET,
        secret_expired: false,
        can_access: false,
    },
    App {
        client_id: EXPIRED_SECRET_CLIENT_ID,
        object_id: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f",
        secret: CLIENT_SECRET,
        secret_expired: true,
        can_access: true,
    },
];

/// One request the stand-in received (token requests included), in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// `GET`, `PUT`, `POST`, ...
    pub method: String,
    /// The `Host` header without the port, lower-cased.
    pub host: String,
    /// As sent, e.g. `/secrets/db-password/?api-version=2025-07-01`.
    pub path_and_query: String,
    /// Whether the request carried an `Authorization` header (valid or not).
    pub authorized: bool,
    /// The status the stand-in answered.
    pub status: u16,
    /// Token requests: the form's `client_id`. Vault requests: the client a *valid* token was
    /// issued to (`None` without one).
    pub client_id: Option<String>,
}

/// A secret version to store directly with [`StandIn::seed`], without going through the SDK.
#[derive(Clone, Debug, Default)]
pub struct Seed {
    pub value: String,
    pub content_type: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `None` stores an enabled secret.
    pub enabled: Option<bool>,
    pub not_before: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
}

impl Seed {
    /// An enabled secret with this value and nothing else.
    pub fn value(value: impl Into<String>) -> Seed {
        Seed {
            value: value.into(),
            ..Seed::default()
        }
    }

    /// The `SetSecretParameters` JSON the SDK would send for this seed.
    fn to_params(&self) -> Value {
        let mut attributes = json!({});
        if let Some(enabled) = self.enabled {
            attributes["enabled"] = json!(enabled);
        }
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

/// A canned answer for the next request to one host, queued with [`StandIn::inject`]: for
/// throttling, 5xx and slow answers over real HTTPS. It is answered before any other check and
/// used once.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The host (without port) whose next request gets this answer.
    pub host: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Sent as `application/json` when it parses as JSON, as `text/plain` otherwise (unless
    /// `headers` has a `content-type`).
    pub body: String,
    /// How long to wait before answering (to exercise client timeouts).
    pub delay: Duration,
}

impl Fault {
    /// `status` with `body`, at once.
    pub fn new(host: &str, status: u16, body: &str) -> Fault {
        Fault {
            host: host.to_string(),
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// Key Vault's real 429 `Throttled` body, with `Retry-After` when given.
    pub fn throttled(host: &str, retry_after_secs: Option<u32>) -> Fault {
        let body = json!({"error": {
            "code": "Throttled",
            "message": "Request was not processed because too many requests were received. \
                        Reason: VaultRequestTypeLimitReached",
        }});
        let fault = Fault::new(host, 429, &body.to_string());
        match retry_after_secs {
            Some(secs) => fault.with_header("retry-after", &secs.to_string()),
            None => fault,
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits `delay` before answering.
    pub fn with_delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
        self
    }

    fn answer(&self) -> Answer {
        let content_type = if serde_json::from_str::<Value>(&self.body).is_ok() {
            "application/json; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        let mut answer = Answer {
            status: self.status,
            headers: Vec::new(),
            content_type,
            body: self.body.clone(),
            client_id: None,
        };
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-type") {
                answer.content_type = "";
            }
            answer = answer.header(name, value);
        }
        answer
    }
}

/// The running stand-in. The server task (and every open connection) stops when it is dropped.
pub struct StandIn {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    /// Never sent on: dropping it (with the `StandIn`) closes the channel, which every server
    /// task waits on.
    _shutdown: watch::Sender<()>,
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
    /// tokio runtime.
    pub async fn start() -> io::Result<StandIn> {
        let (ca_pem, tls_config) = tls::make_tls()?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            port: addr.port(),
            random: RandomState::new(),
            counter: 0,
            tokens: HashMap::new(),
            vaults: HashMap::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            challenge_resource: CHALLENGE_RESOURCE.to_string(),
        }));
        let (shutdown, stopped) = watch::channel(());
        tokio::spawn(serve(
            listener,
            TlsAcceptor::from(tls_config),
            state.clone(),
            stopped,
        ));
        Ok(StandIn {
            addr,
            ca_pem,
            state,
            _shutdown: shutdown,
        })
    }

    /// The loopback address every host must be resolved to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// `https://{host}:{port}`, e.g. for [`PRIMARY_HOST`].
    pub fn vault_url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.addr.port())
    }

    /// `https://login.localhost:{port}`: the authority host for the credential.
    pub fn authority_host(&self) -> String {
        format!("https://{LOGIN_HOST}:{}", self.addr.port())
    }

    /// Every request received so far, token requests included, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// The hosts to pin to [`StandIn::addr`]: login, primary and secondary.
    pub fn hosts() -> [&'static str; 3] {
        [LOGIN_HOST, PRIMARY_HOST, SECONDARY_HOST]
    }

    /// Stores a new version of `name` in the vault at `host` directly (not recorded as a
    /// request) and returns the version.
    ///
    /// # Panics
    /// When the vault would reject it (an invalid name).
    pub fn seed(&self, host: &str, name: &str, seed: Seed) -> String {
        let mut state = self.lock();
        match vault::store(&mut state, host, name, &seed.to_params()) {
            Ok(bundle) => bundle["id"]
                .as_str()
                .and_then(|id| id.rsplit('/').next())
                .map(str::to_string)
                .unwrap_or_default(),
            Err(answer) => panic!("the stand-in rejected the seed: {}", answer.body),
        }
    }

    /// Queues `fault` as the answer to the next request to `fault.host`.
    pub fn inject(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Makes the vaults' challenge name `resource` instead of [`CHALLENGE_RESOURCE`] (e.g.
    /// `https://vault.azure.net`, to see the SDK's challenge check refuse it).
    pub fn set_challenge_resource(&self, resource: &str) {
        self.lock().challenge_resource = resource.to_string();
    }

    /// Forgets every token issued so far: the vaults answer 401 to them from now on.
    pub fn revoke_tokens(&self) {
        self.lock().tokens.clear();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ready-made clients, for the tests that run with the `azure` feature.
#[cfg(feature = "azure")]
impl StandIn {
    /// A reqwest client that trusts only [`StandIn::ca_pem`], resolves [`StandIn::hosts`] to
    /// [`StandIn::addr`], follows no redirects (like the SDK's own client) and gives up after
    /// 10 s.
    pub fn reqwest_client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes())
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

    /// A `ClientSecretCredential` for `client_id` in [`TENANT_ID`] using
    /// [`StandIn::client_options`].
    pub fn credential(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Arc<azure_identity::ClientSecretCredential> {
        azure_identity::ClientSecretCredential::new(
            TENANT_ID,
            client_id.to_string(),
            azure_core::credentials::Secret::new(secret.to_string()),
            Some(azure_identity::ClientSecretCredentialOptions {
                client_options: self.client_options(),
            }),
        )
        .expect("a valid credential configuration")
    }

    /// A `SecretClient` for the vault at `host`, with challenge verification on and
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

/// Everything the server tasks share.
struct State {
    port: u16,
    random: RandomState,
    counter: u64,
    /// access token -> the client it was issued to
    tokens: HashMap<String, &'static str>,
    /// vault host -> its secrets
    vaults: HashMap<String, vault::Store>,
    requests: Vec<Recorded>,
    faults: VecDeque<Fault>,
    challenge_resource: String,
}

impl State {
    fn next_random(&mut self) -> u64 {
        self.counter += 1;
        self.random.hash_one(self.counter)
    }

    /// 32 lowercase hex digits (a Key Vault version).
    fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_random(), self.next_random())
    }

    /// A random GUID-shaped string.
    fn guid(&mut self) -> String {
        let h = self.hex32();
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

/// One answer, before it becomes a hyper response.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    /// Empty: no content-type header (a fault that sets its own).
    content_type: &'static str,
    body: String,
    /// For [`Recorded::client_id`].
    client_id: Option<String>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
            client_id: None,
        }
    }

    fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            client_id: None,
        }
    }

    /// Any path the stand-in does not serve: a plain-text 404, so tests cover non-JSON bodies.
    fn not_found() -> Answer {
        Answer::text(404, "404 Not Found: the stand-in serves no such path")
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    fn client(mut self, client_id: Option<String>) -> Answer {
        self.client_id = client_id;
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if !self.content_type.is_empty() {
            builder = builder.header("content-type", self.content_type);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Full::new(Bytes::from(self.body)))
            .unwrap_or_else(|_| {
                let mut response = Response::new(Full::new(Bytes::from_static(b"bad header")));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            })
    }
}

/// Accepts connections until the `StandIn` is dropped; each connection also stops then.
async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<Mutex<State>>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let acceptor = acceptor.clone();
        let state = state.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let connection = async move {
                // A failed handshake (a client not trusting the CA) just drops the connection.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request| handle(state.clone(), request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            };
            tokio::select! {
                _ = stopped.changed() => {}
                () = connection => {}
            }
        });
    }
}

/// Records the request and answers it: a queued fault, Entra ID, or a vault.
async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = host_of(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().map(str::to_string);
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_string());
    let authorization = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();

    let (answer, delay) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let fault = state
            .faults
            .iter()
            .position(|f| f.host.eq_ignore_ascii_case(&host))
            .and_then(|i| state.faults.remove(i));
        let (mut answer, delay) = match fault {
            Some(fault) => (fault.answer(), fault.delay),
            None if host == LOGIN_HOST => (
                entra::handle(&mut state, &method, &path, &body),
                Duration::ZERO,
            ),
            None => {
                let answer = vault::handle(
                    &mut state,
                    &host,
                    &method,
                    &path,
                    query.as_deref(),
                    authorization.as_deref(),
                    &body,
                );
                let request_id = state.guid();
                (answer.header("x-ms-request-id", request_id), Duration::ZERO)
            }
        };
        state.requests.push(Recorded {
            method: method.to_string(),
            host,
            path_and_query,
            authorized: authorization.is_some(),
            status: answer.status,
            client_id: answer.client_id.take(),
        });
        (answer, delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(answer.into_response())
}

/// The `Host` header (or the URI's host) without the port, lower-cased.
fn host_of(request: &Request<Incoming>) -> String {
    let raw = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or_default();
    let host = match raw.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => raw,
    };
    host.to_ascii_lowercase()
}
