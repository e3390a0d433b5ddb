//! The file backend through its public API: the format its module documents, every error a
//! malformed file gives (with its line, column and keys), that no error ever quotes the file,
//! and the backend conformance suite.

use std::path::PathBuf;
use std::sync::Arc;

use secretscope::conformance::{self, Seeded};
use secretscope::file::{FileBackend, FileOptions};
use secretscope::{Error, SecretBackend, SecretName, SecretVersion};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

const CANARY: &str = "CANARY-9f8e7d";
/// Substrings of the canaries that no message may contain, whatever the formatting.
const LEAKS: &[&str] = &[
    "CANARY",
    "9f8e7d",
    "1234567890123",
    "170141183460469231731687303715884105727",
    "340282366920938463463374607431768211455",
];

const EXAMPLE_TOML: &str = r#"
[secrets]
db-password = "hunter2"                 # shorthand: one value

[secrets.tls-key]                        # full form
value = """
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASC
-----END PRIVATE KEY-----
"""
content-type = "application/x-pem-file"
enabled = true
not-before = 2026-01-01T00:00:00Z        # TOML datetime or RFC 3339 string
expires = "2027-01-01T00:00:00Z"
version = "0123456789abcdef0123456789abcdef"

[secrets.api-key]                        # several versions, the last one is the latest
versions = [
  { version = "00000000000000000000000000000001", value = "old" },
  { version = "00000000000000000000000000000002", value = "new", expires = 2027-01-01T00:00:00Z },
]
"#;

const EXAMPLE_JSON: &str = r#"{
  "secrets": {
    "db-password": "hunter2",
    "tls-key": {
      "value": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
      "content-type": "application/x-pem-file",
      "enabled": true,
      "not-before": "2026-01-01T00:00:00Z",
      "expires": "2027-01-01T00:00:00Z",
      "version": "0123456789abcdef0123456789abcdef"
    },
    "api-key": {
      "versions": [
        { "version": "00000000000000000000000000000001", "value": "old" },
        { "version": "00000000000000000000000000000002", "value": "new", "expires": "2027-01-01T00:00:00Z" }
      ]
    }
  }
}"#;

/// What every reason about a malformed file ends with.
const FIX: &str = "; fix the file, then open or reload it";

fn write(dir: &tempfile::TempDir, file_name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(file_name);
    write_private(&path, contents.as_bytes());
    path
}

/// Writes a file only its owner can read, as secrets files must be.
fn write_private(path: &std::path::Path, contents: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    std::io::Write::write_all(&mut file, contents).unwrap();
}

fn open(file_name: &str, contents: &str) -> (tempfile::TempDir, FileBackend) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, file_name, contents);
    let backend = FileBackend::open(path).unwrap_or_else(|e| panic!("{e}"));
    (dir, backend)
}

/// The error of opening `contents` as `file_name`, and the path it was written to.
fn open_err(file_name: &str, contents: &str) -> (Error, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, file_name, contents);
    match FileBackend::open(&path) {
        Ok(backend) => panic!("{file_name} opened but should not have: {backend:?}"),
        Err(e) => (e, path),
    }
}

/// `field` and `reason` of an [`Error::InvalidConfig`].
fn invalid_config(e: &Error) -> (&str, &str) {
    match e {
        Error::InvalidConfig { field, reason, .. } => (field, reason),
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

/// Everything the crate can print about `e`: message, debug form, and every cause.
fn error_texts(e: &Error) -> Vec<String> {
    let mut texts = vec![e.to_string(), format!("{e:?}")];
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        texts.extend([cause.to_string(), format!("{cause:?}")]);
        source = cause.source();
    }
    texts
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).unwrap()
}

fn version(s: &str) -> SecretVersion {
    SecretVersion::new(s).unwrap()
}

async fn value(backend: &FileBackend, n: &str, v: Option<&str>) -> String {
    let v = v.map(version);
    let fetched = backend.fetch(&name(n), v.as_ref()).await;
    fetched
        .unwrap_or_else(|e| panic!("{e}"))
        .secret
        .expose_secret()
        .to_owned()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap()
}

/// The conformance fixtures as a `secrets` table, with versions numbered from 1, and the
/// versions recorded. Single-version fixtures use the full form (the plain one the shorthand,
/// without a version id); the others a `versions` list. Dates are TOML date-times when
/// `toml_dates`, RFC 3339 strings otherwise.
fn conformance_document(toml_dates: bool) -> (toml::Table, Seeded) {
    let date = |d: OffsetDateTime| {
        if toml_dates {
            toml::Value::Datetime(rfc3339(d).parse().unwrap())
        } else {
            toml::Value::String(rfc3339(d))
        }
    };
    let mut seeded = Seeded::new();
    let mut secrets = toml::Table::new();
    let mut counter = 0u64;
    for fixture in conformance::fixtures() {
        if fixture.name == conformance::PLAIN {
            let [only] = fixture.versions.as_slice() else {
                panic!("the plain fixture has one version")
            };
            secrets.insert(fixture.name.into(), only.value.into());
            seeded.record(fixture.name, None);
            continue;
        }
        let mut versions = Vec::new();
        for fixture_version in &fixture.versions {
            counter += 1;
            let id = format!("{counter:032x}");
            seeded.record(fixture.name, Some(version(&id)));
            let attributes = &fixture_version.attributes;
            let mut table = toml::Table::new();
            table.insert("version".into(), id.into());
            table.insert("value".into(), fixture_version.value.into());
            if let Some(content_type) = &attributes.content_type {
                table.insert("content-type".into(), content_type.as_str().into());
            }
            if !attributes.enabled {
                table.insert("enabled".into(), false.into());
            }
            if let Some(not_before) = attributes.not_before {
                table.insert("not-before".into(), date(not_before));
            }
            if let Some(expires) = attributes.expires {
                table.insert("expires".into(), date(expires));
            }
            versions.push(toml::Value::Table(table));
        }
        let entry = match <[_; 1]>::try_from(versions) {
            Ok([single]) => single,
            Err(versions) => toml::Value::Table(
                [("versions".to_owned(), versions.into())]
                    .into_iter()
                    .collect(),
            ),
        };
        secrets.insert(fixture.name.into(), entry);
    }
    let document = [("secrets".to_owned(), toml::Value::Table(secrets))]
        .into_iter()
        .collect();
    (document, seeded)
}

