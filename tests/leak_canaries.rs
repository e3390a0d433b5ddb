//! Leak canaries on the Azure path: with `tracing` (and `log`) captured at TRACE for every
//! crate, the SDK, the HTTP and TLS stacks included, a canary secret value, a canary client
//! secret and the bearer tokens the stand-in's Entra ID issues go through every public
//! operation and every layer, successes and failures, the vault's faults included. None of them
//! may appear in a log line, a `Debug` string, an error message, an error's causes or a panic
//! message.
//!
//! One test in its own binary: the subscriber and the panic hook are process-wide.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use secretscope::azure::AzureKeyVaultBuilder;
use secretscope::budget::BudgetOptions;
use secretscope::cache::CacheOptions;
use secretscope::prelude::*;
use secretscope::testing::{CLIENT_SECRET, Fault, PRIMARY_HOST, SECONDARY_HOST, Seed, StandIn};
use secretscope::{Connection, Error, ScopeMode, ScopePolicy, WorkspaceManager};
use time::{Duration as TimeDelta, OffsetDateTime};

/// The secret value stored in the vault.
const VALUE: &str = "CanaryValue-4f9e2b7c-do-not-log";
/// A client secret Entra ID refuses.
const WRONG_SECRET: &str = "CanaryWrong~8d3c6a1f-client-secret";

#[path = "support/captured.rs"]
mod captured;
use captured::Captured;

/// The canaries found in `text`: the value, either client secret, or a stand-in token
/// (`standin.` and 64 hexadecimal digits).
fn canaries_in(text: &str) -> Vec<&'static str> {
    let mut found = Vec::new();
    if text.contains(VALUE) {
        found.push("the secret value");
    }
    if text.contains(CLIENT_SECRET) || text.contains(WRONG_SECRET) {
        found.push("a client secret");
    }
    let token = text.match_indices("standin.").any(|(at, prefix)| {
        let rest = &text[at + prefix.len()..];
        rest.len() >= 64 && rest.bytes().take(64).all(|b| b.is_ascii_hexdigit())
    });
    if token {
        found.push("a bearer token");
    }
    found
}

fn assert_clean(what: &str, text: &str) {
    let found = canaries_in(text);
    assert!(found.is_empty(), "{what} holds {found:?}: {text}");
}

fn assert_error_clean(what: &str, error: &Error) {
    assert_clean(what, &error.to_string());
    assert_clean(what, &format!("{error:?}"));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        assert_clean(what, &cause.to_string());
        assert_clean(what, &format!("{cause:?}"));
        source = cause.source();
    }
}

/// A builder for `host` on the stand-in, with short deadlines so that faults end quickly.
fn builder(stand_in: &StandIn, host: &str) -> AzureKeyVaultBuilder {
    stand_in
        .builder(host)
        .with_deadline(Duration::from_secs(2))
        .with_try_timeout(Duration::from_millis(500))
        .with_retry_delays(Duration::from_millis(10), Duration::from_millis(50))
        .with_max_retries(2)
}

