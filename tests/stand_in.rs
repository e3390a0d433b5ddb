//! The HTTPS stand-in of Entra ID and Key Vault (`secretscope::testing`), driven through the
//! real Azure SDK over real TLS, plus the parts of its wire contract the SDK does not reach.
#![cfg(feature = "testing")]

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use azure_security_keyvault_secrets::models::{
    SecretAttributes, SecretClientGetSecretOptions, SecretClientUpdateSecretPropertiesOptions,
    SetSecretParameters, UpdateSecretPropertiesParameters,
};
use azure_security_keyvault_secrets::{ResourceExt, SecretClient, SecretClientOptions};
use secretscope::prelude::*;
use secretscope::testing::{
    API_VERSION, CLIENT_ID, CLIENT_SECRET, EXPIRED_SECRET_CLIENT_ID, Fault, LOGIN_HOST,
    NO_ACCESS_CLIENT_ID, PRIMARY_HOST, Recorded, SECONDARY_HOST, Seed, StandIn, TENANT_ID,
};
use serde_json::Value;

type TestResult = Result<(), Box<dyn StdError>>;

/// The status and the parsed body of an SDK `HttpResponse` error (a non-JSON body becomes a
/// JSON string).
fn http_error(err: &azure_core::Error) -> (u16, Value) {
    let ErrorKind::HttpResponse {
        status,
        raw_response: Some(raw),
        ..
    } = err.kind()
    else {
        panic!(
            "expected an HttpResponse error with a body, got {:?}",
            err.kind()
        );
    };
    let body = serde_json::from_slice(raw.body())
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw.body()).into_owned()));
    (u16::from(*status), body)
}

