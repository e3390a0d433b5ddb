//! The workspace configuration file: what it configures, the `SECRETSCOPE_*` variables over it,
//! the saved state, and errors that name the file, the line and the key, never a value.

use std::path::{Path, PathBuf};

use secretscope::prelude::*;
use secretscope::{Error, ScopeMode, WorkspaceConfig, WorkspaceManager};

const CANARY: &str = "CANARY-4d5e6f";

/// A folder with a secrets file for the workspace and one for a project.
struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let folder = Self { dir };
        folder.secrets("corp.toml", "[secrets]\ndb-password = \"corp-secret\"\n");
        folder.secrets(
            "billing.json",
            r#"{"secrets": {"db-password": "billing-secret"}}"#,
        );
        folder
    }

    fn secrets(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    fn config(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

const TOML: &str = r#"
scope = "project"
state-file = "state.json"
known-references = ["project:billing/db-password"]

[workspace.file]
name = "corp"
path = "corp.toml"

[projects.billing.file]
name = "billing"
path = "billing.json"

[cache]
ttl-seconds = 60
max-entries = 10

[budget]
rate-per-second = 50

[validity]
allow-expired = true
"#;

const JSON: &str = r#"{
  "scope": "project",
  "state-file": "state.json",
  "known-references": ["project:billing/db-password"],
  "workspace": {"file": {"name": "corp", "path": "corp.toml"}},
  "projects": {"billing": {"file": {"name": "billing", "path": "billing.json"}}},
  "cache": {"ttl-seconds": 60, "max-entries": 10},
  "budget": {"rate-per-second": 50},
  "validity": {"allow-expired": true}
}"#;

fn try_load(path: &Path, env: &[(&str, &str)]) -> Option<WorkspaceConfig> {
    WorkspaceConfig::from_file_with_env(
        path,
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .map_err(|error| LAST_ERROR.with(|last| *last.borrow_mut() = Some(error)))
    .ok()
}

thread_local! {
    static LAST_ERROR: std::cell::RefCell<Option<Error>> = const { std::cell::RefCell::new(None) };
}

fn load(path: &Path, env: &[(&str, &str)]) -> WorkspaceConfig {
    try_load(path, env).expect("the configuration loads")
}

/// The error loading `path` gives.
fn load_error(path: &Path, env: &[(&str, &str)]) -> Error {
    assert!(try_load(path, env).is_none(), "the configuration loaded");
    LAST_ERROR.with(|last| last.borrow_mut().take().unwrap())
}

/// The error loading `path`, then building its manager, gives.
fn error_of(path: &Path) -> Error {
    match try_load(path, &[]) {
        Some(config) => config.build().map(drop).unwrap_err(),
        None => LAST_ERROR.with(|last| last.borrow_mut().take().unwrap()),
    }
}

fn invalid_config(error: &Error) -> (&str, &str) {
    match error {
        Error::InvalidConfig { field, reason, .. } => (field, reason),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

fn assert_quotes_nothing(error: &Error) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("CANARY"), "{text}");
        assert!(!text.contains("4d5e6f"), "{text}");
    }
}

#[tokio::test]
async fn a_toml_file_configures_the_whole_workspace() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", TOML);
    let config = load(&path, &[]);
    assert_eq!(config.scope, ScopeMode::Project);
    assert_eq!(
        config.state_file.as_deref(),
        Some(folder.dir.path().join("state.json").as_path())
    );
    assert_eq!(config.cache_options().ttl().as_secs(), 60);
    assert_eq!(config.budget_options().rate().get(), 50);
    assert_eq!(
        config.cache_options(),
        secretscope::CacheOptions::new()
            .with_ttl(std::time::Duration::from_secs(60))
            .with_max_entries(10)
    );

    let manager = config.build().unwrap();
    assert_eq!(
        manager
            .resolve("project:billing/db-password")
            .await
            .unwrap()
            .expose_secret(),
        "billing-secret"
    );
    assert!(matches!(
        manager.resolve("db-password").await,
        Err(Error::ScopeInvalidated { .. })
    ));
    // The known reference is in the switch plan before anything resolved it... and after.
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    assert_eq!(plan.breaking().len(), 1);
    let names: Vec<String> = manager
        .policy()
        .connections()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    assert_eq!(names, ["corp", "billing"]);
}