async fn run_conformance(backend: FileBackend, seeded: &Seeded) {
    conformance::run_all(&backend, seeded).await;
    let shared: Arc<dyn SecretBackend> = Arc::new(backend);
    conformance::run_all(&shared, seeded).await;
}

#[tokio::test]
async fn passes_the_conformance_suite_from_toml() {
    let (document, seeded) = conformance_document(true);
    let text = toml::to_string(&document).unwrap();
    let (_dir, backend) = open("conformance.toml", &text);
    run_conformance(backend, &seeded).await;
}

#[tokio::test]
async fn passes_the_conformance_suite_from_json() {
    let (document, seeded) = conformance_document(false);
    let text = serde_json::to_string_pretty(&document).unwrap();
    let (_dir, backend) = open("conformance.json", &text);
    run_conformance(backend, &seeded).await;
}

async fn check_example(backend: &FileBackend) {
    let password = backend.fetch(&name("DB-Password"), None).await.unwrap();
    let password = &password.secret;
    assert_eq!(password.expose_secret(), "hunter2");
    let properties = password.properties();
    assert_eq!(properties.name.as_str(), "db-password");
    assert_eq!(properties.version, None);
    assert!(properties.enabled);
    assert_eq!(properties.content_type, None);

    let pinned = "0123456789abcdef0123456789abcdef";
    let key = backend
        .fetch(&name("tls-key"), Some(&version(pinned)))
        .await
        .unwrap()
        .secret;
    assert_eq!(
        key.expose_secret(),
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
    );
    let properties = key.properties();
    assert_eq!(properties.version, Some(version(pinned)));
    assert_eq!(
        properties.content_type.as_deref(),
        Some("application/x-pem-file")
    );
    assert!(properties.enabled);
    assert_eq!(properties.not_before, Some(datetime!(2026-01-01 0:00 UTC)));
    assert_eq!(properties.expires, Some(datetime!(2027-01-01 0:00 UTC)));
    assert_eq!((properties.created, properties.updated), (None, None));

    let old = "00000000000000000000000000000001";
    let new = "00000000000000000000000000000002";
    assert_eq!(value(backend, "api-key", None).await, "new");
    assert_eq!(value(backend, "api-key", Some(old)).await, "old");
    assert_eq!(value(backend, "api-key", Some(new)).await, "new");
    let latest = backend.fetch(&name("api-key"), None).await.unwrap().secret;
    assert_eq!(latest.properties().version, Some(version(new)));
    assert_eq!(
        latest.properties().expires,
        Some(datetime!(2027-01-01 0:00 UTC))
    );
    let first = backend
        .fetch(&name("api-key"), Some(&version(old)))
        .await
        .unwrap()
        .secret;
    assert_eq!(first.properties().expires, None);
    let missing = backend
        .fetch(&name("api-key"), Some(&version(pinned)))
        .await;
    match missing {
        Err(Error::NotFound {
            name,
            version: Some(v),
            location,
        }) => {
            assert_eq!(name.as_str(), "api-key");
            assert_eq!(v.as_str(), pinned);
            assert_eq!(&location, backend.location());
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn reads_shorthand_full_form_and_versions_from_toml() {
    let (_dir, backend) = open("dev.toml", EXAMPLE_TOML);
    check_example(&backend).await;
}

#[tokio::test]
async fn reads_the_same_shape_from_json() {
    let (_dir, backend) = open("dev.json", EXAMPLE_JSON);
    check_example(&backend).await;
}

#[tokio::test]
async fn extensions_are_case_insensitive() {
    let (_dir, backend) = open("DEV.TOML", EXAMPLE_TOML);
    assert_eq!(value(&backend, "db-password", None).await, "hunter2");
    let (_dir, backend) = open("DEV.Json", EXAMPLE_JSON);
    assert_eq!(value(&backend, "db-password", None).await, "hunter2");
}

#[tokio::test]
async fn keeps_empty_and_multi_line_values_byte_for_byte() {
    let toml = concat!(
        "[secrets]\n",
        "empty = \"\"\n",
        "escaped = \"tab\\there\\nquote \\\" backslash \\\\ unicode \\u00e9\"\n",
        "literal = '''\n",
        "C:\\no\\escapes\\here\n",
        "  \"indented\" line\n",
        "'''\n",
        "[secrets.basic]\n",
        "value = \"\"\"\n",
        "first\n",
        "\tsecond \"quoted\"\n",
        "\"\"\"\n",
    );
    let (_dir, backend) = open("values.toml", toml);
    assert_eq!(value(&backend, "empty", None).await, "");
    assert_eq!(
        value(&backend, "escaped", None).await,
        "tab\there\nquote \" backslash \\ unicode é"
    );
    assert_eq!(
        value(&backend, "literal", None).await,
        "C:\\no\\escapes\\here\n  \"indented\" line\n"
    );
    assert_eq!(
        value(&backend, "basic", None).await,
        "first\n\tsecond \"quoted\"\n"
    );

    let json = r#"{"secrets": {"empty": {"value": ""}, "lines": "a\nb\r\n\tc \"d\""}}"#;
    let (_dir, backend) = open("values.json", json);
    assert_eq!(value(&backend, "empty", None).await, "");
    assert_eq!(value(&backend, "lines", None).await, "a\nb\r\n\tc \"d\"");
}

#[tokio::test]
async fn reads_dates_flags_and_offsets() {
    let toml = r#"
[secrets.dated]
value = "v"
enabled = true
created = 2025-06-01T12:30:00+02:00
updated = "2025-06-02T08:00:00.5-01:30"
not-before = 2025-07-01 00:00:00Z
expires = 2030-01-01T00:00Z

[secrets.off]
value = "v"
enabled = false
"#;
    let (_dir, backend) = open("dates.toml", toml);
    let secret = backend.fetch(&name("dated"), None).await.unwrap().secret;
    let properties = secret.properties();
    assert!(properties.enabled);
    assert_eq!(properties.created, Some(datetime!(2025-06-01 12:30 +2)));
    assert_eq!(
        properties.updated,
        Some(datetime!(2025-06-02 08:00:00.5 -1:30))
    );
    assert_eq!(properties.not_before, Some(datetime!(2025-07-01 0:00 UTC)));
    assert_eq!(properties.expires, Some(datetime!(2030-01-01 0:00 UTC)));
    match backend.fetch(&name("off"), None).await {
        Err(Error::Disabled {
            name,
            version,
            location,
        }) => {
            assert_eq!(name.as_str(), "off");
            assert_eq!(version, None);
            assert_eq!(&location, backend.location());
        }
        other => panic!("expected Disabled, got {other:?}"),
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let e = FileBackend::open(&path).unwrap_err();
    let (field, reason) = invalid_config(&e);
    assert_eq!(field, format!("secrets file `{}`", path.display()));
    assert!(reason.contains("does not exist"), "{reason}");
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    let source = std::error::Error::source(&e).expect("the I/O error is kept");
    let io = source
        .downcast_ref::<std::io::Error>()
        .expect("an io::Error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_directory_is_not_a_secrets_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dir.json");
    std::fs::create_dir(&path).unwrap();
    let e = FileBackend::open(&path).unwrap_err();
    let (field, _) = invalid_config(&e);
    assert_eq!(field, format!("secrets file `{}`", path.display()));
    assert!(std::error::Error::source(&e).is_some());
}

#[test]
fn other_extensions_are_refused() {
    for file_name in ["secrets.yaml", "secrets", "secrets.toml.bak", ".toml"] {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, file_name, EXAMPLE_TOML);
        let e = FileBackend::open(&path).unwrap_err();
        let (field, reason) = invalid_config(&e);
        assert_eq!(field, format!("secrets file `{}`", path.display()));
        assert!(reason.contains(".toml or .json"), "{file_name}: {reason}");
    }
}

/// Opens `contents` as `file_name` and checks the error: `field` names the path, `line` and
/// `column`, and `reason` is `` `keys`: `` (when `keys` is not empty), then `message`, then
/// [`FIX`].
#[track_caller]
fn assert_refused_at(
    file_name: &str,
    contents: &str,
    (line, column): (usize, usize),
    keys: &str,
    message: &str,
) {
    let (e, path) = open_err(file_name, contents);
    let (field, reason) = invalid_config(&e);
    assert_eq!(
        field,
        format!(
            "secrets file `{}`, line {line}, column {column}",
            path.display()
        ),
        "{file_name} {contents:?}: {reason}"
    );
    let keys = match keys {
        "" => String::new(),
        keys => format!("`{keys}`: "),
    };
    assert_eq!(
        reason,
        format!("{keys}{message}{FIX}"),
        "{file_name} {contents:?}"
    );
    assert!(!reason.contains('\n'), "{reason}");
}

/// [`assert_refused_at`] for each `(file name, contents, line, column, keys)`, all with the
/// same `message`.
#[track_caller]
fn assert_refused(cases: &[(&str, &str, usize, usize, &str)], message: &str) {
    for (file_name, contents, line, column, keys) in cases {
        assert_refused_at(file_name, contents, (*line, *column), keys, message);
    }
}

#[test]
fn a_toml_syntax_error_names_the_path_line_and_column() {
    let text = "[secrets]\na = \"1\"\nb = \"2\"\nc = = \"3\"\n";
    let (e, path) = open_err("broken.toml", text);
    let (field, reason) = invalid_config(&e);
    assert_eq!(
        field,
        format!("secrets file `{}`, line 4, column 5", path.display())
    );
    assert!(reason.ends_with(FIX), "{reason}");
    assert!(!reason.contains('\n'), "{reason}");
    assert!(
        !reason.starts_with('`'),
        "no keys for a syntax error: {reason}"
    );

    let text = "[secrets]\n\n\nkey = \"unterminated\n";
    let (e, _) = open_err("broken.toml", text);
    let (field, reason) = invalid_config(&e);
    assert!(field.ends_with(", line 4, column 20"), "{field}");
    assert!(reason.contains("string"), "{reason}");
}

#[test]
fn a_json_syntax_error_names_the_path_line_and_column() {
    let text =
        "{\n  \"secrets\": {\n    \"a\": \"1\",\n    \"b\": \"2\"\n    \"c\": \"3\"\n  }\n}\n";
    let (e, path) = open_err("broken.json", text);
    let (field, reason) = invalid_config(&e);
    assert_eq!(
        field,
        format!("secrets file `{}`, line 5, column 5", path.display())
    );
    assert_eq!(reason, format!("`secrets`: expected `,` or `}}`{FIX}"));

    assert_refused(
        &[("x.json", r#"{"secrets": {"a": "v"}} {}"#, 1, 25, "")],
        "trailing characters",
    );
    assert_refused(
        &[("x.json", r#"{"secrets": {"a": "v"#, 1, 20, "secrets.a")],
        "EOF while parsing a string",
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    write_private(&path, b"[secrets]\nkey = \"caf\xe9\"\n");
    let e = FileBackend::open(&path).unwrap_err();
    let (field, reason) = invalid_config(&e);
    assert_eq!(
        field,
        format!("secrets file `{}`, line 2, column 11", path.display())
    );
    assert_eq!(reason, format!("the file is not UTF-8 text{FIX}"));
}

#[test]
fn an_empty_file_holds_no_secrets() {
    for (file_name, contents) in [
        ("empty.toml", ""),
        ("empty.json", "{}"),
        ("empty.toml", "[secrets]\n"),
        ("empty.json", r#"{"secrets": {}}"#),
    ] {
        let (_dir, backend) = open(file_name, contents);
        assert_eq!(
            format!("{backend:?}"),
            format!("FileBackend {{ path: {:?}, secrets: 0 }}", backend.path())
        );
    }
}

#[test]
fn unknown_fields_are_refused() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = \"v\"\nvalu = \"v\"\n",
                3,
                1,
                "secrets.a",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "valu": "v"}}}"#,
                1,
                39,
                "secrets.a",
            ),
        ],
        "unknown field, expected one of `versions`, `value`, `version`, `content-type`, `enabled`, `not-before`, `expires`, `created`, `updated`",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nversions = [{ value = \"v\", version = \"0123456789abcdef0123456789abcdef\", versions = [] }]\n",
                2,
                74,
                "secrets.a.versions[0].versions",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"versions": [{"value": "v", "versions": []}]}}}"#,
                1,
                57,
                "secrets.a.versions[0].versions",
            ),
        ],
        "unknown field, expected one of `value`, `version`, `content-type`, `enabled`, `not-before`, `expires`, `created`, `updated`",
    );
    assert_refused(
        &[
            ("x.toml", "a = \"v\"\n", 1, 1, ""),
            ("x.json", r#"{"secret": {"a": "v"}}"#, 1, 9, ""),
        ],
        "unknown field, expected `secrets`",
    );
    assert_refused(
        &[(
            "x.json",
            r#"{"secrets": {"a": {"value": "v", "value": "w"}}}"#,
            1,
            40,
            "secrets.a",
        )],
        "duplicate field `value`",
    );
    assert_refused(
        &[("x.json", r#"{"secrets": {}, "secrets": {}}"#, 1, 25, "")],
        "duplicate field `secrets`",
    );
}

#[test]
fn an_unknown_field_is_reported_at_its_line() {
    let (e, _) = open_err(
        "x.toml",
        "[secrets.a]\nvalue = \"v\"\n\ncontent_type = \"text/plain\"\n",
    );
    let (field, reason) = invalid_config(&e);
    assert!(field.ends_with(", line 4, column 1"), "{field}");
    assert!(
        reason.starts_with("`secrets.a`: unknown field, "),
        "{reason}"
    );
}

#[test]
fn invalid_names_are_refused() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets]\n\"db_password\" = \"v\"\n",
                2,
                1,
                "secrets",
            ),
            (
                "x.json",
                r#"{"secrets": {"db_password": "v"}}"#,
                1,
                26,
                "secrets",
            ),
        ],
        "invalid secret name: character '_' at position 3 is not allowed; names are 1 to 127 letters, digits and '-'",
    );
    assert_refused(
        &[
            ("x.toml", "[secrets]\n\"\" = \"v\"\n", 2, 1, "secrets"),
            ("x.json", r#"{"secrets": {"": "v"}}"#, 1, 15, "secrets"),
        ],
        "invalid secret name: it is empty; names are 1 to 127 letters, digits and '-'",
    );
    let long = "a".repeat(128);
    assert_refused(
        &[(
            "x.toml",
            &format!("[secrets]\n{long} = \"v\"\n"),
            2,
            1,
            "secrets",
        )],
        "invalid secret name: it is 128 characters long, over the limit of 127; names are 1 to 127 letters, digits and '-'",
    );
    let (e, _) = open_err("x.toml", "[secrets]\n\"not valid\" = \"v\"\n");
    assert!(!e.to_string().contains("not valid"), "{e}");
}