/// The `Display` of an error and of every `source()` below it.
fn chain(err: &dyn StdError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(" | ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn version_of(secret: &azure_security_keyvault_secrets::models::Secret) -> String {
    secret
        .resource_id()
        .expect("a secret id")
        .version
        .expect("a version in the id")
}

fn is_version(v: &str) -> bool {
    v.len() == 32
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn by_version(version: &str) -> Option<SecretClientGetSecretOptions<'static>> {
    Some(SecretClientGetSecretOptions {
        secret_version: Some(version.to_string()),
        ..Default::default()
    })
}

fn vault_requests(stand_in: &StandIn) -> Vec<Recorded> {
    stand_in
        .requests()
        .into_iter()
        .filter(|r| r.host != LOGIN_HOST)
        .collect()
}

/// Set, get latest, get by version, case-insensitive names, expired, disabled and missing
/// secrets, with the client and options built by hand the way the backend's tests build them.
#[tokio::test]
async fn secrets_round_trip_through_the_sdk() -> TestResult {
    let stand_in = StandIn::start().await?;
    let mut http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_certs_only([reqwest::Certificate::from_pem(
            stand_in.ca_pem().as_bytes(),
        )?]);
    for host in StandIn::hosts() {
        http = http.resolve(host, stand_in.addr());
    }
    let transport = Transport::new(Arc::new(http.build()?));
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = stand_in.authority_host();
    let options = ClientOptions {
        transport: Some(transport),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        retry: RetryOptions::none(),
        ..Default::default()
    };
    let credential = ClientSecretCredential::new(
        TENANT_ID,
        CLIENT_ID.to_string(),
        Secret::new(CLIENT_SECRET),
        Some(ClientSecretCredentialOptions {
            client_options: options.clone(),
        }),
    )?;
    let vault = stand_in.vault_url(PRIMARY_HOST);
    let client = SecretClient::new(
        &vault,
        credential,
        Some(SecretClientOptions {
            client_options: options,
            verify_challenge_resource: Some(true),
            ..Default::default()
        }),
    )?;

    // Two versions of one secret.
    let not_before = OffsetDateTime::now_utc() - Duration::hours(1);
    let expires = OffsetDateTime::now_utc() + Duration::days(30);
    let first = SetSecretParameters {
        value: Some("first-value".into()),
        content_type: Some("text/plain".into()),
        tags: Some(HashMap::from([("env".to_string(), "test".to_string())])),
        secret_attributes: Some(SecretAttributes {
            enabled: Some(true),
            not_before: Some(not_before),
            expires: Some(expires),
            ..Default::default()
        }),
    };
    let v1 = client
        .set_secret("db-password", first.try_into()?, None)
        .await?
        .into_model()?;
    let second = SetSecretParameters {
        value: Some("second-value".into()),
        ..Default::default()
    };
    let v2 = client
        .set_secret("db-password", second.try_into()?, None)
        .await?
        .into_model()?;
    let (version1, version2) = (version_of(&v1), version_of(&v2));
    assert!(is_version(&version1) && is_version(&version2));
    assert_ne!(version1, version2);
    assert_eq!(
        v1.id.as_deref(),
        Some(format!("{vault}/secrets/db-password/{version1}").as_str())
    );
    let attributes = v1.attributes.as_ref().expect("attributes");
    assert_eq!(attributes.enabled, Some(true));
    assert!(attributes.created.is_some() && attributes.updated.is_some());

    // Latest, by version, and with another case.
    let latest = client.get_secret("db-password", None).await?.into_model()?;
    assert_eq!(latest.value.as_deref(), Some("second-value"));
    assert_eq!(version_of(&latest), version2);
    let old = client
        .get_secret("db-password", by_version(&version1))
        .await?
        .into_model()?;
    assert_eq!(old.value.as_deref(), Some("first-value"));
    assert_eq!(old.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        old.tags
            .as_ref()
            .and_then(|t| t.get("env"))
            .map(String::as_str),
        Some("test")
    );
    let old_attributes = old.attributes.expect("attributes");
    assert_eq!(
        old_attributes.not_before.map(|t| t.unix_timestamp()),
        Some(not_before.unix_timestamp())
    );
    assert_eq!(
        old_attributes.expires.map(|t| t.unix_timestamp()),
        Some(expires.unix_timestamp())
    );
    let upper = client.get_secret("DB-Password", None).await?.into_model()?;
    assert_eq!(upper.value.as_deref(), Some("second-value"));

    // Expired secrets are still returned, like the real service does.
    let expired = SetSecretParameters {
        value: Some("old-news".into()),
        secret_attributes: Some(SecretAttributes {
            expires: Some(OffsetDateTime::now_utc() - Duration::days(1)),
            ..Default::default()
        }),
        ..Default::default()
    };
    client
        .set_secret("expired", expired.try_into()?, None)
        .await?;
    let got = client.get_secret("expired", None).await?.into_model()?;
    assert_eq!(got.value.as_deref(), Some("old-news"));

    // Disabled: 403 Forbidden / SecretDisabled.
    let disabled = SetSecretParameters {
        value: Some("off".into()),
        secret_attributes: Some(SecretAttributes {
            enabled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    client
        .set_secret("disabled", disabled.try_into()?, None)
        .await?;
    let err = client.get_secret("disabled", None).await.unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "SecretDisabled");
    assert_eq!(
        body["error"]["message"],
        "Operation get is not allowed on a disabled secret."
    );

    // Missing name or version: 404 SecretNotFound.
    let err = client.get_secret("no-such-secret", None).await.unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "SecretNotFound");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message
            .starts_with("A secret with (name/id) no-such-secret was not found in this key vault.")
    );
    let err = client
        .get_secret("db-password", by_version(&"0".repeat(32)))
        .await
        .unwrap_err();
    assert_eq!(http_error(&err).0, 404);

    // On the wire: one challenge, one token request, then only authorized requests.
    let requests = stand_in.requests();
    let tokens: Vec<_> = requests.iter().filter(|r| r.host == LOGIN_HOST).collect();
    assert_eq!(tokens.len(), 1, "{requests:#?}");
    assert_eq!(tokens[0].method, "POST");
    assert_eq!(
        tokens[0].path_and_query,
        format!("/{TENANT_ID}/oauth2/v2.0/token")
    );
    assert_eq!(tokens[0].client_id.as_deref(), Some(CLIENT_ID));
    let vault_calls = vault_requests(&stand_in);
    assert_eq!(vault_calls[0].status, 401);
    assert!(!vault_calls[0].authorized);
    assert!(vault_calls[1..].iter().all(|r| {
        r.authorized
            && r.client_id.as_deref() == Some(CLIENT_ID)
            && r.path_and_query
                .ends_with(&format!("?api-version={API_VERSION}"))
    }));
    assert!(vault_calls.iter().any(|r| r.method == "GET"
        && r.path_and_query == format!("/secrets/db-password/?api-version={API_VERSION}")));
    Ok(())
}

/// The primary and the secondary vault hold different secrets.
#[tokio::test]
async fn the_two_vaults_have_separate_stores() -> TestResult {
    let stand_in = StandIn::start().await?;
    let credential = stand_in.credential(CLIENT_ID, CLIENT_SECRET);
    let primary = stand_in.secret_client(PRIMARY_HOST, credential.clone());
    let secondary = stand_in.secret_client(SECONDARY_HOST, credential);

    let params = SetSecretParameters {
        value: Some("primary-value".into()),
        ..Default::default()
    };
    primary
        .set_secret("shared", params.try_into()?, None)
        .await?;
    let err = secondary.get_secret("shared", None).await.unwrap_err();
    assert_eq!(http_error(&err).0, 404);

    let version = stand_in.seed(
        SECONDARY_HOST,
        "shared",
        Seed::value("secondary-value").with_content_type("text/plain"),
    );
    let got = secondary.get_secret("shared", None).await?.into_model()?;
    assert_eq!(got.value.as_deref(), Some("secondary-value"));
    assert_eq!(got.content_type.as_deref(), Some("text/plain"));
    assert_eq!(version_of(&got), version.as_str());
    assert_eq!(
        got.id.as_deref(),
        Some(
            format!(
                "{}/secrets/shared/{version}",
                stand_in.vault_url(SECONDARY_HOST)
            )
            .as_str()
        )
    );
    let got = primary.get_secret("shared", None).await?.into_model()?;
    assert_eq!(got.value.as_deref(), Some("primary-value"));
    Ok(())
}

/// An authenticated client without permission: ForbiddenByRbac on the RBAC vault, AccessDenied
/// on the access-policy vault, before any existence check.
#[tokio::test]
async fn a_client_without_access_is_forbidden() -> TestResult {
    let stand_in = StandIn::start().await?;
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("x"));
    let credential = stand_in.credential(NO_ACCESS_CLIENT_ID, CLIENT_SECRET);
    let primary = stand_in.secret_client(PRIMARY_HOST, credential.clone());
    let secondary = stand_in.secret_client(SECONDARY_HOST, credential);

    let err = primary.get_secret("db-password", None).await.unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "ForbiddenByRbac");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("Caller is not authorized to perform action on resource.\r\n"));
    assert!(message.contains(&format!("Caller: appid={NO_ACCESS_CLIENT_ID};")));
    assert!(message.contains("Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"));
    assert!(message.contains("DecisionReason: 'DeniedWithNoValidRBAC'"));

    let params = SetSecretParameters {
        value: Some("nope".into()),
        ..Default::default()
    };
    let err = primary
        .set_secret("db-password", params.try_into()?, None)
        .await
        .unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 403);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Action: 'Microsoft.KeyVault/vaults/secrets/setSecret/action'"));

    let err = secondary.get_secret("missing", None).await.unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "Forbidden");
    assert_eq!(body["error"]["innererror"]["code"], "AccessDenied");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!(
        "The user, group or application 'appid={NO_ACCESS_CLIENT_ID};"
    )));
    assert!(message.contains("does not have secrets get permission on key vault 'secondary;"));
    Ok(())
}

