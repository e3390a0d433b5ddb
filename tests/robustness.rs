//! Robustness of the four entry points that read text from outside: the reference parser, the
//! secrets-file loader, the Azure configuration, and the Key Vault error mapping. No input
//! panics, each returns within a bound, none is quoted back in an error, and references
//! round-trip through `Display`.
//!
//! The properties are the fuzz targets' own (`fuzz/src/lib.rs`, included here), checked on
//! proptest's inputs: built from the grammar's and the formats' pieces, so that most of them get
//! past the first check, and mixed with arbitrary text. `scripts/fuzz` runs the same properties
//! under libFuzzer for as long as one likes.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)] // `error_texts` is for the fuzz targets' messages
mod properties;

use proptest::prelude::*;
use secretscope::fuzzing::{FileFormat, VaultAnswer};

use properties::CanaryIn;

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

/// Texts that are mostly well-formed references of every form, some damaged, and some
/// arbitrary.
fn reference_text() -> impl Strategy<Value = String> {
    let name = "[-0-9A-Za-z]{1,30}";
    let version = prop_oneof!["[0-9a-fA-F]{32}", "[0-9a-z]{0,34}"];
    let project = "[-0-9A-Za-z_.]{1,12}";
    let host = prop_oneof![
        Just("corp-vault.vault.azure.net".to_owned()),
        "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,8}){0,2}(:[0-9]{1,5})?",
        Just("[::1]:8443".to_owned()),
    ];
    let form = (
        0..6u8,
        name,
        proptest::option::of(version),
        project,
        host,
        any::<bool>(),
    )
        .prop_map(|(form, name, version, project, host, wrap)| {
            let pinned = version.map(|v| format!("/{v}")).unwrap_or_default();
            let text = match form {
                0 => format!("{name}{pinned}"),
                1 => format!("project:{project}/{name}{pinned}"),
                2 => format!("https://{host}/secrets/{name}{pinned}/"),
                3 => format!("https://{host}/secrets/{name}{pinned}"),
                4 => {
                    format!("@Microsoft.KeyVault(SecretUri=https://{host}/secrets/{name}{pinned})")
                }
                _ => format!(
                    "@Microsoft.KeyVault(VaultName={project};SecretName={name}{})",
                    pinned.replace('/', ";SecretVersion=")
                ),
            };
            if wrap {
                format!("{{{{ {text} }}}}")
            } else {
                text
            }
        });
    prop_oneof![
        6 => form,
        2 => "[-0-9A-Za-z{}:/@.;=()\\[\\] _~%?#]{0,60}",
        1 => any::<String>(),
    ]
}

/// Lines of a TOML secrets file, right and wrong.
const TOML_LINES: &[&str] = &[
    "[secrets]\n",
    "[secrets.tls-key]\n",
    "[secrets.api-key]\n",
    "db-password = \"hunter2\"\n",
    "DB-PASSWORD = \"again\"\n",
    "value = \"\"\"\nline one\nline two\n\"\"\"\n",
    "value = 'literal'\n",
    "value = 42\n",
    "version = \"0123456789abcdef0123456789abcdef\"\n",
    "version = \"0123\"\n",
    "content-type = \"text/plain\"\n",
    "enabled = false\n",
    "enabled = \"yes\"\n",
    "not-before = 2026-01-01T00:00:00Z\n",
    "expires = \"2027-01-01T00:00:00+01:00\"\n",
    "expires = 2027-01-01\n",
    "versions = [{ version = \"00000000000000000000000000000001\", value = \"old\" }, { version = \"00000000000000000000000000000002\", value = \"new\" }]\n",
    "versions = []\n",
    "unknown = 1\n",
    "bad name! = \"x\"\n",
    "= \"no key\"\n",
    "\"quoted\"\n",
];

/// Pieces of a JSON secrets file, right and wrong.
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "{\"secrets\":{",
    "}}",
    "\"db-password\":\"hunter2\"",
    "\"tls-key\":{\"value\":\"a\\nb\",\"content-type\":\"text/plain\",\"enabled\":true}",
    "\"api-key\":{\"versions\":[{\"version\":\"00000000000000000000000000000001\",\"value\":\"v\"}]}",
    "\"x\":{\"value\":null}",
    "\"x\":{\"expires\":\"2027-01-01T00:00:00Z\",\"value\":\"v\"}",
    "\"x\":[1,2]",
    ",",
    ":",
    "\"",
    "\\u00e9",
    "12345",
];

