//! Key Vault's secrets API (`PUT /secrets/{name}`, `GET /secrets/{name}/[{version}]`), with the
//! real service's challenge, permission models and error bodies.

use std::collections::HashMap;

use hyper::Method;
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use super::{API_VERSION, APPS, Answer, SECONDARY_HOST, State, TENANT_ID};

/// A made-up subscription the RBAC messages name, like the real ones do.
const SUBSCRIPTION_ID: &str = "6a1f3c9e-2b7d-4e58-9c04-d1e2f3a4b5c6";
const RESOURCE_GROUP: &str = "secretscope-tests";
const LOCATION: &str = "westeurope";

/// The secrets of one vault (one host).
#[derive(Debug, Default)]
pub(super) struct Store {
    /// Keyed by the lower-cased name: names are case-insensitive.
    secrets: HashMap<String, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// The name as first written; the `id` of every version uses it.
    name: String,
    /// `(version, bundle)`, oldest first; the last one is the latest.
    versions: Vec<(String, Value)>,
}

/// What a request asks for.
enum Operation<'a> {
    Get {
        name: &'a str,
        version: Option<&'a str>,
    },
    Set {
        name: &'a str,
    },
}

impl Operation<'_> {
    fn name(&self) -> &str {
        match self {
            Operation::Get { name, .. } | Operation::Set { name } => name,
        }
    }

    /// The permission an access-policy vault checks, and the RBAC data action.
    fn permission(&self) -> (&'static str, &'static str) {
        match self {
            Operation::Get { .. } => ("get", "getSecret"),
            Operation::Set { .. } => ("set", "setSecret"),
        }
    }
}

/// Answers one request to a vault host. `client_id` is set to the client of a valid token.
pub(super) fn handle(
    state: &mut State,
    host: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
    authorization: Option<&str>,
    body: &[u8],
) -> Answer {
    // Only tokens this stand-in issued count. Known before routing, so that the request log
    // names the client even for a path the stand-in does not serve.
    let client = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|token| state.tokens.get(token))
        .copied();
    let client_id = client.map(str::to_string);
    let Some((name, version)) = route(path) else {
        return Answer::not_found().client(client_id);
    };
    let operation = match *method {
        Method::GET => Operation::Get { name, version },
        Method::PUT if version.is_none() => Operation::Set { name },
        _ => {
            return Answer::text(
                405,
                "405 Method Not Allowed: the stand-in serves GET and PUT",
            )
            .header("allow", "GET, PUT")
            .client(client_id);
        }
    };

    let Some(client) = client else {
        let challenge = format!(
            "Bearer authorization=\"https://login.localhost:{}/{TENANT_ID}\", resource=\"{}\"",
            state.port, state.challenge_resource
        );
        return kv_error(
            401,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
            None,
        )
        .header("www-authenticate", challenge);
    };
    handle_authenticated(state, host, &operation, client, query, body).client(client_id)
}

fn handle_authenticated(
    state: &mut State,
    host: &str,
    operation: &Operation<'_>,
    client: &str,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let api_version = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned())
    });
    match api_version.as_deref() {
        Some(API_VERSION) => {}
        Some(other) => {
            return kv_error(
                400,
                "BadParameter",
                &format!(
                    "The specified version ({other}) is not recognized. Consider using the latest \
                     supported version ({API_VERSION})."
                ),
                None,
            );
        }
        None => {
            return kv_error(
                400,
                "BadParameter",
                "The api-version query parameter is missing.",
                None,
            );
        }
    }

    let app = APPS.iter().find(|a| a.client_id == client);
    if !app.is_some_and(|a| a.can_access) {
        let object_id = app.map_or("", |a| a.object_id);
        return forbidden(host, operation, client, object_id);
    }

    let name = operation.name();
    if !valid_name(name) {
        return kv_error(
            400,
            "BadParameter",
            &format!("The request URI contains an invalid name: {name}"),
            None,
        );
    }

    match *operation {
        Operation::Set { name } => {
            let params: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(_) => {
                    return kv_error(
                        400,
                        "BadParameter",
                        "The request body is not valid JSON.",
                        None,
                    );
                }
            };
            match store(state, host, name, &params) {
                Ok(bundle) => Answer::json(200, bundle),
                Err(answer) => answer,
            }
        }
        Operation::Get { name, version } => get(state, host, name, version),
    }
}

/// `/secrets/{name}`, `/secrets/{name}/` (latest) or `/secrets/{name}/{version}`.
fn route(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/secrets/")?;
    let (name, version) = match rest.split_once('/') {
        None => (rest, None),
        Some((name, "")) => (name, None),
        Some((name, version)) => (name, Some(version)),
    };
    if name.is_empty() || version.is_some_and(|v| v.contains('/')) {
        return None;
    }
    Some((name, version))
}