#[tokio::test]
async fn a_json_file_reads_the_same() {
    let folder = Folder::new();
    let toml = load(&folder.config("secretscope.toml", TOML), &[]);
    let json = load(&folder.config("secretscope.json", JSON), &[]);
    assert_eq!(
        format!("{:?}", toml.cache_options()),
        format!("{:?}", json.cache_options())
    );
    assert_eq!(toml.budget_options(), json.budget_options());
    assert_eq!(toml.validity_options(), json.validity_options());
    assert_eq!(toml.known_references, json.known_references);
    let manager = json.build().unwrap();
    assert_eq!(
        manager
            .resolve("project:billing/db-password")
            .await
            .unwrap()
            .expose_secret(),
        "billing-secret"
    );
}

#[tokio::test]
async fn variables_are_laid_over_the_file() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", TOML);
    let config = load(
        &path,
        &[
            ("SECRETSCOPE_SCOPE", "workspace"),
            ("SECRETSCOPE_CACHE__TTL_SECONDS", "7"),
            ("SECRETSCOPE_BUDGET__ENABLED", "false"),
            (
                "SECRETSCOPE_KNOWN_REFERENCES",
                r#"["db-password", "api-key"]"#,
            ),
            (
                "SECRETSCOPE_PROJECTS__BILLING__FILE__NAME",
                "billing-from-env",
            ),
            ("SECRETSCOPE_CONFIG", "not a key: ignored"),
            ("OTHER_VARIABLE", "ignored"),
        ],
    );
    assert_eq!(config.scope, ScopeMode::Workspace);
    assert_eq!(config.cache_options().ttl().as_secs(), 7);
    assert!(!config.budget_options().is_enabled());
    assert_eq!(config.known_references, ["db-password", "api-key"]);
    let manager = config.build().unwrap();
    assert_eq!(
        manager
            .resolve("db-password")
            .await
            .unwrap()
            .expose_secret(),
        "corp-secret"
    );
    assert!(manager.policy().connection("billing-from-env").is_some());
}

#[test]
fn a_variable_can_add_what_the_file_lacks() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", "scope = \"workspace\"\n");
    let config = load(
        &path,
        &[
            ("SECRETSCOPE_WORKSPACE__FILE__PATH", "corp.toml"),
            ("SECRETSCOPE_WORKSPACE__FILE__NAME", "corp"),
        ],
    );
    assert!(
        config
            .build()
            .unwrap()
            .policy()
            .connection("corp")
            .is_some()
    );
}

#[tokio::test]
async fn the_state_file_is_saved_and_overrides_the_scope() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", TOML);
    let config = load(&path, &[]);
    assert_eq!(config.load_state().unwrap(), None);
    let manager = config.build().unwrap();
    let plan = manager.plan_switch(ScopeMode::Workspace).await;
    let state = manager
        .apply_switch(&plan, Some(&plan.acknowledge("alice")))
        .unwrap();
    config.save_state(&state).unwrap();

    // Another replica starts from the file: the saved state wins over `scope`.
    let replica = WorkspaceManager::from_config_file(&path).unwrap();
    assert_eq!(replica.policy().mode(), ScopeMode::Workspace);
    assert_eq!(replica.policy().state(), state);
    assert_eq!(
        replica
            .resolve("db-password")
            .await
            .unwrap()
            .expose_secret(),
        "corp-secret"
    );
}

#[test]
fn a_damaged_state_file_says_so() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", TOML);
    std::fs::write(
        folder.dir.path().join("state.json"),
        format!("{{\"mode\": \"{CANARY}\"}}"),
    )
    .unwrap();
    let error = error_of(&path);
    let (field, reason) = invalid_config(&error);
    assert!(field.starts_with("state file `"), "{field}");
    assert!(reason.contains("not valid"), "{reason}");
    assert_quotes_nothing(&error);
}

