//! Secret references: the strings a service stores where a secret belongs.
//!
//! ```text
//! reference   = "{{" *SP body *SP "}}" / body
//! body        = [ "project:" project-id "/" ] secret-name [ "/" version ]
//! secret-name = 1*127( ALPHA / DIGIT / "-" )      ; compared case-insensitively
//! version     = 32HEXDIG
//! project-id  = 1*64( ALPHA / DIGIT / "-" / "_" / "." )
//! ```
//!
//! A Key Vault secret identifier, `https://<vault-host>/secrets/<name>[/<version>][/]`, is also a
//! workspace-level reference; the manager accepts it only when `<vault-host>` is the host of the
//! connection that serves it. So are App Service's Key Vault references, which name the same:
//! `@Microsoft.KeyVault(SecretUri=<identifier>)` and
//! `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>])`, where
//! `<vault>` stands for the public cloud's host `<vault>.vault.azure.net` (in another cloud, write
//! the `SecretUri` form). Their canonical form is the identifier.
//!
//! Parsing never echoes the input in its errors: a string passed where a reference belongs may be
//! a misplaced secret. Errors give the 1-based character position and the reason instead.

mod error;
mod names;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use smol_str::SmolStr;

pub use error::{ReferenceError, ReferenceErrorKind};
pub use names::{ConnectionName, ProjectId, SecretName, SecretVersion};
use names::{validate_name, validate_project_id, validate_version};

/// The longest secret name Key Vault accepts.
pub const MAX_NAME_LEN: usize = 127;
/// The longest project id.
pub const MAX_PROJECT_ID_LEN: usize = 64;
/// The longest input [`SecretRef::parse`] accepts; longer inputs are refused before parsing.
pub const MAX_REFERENCE_LEN: usize = 1024;

const PROJECT_PREFIX: &str = "project:";
const APP_SERVICE_PREFIX: &str = "@Microsoft.KeyVault(";
const IDENTIFIER_SCHEME: &str = "https://";

/// Which scope a reference was written for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefScope {
    /// A workspace-level reference: `<name>` or a Key Vault identifier.
    Workspace,
    /// A project-level reference: `project:<id>/<name>`.
    Project(ProjectId),
}

/// Where secrets management is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeMode {
    /// One connection for the entire workspace; project-level references are invalid.
    Workspace,
    /// One connection per project; workspace-level references are invalid.
    Project,
}

impl ScopeMode {
    /// Whether a reference written for `scope` resolves in this mode.
    pub fn admits(self, scope: &RefScope) -> bool {
        matches!(
            (self, scope),
            (Self::Workspace, RefScope::Workspace) | (Self::Project, RefScope::Project(_))
        )
    }
}

impl fmt::Display for ScopeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workspace => "workspace",
            Self::Project => "project",
        })
    }
}

/// A parsed secret reference.
///
/// `Display` writes the canonical form (without a `{{ }}` wrapper), and parsing that form gives
/// back an equal reference. Two references are equal when they name the same secret in the same
/// scope: names and versions compare case-insensitively.
///
/// Cloning is cheap and allocates nothing: the parts are held inline (up to 23 bytes of text
/// each) or shared.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretRef {
    name: SecretName,
    version: Option<SecretVersion>,
    scope: RefScope,
    /// The vault host a Key Vault identifier names, in canonical form.
    vault: Option<SmolStr>,
}

