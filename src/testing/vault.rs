//! Key Vault's secrets API: get (`GET /secrets/{name}/[{version}]`), set (`PUT
//! /secrets/{name}`), update (`PATCH /secrets/{name}/[{version}]`) and delete (`DELETE
//! /secrets/{name}`), with the real service's challenge, permission models, error bodies and
//! headers.

use std::collections::HashMap;

use hyper::Method;
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use super::entra::APPS;
use super::server::{Answer, Asked, State};
use super::{SECONDARY_HOST, TENANT_ID};

/// A made-up subscription the RBAC messages name, like the real ones do.
const SUBSCRIPTION_ID: &str = "6a1f3c9e-2b7d-4e58-9c04-d1e2f3a4b5c6";
const RESOURCE_GROUP: &str = "secretscope-tests";
const LOCATION: &str = "westeurope";
/// Key Vault's stable REST API versions (the SDK's default last).
const API_VERSIONS: [&str; 9] = [
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    super::API_VERSION,
];
/// How long a deleted secret stays recoverable (the vault's default).
const RETENTION_DAYS: i64 = 90;

/// The secrets of one vault (one host). Names are case-insensitive: both maps are keyed by the
/// lower-cased name.
#[derive(Default)]
pub(super) struct Store {
    secrets: HashMap<String, Entry>,
    /// Soft-deleted secrets: recoverable, and their names cannot be reused meanwhile.
    deleted: HashMap<String, Entry>,
}

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
    Update {
        name: &'a str,
        version: Option<&'a str>,
    },
    Delete {
        name: &'a str,
    },
}

impl<'a> Operation<'a> {
    /// The operation of `method` on `path`, if the stand-in serves it: `Err` with its own
    /// answer otherwise.
    fn of(method: &Method, path: &'a str) -> Result<Self, Answer> {
        let Some(rest) = path.strip_prefix("/secrets/") else {
            return Err(Answer::not_served());
        };
        let (name, version) = match rest.split_once('/') {
            None => (rest, None),
            Some((name, "")) => (name, None),
            Some((name, version)) => (name, Some(version)),
        };
        // Listing versions and backups are real operations the stand-in does not serve.
        if name.is_empty()
            || version.is_some_and(|v| v.contains('/') || v == "versions" || v == "backup")
        {
            return Err(Answer::not_served());
        }
        match (method, version) {
            (&Method::GET, _) => Ok(Operation::Get { name, version }),
            (&Method::PUT, None) => Ok(Operation::Set { name }),
            (&Method::PATCH, _) => Ok(Operation::Update { name, version }),
            (&Method::DELETE, None) => Ok(Operation::Delete { name }),
            _ => Err(Answer::text(
                405,
                "405 Method Not Allowed: the stand-in serves GET, PUT, PATCH and DELETE of secrets (not a Key Vault answer)",
            )
            .header("allow", "GET, PUT, PATCH, DELETE")),
        }
    }

    fn name(&self) -> &'a str {
        match self {
            Operation::Get { name, .. }
            | Operation::Set { name }
            | Operation::Update { name, .. }
            | Operation::Delete { name } => name,
        }
    }

    /// The permission an access-policy vault checks, and the RBAC data action.
    fn permission(&self) -> (&'static str, &'static str) {
        match self {
            Operation::Get { .. } => ("get", "getSecret/action"),
            Operation::Set { .. } => ("set", "setSecret/action"),
            Operation::Update { .. } => ("set", "update/action"),
            Operation::Delete { .. } => ("delete", "delete"),
        }
    }
}

/// Answers one request to a vault host, with Key Vault's headers. With `expired_tokens`, every
/// token the stand-in issued is refused as expired ([`Fault::expired_tokens`](super::Fault::expired_tokens)).
pub(super) fn handle(state: &mut State, asked: &Asked<'_>, expired_tokens: bool) -> Answer {
    let answer = answer(state, asked, expired_tokens);
    dress(state, answer, asked.client_request_id)
}

