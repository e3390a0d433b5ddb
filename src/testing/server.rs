//! The stand-in's server: the state its tasks share, its answers, the accept loop, the TLS
//! handshake, and the dispatch of each request to a fault, Entra ID or a vault.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Sleep;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::server::Acceptor;

use super::fault::{Action, Fault, Stage};
use super::tls::Certificates;
use super::{Handshake, LOGIN_HOST, Recorded, entra, vault};

/// How long a cut answer waits, after its first part has gone out, before the connection is
/// closed: long enough for the client to read the status and headers, so that the cut comes
/// mid-answer rather than before it.
const CUT_PAUSE: Duration = Duration::from_millis(50);

/// A token the stand-in's Entra ID issued.
pub(super) struct Token {
    /// The client it was issued to.
    pub(super) client: &'static str,
    /// The resource it was issued for (its scope without `/.default`).
    pub(super) audience: String,
    /// Whether it has expired ([`StandIn::expire_tokens`](super::StandIn::expire_tokens)).
    pub(super) expired: bool,
}

/// What the server tasks share, for the stand-in's whole life (restarts included).
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) certificates: Certificates,
    /// Moves on every [`StandIn::clear_faults`](super::StandIn::clear_faults): hung requests
    /// wait for it.
    pub(super) released: watch::Sender<u64>,
    /// Moves whenever the connections to some host are to close ([`State::closing`] says
    /// which): open connections watch it.
    pub(super) closing: watch::Sender<u64>,
}

impl Shared {
    /// Closes every open connection to `host` (whatever request it is in), so that its clients
    /// connect and handshake again.
    pub(super) fn close_connections(&self, host: &str) {
        let mut state = self.state.lock();
        self.closing.send_modify(|generation| {
            *generation += 1;
            state.closing.insert(host.to_owned(), *generation);
        });
    }
}

/// Everything the server tasks read and write.
pub(super) struct State {
    pub(super) port: u16,
    random: RandomState,
    counter: u64,
    /// access token -> what it was issued for
    pub(super) tokens: HashMap<String, Token>,
    /// vault host -> its secrets
    pub(super) vaults: HashMap<String, vault::Store>,
    pub(super) requests: Vec<Recorded>,
    /// Each with the number it was recorded under, to mark it completed later.
    pub(super) handshakes: Vec<(u64, Handshake)>,
    handshakes_seen: u64,
    /// Faults used once, in the order they were queued.
    pub(super) queued: VecDeque<Fault>,
    /// Faults used until cleared, by host.
    pub(super) standing: HashMap<String, Fault>,
    /// host -> the [`Shared::closing`] generation at which its connections were last closed:
    /// connections opened before then close.
    pub(super) closing: HashMap<String, u64>,
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
            handshakes: Vec::new(),
            handshakes_seen: 0,
            queued: VecDeque::new(),
            standing: HashMap::new(),
            closing: HashMap::new(),
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

