//! [`Location`]: where a backend points, in words for messages and as a host for the rule that
//! a Key Vault identifier must name the host of the connection serving it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::reference::{normalise_authority, strip_prefix_ignore_case};

/// Where a backend points: an HTTPS service (such as a Key Vault), a file, memory, or something
/// else a custom backend describes.
///
/// `Display` writes it for a person (`https://corp.vault.azure.net`, `file /etc/secrets.toml`,
/// `memory`). [`host`](Self::host) is the canonical `host[:port]` of an HTTPS location: the
/// only host a Key Vault secret identifier resolved through this backend may name. Cloning is
/// cheap.
///
/// ```
/// use secretscope::Location;
///
/// let vault = Location::url("HTTPS://Corp.Vault.Azure.NET:443/").unwrap();
/// assert_eq!(vault.to_string(), "https://corp.vault.azure.net");
/// assert_eq!(vault.host(), Some("corp.vault.azure.net"));
/// assert_eq!(Location::memory().host(), None);
/// assert!(Location::url("http://corp.vault.azure.net").is_none());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Location(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// `https://host[:port]`, canonical.
    Url(Arc<str>),
    File(Arc<Path>),
    Memory,
    Other(Arc<str>),
}

const HTTPS: &str = "https://";

impl Location {
    /// An HTTPS service at `url` (`https://host[:port]`, an optional trailing `/`), kept in
    /// canonical form: lower-case, without the default port. `None` for anything but
    /// `https://` and a host in its usual form.
    pub fn url(url: &str) -> Option<Self> {
        let rest = strip_prefix_ignore_case(url.trim(), HTTPS)?;
        let authority = normalise_authority(rest.strip_suffix('/').unwrap_or(rest))?;
        Some(Self(Repr::Url(format!("{HTTPS}{authority}").into())))
    }

    /// A file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self(Repr::File(path.into().into()))
    }

    /// Memory.
    pub fn memory() -> Self {
        Self(Repr::Memory)
    }

    /// Anything else, described for a person (say, `postgres db.internal/secrets`). It has no
    /// host, so Key Vault identifiers are never resolved through it.
    pub fn other(description: impl Into<String>) -> Self {
        Self(Repr::Other(description.into().into()))
    }

    /// The canonical `host[:port]` of an HTTPS location (lower-case, without the default port).
    pub fn host(&self) -> Option<&str> {
        match &self.0 {
            Repr::Url(url) => Some(&url[HTTPS.len()..]),
            _ => None,
        }
    }

    /// The path of a file location.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::File(path) => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Url(url) => f.write_str(url),
            Repr::File(path) => write!(f, "file {}", path.display()),
            Repr::Memory => f.write_str("memory"),
            Repr::Other(description) => f.write_str(description),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Location")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_canonical_and_https_only() {
        let local = Location::url("https://Primary.localhost:8443").unwrap();
        assert_eq!(local.host(), Some("primary.localhost:8443"));
        assert_eq!(
            format!("{local:?}"),
            "Location(https://primary.localhost:8443)"
        );
        for bad in [
            "http://corp.vault.azure.net",
            "https://",
            "https://corp.vault.azure.net/secrets",
            "https://user@corp.vault.azure.net",
            "https://corp vault",
        ] {
            assert!(Location::url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn other_locations_have_no_host() {
        assert_eq!(
            Location::file("/etc/s.toml").to_string(),
            "file /etc/s.toml"
        );
        assert_eq!(Location::file("/etc/s.toml").host(), None);
        assert_eq!(Location::other("postgres").host(), None);
    }
}
