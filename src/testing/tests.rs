//! The stand-in's faults, stop and restart, on the wire: what a plain HTTPS client receives.

use std::error::Error as StdError;
use std::time::Duration;

use serde_json::Value;

use super::*;

type TestResult = Result<(), Box<dyn StdError>>;

/// `https://primary.localhost:{port}/secrets/db-password/?api-version=...`
fn secret_url(stand_in: &StandIn) -> String {
    format!(
        "{}/secrets/db-password/?api-version={API_VERSION}",
        stand_in.vault_url(PRIMARY_HOST)
    )
}

/// A token for the vaults, from the stand-in's Entra ID.
async fn token(stand_in: &StandIn, http: &reqwest::Client) -> Result<String, Box<dyn StdError>> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", CLIENT_ID)
        .append_pair("client_secret", CLIENT_SECRET)
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", "https://localhost/.default")
        .finish();
    let response = http
        .post(format!(
            "{}/{TENANT_ID}/oauth2/v2.0/token",
            stand_in.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?;
    let body: Value = serde_json::from_str(&response.text().await?)?;
    Ok(body["access_token"].as_str().unwrap_or_default().to_owned())
}

/// Every message in an error's chain, lower-cased.
fn chain(error: &dyn StdError) -> String {
    let mut text = String::new();
    let mut level = Some(error);
    while let Some(e) = level {
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push('\n');
        level = e.source();
    }
    text
}

fn statuses(stand_in: &StandIn) -> Vec<u16> {
    stand_in.requests().iter().map(|r| r.status).collect()
}

#[tokio::test]
async fn a_set_fault_answers_until_cleared_an_injected_one_once() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    let url = secret_url(&stand_in);

    stand_in.set_fault(Fault::internal_error(PRIMARY_HOST));
    for _ in 0..2 {
        let response = http.get(&url).send().await?;
        assert_eq!(response.status().as_u16(), 500);
        // Key Vault's headers, as on every vault answer.
        assert!(response.headers().contains_key("x-ms-request-id"));
        assert_eq!(response.headers()["x-ms-keyvault-region"], "westeurope");
        let body: Value = serde_json::from_str(&response.text().await?)?;
        assert_eq!(body["error"]["code"], "InternalServerError");
    }
    // Other hosts answer as usual.
    let other = format!(
        "{}/secrets/db-password/?api-version={API_VERSION}",
        stand_in.vault_url(SECONDARY_HOST)
    );
    assert_eq!(http.get(&other).send().await?.status().as_u16(), 401);

    // A queued fault comes before the set one, once.
    stand_in.inject(Fault::service_unavailable(PRIMARY_HOST, Some(5)));
    let response = http.get(&url).send().await?;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
    assert_eq!(http.get(&url).send().await?.status().as_u16(), 500);

    stand_in.clear_faults();
    assert_eq!(http.get(&url).send().await?.status().as_u16(), 401);
    assert_eq!(statuses(&stand_in), [500, 500, 401, 503, 500, 401]);
    Ok(())
}

#[tokio::test]
async fn tokens_accepted_before_are_refused_as_expired_until_cleared() -> TestResult {
    let stand_in = StandIn::start().await?;
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("v"));
    let http = stand_in.reqwest_client();
    let url = secret_url(&stand_in);
    let token = token(&stand_in, &http).await?;
    assert_eq!(
        http.get(&url).bearer_auth(&token).send().await?.status(),
        200
    );

    stand_in.set_fault(Fault::expired_tokens(PRIMARY_HOST));
    let response = http.get(&url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        response.text().await?,
        r#"{"error":{"code":"Unauthorized","message":"[TokenExpired] Error validating token: 'S2S12086'."}}"#
    );
    stand_in.clear_faults();
    assert_eq!(
        http.get(&url).bearer_auth(&token).send().await?.status(),
        200
    );
    Ok(())
}

#[tokio::test]
async fn cut_answers_send_their_head_and_part_of_the_body() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    let url = secret_url(&stand_in);
    let whole = http.get(&url).send().await?.bytes().await?.len();

    for (fault, cause) in [
        (Fault::connection_reset(PRIMARY_HOST), "reset"),
        (Fault::truncated_body(PRIMARY_HOST), "close_notify"),
    ] {
        stand_in.inject(fault);
        let response = http.get(&url).send().await?;
        // The status and headers arrive, announcing the whole body...
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.content_length(), Some(whole as u64));
        assert!(response.headers().contains_key("x-ms-request-id"));
        // ...which never does.
        let error = response.bytes().await.expect_err("the body is cut");
        assert!(chain(&error).contains(cause), "{}", chain(&error));
    }
    // A new connection serves again.
    assert_eq!(http.get(&url).send().await?.bytes().await?.len(), whole);
    Ok(())
}

