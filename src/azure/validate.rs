//! Checks of what an administrator enters, before any I/O. Each failure names the field and
//! the fix.

use url::Url;

use crate::error::{Error, Result};
use crate::reference::{normalise_authority, strip_prefix_ignore_case};

/// Key Vault host suffixes of the known clouds, and the cloud each belongs to.
pub(crate) const VAULT_SUFFIXES: [(&str, Cloud); 3] = [
    (".vault.azure.net", Cloud::Public),
    (".vault.azure.cn", Cloud::China),
    (".vault.usgovcloudapi.net", Cloud::UsGovernment),
];

/// The Azure cloud a vault lives in, which decides the Entra ID authority host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cloud {
    Public,
    China,
    UsGovernment,
    /// A host outside the known clouds (a local stand-in), allowed explicitly.
    Custom,
}

/// A checked vault URL.
#[derive(Debug, Clone)]
pub(crate) struct VaultUrl {
    /// `https://host[:port]`, without a trailing slash, in the canonical form Key Vault
    /// identifiers must name it.
    pub(crate) url: String,
    /// The host alone, lower-case.
    pub(crate) host: String,
    pub(crate) cloud: Cloud,
}

const VAULT_URL: &str = "vault URL";

pub(crate) fn vault_url(raw: &str, allow_custom_host: bool) -> Result<VaultUrl> {
    let bad = |reason: String| Error::invalid_config(VAULT_URL, reason);
    let example = "copy the Vault URI from the vault's Overview page, such as https://my-vault.vault.azure.net";
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(bad(format!("it is empty; {example}")));
    }
    let Some(rest) = strip_prefix_ignore_case(raw, "https://") else {
        return Err(bad(format!(
            "it must start with https:// (Key Vault serves HTTPS only); {example}"
        )));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (raw_authority, tail) = rest.split_at(end);
    if raw_authority.contains('@') {
        return Err(bad(
            "it contains user information (`user@`); remove it: credentials go in the tenant ID, client ID and client secret fields"
                .to_owned(),
        ));
    }
    if tail.contains(['?', '#']) {
        return Err(bad(format!(
            "it has a query or fragment; remove everything after the host; {example}"
        )));
    }
    if !tail.is_empty() && tail != "/" {
        return Err(bad(format!(
            "it has a path (`{tail}`): give the vault's root URL, not a secret identifier; {example}"
        )));
    }
    let authority = normalise_authority(raw_authority).ok_or_else(|| {
        bad(format!(
            "`{raw_authority}` is not a valid host name; {example}"
        ))
    })?;
    let url = Url::parse(&format!("https://{authority}/"))
        .map_err(|e| bad(format!("it does not parse ({e}); {example}")))?;
    let host = url.host_str().unwrap_or_default().to_owned();
    // The URL parser rewrites some hosts (`127.1` becomes `127.0.0.1`): accept only hosts it
    // leaves as written, so the host checked, connected to and named in identifiers is one.
    let written = authority
        .rsplit_once(':')
        .filter(|(h, p)| !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let written_host = written.map_or(authority.as_str(), |(h, _)| h);
    if written_host != host {
        return Err(bad(format!(
            "`{raw_authority}` is not a host name in its usual form (`{host}`); {example}"
        )));
    }

    if host.ends_with(".managedhsm.azure.net") {
        return Err(bad(
            "it is a Managed HSM, which holds keys, not secrets; use the URL of a key vault"
                .to_owned(),
        ));
    }
    let known = VAULT_SUFFIXES
        .iter()
        .find(|(suffix, _)| host.ends_with(suffix));
    let cloud = match known {
        Some((suffix, cloud)) => {
            let name = &host[..host.len() - suffix.len()];
            let valid = (3..=24).contains(&name.len())
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && !name.ends_with('-')
                && !name.contains("--")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid {
                return Err(bad(format!(
                    "the vault name `{name}` must be 3 to 24 letters, digits and single hyphens, starting with a letter; {example}"
                )));
            }
            if authority != host && !allow_custom_host {
                return Err(bad(format!(
                    "Key Vault serves on the default HTTPS port only; remove the port; {example}"
                )));
            }
            *cloud
        }
        None if allow_custom_host => Cloud::Custom,
        None => {
            return Err(bad(format!(
                "`{host}` is not a Key Vault host of a known cloud (*.vault.azure.net, *.vault.azure.cn, *.vault.usgovcloudapi.net); fix the URL, or allow a custom host explicitly for a local stand-in"
            )));
        }
    };
    Ok(VaultUrl {
        url: format!("https://{authority}"),
        host,
        cloud,
    })
}

/// The Entra ID authority host of a cloud (a custom vault host uses the public cloud's unless
/// told otherwise).
pub(crate) fn authority_of(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Public | Cloud::Custom => "https://login.microsoftonline.com",
        Cloud::China => "https://login.chinacloudapi.cn",
        Cloud::UsGovernment => "https://login.microsoftonline.us",
    }
}