/// Secrets files: lines of the format, or any bytes.
fn secrets_file_bytes(format: FileFormat) -> impl Strategy<Value = Vec<u8>> {
    let pieces = match format {
        FileFormat::Toml => TOML_LINES,
        FileFormat::Json => JSON_PIECES,
    };
    let document = prop::collection::vec(
        prop_oneof![4 => prop::sample::select(pieces).prop_map(str::to_owned), 1 => "\\PC{0,12}"],
        0..14,
    )
    .prop_map(|pieces| pieces.concat().into_bytes());
    prop_oneof![
        4 => document,
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Settings of an Azure configuration, right and wrong, written in TOML.
const CONFIG_LINES: &[&str] = &[
    "name = \"corp-vault\"\n",
    "vault-url = \"https://corp-vault.vault.azure.net\"\n",
    "vault-url = \"https://corp-vault.vault.azure.net/secrets/db\"\n",
    "vault-url = \"https://primary.localhost:8443\"\n",
    "vault-url = \"http://v\"\n",
    "tenant-id = \"72f988bf-86f1-41af-91ab-2d7cd011db47\"\n",
    "tenant-id = \"not a tenant\"\n",
    "client-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\n",
    "client-secret = { env = \"SECRETSCOPE_ROBUSTNESS_UNSET\" }\n",
    "client-secret = { value = \"inline\" }\n",
    "client-secret = { file = \"/nonexistent/kv\" }\n",
    "client-secret = \"bare\"\n",
    "client-secret = { env = \"A\", value = \"b\" }\n",
    "credential = \"managed-identity\"\n",
    "credential = \"workload-identity\"\n",
    "credential = \"developer-tools\"\n",
    "credential = \"other\"\n",
    "managed-identity-client-id = \"1b730954-1685-4b74-9bfd-dac224a7b894\"\n",
    "authority-host = \"https://login.microsoftonline.com\"\n",
    "authority-host = \"https://login.localhost:8443\"\n",
    "allow-custom-host = true\n",
    "allow-custom-host = \"yes\"\n",
    "extra-ca-files = [\"/etc/ssl/corp.pem\"]\n",
    "connect-timeout-ms = 0\n",
    "try-timeout-ms = 3000\n",
    "deadline-ms = -1\n",
    "max-retries = 4294967296\n",
    "unknown = 1\n",
];

/// Azure configurations: settings lines (as TOML, or turned into a JSON object), or any text.
fn config_text() -> impl Strategy<Value = (String, FileFormat)> {
    let lines = prop::collection::vec(
        prop_oneof![4 => prop::sample::select(CONFIG_LINES).prop_map(str::to_owned), 1 => "\\PC{0,12}\n"],
        0..10,
    );
    (lines, any::<bool>(), any::<String>()).prop_map(|(lines, json, junk)| {
        if junk.len() % 5 == 0 {
            return (junk, FileFormat::Toml);
        }
        if !json {
            return (lines.concat(), FileFormat::Toml);
        }
        // `key = value` becomes `"key": value`; TOML inline tables become JSON objects.
        let members: Vec<String> = lines
            .iter()
            .filter_map(|line| line.trim_end().split_once(" = "))
            .map(|(key, value)| {
                let value = value.replace(" = ", ": ").replace("{ env", "{ \"env\"");
                let value = value
                    .replace("{ value", "{ \"value\"")
                    .replace("{ file", "{ \"file\"")
                    .replace(", value", ", \"value\"");
                format!("\"{key}\": {value}")
            })
            .collect();
        (format!("{{{}}}", members.join(", ")), FileFormat::Json)
    })
}

/// A Key Vault error body: the service's shape with any codes and messages, or anything.
fn vault_body() -> impl Strategy<Value = Vec<u8>> {
    let code = prop_oneof![
        prop::sample::select(
            &[
                "SecretNotFound",
                "Forbidden",
                "Unauthorized",
                "Throttled",
                "BadParameter",
                "Conflict",
                "NotFound",
            ][..]
        )
        .prop_map(str::to_owned),
        "\\PC{0,12}",
    ];
    let inner = prop::sample::select(
        &[
            "SecretDisabled",
            "ForbiddenByRbac",
            "AccessDenied",
            "ForbiddenByFirewall",
            "ObjectIsDeletedButRecoverable",
            "TokenExpired",
            "SomethingNew",
        ][..],
    );
    let message = prop_oneof![
        prop::sample::select(&[
            "Operation get is not allowed on a disabled secret.",
            "Caller is not authorized to perform action on resource.\r\nCaller: appid=1;oid=2\r\nDecisionReason: 'DeniedWithNoValidRBAC'",
            "AKV10032: Invalid issuer.",
            "[TokenExpired] Error validating token: 'S2S12086'.",
            "Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.7",
        ][..])
        .prop_map(str::to_owned),
        "\\PC{0,60}",
    ];
    let json = (code, proptest::option::of(inner), message).prop_map(|(code, inner, message)| {
        let inner = inner
            .map(|i| format!(",\"innererror\":{{\"code\":\"{i}\"}}"))
            .unwrap_or_default();
        let error = serde_json::json!({ "code": code, "message": message }).to_string();
        format!("{{\"error\":{}{inner}}}}}", error.trim_end_matches('}')).into_bytes()
    });
    prop_oneof![
        4 => json,
        1 => "\\PC{0,80}".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..120),
    ]
}

/// An HTTP answer of the vault, with the canary's place in it.
fn vault_answer() -> impl Strategy<Value = (VaultAnswer, CanaryIn)> {
    let status = prop_oneof![
        4 => prop::sample::select(&[200u16, 302, 400, 401, 403, 404, 405, 408, 409, 429, 500, 502, 503][..]),
        1 => any::<u16>(),
    ];
    let header = (
        prop::sample::select(
            &[
                "retry-after",
                "retry-after-ms",
                "x-ms-retry-after-ms",
                "x-ms-error-code",
                "www-authenticate",
                "content-type",
                "x-ms-request-id",
                "location",
            ][..],
        ),
        prop_oneof![
            "[0-9]{1,6}",
            "-[0-9]{1,3}",
            Just("Mon, 12 May 2025 09:00:30 GMT".to_owned()),
            Just(
                r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#
                    .to_owned()
            ),
            "[ -~]{0,30}",
        ],
    )
        .prop_map(|(name, value)| (name.to_owned(), value));
    let canary = prop_oneof![
        any::<usize>().prop_map(CanaryIn::Body),
        (any::<usize>(), any::<usize>()).prop_map(|(i, at)| CanaryIn::Header(i, at)),
    ];
    (
        status,
        prop::collection::vec(header, 0..4),
        vault_body(),
        any::<bool>(),
        canary,
    )
        .prop_map(|(status, headers, body, after_challenge, canary)| {
            let answer = VaultAnswer {
                status,
                headers,
                body,
                after_challenge,
            };
            (answer, canary)
        })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/// `cases` cases; a failing one is kept in `proptest-regressions/robustness.txt`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct(
                "proptest-regressions/robustness.txt",
            ),
        )),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn references_round_trip_and_refusals_quote_nothing(
        text in reference_text(),
        at in any::<usize>(),
    ) {
        properties::reference(&text, at);
    }
}

