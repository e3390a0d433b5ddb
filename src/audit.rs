//! The audit trail: every switch plan, refused and applied switch, adopted state, cache clear
//! and configured connection is handed to an [`AuditSink`].
//!
//! The default sink, [`TracingAudit`], logs each record as an INFO event of the target
//! `secretscope::audit`; [`JsonLinesAudit`] appends each to a file, one JSON object a line:
//!
//! ```text
//! {"at":"2026-12-07T10:04:12.5Z","event":"switch_applied","from":"project","to":"workspace","generation":1,"fingerprint":"9c1f4a7d0e2b6c35","by":"alice","invalidated":["project:billing/db-password"]}
//! ```
//!
//! Records name references, connections, modes and people, never a secret value or credential.
//! A sink that fails to write logs a warning; it does not undo or refuse what it records.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::scope::{ScopeMode, SwitchPlan};

/// Where audit records go. Called synchronously where the audited thing happens: keep it
/// quick (buffer or hand off what is slow).
pub trait AuditSink: Send + Sync + fmt::Debug + 'static {
    /// Records one event.
    fn record(&self, record: &AuditRecord);
}

/// One audited event, and when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct AuditRecord {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What happened.
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl AuditRecord {
    /// `event`, now.
    pub fn now(event: AuditEvent) -> Self {
        Self {
            at: OffsetDateTime::now_utc(),
            event,
        }
    }

    /// The record as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an audit record serialises")
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditEvent {
    /// A switch was planned (a dry run).
    SwitchPlanned {
        /// The active mode.
        from: ScopeMode,
        /// The planned mode.
        to: ScopeMode,
        /// The policy generation the plan was made at.
        base_generation: u64,
        /// The plan's [`fingerprint`](SwitchPlan::fingerprint).
        fingerprint: String,
        /// The references the switch would invalidate.
        breaking: Vec<String>,
    },
    /// A switch was refused; nothing changed.
    SwitchRefused {
        /// The active mode when planned.
        from: ScopeMode,
        /// The planned mode.
        to: ScopeMode,
        /// The plan's fingerprint.
        fingerprint: String,
        /// Who acknowledged it, if anyone did.
        by: Option<String>,
        /// Why: the [`ErrorKind`](crate::ErrorKind) name (`acknowledgement_required`,
        /// `stale_plan`).
        reason: &'static str,
    },
    /// A switch was applied.
    SwitchApplied {
        /// The mode left.
        from: ScopeMode,
        /// The mode now active.
        to: ScopeMode,
        /// The policy generation now.
        generation: u64,
        /// The plan's fingerprint.
        fingerprint: String,
        /// Who acknowledged it.
        by: String,
        /// The references it invalidated.
        invalidated: Vec<String>,
    },
    /// A saved state was adopted (another replica's switch).
    StateAdopted {
        /// The mode now active.
        mode: ScopeMode,
        /// The policy generation now.
        generation: u64,
        /// Who acknowledged the switch that made the state.
        switched_by: Option<String>,
    },
    /// Cached answers were dropped: of one reference, of one connection, or of every
    /// connection (neither given).
    CacheCleared {
        /// The connection, when only its answers were dropped.
        connection: Option<String>,
        /// The reference, when only its answer was dropped.
        reference: Option<String>,
    },
    /// A connection came into service with a manager.
    ConnectionConfigured {
        /// Its name.
        connection: String,
        /// Where it points.
        location: String,
        /// What it serves: `workspace`, or `project:<id>` (one record for each).
        serves: String,
    },
}

/// The default sink: each record as an INFO event of the target `secretscope::audit`, its
/// JSON in the field `record`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingAudit;

impl AuditSink for TracingAudit {
    fn record(&self, record: &AuditRecord) {
        tracing::info!(target: "secretscope::audit", record = %record.to_json(), "audit");
    }
}

/// Appends each record to a file, one JSON object a line. The file is created readable by its
/// owner only (on Unix) and only ever appended to.
#[derive(Debug)]
pub struct JsonLinesAudit {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl JsonLinesAudit {
    /// Opens (or creates) the file at `path` for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path).map_err(|e| Error::InvalidConfig {
            field: format!("audit file `{}`", path.display()),
            reason: "the file cannot be opened for appending; check the folder exists and its permissions".to_owned(),
            source: Some(crate::ErrorSource::new(e)),
        })?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl AuditSink for JsonLinesAudit {
    fn record(&self, record: &AuditRecord) {
        let mut line = record.to_json();
        line.push('\n');
        // One write per record, so that records of several processes do not interleave.
        if let Err(error) = self.file.lock().write_all(line.as_bytes()) {
            tracing::warn!(path = %self.path.display(), %error, "an audit record could not be written");
        }
    }
}

/// The references of a plan, as text.
pub(crate) fn references(plan: &SwitchPlan) -> Vec<String> {
    plan.breaking()
        .iter()
        .map(|impact| impact.reference.to_string())
        .collect()
}
