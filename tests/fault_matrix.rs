//! Every fault the stand-in can produce, resolved through a `WorkspaceManager` over the Azure
//! backend: the call ends within its deadline, with the right kind of error and a message that
//! says what to do; a stale value is served when stale-if-error is on (for temporary failures
//! only) and the error shows when it is off; the stand-in sees no more requests than the retry
//! policy allows; and everything recovers once the fault stops.
#![cfg(feature = "testing")]

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use secretscope::budget::BudgetOptions;
use secretscope::prelude::*;
use secretscope::testing::{Fault, LOGIN_HOST, PRIMARY_HOST, SECONDARY_HOST, Seed, StandIn};
use secretscope::{
    CacheOptions, Connection, Error, ErrorKind, ScopeMode, ScopePolicy, Source, WorkspaceManager,
};

/// The overall deadline of one fetch.
const DEADLINE: Duration = Duration::from_millis(1500);
/// Room above a deadline for scheduling on a busy machine: a call that ends later than
/// `DEADLINE + MARGIN` did not honour it.
const MARGIN: Duration = Duration::from_secs(3);
/// Retries after the first try, for 408, 5xx and transport failures.
const RETRIES: u32 = 2;
/// How long one try may take, unless a case says otherwise.
const TRY_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a value is fresh: the cases wait it out, so that the faulty call must fetch.
const TTL: Duration = Duration::from_millis(150);
/// Long enough for a value to go stale.
const STALE_AFTER: Duration = Duration::from_millis(200);
/// The `Retry-After` the throttling cases send.
const RETRY_AFTER_SECS: u32 = 1;
/// How long after a 429 the recovery waits: past its `Retry-After`, and past the request
/// budget's first backoff when it sent none (1 s, less up to a fifth at random).
const AFTER_THROTTLING: Duration = Duration::from_millis(1300);

const SECRET: &str = "db-password";

/// What the stand-in is made to do.
#[derive(Clone, Copy)]
enum Trigger {
    /// This fault for every request (or handshake) until cleared.
    Set(fn(&str) -> Fault),
    /// This fault once.
    Once(fn(&str) -> Fault),
    /// The stand-in stopped; recovery restarts it.
    Stopped,
}

/// What the faulty call gives.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// The value, fetched (the fault was overcome by a retry, or did not matter).
    Value,
    /// This kind of error, whose message holds each phrase; a temporary one, so a stale value
    /// stands in for it when stale-if-error is on.
    Temporary(ErrorKind, &'static [&'static str]),
    /// This kind of error, whose message holds each phrase; a permanent one, never hidden by
    /// a stale value.
    Permanent(ErrorKind, &'static [&'static str]),
}

struct Case {
    name: &'static str,
    host: &'static str,
    trigger: Trigger,
    try_timeout: Duration,
    outcome: Outcome,
    /// Requests the vault host sees during the faulty call.
    vault_requests: usize,
    /// TLS handshakes with the vault host during the faulty call, when the case counts them.
    handshakes: Option<RangeInclusive<usize>>,
    /// How long the recovery waits after the fault stops.
    recovery_wait: Duration,
}

impl Case {
    fn new(name: &'static str, trigger: Trigger, outcome: Outcome, vault_requests: usize) -> Case {
        Case {
            name,
            host: PRIMARY_HOST,
            trigger,
            try_timeout: TRY_TIMEOUT,
            outcome,
            vault_requests,
            handshakes: None,
            recovery_wait: Duration::ZERO,
        }
    }

    /// Throttling pauses every caller of the host in the process (the request budget), so
    /// these cases use a vault host of their own and wait out the pause before recovering.
    fn throttling(name: &'static str, trigger: Trigger, outcome: Outcome) -> Case {
        Case {
            host: SECONDARY_HOST,
            recovery_wait: AFTER_THROTTLING,
            ..Case::new(name, trigger, outcome, 1)
        }
    }

    fn with_try_timeout(mut self, try_timeout: Duration) -> Case {
        self.try_timeout = try_timeout;
        self
    }

    fn with_handshakes(mut self, handshakes: RangeInclusive<usize>) -> Case {
        self.handshakes = Some(handshakes);
        self
    }
}

const TRIES: usize = 1 + RETRIES as usize;

fn throttled_after(host: &str) -> Fault {
    Fault::throttled(host, Some(RETRY_AFTER_SECS))
}

fn throttled(host: &str) -> Fault {
    Fault::throttled(host, None)
}

fn service_unavailable_after(host: &str) -> Fault {
    // Asked to wait far longer than the deadline: the retry policy caps the wait.
    Fault::service_unavailable(host, Some(3600))
}

fn slow(host: &str) -> Fault {
    Fault::slow(host, Duration::from_secs(30))
}

fn slow_in_time(host: &str) -> Fault {
    Fault::slow(host, Duration::from_millis(100))
}

