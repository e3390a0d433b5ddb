//! The reference grammar, tested as a contract. The wrapper is all or nothing: `{{db` and
//! `db}}` are refused (DESIGN.md writes the wrapper as two optional halves; the intent, and
//! this crate's rule, is that they come together).
//!
//! ```text
//! reference   = "{{" *SP body *SP "}}" / body
//! body        = [ "project:" project-id "/" ] secret-name [ "/" version ]
//! secret-name = 1*127( ALPHA / DIGIT / "-" )      ; compare case-insensitively
//! version     = 32HEXDIG
//! project-id  = 1*64( ALPHA / DIGIT / "-" / "_" / "." )
//! ```
//!
//! plus Key Vault secret identifiers `https://<vault-host>/secrets/<name>[/<version>]`
//! (workspace-level). Rejections carry a kind and a 1-based character position, and never echo
//! the input.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use secretscope::reference::ReferenceErrorKind as K;
use secretscope::{ProjectId, RefScope, SecretName, SecretRef, SecretVersion};

const V_LO: &str = "5f3b0c9e8d7a41b2a6c4e0f1d2b3a495";
const V_UP: &str = "5F3B0C9E8D7A41B2A6C4E0F1D2B3A495";
const ID64: &str = "Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0Pp0p-_.";

// ---------------------------------------------------------------------------------------------
// Accepted inputs
// ---------------------------------------------------------------------------------------------

struct Accept {
    input: String,
    /// `None`: workspace-level; `Some(id)`: project-level.
    project: Option<&'static str>,
    name: String,
    version: Option<&'static str>,
    vault: Option<&'static str>,
    display: String,
}

fn ok(
    input: impl Into<String>,
    project: Option<&'static str>,
    name: impl Into<String>,
    version: Option<&'static str>,
    vault: Option<&'static str>,
    display: impl Into<String>,
) -> Accept {
    Accept {
        input: input.into(),
        project,
        name: name.into(),
        version,
        vault,
        display: display.into(),
    }
}