    /// The fault for this `stage` of a request or handshake to `host`: the first one queued
    /// for it (taken), else the one set for it (kept).
    fn fault_for(&mut self, host: &str, stage: Stage) -> Option<Fault> {
        let queued = self
            .queued
            .iter()
            .position(|f| f.host == host && f.stage() == stage)
            .and_then(|i| self.queued.remove(i));
        queued.or_else(|| {
            self.standing
                .get(host)
                .filter(|f| f.stage() == stage)
                .cloned()
        })
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

    /// The whole answer; or, when `cut`, its status and headers (with the whole body's
    /// `Content-Length`) and the first half of its body, after which the connection closes.
    fn into_response(self, cut: bool) -> Response<Body> {
        let mut builder = Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if !self.content_type.is_empty() {
            builder = builder.header("content-type", self.content_type);
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = Bytes::from(self.body);
        let body = if cut {
            builder = builder.header("content-length", body.len());
            Body::cut(body.slice(..body.len() / 2))
        } else {
            Body::whole(body)
        };
        builder.body(body).unwrap_or_else(|_| {
            let mut response = Response::new(Body::whole(Bytes::from_static(b"bad header")));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        })
    }
}

/// A response body: whole, or cut short (its first part, a pause, then an error, which makes
/// hyper drop the connection without sending the rest).
pub(super) struct Body {
    chunk: Option<Bytes>,
    /// Set for a cut body: the pause before the error.
    cut: Option<Pin<Box<Sleep>>>,
    /// The whole body's length (for a whole body).
    len: u64,
}

impl Body {
    fn whole(bytes: Bytes) -> Body {
        Body {
            len: bytes.len() as u64,
            chunk: (!bytes.is_empty()).then_some(bytes),
            cut: None,
        }
    }

    fn cut(first: Bytes) -> Body {
        Body {
            len: 0,
            chunk: (!first.is_empty()).then_some(first),
            cut: Some(Box::pin(tokio::time::sleep(CUT_PAUSE))),
        }
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        let Some(pause) = self.cut.as_mut() else {
            return Poll::Ready(None);
        };
        // Pending meanwhile: hyper flushes what it has, then the error makes it drop the
        // connection.
        ready!(pause.as_mut().poll(cx));
        self.cut = None;
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "the answer is cut short by a fault",
        ))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none() && self.cut.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        // A cut body's length is the header's (the whole body's), not what is sent.
        match self.cut {
            Some(_) => SizeHint::default(),
            None => SizeHint::with_exact(self.len),
        }
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

/// Accepts connections until `stop` fires or its sender is dropped; then closes the listener
/// and every connection, and returns once they are closed.
pub(super) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    connections.spawn(connection(tcp, Arc::clone(&shared)));
                }
            }
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// One connection: the TLS handshake (with the certificate a fault may call for), then HTTP/1.1
/// until the client closes it.
async fn connection(tcp: TcpStream, shared: Arc<Shared>) {
    let reset = Arc::new(AtomicBool::new(false));
    let io = Conn {
        tcp,
        reset: Arc::clone(&reset),
    };
    // A client that goes away before its hello just leaves.
    let Ok(start) = LazyConfigAcceptor::new(Acceptor::default(), io).await else {
        return;
    };
    let host = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    // Recorded at the client's hello, before the server answers it: by the time a client
    // gives up on the certificate, its handshake is in the record.
    let (untrusted, number) = {
        let mut state = shared.state.lock();
        let untrusted = state.fault_for(&host, Stage::Handshake).is_some();
        state.handshakes_seen += 1;
        let number = state.handshakes_seen;
        state.handshakes.push((
            number,
            Handshake {
                host: host.clone(),
                untrusted_certificate: untrusted,
                completed: false,
            },
        ));
        (untrusted, number)
    };
    let config = if untrusted {
        Arc::clone(&shared.certificates.untrusted)
    } else {
        Arc::clone(&shared.certificates.trusted)
    };
    let tls = start.into_stream(config).await;
    if tls.is_ok()
        && let Some((_, handshake)) = shared
            .state
            .lock()
            .handshakes
            .iter_mut()
            .find(|(n, _)| *n == number)
    {
        handshake.completed = true;
    }
    // A failed handshake (a client not trusting the certificate) just drops the connection.
    let Ok(tls) = tls else {
        return;
    };
    let mut closing = shared.closing.subscribe();
    let opened = *closing.borrow_and_update();
    let served = Arc::clone(&shared);
    let service =
        service_fn(move |request| handle(Arc::clone(&served), Arc::clone(&reset), request));
    let serving = http1::Builder::new().serve_connection(TokioIo::new(tls), service);
    tokio::pin!(serving);
    loop {
        tokio::select! {
            _ = &mut serving => return,
            changed = closing.changed() => {
                let closed = shared.state.lock().closing.get(&host).is_some_and(|at| *at > opened);
                if changed.is_err() || closed {
                    return;
                }
            }
        }
    }
}