#[test]
fn invalid_versions_are_refused() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = \"v\"\nversion = \"0123\"\n",
                3,
                11,
                "secrets.a.version",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "version": "0123"}}}"#,
                1,
                50,
                "secrets.a.version",
            ),
        ],
        "invalid `version`: it does not have 32 digits; `version` must be a string of 32 hexadecimal digits, such as \"0123456789abcdef0123456789abcdef\"",
    );
    assert_refused(
        &[(
            "x.toml",
            "[secrets.a]\nversions = [{ value = \"v\", version = \"0123456789abcdef0123456789abcdeg\" }]\n",
            2,
            38,
            "secrets.a.versions[0].version",
        )],
        "invalid `version`: it has a character that is not a hexadecimal digit; `version` must be a string of 32 hexadecimal digits, such as \"0123456789abcdef0123456789abcdef\"",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = \"v\"\nversion = 12\n",
                3,
                11,
                "secrets.a.version",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "version": null}}}"#,
                1,
                48,
                "secrets.a.version",
            ),
        ],
        "`version` must be a string of 32 hexadecimal digits, such as \"0123456789abcdef0123456789abcdef\"",
    );
}

#[test]
fn fields_of_the_wrong_type_are_refused() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = \"v\"\nenabled = \"no\"\n",
                3,
                11,
                "secrets.a.enabled",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "enabled": 0}}}"#,
                1,
                45,
                "secrets.a.enabled",
            ),
        ],
        "`enabled` must be true or false",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = \"v\"\ncontent-type = []\n",
                3,
                16,
                "secrets.a.content-type",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "content-type": null}}}"#,
                1,
                53,
                "secrets.a.content-type",
            ),
        ],
        "`content-type` must be a string, such as \"text/plain\"",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nvalue = 12\n",
                2,
                9,
                "secrets.a.value",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": null}}}"#,
                1,
                32,
                "secrets.a.value",
            ),
        ],
        "a secret value must be a string; put it in quotes",
    );
    assert_refused(
        &[
            ("x.toml", "[secrets]\na = 12\n", 2, 5, "secrets.a"),
            ("x.json", r#"{"secrets": {"a": [1]}}"#, 1, 19, "secrets.a"),
        ],
        "a secret must be a string (its value) or a table with `value` or `versions`",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nversions = \"v\"\n",
                2,
                12,
                "secrets.a.versions",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"versions": {}}}}"#,
                1,
                33,
                "secrets.a.versions",
            ),
        ],
        "`versions` must be a list of tables, oldest first",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nversions = [\"v\"]\n",
                2,
                13,
                "secrets.a.versions[0]",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"versions": [[]]}}}"#,
                1,
                34,
                "secrets.a.versions[0]",
            ),
        ],
        "each entry of `versions` must be a table with `version` and `value`",
    );
    assert_refused(
        &[
            ("x.toml", "secrets = 1\n", 1, 11, "secrets"),
            ("x.json", r#"{"secrets": []}"#, 1, 14, "secrets"),
        ],
        "`secrets` must be a table (in JSON, an object) of secrets by name",
    );
    assert_refused(
        &[("x.json", r#"["secrets"]"#, 1, 1, "")],
        "a secrets file holds a `secrets` table (in JSON, an object with a `secrets` object)",
    );
}

#[test]
fn value_and_versions_together_are_refused() {
    let v1 = "00000000000000000000000000000001";
    assert_refused(
        &[
            (
                "x.toml",
                &format!(
                    "[secrets.a]\nvalue = \"v\"\nversions = [{{ version = \"{v1}\", value = \"w\" }}]\n"
                ),
                1,
                1,
                "secrets.a",
            ),
            (
                "x.json",
                &format!(
                    r#"{{"secrets": {{"a": {{"versions": [{{"version": "{v1}", "value": "w"}}], "value": "v"}}}}}}"#
                ),
                1,
                109,
                "secrets.a",
            ),
        ],
        "this secret has both `value` and `versions`; keep `value` for one version, or `versions` for several",
    );
}

#[test]
fn a_secret_needs_a_value_or_versions() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\ncontent-type = \"text/plain\"\n",
                1,
                1,
                "secrets.a",
            ),
            ("x.json", r#"{"secrets": {"a": {}}}"#, 1, 20, "secrets.a"),
        ],
        "this secret has neither `value` nor `versions`; give `value` for one version, or `versions` for several",
    );
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.a]\nversions = []\n",
                2,
                12,
                "secrets.a.versions",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"versions": []}}}"#,
                1,
                33,
                "secrets.a.versions",
            ),
        ],
        "`versions` is empty; give at least one version",
    );
    assert_refused(
        &[(
            "x.toml",
            "[secrets.a]\nversions = [{ version = \"00000000000000000000000000000001\" }]\n",
            2,
            13,
            "secrets.a.versions[0]",
        )],
        "this version has no `value`",
    );
    assert_refused(
        &[(
            "x.json",
            r#"{"secrets": {"a": {"versions": [{"version": "00000000000000000000000000000001", "value": "1"}, {"value": "2"}]}}}"#,
            1,
            109,
            "secrets.a.versions[1]",
        )],
        "this version has no `version`; give each entry of `versions` its own `version` of 32 hexadecimal digits, so that it can be pinned",
    );
    assert_refused(
        &[(
            "x.toml",
            "[secrets.a]\nenabled = false\nversions = [{ version = \"00000000000000000000000000000001\", value = \"1\" }]\n",
            1,
            1,
            "secrets.a",
        )],
        "this secret has `versions`, so `enabled` belongs on each of its versions, not on the secret",
    );
}

