//! Every failure of the Azure SDK becomes an [`Error`] here, and nowhere else.
//!
//! HTTP failures are classified from the response body, parsed here with owned strings: the
//! SDK's own `error_code` falls back to the status text whenever the body's JSON has an escape
//! (real `ForbiddenByRbac` messages contain `\r\n`), and its `Display` then prints the whole raw
//! body. Nothing a user sees is taken from the SDK's `Display` except Entra ID's one-line
//! description of a credential failure (see `credential`), and of a service message only its
//! first line.

use std::error::Error as StdError;
use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::headers::Headers;
use azure_core::http::policies::get_retry_after;
use azure_core::time::OffsetDateTime;
use serde::Deserialize;

use super::retry::RETRY_HEADERS;
use crate::error::{Error, ErrorSource, MissingGrant, ThrottledBy};
use crate::location::Location;
use crate::reference::{SecretName, SecretVersion};
use credential::credential_error;

/// What was being done when the SDK failed, for the message.
pub(crate) struct Context<'a> {
    /// The vault.
    pub(crate) location: &'a Location,
    /// The secret asked for (a random name for the connection check).
    pub(crate) name: &'a SecretName,
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

/// What a Key Vault error body says: `{"error":{"code":..,"message":..,"innererror":{"code":..}}}`.
/// Everything is empty for a body that is not Key Vault JSON (an HTML page of a proxy).
struct Said {
    code: Option<String>,
    inner: Option<String>,
    /// The whole message, every line: only ever matched against, never shown.
    message: String,
}

impl Said {
    fn read(body: &[u8]) -> Self {
        let error = serde_json::from_slice::<Body>(body)
            .ok()
            .and_then(|b| b.error)
            .unwrap_or_default();
        Self {
            code: error.code,
            inner: error.inner.and_then(|i| i.code),
            message: error.message.unwrap_or_default(),
        }
    }

    /// The first line of the message: later lines of real messages name the caller's object ID,
    /// the subscription and the client's IP address.
    fn first_line(&self) -> String {
        one_line(&self.message)
    }

    /// `the vault said: <first line>` (without its final full stop, so that a fix can follow),
    /// or `fallback` when it said nothing readable.
    fn quoted(&self, fallback: &str) -> String {
        let line = self.first_line();
        match line.trim_end_matches('.') {
            "" => fallback.to_owned(),
            line => format!("the vault said: {line}"),
        }
    }

    fn says(&self, phrase: &str) -> bool {
        contains_ignore_case(&self.message, phrase)
    }
}

mod credential;