/// Adds the headers every Key Vault answer carries: a fresh `x-ms-request-id`, the caller's
/// `x-ms-client-request-id` echoed, and the service's caching and security headers.
pub(super) fn dress(state: &mut State, answer: Answer, client_request_id: Option<&str>) -> Answer {
    let request_id = state.guid();
    let answer = answer
        .header("cache-control", "no-cache")
        .header("pragma", "no-cache")
        .header("expires", "-1")
        .header("x-ms-keyvault-region", LOCATION)
        .header("x-ms-request-id", request_id)
        .header("x-ms-keyvault-service-version", "1.9.2412.1")
        .header("x-content-type-options", "nosniff")
        .header(
            "strict-transport-security",
            "max-age=31536000;includeSubDomains",
        );
    match client_request_id {
        Some(id) => answer.header("x-ms-client-request-id", id),
        None => answer,
    }
}

fn answer(state: &mut State, asked: &Asked<'_>, expired_tokens: bool) -> Answer {
    // Only tokens this stand-in issued, for this vault's resource, that have not expired count.
    // Known before routing, so that the request log names the client even for a path the
    // stand-in does not serve.
    let resource = state.challenge_resource.trim_end_matches('/').to_owned();
    let token: Result<&'static str, String> = match asked
        .authorization
        .map(|a| a.strip_prefix("Bearer "))
    {
        None | Some(None) => Err("AKV10000: Request is missing a Bearer or PoP token.".into()),
        Some(Some(token)) => match state.tokens.get(token) {
            None => Err("[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'.".into()),
            Some(t) if t.expired || expired_tokens => {
                Err("[TokenExpired] Error validating token: 'S2S12086'.".into())
            }
            Some(t) if t.audience != resource => Err(format!(
                "AKV10022: Invalid audience. Expected {resource}, found: {}.",
                t.audience
            )),
            Some(t) => Ok(t.client),
        },
    };
    let client_id = token.as_ref().ok().map(|client| (*client).to_owned());
    let operation = match Operation::of(asked.method, asked.path) {
        Ok(operation) => operation,
        Err(answer) => return answer.client(client_id),
    };
    let client = match token {
        Ok(client) => client,
        Err(message) => {
            let challenge = format!(
                "Bearer authorization=\"https://login.localhost:{}/{TENANT_ID}\", resource=\"{}\"",
                state.port, state.challenge_resource
            );
            return kv_error(401, "Unauthorized", &message, None)
                .header("www-authenticate", challenge);
        }
    };
    authenticated(state, asked, &operation, client).client(client_id)
}