/// A server-side TCP connection that, when told to, is reset (RST) rather than closed when it
/// is dropped.
struct Conn {
    tcp: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if self.reset.load(Ordering::Acquire) {
            // A zero linger makes the close send RST at once; it never blocks, which is why
            // tokio deprecated `set_linger` (for non-zero values) and added `set_zero_linger`
            // in later versions than the crate requires.
            #[allow(deprecated)]
            let _ = self.tcp.set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// How one request is answered, once decided.
enum Reply {
    Answer(Answer),
    /// Cut short; the connection reset (RST) rather than closed when `true`.
    Cut(Answer, bool),
    Hang(watch::Receiver<u64>),
}

/// Records the request and answers it: a fault, Entra ID, or a vault. An `Err` makes hyper
/// close the connection without an answer (a hung request released).
async fn handle(
    shared: Arc<Shared>,
    reset: Arc<AtomicBool>,
    request: Request<Incoming>,
) -> Result<Response<Body>, io::Error> {
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

    let (reply, delay) = {
        let mut state = shared.state.lock();
        let incoming = Asked {
            host: &host,
            method: &method,
            path: &path,
            query: query.as_deref(),
            authorization: authorization.as_deref(),
            client_request_id: client_request_id.as_deref(),
            body: &body,
        };
        let fault = state.fault_for(&host, Stage::Request);
        let normal = |state: &mut State, expired_tokens: bool| {
            if host == LOGIN_HOST {
                entra::handle(state, &incoming)
            } else {
                vault::handle(state, &incoming, expired_tokens)
            }
        };
        let mut reply = match fault.as_ref().map(|f| (f, &f.action)) {
            None => Reply::Answer(normal(&mut state, false)),
            Some((fault, Action::Canned { .. })) => {
                let answer = fault.canned().unwrap_or_else(Answer::not_served);
                Reply::Answer(if fault.wants_vault_headers() {
                    vault::dress(&mut state, answer, incoming.client_request_id)
                } else {
                    answer
                })
            }
            Some((_, Action::Normal | Action::UntrustedCertificate)) => {
                Reply::Answer(normal(&mut state, false))
            }
            Some((_, Action::ExpiredTokens)) => Reply::Answer(normal(&mut state, true)),
            Some((_, Action::Cut { reset })) => Reply::Cut(normal(&mut state, false), *reset),
            // Not carried out: the request never got past the server's front.
            Some((_, Action::Hang)) => Reply::Hang(shared.released.subscribe()),
        };
        if let Some(fault) = &fault {
            reply = match reply {
                Reply::Answer(answer) => Reply::Answer(fault.dress(answer)),
                Reply::Cut(answer, reset) => Reply::Cut(fault.dress(answer), reset),
                hang @ Reply::Hang(_) => hang,
            };
        }
        let (status, client_id) = match &mut reply {
            Reply::Answer(answer) | Reply::Cut(answer, _) => {
                (answer.status, answer.client_id.take())
            }
            Reply::Hang(_) => (0, None),
        };
        state.requests.push(Recorded {
            method: method.to_string(),
            host,
            path_and_query,
            authorized: authorization.is_some(),
            status,
            client_id,
        });
        (reply, fault.map_or(Duration::ZERO, |f| f.delay))
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match reply {
        Reply::Answer(answer) => Ok(answer.into_response(false)),
        Reply::Cut(answer, reset_it) => {
            // Read when the connection is dropped, after the body is cut.
            reset.store(reset_it, Ordering::Release);
            Ok(answer.into_response(true))
        }
        Reply::Hang(mut released) => {
            // Until the faults are cleared (or the connection is dropped when the stand-in
            // stops): then the connection closes without an answer.
            let _ = released.changed().await;
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "a hung request is released without an answer",
            ))
        }
    }
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