/// Maps one SDK error.
pub(crate) fn map_error(error: azure_core::Error, context: &Context<'_>) -> Error {
    let location = context.location.clone();
    match error.kind() {
        ErrorKind::HttpResponse {
            status,
            raw_response,
            ..
        } => {
            // The SDK's error is kept as the cause by its status alone: its message is the
            // vault's whole message, or the whole body when that is not JSON (a proxy's page),
            // and its raw response prints header values.
            let cause = ErrorKind::HttpResponse {
                status: *status,
                error_code: None,
                raw_response: None,
            }
            .into_error();
            let status = u16::from(*status);
            let (body, headers) = raw_response
                .as_ref()
                .map(|raw| (raw.body().to_vec(), raw.headers().clone()))
                .unwrap_or_default();
            map_status(
                status,
                &body,
                &headers,
                context,
                Some(ErrorSource::new(cause)),
            )
        }
        ErrorKind::Credential => credential_error(error, context),
        ErrorKind::Connection | ErrorKind::Io => Error::Unavailable {
            reason: transport_reason(&error),
            location,
            source: Some(ErrorSource::new(error)),
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

/// Maps a vault's HTTP error answer: its status, body and headers. `source` is kept as the
/// cause where the error has one.
fn map_status(
    status: u16,
    body: &[u8],
    headers: &Headers,
    context: &Context<'_>,
    source: Option<ErrorSource>,
) -> Error {
    let location = context.location.clone();
    let said = Said::read(body);
    let name = || context.name.clone();
    let version = || context.version.cloned();
    match status {
        404 if said.code.as_deref() == Some("SecretNotFound") => Error::NotFound {
            name: name(),
            version: version(),
            location,
        },
        403 => match forbidden(&said) {
            None => Error::Disabled {
                name: name(),
                version: version(),
                location,
            },
            Some(missing) => Error::PermissionDenied {
                location,
                missing,
                detail: said.quoted(&format!(
                    "the vault answered 403 {}",
                    said.code
                        .as_deref()
                        .unwrap_or("without a Key Vault error body")
                )),
            },
        },
        401 => unauthenticated(&said, location),
        429 => Error::Throttled {
            location,
            retry_after: retry_after(headers),
            by: ThrottledBy::Service,
        },
        408 | 500..=599 => Error::Unavailable {
            location,
            reason: format!(
                "the vault answered {status}{}; try again later",
                said.code
                    .as_deref()
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default()
            ),
            source,
        },
        400..=499 => Error::Rejected {
            detail: rejected_detail(status, &said),
            location,
            status,
            code: said.inner.clone().or(said.code),
            source,
        },
        // A redirect (never followed: it could carry the token to another host) or anything
        // else no vault answers.
        _ => Error::InvalidConfig {
            field: "vault URL".to_owned(),
            reason: format!(
                "{location} answered {status}, which Key Vault never does (a redirect is not followed, so that no token goes elsewhere); check that the URL is the vault's URI"
            ),
            source,
        },
    }
}

/// What a 403 means: `None` for a disabled secret, else the missing grant.
///
/// The inner error code says it. Some emulators omit the `innererror`; then the vault's message
/// does, in the words the real service uses.
fn forbidden(said: &Said) -> Option<MissingGrant> {
    if let Some(inner) = &said.inner {
        return match inner.as_str() {
            "SecretDisabled" => None,
            "ForbiddenByRbac" => Some(MissingGrant::KeyVaultSecretsUserRole),
            "AccessDenied" => Some(MissingGrant::GetSecretPermission),
            "ForbiddenByFirewall" => Some(MissingGrant::Firewall),
            _ => Some(other_grant()),
        };
    }
    if said.says("not allowed on a disabled secret") {
        None
    } else if said.says("Caller is not authorized to perform action on resource")
        || said.says("DecisionReason")
    {
        Some(MissingGrant::KeyVaultSecretsUserRole)
    } else if said.says("does not have secrets get permission")
        || said.says("not found on any access policy")
    {
        Some(MissingGrant::GetSecretPermission)
    } else if said.says("Client address is not authorized") {
        Some(MissingGrant::Firewall)
    } else {
        Some(other_grant())
    }
}

fn other_grant() -> MissingGrant {
    MissingGrant::Other(
        "the vault refused the caller; check its role assignments, access policies and networking rules".to_owned(),
    )
}

/// A token the vault refused: what its message says the cause is, and what to fix.
fn unauthenticated(said: &Said, location: Location) -> Error {
    let akv = akv_code(&said.message);
    // Real expired tokens: `[TokenExpired] Error validating token: 'S2S12086'.`
    let bracketed = said
        .message
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map(|(code, _)| code)
        .filter(|code| !code.is_empty() && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned);
    let code = akv
        .clone()
        .or(bracketed)
        .or_else(|| said.inner.clone())
        .or_else(|| said.code.clone());
    let expired = [said.code.as_deref(), said.inner.as_deref(), code.as_deref()]
        .contains(&Some("TokenExpired"))
        || said.says("expired")
        || said.says("not yet valid");
    let fix = match akv.as_deref() {
        Some("AKV10032") => {
            "the token was issued by another tenant than the vault's; check that the tenant ID is the Directory (tenant) ID of the vault's subscription"
        }
        Some("AKV10022") => {
            "the token is for another resource than Key Vault; a custom credential must ask for the scope the vault's challenge names (https://vault.azure.net/.default in the public cloud)"
        }
        _ if expired => {
            "the token has expired or is not valid yet; check this host's clock (a few minutes of skew are enough), or try again with a new token"
        }
        Some("AKV10000") => {
            "the request reached the vault without a token; check that no proxy between this host and the vault removes the Authorization header"
        }
        _ => {
            "check that the tenant ID is the tenant of the vault's subscription, and the client ID and credential"
        }
    };
    Error::Unauthenticated {
        location,
        detail: format!(
            "the vault refused the token ({}): {fix}",
            match said.first_line() {
                line if line.is_empty() => "no details".to_owned(),
                line => line,
            }
        ),
        code,
    }
}

/// Key Vault's own code of an authentication failure, `AKV` and digits (`AKV10032`).
fn akv_code(message: &str) -> Option<String> {
    let start = message.find("AKV")?;
    let digits: String = message[start + 3..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty()).then(|| format!("AKV{digits}"))
}

/// What a 4xx that no other variant names says, and what to check.
fn rejected_detail(status: u16, said: &Said) -> String {
    let code = said.code.as_deref();
    match (status, code, said.inner.as_deref()) {
        (404, ..) => format!(
            "the answer is not Key Vault's ({}); check the vault URL: it must be the Vault URI from the vault's Overview page",
            match code {
                Some(code) => format!("its error code is {code}, not SecretNotFound"),
                None => "its body is not a Key Vault error".to_owned(),
            }
        ),
        (409, _, Some("ObjectIsDeletedButRecoverable")) => format!(
            "{}; the secret is deleted but recoverable: recover it, or purge it to reuse its name",
            said.quoted("the vault answered 409")
        ),
        (409, ..) => format!(
            "{}; the secret is in a state that conflicts with the request (being deleted or recovered): try again once that has finished",
            said.quoted("the vault answered 409")
        ),
        (400, Some("BadParameter"), _) => format!(
            "{}; check the API version (the SDK's default unless one was set) and the vault URL",
            said.quoted("the vault refused a parameter")
        ),
        (status, ..) => format!(
            "{}; check the vault URL and the API version",
            said.quoted(&format!(
                "the vault answered {status} without a Key Vault error body"
            ))
        ),
    }
}

/// How long the service asked to wait: `x-ms-retry-after-ms`, `retry-after-ms`, or
/// `Retry-After` in seconds or as an HTTP date, read by the SDK's own helper. A date in the past
/// or a negative number means no wait.
fn retry_after(headers: &Headers) -> Option<Duration> {
    retry_after_at(headers, OffsetDateTime::now_utc)
}

fn retry_after_at(headers: &Headers, now: fn() -> OffsetDateTime) -> Option<Duration> {
    get_retry_after(headers, now, &RETRY_HEADERS)
        .map(|wait| Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn transport_reason(error: &azure_core::Error) -> String {
    let chain = chain_text(error).to_ascii_lowercase();
    // A broken answer first: its chain names TLS too (a close without `close_notify`).
    let hint = if chain.contains("reading a body") || chain.contains("decoding response body") {
        "the connection broke while the vault was answering (reset, or closed before the whole answer arrived): check the network path to the vault (proxy, firewall, load balancer)"
    } else if chain.contains("certificate") || chain.contains("handshake") {
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

/// A refusal of the SDK before any request: configuration, found before anything was sent.
fn other(error: azure_core::Error, location: Location) -> Error {
    let chain = chain_text(&error);
    let (reason, source) = if chain.contains("challenge resource") {
        // The SDK's text quotes the challenge as the server sent it: keep only what it means.
        let said = azure_core::Error::with_message(
            ErrorKind::Other,
            "the challenge resource does not match the requested domain",
        );
        (
            "the vault's authentication challenge names a resource that does not match its host, so no token was sent; check that the URL is the vault's URI",
            said,
        )
    } else if chain.contains("non-TLS") {
        ("the vault URL must use https", error)
    } else {
        ("the Azure SDK refused the request", error)
    };
    Error::InvalidConfig {
        field: "vault URL".to_owned(),
        reason: format!("{location}: {reason}"),
        source: Some(ErrorSource::new(source)),
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

fn contains_ignore_case(text: &str, phrase: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&phrase.to_ascii_lowercase())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind as Kind;

    /// What one answer must map to.
    #[derive(Debug)]
    enum Expect {
        NotFound,
        Disabled,
        Denied(MissingGrant),
        Unauthenticated(Option<&'static str>),
        Throttled(Option<Duration>),
        Unavailable,
        Rejected(Option<&'static str>),
        InvalidConfig,
    }

    const RBAC: &str = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nCaller: appid=1b730954-1685-4b74-9bfd-dac224a7b894;oid=5e2b9a4c-7d1f-4c3e-9b8a-0f6d2c1e3a47\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\n","innererror":{"code":"ForbiddenByRbac"}}}"#;
    const RBAC_BARE: &str = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nCaller: appid=1b730954;oid=5e2b9a4c\r\nDecisionReason: 'DeniedWithNoValidRBAC' \r\n"}}"#;
    const DECISION_ONLY: &str = r#"{"error":{"code":"Forbidden","message":"Access denied.\r\nDecisionReason: 'DeniedWithNoValidRBAC'"}}"#;
    const POLICY: &str = r#"{"error":{"code":"Forbidden","message":"The user, group or application 'appid=1b730954;oid=5e2b9a4c' does not have secrets get permission on key vault 'corp-vault;location=westeurope'.","innererror":{"code":"AccessDenied"}}}"#;
    const POLICY_BARE: &str = r#"{"error":{"code":"Forbidden","message":"The user, group or application 'appid=1b730954;oid=5e2b9a4c' does not have secrets get permission on key vault 'corp-vault;location=westeurope'."}}"#;
    const POLICY_OLD: &str = r#"{"error":{"code":"Forbidden","message":"Access denied. Caller was not found on any access policy.\r\nCaller: appid=1b730954;oid=5e2b9a4c"}}"#;
    const FIREWALL: &str = r#"{"error":{"code":"Forbidden","message":"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7","innererror":{"code":"ForbiddenByFirewall"}}}"#;
    const FIREWALL_BARE: &str = r#"{"error":{"code":"Forbidden","message":"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7"}}"#;
    const DISABLED: &str = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#;
    const DISABLED_BARE: &str = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret."}}"#;
    const NEW_INNER: &str = r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed by policy.","innererror":{"code":"SomethingNew"}}}"#;
    const UNKNOWN_403: &str =
        r#"{"error":{"code":"Forbidden","message":"Operation get is not allowed by policy."}}"#;
    const HTML: &str = "<html><body><h1>Error</h1>\r\n<p>10.1.2.3</p></body></html>";
    const NOT_FOUND: &str = r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db was not found in this key vault."}}"#;
    const OTHER_NOT_FOUND: &str = r#"{"error":{"code":"NotFound","message":"Nothing here."}}"#;
    const ISSUER: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/, found https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/."}}"#;
    const AUDIENCE: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/."}}"#;
    const EXPIRED: &str = r#"{"error":{"code":"Unauthorized","message":"[TokenExpired] Error validating token: 'S2S12086'."}}"#;
    const EXPIRED_INNER: &str = r#"{"error":{"code":"Unauthorized","message":"Token validation failed.","innererror":{"code":"TokenExpired"}}}"#;
    const NOT_YET_VALID: &str = r#"{"error":{"code":"Unauthorized","message":"Token not yet valid (Activity ID: 5c6d7e8f)"}}"#;
    const NO_TOKEN: &str = r#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#;
    const BAD_TOKEN: &str = r#"{"error":{"code":"Unauthorized","message":"[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'."}}"#;
    const THROTTLED: &str = r#"{"error":{"code":"Throttled","message":"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached"}}"#;
    const INTERNAL: &str = r#"{"error":{"code":"InternalServerError","message":"The service encountered an internal error."}}"#;
    const BAD_PARAMETER: &str = r#"{"error":{"code":"BadParameter","message":"The specified version (2025-07-01) is not recognized. Consider using the latest supported version (7.5)."}}"#;
    const CONFLICT: &str = r#"{"error":{"code":"Conflict","message":"Secret db is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.","innererror":{"code":"ObjectIsDeletedButRecoverable"}}}"#;
    const CONFLICT_PLAIN: &str =
        r#"{"error":{"code":"Conflict","message":"Secret db is currently being deleted."}}"#;

    /// One row: status, body, headers, the error it maps to, and words its message must hold.
    type Row = (
        u16,
        &'static str,
        &'static [(&'static str, &'static str)],
        Expect,
        &'static str,
    );

    #[rustfmt::skip]
    fn table() -> Vec<Row> {
        use Expect::*;
        use MissingGrant::*;
        let secs = |s| Some(Duration::from_secs(s));
        vec![
            (404, NOT_FOUND, &[], NotFound, "was not found in"),
            (403, DISABLED, &[], Disabled, "is disabled; enable it"),
            (403, DISABLED_BARE, &[], Disabled, "is disabled; enable it"),
            (403, RBAC, &[], Denied(KeyVaultSecretsUserRole), "the vault said: Caller is not authorized"),
            (403, RBAC_BARE, &[], Denied(KeyVaultSecretsUserRole), "Key Vault Secrets User"),
            (403, DECISION_ONLY, &[], Denied(KeyVaultSecretsUserRole), "Key Vault Secrets User"),
            (403, POLICY, &[], Denied(GetSecretPermission), "`Get` permission"),
            (403, POLICY_BARE, &[], Denied(GetSecretPermission), "access policies"),
            (403, POLICY_OLD, &[], Denied(GetSecretPermission), "not found on any access policy"),
            (403, FIREWALL, &[], Denied(Firewall), "networking rules"),
            (403, FIREWALL_BARE, &[], Denied(Firewall), "networking rules"),
            (403, NEW_INNER, &[], Denied(other_grant()), "role assignments"),
            (403, UNKNOWN_403, &[], Denied(other_grant()), "not allowed by policy"),
            (403, HTML, &[], Denied(other_grant()), "without a Key Vault error body"),
            (401, ISSUER, &[], Unauthenticated(Some("AKV10032")), "another tenant than the vault's; check that the tenant ID"),
            (401, AUDIENCE, &[], Unauthenticated(Some("AKV10022")), "another resource than Key Vault"),
            (401, EXPIRED, &[], Unauthenticated(Some("TokenExpired")), "has expired or is not valid yet; check this host's clock"),
            (401, EXPIRED_INNER, &[], Unauthenticated(Some("TokenExpired")), "check this host's clock"),
            (401, NOT_YET_VALID, &[], Unauthenticated(Some("Unauthorized")), "check this host's clock"),
            (401, NO_TOKEN, &[], Unauthenticated(Some("AKV10000")), "removes the Authorization header"),
            (401, BAD_TOKEN, &[], Unauthenticated(Some("BearerReadAccessTokenFailed")), "check that the tenant ID is the tenant"),
            (401, HTML, &[], Unauthenticated(None), "(no details)"),
            (429, THROTTLED, &[], Throttled(None), "is throttling requests"),
            (429, THROTTLED, &[("retry-after", "7")], Throttled(secs(7)), "retry after 7 s"),
            (429, THROTTLED, &[("retry-after", "-3")], Throttled(Some(Duration::ZERO)), "throttling"),
            (429, THROTTLED, &[("retry-after", "soon")], Throttled(None), "throttling"),
            (429, THROTTLED, &[("retry-after", "Mon, 12 May 2025 09:00:30 GMT")], Throttled(secs(30)), "retry after 30 s"),
            (429, THROTTLED, &[("retry-after", "Mon, 12 May 2025 08:00:00 GMT")], Throttled(Some(Duration::ZERO)), "throttling"),
            (429, THROTTLED, &[("retry-after-ms", "1500")], Throttled(Some(Duration::from_millis(1500))), "retry after 2 s"),
            (429, THROTTLED, &[("x-ms-retry-after-ms", "250"), ("retry-after", "9")], Throttled(Some(Duration::from_millis(250))), "throttling"),
            (408, "", &[], Unavailable, "answered 408; try again later"),
            (500, INTERNAL, &[], Unavailable, "answered 500 InternalServerError; try again later"),
            (502, HTML, &[], Unavailable, "answered 502; try again later"),
            (503, THROTTLED, &[("retry-after", "5")], Unavailable, "answered 503 Throttled"),
            (400, BAD_PARAMETER, &[], Rejected(Some("BadParameter")), "is not recognized. Consider using the latest supported version (7.5); check the API version"),
            (409, CONFLICT, &[], Rejected(Some("ObjectIsDeletedButRecoverable")), "recover it, or purge it"),
            (409, CONFLICT_PLAIN, &[], Rejected(Some("Conflict")), "try again once that has finished"),
            (404, HTML, &[], Rejected(None), "check the vault URL: it must be the Vault URI"),
            (404, OTHER_NOT_FOUND, &[], Rejected(Some("NotFound")), "its error code is NotFound, not SecretNotFound"),
            (405, "", &[], Rejected(None), "405 without a Key Vault error body; check the vault URL"),
            (302, "", &[("location", "https://elsewhere.example")], InvalidConfig, "a redirect is not followed"),
        ]
    }

    /// The moment the HTTP dates of the table are measured from.
    fn table_now() -> OffsetDateTime {
        time::macros::datetime!(2025-05-12 09:00:00 UTC)
    }

    #[test]
    fn each_answer_maps_to_its_error() {
        let location = Location::url("https://corp-vault.vault.azure.net").unwrap();
        let name = SecretName::new("db").unwrap();
        let context = Context {
            location: &location,
            name: &name,
            version: None,
            credential_hint: "check the credential",
        };
        for (status, body, headers, expect, says) in table() {
            let mut map = Headers::new();
            for (header, value) in headers {
                map.insert(*header, *value);
            }
            let case = format!("{status} {body:.60} {headers:?}");
            let mut error = map_status(status, body.as_bytes(), &map, &context, None);
            // Dates are measured from a fixed moment, so that the table does not depend on the
            // clock; everything else is the mapping itself.
            if let Error::Throttled { retry_after, .. } = &mut error {
                *retry_after = retry_after_at(&map, table_now);
            }
            let message = error.to_string();
            match (&expect, &error) {
                (Expect::NotFound, Error::NotFound { name: n, .. })
                | (Expect::Disabled, Error::Disabled { name: n, .. }) => assert_eq!(n, &name),
                (Expect::Denied(want), Error::PermissionDenied { missing, .. }) => {
                    assert_eq!(missing, want, "{case}")
                }
                (Expect::Unauthenticated(want), Error::Unauthenticated { code, .. }) => {
                    assert_eq!(code.as_deref(), *want, "{case}")
                }
                (Expect::Throttled(want), Error::Throttled { retry_after, .. }) => {
                    assert_eq!(retry_after, want, "{case}")
                }
                (
                    Expect::Rejected(want),
                    Error::Rejected {
                        status: s, code, ..
                    },
                ) => {
                    assert_eq!((*s, code.as_deref()), (status, *want), "{case}")
                }
                (Expect::Unavailable, Error::Unavailable { .. })
                | (Expect::InvalidConfig, Error::InvalidConfig { .. }) => {}
                _ => panic!("{case}: expected {expect:?}, got {error:?}"),
            }
            assert!(message.contains(says), "{case}: {message}");
            assert!(message.contains("corp-vault.vault.azure.net"), "{message}");
            // Only first lines are quoted: the later ones name the caller and its address.
            for line_two in ["\r", "\n", "203.0.113", "DecisionReason", "<html"] {
                assert!(!message.contains(line_two), "{case}: {message:?}");
            }
            if !Said::read(body.as_bytes()).first_line().contains("oid=") {
                assert!(!message.contains("oid="), "{case}: {message}");
            }
            let temporary = matches!(expect, Expect::Throttled(_) | Expect::Unavailable);
            assert_eq!(error.is_temporary(), temporary, "{case}");
            if error.kind() == Kind::InvalidConfig {
                assert!(status < 400, "{case}: a 4xx is never a configuration error");
            }
        }
    }

    #[test]
    fn retry_after_dates_and_numbers() {
        let at = |name: &'static str, value: &'static str| {
            let mut headers = Headers::new();
            headers.insert(name, value);
            retry_after_at(&headers, table_now)
        };
        assert_eq!(
            at("retry-after", "Mon, 12 May 2025 09:01:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at("retry-after", "120"), Some(Duration::from_secs(120)));
        assert_eq!(at("retry-after-ms", "-5"), Some(Duration::ZERO));
        assert_eq!(at("x-ms-retry-after-ms", "x"), None);
        assert_eq!(retry_after(&Headers::new()), None);
    }
}
