//! The one error type of the crate.
//!
//! Every variant says what went wrong and what to do next. None of them ever carries a secret
//! value, a client secret or a token: they hold names, versions, dates, connection names and
//! service error codes only.

use std::fmt;
use std::time::Duration;

use time::OffsetDateTime;

use crate::reference::{ReferenceError, SecretRef};
use crate::scope::ScopeMode;

/// The cause kept inside an [`Error`], shared so that an error can be cloned: the cache hands
/// one backend failure to every caller that was waiting for the same secret.
///
/// [`std::error::Error::source`] returns the cause itself, so it can be downcast to its own
/// type (an `std::io::Error`, an `azure_core::Error`...).
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
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Shorthand for `Result<T, secretscope::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while configuring secretscope or resolving a secret.
///
/// Variants are grouped by meaning, not by backend: a missing secret is [`Error::NotFound`]
/// whether it was looked up in Azure Key Vault, a local file or memory. Match on the variant to
/// decide what to do; use [`Error::is_temporary`] to decide whether retrying can help.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference string does not follow the reference grammar. Nothing was sent anywhere.
    ///
    /// The message gives the position and the reason, but never repeats the input: a string
    /// passed where a reference belongs may be a misplaced secret.
    #[error("invalid secret reference: {0}")]
    InvalidReference(#[from] ReferenceError),

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
        name: String,
        /// The pinned version that was looked up, if any.
        version: Option<String>,
        /// Where it was looked up (vault URL, file path, `memory`).
        location: String,
    },

    /// The secret exists but is disabled, so its value may not be read.
    #[error(
        "secret `{name}`{} in {location} is disabled; enable it, or pin an enabled version",
        version_suffix(.version)
    )]
    Disabled {
        /// The secret name.
        name: String,
        /// The pinned version, if any.
        version: Option<String>,
        /// Where it was looked up.
        location: String,
    },

    /// The secret's expiry date has passed.
    #[error(
        "secret `{reference}` expired at {}; rotate it (set a new value or expiry), or allow expired secrets in the validity settings",
        rfc3339(.expired_at)
    )]
    Expired {
        /// The reference that was resolved.
        reference: SecretRef,
        /// When the secret expired.
        expired_at: OffsetDateTime,
    },

    /// The secret's not-before date has not come yet.
    #[error(
        "secret `{reference}` is not valid before {}; wait until then, or allow not-yet-valid secrets in the validity settings",
        rfc3339(.not_before)
    )]
    NotYetValid {
        /// The reference that was resolved.
        reference: SecretRef,
        /// When the secret becomes valid.
        not_before: OffsetDateTime,
    },

    /// The caller is authenticated but not allowed to read the secret.
    #[error("permission denied by {location}: {missing}; {detail}")]
    PermissionDenied {
        /// Where access was denied.
        location: String,
        /// Which grant is missing.
        missing: MissingGrant,
        /// What the service said, without any credential.
        detail: String,
    },

    /// The caller could not be authenticated.
    #[error("authentication to {location} failed{}: {detail}", code_suffix(.code))]
    Unauthenticated {
        /// The service being authenticated to.
        location: String,
        /// The identity provider's error code, such as `AADSTS7000215`.
        code: Option<String>,
        /// What went wrong and what to fix.
        detail: String,
    },

    /// The service is rate limiting the caller.
    #[error("{location} is throttling requests{}; cache secrets and back off before retrying", retry_suffix(.retry_after))]
    Throttled {
        /// The throttling service.
        location: String,
        /// How long the service asked the caller to wait, if it said.
        retry_after: Option<Duration>,
    },

    /// The backend could not be reached or failed on its side (network, 5xx, timeout, I/O).
    #[error("{location} is unavailable: {reason}")]
    Unavailable {
        /// The unreachable service or file.
        location: String,
        /// What failed and what to check.
        reason: String,
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
        /// The invalidated reference.
        reference: SecretRef,
        /// The scope mode that is active.
        active: ScopeMode,
    },

    /// No connection is configured for the scope the reference needs.
    #[error("no secrets-manager connection is configured for {scope}; add a connection for it")]
    NotConfigured {
        /// The scope that lacks a connection (`the workspace` or `project <id>`).
        scope: String,
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
    /// Whether retrying later may succeed (throttling, network or service failures).
    ///
    /// A cache may serve a stale value on a temporary error, never on a permanent one.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Self::Throttled { .. } | Self::Unavailable { .. })
    }

    pub(crate) fn invalid_config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field: field.into(),
            reason: reason.into(),
            source: None,
        }
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

fn version_suffix(version: &Option<String>) -> String {
    version
        .as_deref()
        .map(|v| format!(" version `{v}`"))
        .unwrap_or_default()
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
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
            location: "v".into(),
            retry_after: Some(Duration::from_secs(2)),
        };
        assert!(throttled.is_temporary());
        assert!(throttled.to_string().contains("retry after 2 s"));
        let missing = Error::NotFound {
            name: "db".into(),
            version: None,
            location: "memory".into(),
        };
        assert!(!missing.is_temporary());
        assert_eq!(
            missing.to_string(),
            "secret `db` was not found in memory; check the name and version, or create the secret there"
        );
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