#[test]
fn no_value_client_secret_or_token_ever_leaks() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber");
    let panics = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&panics);
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut seen) = seen.try_lock() {
            seen.push(info.to_string());
        }
        report(info);
    }));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut errors: Vec<Error> = Vec::new();
    runtime.block_on(async {
        let stand_in = StandIn::start().await.unwrap();
        let past = OffsetDateTime::now_utc() - TimeDelta::days(1);
        for host in [PRIMARY_HOST, SECONDARY_HOST] {
            stand_in.seed(host, "db-password", Seed::value(VALUE));
            stand_in.seed(host, "off", Seed::value(VALUE).with_enabled(false));
            stand_in.seed(host, "old", Seed::value(VALUE).with_expires(past));
        }
        let pinned = stand_in.seed(PRIMARY_HOST, "db-password", Seed::value(VALUE));

        let workspace_builder = builder(&stand_in, PRIMARY_HOST);
        texts.push(("a builder".into(), format!("{workspace_builder:?}")));
        let workspace = workspace_builder.build().unwrap();
        texts.push(("a backend".into(), format!("{workspace:?}")));
        let project = builder(&stand_in, SECONDARY_HOST).build().unwrap();
        let policy = ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", workspace))
            .with_project_connection("billing", Connection::new("billing-vault", project))
            .with_known_reference("project:billing/db-password")
            .build()
            .unwrap();
        let manager = WorkspaceManager::builder(policy)
            .with_cache(
                CacheOptions::new()
                    .with_ttl(Duration::from_millis(200))
                    .with_stale_if_error(Duration::from_secs(60)),
            )
            .with_budget(BudgetOptions::new().with_max_wait(Duration::from_millis(100)))
            .build();

        // Successes: a miss, a hit, metadata, a pinned version, an identifier.
        let value = manager.resolve("db-password").await.unwrap();
        assert_eq!(value.expose_secret(), VALUE);
        texts.push(("a value".into(), format!("{value:?}")));
        let hit = manager.resolve_with_metadata("db-password").await.unwrap();
        texts.push(("a resolved secret".into(), format!("{hit:?}")));
        texts.push((
            "metadata".into(),
            serde_json::to_string(&hit.metadata()).unwrap(),
        ));
        let by_version = format!("db-password/{pinned}");
        texts.push((
            "a pinned resolve".into(),
            format!(
                "{:?}",
                manager.resolve_with_metadata(&by_version).await.unwrap()
            ),
        ));
        let id = format!("{}/secrets/db-password", stand_in.vault_url(PRIMARY_HOST));
        texts.push((
            "an identifier resolve".into(),
            format!("{:?}", manager.resolve(&id).await.unwrap()),
        ));
        for report in manager.check_connections().await {
            texts.push(("a connection report".into(), format!("{report} {report:?}")));
        }

        // Refusals by the vault and by the validity layer.
        for reference in ["missing", "off", "old", "project:billing/db-password"] {
            errors.push(manager.resolve(reference).await.unwrap_err());
        }
        // A wrong client secret: the check and a resolve fail, naming the fix.
        let wrong = builder(&stand_in, PRIMARY_HOST).with_client_secret(WRONG_SECRET);
        texts.push(("a builder with a wrong secret".into(), format!("{wrong:?}")));
        let wrong = Connection::new("wrong-secret", wrong.build().unwrap());
        let report = wrong.check().await;
        assert!(!report.is_success());
        texts.push(("a failed report".into(), format!("{report} {report:?}")));
        errors.extend(report.into_result().err());

        // Every fault, on a value cached (served stale) and on one never fetched.
        let faults = [
            Fault::internal_error(PRIMARY_HOST),
            Fault::service_unavailable(PRIMARY_HOST, Some(1)),
            Fault::hang(PRIMARY_HOST),
            Fault::connection_reset(PRIMARY_HOST),
            Fault::truncated_body(PRIMARY_HOST),
            Fault::not_json(PRIMARY_HOST),
            Fault::expired_tokens(PRIMARY_HOST),
            Fault::untrusted_certificate(PRIMARY_HOST),
            Fault::slow(PRIMARY_HOST, Duration::from_secs(3)),
            // Last: a 429 pauses every caller of the host.
            Fault::throttled(PRIMARY_HOST, None),
            Fault::throttled(PRIMARY_HOST, Some(1)),
        ];
        for (i, fault) in faults.into_iter().enumerate() {
            texts.push(("a fault".into(), format!("{fault:?}")));
            tokio::time::sleep(Duration::from_millis(250)).await; // the cached value expires
            stand_in.set_fault(fault);
            let stale = manager.resolve_with_metadata("db-password").await;
            match stale {
                Ok(stale) => texts.push(("a stale secret".into(), format!("{stale:?}"))),
                Err(error) => errors.push(error),
            }
            if let Err(error) = manager.resolve(&format!("never-fetched-{i}")).await {
                errors.push(error);
            }
            stand_in.clear_faults();
            tokio::time::sleep(Duration::from_millis(1100)).await; // past any pause
            let _ = manager.resolve("db-password").await;
        }
        // Switching scope: a plan reads the target secrets; applying evicts.
        let plan = manager.plan_switch(ScopeMode::Project).await;
        texts.push(("a plan".into(), format!("{plan} {plan:?}")));
        texts.push(("a plan".into(), serde_json::to_string(&plan).unwrap()));
        errors.push(manager.apply_switch(&plan, None).unwrap_err());
        manager
            .apply_switch(&plan, Some(&plan.acknowledge("alice")))
            .unwrap();
        errors.push(manager.resolve("db-password").await.unwrap_err());
        texts.push((
            "a project resolve".into(),
            format!(
                "{:?}",
                manager
                    .resolve_with_metadata("project:billing/db-password")
                    .await
                    .unwrap()
            ),
        ));
        manager.invalidate("project:billing/db-password").unwrap();
        manager.clear();
        texts.push(("the manager".into(), format!("{manager:?}")));
        texts.push(("the stand-in".into(), format!("{stand_in:?}")));
        texts.push(("its requests".into(), format!("{:?}", stand_in.requests())));
    });
    drop(runtime);

    for (what, text) in &texts {
        assert_clean(what, text);
    }
    let kinds: Vec<&str> = errors.iter().map(|e| e.kind().as_str()).collect();
    for kind in [
        "not_found",
        "disabled",
        "expired",
        "unauthenticated",
        "unavailable",
        "throttled",
        "scope_invalidated",
        "acknowledgement_required",
    ] {
        assert!(
            kinds.contains(&kind),
            "no {kind} error exercised: {kinds:?}"
        );
    }
    for error in &errors {
        assert_error_clean("an error", error);
    }
    let panics = panics.lock().unwrap().clone();
    for panic in &panics {
        assert_clean("a panic message", panic);
    }
    let logs = logs.text();
    // The capture reached the SDK's pipeline (its logging policy logs every request and
    // answer), the HTTP client and connection pool, and the TLS stack.
    for target in [
        "typespec_client_core::http::policies::logging",
        "reqwest",
        "hyper_util",
        "rustls",
    ] {
        assert!(logs.contains(target), "nothing logged by {target}");
    }
    assert_clean("the logs", &logs);
}