#[rustfmt::skip]
fn accepted_rows() -> Vec<Accept> {
    let n127 = "n".repeat(127);
    let mixed127: String = (0..127)
        .map(|i| ['a', 'B', '7', '-'][i % 4])
        .collect::<String>();
    // Exactly 64 characters, using every character class a project id allows.
    let id64 = ID64;
    assert_eq!(id64.len(), 64);
    let kv = "https://myvault.vault.azure.net/secrets";
    vec![
        // Plain workspace names.
        ok("db-password", None, "db-password", None, None, "db-password"),
        ok("a", None, "a", None, None, "a"),
        ok("Z", None, "Z", None, None, "Z"),
        ok("7", None, "7", None, None, "7"),
        ok("2024", None, "2024", None, None, "2024"),
        ok("-", None, "-", None, None, "-"),
        ok("a-b-c-", None, "a-b-c-", None, None, "a-b-c-"),
        ok("--x--", None, "--x--", None, None, "--x--"),
        ok("DbPassword2", None, "DbPassword2", None, None, "DbPassword2"),
        ok("DB-PASSWORD", None, "DB-PASSWORD", None, None, "DB-PASSWORD"),
        ok(&n127, None, &n127, None, None, &n127),
        ok(&mixed127, None, &mixed127, None, None, &mixed127),
        // Pinned versions, lower- and upper-case hex (kept as written).
        ok(format!("db-password/{V_LO}"), None, "db-password", Some(V_LO), None, format!("db-password/{V_LO}")),
        ok(format!("db-password/{V_UP}"), None, "db-password", Some(V_UP), None, format!("db-password/{V_UP}")),
        ok("x/0123456789abcdefABCDEF0123456789", None, "x", Some("0123456789abcdefABCDEF0123456789"), None, "x/0123456789abcdefABCDEF0123456789"),
        ok(format!("{n127}/{V_LO}"), None, &n127, Some(V_LO), None, format!("{n127}/{V_LO}")),
        // Project-level references.
        ok("project:billing/db-password", Some("billing"), "db-password", None, None, "project:billing/db-password"),
        ok("project:p/n", Some("p"), "n", None, None, "project:p/n"),
        ok("project:a-b_c.d/x", Some("a-b_c.d"), "x", None, None, "project:a-b_c.d/x"),
        ok("project:._-/x", Some("._-"), "x", None, None, "project:._-/x"),
        ok("project:Billing.EU_2/Db", Some("Billing.EU_2"), "Db", None, None, "project:Billing.EU_2/Db"),
        ok(format!("project:{id64}/db"), Some(id64), "db", None, None, format!("project:{id64}/db")),
        ok(format!("project:{id64}/{n127}/{V_UP}"), Some(id64), &n127, Some(V_UP), None, format!("project:{id64}/{n127}/{V_UP}")),
        // The prefix is case-insensitive and written lower-case; the id keeps its case.
        ok("PROJECT:p/n", Some("p"), "n", None, None, "project:p/n"),
        ok("Project:P/N", Some("P"), "N", None, None, "project:P/N"),
        ok("pRoJeCt:p/n", Some("p"), "n", None, None, "project:p/n"),
        ok(format!("project:p/n/{V_LO}"), Some("p"), "n", Some(V_LO), None, format!("project:p/n/{V_LO}")),
        // `{{ }}` wrappers are not part of the canonical form.
        ok("{{db-password}}", None, "db-password", None, None, "db-password"),
        ok("{{ db-password }}", None, "db-password", None, None, "db-password"),
        ok("{{  db-password  }}", None, "db-password", None, None, "db-password"),
        ok("{{db }}", None, "db", None, None, "db"),
        ok("{{   db}}", None, "db", None, None, "db"),
        ok(format!("{{{{ project:p/n/{V_LO} }}}}"), Some("p"), "n", Some(V_LO), None, format!("project:p/n/{V_LO}")),
        ok("{{project:p/n}}", Some("p"), "n", None, None, "project:p/n"),
        ok("{{ PROJECT:p/n }}", Some("p"), "n", None, None, "project:p/n"),
        // Key Vault secret identifiers (workspace-level, vault host recorded).
        ok(format!("{kv}/db-password"), None, "db-password", None, Some("myvault.vault.azure.net"), format!("{kv}/db-password")),
        ok(format!("{kv}/db-password/{V_LO}"), None, "db-password", Some(V_LO), Some("myvault.vault.azure.net"), format!("{kv}/db-password/{V_LO}")),
        ok(format!("{kv}/Db-Password/{V_UP}"), None, "Db-Password", Some(V_UP), Some("myvault.vault.azure.net"), format!("{kv}/Db-Password/{V_UP}")),
        ok("https://primary.localhost:8443/secrets/x", None, "x", None, Some("primary.localhost:8443"), "https://primary.localhost:8443/secrets/x"),
        ok(format!("https://primary.localhost:8443/secrets/x/{V_LO}"), None, "x", Some(V_LO), Some("primary.localhost:8443"), format!("https://primary.localhost:8443/secrets/x/{V_LO}")),
        // The host is normalised to lower case; the default port is dropped.
        ok("https://MyVault.Vault.Azure.NET/secrets/x", None, "x", None, Some("myvault.vault.azure.net"), "https://myvault.vault.azure.net/secrets/x"),
        ok("https://myvault.vault.azure.net:443/secrets/x", None, "x", None, Some("myvault.vault.azure.net"), "https://myvault.vault.azure.net/secrets/x"),
        ok("https://PRIMARY.localhost:8443/secrets/x", None, "x", None, Some("primary.localhost:8443"), "https://primary.localhost:8443/secrets/x"),
        // The scheme is case-insensitive too.
        ok("HTTPS://myvault.vault.azure.net/secrets/x", None, "x", None, Some("myvault.vault.azure.net"), "https://myvault.vault.azure.net/secrets/x"),
        ok("https://[::1]:8443/secrets/x", None, "x", None, Some("[::1]:8443"), "https://[::1]:8443/secrets/x"),
        ok("{{ https://myvault.vault.azure.net/secrets/x }}", None, "x", None, Some("myvault.vault.azure.net"), "https://myvault.vault.azure.net/secrets/x"),
        // One trailing slash, as App Service and the portal write identifiers.
        ok(format!("{kv}/x/"), None, "x", None, Some("myvault.vault.azure.net"), format!("{kv}/x")),
        ok(format!("{kv}/x/{V_LO}/"), None, "x", Some(V_LO), Some("myvault.vault.azure.net"), format!("{kv}/x/{V_LO}")),
        // App Service Key Vault references: the same identifiers.
        ok(format!("@Microsoft.KeyVault(SecretUri={kv}/x/)"), None, "x", None, Some("myvault.vault.azure.net"), format!("{kv}/x")),
        ok(format!("@Microsoft.KeyVault(SecretUri={kv}/x/{V_LO})"), None, "x", Some(V_LO), Some("myvault.vault.azure.net"), format!("{kv}/x/{V_LO}")),
        ok("@Microsoft.KeyVault(VaultName=myvault;SecretName=x)", None, "x", None, Some("myvault.vault.azure.net"), format!("{kv}/x")),
        ok(format!("@Microsoft.KeyVault(VaultName=MyVault;SecretName=x;SecretVersion={V_LO})"), None, "x", Some(V_LO), Some("myvault.vault.azure.net"), format!("{kv}/x/{V_LO}")),
        ok("@microsoft.keyvault(secretname=x;vaultname=myvault)", None, "x", None, Some("myvault.vault.azure.net"), format!("{kv}/x")),
        ok("{{ @Microsoft.KeyVault(VaultName=myvault;SecretName=x) }}", None, "x", None, Some("myvault.vault.azure.net"), format!("{kv}/x")),
    ]
}

