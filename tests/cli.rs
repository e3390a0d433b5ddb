//! The `secretscope` command, run as a user runs it: output, JSON, exit codes, saved state.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "secretscope.toml",
            "scope = \"project\"\nstate-file = \"state.json\"\n\n[workspace.file]\nname = \"corp-dev\"\npath = \"corp.toml\"\n\n[projects.billing.file]\nname = \"billing-dev\"\npath = \"billing.toml\"\n",
        );
        write("corp.toml", "[secrets]\ndb-password = \"corp-secret\"\n");
        write(
            "billing.toml",
            "[secrets]\ndb-password = \"billing-secret\"\n",
        );
        #[cfg(unix)]
        for name in ["corp.toml", "billing.toml"] {
            use std::os::unix::fs::PermissionsExt;
            let permissions = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(dir.path().join(name), permissions).unwrap();
        }
        write(
            "app.toml",
            "[database]\nurl = \"postgres://app:{{ project:billing/db-password }}@db/app\"\nkey = \"{{ project:billing/search-key }}\"\nlegacy = \"{{ db-password }}\"\nbroken = \"{{ project:billing/bad name }}\"\n",
        );
        write(
            "url.txt",
            "postgres://app:{{ project:billing/db-password }}@db/app\n",
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_secretscope"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("SECRETSCOPE_CONFIG")
            .output()
            .unwrap()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn check_reports_each_connection() {
    let workspace = Workspace::new();
    let output = workspace.run(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("ok   Connection successful: `corp-dev`"),
        "{text}"
    );
    assert!(
        text.contains("ok   Connection successful: `billing-dev`"),
        "{text}"
    );
    assert!(
        text.ends_with("2 connections: 2 working, 0 failing\n"),
        "{text}"
    );
    // No progress indicator when stderr is not a terminal.
    assert_eq!(stderr(&output), "");

    std::fs::remove_file(workspace.path("billing.toml")).unwrap();
    // The file connection opens its file when the manager is built: a configuration error.
    let output = workspace.run(&["check", "--json"]);
    assert_eq!(output.status.code(), Some(78));
    assert_eq!(json(&output)["error"]["kind"], "invalid_config");
}

#[test]
fn resolve_prints_metadata_and_the_value_only_when_asked() {
    let workspace = Workspace::new();
    let output = workspace.run(&["resolve", "project:billing/db-password"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("connection   billing-dev\n"), "{text}");
    assert!(
        text.contains("(hidden; add --reveal to print it)"),
        "{text}"
    );
    assert!(!text.contains("billing-secret"), "{text}");

    let output = workspace.run(&[
        "resolve",
        "project:billing/db-password",
        "--reveal",
        "--json",
    ]);
    let value = json(&output);
    assert_eq!(value["connection"], "billing-dev");
    assert_eq!(value["value"], "billing-secret");

    for (reference, code, kind) in [
        ("project:billing/missing", 4, "not_found"),
        ("db-password", 6, "scope_invalidated"),
        ("bad name", 3, "invalid_reference"),
    ] {
        let output = workspace.run(&["resolve", reference, "--json"]);
        assert_eq!(output.status.code(), Some(code), "{reference}");
        assert_eq!(json(&output)["error"]["kind"], kind, "{reference}");
    }
    let output = workspace.run(&["resolve", "db-password"]);
    assert!(
        stderr(&output).starts_with("error: secret reference `db-password` is workspace-level")
    );
}

#[test]
fn a_switch_is_planned_then_applied_and_saved() {
    let workspace = Workspace::new();
    let output = workspace.run(&["plan-switch", "--to", "workspace", "--scan", "app.toml"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains("2 known references will stop resolving"),
        "{text}"
    );
    let plan = json(&workspace.run(&[
        "plan-switch",
        "--to",
        "workspace",
        "--scan",
        "app.toml",
        "--json",
    ]));
    let fingerprint = plan["fingerprint"].as_str().unwrap().to_owned();

    // A plan that no longer matches what was reviewed is refused.
    let output = workspace.run(&[
        "apply-switch",
        "--to",
        "workspace",
        "--acknowledge",
        "alice",
        "--expect-fingerprint",
        &fingerprint,
    ]);
    assert_eq!(output.status.code(), Some(6), "{}", stdout(&output));
    assert!(!workspace.path("state.json").exists());

    let output = workspace.run(&[
        "apply-switch",
        "--to",
        "workspace",
        "--acknowledge",
        "alice",
        "--scan",
        "app.toml",
        "--expect-fingerprint",
        &fingerprint,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(
            "Applied: the workspace scope is active (generation 1), acknowledged by alice"
        )
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(workspace.path("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["mode"], "workspace");
    assert_eq!(state["switched_by"], "alice");

    // The next run starts from the saved state.
    let output = workspace.run(&["resolve", "db-password", "--reveal", "--json"]);
    assert_eq!(json(&output)["value"], "corp-secret");
}

#[test]
fn render_and_lint_read_a_service_configuration() {
    let workspace = Workspace::new();
    let output = workspace.run(&["render", "url.txt"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "postgres://app:billing-secret@db/app\n");

    let output = workspace.run(&["render", "app.toml", "--json"]);
    assert_eq!(output.status.code(), Some(4));
    let error = json(&output);
    assert_eq!(error["error"]["kind"], "not_found");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`project:billing/search-key` was not resolved")
    );

    let output = workspace.run(&["lint", "app.toml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("app.toml:3:8: missing: secret `search-key` was not found"),
        "{text}"
    );
    assert!(text.contains("app.toml:4:11: not admitted: "), "{text}");
    assert!(text.contains("app.toml:5:11: invalid: "), "{text}");
    assert!(text.ends_with("4 references: 1 invalid, 1 not admitted by the active scope, 1 missing, 0 not checked\n"), "{text}");

    let report = json(&workspace.run(&["lint", "url.txt", "--json"]));
    assert_eq!(report["references"], 1);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    assert_eq!(workspace.run(&["lint", "url.txt"]).status.code(), Some(0));
}

#[test]
fn the_configuration_comes_from_the_flag_the_variable_or_the_folder() {
    let workspace = Workspace::new();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = workspace.path("secretscope.toml");
    let run = |args: &[&str], variable: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_secretscope"));
        command.args(args).current_dir(elsewhere.path());
        match variable {
            Some(path) => command.env("SECRETSCOPE_CONFIG", path),
            None => command.env_remove("SECRETSCOPE_CONFIG"),
        };
        command.output().unwrap()
    };
    assert_eq!(
        run(&["check", "--config", config.to_str().unwrap()], None)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(run(&["check"], Some(&config)).status.code(), Some(0));
    let output = run(&["check"], None);
    assert_eq!(output.status.code(), Some(78));
    assert!(
        stderr(&output).contains("secretscope.toml"),
        "{}",
        stderr(&output)
    );
    assert_eq!(run(&["frobnicate"], None).status.code(), Some(2));
}

/// A listener that takes connections and never answers: a vault that hangs.
fn hanging_vault() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn a_long_check_shows_progress_on_a_terminal_only() {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        // `script` (util-linux) gives the command a terminal; Debian installs it everywhere.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs /usr/bin/script for this test"
        );
        println!("skipping: /usr/bin/script is not installed, so no terminal can be given");
        return;
    }
    let workspace = Workspace::new();
    let (_listener, port) = hanging_vault();
    std::fs::write(
        workspace.path("slow.toml"),
        format!(
            "scope = \"workspace\"\n[workspace.azure]\nname = \"hanging\"\nvault-url = \"https://127.0.0.1:{port}\"\nauthority-host = \"https://127.0.0.1:{port}\"\nallow-custom-host = true\ntenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\nclient-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\nclient-secret = {{ value = \"x\" }}\ndeadline-ms = 1200\ntry-timeout-ms = 1200\nconnect-timeout-ms = 1200\nmax-retries = 0\n"
        ),
    )
    .unwrap();
    let binary = env!("CARGO_BIN_EXE_secretscope");
    // On a terminal: the spinner and its message.
    let output = Command::new(script)
        .args([
            "-qec",
            &format!("{binary} check --config slow.toml"),
            "/dev/null",
        ])
        .current_dir(workspace.dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("checking connections 0/1"), "{text}");
    assert!(text.contains("FAIL Connection failed: `hanging`"), "{text}");
    // Not on a pipe.
    let output = workspace.run(&["check", "--config", "slow.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        !stderr(&output).contains("checking connections"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).contains("FAIL Connection failed: `hanging`"));
}
