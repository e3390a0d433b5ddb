//! Why a reference (or a name in one) was refused, and where.

use std::fmt;

use super::{MAX_NAME_LEN, MAX_PROJECT_ID_LEN, MAX_REFERENCE_LEN};

/// Why a reference was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    kind: ReferenceErrorKind,
    position: usize,
}

/// What is wrong with a refused reference.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceErrorKind {
    /// The reference is empty (or only a `{{ }}` wrapper).
    Empty,
    /// The whole input is longer than [`MAX_REFERENCE_LEN`] characters.
    TooLong {
        /// The input's length in characters.
        length: usize,
    },
    /// The secret name is longer than [`MAX_NAME_LEN`] characters.
    NameTooLong {
        /// The name's length in characters.
        length: usize,
    },
    /// A character that is not allowed where it stands.
    BadCharacter {
        /// The character found.
        found: char,
        /// What was being read: `secret name`, `project id`, ...
        part: &'static str,
    },
    /// The version is not 32 hexadecimal digits.
    BadVersion {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `{{` without its `}}`, or the reverse, or a stray brace.
    UnbalancedBraces,
    /// A `prefix:` other than `project:`.
    UnknownPrefix,
    /// `project:` followed by no id.
    EmptyProjectId,
    /// The project id is longer than [`MAX_PROJECT_ID_LEN`] characters.
    ProjectIdTooLong {
        /// The id's length in characters.
        length: usize,
    },
    /// No secret name where one is needed.
    EmptyName,
    /// Something after the version.
    TrailingInput,
    /// A malformed Key Vault secret identifier.
    BadIdentifier {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An App Service Key Vault reference (`@Microsoft.KeyVault(...)`) that is not well formed.
    BadAppServiceReference {
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ReferenceError {
    pub(super) fn new(kind: ReferenceErrorKind, position: usize) -> Self {
        Self { kind, position }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ReferenceErrorKind {
        &self.kind
    }

    /// The 1-based character position where the problem was found.
    pub fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ReferenceErrorKind as K;
        let at = self.position;
        match &self.kind {
            K::Empty => write!(
                f,
                "the reference is empty; give a secret name such as `db-password`"
            ),
            K::TooLong { length } => write!(
                f,
                "the reference is {length} characters long, over the limit of {MAX_REFERENCE_LEN}; a reference names a secret, it does not hold one"
            ),
            K::NameTooLong { length } => write!(
                f,
                "the secret name starting at position {at} is {length} characters long; Key Vault allows at most {MAX_NAME_LEN}"
            ),
            K::BadCharacter { found, part } => write!(
                f,
                "character '{}' at position {at} is not allowed in a {part}; {}",
                found.escape_debug(),
                allowed_in(part)
            ),
            K::BadVersion { reason } => write!(
                f,
                "the version at position {at} {reason}; a version is 32 hexadecimal digits, or leave it out for the latest"
            ),
            K::UnbalancedBraces => write!(
                f,
                "unbalanced braces at position {at}; wrap the whole reference as `{{{{ name }}}}` or not at all"
            ),
            K::UnknownPrefix => write!(
                f,
                "unknown prefix ending at position {at}; the only prefix is `project:` (as in `project:<id>/<name>`)"
            ),
            K::EmptyProjectId => write!(
                f,
                "the project id at position {at} is empty; write `project:<id>/<name>`"
            ),
            K::ProjectIdTooLong { length } => write!(
                f,
                "the project id starting at position {at} is {length} characters long; at most {MAX_PROJECT_ID_LEN} are allowed"
            ),
            K::EmptyName => write!(
                f,
                "the secret name at position {at} is empty; write `<name>` or `project:<id>/<name>`"
            ),
            K::TrailingInput => write!(
                f,
                "unexpected input at position {at} after the version; a reference ends with `<name>` or `<name>/<version>`"
            ),
            K::BadIdentifier { reason } => write!(
                f,
                "the Key Vault secret identifier {reason} (at position {at}); use `https://<vault-host>/secrets/<name>[/<version>]`"
            ),
            K::BadAppServiceReference { reason } => write!(
                f,
                "the App Service Key Vault reference {reason} (at position {at}); use `@Microsoft.KeyVault(SecretUri=https://<vault-host>/secrets/<name>[/<version>])` or `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>])`"
            ),
        }
    }
}

impl std::error::Error for ReferenceError {}

fn allowed_in(part: &str) -> &'static str {
    match part {
        "project id" => "project ids use letters, digits, '-', '_' and '.'",
        "reference" => "spaces are allowed only between `{{ `/` }}` and the reference",
        _ => "secret names use letters, digits and '-'",
    }
}