/// The service's answers (throttling, 5xx, tokens refused).
fn service_cases() -> Vec<Case> {
    use ErrorKind::*;
    use Outcome::*;
    let throttling = &["throttling requests", "retry after 1 s", "cache secrets"];
    vec![
        Case::throttling(
            "429 with Retry-After",
            Trigger::Set(throttled_after),
            Temporary(Throttled, throttling),
        ),
        Case::throttling(
            "429 without Retry-After",
            Trigger::Set(throttled),
            Temporary(Throttled, &["throttling requests", "cache secrets"]),
        ),
        Case::new(
            "500",
            Trigger::Set(Fault::internal_error),
            Temporary(
                Unavailable,
                &["answered 500 InternalServerError", "try again later"],
            ),
            TRIES,
        ),
        Case::new(
            "503 with a long Retry-After",
            Trigger::Set(service_unavailable_after),
            Temporary(
                Unavailable,
                &["answered 503 ServiceUnavailable", "try again later"],
            ),
            TRIES,
        ),
        Case::new(
            "503 once",
            Trigger::Once(|h| Fault::service_unavailable(h, None)),
            Value,
            2,
        ),
        Case::new(
            "401 for a token accepted before",
            Trigger::Set(Fault::expired_tokens),
            Permanent(
                Unauthenticated,
                &["TokenExpired", "check this host's clock"],
            ),
            // The refused try, and the one the SDK makes after asking for a token again.
            2,
        ),
        Case::new("401 once", Trigger::Once(Fault::expired_tokens), Value, 2),
    ]
}

/// What the network does: slow, silent, cut, not the vault, not trusted, not there.
fn network_cases() -> Vec<Case> {
    use ErrorKind::*;
    use Outcome::*;
    vec![
        Case::new(
            "slow, past the try timeout",
            Trigger::Set(slow),
            Temporary(
                Unavailable,
                &["did not answer in time", "check the network path"],
            ),
            TRIES,
        ),
        Case::new(
            "slow, within the try timeout",
            Trigger::Set(slow_in_time),
            Value,
            1,
        ),
        // The try timeout is longer than the deadline: the deadline ends the call.
        Case::new(
            "hang",
            Trigger::Set(Fault::hang),
            Temporary(Unavailable, &["deadline", "check the network path"]),
            1,
        )
        .with_try_timeout(Duration::from_secs(30)),
        // Retried: the body is read within the try.
        Case::new(
            "connection reset mid-answer",
            Trigger::Set(Fault::connection_reset),
            Temporary(Unavailable, &["connection broke", "load balancer"]),
            TRIES,
        ),
        Case::new(
            "body shorter than its Content-Length",
            Trigger::Set(Fault::truncated_body),
            Temporary(Unavailable, &["connection broke", "load balancer"]),
            TRIES,
        ),
        Case::new(
            "200 with a body that is not JSON",
            Trigger::Set(Fault::not_json),
            Temporary(
                Unavailable,
                &[
                    "could not be read as a Key Vault secret",
                    "check that the vault URL points to Key Vault",
                ],
            ),
            1,
        ),
        Case::new(
            "certificate from an untrusted CA",
            Trigger::Set(Fault::untrusted_certificate),
            Temporary(Unavailable, &["certificate is not trusted", "add the CA"]),
            0,
        )
        // One a try; the first try may instead meet the connection the certificate change
        // closed, before the client noticed, and fail on it.
        .with_handshakes(TRIES - 1..=TRIES),
        Case::new(
            "vault down",
            Trigger::Stopped,
            Temporary(
                Unavailable,
                &["connection was refused", "check the vault URL and port"],
            ),
            0,
        ),
    ]
}

/// A manager over the vault at `host`, with short timeouts and fresh for [`TTL`] only.
fn manager(stand_in: &StandIn, host: &str, try_timeout: Duration, stale: bool) -> WorkspaceManager {
    let vault = stand_in
        .builder(host)
        .with_max_retries(RETRIES)
        .with_retry_delays(Duration::from_millis(10), Duration::from_millis(40))
        .with_connect_timeout(Duration::from_millis(500))
        .with_try_timeout(try_timeout)
        .with_deadline(DEADLINE)
        .build()
        .expect("valid settings");
    let policy = ScopePolicy::builder(ScopeMode::Workspace)
        .with_workspace_connection(Connection::new("corp-vault", vault))
        .build()
        .expect("a valid policy");
    let stale_window = if stale {
        Duration::from_secs(60)
    } else {
        Duration::ZERO
    };
    let cache = CacheOptions::new()
        .with_ttl(TTL)
        .with_refresh_ahead(Duration::ZERO)
        .with_stale_if_error(stale_window);
    WorkspaceManager::builder(policy)
        .with_cache(cache)
        .with_budget(BudgetOptions::new())
        .build()
}

/// Requests `host` saw since the last `clear_requests`.
fn seen(stand_in: &StandIn, host: &str) -> usize {
    stand_in
        .requests()
        .iter()
        .filter(|r| r.host == host)
        .count()
}

