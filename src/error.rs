//! The one error type of the crate.
//!
//! Every variant says what went wrong and what to do next. None of them ever carries a secret
//! value, a client secret or a token: they hold names, versions, dates, locations, connection
//! names and service error codes only.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::location::Location;
use crate::reference::{RefScope, ReferenceError, ScopeMode, SecretName, SecretRef, SecretVersion};

/// The cause kept inside an [`Error`], shared so that an error can be cloned: the cache hands
/// one backend failure to every caller that was waiting for the same secret.
///
/// [`std::error::Error::source`] returns the cause itself, so it can be downcast to its own
/// type (an `std::io::Error`, an `azure_core::Error`...). `Debug` prints the cause's type and
/// the first line of its message only: the Azure SDK's own `Debug` holds a backtrace of
/// several kilobytes, which the cause still carries for whoever asks it.
#[derive(Clone)]
pub struct ErrorSource(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl ErrorSource {
    /// Keeps `cause`.
    pub fn new(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self(std::sync::Arc::new(cause))
    }
}

impl std::ops::Deref for ErrorSource {
    type Target = dyn std::error::Error + Send + Sync + 'static;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for ErrorSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// The longest message `Debug` shows.
        const MAX: usize = 200;
        let message = self.0.to_string();
        let line = message.lines().next().unwrap_or_default();
        let line = match line.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        };
        f.debug_tuple("ErrorSource").field(&line).finish()
    }
}

