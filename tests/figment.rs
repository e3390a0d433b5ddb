//! The figment provider: a figment's references resolved, so `extract()` yields values.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secretscope::figment::Resolved;
use secretscope::memory::MemoryBackend;
use secretscope::{Connection, Error, ErrorKind, ScopeMode, ScopePolicy, WorkspaceManager};

#[derive(Debug, serde::Deserialize, PartialEq)]
struct AppConfig {
    database_url: String,
    api_keys: Vec<String>,
    port: u16,
}

fn manager() -> WorkspaceManager {
    let vault = MemoryBackend::new();
    vault.set("db-password", "hunter2").unwrap();
    vault.set("api-key", "k-123").unwrap();
    WorkspaceManager::new(
        ScopePolicy::builder(ScopeMode::Workspace)
            .with_workspace_connection(Connection::new("corp-vault", vault))
            .build()
            .unwrap(),
    )
}

const APP: &str = r#"
database_url = "postgres://app:{{ db-password }}@db/app"
api_keys = ["{{ api-key }}", "static"]
port = 8080
"#;

#[test]
// figment's jail takes a closure returning figment's own (large) error.
#[allow(clippy::result_large_err)]
fn extract_yields_resolved_values_from_every_provider() {
    let manager = manager();
    figment::Jail::expect_with(|jail| {
        jail.set_env("APP_PORT", "9090");
        let figment = Figment::new()
            .merge(Toml::string(APP))
            .merge(Env::prefixed("APP_"));
        let resolved = futures_executor(Resolved::new(figment, &manager)).unwrap();
        let debug = format!("{resolved:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("k-123"),
            "{debug}"
        );
        let config: AppConfig = Figment::from(resolved).extract()?;
        assert_eq!(
            config,
            AppConfig {
                database_url: "postgres://app:hunter2@db/app".into(),
                api_keys: vec!["k-123".into(), "static".into()],
                port: 9090,
            }
        );
        Ok(())
    });
}

/// Runs a future to completion on a runtime of its own (figment's jail is synchronous).
fn futures_executor<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reference_that_fails_is_an_error_at_load_naming_the_key() {
    let manager = manager();
    let figment = Figment::new()
        .merge(Toml::string("[nested]\nkey = \"{{ missing }}\"\n"))
        .merge(Serialized::default("other", "{{ api-key }}").profile("staging"));
    match Resolved::new(figment, &manager).await {
        Err(Error::Unresolved {
            place, reference, ..
        }) => {
            assert_eq!(place, "nested.key");
            assert_eq!(reference, "`missing`");
        }
        other => panic!("expected Unresolved, got {other:?}"),
    }
    let figment =
        Figment::new().merge(Serialized::default("key", "{{ missing }}").profile("staging"));
    let error = Resolved::new(figment, &manager).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert!(
        error.to_string().starts_with("profile `staging`, key: "),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_fails_is_named_without_quoting_it() {
    let manager = manager();
    let figment = Figment::new().merge(Toml::string("password = CANARY-4d5e6f\n"));
    let error = Resolved::new(figment, &manager).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidConfig);
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("4d5e6f"), "{text}");
        assert!(text.contains("figment provider"), "{text}");
    }
}