#[test]
fn accepted_references() {
    let rows = accepted_rows();
    let mut failures = Vec::new();
    for row in &rows {
        let input = row.input.as_str();
        let r = match SecretRef::parse(input) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "{input:?}: refused ({:?} at {}): {e}",
                    e.kind(),
                    e.position()
                ));
                continue;
            }
        };
        let mut problems = Vec::new();
        match (row.project, r.scope()) {
            (None, RefScope::Workspace) => {}
            (Some(want), RefScope::Project(p)) if p.as_str() == want => {}
            (want, got) => problems.push(format!("scope: want {want:?}, got {got:?}")),
        }
        if r.project_id().map(ProjectId::as_str) != row.project {
            problems.push(format!("project_id(): {:?}", r.project_id()));
        }
        if r.name().as_str() != row.name {
            problems.push(format!("name: want {:?}, got {:?}", row.name, r.name()));
        }
        if r.version().map(SecretVersion::as_str) != row.version {
            problems.push(format!(
                "version: want {:?}, got {:?}",
                row.version,
                r.version()
            ));
        }
        if r.vault_host() != row.vault {
            problems.push(format!(
                "vault: want {:?}, got {:?}",
                row.vault,
                r.vault_host()
            ));
        }
        let shown = r.to_string();
        if shown != row.display {
            problems.push(format!("display: want {:?}, got {shown:?}", row.display));
        }
        // `FromStr` agrees with `parse`, and the canonical form round-trips.
        match input.parse::<SecretRef>() {
            Ok(again) if again == r => {}
            other => problems.push(format!("FromStr disagrees: {other:?}")),
        }
        match SecretRef::parse(&shown) {
            Ok(again) if again == r && again.to_string() == shown => {}
            other => problems.push(format!("display does not round-trip: {other:?}")),
        }
        if !problems.is_empty() {
            failures.push(format!("{input:?}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} accepted rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Rejected inputs
// ---------------------------------------------------------------------------------------------

struct Reject {
    input: String,
    kind: fn(&K) -> bool,
    kind_text: &'static str,
    position: usize,
}

macro_rules! rejects {
    ($input:expr, $kind:pat, $position:expr) => {
        Reject {
            input: ($input).into(),
            kind: |k| matches!(k, $kind),
            kind_text: stringify!($kind),
            position: $position,
        }
    };
}

#[rustfmt::skip]
fn rejected_rows() -> Vec<Reject> {
    let kv = "https://v.vault.azure.net"; // 25 characters: "/..." starts at position 26
    let n128 = "n".repeat(128);
    let id65 = "p".repeat(65);
    vec![
        // Empty.
        rejects!("", K::Empty, 1),
        rejects!("{{}}", K::Empty, 3),
        rejects!("{{ }}", K::Empty, 4),
        rejects!("{{   }}", K::Empty, 6),
        // Whitespace outside a `{{ }}` wrapper.
        rejects!(" db", K::BadCharacter { found: ' ', part: "reference" }, 1),
        rejects!("db ", K::BadCharacter { found: ' ', part: "reference" }, 3),
        rejects!(" ", K::BadCharacter { found: ' ', part: "reference" }, 1),
        // Whitespace next to a wrapper is a bad character, not a brace problem.
        rejects!(" {{db}}", K::BadCharacter { found: ' ', part: "reference" }, 1),
        rejects!("{{db}} ", K::BadCharacter { found: ' ', part: "reference" }, 7),
        rejects!(" {{db}} ", K::BadCharacter { found: ' ', part: "reference" }, 1),
        // Only spaces may pad the inside of a wrapper, and only at its ends.
        rejects!("{{\tdb}}", K::BadCharacter { found: '\t', .. }, 3),
        rejects!("{{ d b }}", K::BadCharacter { found: ' ', part: "reference" }, 5),
        // Names.
        rejects!(&n128, K::NameTooLong { length: 128 }, 1),
        rejects!("n".repeat(1024), K::NameTooLong { length: 1024 }, 1),
        rejects!(format!("project:p/{n128}"), K::NameTooLong { length: 128 }, 11),
        rejects!(format!("{{{{ {n128}/{V_LO} }}}}"), K::NameTooLong { length: 128 }, 4),
        rejects!("db_password", K::BadCharacter { found: '_', part: "secret name" }, 3),
        rejects!("db.password", K::BadCharacter { found: '.', part: "secret name" }, 3),
        rejects!("db password", K::BadCharacter { found: ' ', part: "reference" }, 3),
        rejects!("pässword", K::BadCharacter { found: 'ä', part: "secret name" }, 2),
        rejects!("db🔑pw", K::BadCharacter { found: '🔑', part: "secret name" }, 3),
        rejects!("🔑", K::BadCharacter { found: '🔑', part: "secret name" }, 1),
        rejects!("ｄｂ", K::BadCharacter { found: 'ｄ', part: "secret name" }, 1),
        rejects!("db\0", K::BadCharacter { found: '\0', .. }, 3),
        rejects!("db\n", K::BadCharacter { found: '\n', .. }, 3),
        rejects!("/db", K::EmptyName, 1),
        // `a/b` where `b` is not a version.
        rejects!("a/b", K::BadVersion { .. }, 3),
        rejects!("a/xyz", K::BadVersion { .. }, 3),
        rejects!("db/password", K::BadVersion { .. }, 4),
        rejects!("a/🔑", K::BadVersion { .. }, 3),
        // Versions.
        rejects!(format!("db/{}", &V_LO[..31]), K::BadVersion { .. }, 4),
        rejects!(format!("db/{V_LO}0"), K::BadVersion { .. }, 4),
        rejects!(format!("db/{}g", &V_LO[..31]), K::BadVersion { .. }, 35),
        rejects!(format!("db/{}é", &V_LO[..31]), K::BadVersion { .. }, 35),
        rejects!(format!("db/{}", "z".repeat(32)), K::BadVersion { .. }, 4),
        rejects!("db/", K::BadVersion { .. }, 4),
        rejects!("project:p/db/", K::BadVersion { .. }, 14),
        // Trailing input after the version.
        rejects!(format!("db/{V_LO}/x"), K::TrailingInput, 36),
        rejects!(format!("db/{V_LO}/"), K::TrailingInput, 36),
        rejects!(format!("db/{V_LO}/{V_LO}"), K::TrailingInput, 36),
        rejects!(format!("project:p/db/{V_LO}/x"), K::TrailingInput, 46),
        rejects!(format!("{{{{ db/{V_LO}/x }}}}"), K::TrailingInput, 39),
        // Unbalanced braces.
        rejects!("{{db", K::UnbalancedBraces, 1),
        rejects!("{{ db", K::UnbalancedBraces, 1),
        rejects!("db}}", K::UnbalancedBraces, 3),
        rejects!("{db}", K::UnbalancedBraces, 1),
        rejects!("{{d{b}}", K::UnbalancedBraces, 4),
        rejects!("{{db}}}", K::UnbalancedBraces, 5),
        rejects!("d}b", K::UnbalancedBraces, 2),
        rejects!("{{", K::UnbalancedBraces, 1),
        rejects!("}}", K::UnbalancedBraces, 1),
        rejects!("{", K::UnbalancedBraces, 1),
        // Unknown prefixes (position: the colon ending the prefix).
        rejects!("vault:db", K::UnknownPrefix, 6),
        rejects!("projects:p/db", K::UnknownPrefix, 9),
        rejects!("projec:p/db", K::UnknownPrefix, 7),
        rejects!("http:", K::UnknownPrefix, 5),
        rejects!(":db", K::UnknownPrefix, 1),
        rejects!("{{ env:db }}", K::UnknownPrefix, 7),
        // Project ids.
        rejects!("project:/db", K::EmptyProjectId, 9),
        rejects!("project:", K::EmptyProjectId, 9),
        rejects!("{{ project: }}", K::EmptyProjectId, 12),
        rejects!(format!("project:{id65}/db"), K::ProjectIdTooLong { length: 65 }, 9),
        rejects!(format!("project:{id65}"), K::ProjectIdTooLong { length: 65 }, 9),
        rejects!("project:p+q/db", K::BadCharacter { found: '+', part: "project id" }, 10),
        rejects!("project:pé/db", K::BadCharacter { found: 'é', part: "project id" }, 10),
        rejects!("project:a:b/db", K::BadCharacter { found: ':', part: "project id" }, 10),
        rejects!("project:p q/db", K::BadCharacter { found: ' ', .. }, 10),
        rejects!("project:p", K::EmptyName, 10),
        rejects!("project:p/", K::EmptyName, 11),
        rejects!("{{ project:p/ }}", K::EmptyName, 14),
        rejects!("project:p/a:b", K::BadCharacter { found: ':', part: "secret name" }, 12),
        // Key Vault identifiers.
        rejects!("https://v.vault.azure.net/secrets/x//", K::BadVersion { .. }, 37),
        rejects!("http://v.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 1),
        rejects!("ftp://v.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 1),
        rejects!("https://user@v.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 9),
        // App Service references ("@Microsoft.KeyVault(" is 20 characters).
        rejects!("@Microsoft.KeyVault(VaultName=v;SecretName=x", K::BadAppServiceReference { .. }, 44),
        rejects!("@Microsoft.KeyVault(SecretName=x)", K::BadAppServiceReference { .. }, 21),
        rejects!("@Microsoft.KeyVault(VaultName=v)", K::BadAppServiceReference { .. }, 21),
        rejects!("@Microsoft.KeyVault(VaultName=v;Name=x)", K::BadAppServiceReference { .. }, 33),
        rejects!("@Microsoft.KeyVault(VaultName=v;VaultName=w;SecretName=x)", K::BadAppServiceReference { .. }, 33),
        rejects!("@Microsoft.KeyVault(VaultName=v;SecretName=x;)", K::BadAppServiceReference { .. }, 46),
        rejects!("@Microsoft.KeyVault(VaultName=v.evil.com;SecretName=x)", K::BadAppServiceReference { .. }, 31),
        rejects!("@Microsoft.KeyVault(VaultName=;SecretName=x)", K::BadAppServiceReference { .. }, 31),
        rejects!("@Microsoft.KeyVault(VaultName=v;SecretName=a_b)", K::BadCharacter { found: '_', .. }, 45),
        rejects!("@Microsoft.KeyVault(VaultName=v;SecretName=x;SecretVersion=abc)", K::BadVersion { .. }, 60),
        rejects!("@Microsoft.KeyVault(SecretUri=http://v.vault.azure.net/secrets/x)", K::BadIdentifier { .. }, 31),
        rejects!("https://user:pw@v.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 9),
        rejects!(format!("{kv}/secrets/x?api-version=7.4"), K::BadIdentifier { .. }, 36),
        rejects!(format!("{kv}/secrets/x#frag"), K::BadIdentifier { .. }, 36),
        rejects!(format!("{kv}?x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/keys/x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/certificates/x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/Secrets/x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}//secrets/x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/./secrets/x"), K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/secrets"), K::BadIdentifier { .. }, 26),
        rejects!(kv, K::BadIdentifier { .. }, 26),
        rejects!(format!("{kv}/secrets/"), K::EmptyName, 35),
        rejects!(format!("{kv}/secrets//{V_LO}"), K::EmptyName, 35),
        rejects!("https:///secrets/x", K::BadIdentifier { .. }, 9),
        rejects!("https://", K::BadIdentifier { .. }, 9),
        rejects!("https://v.vault.azure.net:99999/secrets/x", K::BadIdentifier { .. }, 9),
        rejects!("https://v.vault.azure.net:port/secrets/x", K::BadIdentifier { .. }, 9),
        // Path traversal never reaches another path: `.` and `%` are not name characters.
        rejects!(format!("{kv}/secrets/../keys/x"), K::BadCharacter { found: '.', part: "secret name" }, 35),
        rejects!(format!("{kv}/secrets/%2e%2e/keys/x"), K::BadCharacter { found: '%', part: "secret name" }, 35),
        rejects!(format!("{kv}/secrets/x/../../keys/y"), K::BadVersion { .. }, 37),
        rejects!(format!("{kv}/secrets/x/{V_LO}/y"), K::TrailingInput, 69),
        rejects!(format!("{kv}/secrets/x y"), K::BadCharacter { found: ' ', .. }, 36),
        rejects!(format!("{{{{ {kv}/keys/x }}}}"), K::BadIdentifier { .. }, 29),
        // Characters a URL parser would reinterpret (`\` as a path separator, tab deleted,
        // `%xx` decoded, a soft hyphen mapped away) are refused: the recorded vault host is
        // exactly what the identifier says.
        rejects!("https://v\\.evil.example/secrets/x", K::BadIdentifier { .. }, 9),
        rejects!("https://my\tvault.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 9),
        rejects!("https://my%76ault.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 9),
        rejects!("https://my\u{AD}vault.vault.azure.net/secrets/x", K::BadIdentifier { .. }, 9),
        // Too long: refused before parsing.
        rejects!("a".repeat(2000), K::TooLong { length: 2000 }, 1),
        rejects!("a".repeat(1025), K::TooLong { length: 1025 }, 1),
        rejects!("é".repeat(1025), K::TooLong { length: 1025 }, 1),
        rejects!(format!("{{{{ {} }}}}", "a".repeat(1020)), K::TooLong { length: 1026 }, 1),
    ]
}

/// Inputs made only of fixed syntax that the help text of their own error quotes.
const SYNTAX_ONLY: &[&str] = &["project:", "https://"];

/// The message with every `backticked` span removed: what is left is never help text.
fn without_backticked(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, s)| s)
        .collect()
}

fn assert_no_echo(input: &str, message: &str) -> Result<(), String> {
    if input.chars().count() <= 3 {
        return Ok(());
    }
    let checked = if SYNTAX_ONLY.contains(&input) {
        without_backticked(message)
    } else {
        message.to_owned()
    };
    if checked.contains(input) {
        return Err(format!("the message echoes the input: {message}"));
    }
    Ok(())
}

#[test]
fn rejected_references() {
    let rows = rejected_rows();
    let mut failures = Vec::new();
    for row in &rows {
        let input = row.input.as_str();
        let shown: String = if input.len() > 80 {
            let head: String = input.chars().take(40).collect();
            format!("{head:?}… ({} chars)", input.chars().count())
        } else {
            format!("{input:?}")
        };
        let err = match SecretRef::parse(input) {
            Ok(r) => {
                failures.push(format!("{shown}: accepted as {r:?}"));
                continue;
            }
            Err(e) => e,
        };
        let mut problems = Vec::new();
        if !(row.kind)(err.kind()) {
            problems.push(format!(
                "kind: want {}, got {:?}",
                row.kind_text,
                err.kind()
            ));
        }
        if err.position() != row.position {
            problems.push(format!(
                "position: want {}, got {}",
                row.position,
                err.position()
            ));
        }
        let message = err.to_string();
        if let Err(p) = assert_no_echo(input, &message) {
            problems.push(p);
        }
        if message.trim().is_empty() {
            problems.push("empty message".to_owned());
        }
        // `FromStr` and serde refuse it the same way.
        if input.parse::<SecretRef>().as_ref().err() != Some(&err) {
            problems.push("FromStr disagrees".to_owned());
        }
        let json = serde_json::to_string(input).unwrap();
        if serde_json::from_str::<SecretRef>(&json).is_ok() {
            problems.push("serde accepts it".to_owned());
        }
        if !problems.is_empty() {
            failures.push(format!("{shown}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rejected rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The building blocks follow the same rules as the parser, so a reference built from them
/// always has a canonical form that parses back.
#[test]
fn components_follow_the_grammar() {
    assert!(SecretName::new("db-password").is_ok());
    assert!(SecretName::new(&"n".repeat(127)).is_ok());
    assert!(matches!(
        SecretName::new(&"n".repeat(128)).unwrap_err().kind(),
        K::NameTooLong { length: 128 }
    ));
    assert!(matches!(
        SecretName::new("").unwrap_err().kind(),
        K::EmptyName
    ));
    assert!(matches!(
        SecretName::new("a_b").unwrap_err().kind(),
        K::BadCharacter { found: '_', .. }
    ));
    assert_eq!(SecretName::new("a_b").unwrap_err().position(), 2);
    assert_eq!(
        SecretName::new("Db").unwrap(),
        SecretName::new("dB").unwrap()
    );

    assert!(SecretVersion::new(V_LO).is_ok());
    assert!(SecretVersion::new(V_UP).is_ok());
    assert_eq!(
        SecretVersion::new(V_LO).unwrap(),
        SecretVersion::new(V_UP).unwrap()
    );
    for bad in [
        "",
        &V_LO[..31],
        &format!("{V_LO}0"),
        "g".repeat(32).as_str(),
    ] {
        assert!(
            matches!(
                SecretVersion::new(bad).unwrap_err().kind(),
                K::BadVersion { .. }
            ),
            "{bad:?}"
        );
    }

    assert!(ProjectId::new("a-b_c.d").is_ok());
    assert!(ProjectId::new(&"p".repeat(64)).is_ok());
    assert!(matches!(
        ProjectId::new(&"p".repeat(65)).unwrap_err().kind(),
        K::ProjectIdTooLong { length: 65 }
    ));
    assert!(matches!(
        ProjectId::new("a/b").unwrap_err().kind(),
        K::BadCharacter { found: '/', .. }
    ));
    // Project ids compare exactly, unlike names.
    assert_ne!(ProjectId::new("P").unwrap(), ProjectId::new("p").unwrap());
    assert_ne!(
        SecretRef::parse("project:P/db").unwrap(),
        SecretRef::parse("project:p/db").unwrap()
    );

    let built = SecretRef::project(
        ProjectId::new("billing").unwrap(),
        SecretName::new("db-password").unwrap(),
    )
    .with_version(SecretVersion::new(V_UP).unwrap());
    assert_eq!(
        built.to_string(),
        format!("project:billing/db-password/{V_UP}")
    );
    assert_eq!(SecretRef::parse(&built.to_string()).unwrap(), built);
    let ws = SecretRef::workspace(SecretName::new("db").unwrap());
    assert_eq!(SecretRef::parse("DB").unwrap(), ws);
    assert_eq!(ws.scope(), &RefScope::Workspace);
    assert_eq!(ws.vault_host(), None);
    // An identifier names the same secret as the bare name, but it is not the same reference:
    // it is tied to its vault host.
    assert_ne!(
        SecretRef::parse("https://v.vault.azure.net/secrets/db").unwrap(),
        ws
    );
}

/// An empty project id is refused by its constructor too, not only by the parser: a reference
/// built from one would display as `project:/db`, which does not parse back.
#[test]
fn empty_project_id_is_refused_by_its_constructor() {
    let result = ProjectId::new("");
    assert!(
        matches!(
            result.as_ref().map_err(secretscope::ReferenceError::kind),
            Err(K::EmptyProjectId)
        ),
        "ProjectId::new(\"\") gave {result:?}"
    );
    assert!(serde_json::from_str::<ProjectId>("\"\"").is_err());
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// A valid reference with everything the parser should report about it.
#[derive(Debug, Clone)]
struct Valid {
    input: String,
    project: Option<String>,
    name: String,
    version: Option<String>,
    vault: Option<String>,
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9-]{1,20}", "[a-zA-Z0-9-]{1,127}", "[a-z]{127}",]
}

fn version() -> impl Strategy<Value = String> {
    "[0-9a-fA-F]{32}"
}

fn project_id() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9._-]{1,16}", "[a-zA-Z0-9._-]{1,64}"]
}

/// `(written, normalised)` vault authority: letters-first labels so the last label is never
/// read as an IPv4 number, random case, an optional port (443 is dropped).
fn authority() -> impl Strategy<Value = (String, String)> {
    (
        prop::collection::vec("[a-zA-Z][a-zA-Z0-9]{0,9}", 1..5),
        prop_oneof![
            Just(None),
            Just(Some(443u16)),
            (1u16..=u16::MAX).prop_map(Some)
        ],
    )
        .prop_map(|(labels, port)| {
            let host = labels.join(".");
            let lower = host.to_ascii_lowercase();
            match port {
                None => (host, lower),
                Some(443) => (format!("{host}:443"), lower),
                Some(p) => (format!("{host}:{p}"), format!("{lower}:{p}")),
            }
        })
}

fn valid_reference() -> impl Strategy<Value = Valid> {
    let prefix = prop_oneof![Just("project:"), Just("PROJECT:"), Just("Project:")];
    let plain = (
        prop::option::of((prefix, project_id())),
        name(),
        prop::option::of(version()),
    )
        .prop_map(|(project, name, version)| {
            let mut input = String::new();
            if let Some((prefix, id)) = &project {
                input.push_str(prefix);
                input.push_str(id);
                input.push('/');
            }
            input.push_str(&name);
            if let Some(v) = &version {
                input.push('/');
                input.push_str(v);
            }
            Valid {
                input,
                project: project.map(|(_, id)| id),
                name,
                version,
                vault: None,
            }
        });
    let identifier = (
        prop_oneof![Just("https://"), Just("HTTPS://"), Just("Https://")],
        authority(),
        name(),
        prop::option::of(version()),
    )
        .prop_map(|(scheme, (written, normalised), name, version)| {
            let mut input = format!("{scheme}{written}/secrets/{name}");
            if let Some(v) = &version {
                input.push('/');
                input.push_str(v);
            }
            Valid {
                input,
                project: None,
                name,
                version,
                vault: Some(normalised),
            }
        });
    (
        prop_oneof![3 => plain, 1 => identifier],
        prop::option::of((0usize..4, 0usize..4)),
    )
        .prop_map(|(mut valid, wrap)| {
            if let Some((before, after)) = wrap {
                valid.input = format!(
                    "{{{{{}{}{}}}}}",
                    " ".repeat(before),
                    valid.input,
                    " ".repeat(after)
                );
            }
            valid
        })
}

/// Strings that look like references: fragments of the grammar glued together.
fn grammar_soup() -> impl Strategy<Value = String> {
    let fragment = prop_oneof![
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(" ".to_owned()),
        Just("/".to_owned()),
        Just(":".to_owned()),
        Just("project:".to_owned()),
        Just("PROJECT:".to_owned()),
        Just("https://".to_owned()),
        Just("http://".to_owned()),
        Just("/secrets/".to_owned()),
        Just("@".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just(":443".to_owned()),
        Just("[::1]".to_owned()),
        Just("..".to_owned()),
        Just("é".to_owned()),
        Just("🔑".to_owned()),
        Just("\\".to_owned()),
        Just("%2e".to_owned()),
        "[a-zA-Z0-9-]{1,10}",
        "[a-zA-Z0-9._-]{1,70}",
        "[0-9a-fA-F]{30,34}",
        "[a-z]{120,130}",
    ];
    prop::collection::vec(fragment, 0..12).prop_map(|parts| parts.concat())
}

fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9{}/:._ -]{0,200}",
        "\\PC{0,64}",
        ".{0,16}",
        grammar_soup(),
        "[a-z]{1000,1100}",
    ]
}

fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

fn is_name(s: &str) -> bool {
    (1..=127).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (a) Valid references parse to what they say, and the canonical form round-trips.
    #[test]
    fn valid_references_round_trip(valid in valid_reference()) {
        let r = SecretRef::parse(&valid.input)
            .map_err(|e| TestCaseError::fail(format!("{e} ({:?})", e.kind())))?;
        prop_assert_eq!(r.project_id().map(ProjectId::as_str), valid.project.as_deref());
        prop_assert_eq!(r.name().as_str(), valid.name.as_str());
        prop_assert_eq!(r.version().map(SecretVersion::as_str), valid.version.as_deref());
        prop_assert_eq!(r.vault_host(), valid.vault.as_deref());

        let shown = r.to_string();
        let again = SecretRef::parse(&shown)
            .map_err(|e| TestCaseError::fail(format!("display {shown:?} refused: {e}")))?;
        prop_assert_eq!(&again, &r);
        prop_assert_eq!(hash_of(&again), hash_of(&r));
        prop_assert_eq!(again.to_string(), shown.clone());
        prop_assert_eq!(again.vault_host(), r.vault_host());
        // The canonical form has no wrapper and a lower-case prefix/scheme.
        prop_assert!(!shown.starts_with("{{") && !shown.contains(' '));
        if valid.project.is_some() {
            prop_assert!(shown.starts_with("project:"));
        }
        if valid.vault.is_some() {
            prop_assert!(shown.starts_with("https://"));
        }
    }

    /// (b) Any input: no panic; an error points inside the input or just past its end; an
    /// accepted input obeys the grammar and round-trips.
    #[test]
    fn any_input_is_parsed_or_refused_with_a_position(input in any_input()) {
        let chars = input.chars().count();
        match SecretRef::parse(&input) {
            Err(e) => {
                prop_assert!(
                    (1..=chars + 1).contains(&e.position()),
                    "position {} outside 1..={} ({:?})", e.position(), chars + 1, e.kind()
                );
                prop_assert!(!e.to_string().is_empty());
                if let K::TooLong { length } = e.kind() {
                    prop_assert_eq!(*length, chars);
                }
            }
            Ok(r) => {
                prop_assert!(chars <= secretscope::reference::MAX_REFERENCE_LEN);
                prop_assert!(is_name(r.name().as_str()));
                if let Some(v) = r.version() {
                    prop_assert!(v.as_str().len() == 32
                        && v.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
                }
                if let Some(p) = r.project_id() {
                    prop_assert!((1..=64).contains(&p.as_str().len()));
                    prop_assert!(p.as_str().bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                }
                let shown = r.to_string();
                let again = SecretRef::parse(&shown)
                    .map_err(|e| TestCaseError::fail(format!("display {shown:?} refused: {e}")))?;
                prop_assert_eq!(&again, &r);
                prop_assert_eq!(again.to_string(), shown);
            }
        }
    }

    /// (c) Names and versions compare case-insensitively, with hashes to match.
    #[test]
    fn workspace_references_ignore_case(
        name in name(),
        version in prop::option::of(version()),
        wrap in any::<bool>(),
    ) {
        let mut input = name;
        if let Some(v) = version {
            input = format!("{input}/{v}");
        }
        if wrap {
            input = format!("{{{{ {input} }}}}");
        }
        let upper = SecretRef::parse(&input.to_ascii_uppercase());
        let lower = SecretRef::parse(&input.to_ascii_lowercase());
        let original = SecretRef::parse(&input);
        prop_assert!(upper.is_ok() && lower.is_ok() && original.is_ok());
        let (upper, lower, original) = (upper.unwrap(), lower.unwrap(), original.unwrap());
        prop_assert_eq!(&upper, &lower);
        prop_assert_eq!(&upper, &original);
        prop_assert_eq!(hash_of(&upper), hash_of(&lower));
        prop_assert_eq!(hash_of(&upper), hash_of(&original));
        prop_assert_eq!(hash_of(upper.name()), hash_of(lower.name()));
        // Equal, but each keeps its own spelling.
        prop_assert_eq!(upper.to_string(), lower.to_string().to_ascii_uppercase());
    }

    /// (d) serde_json round trip: a reference serialises as its canonical string.
    #[test]
    fn serde_round_trip(valid in valid_reference()) {
        let r = SecretRef::parse(&valid.input)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let json = serde_json::to_string(&r).unwrap();
        prop_assert_eq!(&json, &serde_json::to_string(&r.to_string()).unwrap());
        let back: SecretRef = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &r);
        prop_assert_eq!(back.to_string(), r.to_string());
        // The written (non-canonical) form deserialises too.
        let from_input: SecretRef =
            serde_json::from_str(&serde_json::to_string(&valid.input).unwrap()).unwrap();
        prop_assert_eq!(from_input, r);
    }

    /// (e) A secret pasted where a reference belongs never appears in the error.
    #[test]
    fn errors_never_echo_a_pasted_secret(
        secret in "S[A-Za-z0-9]{15,40}",
        shape in 0usize..12,
    ) {
        let input = match shape {
            0 => format!("{secret}_x"),
            1 => format!("{secret}+="),
            2 => format!("db/{secret}"),
            3 => format!("project:{secret}+/db"),
            4 => format!("{{{{ {secret}"),
            5 => format!("{secret}}}}}"),
            6 => format!("key:{secret}"),
            7 => format!("https://{secret}@v.vault.azure.net/secrets/db"),
            8 => format!("https://v.vault.azure.net/secrets/db?sig={secret}"),
            9 => format!("{secret} {secret}"),
            10 => secret.repeat(1100 / secret.len() + 1),
            _ => format!("project:{}/{secret}/x", "p".repeat(65)),
        };
        let e = SecretRef::parse(&input);
        prop_assert!(e.is_err(), "accepted {:?}", input);
        let e = e.unwrap_err();
        let message = e.to_string();
        prop_assert!(!message.contains(&secret), "{}", message);
        let debug = format!("{e:?}");
        prop_assert!(!debug.contains(&secret), "{}", debug);
    }
}