/// Each malformed file: the line the error must name, and what its reason must say.
#[test]
fn errors_name_the_file_the_line_and_the_key_and_quote_nothing() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "unknown top-level key",
            "scope = \"workspace\"\nCANARY-4d5e6f = 1\n",
            2,
            "unknown field",
        ),
        (
            "a value of the wrong type",
            "scope = \"workspace\"\n[cache]\nttl-seconds = \"CANARY-4d5e6f\"\n",
            3,
            "`cache.ttl-seconds`: invalid type: string, expected",
        ),
        (
            "an unknown scope",
            "scope = \"CANARY-4d5e6f\"\n",
            1,
            "`scope`: unknown variant",
        ),
        (
            "no scope",
            "[cache]\nttl-seconds = 5\n",
            1,
            "missing field `scope`",
        ),
        (
            "a connection that is neither azure nor file",
            "scope = \"workspace\"\n\n[workspace.CANARY-4d5e6f]\npath = \"x\"\n",
            3,
            "`workspace`: a connection must be a table with one key",
        ),
        (
            "a connection with two kinds",
            "scope = \"workspace\"\n[workspace.file]\npath = \"corp.toml\"\n[workspace.azure]\nvault-url = \"https://x.vault.azure.net\"\n",
            2,
            "a connection must be a table with one key",
        ),
        (
            "an unknown key of a file connection",
            "scope = \"workspace\"\n[workspace.file]\npath = \"corp.toml\"\nCANARY-4d5e6f = true\n",
            4,
            "`workspace.file`: unknown field",
        ),
        (
            "an invalid project ID",
            "scope = \"project\"\n[projects.\"CANARY 4d5e6f\".file]\npath = \"corp.toml\"\n",
            2,
            "a key of `projects` is not a valid project ID",
        ),
        (
            "an invalid known reference",
            "scope = \"project\"\nknown-references = [\n  \"db-password\",\n  \"CANARY/4d5e6f\",\n]\n",
            4,
            "`known-references[1]` is not a valid reference",
        ),
        ("a syntax error", "scope = \"workspace\"\n[cache\n", 2, ""),
        (
            "a client secret where its table belongs",
            "scope = \"workspace\"\n[workspace.azure]\nvault-url = \"https://x.vault.azure.net\"\nclient-secret = \"CANARY-4d5e6f\"\n",
            4,
            "`workspace.azure.client-secret`: `client-secret` must be a table",
        ),
    ];
    let folder = Folder::new();
    for (what, text, line, reason_has) in cases {
        let path = folder.config("secretscope.toml", text);
        let error = error_of(&path);
        let (field, reason) = invalid_config(&error);
        assert!(
            field.starts_with(&format!(
                "config file `{}`, line {line}, column ",
                path.display()
            )),
            "{what}: {field}"
        );
        assert!(reason.contains(reason_has), "{what}: {reason}");
        assert_quotes_nothing(&error);
    }
}

#[test]
fn json_errors_name_the_line_too() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.json",
        "{\n  \"scope\": \"workspace\",\n  \"cache\": {\n    \"ttl-seconds\": \"CANARY-4d5e6f\"\n  }\n}\n",
    );
    let error = load_error(&path, &[]);
    let (field, reason) = invalid_config(&error);
    assert!(field.contains(", line 4, column "), "{field}");
    assert!(
        reason.starts_with("`cache.ttl-seconds`: invalid type: string"),
        "{reason}"
    );
    assert_quotes_nothing(&error);
}

#[test]
fn an_error_in_what_a_variable_set_names_the_variable() {
    let folder = Folder::new();
    let path = folder.config("secretscope.toml", TOML);
    for (variable, value, reason_has) in [
        (
            "SECRETSCOPE_CACHE__TTL_SECONDS",
            CANARY,
            "`cache.ttl-seconds`: invalid type: string",
        ),
        ("SECRETSCOPE_CACHE__CANARY", "1", "unknown field"),
        ("SECRETSCOPE_CACHE____TTL", "1", "does not name a setting"),
        ("SECRETSCOPE_SCOPE__MODE", "1", "not a table"),
    ] {
        let error = load_error(&path, &[(variable, value)]);
        let (field, reason) = invalid_config(&error);
        assert_eq!(field, format!("environment variable `{variable}`"));
        assert!(reason.contains(reason_has), "{variable}: {reason}");
        assert!(!error.to_string().contains("4d5e6f"), "{error}");
    }
}

