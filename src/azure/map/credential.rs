//! Failures to get a token: what the credential (Entra ID, the managed identity endpoint, a
//! developer tool) said, beneath the SDK's `Credential` error.

use std::error::Error as StdError;

use azure_core::error::ErrorKind;

use super::{Context, one_line, retry_after};
use crate::error::{Error, ErrorSource, ThrottledBy};

/// A credential failure: the credential wraps every failure to get a token, so look beneath it
/// for what happened. An identity provider that cannot be reached, fails (5xx) or throttles is
/// a temporary condition, not a wrong credential.
pub(super) fn credential_error(error: azure_core::Error, context: &Context<'_>) -> Error {
    let location = context.location.clone();
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
            source: Some(ErrorSource::new(error)),
        };
    }
    if status == Some(429) {
        return Error::Throttled {
            location,
            retry_after: retry,
            by: ThrottledBy::Service,
        };
    }
    Error::Unauthenticated {
        location,
        detail: credential_fix(code.as_deref(), entra.as_deref(), context.credential_hint),
        code,
    }
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