#[test]
fn duplicate_versions_are_refused() {
    let toml = concat!(
        "[secrets.a]\n",
        "versions = [\n",
        "  { version = \"0123456789abcdef0123456789abcdef\", value = \"1\" },\n",
        "  { version = \"0123456789ABCDEF0123456789ABCDEF\", value = \"2\" },\n",
        "]\n",
    );
    let json = r#"{"secrets": {"a": {"versions": [
        {"version": "00000000000000000000000000000001", "value": "1"},
        {"version": "00000000000000000000000000000001", "value": "2"}]}}}"#;
    assert_refused(
        &[
            ("x.toml", toml, 4, 3, "secrets.a.versions[1]"),
            ("x.json", json, 3, 69, "secrets.a.versions[1]"),
        ],
        "this version repeats the `version` of an earlier one; each version of a secret needs its own id",
    );
}

#[test]
fn names_that_differ_only_in_case_are_refused() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets]\nDb-Password = \"1\"\ndb-password = \"2\"\n",
                3,
                15,
                "secrets.db-password",
            ),
            (
                "x.toml",
                "[secrets]\ndb-password = \"1\"\n[secrets.DB-PASSWORD]\nvalue = \"2\"\n",
                3,
                1,
                "secrets.DB-PASSWORD",
            ),
            (
                "x.json",
                r#"{"secrets": {"db-password": "1", "DB-password": {"value": "2"}}}"#,
                1,
                49,
                "secrets.DB-password",
            ),
            (
                "x.json",
                r#"{"secrets": {"db": "1", "db": "2"}}"#,
                1,
                33,
                "secrets.db",
            ),
        ],
        "this secret is defined twice, under names that are the same or differ only in case; names are case-insensitive, as in Key Vault, so keep one",
    );
}