fn authenticated(
    state: &mut State,
    asked: &Asked<'_>,
    operation: &Operation<'_>,
    client: &str,
) -> Answer {
    let api_version = asked.query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "api-version")
            .map(|(_, v)| v.into_owned())
    });
    match api_version.as_deref() {
        Some(version) if API_VERSIONS.contains(&version) => {}
        Some(other) => {
            return kv_error(
                400,
                "BadParameter",
                &format!(
                    "The specified version ({other}) is not recognized. Consider using the latest \
                     supported version ({}).",
                    super::API_VERSION
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
        return forbidden(asked.host, operation, client, object_id);
    }

    let name = operation.name();
    if !valid_name(name) {
        return invalid_name(name);
    }
    let host = asked.host;
    match *operation {
        Operation::Get { name, version } => get(state, host, name, version),
        Operation::Set { name } => match parse_body(asked.body) {
            Ok(params) => match store(state, host, name, &params) {
                Ok(version) => Answer::json(200, latest_bundle(state, host, name, &version)),
                Err(answer) => answer,
            },
            Err(answer) => answer,
        },
        Operation::Update { name, version } => match parse_body(asked.body) {
            Ok(params) => update(state, host, name, version, &params),
            Err(answer) => answer,
        },
        Operation::Delete { name } => delete(state, host, name),
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Answer> {
    serde_json::from_slice(body).map_err(|_| {
        kv_error(
            400,
            "BadParameter",
            "The request body is not valid JSON.",
            None,
        )
    })
}

/// Key Vault's rule for object names: 1 to 127 of `0-9 a-z A-Z -`.
fn valid_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn invalid_name(name: &str) -> Answer {
    kv_error(
        400,
        "BadParameter",
        &format!("The request URI contains an invalid name: {name}"),
        None,
    )
}

fn bad(message: &str) -> Answer {
    kv_error(400, "BadParameter", message, None)
}

/// The stored attributes `params["attributes"]` sets over `base`: `enabled`, `nbf`, `exp`.
fn attributes(params: &Value, mut base: Value) -> Result<Value, Answer> {
    let attributes = match params.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(bad("The parameter 'attributes' must be an object.")),
    };
    match attributes.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => base["enabled"] = json!(b),
        Some(_) => return Err(bad("The attribute 'enabled' must be a boolean.")),
    }
    for key in ["nbf", "exp"] {
        match attributes.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if n.is_i64() => base[key] = Value::Number(n.clone()),
            Some(_) => {
                return Err(bad(&format!(
                    "The attribute '{key}' must be a number of seconds since the Unix epoch."
                )));
            }
        }
    }
    base["updated"] = json!(now());
    Ok(base)
}

/// Sets `contentType` and `tags` on `bundle` from `params`, where given.
fn content_type_and_tags(params: &Value, bundle: &mut Value) -> Result<(), Answer> {
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
    Ok(())
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Stores a new version from `SetSecretParameters` JSON (`value`, `contentType`, `tags`,
/// `attributes { enabled, nbf, exp }`) and returns the version, or the vault's refusal.
pub(super) fn store(
    state: &mut State,
    host: &str,
    name: &str,
    params: &Value,
) -> Result<String, Answer> {
    if !valid_name(name) {
        return Err(invalid_name(name));
    }
    let key = name.to_ascii_lowercase();
    if let Some(deleted) = state.vaults.get(host).and_then(|v| v.deleted.get(&key)) {
        return Err(kv_error(
            409,
            "Conflict",
            &format!(
                "Secret {} is currently in a deleted but recoverable state, and its name cannot \
                 be reused; in this state, the secret can only be recovered or purged.",
                deleted.name
            ),
            Some("ObjectIsDeletedButRecoverable"),
        ));
    }
    let Some(value) = params.get("value").and_then(Value::as_str) else {
        return Err(bad(
            "The parameter 'value' is required and must be a string.",
        ));
    };
    let created = now();
    let mut stored = attributes(
        params,
        json!({
            "enabled": true,
            "created": created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": RETENTION_DAYS,
        }),
    )?;
    stored["updated"] = json!(created);

    let version = loop {
        let candidate = state.hex32();
        let taken = state.vaults.values().any(|store| {
            store
                .secrets
                .values()
                .chain(store.deleted.values())
                .any(|e| e.versions.iter().any(|(v, _)| *v == candidate))
        });
        if !taken {
            break candidate;
        }
    };
    let written = entry(state, host, name).map_or(name, |e| e.name.as_str());
    let mut bundle = json!({
        "value": value,
        "id": format!("https://{host}:{}/secrets/{written}/{version}", state.port),
        "attributes": stored,
    });
    content_type_and_tags(params, &mut bundle)?;
    state
        .vaults
        .entry(host.to_owned())
        .or_default()
        .secrets
        .entry(key)
        .or_insert_with(|| Entry {
            name: name.to_owned(),
            versions: Vec::new(),
        })
        .versions
        .push((version.clone(), bundle));
    Ok(version)
}

/// The stored bundle of `version` of `name`, as set answers it.
fn latest_bundle(state: &State, host: &str, name: &str, version: &str) -> Value {
    entry(state, host, name)
        .and_then(|e| e.versions.iter().find(|(v, _)| v == version))
        .map(|(_, bundle)| bundle.clone())
        .unwrap_or_default()
}

fn entry<'s>(state: &'s State, host: &str, name: &str) -> Option<&'s Entry> {
    state
        .vaults
        .get(host)
        .and_then(|store| store.secrets.get(&name.to_ascii_lowercase()))
}

fn not_found(name: &str, version: Option<&str>) -> Answer {
    let what = match version {
        None => name.to_owned(),
        Some(v) => format!("{name}/{v}"),
    };
    kv_error(
        404,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {what} was not found in this key vault. If you recently \
             deleted this secret you may be able to recover it using the correct recovery \
             command. For help resolving this issue, please see \
             https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

fn get(state: &State, host: &str, name: &str, version: Option<&str>) -> Answer {
    let found = entry(state, host, name).and_then(|e| match version {
        None => e.versions.last(),
        Some(v) => e
            .versions
            .iter()
            .find(|(ver, _)| ver.eq_ignore_ascii_case(v)),
    });
    let Some((_, bundle)) = found else {
        return not_found(name, version);
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

/// `UpdateSecretProperties`: the attributes, content type and tags of one version (the latest
/// without one), answered without the value, as the real service does.
fn update(
    state: &mut State,
    host: &str,
    name: &str,
    version: Option<&str>,
    params: &Value,
) -> Answer {
    let found = state
        .vaults
        .get_mut(host)
        .and_then(|store| store.secrets.get_mut(&name.to_ascii_lowercase()))
        .and_then(|e| match version {
            None => e.versions.last_mut(),
            Some(v) => e
                .versions
                .iter_mut()
                .find(|(ver, _)| ver.eq_ignore_ascii_case(v)),
        });
    let Some((_, bundle)) = found else {
        return not_found(name, version);
    };
    let mut updated = bundle.clone();
    match attributes(params, updated["attributes"].clone()) {
        Ok(stored) => updated["attributes"] = stored,
        Err(answer) => return answer,
    }
    if let Err(answer) = content_type_and_tags(params, &mut updated) {
        return answer;
    }
    *bundle = updated.clone();
    if let Some(fields) = updated.as_object_mut() {
        fields.remove("value");
    }
    Answer::json(200, updated)
}

/// `DeleteSecret`: every version goes to the deleted secrets, recoverable for the retention
/// period; the answer is the latest version's bundle without its value.
fn delete(state: &mut State, host: &str, name: &str) -> Answer {
    let key = name.to_ascii_lowercase();
    let port = state.port;
    let Some(store) = state.vaults.get_mut(host) else {
        return not_found(name, None);
    };
    let Some(entry) = store.secrets.remove(&key) else {
        return not_found(name, None);
    };
    let mut deleted = entry
        .versions
        .last()
        .map(|(_, bundle)| bundle.clone())
        .unwrap_or_default();
    if let Some(fields) = deleted.as_object_mut() {
        fields.remove("value");
    }
    let at = now();
    deleted["recoveryId"] = json!(format!(
        "https://{host}:{port}/deletedsecrets/{}",
        entry.name
    ));
    deleted["deletedDate"] = json!(at);
    deleted["scheduledPurgeDate"] = json!(at + RETENTION_DAYS * 24 * 3600);
    store.deleted.insert(key, entry);
    Answer::json(200, deleted)
}

/// 403 for a caller without access: `ForbiddenByRbac` on an RBAC vault (every host but
/// [`SECONDARY_HOST`]), `AccessDenied` on the access-policy vault.
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
             time.\r\nCaller: {caller}\r\nAction: 'Microsoft.KeyVault/vaults/secrets/{action}'\
             \r\nResource: '{resource}'\r\nAssignment: (not found)\r\nDenyAssignmentId: null\r\n\
             DecisionReason: 'DeniedWithNoValidRBAC' \r\nVault: {vault};location={LOCATION}\r\n"
        ),
        Some("ForbiddenByRbac"),
    )
}

/// A Key Vault error body: `{"error":{"code":..,"message":..,"innererror":{"code":..}}}`.
pub(super) fn kv_error_body(code: &str, message: &str, inner: Option<&str>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(inner) = inner {
        error["innererror"] = json!({ "code": inner });
    }
    json!({ "error": error })
}

fn kv_error(status: u16, code: &str, message: &str, inner: Option<&str>) -> Answer {
    Answer::json(status, kv_error_body(code, message, inner))
}
