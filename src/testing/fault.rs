//! [`Fault`]: what the stand-in can be told to do wrong for one host, once or until cleared.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::server::Answer;
use super::vault;

/// Something the stand-in does instead of (or to) its normal answer for one host: a canned
/// answer of the real service (throttling, a 5xx, a token refused), or a network-level fault (a
/// slow or hanging answer, a connection cut mid-answer, a body that is not JSON or shorter than
/// its `Content-Length`, a certificate the client does not trust).
///
/// Give it to [`StandIn::inject`](super::StandIn::inject) to use it once (for the next request
/// to its host; for [`untrusted_certificate`](Self::untrusted_certificate), the next TLS
/// handshake), or to [`StandIn::set_fault`](super::StandIn::set_fault) to use it for every
/// request (or handshake) to its host until
/// [`StandIn::clear_faults`](super::StandIn::clear_faults).
///
/// Every HTTP answer a fault gives is one the real service gives, with its recorded status,
/// body and headers; the network-level faults are what a network, a proxy or a restarting
/// server does. [`Fault::new`] alone sends whatever it is given.
///
/// `Debug` shows the body's length, not the body.
#[derive(Clone)]
#[must_use]
pub struct Fault {
    pub(super) host: String,
    pub(super) action: Action,
    headers: Vec<(String, String)>,
    pub(super) delay: Duration,
}

/// What a fault does.
#[derive(Clone)]
pub(super) enum Action {
    /// This answer instead of the normal one; with Key Vault's headers when `vault_headers`.
    Canned {
        status: u16,
        body: String,
        vault_headers: bool,
    },
    /// The normal answer (after the fault's delay).
    Normal,
    /// The request is read and never answered; the connection stays open until the fault is
    /// cleared or the stand-in stops, then closes without an answer.
    Hang,
    /// The normal answer's status, headers and first half of its body, then the connection
    /// closes: reset (RST) when `reset`, else closed (FIN).
    Cut { reset: bool },
    /// The vault refuses every token it issued as expired.
    ExpiredTokens,
    /// TLS handshakes for the host get a certificate from a CA the client was never given.
    UntrustedCertificate,
}

/// Where a fault acts: on a TLS handshake or on a request.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    Handshake,
    Request,
}

/// A page as a captive portal or a TLS-inspecting proxy serves with 200 instead of the
/// vault's answer.
const PROXY_PAGE: &str = "<!DOCTYPE html>\r\n<html><head><title>Network login</title></head>\r\n<body><h1>Sign in to continue</h1><p>Your access to this site is blocked until you sign in to the network.</p></body></html>\r\n";