#[test]
fn dates_need_a_time_and_an_offset() {
    let date = |expires: &str| format!("[secrets.a]\nvalue = \"v\"\nexpires = {expires}\n");
    assert_refused(
        &[
            (
                "x.toml",
                &date("2027-01-01T00:00:00"),
                3,
                11,
                "secrets.a.expires",
            ),
            ("x.toml", &date("2027-01-01"), 3, 11, "secrets.a.expires"),
            ("x.toml", &date("10:00:00"), 3, 11, "secrets.a.expires"),
            (
                "x.toml",
                &date("\"2027-01-01\""),
                3,
                11,
                "secrets.a.expires",
            ),
            ("x.toml", &date("1798761600"), 3, 11, "secrets.a.expires"),
            ("x.toml", &date("{ a = 1 }"), 3, 11, "secrets.a.expires"),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "expires": "yesterday"}}}"#,
                1,
                55,
                "secrets.a.expires",
            ),
            (
                "x.json",
                r#"{"secrets": {"a": {"value": "v", "expires": {"$__toml_private_datetime": 1}}}}"#,
                1,
                74,
                "secrets.a.expires",
            ),
        ],
        "a date must have a time and an offset: a TOML date-time such as 2027-01-01T00:00:00Z, or an RFC 3339 string such as \"2027-01-01T00:00:00Z\"",
    );
}

