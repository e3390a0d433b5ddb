//! The behaviour suite every [`SecretBackend`] runs, backends and layers alike.
//!
//! A backend's tests store the [`fixtures`] by the backend's own means, record the versions the
//! backend assigned in a [`Seeded`], then call [`run_all`] (and again through
//! `Arc<dyn SecretBackend>`). A layer runs it over a backend holding the fixtures; a layer that
//! enforces validity dates runs [`run_all_with`] and [`Dates::Enforced`]. Each check panics
//! with a message saying which behaviour is wrong, like an assertion in a test.
//!
//! Enabled by the `conformance` cargo feature; the crate's own tests always have it.

use std::collections::HashMap;

use time::OffsetDateTime;
use time::macros::datetime;

use crate::backend::SecretBackend;
use crate::error::Error;
use crate::memory::{MemoryBackend, SecretAttributes};
use crate::reference::{SecretName, SecretVersion};

/// A secret the suite expects the backend to hold.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Fixture {
    /// The secret name.
    pub name: &'static str,
    /// Its versions, oldest first; the last one is the latest.
    pub versions: Vec<FixtureVersion>,
}

/// One version of a [`Fixture`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FixtureVersion {
    /// The value to store. These are test values, not secrets.
    pub value: &'static str,
    /// The attributes to store with it.
    pub attributes: SecretAttributes,
}

/// A fixed expiry date in the past, stored on [`EXPIRED`].
pub const PAST: OffsetDateTime = datetime!(2021-03-04 05:06:07 UTC);
/// A fixed not-before date in the future, stored on [`NOT_YET_VALID`].
pub const FUTURE: OffsetDateTime = datetime!(2099-01-02 03:04:05 UTC);

/// A secret with one version.
pub const PLAIN: &str = "conformance-plain";
/// A secret with two versions.
pub const VERSIONED: &str = "conformance-versioned";
/// A secret whose value spans lines, with a content type.
pub const MULTILINE: &str = "conformance-multiline";
/// A disabled secret.
pub const DISABLED: &str = "conformance-disabled";
/// A secret whose latest version is disabled and whose older version is not.
pub const DISABLED_LATEST: &str = "conformance-disabled-latest";
/// A secret whose expiry date has passed: backends still return it.
pub const EXPIRED: &str = "conformance-expired";
/// A secret whose not-before date has not come: backends still return it.
pub const NOT_YET_VALID: &str = "conformance-not-yet-valid";

const MULTILINE_VALUE: &str =
    "-----BEGIN KEY-----\nline two\n\ttabbed \"quoted\" line\n-----END KEY-----\n";

/// The secrets the suite expects, to be stored before [`run_all`].
pub fn fixtures() -> Vec<Fixture> {
    let one = |value, attributes| vec![FixtureVersion { value, attributes }];
    vec![
        Fixture {
            name: PLAIN,
            versions: one("plain value", SecretAttributes::new()),
        },
        Fixture {
            name: VERSIONED,
            versions: vec![
                FixtureVersion {
                    value: "first value",
                    attributes: SecretAttributes::new(),
                },
                FixtureVersion {
                    value: "second value",
                    attributes: SecretAttributes::new(),
                },
            ],
        },
        Fixture {
            name: MULTILINE,
            versions: one(
                MULTILINE_VALUE,
                SecretAttributes::new().with_content_type("application/x-pem-file"),
            ),
        },
        Fixture {
            name: DISABLED,
            versions: one(
                "disabled value",
                SecretAttributes::new().with_enabled(false),
            ),
        },
        Fixture {
            name: DISABLED_LATEST,
            versions: vec![
                FixtureVersion {
                    value: "older enabled value",
                    attributes: SecretAttributes::new(),
                },
                FixtureVersion {
                    value: "newer disabled value",
                    attributes: SecretAttributes::new().with_enabled(false),
                },
            ],
        },
        Fixture {
            name: EXPIRED,
            versions: one("expired value", SecretAttributes::new().with_expires(PAST)),
        },
        Fixture {
            name: NOT_YET_VALID,
            versions: one(
                "future value",
                SecretAttributes::new().with_not_before(FUTURE),
            ),
        },
    ]
}