/// Key Vault's rule for object names: 1 to 127 of `0-9 a-z A-Z -`.
fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Stores a new version from `SetSecretParameters` JSON (`value`, `contentType`, `tags`,
/// `attributes { enabled, nbf, exp }`) and returns its bundle, or a `BadParameter` answer.
pub(super) fn store(
    state: &mut State,
    host: &str,
    name: &str,
    params: &Value,
) -> Result<Value, Answer> {
    let bad = |message: &str| kv_error(400, "BadParameter", message, None);
    if !valid_name(name) {
        return Err(bad(&format!(
            "The request URI contains an invalid name: {name}"
        )));
    }
    let Some(value) = params.get("value").and_then(Value::as_str) else {
        return Err(bad(
            "The parameter 'value' is required and must be a string.",
        ));
    };
    let attributes = match params.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(bad("The parameter 'attributes' must be an object.")),
    };
    let enabled = match attributes.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(bad("The attribute 'enabled' must be a boolean.")),
    };
    let mut stored = json!({ "enabled": enabled });
    for key in ["nbf", "exp"] {
        match attributes.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.is_i64() => stored[key] = Value::Number(n.clone()),
            Some(_) => {
                return Err(bad(&format!(
                    "The attribute '{key}' must be a number of seconds since the Unix epoch."
                )));
            }
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    stored["created"] = json!(now);
    stored["updated"] = json!(now);
    stored["recoveryLevel"] = json!("Recoverable+Purgeable");
    stored["recoverableDays"] = json!(90);

    let version = loop {
        let candidate = state.hex32();
        let taken = state.vaults.values().any(|store| {
            store
                .secrets
                .values()
                .any(|e| e.versions.iter().any(|(v, _)| *v == candidate))
        });
        if !taken {
            break candidate;
        }
    };
    let port = state.port;
    let entry = state
        .vaults
        .entry(host.to_string())
        .or_default()
        .secrets
        .entry(name.to_ascii_lowercase())
        .or_insert_with(|| Entry {
            name: name.to_string(),
            versions: Vec::new(),
        });
    let mut bundle = json!({
        "value": value,
        "id": format!("https://{host}:{port}/secrets/{}/{version}", entry.name),
        "attributes": stored,
    });
    match params.get("contentType") {
        None | Some(Value::Null) => {}
        Some(Value::String(ct)) => bundle["contentType"] = json!(ct),
        Some(_) => return Err(bad("The parameter 'contentType' must be a string.")),
    }
    match params.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(tags)) if tags.values().all(Value::is_string) => {
            bundle["tags"] = Value::Object(tags.clone());
        }
        Some(_) => return Err(bad("The parameter 'tags' must map names to strings.")),
    }
    entry.versions.push((version, bundle.clone()));
    Ok(bundle)
}

fn get(state: &State, host: &str, name: &str, version: Option<&str>) -> Answer {
    let entry = state
        .vaults
        .get(host)
        .and_then(|store| store.secrets.get(&name.to_ascii_lowercase()));
    let found = entry.and_then(|e| match version {
        None => e.versions.last(),
        Some(v) => e
            .versions
            .iter()
            .find(|(ver, _)| ver.eq_ignore_ascii_case(v)),
    });
    let Some((_, bundle)) = found else {
        let what = match version {
            None => name.to_string(),
            Some(v) => format!("{name}/{v}"),
        };
        return kv_error(
            404,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {what} was not found in this key vault. If you recently \
                 deleted this secret you may be able to recover it using the correct recovery \
                 command. For help resolving this issue, please see \
                 https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
            None,
        );
    };
    if bundle["attributes"]["enabled"] == json!(false) {
        return kv_error(
            403,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    // Expired or not yet valid secrets are returned as they are, like the real service does.
    Answer::json(200, bundle.clone())
}

/// 403 for a caller without access: `ForbiddenByRbac` on an RBAC vault (every host but
/// `secondary.localhost`), `AccessDenied` on the access-policy vault (`secondary.localhost`).
fn forbidden(host: &str, operation: &Operation<'_>, client: &str, object_id: &str) -> Answer {
    let vault = host.split('.').next().unwrap_or(host);
    let (permission, action) = operation.permission();
    let caller = format!("appid={client};oid={object_id};iss=https://sts.windows.net/{TENANT_ID}/");
    if host == SECONDARY_HOST {
        return kv_error(
            403,
            "Forbidden",
            &format!(
                "The user, group or application '{caller}' does not have secrets {permission} \
                 permission on key vault '{vault};location={LOCATION}'. For help resolving this \
                 issue, please see https://go.microsoft.com/fwlink/?linkid=2125287"
            ),
            Some("AccessDenied"),
        );
    }
    let resource = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{RESOURCE_GROUP}/providers/\
         microsoft.keyvault/vaults/{vault}/secrets/{}",
        operation.name().to_ascii_lowercase()
    );
    kv_error(
        403,
        "Forbidden",
        &format!(
            "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny \
             assignments or role definitions were changed recently, please observe propagation \
             time.\r\nCaller: {caller}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/{action}/action'\
             \r\nResource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\n\
             DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {vault};location={LOCATION}\r\n"
        ),
        Some("ForbiddenByRbac"),
    )
}

/// A Key Vault error body: `{"error":{"code":..,"message":..,"innererror":{"code":..}}}`.
pub(super) fn kv_error(status: u16, code: &str, message: &str, inner: Option<&str>) -> Answer {
    let mut error = json!({ "code": code, "message": message });
    if let Some(inner) = inner {
        error["innererror"] = json!({ "code": inner });
    }
    Answer::json(status, json!({ "error": error }))
}