#[test]
fn malformed_files_never_echo_values() {
    let cases: &[(&str, &str)] = &[
        // TOML, shorthand.
        ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\n"),
        ("x.toml", "[secrets]\ndb = 'CANARY-9f8e7d\n"),
        ("x.toml", "[secrets]\ndb = \"\"\"CANARY-9f8e7d\n"),
        ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\\q\"\n"),
        ("x.toml", "[secrets]\ndb = CANARY-9f8e7d\n"),
        ("x.toml", "[secrets]\ndb = [\"CANARY-9f8e7d\"]\n"),
        ("x.toml", "[secrets]\ndb = 1234567890123\n"),
        ("x.toml", "[secrets]\ndb = -1234567890123\n"),
        ("x.toml", "[secrets]\ndb = 1234567890123.5\n"),
        (
            "x.toml",
            "[secrets]\ndb = 170141183460469231731687303715884105727\n",
        ),
        (
            "x.toml",
            "[secrets]\ndb = 340282366920938463463374607431768211455\n",
        ),
        (
            "x.toml",
            "[secrets]\ndb = 1234567890123456789012345678901234567890123\n",
        ),
        ("x.toml", "[secrets]\ndb = true # CANARY-9f8e7d\n"),
        (
            "x.toml",
            "[secrets]\ndb = 2026-01-01T00:00:00Z # CANARY-9f8e7d\n",
        ),
        (
            "x.toml",
            "[secrets]\ndb = \"CANARY-9f8e7d\"\ndb = \"CANARY-9f8e7d\"\n",
        ),
        ("x.toml", "[secrets]\ndb = \"CANARY-9f8e7d\" extra\n"),
        ("x.toml", "secrets = \"CANARY-9f8e7d\"\n"),
        ("x.toml", "secrets = 1234567890123\n"),
        // TOML, full form.
        ("x.toml", "[secrets.db]\nvalue = \"CANARY-9f8e7d\n"),
        ("x.toml", "[secrets.db]\nvalue = 1234567890123\n"),
        (
            "x.toml",
            "[secrets.db]\nvalue = 170141183460469231731687303715884105727\n",
        ),
        ("x.toml", "[secrets.db]\nvalue = [\"CANARY-9f8e7d\"]\n"),
        (
            "x.toml",
            "[secrets.db]\nvalue = { inner = \"CANARY-9f8e7d\" }\n",
        ),
        ("x.toml", "[secrets.db]\nvalue = false # CANARY-9f8e7d\n"),
        (
            "x.toml",
            "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nenabled = \"CANARY-9f8e7d\"\n",
        ),
        (
            "x.toml",
            "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nexpires = \"CANARY-9f8e7d\"\n",
        ),
        (
            "x.toml",
            "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nversion = \"CANARY-9f8e7d\"\n",
        ),
        (
            "x.toml",
            "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\ncontent-type = 1234567890123\n",
        ),
        (
            "x.toml",
            "[secrets.db]\nvalue = \"CANARY-9f8e7d\"\nvalu = \"CANARY-9f8e7d\"\n",
        ),
        ("x.toml", "[secrets.db]\nversions = \"CANARY-9f8e7d\"\n"),
        ("x.toml", "[secrets.db]\nversions = [\"CANARY-9f8e7d\"]\n"),
        ("x.toml", "[secrets.db]\nversions = [[\"CANARY-9f8e7d\"]]\n"),
        (
            "x.toml",
            "[secrets.db]\nversions = [{ version = \"0123456789abcdef0123456789abcdef\", value = 1234567890123 }]\n",
        ),
        // JSON, document and shorthand.
        ("x.json", "\"CANARY-9f8e7d\""),
        ("x.json", "[\"CANARY-9f8e7d\"]"),
        ("x.json", "1234567890123"),
        ("x.json", "{\"secrets\": \"CANARY-9f8e7d\"}"),
        ("x.json", "{\"secrets\": [\"CANARY-9f8e7d\"]}"),
        ("x.json", "{\"secrets\": {\"db\": \"CANARY-9f8e7d}}"),
        ("x.json", "{\"secrets\": {\"db\": \"CANARY-9f8e7d\\q\"}}"),
        ("x.json", "{\"secrets\": {\"db\": CANARY-9f8e7d}}"),
        ("x.json", "{\"secrets\": {\"db\": 1234567890123}}"),
        ("x.json", "{\"secrets\": {\"db\": -1234567890123}}"),
        ("x.json", "{\"secrets\": {\"db\": 1234567890123.5}}"),
        (
            "x.json",
            "{\"secrets\": {\"db\": 1234567890123456789012345678901234567890}}",
        ),
        ("x.json", "{\"secrets\": {\"db\": [\"CANARY-9f8e7d\"]}}"),
        (
            "x.json",
            "{\"secrets\": {\"db\": true}, \"x\": \"CANARY-9f8e7d\"}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": null}, \"x\": \"CANARY-9f8e7d\"}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": \"CANARY-9f8e7d\"}} \"CANARY-9f8e7d\"",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": \"CANARY-9f8e7d\", \"DB\": \"CANARY-9f8e7d\"}}",
        ),
        // JSON, full form.
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": 1234567890123}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": 1234567890123.5}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": [\"CANARY-9f8e7d\"]}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": {\"x\": \"CANARY-9f8e7d\"}}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": true, \"x\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"enabled\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"expires\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"version\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"content-type\": 1234567890123}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"value\": \"CANARY-9f8e7d\", \"value\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"versions\": \"CANARY-9f8e7d\"}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"versions\": [\"CANARY-9f8e7d\"]}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"versions\": [{\"value\": 1234567890123}]}}}",
        ),
        (
            "x.json",
            "{\"secrets\": {\"db\": {\"expires\": {\"$__toml_private_datetime\": \"CANARY-9f8e7d\"}}}}",
        ),
    ];
    for (file_name, contents) in cases {
        let (e, _) = open_err(file_name, contents);
        let (field, _) = invalid_config(&e);
        assert!(
            field.contains(", line "),
            "{file_name} {contents:?}: {field}"
        );
        for text in error_texts(&e) {
            for leak in LEAKS {
                assert!(
                    !text.contains(leak),
                    "{file_name} {contents:?}: `{leak}` leaked into: {text}"
                );
            }
        }
    }
}

