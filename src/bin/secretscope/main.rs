//! `secretscope`: check a workspace's connections, resolve a reference, plan and apply a scope
//! switch, render and lint configuration files, all from the workspace configuration file.
//! Cargo feature `cli`.

mod lint;
mod report;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use secretscope::prelude::*;
use secretscope::{Error, ScopeMode, WorkspaceConfig, WorkspaceManager};

use report::{Outcome, Report};

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   the command ran and found problems (a connection failed its check, lint found some)
  2   the command line is wrong
  3   an invalid reference
  4   the secret was not found, is disabled, expired or not yet valid
  5   permission denied, or authentication failed
  6   the scope refused it: invalidated by the active scope, no connection for it, a vault host
      no connection serves, an acknowledgement required, or a stale plan
  7   throttled, unavailable or rejected by the service: try again later
  78  invalid configuration";

/// Check connections, resolve references, plan and apply scope switches, render and lint
/// configuration files, from a secretscope workspace configuration file.
#[derive(Debug, Parser)]
#[command(name = "secretscope", version, after_help = EXIT_CODES)]
struct Cli {
    /// The workspace configuration file [default: $SECRETSCOPE_CONFIG, or ./secretscope.toml]
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print JSON, for scripts
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Test every connection of the configuration file, and say what to fix
    Check,
    /// Resolve a reference and print where it came from (the value only with --reveal)
    Resolve {
        /// The reference: `db-password`, `project:billing/db-password`, a Key Vault identifier
        reference: String,
        /// Print the secret value too
        #[arg(long)]
        reveal: bool,
    },
    /// Show what switching the scope would break, changing nothing
    PlanSwitch {
        /// The scope to switch to
        #[arg(long, value_enum)]
        to: Mode,
        /// A service configuration file whose references the plan must include (repeatable)
        #[arg(long, value_name = "FILE")]
        scan: Vec<PathBuf>,
    },
    /// Switch the scope, acknowledging its impact, and save the new state where the
    /// configuration says
    ApplySwitch {
        /// The scope to switch to
        #[arg(long, value_enum)]
        to: Mode,
        /// Who acknowledges the impact (a person or a change ticket)
        #[arg(long, value_name = "NAME")]
        acknowledge: String,
        /// Refuse unless the plan is still the one reviewed (its fingerprint from plan-switch)
        #[arg(long, value_name = "FINGERPRINT")]
        expect_fingerprint: Option<String>,
        /// A service configuration file whose references the plan must include (repeatable)
        #[arg(long, value_name = "FILE")]
        scan: Vec<PathBuf>,
    },
    /// Print FILE with every reference replaced by its value
    Render {
        /// The file: any text with `{{ reference }}` in it
        file: PathBuf,
    },
    /// Find the references in FILE and report the invalid ones, the ones the active scope does
    /// not admit, and the ones missing from their vault
    Lint {
        /// The file: any text with references in it (TOML, JSON, YAML, .env...)
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Workspace,
    Project,
}

impl From<Mode> for ScopeMode {
    fn from(mode: Mode) -> Self {
        match mode {
            Mode::Workspace => ScopeMode::Workspace,
            Mode::Project => ScopeMode::Project,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let report = Report::new(cli.json);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime starts");
    match runtime.block_on(run(&cli, &report)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(error) => {
            report.error(&error);
            ExitCode::from(report::exit_code(&error))
        }
    }
}

async fn run(cli: &Cli, report: &Report) -> Result<Outcome, Error> {
    let path = cli.config.clone().unwrap_or_else(|| {
        std::env::var_os(secretscope::config::ENV_CONFIG)
            .map_or_else(|| PathBuf::from("secretscope.toml"), PathBuf::from)
    });
    let config = WorkspaceConfig::from_file(&path)?;
    let manager = config.build()?;
    match &cli.command {
        Command::Check => check(&manager, report).await,
        Command::Resolve { reference, reveal } => {
            let resolved = manager.resolve_with_metadata(reference).await?;
            report.resolved(&resolved, *reveal);
            Ok(Outcome::Done)
        }
        Command::PlanSwitch { to, scan: files } => {
            scan(&manager, files)?;
            let plan = manager.plan_switch((*to).into()).await;
            report.plan(&plan);
            Ok(Outcome::Done)
        }
        Command::ApplySwitch {
            to,
            acknowledge,
            expect_fingerprint,
            scan: files,
        } => {
            scan(&manager, files)?;
            apply_switch(
                &config,
                &manager,
                (*to).into(),
                acknowledge,
                expect_fingerprint.as_deref(),
                report,
            )
            .await
        }
        Command::Render { file } => {
            let text = read(file)?;
            let rendered = manager.render(&text).await?;
            report.rendered(rendered.expose_secret());
            Ok(Outcome::Done)
        }
        Command::Lint { file } => {
            let text = read(file)?;
            let findings = lint::lint(&manager, &text).await;
            report.lint(file, &findings);
            Ok(if findings.problems().next().is_some() {
                Outcome::Problems
            } else {
                Outcome::Done
            })
        }
    }
}

/// Checks every connection at once, with a progress bar on a terminal.
async fn check(manager: &WorkspaceManager, report: &Report) -> Result<Outcome, Error> {
    let connections = manager.policy().connections();
    let progress = if std::io::stderr().is_terminal() && !report.is_json() {
        indicatif::ProgressBar::new(connections.len() as u64).with_message("checking connections")
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {pos}/{len}")
            .expect("a valid template"),
    );
    progress.enable_steady_tick(std::time::Duration::from_millis(100));
    let mut checks: FuturesUnordered<_> = connections
        .iter()
        .enumerate()
        .map(|(index, connection)| async move { (index, connection.check().await) })
        .collect();
    let mut reports = Vec::with_capacity(connections.len());
    while let Some(done) = checks.next().await {
        progress.inc(1);
        reports.push(done);
    }
    progress.finish_and_clear();
    // In the order of the configuration, whichever answered first.
    reports.sort_by_key(|(index, _)| *index);
    let reports: Vec<_> = reports.into_iter().map(|(_, report)| report).collect();
    report.checks(&reports);
    Ok(if reports.iter().all(|r| r.is_success()) {
        Outcome::Done
    } else {
        Outcome::Problems
    })
}

async fn apply_switch(
    config: &WorkspaceConfig,
    manager: &WorkspaceManager,
    to: ScopeMode,
    by: &str,
    expect_fingerprint: Option<&str>,
    report: &Report,
) -> Result<Outcome, Error> {
    let Some(state_file) = &config.state_file else {
        return Err(Error::InvalidConfig {
            field: format!("config file `{}`", config.path().display()),
            reason: "it names no `state-file`, so a switch would last only as long as this command; add `state-file = \"secretscope-state.json\"` and run it again".to_owned(),
            source: None,
        });
    };
    let plan = manager.plan_switch(to).await;
    if let Some(expected) = expect_fingerprint
        && plan.fingerprint() != expected
    {
        report.plan(&plan);
        return Err(Error::StalePlan {
            plan_generation: plan.base_generation(),
            current_generation: manager.policy().generation(),
            unreviewed_references: 0,
        });
    }
    let state = manager.apply_switch(&plan, Some(&plan.acknowledge(by)))?;
    config.save_state(&state)?;
    report.applied(&plan, &state, state_file);
    Ok(Outcome::Done)
}

/// Makes the references in `files` known to switch plans.
fn scan(manager: &WorkspaceManager, files: &[PathBuf]) -> Result<(), Error> {
    for file in files {
        let text = read(file)?;
        for line in text.lines() {
            for (_, found) in lint::on_line(line) {
                // One that does not parse cannot break: `lint` reports it.
                let _ = manager.policy().register(found);
            }
        }
    }
    Ok(())
}

fn read(file: &std::path::Path) -> Result<String, Error> {
    std::fs::read_to_string(file).map_err(|e| Error::InvalidConfig {
        field: format!("file `{}`", file.display()),
        reason: "it cannot be read as UTF-8 text; check the path".to_owned(),
        source: Some(secretscope::ErrorSource::new(e)),
    })
}