/// Runs one case, with stale-if-error on or off, each on a fresh stand-in and manager.
async fn run(case: &Case, stale: bool) {
    let label = format!(
        "{} (stale-if-error {})",
        case.name,
        if stale { "on" } else { "off" }
    );
    let stand_in = StandIn::start().await.expect("the stand-in starts");
    stand_in.seed(case.host, SECRET, Seed::value("first"));
    let manager = manager(&stand_in, case.host, case.try_timeout, stale);

    // A value cached, a token held, the challenge answered: then let the value go stale.
    let warm = manager
        .resolve_with_metadata(SECRET)
        .await
        .expect("the vault answers");
    assert_eq!(warm.source(), Source::Backend, "{label}");
    tokio::time::sleep(STALE_AFTER).await;

    stand_in.clear_requests();
    match case.trigger {
        Trigger::Set(fault) => stand_in.set_fault(fault(case.host)),
        Trigger::Once(fault) => stand_in.inject(fault(case.host)),
        Trigger::Stopped => stand_in.stop().await,
    }
    let outcome = within_deadline(&label, manager.resolve_with_metadata(SECRET)).await;

    match (case.outcome, outcome) {
        (Outcome::Value, Ok(resolved)) => {
            assert_eq!(resolved.value().expose_secret(), "first", "{label}");
            assert_eq!(resolved.metadata().source, Source::Backend, "{label}");
        }
        (Outcome::Temporary(..), Ok(resolved)) if stale => {
            assert_eq!(resolved.value().expose_secret(), "first", "{label}");
            assert_eq!(resolved.metadata().source, Source::StaleCache, "{label}");
        }
        (Outcome::Temporary(kind, phrases) | Outcome::Permanent(kind, phrases), Err(error)) => {
            let temporary = matches!(case.outcome, Outcome::Temporary(..));
            assert!(
                !(stale && temporary),
                "{label}: a stale value was not served: {error}"
            );
            assert_error(&label, &error, kind, phrases);
            assert_eq!(error.is_temporary(), temporary, "{label}: {error}");
        }
        (expected, got) => panic!("{label}: expected {expected:?}, got {got:?}"),
    }

    assert_eq!(
        seen(&stand_in, case.host),
        case.vault_requests,
        "{label}: requests {:#?}",
        stand_in.requests()
    );
    // The token the credential holds still serves: no new one is asked for.
    assert_eq!(seen(&stand_in, LOGIN_HOST), 0, "{label}");
    if let Some(expected) = &case.handshakes {
        let handshakes = stand_in.handshakes();
        let with_vault: Vec<_> = handshakes.iter().filter(|h| h.host == case.host).collect();
        assert!(
            expected.contains(&with_vault.len()),
            "{label}: {handshakes:?}"
        );
        assert!(
            with_vault
                .iter()
                .all(|h| h.untrusted_certificate && !h.completed),
            "{label}: {handshakes:?}"
        );
    }

    // The fault stops: a new value is fetched.
    stand_in.seed(case.host, SECRET, Seed::value("second"));
    match case.trigger {
        Trigger::Stopped => stand_in.restart().await.expect("the port is free again"),
        _ => stand_in.clear_faults(),
    }
    // Past the time to live too, so that a value the faulty call fetched has gone stale.
    tokio::time::sleep(case.recovery_wait.max(STALE_AFTER)).await;
    let recovered = match within_deadline(&label, manager.resolve_with_metadata(SECRET)).await {
        Ok(recovered) => recovered,
        Err(error) => panic!("{label}: not recovered: {error}"),
    };
    assert_eq!(recovered.value().expose_secret(), "second", "{label}");
    assert_eq!(recovered.metadata().source, Source::Backend, "{label}");
}

/// What `call` gives, which must come within the deadline (and the margin).
async fn within_deadline<F: Future>(label: &str, call: F) -> F::Output {
    let started = Instant::now();
    let Ok(output) = tokio::time::timeout(DEADLINE + MARGIN, call).await else {
        panic!("{label}: no answer within the deadline");
    };
    let elapsed = started.elapsed();
    assert!(elapsed <= DEADLINE + MARGIN, "{label}: took {elapsed:?}");
    output
}

fn assert_error(label: &str, error: &Error, kind: ErrorKind, phrases: &[&str]) {
    assert_eq!(error.kind(), kind, "{label}: {error}");
    let message = error.to_string();
    for phrase in phrases {
        assert!(
            message.contains(phrase),
            "{label}: `{phrase}` not in: {message}"
        );
    }
}

async fn run_all(cases: Vec<Case>) {
    for case in &cases {
        for stale in [false, true] {
            run(case, stale).await;
            if matches!(case.outcome, Outcome::Value) {
                // Nothing to serve stale: once is enough.
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_answers() {
    run_all(service_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_faults() {
    run_all(network_cases()).await;
}