#[test]
fn a_connection_that_cannot_be_built_names_where_it_was_written() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.toml",
        "scope = \"project\"\n\n[projects.billing.file]\npath = \"missing.toml\"\n",
    );
    let error = error_of(&path);
    let (field, reason) = invalid_config(&error);
    assert!(
        field.ends_with(", line 3, column 1") || field.contains(", line 3, "),
        "{field}"
    );
    assert!(
        reason.starts_with("`projects.billing.file`: secrets file `"),
        "{reason}"
    );

    let path = folder.config(
        "secretscope.toml",
        "scope = \"workspace\"\n\n\n[workspace.azure]\nvault-url = \"http://corp.vault.azure.net\"\ntenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\nclient-secret = { env = \"SECRETSCOPE_TEST_UNSET_VARIABLE\" }\n",
    );
    let error = error_of(&path);
    let (field, reason) = invalid_config(&error);
    assert!(field.contains(", line 4, "), "{field}");
    assert!(reason.starts_with("`workspace.azure`: "), "{reason}");
}

#[test]
fn an_azure_connection_builds_from_the_file_without_io() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.toml",
        "scope = \"workspace\"\n[workspace.azure]\nname = \"corp-vault\"\nvault-url = \"https://corp-vault.vault.azure.net\"\ntenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\nclient-secret = { file = \"kv-secret\" }\n",
    );
    std::fs::write(folder.dir.path().join("kv-secret"), "s3cr3t\n").unwrap();
    let manager = WorkspaceManager::from_config_file(&path).unwrap();
    let connection = manager.policy().connection("corp-vault").unwrap();
    assert_eq!(
        connection.location().host(),
        Some("corp-vault.vault.azure.net")
    );
}

#[test]
fn other_file_names_are_refused() {
    let folder = Folder::new();
    let path = folder.config("secretscope.yaml", "scope: workspace\n");
    let error = load_error(&path, &[]);
    let (field, reason) = invalid_config(&error);
    assert_eq!(field, format!("config file `{}`", path.display()));
    assert!(reason.contains("`.toml` or `.json`"), "{reason}");
    let missing = folder.dir.path().join("missing.toml");
    let error = load_error(&missing, &[]);
    assert!(
        invalid_config(&error).1.contains("does not exist"),
        "{error}"
    );
}

#[test]
fn an_unknown_setting_of_a_key_vault_is_located() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.toml",
        "scope = \"workspace\"\n[workspace.azure]\nvault-url = \"https://x.vault.azure.net\"\n\"CANARY-4d5e6f\" = 1\n",
    );
    let error = load_error(&path, &[]);
    let (field, reason) = invalid_config(&error);
    assert!(field.contains(", line 4, "), "{field}");
    assert!(
        reason.starts_with(
            "`workspace.azure`: a key of the Key Vault connection is not one of its settings"
        ),
        "{reason}"
    );
    assert_quotes_nothing(&error);
}

#[test]
fn the_audit_file_of_the_configuration_receives_the_records() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.toml",
        "scope = \"workspace\"\n[workspace.file]\nname = \"corp\"\npath = \"corp.toml\"\n[audit]\nfile = \"audit.jsonl\"\n",
    );
    WorkspaceManager::from_config_file(&path).unwrap().clear();
    let text = std::fs::read_to_string(folder.dir.path().join("audit.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "connection_configured");
    assert_eq!(events[0]["connection"], "corp");
    assert_eq!(events[1]["event"], "cache_cleared");
}

#[test]
fn an_inline_client_secret_never_shows() {
    let folder = Folder::new();
    let path = folder.config(
        "secretscope.toml",
        &format!("scope = \"workspace\"\n[workspace.azure]\nvault-url = \"https://corp.vault.azure.net\"\ntenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\nclient-secret = {{ value = \"{CANARY}\" }}\n[cache]\nttl-seconds = -1\n"),
    );
    let error = load_error(&path, &[]);
    assert_quotes_nothing(&error);
    let path = folder.config(
        "secretscope.toml",
        &format!("scope = \"workspace\"\n[workspace.azure]\nvault-url = \"https://corp.vault.azure.net\"\ntenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\nclient-secret = {{ value = \"{CANARY}\" }}\n"),
    );
    let config = load(&path, &[]);
    let debug = format!("{config:?}");
    assert!(!debug.contains("4d5e6f"), "{debug}");
    let manager = config.build().unwrap();
    assert!(!format!("{manager:?}").contains("4d5e6f"));
}