#[test]
fn values_typed_where_keys_belong_are_not_echoed() {
    for (file_name, contents) in [
        ("x.json", r#"{"secrets": {"db": {"CANARY-9f8e7d"}}}"#),
        ("x.json", r#"{"CANARY-9f8e7d"}"#),
        ("x.json", r#"{"secrets": {"db": {"value: CANARY-9f8e7d"}}}"#),
        ("x.json", r#"{"secrets": {"db": {"CANARY-9f8e7d": 1}}}"#),
        (
            "x.json",
            r#"{"secrets": {"db": {"versions": [{"CANARY-9f8e7d": 1}]}}}"#,
        ),
        ("x.json", r#"{"CANARY-9f8e7d": 1}"#),
        ("x.json", r#"{"secrets": {"CANARY_9f8e7d": 1}}"#),
        ("x.toml", "[secrets.db]\n\"CANARY-9f8e7d\" = 1\n"),
        ("x.toml", "[secrets.db]\nCANARY-9f8e7d\n"),
        ("x.toml", "CANARY-9f8e7d = 1\n"),
        ("x.toml", "[secrets]\n\"CANARY 9f8e7d\" = \"v\"\n"),
        ("x.toml", "[secrets.db.CANARY-9f8e7d]\nvalue = \"v\"\n"),
        // Keys made to look like the end of serde's messages.
        (
            "x.toml",
            "[secrets.db]\n\"CANARY`, expected one of `CANARY\" = 1\n",
        ),
        (
            "x.json",
            r#"{"secrets": {"db": {"CANARY`, there are no fields": 1}}}"#,
        ),
        (
            "x.json",
            r#"{"secrets": {"db": {"value": "v", "enabled": "CANARY\", expected CANARY"}}}"#,
        ),
        (
            "x.json",
            r#"{"secrets": {"db": {"value": "v"}}, "CANARY`, expected `secrets": 1}"#,
        ),
    ] {
        let (e, _) = open_err(file_name, contents);
        for text in error_texts(&e) {
            assert!(
                !text.contains("CANARY") && !text.contains("9f8e7d"),
                "{contents:?}: leaked into {text}"
            );
        }
    }
}

/// The keys of an error are shown up to the first one that is not a name: the place of a
/// value typed where a key belongs is the table it was typed in.
#[test]
fn keys_that_are_not_names_are_left_out_of_the_path() {
    assert_refused(
        &[
            (
                "x.toml",
                "[secrets.db]\n\"CANARY-9f8e7d\" = 1\n",
                2,
                1,
                "secrets.db",
            ),
            (
                "x.json",
                r#"{"secrets": {"db": {"CANARY-9f8e7d": 1}}}"#,
                1,
                35,
                "secrets.db",
            ),
        ],
        "unknown field, expected one of `versions`, `value`, `version`, `content-type`, `enabled`, `not-before`, `expires`, `created`, `updated`",
    );
    assert_refused(
        &[("x.json", r#"{"CANARY-9f8e7d": 1}"#, 1, 16, "")],
        "unknown field, expected `secrets`",
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 2000,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/file_backend.txt"),
        )),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random damage to a valid file never makes an error quote the secret value: the
    /// messages are only ever about positions, keys and expected shapes.
    #[test]
    fn damaged_files_never_echo_the_value(
        json in proptest::bool::ANY,
        edits in proptest::collection::vec((proptest::bool::ANY, 0usize..20, 0usize..15), 1..4),
    ) {
        // Underscores make the canary invalid as a secret name, so it cannot become one.
        const VALUE: &str = "CANARY_9f8e7d";
        let mut text = if json {
            format!(r#"{{"secrets": {{"db": "{VALUE}", "tls": {{"value": "{VALUE}", "enabled": true}}}}}}"#)
        } else {
            format!("[secrets]\ndb = \"{VALUE}\"\n[secrets.tls]\nvalue = \"{VALUE}\"\nenabled = true\n")
        }
        .into_bytes();
        // Damage lands around one of the two values, where it can move a value into another
        // role (a key, a bare word, a table).
        let starts: Vec<usize> = {
            let t = String::from_utf8_lossy(&text).into_owned();
            t.match_indices(VALUE).map(|(i, _)| i).collect()
        };
        for (second, offset, what) in edits {
            let at = (starts[usize::from(second)] + offset).saturating_sub(4).min(text.len());
            match what {
                0 if at < text.len() => { text.remove(at); }
                1 if at < text.len() => { let c = text[at]; text.insert(at, c); }
                n => text.insert(at, b"{}[]\":=,\n' #x"[n - 2]),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if json { "damaged.json" } else { "damaged.toml" });
        write_private(&path, &text);
        if let Err(e) = FileBackend::open(&path) {
            for message in error_texts(&e) {
                proptest::prop_assert!(
                    !message.contains("CANARY") && !message.contains("9f8e7d"),
                    "{:?} gave {message}", String::from_utf8_lossy(&text)
                );
            }
        }
    }
}

#[test]
fn debug_shows_only_the_path_and_the_count() {
    let toml = format!("[secrets]\na = \"{CANARY}\"\n[secrets.b]\nvalue = \"{CANARY}\"\n");
    let (_dir, backend) = open("debug.toml", &toml);
    let debug = format!("{backend:?}");
    assert_eq!(
        debug,
        format!("FileBackend {{ path: {:?}, secrets: 2 }}", backend.path())
    );
    let pretty = format!("{backend:#?}");
    assert!(!pretty.contains(CANARY), "{pretty}");
}

#[tokio::test]
async fn location_and_path_name_the_file() {
    let (dir, backend) = open("loc.json", r#"{"secrets": {}}"#);
    let path = dir.path().join("loc.json");
    assert_eq!(backend.path(), path);
    assert_eq!(
        backend.location().to_string(),
        format!("file {}", path.display())
    );
    assert_eq!(backend.location().path(), Some(path.as_path()));
    assert_eq!(backend.location().host(), None);
    match backend.fetch(&name("absent"), None).await {
        Err(e @ Error::NotFound { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}")
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn reload_picks_up_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
    let backend = FileBackend::open(&path).unwrap();
    assert_eq!(value(&backend, "a", None).await, "one");
    write(&dir, "dev.toml", "[secrets]\na = \"two\"\nb = \"new\"\n");
    assert_eq!(value(&backend, "a", None).await, "one", "not before reload");
    backend.reload().unwrap();
    assert_eq!(value(&backend, "a", None).await, "two");
    assert_eq!(value(&backend, "b", None).await, "new");
    write(&dir, "dev.toml", "[secrets]\nb = \"newer\"\n");
    backend.reload().unwrap();
    assert!(matches!(
        backend.fetch(&name("a"), None).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_failed_reload_keeps_the_old_contents() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "dev.json", r#"{"secrets": {"a": "one"}}"#);
    let backend = FileBackend::open(&path).unwrap();
    write(&dir, "dev.json", r#"{"secrets": {"a": "two", }}"#);
    let e = backend.reload().unwrap_err();
    let (field, _) = invalid_config(&e);
    assert_eq!(
        field,
        format!("secrets file `{}`, line 1, column 26", path.display())
    );
    assert_eq!(value(&backend, "a", None).await, "one");
    std::fs::remove_file(&path).unwrap();
    let e = backend.reload().unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(value(&backend, "a", None).await, "one");
}

#[tokio::test]
async fn check_reports_a_vanished_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
    let backend = FileBackend::open(&path).unwrap();
    backend.check().await.unwrap();
    std::fs::remove_file(&path).unwrap();
    let e = backend.check().await.unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(e.is_temporary());
    assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    assert!(std::error::Error::source(&e).is_some());
    assert_eq!(value(&backend, "a", None).await, "one", "still served");
    std::fs::create_dir(&path).unwrap();
    let e = backend.check().await.unwrap_err();
    assert!(e.to_string().contains("no longer a regular file"), "{e}");
    std::fs::remove_dir(&path).unwrap();
    write(&dir, "dev.toml", "[secrets]\na = \"one\"\n");
    backend.check().await.unwrap();
}

#[test]
fn a_file_other_users_can_read_is_refused_unless_allowed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, "shared.toml", "[secrets]\ndb = \"v\"\n");
    for mode in [0o644, 0o640, 0o604] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let e = FileBackend::open(&path).unwrap_err();
        let (field, reason) = invalid_config(&e);
        assert_eq!(field, format!("secrets file `{}`", path.display()));
        assert!(
            reason.contains(&format!("other users can read it (mode {mode:o})"))
                && reason.contains("chmod 600")
                && reason.contains("with_allow_readable_by_others"),
            "{reason}"
        );
        let allowed = FileOptions::new().with_allow_readable_by_others(true);
        assert!(FileBackend::open_with(&path, allowed).is_ok());
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let backend = FileBackend::open(&path).unwrap();
    // A reload reads the mode again, and keeps the secrets it had when refusing.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(backend.reload().is_err());
    let name = secretscope::SecretName::new("db").unwrap();
    assert!(matches!(backend.fetch_now(&name, None), Some(Ok(_))));
}