/// Entra failures reach the caller as Credential errors with their AADSTS codes, never with the
/// secret, and no token reaches a vault.
#[tokio::test]
async fn credential_failures_carry_the_entra_codes() -> TestResult {
    let stand_in = StandIn::start().await?;
    let wrong_secret = "not-the-right-secret";

    // Through the vault client: AADSTS7000215.
    let credential = stand_in.credential(CLIENT_ID, wrong_secret);
    let client = stand_in.secret_client(PRIMARY_HOST, credential);
    let err = client.get_secret("db-password", None).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Credential),
        "{:?}",
        err.kind()
    );
    let text = chain(&err);
    assert!(
        text.contains("AADSTS7000215: Invalid client secret provided."),
        "{text}"
    );
    assert!(!text.contains(wrong_secret) && !text.contains(CLIENT_SECRET));

    // Straight from the credential: expired secret, unknown client, unknown tenant.
    let scopes = &["https://localhost/.default"];
    let cases = [
        (
            stand_in.credential(EXPIRED_SECRET_CLIENT_ID, CLIENT_SECRET),
            format!(
                "AADSTS7000222: The provided client secret keys for app '{EXPIRED_SECRET_CLIENT_ID}' are expired."
            ),
        ),
        (
            stand_in.credential("00000000-1111-2222-3333-444444444444", CLIENT_SECRET),
            "AADSTS700016: Application with identifier '00000000-1111-2222-3333-444444444444' was \
             not found in the directory"
                .to_string(),
        ),
        (
            ClientSecretCredential::new(
                "00000000-0000-0000-0000-000000000000",
                CLIENT_ID.to_string(),
                Secret::new(CLIENT_SECRET),
                Some(ClientSecretCredentialOptions {
                    client_options: stand_in.client_options(),
                }),
            )?,
            "AADSTS90002: Tenant '00000000-0000-0000-0000-000000000000' not found.".to_string(),
        ),
    ];
    for (credential, expected) in cases {
        let err = credential.get_token(scopes, None).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Credential),
            "{:?}",
            err.kind()
        );
        let text = chain(&err);
        assert!(text.contains(&expected), "{text}");
        assert!(!text.contains(CLIENT_SECRET), "{text}");
    }

    // The vault only ever saw the unauthenticated first request.
    let vault_calls = vault_requests(&stand_in);
    assert_eq!(vault_calls.len(), 1);
    assert!(!vault_calls[0].authorized);
    Ok(())
}

