//! What the command prints: readable text by default, JSON with `--json`; and its exit codes.

use std::error::Error as _;
use std::path::Path;

use secretscope::{ConnectionReport, Error, ErrorKind, PolicyState, ResolvedSecret, SwitchPlan};
use serde_json::json;

use crate::lint::Findings;

/// How a command that ran ended.
pub(crate) enum Outcome {
    /// What was asked holds.
    Done,
    /// The command ran and found problems.
    Problems,
}

/// The exit code of a command that failed with `error`.
pub(crate) fn exit_code(error: &Error) -> u8 {
    match error.kind() {
        ErrorKind::InvalidReference => 3,
        ErrorKind::NotFound | ErrorKind::Disabled | ErrorKind::Expired | ErrorKind::NotYetValid => {
            4
        }
        ErrorKind::PermissionDenied | ErrorKind::Unauthenticated => 5,
        ErrorKind::ScopeInvalidated
        | ErrorKind::NotConfigured
        | ErrorKind::UnconfiguredVaultHost
        | ErrorKind::AcknowledgementRequired
        | ErrorKind::StalePlan => 6,
        ErrorKind::Throttled | ErrorKind::Unavailable | ErrorKind::Rejected => 7,
        ErrorKind::InvalidConfig => 78,
        _ => 1,
    }
}

/// Prints results, readable or as JSON.
pub(crate) struct Report {
    json: bool,
}

impl Report {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    fn print_json(value: &serde_json::Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(value).expect("JSON serialises")
        );
    }

    /// A failure, with its causes, on stderr (JSON on stdout with `--json`).
    pub(crate) fn error(&self, error: &Error) {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        if self.json {
            Self::print_json(&json!({
                "error": {
                    "kind": error.kind().as_str(),
                    "message": error.to_string(),
                    "causes": causes,
                }
            }));
        } else {
            eprintln!("error: {error}");
            for cause in causes {
                eprintln!("  caused by: {cause}");
            }
        }
    }

    pub(crate) fn checks(&self, reports: &[ConnectionReport]) {
        let failing = reports.iter().filter(|r| !r.is_success()).count();
        if self.json {
            let checks: Vec<_> = reports
                .iter()
                .map(|report| {
                    json!({
                        "connection": report.connection().as_str(),
                        "location": report.location().to_string(),
                        "ok": report.is_success(),
                        "latency_ms": report.latency().as_millis() as u64,
                        "error": report.error().map(|e| json!({
                            "kind": e.kind().as_str(),
                            "message": e.to_string(),
                        })),
                    })
                })
                .collect();
            Self::print_json(&json!({ "connections": checks, "failing": failing }));
            return;
        }
        for report in reports {
            let mark = if report.is_success() { "ok  " } else { "FAIL" };
            println!("{mark} {report}");
        }
        println!(
            "{} connection{}: {} working, {failing} failing",
            reports.len(),
            if reports.len() == 1 { "" } else { "s" },
            reports.len() - failing
        );
    }

    pub(crate) fn resolved(&self, resolved: &ResolvedSecret, reveal: bool) {
        let metadata = resolved.metadata();
        if self.json {
            let mut value = serde_json::to_value(&metadata).expect("metadata serialises");
            if reveal {
                value["value"] = json!(resolved.value().expose_secret());
            }
            Self::print_json(&value);
            return;
        }
        let date = |d: Option<time::OffsetDateTime>| {
            d.and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| "-".to_owned())
        };
        let properties = &metadata.properties;
        let rows = [
            ("reference", metadata.reference.to_string()),
            ("connection", metadata.connection.to_string()),
            ("name", properties.name.to_string()),
            (
                "version",
                properties
                    .version
                    .as_ref()
                    .map_or("-".to_owned(), ToString::to_string),
            ),
            (
                "content type",
                properties
                    .content_type
                    .clone()
                    .unwrap_or_else(|| "-".to_owned()),
            ),
            ("enabled", properties.enabled.to_string()),
            ("created", date(properties.created)),
            ("updated", date(properties.updated)),
            ("not before", date(properties.not_before)),
            ("expires", date(properties.expires)),
            ("source", metadata.source.to_string()),
        ];
        for (label, value) in rows {
            println!("{label:<13}{value}");
        }
        if reveal {
            println!("{:<13}{}", "value", resolved.value().expose_secret());
        } else {
            println!("{:<13}(hidden; add --reveal to print it)", "value");
        }
    }

    pub(crate) fn plan(&self, plan: &SwitchPlan) {
        if self.json {
            let mut value = serde_json::to_value(plan).expect("a plan serialises");
            value["fingerprint"] = json!(plan.fingerprint());
            Self::print_json(&value);
        } else {
            println!("{plan}");
            println!("Fingerprint: {}", plan.fingerprint());
        }
    }

    pub(crate) fn applied(&self, plan: &SwitchPlan, state: &PolicyState, saved: &Path) {
        if self.json {
            Self::print_json(&json!({
                "fingerprint": plan.fingerprint(),
                "invalidated": plan.breaking().iter().map(|i| i.reference.to_string()).collect::<Vec<_>>(),
                "state": state,
                "saved_to": saved.display().to_string(),
            }));
        } else {
            println!(
                "Applied: the {} scope is active (generation {}), acknowledged by {}",
                state.mode,
                state.generation,
                state.switched_by.as_deref().unwrap_or("-"),
            );
            let invalidated: Vec<String> = plan
                .breaking()
                .iter()
                .map(|impact| impact.reference.to_string())
                .collect();
            match invalidated.as_slice() {
                [] => println!("No known reference was invalidated."),
                references => println!("Invalidated: {}", references.join(", ")),
            }
            println!("Fingerprint: {}", plan.fingerprint());
            println!("State saved to {}", saved.display());
        }
    }

    pub(crate) fn rendered(&self, text: &str) {
        if self.json {
            Self::print_json(&json!({ "rendered": text }));
        } else {
            print!("{text}");
        }
    }

    pub(crate) fn lint(&self, file: &Path, findings: &Findings) {
        if self.json {
            let problems: Vec<_> = findings
                .problems()
                .map(|f| {
                    json!({
                        "line": f.line,
                        "column": f.column,
                        "reference": f.reference,
                        "problem": f.problem.map(crate::lint::Problem::as_str),
                        "message": f.message,
                    })
                })
                .collect();
            Self::print_json(&json!({
                "file": file.display().to_string(),
                "references": findings.all.len(),
                "problems": problems,
            }));
            return;
        }
        for finding in findings.problems() {
            println!(
                "{}:{}:{}: {}: {}",
                file.display(),
                finding.line,
                finding.column,
                finding.problem.map_or("ok", crate::lint::Problem::as_str),
                finding.message
            );
        }
        let count = |problem| {
            findings
                .problems()
                .filter(|f| f.problem == Some(problem))
                .count()
        };
        println!(
            "{} reference{}: {} invalid, {} not admitted by the active scope, {} missing, {} not checked",
            findings.all.len(),
            if findings.all.len() == 1 { "" } else { "s" },
            count(crate::lint::Problem::Invalid),
            count(crate::lint::Problem::NotAdmitted),
            count(crate::lint::Problem::Missing),
            count(crate::lint::Problem::Unchecked),
        );
    }
}
