//! Robustness of the workspace configuration reader and of `render`: no input panics, and none
//! is quoted back in an error, its `Debug` or its causes, whatever the file and the
//! `SECRETSCOPE_*` variables hold.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)] // the fuzz targets' checks; only `error_texts` is used here
mod properties;

use proptest::prelude::*;
use secretscope::fuzzing::CANARY;
use secretscope::prelude::*;
use secretscope::testing::Fixture;
use secretscope::{ScopeMode, WorkspaceConfig};

/// Asserts that no text printed about `error` holds the canary, or part of it.
fn assert_unquoted(error: &secretscope::Error) {
    for text in properties::error_texts(error) {
        assert!(!text.contains(CANARY), "quoted: {text}");
        assert!(!text.contains("canary"), "quoted in part: {text}");
    }
}

/// A key: one of the reader's, or the canary.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "scope", "state-file", "known-references", "workspace", "projects", "cache",
            "budget", "validity", "audit", "azure", "file", "name", "path", "vault-url",
            "tenant-id", "client-id", "client-secret", "env", "value", "ttl-seconds",
            "rate-per-second", "allow-expired", "billing",
        ])
        .prop_map(str::to_owned),
        1 => Just(format!("\"{CANARY}\"")),
    ]
}

/// A TOML value, the canary somewhere in it when it can hold text.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(format!("\"{CANARY}\"")),
        Just(format!("\"{{{{ {CANARY} }}}}\"")),
        Just("\"workspace\"".to_owned()),
        Just("\"project\"".to_owned()),
        Just("\"https://corp.vault.azure.net\"".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("1.5".to_owned()),
        Just("2027-01-01T00:00:00Z".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((key(), inner), 0..4).prop_map(|pairs| {
                let pairs: Vec<String> = pairs
                    .into_iter()
                    .map(|(k, v)| format!("{k} = {v}"))
                    .collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

/// A document: top-level pairs, tables of pairs, and at times raw text with the canary.
fn document() -> impl Strategy<Value = String> {
    fn pairs() -> impl Strategy<Value = String> {
        prop::collection::vec((key(), value()), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect::<String>()
        })
    }
    let table = (prop::collection::vec(key(), 1..4), pairs())
        .prop_map(|(path, body)| format!("[{}]\n{body}", path.join(".")));
    prop_oneof![
        6 => (pairs(), prop::collection::vec(table, 0..4)).prop_map(|(top, tables)| top + &tables.concat()),
        1 => "\\PC{0,80}".prop_map(|text| format!("{text}{CANARY}{text}")),
    ]
}

fn variables() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just("SECRETSCOPE_SCOPE".to_owned()),
        Just("SECRETSCOPE_CACHE__TTL_SECONDS".to_owned()),
        Just("SECRETSCOPE_WORKSPACE__AZURE__CLIENT_SECRET".to_owned()),
        Just("SECRETSCOPE_PROJECTS__BILLING__FILE__PATH".to_owned()),
        Just("SECRETSCOPE_SCOPE__X".to_owned()),
        "SECRETSCOPE_[A-Z_]{0,12}",
    ];
    let value = prop_oneof![
        Just(CANARY.to_owned()),
        Just(format!("[\"{CANARY}\"]")),
        Just("12".to_owned()),
        Just("true".to_owned()),
    ];
    prop::collection::vec((name, value), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_configuration_panics_or_is_quoted_back(
        text in document(),
        json in any::<bool>(),
        variables in variables(),
    ) {
        let folder = tempfile::tempdir().unwrap();
        let (name, text) = if json {
            // The same document, as JSON when it is valid TOML (else the text as it is).
            let json = toml::from_str::<toml::Table>(&text)
                .ok()
                .and_then(|table| serde_json::to_string(&table).ok())
                .unwrap_or(text);
            ("secretscope.json", json)
        } else {
            ("secretscope.toml", text)
        };
        let path = folder.path().join(name);
        std::fs::write(&path, &text).unwrap();
        match WorkspaceConfig::from_file_with_env(&path, variables) {
            Err(error) => assert_unquoted(&error),
            Ok(config) => {
                let debug = format!("{config:?}");
                prop_assert!(!debug.contains(CANARY), "{}", debug);
                if let Err(error) = config.build() {
                    assert_unquoted(&error);
                }
            }
        }
    }

    #[test]
    fn no_template_panics_or_is_quoted_back(text in "\\PC{0,40}", at in 0usize..40) {
        let mut template: Vec<char> = text.chars().collect();
        let at = at.min(template.len());
        template.splice(at..at, format!("{{{{ {CANARY}").chars());
        let template: String = template.into_iter().collect();
        let manager = Fixture::new().with_workspace_secret("a", "b").manager(ScopeMode::Workspace);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        if let Err(error) = runtime.block_on(manager.render(&template)) {
            assert_unquoted(&error);
        }
    }
}