/// With a challenge naming another resource, the SDK refuses before asking for a token.
#[tokio::test]
async fn a_foreign_challenge_resource_is_refused_before_any_token() -> TestResult {
    let stand_in = StandIn::start().await?;
    stand_in.set_challenge_resource("https://vault.azure.net");
    let client =
        stand_in.secret_client(PRIMARY_HOST, stand_in.credential(CLIENT_ID, CLIENT_SECRET));
    let err = client.get_secret("db-password", None).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Other), "{:?}", err.kind());
    assert!(chain(&err).contains("doesn't match the requested domain"));
    assert!(stand_in.requests().iter().all(|r| r.host != LOGIN_HOST));
    Ok(())
}

/// What the SDK never sends: no, forged or expired tokens, other api-versions, bad names, other
/// paths and methods, and injected faults.
#[tokio::test]
async fn the_wire_contract_outside_the_sdk() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    let vault = stand_in.vault_url(PRIMARY_HOST);
    let secret_url = format!("{vault}/secrets/db-password/?api-version={API_VERSION}");
    let challenge = format!(
        "Bearer authorization=\"{}/{TENANT_ID}\", resource=\"https://localhost\"",
        stand_in.authority_host()
    );

    // No token, then a token the stand-in never issued: the challenge, and Key Vault's words
    // for each.
    for (token, body) in [
        (
            None,
            r#"{"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}}"#,
        ),
        (
            Some("forged"),
            r#"{"error":{"code":"Unauthorized","message":"[BearerReadAccessTokenFailed] Error validating token: 'S2S12005'."}}"#,
        ),
    ] {
        let mut request = http.get(&secret_url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.headers()["www-authenticate"], challenge.as_str());
        assert_eq!(response.text().await?, body);
    }

    // Tokens: for the vault's resource, for another one Entra ID knows, and for one it does
    // not know.
    let ask_token = |scope: &'static str| {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", CLIENT_ID)
            .append_pair("client_secret", CLIENT_SECRET)
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", scope)
            .finish();
        http.post(format!(
            "{}/{TENANT_ID}/oauth2/v2.0/token",
            stand_in.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
    };
    let response = ask_token("https://localhost/.default").await?;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    let token = body["access_token"].as_str().unwrap_or_default().to_owned();

    let response = ask_token("https://management.azure.com/.default").await?;
    let body: Value = serde_json::from_str(&response.text().await?)?;
    let management = body["access_token"].as_str().unwrap_or_default().to_owned();
    let response = http
        .get(&secret_url)
        .bearer_auth(&management)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], challenge.as_str());
    assert_eq!(
        response.text().await?,
        r#"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience. Expected https://localhost, found: https://management.azure.com."}}"#
    );

    let response = ask_token("https://unknown.example/.default").await?;
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(body["error"], "invalid_resource");
    assert_eq!(body["error_codes"], serde_json::json!([500011]));
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(
            "AADSTS500011: The resource principal named https://unknown.example was not found"
        ),
        "{description}"
    );
    assert!(description.contains("\r\nTrace ID: "), "{description}");

    // Key Vault's headers, the caller's request ID echoed.
    let response = http
        .get(&secret_url)
        .bearer_auth(&token)
        .header("x-ms-client-request-id", "5e3c0a4b-test")
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 404);
    let headers = response.headers();
    assert_eq!(headers["x-ms-client-request-id"], "5e3c0a4b-test");
    assert_eq!(headers["x-ms-keyvault-region"], "westeurope");
    assert_eq!(headers["cache-control"], "no-cache");
    assert!(
        headers["content-type"]
            .to_str()?
            .starts_with("application/json")
    );
    let request_id = headers["x-ms-request-id"].to_str()?;
    assert_eq!(
        (request_id.len(), request_id.matches('-').count()),
        (36, 4),
        "{request_id}"
    );

    // An earlier stable api-version is served; an unknown or missing one, or an invalid name,
    // is 400 BadParameter.
    let response = http
        .get(format!("{vault}/secrets/db-password/?api-version=7.4"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 404);
    for url in [
        format!("{vault}/secrets/db-password/?api-version=2099-01-01"),
        format!("{vault}/secrets/db-password/"),
        format!("{vault}/secrets/db_password/?api-version={API_VERSION}"),
    ] {
        let response = http.get(&url).bearer_auth(&token).send().await?;
        assert_eq!(response.status().as_u16(), 400, "{url}");
        let body: Value = serde_json::from_str(&response.text().await?)?;
        assert_eq!(body["error"]["code"], "BadParameter", "{url}");
    }

    // Paths and methods it does not serve: its own plain-text 404 and 405.
    for url in [
        format!("{vault}/keys/x/?api-version={API_VERSION}"),
        format!("{vault}/secrets/db-password/versions?api-version={API_VERSION}"),
    ] {
        let response = http.get(&url).bearer_auth(&token).send().await?;
        assert_eq!(response.status().as_u16(), 404, "{url}");
        assert!(
            response.headers()["content-type"]
                .to_str()?
                .starts_with("text/plain")
        );
        let text = response.text().await?;
        assert!(text.contains("not a Key Vault answer"), "{text}");
    }
    let response = http.post(&secret_url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 405);

    // An injected fault answers the next request to its host only, exactly as given.
    stand_in.inject(Fault::throttled(PRIMARY_HOST, Some(2)));
    let response = http.get(&secret_url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let body: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(body["error"]["code"], "Throttled");
    let response = http.get(&secret_url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 404);

    // Every request is recorded, the ones no SDK call would make included.
    let requests = stand_in.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path_and_query.starts_with("/keys/x")
                && r.authorized
                && r.client_id.as_deref() == Some(CLIENT_ID))
    );
    assert_eq!(requests.iter().filter(|r| r.status == 401).count(), 3);
    assert!(
        requests
            .iter()
            .any(|r| r.method == "POST" && r.host == PRIMARY_HOST && r.status == 405)
    );
    stand_in.clear_requests();
    assert!(stand_in.requests().is_empty());

    // Expired tokens are challenged again, with Key Vault's words for an expired token.
    stand_in.expire_tokens();
    let response = http.get(&secret_url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], challenge.as_str());
    assert_eq!(
        response.text().await?,
        r#"{"error":{"code":"Unauthorized","message":"[TokenExpired] Error validating token: 'S2S12086'."}}"#
    );
    assert_eq!(stand_in.requests()[0].client_id, None);
    Ok(())
}