impl SecretRef {
    /// Parses a reference; see the [module documentation](self) for the grammar.
    ///
    /// ```
    /// use secretscope::{RefScope, SecretRef};
    ///
    /// let r = SecretRef::parse("{{ project:billing/db-password }}")?;
    /// assert_eq!(r.name().as_str(), "db-password");
    /// assert!(matches!(r.scope(), RefScope::Project(p) if p.as_str() == "billing"));
    /// assert_eq!(r.to_string(), "project:billing/db-password");
    ///
    /// let err = SecretRef::parse("project:/db").unwrap_err();
    /// assert_eq!(err.position(), 9);
    /// # Ok::<(), secretscope::ReferenceError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        // Count characters only up to the limit so a huge input costs nothing more to refuse.
        let length = input.chars().take(MAX_REFERENCE_LEN + 1).count();
        if length > MAX_REFERENCE_LEN {
            let length = input.chars().count();
            return Err(ReferenceError::new(
                ReferenceErrorKind::TooLong { length },
                1,
            ));
        }
        // Whitespace is allowed only inside a wrapper; say so rather than blame the braces.
        if let Some(found) = input.chars().next().filter(|c| c.is_whitespace()) {
            return Err(ReferenceError::new(
                ReferenceErrorKind::BadCharacter {
                    found,
                    part: "reference",
                },
                1,
            ));
        }
        if let Some(found) = input.chars().next_back().filter(|c| c.is_whitespace()) {
            return Err(ReferenceError::new(
                ReferenceErrorKind::BadCharacter {
                    found,
                    part: "reference",
                },
                length,
            ));
        }
        let (body, offset) = unwrap_braces(input)?;
        if body.is_empty() {
            return Err(ReferenceError::new(ReferenceErrorKind::Empty, offset + 1));
        }
        if let Some(i) = body.find(['{', '}']) {
            let position = offset + body[..i].chars().count() + 1;
            return Err(ReferenceError::new(
                ReferenceErrorKind::UnbalancedBraces,
                position,
            ));
        }
        if starts_with_ignore_case(body, APP_SERVICE_PREFIX) {
            return parse_app_service(body, offset);
        }
        if looks_like_url(body) {
            return parse_identifier(body, offset);
        }
        parse_body(body, offset)
    }

    /// `input` parsed without allocating, if it is a plain secret name short enough to be held
    /// inline (up to 23 bytes of `A-Z a-z 0-9 -`, which the grammar reads as a workspace-level
    /// reference to the latest version); `None` for anything else, which [`parse`](Self::parse)
    /// reads. Checking those bytes costs less than looking the text up among those parsed
    /// before, so a manager parses plain names in place and remembers only the other forms.
    #[inline]
    pub(crate) fn parse_plain(input: &str) -> Option<Self> {
        SecretName::plain(input).map(Self::workspace)
    }

    /// Whether the reference owns no heap memory: a plain name held inline, with no project,
    /// vault or version (what [`parse_plain`](Self::parse_plain) makes).
    pub(crate) fn owns_nothing(&self) -> bool {
        self.name.is_inline()
            && self.version.is_none()
            && self.vault.is_none()
            && self.scope == RefScope::Workspace
    }

    /// A workspace-level reference to the latest version of `name`.
    pub fn workspace(name: SecretName) -> Self {
        Self {
            scope: RefScope::Workspace,
            vault: None,
            name,
            version: None,
        }
    }

    /// A project-level reference to the latest version of `name` in `project`.
    pub fn project(project: ProjectId, name: SecretName) -> Self {
        Self {
            scope: RefScope::Project(project),
            vault: None,
            name,
            version: None,
        }
    }

    /// The same reference pinned to `version`.
    pub fn with_version(mut self, version: SecretVersion) -> Self {
        self.version = Some(version);
        self
    }

    /// The scope the reference was written for.
    pub fn scope(&self) -> &RefScope {
        &self.scope
    }

    /// The project of a project-level reference.
    pub fn project_id(&self) -> Option<&ProjectId> {
        match &self.scope {
            RefScope::Project(p) => Some(p),
            RefScope::Workspace => None,
        }
    }

    /// The secret name.
    pub fn name(&self) -> &SecretName {
        &self.name
    }

    /// The pinned version, or `None` for the latest.
    pub fn version(&self) -> Option<&SecretVersion> {
        self.version.as_ref()
    }

    /// The vault host (with a port if not 443) of a Key Vault identifier reference.
    pub fn vault_host(&self) -> Option<&str> {
        self.vault.as_deref()
    }

    pub(crate) fn scope_description(&self) -> String {
        match &self.scope {
            RefScope::Workspace => "workspace-level".to_owned(),
            RefScope::Project(p) => format!("project-level (project `{p}`)"),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = self;
        if let Some(vault) = &parts.vault {
            write!(f, "{IDENTIFIER_SCHEME}{vault}/secrets/{}", parts.name)?;
        } else {
            if let RefScope::Project(p) = &parts.scope {
                write!(f, "{PROJECT_PREFIX}{p}/")?;
            }
            f.write_str(parts.name.as_str())?;
        }
        if let Some(v) = &parts.version {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SecretRef")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl FromStr for SecretRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Strips an optional `{{ ... }}` wrapper; returns the body and its character offset in `input`.
fn unwrap_braces(input: &str) -> Result<(&str, usize), ReferenceError> {
    let opens = input.starts_with("{{");
    let closes = input.ends_with("}}") && (!opens || input.len() >= 4);
    match (opens, closes) {
        (false, false) => Ok((input, 0)),
        (true, false) => Err(ReferenceError::new(ReferenceErrorKind::UnbalancedBraces, 1)),
        (false, true) => {
            let position = input.chars().count() - 1;
            Err(ReferenceError::new(
                ReferenceErrorKind::UnbalancedBraces,
                position,
            ))
        }
        (true, true) => {
            let inner = &input[2..input.len() - 2];
            let leading = inner.len() - inner.trim_start_matches(' ').len();
            let body = inner.trim_matches(' ');
            Ok((body, 2 + leading))
        }
    }
}

fn parse_body(body: &str, offset: usize) -> Result<SecretRef, ReferenceError> {
    let (scope, rest, rest_offset) = if let Some(colon) = body.find(':') {
        if !starts_with_ignore_case(body, PROJECT_PREFIX) || body[..colon].len() != 7 {
            let position = offset + body[..colon].chars().count() + 1;
            return Err(ReferenceError::new(
                ReferenceErrorKind::UnknownPrefix,
                position,
            ));
        }
        let after = &body[PROJECT_PREFIX.len()..];
        let id_offset = offset + PROJECT_PREFIX.len();
        let Some(slash) = after.find('/') else {
            // `project:<id>` with no name: say which part is missing.
            if after.is_empty() {
                return Err(ReferenceError::new(
                    ReferenceErrorKind::EmptyProjectId,
                    id_offset + 1,
                ));
            }
            validate_project_id(after, id_offset + 1)?;
            let position = id_offset + after.chars().count() + 1;
            return Err(ReferenceError::new(ReferenceErrorKind::EmptyName, position));
        };
        let id = &after[..slash];
        if id.is_empty() {
            return Err(ReferenceError::new(
                ReferenceErrorKind::EmptyProjectId,
                id_offset + 1,
            ));
        }
        validate_project_id(id, id_offset + 1)?;
        let rest_offset = id_offset + id.chars().count() + 1;
        (
            RefScope::Project(ProjectId::from_valid(id)),
            &after[slash + 1..],
            rest_offset,
        )
    } else {
        (RefScope::Workspace, body, offset)
    };
    let (name, version) = parse_name_and_version(rest, rest_offset)?;
    Ok(SecretRef {
        scope,
        vault: None,
        name,
        version,
    })
}

/// Parses `<name>[/<version>]` that starts at character offset `offset`.
fn parse_name_and_version(
    rest: &str,
    offset: usize,
) -> Result<(SecretName, Option<SecretVersion>), ReferenceError> {
    let mut parts = rest.splitn(3, '/');
    let name = parts.next().unwrap_or_default();
    validate_name(name, offset + 1)?;
    let version = match parts.next() {
        None => None,
        Some(v) => {
            let version_offset = offset + name.chars().count() + 1;
            validate_version(v, version_offset + 1)?;
            if parts.next().is_some() {
                let position = version_offset + v.chars().count() + 1;
                return Err(ReferenceError::new(
                    ReferenceErrorKind::TrailingInput,
                    position,
                ));
            }
            Some(SecretVersion::from_valid(v))
        }
    };
    Ok((SecretName::from_valid(name), version))
}

fn parse_identifier(body: &str, offset: usize) -> Result<SecretRef, ReferenceError> {
    let bad = |reason, at: usize| {
        ReferenceError::new(ReferenceErrorKind::BadIdentifier { reason }, offset + at)
    };
    if !starts_with_ignore_case(body, IDENTIFIER_SCHEME) {
        return Err(bad("must use https", 1));
    }
    let after_scheme = &body[IDENTIFIER_SCHEME.len()..];
    let scheme_len = IDENTIFIER_SCHEME.len();
    if let Some(i) = after_scheme.find(['?', '#']) {
        let at = scheme_len + after_scheme[..i].chars().count() + 1;
        return Err(bad("must not have a query or fragment", at));
    }
    let slash = after_scheme.find('/').unwrap_or(after_scheme.len());
    let authority = &after_scheme[..slash];
    if authority.contains('@') {
        return Err(bad("must not contain user information", scheme_len + 1));
    }
    if authority.is_empty() {
        return Err(bad("has no vault host", scheme_len + 1));
    }
    let vault = normalise_authority(authority)
        .ok_or_else(|| bad("has an invalid vault host", scheme_len + 1))?;
    let path = &after_scheme[slash..];
    let path_offset = scheme_len + authority.chars().count();
    let Some(rest) = path.strip_prefix("/secrets/") else {
        return Err(bad("must have the path `/secrets/<name>`", path_offset + 1));
    };
    // One trailing slash is how App Service and the portal often write identifiers.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (name, version) = parse_name_and_version(rest, offset + path_offset + "/secrets/".len())?;
    Ok(identifier(vault, name, version))
}

fn identifier(vault: String, name: SecretName, version: Option<SecretVersion>) -> SecretRef {
    SecretRef {
        scope: RefScope::Workspace,
        vault: Some(SmolStr::from(vault)),
        name,
        version,
    }
}

/// `@Microsoft.KeyVault(SecretUri=<identifier>)` or
/// `@Microsoft.KeyVault(VaultName=<vault>;SecretName=<name>[;SecretVersion=<version>])`.
fn parse_app_service(body: &str, offset: usize) -> Result<SecretRef, ReferenceError> {
    let bad = |reason, at: usize| {
        ReferenceError::new(
            ReferenceErrorKind::BadAppServiceReference { reason },
            offset + at,
        )
    };
    let prefix_len = APP_SERVICE_PREFIX.len();
    let Some(inner) = body[prefix_len..].strip_suffix(')') else {
        return Err(bad("must end with `)`", body.chars().count()));
    };
    // `@Microsoft.KeyVault(` is ASCII: byte and character positions agree up to here.
    let inner_offset = offset + prefix_len;
    if let Some(uri) = strip_prefix_ignore_case(inner, "SecretUri=") {
        return parse_identifier(uri, inner_offset + "SecretUri=".len());
    }
    let (mut vault, mut name, mut version) = (None, None, None);
    let mut at = 0; // characters of `inner` before the current setting
    for setting in inner.split(';') {
        let here = at + 1;
        at += setting.chars().count() + 1;
        let Some((key, value)) = setting.split_once('=') else {
            return Err(bad("has a setting without `=`", prefix_len + here));
        };
        let value_at = inner_offset + here + key.chars().count() + 1;
        let slot = match key.to_ascii_lowercase().as_str() {
            "vaultname" => &mut vault,
            "secretname" => &mut name,
            "secretversion" => &mut version,
            _ => return Err(bad("has an unknown setting", prefix_len + here)),
        };
        if slot.replace((value, value_at)).is_some() {
            return Err(bad("repeats a setting", prefix_len + here));
        }
    }
    let Some((vault, vault_at)) = vault else {
        return Err(bad("has no `VaultName` or `SecretUri`", prefix_len + 1));
    };
    let Some((name, name_at)) = name else {
        return Err(bad("has no `SecretName`", prefix_len + 1));
    };
    let host = (!vault.is_empty() && !vault.contains('.'))
        .then(|| normalise_authority(&format!("{vault}.vault.azure.net")))
        .flatten()
        .ok_or_else(|| bad("has an invalid vault name", vault_at - offset))?;
    validate_name(name, name_at)?;
    let version = match version {
        None => None,
        Some((v, v_at)) => {
            validate_version(v, v_at)?;
            Some(SecretVersion::from_valid(v))
        }
    };
    Ok(identifier(host, SecretName::from_valid(name), version))
}

/// Checks a vault authority (`host[:port]`) and puts it in canonical form: lower-case, without
/// the default port 443.
///
/// Only DNS-style hosts (`A-Z a-z 0-9 . -`) and bracketed IPv6 addresses are accepted, and
/// nothing is rewritten beyond case and the default port: a URL parser would silently decode,
/// drop or re-encode characters, and the host a token goes to must be the host that was written.
pub(crate) fn normalise_authority(authority: &str) -> Option<String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return None;
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (&authority[..v6.len() + 2], port)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let label_ok = |l: &str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(p) if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) => {
            return None;
        }
        Some(p) => match p.parse::<u16>().ok()? {
            0 => return None,
            443 => None,
            n => Some(n),
        },
    };
    let host = host.to_ascii_lowercase();
    Some(match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// `scheme://...`: a URL, handled (and refused unless https) as a Key Vault identifier.
fn looks_like_url(body: &str) -> bool {
    body.find(':')
        .is_some_and(|colon| body[colon..].starts_with("://"))
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    strip_prefix_ignore_case(s, prefix).is_some()
}

/// `s` without `prefix`, compared ignoring ASCII case.
pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes()))
    .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Whether the grammar reads `text` as a plain name held inline.
    fn is_plain(text: &str) -> bool {
        (1..=23).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }

    fn assert_agrees(text: &str) {
        match SecretRef::parse_plain(text) {
            Some(plain) => {
                let parsed = SecretRef::parse(text).expect("a plain name parses");
                assert_eq!(plain, parsed, "{text:?}");
                assert_eq!(plain.to_string(), parsed.to_string());
                // Equal names hash alike, so a plain name finds what its parse cached.
                assert_eq!(plain.name().folded_hash(), parsed.name().folded_hash());
                // The manager skips its drop: it must own nothing.
                assert!(plain.owns_nothing(), "{text:?}");
            }
            None => assert!(!is_plain(text), "{text:?} is a plain name"),
        }
    }

    #[test]
    fn plain_names_parse_in_place_as_the_grammar_reads_them() {
        for text in [
            "a",
            "db-password",
            "DB-Password",
            "secret-name-000000001",
            "0123456789abcdefABCDEF-",
            "x".repeat(8).as_str(),
            "x".repeat(23).as_str(),
            "x".repeat(24).as_str(),
            "",
            "db password",
            "db_password",
            "db/0123456789abcdef0123456789abcdef",
            "{{db}}",
            "project:a/b",
            "bd-pässword-1234",
            "abcdefgh\u{80}",
            "@abcdefgh[`{/:",
            // Control bytes, which differ from a hyphen, a digit or a colon by one bit.
            "abcdefgh\r-\u{10}\u{19}\u{1a}",
            "ABCDEFGH\u{1}\u{1a}",
        ] {
            assert_agrees(text);
        }
    }

    proptest! {
        #[test]
        fn plain_parsing_agrees_with_the_parser(text in "[-0-9A-Za-z@\\[`{/:_ .\u{0}-\u{1f}\u{80}-\u{ff}]{0,30}") {
            assert_agrees(&text);
        }

        #[test]
        fn plain_names_of_any_length_agree_with_the_parser(text in "[-0-9A-Za-z]{1,30}") {
            assert_agrees(&text);
        }
    }
}
