//! `secretscope lint FILE`: the references in a file, and what is wrong with each.

use secretscope::prelude::*;
use secretscope::render::find_references;
use secretscope::{Error, SecretRef, WorkspaceManager};

/// What is wrong with a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// It does not parse.
    Invalid,
    /// The active scope does not admit it, or no connection serves it.
    NotAdmitted,
    /// Its vault has no such secret.
    Missing,
    /// It could not be checked (the vault did not answer, access was denied...).
    Unchecked,
}

impl Problem {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::NotAdmitted => "not admitted",
            Self::Missing => "missing",
            Self::Unchecked => "not checked",
        }
    }
}

/// One reference found, and its problem if it has one.
#[derive(Debug)]
pub(crate) struct Finding {
    pub(crate) line: usize,
    pub(crate) column: usize,
    /// As parsed; `None` when it does not parse (its text is not repeated).
    pub(crate) reference: Option<String>,
    pub(crate) problem: Option<Problem>,
    pub(crate) message: String,
}

/// Every reference found in a file.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub(crate) all: Vec<Finding>,
}

impl Findings {
    pub(crate) fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.all.iter().filter(|f| f.problem.is_some())
    }
}

/// The references on one line: each `{{ ... }}`, and each App Service reference, wherever it
/// stands (in a TOML or JSON file it sits between quotes), with its 1-based column.
pub(crate) fn on_line(line: &str) -> Vec<(usize, &str)> {
    let mut found: Vec<(usize, &str)> = find_references(line)
        .into_iter()
        .filter(|f| f.text.starts_with("{{"))
        .map(|f| (f.at, f.text))
        .collect();
    const PREFIX: &str = "@microsoft.keyvault(";
    let lower = line.to_ascii_lowercase();
    let mut from = 0;
    while let Some(start) = lower[from..].find(PREFIX).map(|i| from + i) {
        let end = line[start..]
            .find(')')
            .map_or(line.len(), |i| start + i + 1);
        found.push((line[..start].chars().count() + 1, &line[start..end]));
        from = end;
    }
    found.sort_by_key(|(column, _)| *column);
    found
}

pub(crate) async fn lint(manager: &WorkspaceManager, text: &str) -> Findings {
    let mut findings = Findings::default();
    for (number, line) in text.lines().enumerate() {
        for (column, found) in on_line(line) {
            let (reference, problem, message) = match SecretRef::parse(found) {
                Err(error) => (None, Some(Problem::Invalid), error.to_string()),
                Ok(reference) => {
                    let (problem, message) = check(manager, &reference).await;
                    (Some(reference.to_string()), problem, message)
                }
            };
            findings.all.push(Finding {
                line: number + 1,
                column,
                reference,
                problem,
                message,
            });
        }
    }
    findings
}

/// Whether `reference` resolves, and if not, why.
async fn check(manager: &WorkspaceManager, reference: &SecretRef) -> (Option<Problem>, String) {
    match manager.resolve_ref(reference).await {
        Ok(resolved) => (None, format!("found in `{}`", resolved.connection())),
        Err(
            error @ (Error::ScopeInvalidated { .. }
            | Error::NotConfigured { .. }
            | Error::UnconfiguredVaultHost { .. }),
        ) => (Some(Problem::NotAdmitted), error.to_string()),
        Err(error @ Error::NotFound { .. }) => (Some(Problem::Missing), error.to_string()),
        Err(error) => (Some(Problem::Unchecked), error.to_string()),
    }
}