/// `PATCH` updates one version (the latest without one) and answers without the value; `DELETE`
/// soft-deletes, after which the name reads as missing and cannot be reused.
#[tokio::test]
async fn secrets_are_updated_and_deleted_like_the_real_service() -> TestResult {
    let stand_in = StandIn::start().await?;
    let client =
        stand_in.secret_client(PRIMARY_HOST, stand_in.credential(CLIENT_ID, CLIENT_SECRET));
    let old = stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("old"));
    let latest = stand_in.seed(
        PRIMARY_HOST,
        "db-password",
        Seed::value("new").with_tag("env", "test"),
    );

    // The latest version, without naming it: disabled now.
    let params = UpdateSecretPropertiesParameters {
        secret_attributes: Some(SecretAttributes {
            enabled: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = client
        .update_secret_properties("DB-PASSWORD", params.try_into()?, None)
        .await?
        .into_model()?;
    assert_eq!(updated.value, None, "an update answers without the value");
    assert_eq!(version_of(&updated), latest.as_str());
    assert_eq!(updated.attributes.and_then(|a| a.enabled), Some(false));
    assert_eq!(
        updated
            .tags
            .as_ref()
            .and_then(|t| t.get("env"))
            .map(String::as_str),
        Some("test"),
        "what the update does not name is kept"
    );
    let err = client.get_secret("db-password", None).await.unwrap_err();
    assert_eq!(http_error(&err).0, 403);

    // A pinned version: its content type, the value untouched.
    let params = UpdateSecretPropertiesParameters {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    let options = SecretClientUpdateSecretPropertiesOptions {
        secret_version: Some(old.to_string()),
        ..Default::default()
    };
    client
        .update_secret_properties("db-password", params.try_into()?, Some(options))
        .await?;
    let got = client
        .get_secret("db-password", by_version(old.as_str()))
        .await?
        .into_model()?;
    assert_eq!(got.value.as_deref(), Some("old"));
    assert_eq!(got.content_type.as_deref(), Some("text/plain"));

    // Deleted: recoverable for 90 days, missing meanwhile, and its name taken.
    let deleted = client
        .delete_secret("db-password", None)
        .await?
        .into_model()?;
    let deleted_at = deleted.deleted_date.expect("a deletion date");
    let purge_at = deleted.scheduled_purge_date.expect("a purge date");
    assert_eq!((purge_at - deleted_at).whole_days(), 90);
    assert_eq!(
        deleted.recovery_id.as_deref(),
        Some(
            format!(
                "{}/deletedsecrets/db-password",
                stand_in.vault_url(PRIMARY_HOST)
            )
            .as_str()
        )
    );
    assert_eq!(
        deleted.id.as_deref(),
        Some(
            format!(
                "{}/secrets/db-password/{latest}",
                stand_in.vault_url(PRIMARY_HOST)
            )
            .as_str()
        )
    );
    let err = client.get_secret("db-password", None).await.unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &Value::from("SecretNotFound"))
    );
    let params = SetSecretParameters {
        value: Some("again".into()),
        ..Default::default()
    };
    let err = client
        .set_secret("Db-Password", params.try_into()?, None)
        .await
        .unwrap_err();
    let (status, body) = http_error(&err);
    assert_eq!(status, 409);
    assert_eq!(body["error"]["code"], "Conflict");
    assert_eq!(
        body["error"]["innererror"]["code"],
        "ObjectIsDeletedButRecoverable"
    );
    assert_eq!(
        body["error"]["message"],
        "Secret db-password is currently in a deleted but recoverable state, and its name \
         cannot be reused; in this state, the secret can only be recovered or purged."
    );
    let err = client.delete_secret("db-password", None).await.unwrap_err();
    assert_eq!(http_error(&err).0, 404);

    // An empty value is a value.
    let params = SetSecretParameters {
        value: Some(String::new()),
        ..Default::default()
    };
    client.set_secret("empty", params.try_into()?, None).await?;
    let got = client.get_secret("empty", None).await?.into_model()?;
    assert_eq!(got.value.as_deref(), Some(""));
    Ok(())
}

/// `Debug` never shows a client secret, a token or a seeded value.
#[tokio::test]
async fn debug_output_holds_no_secret() -> TestResult {
    let stand_in = StandIn::start().await?;
    let seed = Seed::value("seeded-canary-value").with_content_type("text/plain");
    let fault = Fault::new(PRIMARY_HOST, 200, r#"{"value":"fault-canary-value"}"#);
    let builder = stand_in.builder(PRIMARY_HOST);
    let debug = format!("{stand_in:?} {seed:?} {fault:?} {builder:?}");
    assert!(debug.contains("text/plain"), "{debug}");
    for canary in ["seeded-canary-value", "fault-canary-value", CLIENT_SECRET] {
        assert!(!debug.contains(canary), "{debug}");
    }
    stand_in.seed(PRIMARY_HOST, "db-password", seed);
    let vault = builder.build()?;
    vault
        .fetch(&secretscope::SecretName::new("db-password")?, None)
        .await?;
    let debug = format!("{stand_in:?} {:?}", stand_in.requests());
    for canary in ["seeded-canary-value", CLIENT_SECRET, "standin."] {
        assert!(!debug.contains(canary), "{debug}");
    }
    Ok(())
}

/// Dropping the stand-in stops the server: the port no longer accepts connections.
#[tokio::test]
async fn dropping_the_stand_in_stops_the_server() -> TestResult {
    let stand_in = StandIn::start().await?;
    let addr = stand_in.addr();
    let http = stand_in.reqwest_client();
    let url = format!("{}/nothing", stand_in.vault_url(PRIMARY_HOST));
    assert_eq!(http.get(&url).send().await?.status().as_u16(), 404);
    drop(stand_in);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still listening on {addr}"
        );
    }
    // The pooled keep-alive connection was closed too.
    assert!(http.get(&url).send().await.is_err());
    Ok(())
}