impl Fault {
    fn with_action(host: &str, action: Action) -> Fault {
        Fault {
            host: host.to_ascii_lowercase(),
            action,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    /// `status` with `body` for requests to `host` (without port), sent exactly as given, before
    /// any other check. The body is sent as `application/json` when it parses as JSON, as
    /// `text/plain` otherwise, unless a `content-type` header is added.
    pub fn new(host: &str, status: u16, body: &str) -> Fault {
        Fault::with_action(
            host,
            Action::Canned {
                status,
                body: body.to_owned(),
                vault_headers: false,
            },
        )
    }

    /// Key Vault's real 429 `Throttled` answer, with `Retry-After` (in seconds) when given; the
    /// captured real one had none.
    pub fn throttled(host: &str, retry_after_secs: Option<u32>) -> Fault {
        let fault = Fault::vault_error(
            host,
            429,
            "Throttled",
            "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
        );
        match retry_after_secs {
            Some(secs) => fault.with_header("retry-after", &secs.to_string()),
            None => fault,
        }
    }

    /// Key Vault's real 500 `InternalServerError` answer.
    pub fn internal_error(host: &str) -> Fault {
        Fault::vault_error(
            host,
            500,
            "InternalServerError",
            "The service encountered an internal error. Please try again.",
        )
    }

    /// Key Vault's real 503 `ServiceUnavailable` answer, with `Retry-After` (in seconds) when
    /// given.
    pub fn service_unavailable(host: &str, retry_after_secs: Option<u32>) -> Fault {
        let fault = Fault::vault_error(
            host,
            503,
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry later.",
        );
        match retry_after_secs {
            Some(secs) => fault.with_header("retry-after", &secs.to_string()),
            None => fault,
        }
    }

    /// A vault error answer with Key Vault's headers.
    fn vault_error(host: &str, status: u16, code: &str, message: &str) -> Fault {
        Fault::with_action(
            host,
            Action::Canned {
                status,
                body: vault::kv_error_body(code, message, None).to_string(),
                vault_headers: true,
            },
        )
    }

    /// The vault at `host` refuses the tokens it accepted before: every request with a token
    /// the stand-in issued gets the real 401 `Unauthorized`, `[TokenExpired] Error validating
    /// token: 'S2S12086'.`, with the challenge, as a real vault answers a token it deems
    /// expired (a clock ahead of the client's). Requests are otherwise answered as usual. Used
    /// once, it refuses one request.
    pub fn expired_tokens(host: &str) -> Fault {
        Fault::with_action(host, Action::ExpiredTokens)
    }

    /// The normal answer, after `delay`: a slow vault (or Entra ID).
    pub fn slow(host: &str, delay: Duration) -> Fault {
        Fault::with_action(host, Action::Normal).with_delay(delay)
    }

    /// Reads the request and never answers it. The connection stays open, the request is
    /// recorded with status 0 and not carried out; it is closed without an answer when the
    /// fault is cleared ([`StandIn::clear_faults`](super::StandIn::clear_faults)) or the
    /// stand-in stops.
    pub fn hang(host: &str) -> Fault {
        Fault::with_action(host, Action::Hang)
    }

    /// Sends the normal answer's status, headers (with the whole body's `Content-Length`) and
    /// the first half of its body, then resets the TCP connection (RST), as a connection
    /// dropped by a restarting server or a load balancer mid-answer.
    pub fn connection_reset(host: &str) -> Fault {
        Fault::with_action(host, Action::Cut { reset: true })
    }

    /// Sends the normal answer with its `Content-Length` but only the first half of its body,
    /// then closes the connection (FIN): a body shorter than announced.
    pub fn truncated_body(host: &str) -> Fault {
        Fault::with_action(host, Action::Cut { reset: false })
    }

    /// 200 with an HTML page instead of the vault's JSON, as a captive portal or a proxy in
    /// the path serves it.
    pub fn not_json(host: &str) -> Fault {
        Fault::new(host, 200, PROXY_PAGE).with_header("content-type", "text/html; charset=utf-8")
    }

    /// TLS handshakes for `host` present a certificate (for the same names) signed by a CA the
    /// client was never given, as after the server restarted with a certificate from another
    /// CA, or behind a TLS-inspecting proxy. Setting or injecting it closes the open
    /// connections to `host`, as that restart does, so that clients handshake again. Nothing
    /// reaches HTTP: the handshakes are recorded in
    /// [`StandIn::handshakes`](super::StandIn::handshakes), not in the requests.
    pub fn untrusted_certificate(host: &str) -> Fault {
        Fault::with_action(host, Action::UntrustedCertificate)
    }

    /// Adds a response header to the answer (the canned one, or the normal one for the faults
    /// that send it).
    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Waits `delay` before answering (to exercise client timeouts).
    pub fn with_delay(mut self, delay: Duration) -> Fault {
        self.delay = delay;
        self
    }

    /// The host it applies to, lower-cased.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub(super) fn stage(&self) -> Stage {
        match self.action {
            Action::UntrustedCertificate => Stage::Handshake,
            _ => Stage::Request,
        }
    }

    /// The canned answer, if this fault has one (without Key Vault's headers, which the
    /// caller adds when [`Fault::wants_vault_headers`]).
    pub(super) fn canned(&self) -> Option<Answer> {
        let Action::Canned { status, body, .. } = &self.action else {
            return None;
        };
        let answer = if serde_json::from_str::<Value>(body).is_ok() {
            Answer::json_text(*status, body.clone())
        } else {
            Answer::text(*status, body)
        };
        Some(answer)
    }

    pub(super) fn wants_vault_headers(&self) -> bool {
        matches!(
            self.action,
            Action::Canned {
                vault_headers: true,
                ..
            }
        )
    }

    /// Adds the fault's own headers to `answer`.
    pub(super) fn dress(&self, mut answer: Answer) -> Answer {
        for (name, value) in &self.headers {
            if name.eq_ignore_ascii_case("content-type") {
                answer = answer.without_content_type();
            }
            answer = answer.header(name, value.as_str());
        }
        answer
    }

    fn kind(&self) -> &'static str {
        match self.action {
            Action::Canned { .. } => "answer",
            Action::Normal => "slow",
            Action::Hang => "hang",
            Action::Cut { reset: true } => "connection reset",
            Action::Cut { reset: false } => "truncated body",
            Action::ExpiredTokens => "expired tokens",
            Action::UntrustedCertificate => "untrusted certificate",
        }
    }
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Fault");
        debug.field("host", &self.host).field("kind", &self.kind());
        if let Action::Canned { status, body, .. } = &self.action {
            debug.field("status", status).field("body_len", &body.len());
        }
        debug
            .field("headers", &self.headers)
            .field("delay", &self.delay)
            .finish()
    }
}
