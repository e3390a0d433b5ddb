//! The Azure Key Vault backend's retries, deadline and throttling, against the mock transport
//! of `tests/support`: what is retried, what is not, and that nothing waits longer than asked.
#![cfg(feature = "azure")]

mod support;

use std::time::{Duration, Instant};

use secretscope::azure::sdk::azure_core::error::ErrorKind;
use secretscope::azure::sdk::azure_core::time::{OffsetDateTime, to_rfc7231};
use secretscope::prelude::*;
use secretscope::{Error, ThrottledBy};
use support::bodies::{SERVICE_UNAVAILABLE, THROTTLED};
use support::mock::{Mock, Reply, challenge, http, secret_ok, with_header};
use support::{
    SECRET_VALUE, VAULT, assert_clean, fake_credential_builder, fetch_after_challenge, secret_name,
};

// ---------------------------------------------------------------------------------------------
// 429
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn throttling_reports_the_services_retry_after() {
    let cases = [
        (
            with_header(http(429, THROTTLED), "retry-after", "7"),
            Some(Duration::from_secs(7)),
        ),
        (http(429, THROTTLED), None),
        (
            with_header(http(429, THROTTLED), "retry-after-ms", "1500"),
            Some(Duration::from_millis(1500)),
        ),
        (
            with_header(http(429, THROTTLED), "x-ms-retry-after-ms", "250"),
            Some(Duration::from_millis(250)),
        ),
        // A negative wait is no wait.
        (
            with_header(http(429, THROTTLED), "retry-after", "-5"),
            Some(Duration::ZERO),
        ),
    ];
    for (reply, expected) in cases {
        let started = Instant::now();
        let (error, _) = fetch_after_challenge(reply).await;
        assert!(started.elapsed() < Duration::from_secs(5), "no sleeping");
        let Error::Throttled {
            location,
            retry_after,
            by,
        } = &error
        else {
            panic!("expected Throttled, got {error:?}");
        };
        assert_eq!(location.to_string(), VAULT);
        assert_eq!(*retry_after, expected);
        assert_eq!(*by, ThrottledBy::Service);
        assert!(error.is_temporary());
        let message = error.to_string();
        assert!(message.contains("is throttling requests"), "{message}");
        assert!(message.contains("pauses every request to it"), "{message}");
        if expected == Some(Duration::from_secs(7)) {
            assert!(message.contains("retry after 7 s"), "{message}");
        }
    }
}

#[tokio::test]
async fn a_retry_after_date_is_read_as_the_time_until_then() {
    // `Retry-After` may be an HTTP date: 90 s from now, or one already past.
    let later = to_rfc7231(&(OffsetDateTime::now_utc() + time::Duration::seconds(90)));
    let reply = with_header(http(429, THROTTLED), "retry-after", &later);
    let (error, _) = fetch_after_challenge(reply).await;
    let Error::Throttled {
        retry_after: Some(wait),
        ..
    } = &error
    else {
        panic!("expected Throttled with a retry-after, got {error:?}");
    };
    // The date has whole seconds, and a second or two may pass before it is read.
    assert!(
        (Duration::from_secs(85)..=Duration::from_secs(90)).contains(wait),
        "{wait:?}"
    );

    let past = to_rfc7231(&(OffsetDateTime::now_utc() - time::Duration::minutes(5)));
    let reply = with_header(http(429, THROTTLED), "retry-after", &past);
    let (error, _) = fetch_after_challenge(reply).await;
    assert!(
        matches!(error, Error::Throttled { retry_after: Some(d), .. } if d.is_zero()),
        "{error:?}"
    );
}

