//! Every failure of the Azure SDK becomes an [`Error`] here, and nowhere else.
//!
//! HTTP failures are classified from the response body, parsed here with owned strings: the
//! SDK's own `error_code` falls back to the status text whenever the body's JSON has an escape
//! (real `ForbiddenByRbac` messages contain `\r\n`), and its `Display` then prints the whole raw
//! body. Nothing a user sees is taken from the SDK's `Display` except Entra ID's one-line
//! description of a credential failure.

use std::error::Error as StdError;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, Headers};
use serde::Deserialize;

use crate::error::{Error, MissingGrant};
use crate::reference::{SecretName, SecretVersion};

/// What was being done when the SDK failed, for the message.
pub(crate) struct Context<'a> {
    /// The vault URL.
    pub(crate) location: &'a str,
    /// The secret asked for, if any (`None` for the connection check).
    pub(crate) name: Option<&'a SecretName>,
    pub(crate) version: Option<&'a SecretVersion>,
    /// What to check when no token can be had, for the credential in use.
    pub(crate) credential_hint: &'a str,
}

#[derive(Deserialize, Default)]
struct Body {
    error: Option<ErrorBody>,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
    #[serde(rename = "innererror")]
    inner: Option<Box<ErrorBody>>,
}

/// Maps one SDK error.
pub(crate) fn map_error(error: azure_core::Error, context: &Context<'_>) -> Error {
    let location = context.location.to_owned();
    match error.kind() {
        ErrorKind::HttpResponse {
            status,
            raw_response,
            ..
        } => {
            let status = u16::from(*status);
            let (body, headers) = match raw_response {
                Some(raw) => (
                    serde_json::from_slice::<Body>(raw.body()).ok(),
                    Some(raw.headers().clone()),
                ),
                None => (None, None),
            };
            map_status(status, body, headers.as_ref(), context, error)
        }
        ErrorKind::Credential => credential_error(error, context),
        ErrorKind::Connection | ErrorKind::Io => Error::Unavailable {
            reason: transport_reason(&error),
            location,
            source: Some(crate::ErrorSource::new(error)),
        },
        // The cause is dropped on purpose: it is serde's message about a successful answer's
        // body, which quotes the token it choked on, and that may be the secret value.
        ErrorKind::DataConversion => Error::Unavailable {
            location,
            reason: "its answer could not be read as a Key Vault secret; check that the vault URL points to Key Vault".to_owned(),
            source: None,
        },
        ErrorKind::Other => other(error, location),
    }
}

