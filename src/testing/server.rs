//! The stand-in's server: the state its tasks share, its answers, the accept loop, and the
//! dispatch of each request to a queued fault, Entra ID or a vault.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::{Fault, LOGIN_HOST, Recorded, entra, vault};

/// A token the stand-in's Entra ID issued.
pub(super) struct Token {
    /// The client it was issued to.
    pub(super) client: &'static str,
    /// The resource it was issued for (its scope without `/.default`).
    pub(super) audience: String,
    /// Whether it has expired ([`StandIn::expire_tokens`](super::StandIn::expire_tokens)).
    pub(super) expired: bool,
}

/// Everything the server tasks share.
pub(super) struct State {
    pub(super) port: u16,
    random: RandomState,
    counter: u64,
    /// access token -> what it was issued for
    pub(super) tokens: HashMap<String, Token>,
    /// vault host -> its secrets
    pub(super) vaults: HashMap<String, vault::Store>,
    pub(super) requests: Vec<Recorded>,
    pub(super) faults: VecDeque<Fault>,
    pub(super) challenge_resource: String,
}

impl State {
    pub(super) fn new(port: u16) -> Self {
        Self {
            port,
            random: RandomState::new(),
            counter: 0,
            tokens: HashMap::new(),
            vaults: HashMap::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            challenge_resource: super::CHALLENGE_RESOURCE.to_owned(),
        }
    }

    fn next_random(&mut self) -> u64 {
        self.counter += 1;
        self.random.hash_one(self.counter)
    }

    /// 32 lowercase hex digits (a Key Vault version).
    pub(super) fn hex32(&mut self) -> String {
        format!("{:016x}{:016x}", self.next_random(), self.next_random())
    }

    /// A random GUID of version 4 (request, trace and correlation IDs).
    pub(super) fn guid(&mut self) -> String {
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
pub(super) struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    /// Empty: no content-type header (a fault that sets its own).
    content_type: &'static str,
    body: String,
    /// For [`Recorded::client_id`].
    client_id: Option<String>,
}

impl Answer {
    pub(super) fn json(status: u16, body: Value) -> Answer {
        Answer::json_text(status, body.to_string())
    }

    pub(super) fn json_text(status: u16, body: String) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            content_type: "application/json; charset=utf-8",
            body,
            client_id: None,
        }
    }

    pub(super) fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            content_type: "text/plain; charset=utf-8",
            body: body.to_owned(),
            client_id: None,
        }
    }

    /// A path the stand-in does not serve: its own plain-text 404, never a Key Vault answer.
    pub(super) fn not_served() -> Answer {
        Answer::text(
            404,
            "404 Not Found: the stand-in does not serve this path (not a Key Vault answer)",
        )
    }

    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Answer {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(super) fn without_content_type(mut self) -> Answer {
        self.content_type = "";
        self
    }

    pub(super) fn client(mut self, client_id: Option<String>) -> Answer {
        self.client_id = client_id;
        self
    }

    pub(super) fn body(&self) -> &str {
        &self.body
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

/// What the handlers see of one request.
pub(super) struct Asked<'a> {
    pub(super) host: &'a str,
    pub(super) method: &'a hyper::Method,
    pub(super) path: &'a str,
    pub(super) query: Option<&'a str>,
    pub(super) authorization: Option<&'a str>,
    pub(super) client_request_id: Option<&'a str>,
    pub(super) body: &'a [u8],
}

/// Accepts connections until the `StandIn` is dropped; each connection also stops then.
pub(super) async fn serve(
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
        let state = Arc::clone(&state);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let connection = async move {
                // A failed handshake (a client not trusting the CA) just drops the connection.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request| handle(Arc::clone(&state), request));
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
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    let authorization = header("authorization");
    let client_request_id = header("x-ms-client-request-id");
    let body = request
        .into_body()
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();

    let (answer, delay) = {
        let mut state = state.lock();
        let incoming = Asked {
            host: &host,
            method: &method,
            path: &path,
            query: query.as_deref(),
            authorization: authorization.as_deref(),
            client_request_id: client_request_id.as_deref(),
            body: &body,
        };
        let fault = state
            .faults
            .iter()
            .position(|f| f.host == host)
            .and_then(|i| state.faults.remove(i));
        let (mut answer, delay) = match fault {
            Some(fault) => (fault.answer(), fault.delay),
            None if host == LOGIN_HOST => (entra::handle(&mut state, &incoming), Duration::ZERO),
            None => (vault::handle(&mut state, &incoming), Duration::ZERO),
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