#[tokio::test]
async fn throttling_with_retries_left_is_still_reported_as_throttling() {
    // The SDK sleeps for the whole `Retry-After` (uncapped) before its next try, so with retries
    // left the overall deadline ends the call while it sleeps.
    let mock = Mock::new(
        [
            challenge(),
            with_header(http(429, THROTTLED), "retry-after", "7"),
        ],
        [],
    );
    let backend = fake_credential_builder(&mock)
        .with_max_retries(2)
        .with_deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(error.is_temporary());
    // The challenge, then the one throttled try.
    assert_eq!(mock.vault_requests().len(), 2);
    // With retries left, the SDK would sleep the whole `Retry-After` inside the deadline and
    // report a timeout: 429 is not retried, so the throttling and its retry-after surface.
    assert!(
        matches!(
            &error,
            Error::Throttled { retry_after: Some(d), .. } if *d == Duration::from_secs(7)
        ),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The deadline
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_vault_that_never_answers_fails_within_the_deadline() {
    let mock = Mock::new([Reply::Hang], []);
    let backend = fake_credential_builder(&mock)
        .with_deadline(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let Error::Unavailable {
        location, reason, ..
    } = &error
    else {
        panic!("expected Unavailable, got {error:?}");
    };
    assert_eq!(location.to_string(), VAULT);
    assert!(reason.contains("deadline"), "{reason}");
    assert!(reason.contains("check the network path"), "{reason}");
    assert!(error.is_temporary());
    assert_clean(&error);
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_503_then_a_200_succeeds_with_one_retry() {
    let mock = Mock::new(
        [challenge(), http(503, SERVICE_UNAVAILABLE), secret_ok()],
        [],
    );
    let backend = fake_credential_builder(&mock)
        .with_max_retries(1)
        .build()
        .unwrap();
    let fetched = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap();
    assert_eq!(fetched.secret.expose_secret(), SECRET_VALUE);
    let authorized: Vec<bool> = mock
        .vault_requests()
        .iter()
        .map(|s| s.authorization.is_some())
        .collect();
    assert_eq!(authorized, [false, true, true]);
    mock.assert_vault_requests_well_formed();
    assert!(mock.scripts_used_up());
}

#[tokio::test]
async fn a_long_retry_after_on_503_is_capped_at_the_longest_back_off() {
    let mock = Mock::new(
        [
            challenge(),
            with_header(http(503, SERVICE_UNAVAILABLE), "retry-after", "3600"),
            secret_ok(),
        ],
        [],
    );
    let backend = fake_credential_builder(&mock)
        .with_max_retries(1)
        .with_retry_delays(Duration::from_millis(20), Duration::from_millis(100))
        .with_deadline(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let fetched = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .expect("the retry succeeds");
    assert_eq!(fetched.secret.expose_secret(), SECRET_VALUE);
    // Not an hour, nor the 20 s deadline.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(mock.scripts_used_up());
}

#[tokio::test]
async fn retries_run_out_and_an_io_failure_is_retried() {
    // Three 503s with two retries: unavailable after 1 + 3 requests.
    let mock = Mock::new(
        [
            challenge(),
            http(503, SERVICE_UNAVAILABLE),
            http(503, SERVICE_UNAVAILABLE),
            http(503, SERVICE_UNAVAILABLE),
        ],
        [],
    );
    let backend = fake_credential_builder(&mock)
        .with_max_retries(2)
        .build()
        .unwrap();
    let error = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert_eq!(mock.vault_requests().len(), 4);
    assert!(mock.scripts_used_up());

    // A failed connection on the first try, then the challenge flow on the retry.
    let mock = Mock::new(
        [
            Reply::Fail(ErrorKind::Io, "connection reset by peer"),
            challenge(),
            secret_ok(),
        ],
        [],
    );
    let backend = fake_credential_builder(&mock)
        .with_max_retries(1)
        .build()
        .unwrap();
    let fetched = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap();
    assert_eq!(fetched.secret.expose_secret(), SECRET_VALUE);
    assert_eq!(mock.vault_requests().len(), 3);
    assert!(mock.scripts_used_up());
}

#[tokio::test]
async fn throttling_is_not_retried() {
    // Retries left, and a 429 that would be followed by a good answer: the 429 is the answer.
    let mock = Mock::new([challenge(), http(429, THROTTLED), secret_ok()], []);
    let backend = fake_credential_builder(&mock)
        .with_max_retries(2)
        .build()
        .unwrap();
    let error = backend
        .fetch(&secret_name("db-password"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Throttled { .. }), "{error:?}");
    assert_eq!(mock.vault_requests().len(), 2);
    // The good answer was never asked for.
    assert!(!mock.vault_script_used_up());
}
