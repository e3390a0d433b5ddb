//! Entra ID's token endpoint: `POST /{tenant}/oauth2/v2.0/token` with the client-credentials
//! grant, answering like the real service (status codes, JSON shape, AADSTS texts).

use hyper::Method;
use serde_json::json;
use url::form_urlencoded;

use super::server::{Answer, Asked, State, Token};
use super::{
    CHALLENGE_RESOURCE, CLIENT_ID, CLIENT_SECRET, EXPIRED_SECRET_CLIENT_ID, NO_ACCESS_CLIENT_ID,
    TENANT_ID,
};

/// A registered application.
pub(super) struct App {
    pub(super) client_id: &'static str,
    pub(super) object_id: &'static str,
    secret: &'static str,
    secret_expired: bool,
    pub(super) can_access: bool,
}

pub(super) const APPS: [App; 3] = [
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

const TOKEN_PATH_SUFFIX: &str = "/oauth2/v2.0/token";

/// Answers one request to [`LOGIN_HOST`](super::LOGIN_HOST). The answer names the form's
/// `client_id`, so the request log can say who asked; the client secret is never kept.
pub(super) fn handle(state: &mut State, asked: &Asked<'_>) -> Answer {
    let Some(tenant) = asked
        .path
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix(TOKEN_PATH_SUFFIX))
        .filter(|t| !t.is_empty() && !t.contains('/'))
    else {
        return Answer::not_served();
    };
    if asked.method != Method::POST {
        return Answer::not_served();
    }

    let form: Vec<(String, String)> = form_urlencoded::parse(asked.body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let client_id = field("client_id").map(str::to_owned);
    let vault_resource = state.challenge_resource.trim_end_matches('/').to_owned();
    let mut answer = |status, error: &str, code, description: String| {
        entra_error(state, status, error, code, &description).client(client_id.clone())
    };

    if !tenant.eq_ignore_ascii_case(TENANT_ID) {
        return answer(
            400,
            "invalid_request",
            90002,
            format!(
                "AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the correct \
                 tenant ID and are signing into the correct cloud. Check with your subscription \
                 administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        );
    }
    for required in ["grant_type", "client_id", "scope"] {
        if field(required).is_none_or(str::is_empty) {
            return answer(
                400,
                "invalid_request",
                900144,
                format!(
                    "AADSTS900144: The request body must contain the following parameter: \
                     '{required}'."
                ),
            );
        }
    }
    let grant_type = field("grant_type").unwrap_or_default();
    if grant_type != "client_credentials" {
        return answer(
            400,
            "unsupported_grant_type",
            70003,
            format!("AADSTS70003: The app requested an unsupported grant type '{grant_type}'."),
        );
    }
    let id = field("client_id").unwrap_or_default();
    let Some(app) = APPS.iter().find(|a| a.client_id.eq_ignore_ascii_case(id)) else {
        return answer(
            400,
            "unauthorized_client",
            700016,
            format!(
                "AADSTS700016: Application with identifier '{id}' was not found in the directory \
                 '{TENANT_ID}'. This can happen if the application has not been installed by the \
                 administrator of the tenant or consented to by any user in the tenant. You may \
                 have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let Some(secret) = field("client_secret").filter(|s| !s.is_empty()) else {
        return answer(
            401,
            "invalid_client",
            7000216,
            "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the \
             'client_credentials' grant type."
                .to_owned(),
        );
    };
    if secret != app.secret {
        return answer(
            401,
            "invalid_client",
            7000215,
            format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in \
                 the request is the client secret value, not the client secret ID, for a secret \
                 added to app '{}'.",
                app.client_id
            ),
        );
    }
    if app.secret_expired {
        return answer(
            401,
            "invalid_client",
            7000222,
            format!(
                "AADSTS7000222: The provided client secret keys for app '{}' are expired. Visit \
                 the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, \
                 or consider using certificate credentials for added security: \
                 https://aka.ms/certCreds.",
                app.client_id
            ),
        );
    }
    let scope = field("scope").unwrap_or_default();
    if scope.split(' ').count() != 1 || !scope.ends_with("/.default") {
        return answer(
            400,
            "invalid_scope",
            1002012,
            format!(
                "AADSTS1002012: The provided value for scope {scope} is not valid. Client \
                 credential flows must have a scope value with /.default suffixed to the resource \
                 identifier (application ID URI)."
            ),
        );
    }

    let audience = scope.trim_end_matches("/.default").trim_end_matches('/');
    let known = [
        CHALLENGE_RESOURCE,
        "https://vault.azure.net",
        "https://management.azure.com",
        &vault_resource,
    ];
    if !known.contains(&audience) {
        return answer(
            400,
            "invalid_resource",
            500011,
            format!(
                "AADSTS500011: The resource principal named {audience} was not found in the \
                 tenant named {TENANT_ID}. This can happen if the application has not been \
                 installed by the administrator of the tenant or consented to by any user in the \
                 tenant. You might have sent your authentication request to the wrong tenant."
            ),
        );
    }

    let token = format!("standin.{}{}", state.hex32(), state.hex32());
    let audience = audience.to_owned();
    state.tokens.insert(
        token.clone(),
        Token {
            client: app.client_id,
            audience,
            expired: false,
        },
    );
    let request_id = state.guid();
    Answer::json(
        200,
        json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }),
    )
    .header("cache-control", "no-store, no-cache")
    .header("x-ms-request-id", request_id)
    .client(Some(app.client_id.to_owned()))
}

/// An Entra error body of the real shape: the description ends, as the real one does, in lines
/// with the trace ID, correlation ID and timestamp, separated by `\r\n` (JSON escapes that
/// `azure_identity` 1.0 cannot read into its borrowed strings, as with the real service).
fn entra_error(
    state: &mut State,
    status: u16,
    error: &str,
    code: u32,
    description: &str,
) -> Answer {
    let trace_id = state.guid();
    let correlation_id = state.guid();
    let timestamp = entra_timestamp();
    let port = state.port;
    Answer::json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "{description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.localhost:{port}/error?code={code}"),
        }),
    )
    .header("cache-control", "no-store, no-cache")
    .header("x-ms-request-id", trace_id)
}

/// Entra's timestamp format: `2025-04-18 16:04:37Z`.
fn entra_timestamp() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}