/// The versions a backend assigned to the fixtures while they were stored.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    versions: HashMap<&'static str, Vec<Option<SecretVersion>>>,
}

impl Seeded {
    /// Nothing recorded yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the version the backend assigned to the next version of fixture `name`
    /// (`None` if the backend has no version identifiers).
    pub fn record(&mut self, name: &'static str, version: Option<SecretVersion>) {
        self.versions.entry(name).or_default().push(version);
    }

    fn of(&self, name: &str) -> &[Option<SecretVersion>] {
        self.versions
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// A [`MemoryBackend`] holding every fixture, with the versions it assigned: the backend to
/// run a layer over when the layer's own conformance is tested.
pub fn seeded_memory() -> (MemoryBackend, Seeded) {
    let backend = MemoryBackend::new();
    let mut seeded = Seeded::new();
    for fixture in fixtures() {
        for version in &fixture.versions {
            let assigned = backend
                .set_with(fixture.name, version.value, version.attributes.clone())
                .expect("every fixture is a valid name and value");
            seeded.record(fixture.name, Some(assigned));
        }
    }
    (backend, seeded)
}

/// What a backend does with a secret outside its validity dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dates {
    /// Returns it with its dates: what a backend does (Key Vault does too).
    Reported,
    /// Refuses it with [`Error::Expired`] / [`Error::NotYetValid`] giving the date: what the
    /// validity layer does with its default options.
    Enforced,
}

/// Runs every check, for a backend that reports validity dates without enforcing them.
pub async fn run_all(backend: &dyn SecretBackend, seeded: &Seeded) {
    run_all_with(backend, seeded, Dates::Reported).await;
}

/// Runs every check, expecting `dates` of secrets outside their validity dates.
pub async fn run_all_with(backend: &dyn SecretBackend, seeded: &Seeded, dates: Dates) {
    check_succeeds(backend).await;
    latest_version_is_returned(backend, seeded).await;
    pinned_versions_are_returned(backend, seeded).await;
    names_compare_case_insensitively(backend).await;
    values_and_properties_are_kept(backend).await;
    missing_secret_is_not_found(backend).await;
    missing_version_is_not_found(backend).await;
    disabled_secret_is_refused(backend).await;
    disabled_latest_version_leaves_older_versions_readable(backend, seeded).await;
    match dates {
        Dates::Reported => dates_are_reported_not_enforced(backend).await,
        Dates::Enforced => dates_are_enforced(backend).await,
    }
    values_never_show_in_debug_or_errors(backend).await;
    answers_at_hand_agree(backend, seeded).await;
}

fn name(s: &str) -> SecretName {
    SecretName::new(s).expect("fixture names are valid")
}

async fn value_of(backend: &dyn SecretBackend, n: &str, v: Option<&SecretVersion>) -> String {
    match backend.fetch(&name(n), v).await {
        Ok(fetched) => fetched.secret.expose_secret().to_owned(),
        Err(e) => panic!("{backend:?}: fetching `{n}` (version {v:?}) failed: {e}"),
    }
}

/// What `fetch_now` answers (when it answers at all) is what `fetch` answers: the same value,
/// or an error of the same kind.
pub async fn answers_at_hand_agree(backend: &dyn SecretBackend, seeded: &Seeded) {
    let mut asked: Vec<(&str, Option<SecretVersion>)> = Vec::new();
    for fixture in fixtures() {
        asked.push((fixture.name, None));
        asked.extend(seeded.of(fixture.name).iter().map(|v| (fixture.name, *v)));
    }
    asked.push(("conformance-missing", None));
    for (n, version) in asked {
        let version = version.as_ref();
        let later = backend.fetch(&name(n), version).await;
        let Some(now) = backend.fetch_now(&name(n), version) else {
            continue;
        };
        match (now, later) {
            (Ok(now), Ok(later)) => assert_eq!(
                now.secret.expose_secret(),
                later.secret.expose_secret(),
                "{backend:?}: fetch_now and fetch disagree on `{n}` (version {version:?})"
            ),
            (Err(now), Err(later)) => assert_eq!(
                now.kind(),
                later.kind(),
                "{backend:?}: fetch_now and fetch fail differently on `{n}` (version {version:?})"
            ),
            (now, later) => panic!(
                "{backend:?}: fetch_now and fetch disagree on `{n}` (version {version:?}): {:?} against {:?}",
                now.map(|f| f.source),
                later.map(|f| f.source)
            ),
        }
    }
}

/// `check()` succeeds on a working backend and `location()` says where it points.
pub async fn check_succeeds(backend: &dyn SecretBackend) {
    if let Err(e) = backend.check().await {
        panic!("{backend:?}: check() failed on a working backend: {e}");
    }
    assert!(
        !backend.location().to_string().is_empty(),
        "{backend:?}: location() is empty"
    );
}

/// Without a version, the last stored version is returned, with its version id.
pub async fn latest_version_is_returned(backend: &dyn SecretBackend, seeded: &Seeded) {
    assert_eq!(value_of(backend, VERSIONED, None).await, "second value");
    let latest = backend
        .fetch(&name(VERSIONED), None)
        .await
        .expect("fetched above")
        .secret;
    let expected = seeded.of(VERSIONED).last().cloned().flatten();
    assert_eq!(
        latest.properties().version,
        expected,
        "{backend:?}: the latest version id differs from the one assigned when it was stored"
    );
}

/// Every version the backend assigned can be fetched by pinning it.
pub async fn pinned_versions_are_returned(backend: &dyn SecretBackend, seeded: &Seeded) {
    let values = ["first value", "second value"];
    let versions = seeded.of(VERSIONED);
    assert_eq!(
        versions.len(),
        2,
        "record both versions of `{VERSIONED}` in Seeded"
    );
    for (version, expected) in versions.iter().zip(values) {
        let Some(version) = version else { continue };
        assert_eq!(value_of(backend, VERSIONED, Some(version)).await, expected);
        let secret = backend
            .fetch(&name(VERSIONED), Some(version))
            .await
            .unwrap()
            .secret;
        assert_eq!(secret.properties().version.as_ref(), Some(version));
    }
}

/// `Conformance-PLAIN` finds `conformance-plain`.
pub async fn names_compare_case_insensitively(backend: &dyn SecretBackend) {
    assert_eq!(
        value_of(backend, &PLAIN.to_uppercase(), None).await,
        "plain value"
    );
}

/// Multi-line values come back byte for byte, with their content type.
pub async fn values_and_properties_are_kept(backend: &dyn SecretBackend) {
    let secret = backend.fetch(&name(MULTILINE), None).await.unwrap().secret;
    assert_eq!(secret.expose_secret(), MULTILINE_VALUE);
    assert_eq!(secret.properties().name, name(MULTILINE));
    assert_eq!(
        secret.properties().content_type.as_deref(),
        Some("application/x-pem-file")
    );
    assert!(secret.properties().enabled);
    let debug = format!("{secret:?}");
    assert!(
        !debug.contains("line two"),
        "{backend:?}: a value leaked into Debug: {debug}"
    );
}

/// A name that was never stored is [`Error::NotFound`] naming it.
pub async fn missing_secret_is_not_found(backend: &dyn SecretBackend) {
    let missing = "conformance-never-stored";
    match backend.fetch(&name(missing), None).await {
        Err(e @ Error::NotFound { .. }) => {
            assert!(
                e.to_string().contains(missing),
                "the error does not name the secret: {e}"
            );
            assert!(
                e.to_string().contains(&backend.location().to_string()),
                "the error does not say where the secret was looked up: {e}"
            );
        }
        other => panic!("{backend:?}: expected NotFound for `{missing}`, got {other:?}"),
    }
}

/// A version that was never assigned is [`Error::NotFound`].
pub async fn missing_version_is_not_found(backend: &dyn SecretBackend) {
    let version = SecretVersion::new("0badc0de0badc0de0badc0de0badc0de").unwrap();
    match backend.fetch(&name(PLAIN), Some(&version)).await {
        Err(Error::NotFound {
            version: Some(v), ..
        }) => assert_eq!(v, version),
        other => panic!("{backend:?}: expected NotFound for an unknown version, got {other:?}"),
    }
}

/// A disabled secret is [`Error::Disabled`], never its value.
pub async fn disabled_secret_is_refused(backend: &dyn SecretBackend) {
    match backend.fetch(&name(DISABLED), None).await {
        Err(Error::Disabled { name: n, .. }) => assert_eq!(n, name(DISABLED)),
        other => panic!("{backend:?}: expected Disabled, got {other:?}"),
    }
}

/// A disabled latest version is refused, and an older enabled version stays readable by pin.
pub async fn disabled_latest_version_leaves_older_versions_readable(
    backend: &dyn SecretBackend,
    seeded: &Seeded,
) {
    match backend.fetch(&name(DISABLED_LATEST), None).await {
        Err(Error::Disabled { .. }) => {}
        other => {
            panic!("{backend:?}: expected Disabled for a disabled latest version, got {other:?}")
        }
    }
    if let Some(Some(older)) = seeded.of(DISABLED_LATEST).first() {
        assert_eq!(
            value_of(backend, DISABLED_LATEST, Some(older)).await,
            "older enabled value"
        );
    }
}

/// No fixture value shows in the backend's `Debug` or in the messages of its errors.
pub async fn values_never_show_in_debug_or_errors(backend: &dyn SecretBackend) {
    let values: Vec<&str> = fixtures()
        .iter()
        .flat_map(|f| f.versions.iter().map(|v| v.value))
        .collect();
    let mut texts = vec![format!("{backend:?}")];
    for n in [DISABLED, DISABLED_LATEST, "conformance-never-stored"] {
        if let Err(e) = backend.fetch(&name(n), None).await {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
    }
    for text in &texts {
        for value in &values {
            assert!(
                !text.contains(value),
                "{backend:?}: a value leaked into: {text}"
            );
        }
    }
}

/// Expiry and not-before dates are reported; enforcing them is the manager's job.
pub async fn dates_are_reported_not_enforced(backend: &dyn SecretBackend) {
    let expired = backend
        .fetch(&name(EXPIRED), None)
        .await
        .unwrap_or_else(|e| {
            panic!("{backend:?}: an expired secret must still be returned by the backend: {e}")
        });
    assert_eq!(expired.secret.properties().expires, Some(PAST));
    let future = backend
        .fetch(&name(NOT_YET_VALID), None)
        .await
        .unwrap_or_else(|e| {
            panic!("{backend:?}: a not-yet-valid secret must still be returned by the backend: {e}")
        });
    assert_eq!(future.secret.properties().not_before, Some(FUTURE));
}

/// Expired and not-yet-valid secrets are refused with the date, never their value.
pub async fn dates_are_enforced(backend: &dyn SecretBackend) {
    match backend.fetch(&name(EXPIRED), None).await {
        Err(Error::Expired { expired_at, .. }) => assert_eq!(expired_at, PAST),
        other => panic!("{backend:?}: expected Expired, got {other:?}"),
    }
    match backend.fetch(&name(NOT_YET_VALID), None).await {
        Err(Error::NotYetValid { not_before, .. }) => assert_eq!(not_before, FUTURE),
        other => panic!("{backend:?}: expected NotYetValid, got {other:?}"),
    }
}