/// Shorthand for `Result<T, secretscope::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while configuring secretscope or resolving a secret.
///
/// Variants are grouped by meaning, not by backend: a missing secret is [`Error::NotFound`]
/// whether it was looked up in Azure Key Vault, a local file or memory. Match on
/// [`Error::kind`] for logging, metrics and retries; use [`Error::is_temporary`] to decide
/// whether retrying can help.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference string does not follow the reference grammar. Nothing was sent anywhere.
    ///
    /// The message gives the position and the reason, but never repeats the input: a string
    /// passed where a reference belongs may be a misplaced secret.
    #[error("invalid secret reference: {0}")]
    InvalidReference(#[from] ReferenceError),

    /// A Key Vault secret identifier names a vault host that the connection serving it does
    /// not point to. Nothing was sent: a token only ever goes to a host the configuration named.
    #[error(
        "the Key Vault identifier names the vault host `{host}`, but the workspace connection points to {served_by}; use the secret name alone, or configure a connection for that vault"
    )]
    UnconfiguredVaultHost {
        /// The host the identifier names (validated, in canonical form).
        host: String,
        /// Where the workspace connection, which serves identifiers, points.
        served_by: Location,
    },

    /// A configuration value is missing or wrong.
    #[error("invalid configuration for {field}: {reason}")]
    InvalidConfig {
        /// Which setting is wrong (a field name, or a file path with its line).
        field: String,
        /// What is wrong with it and how to fix it.
        reason: String,
        /// The underlying cause, if any.
        #[source]
        source: Option<ErrorSource>,
    },

    /// The secret (or the requested version of it) does not exist where the reference points.
    #[error(
        "secret `{name}`{} was not found in {location}; check the name and version, or create the secret there",
        version_suffix(.version)
    )]
    NotFound {
        /// The secret name that was looked up.
        name: SecretName,
        /// The pinned version that was looked up, if any.
        version: Option<SecretVersion>,
        /// Where it was looked up.
        location: Location,
    },

    /// The secret exists but is disabled, so its value may not be read.
    #[error(
        "secret `{name}`{} in {location} is disabled; enable it, or pin an enabled version",
        version_suffix(.version)
    )]
    Disabled {
        /// The secret name.
        name: SecretName,
        /// The pinned version, if any.
        version: Option<SecretVersion>,
        /// Where it was looked up.
        location: Location,
    },

    /// The secret's expiry date has passed.
    #[error(
        "secret `{name}`{} in {location} expired at {}; rotate it (set a new value or expiry), or allow expired secrets in the validity settings",
        version_suffix(.version),
        rfc3339(.expired_at)
    )]
    Expired {
        /// The secret name.
        name: SecretName,
        /// The version that was read, if known.
        version: Option<SecretVersion>,
        /// Where it was read.
        location: Location,
        /// When the secret expired.
        expired_at: OffsetDateTime,
    },

    /// The secret's not-before date has not come yet.
    #[error(
        "secret `{name}`{} in {location} is not valid before {}; wait until then, or allow not-yet-valid secrets in the validity settings",
        version_suffix(.version),
        rfc3339(.not_before)
    )]
    NotYetValid {
        /// The secret name.
        name: SecretName,
        /// The version that was read, if known.
        version: Option<SecretVersion>,
        /// Where it was read.
        location: Location,
        /// When the secret becomes valid.
        not_before: OffsetDateTime,
    },

    /// The caller is authenticated but not allowed to read the secret.
    #[error("permission denied by {location}: {missing}; {detail}")]
    PermissionDenied {
        /// Where access was denied.
        location: Location,
        /// Which grant is missing.
        missing: MissingGrant,
        /// What the service said, without any credential.
        detail: String,
    },

    /// The caller could not be authenticated.
    #[error("authentication to {location} failed{}: {detail}", code_suffix(.code))]
    Unauthenticated {
        /// The service being authenticated to.
        location: Location,
        /// The service's error code, such as Entra ID's `AADSTS7000215` or Key Vault's
        /// `AKV10032`.
        code: Option<String>,
        /// What went wrong and what to fix.
        detail: String,
    },

    /// Requests to a service are being limited: by the service itself (a 429), or by this
    /// process's own request budget for it, before anything was sent.
    #[error("{}", throttled_message(.location, .retry_after, *.by))]
    Throttled {
        /// The service the requests were for.
        location: Location,
        /// How long to wait before trying again, if known.
        retry_after: Option<Duration>,
        /// Whose limit it was.
        by: ThrottledBy,
    },

    /// The backend could not be reached or failed on its side (network, 5xx, timeout, I/O).
    #[error("{location} is unavailable: {reason}")]
    Unavailable {
        /// The unreachable service or file.
        location: Location,
        /// What failed and what to check.
        reason: String,
        /// The underlying cause, kept for the error chain.
        #[source]
        source: Option<ErrorSource>,
    },

    /// The service refused a request for a reason none of the other variants names (a 4xx such
    /// as `BadParameter` or `Conflict`).
    #[error("{location} refused the request with {status}{}: {detail}", code_suffix(.code))]
    Rejected {
        /// The service that refused it.
        location: Location,
        /// The HTTP status.
        status: u16,
        /// The service's error code, if it gave one.
        code: Option<String>,
        /// What it said and what to check.
        detail: String,
        /// The underlying cause, kept for the error chain.
        #[source]
        source: Option<ErrorSource>,
    },

    /// The reference was written for a scope that is not active.
    #[error(
        "secret reference `{reference}` is {} but secrets management is configured for the {active} scope; rewrite the reference for the {active} scope or switch the scope back",
        reference.scope_description()
    )]
    ScopeInvalidated {
        /// The invalidated reference (boxed: a reference is larger than every other field of
        /// an error, and an error travels in every `Result` of a resolve).
        reference: Box<SecretRef>,
        /// The scope mode that is active.
        active: ScopeMode,
    },

    /// No connection is configured for the scope the reference needs.
    #[error("no secrets-manager connection is configured for {}; add a connection for it", scope_name(.scope))]
    NotConfigured {
        /// The scope that lacks a connection.
        scope: RefScope,
    },

    /// A scope switch was applied without an acknowledgement made from its plan.
    #[error(
        "switching the scope from {from} to {to} needs an acknowledgement made from its plan ({}); review the impact report, then apply with `plan.acknowledge(..)`",
        plural(*.breaking, "reference breaks", "references break")
    )]
    AcknowledgementRequired {
        /// The active mode.
        from: ScopeMode,
        /// The planned mode.
        to: ScopeMode,
        /// How many known references the switch breaks.
        breaking: usize,
    },

    /// A reference found in a string or a configuration tree was not resolved; `error` says
    /// why (it is also the [`source`](std::error::Error::source)).
    #[error("{place}: the reference {reference} was not resolved ({})", .error.kind())]
    Unresolved {
        /// Where the reference was found: a key path (`database.url`), or `template` for a
        /// string given to [`render`](crate::SecretsManagerExt::render).
        place: String,
        /// The reference as it parsed (`` `project:billing/db-password` ``), or its position in
        /// the string when it does not parse (the text may be anything, so it is not quoted).
        reference: String,
        /// Why it was not resolved.
        #[source]
        error: Box<Error>,
    },

    /// The plan no longer describes what applying it would do: the policy changed since, or
    /// references that would break were first seen after it was made. Nothing was changed.
    #[error("{}", stale_plan_message(*.plan_generation, *.current_generation, *.unreviewed_references))]
    StalePlan {
        /// The generation the plan was made at.
        plan_generation: u64,
        /// The generation of the policy now.
        current_generation: u64,
        /// How many references the switch would break that the plan does not list.
        unreviewed_references: usize,
    },
}