#[tokio::test]
async fn a_page_that_is_not_json_comes_with_200() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    stand_in.inject(Fault::not_json(PRIMARY_HOST));
    let response = http.get(secret_url(&stand_in)).send().await?;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    assert!(response.text().await?.starts_with("<!DOCTYPE html>"));
    Ok(())
}

#[tokio::test]
async fn a_hung_request_is_recorded_and_released_by_clearing() -> TestResult {
    let stand_in = StandIn::start().await?;
    let url = secret_url(&stand_in);
    stand_in.set_fault(Fault::hang(PRIMARY_HOST));
    let http = stand_in.reqwest_client();
    let hung = tokio::spawn(async move { http.get(&url).send().await.map(|r| r.status()) });
    // Recorded when it arrives, with no status.
    let arrived = async {
        while stand_in.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), arrived).await?;
    assert_eq!(statuses(&stand_in), [0]);
    assert!(!hung.is_finished());

    // Clearing closes its connection, without an answer.
    stand_in.clear_faults();
    let outcome = tokio::time::timeout(Duration::from_secs(5), hung).await??;
    assert!(outcome.is_err(), "{outcome:?}");
    let http = stand_in.reqwest_client();
    assert_eq!(http.get(secret_url(&stand_in)).send().await?.status(), 401);
    Ok(())
}

#[tokio::test]
async fn a_slow_answer_is_the_normal_one() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    stand_in.inject(Fault::slow(PRIMARY_HOST, Duration::from_millis(50)));
    let response = http.get(secret_url(&stand_in)).send().await?;
    assert_eq!(response.status().as_u16(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    Ok(())
}

#[tokio::test]
async fn an_untrusted_certificate_fails_the_handshake_of_its_host_only() -> TestResult {
    let stand_in = StandIn::start().await?;
    let http = stand_in.reqwest_client();
    let url = secret_url(&stand_in);
    assert_eq!(http.get(&url).send().await?.status(), 401);

    // The open connection is closed; new handshakes meet a certificate from another CA.
    stand_in.set_fault(Fault::untrusted_certificate(PRIMARY_HOST));
    let mut refused = None;
    for _ in 0..2 {
        // The first try may still meet the connection that was just closed.
        if let Err(error) = http.get(&url).send().await {
            refused = Some(chain(&error));
        }
    }
    let refused = refused.expect("the certificate is refused");
    assert!(refused.contains("certificate"), "{refused}");
    let handshakes = stand_in.handshakes();
    let last = handshakes.last().expect("handshakes are recorded");
    assert_eq!(last.host, PRIMARY_HOST);
    assert!(
        last.untrusted_certificate && !last.completed,
        "{handshakes:?}"
    );
    assert!(
        stand_in.requests().iter().all(|r| r.status == 401),
        "nothing got through: {:?}",
        stand_in.requests()
    );

    // Other hosts keep the trusted certificate.
    let other = format!("{}/x", stand_in.vault_url(SECONDARY_HOST));
    assert_eq!(http.get(&other).send().await?.status(), 404);

    stand_in.clear_faults();
    assert_eq!(http.get(&url).send().await?.status(), 401);
    assert!(stand_in.handshakes().last().is_some_and(|h| h.completed));
    Ok(())
}

#[tokio::test]
async fn stop_closes_everything_and_restart_serves_the_same_data() -> TestResult {
    let stand_in = StandIn::start().await?;
    let addr = stand_in.addr();
    stand_in.seed(PRIMARY_HOST, "db-password", Seed::value("kept"));
    let http = stand_in.reqwest_client();
    let url = secret_url(&stand_in);
    let token = token(&stand_in, &http).await?;
    assert_eq!(
        http.get(&url).bearer_auth(&token).send().await?.status(),
        200
    );

    stand_in.stop().await;
    assert!(!stand_in.is_running());
    // Nothing listens, and the pooled connection was closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert!(http.get(&url).bearer_auth(&token).send().await.is_err());
    stand_in.stop().await;

    // The same port, certificates, secrets and tokens.
    stand_in.restart().await?;
    assert!(stand_in.is_running());
    assert_eq!(stand_in.addr(), addr);
    let response = http.get(&url).bearer_auth(&token).send().await?;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&response.text().await?)?;
    assert_eq!(body["value"], "kept");
    // Requests recorded before the stop are kept too.
    assert!(stand_in.requests().len() >= 3);

    // Restarting a running stand-in stops it first.
    stand_in.restart().await?;
    assert_eq!(
        http.get(&url).bearer_auth(&token).send().await?.status(),
        200
    );
    Ok(())
}

#[test]
fn debug_shows_what_a_fault_does_not_its_body() {
    let page = format!("{:?}", Fault::not_json(PRIMARY_HOST));
    assert!(page.contains("status: 200"), "{page}");
    assert!(!page.contains("Sign in"), "{page}");
    let reset = format!("{:?}", Fault::connection_reset(PRIMARY_HOST));
    assert!(reset.contains("connection reset"), "{reset}");
}