fn map_status(
    status: u16,
    body: Option<Body>,
    headers: Option<&Headers>,
    context: &Context<'_>,
    error: azure_core::Error,
) -> Error {
    let location = context.location.to_owned();
    let detail = body.as_ref().and_then(|b| b.error.as_ref());
    let code = detail.and_then(|e| e.code.clone());
    let inner = detail
        .and_then(|e| e.inner.as_ref())
        .and_then(|i| i.code.clone());
    let message = detail
        .and_then(|e| e.message.as_deref())
        .map(one_line)
        .unwrap_or_default();
    let name = || context.name.map(ToString::to_string).unwrap_or_default();
    let version = || context.version.map(ToString::to_string);
    match (status, code.as_deref(), inner.as_deref()) {
        (404, Some("SecretNotFound"), _) => Error::NotFound {
            name: name(),
            version: version(),
            location,
        },
        (403, _, Some("SecretDisabled")) => Error::Disabled {
            name: name(),
            version: version(),
            location,
        },
        (403, _, inner) => {
            let missing = match inner {
                Some("ForbiddenByRbac") => MissingGrant::KeyVaultSecretsUserRole,
                Some("AccessDenied") => MissingGrant::GetSecretPermission,
                Some("ForbiddenByFirewall") => MissingGrant::Firewall,
                _ => MissingGrant::Other(
                    "the vault refused the caller; check its role assignments, access policies and networking rules".to_owned(),
                ),
            };
            Error::PermissionDenied {
                location,
                missing,
                detail: if message.is_empty() {
                    format!(
                        "the vault answered 403 {}",
                        code.as_deref().unwrap_or("without a Key Vault error body")
                    )
                } else {
                    format!("the vault said: {message}")
                },
            }
        }
        (401, ..) => Error::Unauthenticated {
            location,
            detail: format!(
                "the vault refused the token ({}); check that the tenant ID is the tenant of the vault's subscription",
                if message.is_empty() {
                    "no details"
                } else {
                    &message
                }
            ),
            code,
        },
        (429, ..) => Error::Throttled {
            location,
            retry_after: headers.and_then(retry_after),
        },
        (408 | 500..=599, ..) => Error::Unavailable {
            location,
            reason: format!(
                "the vault answered {status}{}; try again later",
                code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
            ),
            source: Some(crate::ErrorSource::new(error)),
        },
        (404, ..) => Error::InvalidConfig {
            field: "vault URL".to_owned(),
            reason: format!(
                "{location} answered 404 without a Key Vault error ({}); check that the URL is the vault's URI",
                code.as_deref().unwrap_or("the body is not Key Vault JSON")
            ),
            source: Some(crate::ErrorSource::new(error)),
        },
        (status, ..) => Error::InvalidConfig {
            field: "request".to_owned(),
            reason: format!(
                "{location} refused the request with {status}{}{}",
                code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                }
            ),
            source: Some(crate::ErrorSource::new(error)),
        },
    }
}

/// A credential failure: the credential wraps every failure to get a token, so look beneath it
/// for what happened. An identity provider that cannot be reached, fails (5xx) or throttles is
/// a temporary condition, not a wrong credential.
fn credential_error(error: azure_core::Error, context: &Context<'_>) -> Error {
    let location = context.location.to_owned();
    let mut transport = false;
    let mut unreadable = false;
    let mut status = None;
    let mut retry = None;
    let mut level: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(e) = level {
        if let Some(inner) = e.downcast_ref::<azure_core::Error>() {
            match inner.kind() {
                ErrorKind::Io | ErrorKind::Connection => {
                    transport = true;
                    break;
                }
                // azure_identity could not read the answer as an Entra ID one, and its status
                // is lost: an HTML page of a proxy or a failing front end, or a real Entra
                // answer whose description holds JSON escapes (then its AADSTS code is still
                // found in the text below).
                ErrorKind::DataConversion => {
                    unreadable = true;
                    break;
                }
                ErrorKind::HttpResponse {
                    status: s,
                    raw_response,
                    ..
                } => {
                    status = Some(u16::from(*s));
                    retry = raw_response.as_ref().and_then(|r| retry_after(r.headers()));
                    break;
                }
                _ => {}
            }
        }
        level = e.source();
    }
    let (code, entra) = entra_code(&error);
    // AADSTS90033: "A transient error has occurred. Please try again."
    if transport
        || matches!(status, Some(408 | 500..=599))
        || code.as_deref() == Some("AADSTS90033")
        || (unreadable && code.is_none())
    {
        return Error::Unavailable {
            location,
            reason: "no token could be obtained because the identity provider (Entra ID or the managed identity endpoint) could not be reached or failed; try again later, and check the network path to it (proxy, firewall)".to_owned(),
            source: Some(crate::ErrorSource::new(error)),
        };
    }
    if status == Some(429) {
        return Error::Throttled {
            location,
            retry_after: retry,
        };
    }
    Error::Unauthenticated {
        location,
        detail: credential_fix(code.as_deref(), entra.as_deref(), context.credential_hint),
        code,
    }
}