proptest! {
    #![proptest_config(config(192))]

    #[test]
    fn toml_secrets_files_are_read_or_refused_without_quoting(
        bytes in secrets_file_bytes(FileFormat::Toml),
        at in any::<usize>(),
    ) {
        properties::secrets_file(&bytes, at, FileFormat::Toml);
    }

    #[test]
    fn json_secrets_files_are_read_or_refused_without_quoting(
        bytes in secrets_file_bytes(FileFormat::Json),
        at in any::<usize>(),
    ) {
        properties::secrets_file(&bytes, at, FileFormat::Json);
    }

    #[test]
    fn azure_configs_are_read_or_refused_without_quoting(
        (text, format) in config_text(),
        at in any::<usize>(),
    ) {
        properties::azure_config(&text, at, format);
    }
}

proptest! {
    // Each case builds a backend and runs a fetch through the Azure SDK: fewer of them.
    #![proptest_config(config(96))]

    #[test]
    fn vault_answers_map_to_errors_without_quoting((answer, canary) in vault_answer()) {
        properties::error_mapping(answer, canary);
    }
}

// ---------------------------------------------------------------------------------------------
// What fuzzing found
// ---------------------------------------------------------------------------------------------

/// The Azure SDK's error for an HTTP answer reads `<status>: <whole body>` when the body is not
/// JSON, and is the vault's whole message otherwise; kept as the cause, it quoted a proxy's page
/// and the later lines of a vault's message (caller object ID, client address) in every chain.
/// Now the cause keeps the status alone.
#[test]
fn the_cause_of_an_http_failure_quotes_nothing_of_the_answer() {
    let page = VaultAnswer {
        status: 502,
        body: b"<html><body>Bad gateway</body></html>".to_vec(),
        ..VaultAnswer::default()
    };
    properties::error_mapping(page.clone(), CanaryIn::Body(12));
    let rbac = VaultAnswer {
        status: 403,
        body: br#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.\r\nCaller: appid=1;oid=\r\n","innererror":{"code":"ForbiddenByRbac"}}}"#.to_vec(),
        after_challenge: true,
        ..VaultAnswer::default()
    };
    // Into the second line of the message, right after `oid=`.
    properties::error_mapping(rbac, CanaryIn::Body(119));

    // The cause is still the SDK's error, with its status.
    let error = secretscope::fuzzing::fetch_answered(&page).unwrap_err();
    let cause = std::error::Error::source(&error)
        .and_then(|c| c.downcast_ref::<secretscope::azure::sdk::azure_core::Error>())
        .expect("the SDK's error is the cause");
    assert_eq!(cause.http_status().map(u16::from), Some(502));
}