/// A tenant ID: a GUID, or a verified domain such as `contoso.onmicrosoft.com`.
pub(crate) fn tenant_id(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if is_guid(raw) || is_domain(raw) {
        return Ok(raw.to_owned());
    }
    Err(Error::invalid_config(
        "tenant ID",
        if raw.is_empty() {
            "it is empty; copy the Directory (tenant) ID from the app registration's Overview page"
                .to_owned()
        } else {
            "it is neither a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx) nor a domain such as contoso.onmicrosoft.com; copy the Directory (tenant) ID from the app registration's Overview page".to_owned()
        },
    ))
}

/// A client (application) ID: a GUID.
pub(crate) fn client_id(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if is_guid(raw) {
        return Ok(raw.to_owned());
    }
    Err(Error::invalid_config(
        "client ID",
        "it must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); copy the Application (client) ID from the app registration's Overview page",
    ))
}

/// An Entra ID authority host: an https URL without a path.
pub(crate) fn authority_host(raw: &str) -> Result<String> {
    let bad = |reason: &str| Error::invalid_config("authority host", reason.to_owned());
    let url = Url::parse(raw.trim())
        .map_err(|_| bad("it is not a URL; use e.g. https://login.microsoftonline.com"))?;
    if url.scheme() != "https" {
        return Err(bad("it must use https; Entra ID serves HTTPS only"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it must not contain user information"));
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err(bad(
            "give the host only, e.g. https://login.microsoftonline.com; the tenant is a field of its own",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A GUID in the hyphenated form the Azure portal shows (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`),
/// in either case. `uuid` also parses the simple (32 digits), braced and URN forms; only the
/// hyphenated one has 36 characters.
fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// What a `Debug` may print of a setting as typed: its checked form if it passes `check`, a
/// marker if not (a value that does not validate may be a secret pasted into the wrong field,
/// or a URL carrying a password), nothing if unset.
pub(crate) fn printable(
    raw: Option<&str>,
    check: impl Fn(&str) -> Result<String>,
) -> Option<String> {
    // The checked form, not the raw text: a URL can check while its raw text holds more (a
    // path of dot segments that resolves to nothing, say), which would then be shown.
    raw.map(|value| check(value).unwrap_or_else(|_| "[invalid, not shown]".to_owned()))
}

/// Whether the SDK's challenge-resource check must be skipped for `host`.
///
/// The check accepts a challenge only when the vault host is a subdomain of the resource it
/// names, so a bare loopback name or address (`localhost`, `127.0.0.1`, `[::1]`) can never pass
/// it. Every other host keeps it, `*.localhost` stand-ins included.
pub(crate) fn skips_challenge_check(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug>) -> String {
        match result {
            Err(e @ Error::InvalidConfig { .. }) => e.to_string(),
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn vault_urls_of_known_clouds_are_accepted_and_normalised() {
        let v = vault_url("HTTPS://My-Vault.Vault.Azure.NET/", false).unwrap();
        assert_eq!(v.url, "https://my-vault.vault.azure.net");
        assert_eq!(v.host, "my-vault.vault.azure.net");
        assert_eq!(v.cloud, Cloud::Public);
        assert_eq!(
            vault_url("https://abc.vault.azure.cn", false)
                .unwrap()
                .cloud,
            Cloud::China
        );
        assert_eq!(
            vault_url("https://abc.vault.usgovcloudapi.net:443", false)
                .unwrap()
                .url,
            "https://abc.vault.usgovcloudapi.net"
        );
        let local = vault_url("https://primary.localhost:8443", true).unwrap();
        assert_eq!(
            (local.url.as_str(), local.host.as_str(), local.cloud),
            (
                "https://primary.localhost:8443",
                "primary.localhost",
                Cloud::Custom
            )
        );
    }

    #[test]
    fn bad_vault_urls_name_the_field_and_the_fix() {
        let cases = [
            ("", "it is empty"),
            ("http://v1.vault.azure.net", "must start with https://"),
            ("corp.vault.azure.net", "must start with https://"),
            ("https://user:pw@corp.vault.azure.net", "user information"),
            ("https://corp.vault.azure.net/?x=1", "query or fragment"),
            ("https://corp.vault.azure.net#frag", "query or fragment"),
            (
                "https://corp.vault.azure.net/secrets/db",
                "not a secret identifier",
            ),
            (
                "https://corp.example.com",
                "not a Key Vault host of a known cloud",
            ),
            ("https://ab.vault.azure.net", "3 to 24"),
            ("https://corp.managedhsm.azure.net", "Managed HSM"),
            ("https://co%72p.vault.azure.net", "not a valid host name"),
            ("https://corp.vault.azure.net:0", "not a valid host name"),
            (
                "https://corp.vault.azure.net:8443",
                "default HTTPS port only",
            ),
            ("https://1corp.vault.azure.net", "starting with a letter"),
            ("https://co--rp.vault.azure.net", "single hyphens"),
        ];
        for (input, expected) in cases {
            let message = reason(vault_url(input, false));
            assert!(
                message.starts_with("invalid configuration for vault URL: "),
                "{message}"
            );
            assert!(message.contains(expected), "{input:?}: {message}");
        }
        assert!(
            reason(vault_url("https://user@primary.localhost", true)).contains("user information")
        );
    }

    #[test]
    fn tenant_and_client_ids() {
        let guid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert_eq!(tenant_id(guid).unwrap(), guid);
        assert_eq!(
            tenant_id("contoso.onmicrosoft.com").unwrap(),
            "contoso.onmicrosoft.com"
        );
        assert_eq!(
            client_id(&guid.to_uppercase()).unwrap(),
            guid.to_uppercase()
        );
        for bad in [
            "",
            "contoso",
            "not a tenant!",
            "72f988bf-86f1-41af-91ab",
            "1.2.3.4",
        ] {
            assert!(reason(tenant_id(bad)).contains("tenant ID"), "{bad:?}");
        }
        for bad in [
            "",
            "contoso.onmicrosoft.com",
            // The simple, braced and URN forms `uuid` also parses are refused.
            "72f988bf86f141af91ab2d7cd011db47",
            "{72f988bf-86f1-41af-91ab-2d7cd011db47}",
            "urn:uuid:72f988bf-86f1-41af-91ab-2d7cd011db47",
            "72f988bf-86f1-41af-91ab-2d7cd011db4g",
            "72f988bf-86f141af-91ab-2d7cd011db47-",
        ] {
            assert!(
                reason(client_id(bad)).contains("Application (client) ID"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn authority_hosts() {
        assert_eq!(
            authority_host("https://login.microsoftonline.com/").unwrap(),
            "https://login.microsoftonline.com"
        );
        assert_eq!(
            authority_host("https://login.localhost:8443").unwrap(),
            "https://login.localhost:8443"
        );
        assert!(reason(authority_host("http://login.microsoftonline.com")).contains("https"));
        assert!(
            reason(authority_host("https://login.microsoftonline.com/tenant"))
                .contains("host only")
        );
    }

    #[test]
    fn debug_shows_the_checked_form_of_a_url_not_what_was_typed() {
        // Dot segments (one of them percent-encoded) resolve to an empty path: the URL checks,
        // and what was typed in the path is not shown.
        let typed = "https://login.example.com/pasted-secret-7f2a/.%2E";
        assert_eq!(
            printable(Some(typed), authority_host).as_deref(),
            Some("https://login.example.com")
        );
        assert_eq!(
            printable(Some("not a url"), authority_host).as_deref(),
            Some("[invalid, not shown]")
        );
    }

    #[test]
    fn only_bare_loopback_hosts_skip_the_challenge_check() {
        for host in ["localhost", "127.0.0.1", "127.3.2.1", "[::1]"] {
            assert!(skips_challenge_check(host), "{host}");
        }
        for host in [
            "primary.localhost",
            "corp.vault.azure.net",
            "localhost.evil.com",
            "10.0.0.1",
        ] {
            assert!(!skips_challenge_check(host), "{host}");
        }
    }
}