/// `Retry-After` in seconds, or the `retry-after-ms` / `x-ms-retry-after-ms` headers.
fn retry_after(headers: &Headers) -> Option<Duration> {
    let get = |name: &'static str| headers.get_optional_str(&HeaderName::from_static(name));
    let millis = |v: &str| v.trim().parse::<u64>().ok().map(Duration::from_millis);
    get("retry-after-ms")
        .and_then(millis)
        .or_else(|| get("x-ms-retry-after-ms").and_then(millis))
        .or_else(|| {
            get("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        })
}

/// Finds the Entra ID error code (`AADSTS7000215`) and its one-line description in the chain.
fn entra_code(error: &azure_core::Error) -> (Option<String>, Option<String>) {
    let mut level: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = level {
        let text = e.to_string();
        if let Some(start) = text.find("AADSTS") {
            let digits: String = text[start + 6..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if !digits.is_empty() {
                return (
                    Some(format!("AADSTS{digits}")),
                    Some(entra_sentence(&text[start..])),
                );
            }
        }
        level = e.source();
    }
    (None, None)
}

/// Entra ID's description up to its first line break, without the trace and correlation IDs.
///
/// azure_identity cannot parse a description holding JSON escapes (real ones end in
/// `\r\nTrace ID: ...`), and then hands over serde's error text with the escapes still literal
/// and `", expected a borrowed string ...` after them: cut at any of those.
fn entra_sentence(text: &str) -> String {
    let end = ["\r", "\n", "\\r", "\\n", "Trace ID:", "\", expected"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    one_line(text[..end].trim())
}

fn credential_fix(code: Option<&str>, entra: Option<&str>, hint: &str) -> String {
    let fallback = format!("no token could be obtained: {hint}");
    let fix = match code {
        Some("AADSTS7000215") => {
            "the client secret is wrong: paste the secret's Value (not its Secret ID) from the app registration's Certificates & secrets page"
        }
        Some("AADSTS7000222") => {
            "the client secret has expired: create a new client secret in the app registration and enter its value"
        }
        Some("AADSTS700016") => {
            "no application with this client ID exists in the tenant: check the client ID, and that the tenant ID is the app registration's tenant"
        }
        Some("AADSTS90002") => "the tenant does not exist: check the tenant ID",
        Some(_) => "Entra ID refused the credential: see its message",
        None => &fallback,
    };
    match entra {
        Some(said) => format!("{fix} (Entra ID said: {said})"),
        None => fix.to_owned(),
    }
}

fn transport_reason(error: &azure_core::Error) -> String {
    let chain = chain_text(error).to_ascii_lowercase();
    let hint = if chain.contains("certificate") || chain.contains("tls") {
        "the TLS handshake failed: the vault's certificate is not trusted; add the CA that signed it to the extra CA roots"
    } else if chain.contains("dns")
        || chain.contains("failed to lookup")
        || chain.contains("name or service not known")
    {
        "the vault host does not resolve: check the vault URL"
    } else if chain.contains("refused") {
        "the connection was refused: check the vault URL and port"
    } else if chain.contains("timed out") || chain.contains("timeout") {
        "the vault did not answer in time: check the network path to the vault (proxy, firewall)"
    } else {
        "the vault could not be reached: check the vault URL and the network"
    };
    hint.to_owned()
}

fn other(error: azure_core::Error, location: String) -> Error {
    let chain = chain_text(&error);
    let reason = if chain.contains("challenge resource") {
        "the vault's authentication challenge names a resource that does not match its host, so no token was sent; check that the URL is the vault's URI"
    } else if chain.contains("non-TLS") {
        "the vault URL must use https"
    } else {
        "the Azure SDK refused the request"
    };
    Error::InvalidConfig {
        field: "vault URL".to_owned(),
        reason: format!("{location}: {reason}"),
        source: Some(crate::ErrorSource::new(error)),
    }
}

fn chain_text(error: &azure_core::Error) -> String {
    let mut text = String::new();
    let mut level: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = level {
        text.push_str(&e.to_string());
        text.push('\n');
        level = e.source();
    }
    text
}

/// The first line of a service message, at most 400 characters.
fn one_line(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim();
    match line.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}