/// What kind of failure an [`Error`] is, for matching, logging and metrics.
///
/// [`as_str`](Self::as_str) gives a stable `snake_case` name for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::InvalidReference`].
    InvalidReference,
    /// [`Error::UnconfiguredVaultHost`].
    UnconfiguredVaultHost,
    /// [`Error::InvalidConfig`].
    InvalidConfig,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::Disabled`].
    Disabled,
    /// [`Error::Expired`].
    Expired,
    /// [`Error::NotYetValid`].
    NotYetValid,
    /// [`Error::PermissionDenied`].
    PermissionDenied,
    /// [`Error::Unauthenticated`].
    Unauthenticated,
    /// [`Error::Throttled`].
    Throttled,
    /// [`Error::Unavailable`].
    Unavailable,
    /// [`Error::Rejected`].
    Rejected,
    /// [`Error::ScopeInvalidated`].
    ScopeInvalidated,
    /// [`Error::NotConfigured`].
    NotConfigured,
    /// [`Error::AcknowledgementRequired`].
    AcknowledgementRequired,
    /// [`Error::StalePlan`].
    StalePlan,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 16] = [
        Self::InvalidReference,
        Self::UnconfiguredVaultHost,
        Self::InvalidConfig,
        Self::NotFound,
        Self::Disabled,
        Self::Expired,
        Self::NotYetValid,
        Self::PermissionDenied,
        Self::Unauthenticated,
        Self::Throttled,
        Self::Unavailable,
        Self::Rejected,
        Self::ScopeInvalidated,
        Self::NotConfigured,
        Self::AcknowledgementRequired,
        Self::StalePlan,
    ];

    /// The kind's stable `snake_case` name, such as `not_found`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidReference => "invalid_reference",
            Self::UnconfiguredVaultHost => "unconfigured_vault_host",
            Self::InvalidConfig => "invalid_config",
            Self::NotFound => "not_found",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::PermissionDenied => "permission_denied",
            Self::Unauthenticated => "unauthenticated",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Rejected => "rejected",
            Self::ScopeInvalidated => "scope_invalidated",
            Self::NotConfigured => "not_configured",
            Self::AcknowledgementRequired => "acknowledgement_required",
            Self::StalePlan => "stale_plan",
        }
    }

    /// Whether retrying later may succeed: throttling and unavailability.
    pub fn is_temporary(self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grant a caller lacks when access is denied.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingGrant {
    /// An Azure RBAC vault: the *Key Vault Secrets User* role on the vault or the secret.
    KeyVaultSecretsUserRole,
    /// An access-policy vault: the secret *Get* permission.
    GetSecretPermission,
    /// The vault firewall refuses the caller's network address.
    Firewall,
    /// Something else; the detail says what.
    Other(String),
}

impl fmt::Display for MissingGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyVaultSecretsUserRole => f.write_str(
                "the caller needs the `Key Vault Secrets User` role on the vault (RBAC permission model)",
            ),
            Self::GetSecretPermission => f.write_str(
                "the caller needs the secret `Get` permission in the vault's access policies",
            ),
            Self::Firewall => f.write_str(
                "the vault firewall does not allow the caller's network address; add it to the vault's networking rules",
            ),
            Self::Other(what) => f.write_str(what),
        }
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidReference(_) => ErrorKind::InvalidReference,
            Self::UnconfiguredVaultHost { .. } => ErrorKind::UnconfiguredVaultHost,
            Self::InvalidConfig { .. } => ErrorKind::InvalidConfig,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Disabled { .. } => ErrorKind::Disabled,
            Self::Expired { .. } => ErrorKind::Expired,
            Self::NotYetValid { .. } => ErrorKind::NotYetValid,
            Self::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Self::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Self::Throttled { .. } => ErrorKind::Throttled,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Rejected { .. } => ErrorKind::Rejected,
            Self::ScopeInvalidated { .. } => ErrorKind::ScopeInvalidated,
            Self::NotConfigured { .. } => ErrorKind::NotConfigured,
            Self::AcknowledgementRequired { .. } => ErrorKind::AcknowledgementRequired,
            Self::StalePlan { .. } => ErrorKind::StalePlan,
            Self::Unresolved { error, .. } => error.kind(),
        }
    }

    /// Whether retrying later may succeed (throttling, network or service failures).
    ///
    /// A cache may serve a stale value on a temporary error, never on a permanent one.
    pub fn is_temporary(&self) -> bool {
        self.kind().is_temporary()
    }

    pub(crate) fn invalid_config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
            source: None,
        }
    }
}

/// The scope a message talks about: `the workspace` or ``project `billing` ``.
fn scope_name(scope: &RefScope) -> String {
    match scope {
        RefScope::Workspace => "the workspace".to_owned(),
        RefScope::Project(p) => format!("project `{p}`"),
    }
}

fn stale_plan_message(plan: u64, current: u64, unreviewed: usize) -> String {
    if plan != current {
        format!(
            "the scope-switch plan was made at policy generation {plan} but the policy is now at generation {current}; plan the switch again and review the new impact report"
        )
    } else {
        format!(
            "{} first seen after the scope-switch plan was made would break without being reviewed; plan the switch again and review the new impact report",
            plural(unreviewed, "reference", "references")
        )
    }
}

fn version_suffix(version: &Option<SecretVersion>) -> String {
    version
        .as_ref()
        .map(|v| format!(" version `{v}`"))
        .unwrap_or_default()
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}

/// Whose limit an [`Error::Throttled`] met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ThrottledBy {
    /// The service answered 429 (Key Vault allows about 4,000 secret reads per 10 s per
    /// vault); every caller of that host in this process waits out the pause together.
    Service,
    /// This process's request budget for the host was spent: nothing was sent. See
    /// [`BudgetOptions`](crate::budget::BudgetOptions).
    Budget,
}

fn throttled_message(
    location: &Location,
    retry_after: &Option<Duration>,
    by: ThrottledBy,
) -> String {
    let retry = retry_suffix(retry_after);
    match by {
        ThrottledBy::Service => format!(
            "{location} is throttling requests{retry}; this process pauses every request to it meanwhile: cache secrets longer and spread requests out"
        ),
        ThrottledBy::Budget => format!(
            "the request budget for {location} is spent, so nothing was sent{retry}: this process limits itself to stay under the vault's limit; cache secrets longer, spread requests out, or raise the budget (BudgetOptions)"
        ),
    }
}

fn retry_suffix(retry_after: &Option<Duration>) -> String {
    retry_after
        .map(|d| format!(" (retry after {} s)", d.as_secs_f64().ceil()))
        .unwrap_or_default()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

pub(crate) fn rfc3339(at: &OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_errors_are_throttling_and_unavailability() {
        let throttled = Error::Throttled {
            location: Location::memory(),
            retry_after: Some(Duration::from_secs(2)),
            by: ThrottledBy::Service,
        };
        assert!(throttled.is_temporary());
        assert_eq!(throttled.kind(), ErrorKind::Throttled);
        assert!(throttled.to_string().contains("retry after 2 s"));
        let missing = Error::NotFound {
            name: SecretName::new("db").unwrap(),
            version: None,
            location: Location::memory(),
        };
        assert!(!missing.is_temporary());
        assert_eq!(
            missing.to_string(),
            "secret `db` was not found in memory; check the name and version, or create the secret there"
        );
        let temporary: Vec<_> = ErrorKind::ALL.iter().filter(|k| k.is_temporary()).collect();
        assert_eq!(temporary, [&ErrorKind::Throttled, &ErrorKind::Unavailable]);
    }

    #[test]
    fn kind_names_are_distinct_snake_case() {
        let names: std::collections::HashSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    #[test]
    fn not_configured_names_its_scope() {
        let workspace = Error::NotConfigured {
            scope: RefScope::Workspace,
        };
        assert!(workspace.to_string().contains("for the workspace;"));
        let project = Error::NotConfigured {
            scope: RefScope::Project(crate::ProjectId::new("billing").unwrap()),
        };
        assert!(project.to_string().contains("for project `billing`;"));
    }

    #[test]
    fn source_debug_is_one_short_line() {
        let long = format!("first line {}\nsecond line", "x".repeat(500));
        let source = ErrorSource::new(std::io::Error::other(long));
        let debug = format!("{source:?}");
        assert!(debug.len() < 260, "{debug}");
        assert!(!debug.contains("second line"), "{debug}");
    }

    #[test]
    fn acknowledgement_message_counts_breaking_references() {
        let one = Error::AcknowledgementRequired {
            from: ScopeMode::Project,
            to: ScopeMode::Workspace,
            breaking: 1,
        };
        assert!(one.to_string().contains("(1 reference breaks)"), "{one}");
        let two = Error::AcknowledgementRequired {
            from: ScopeMode::Project,
            to: ScopeMode::Workspace,
            breaking: 2,
        };
        assert!(two.to_string().contains("(2 references break)"), "{two}");
    }
}
