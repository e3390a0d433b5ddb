//! Reading configuration input without ever quoting it back in an error.
//!
//! A value typed in the wrong place (a number where a string belongs, the client secret where a
//! table belongs, a value where a key belongs) may be a secret, so no message about it may
//! repeat it. serde's own messages do (``invalid type: string "hunter2", expected a boolean``,
//! ``unknown field `hunter2` ``), so this module is the one place that keeps input out of them:
//!
//! - A [`Shape`] says which kinds of input one place accepts (a string, a flag, a number, a
//!   table, a list); [`Only`] reads it and refuses every other kind with the shape's fixed
//!   message. Derived structs are reached only through a shape's table, so no derived visitor is
//!   ever handed a value to refuse.
//! - [`sanitize`] rewrites whatever else a deserializer reports (the derives' unknown, missing
//!   and duplicate fields, a parser's own complaints) so that it cannot quote the input, and
//!   [`path`] renders where an error happened without quoting a key that is not a name.
//!
//! Text read through a shape arrives as `Zeroizing<String>`: it is wiped when dropped unless the
//! shape moves it somewhere.

use std::convert::Infallible;
use std::fmt::{self, Write as _};

use secrecy::zeroize::Zeroizing;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde_path_to_error::Segment;

/// What one place in the input accepts. Each method reads one kind of input; the defaults
/// refuse it with [`expected`](Self::expected), which never quotes what was found.
pub(crate) trait Shape: Sized {
    /// What is read.
    type Value;

    /// What belongs here, said of anything else found here, as a sentence about the place
    /// (`` `enabled` must be true or false ``).
    fn expected(&self) -> &'static str;

    /// A string (wiped when dropped unless moved out).
    fn text<E: de::Error>(self, text: Zeroizing<String>) -> Result<Self::Value, E> {
        drop(text);
        Err(refusal(&self))
    }

    /// `true` or `false`.
    fn flag<E: de::Error>(self, _flag: bool) -> Result<Self::Value, E> {
        Err(refusal(&self))
    }

    /// A whole number from 0 to `u64::MAX`; negative, larger and fractional numbers are refused.
    fn number<E: de::Error>(self, _number: u64) -> Result<Self::Value, E> {
        Err(refusal(&self))
    }

    /// A table (a JSON object).
    fn table<'de, A: MapAccess<'de>>(self, _table: A) -> Result<Self::Value, A::Error> {
        Err(refusal(&self))
    }

    /// A list (a JSON array).
    fn list<'de, A: SeqAccess<'de>>(self, _list: A) -> Result<Self::Value, A::Error> {
        Err(refusal(&self))
    }
}

fn refusal<S: Shape, E: de::Error>(shape: &S) -> E {
    E::custom(shape.expected())
}

/// Reads a [`Shape`]: only what it accepts, anything else refused with its message.
pub(crate) struct Only<S>(pub(crate) S);

impl<'de, S: Shape> DeserializeSeed<'de> for Only<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Shape> Visitor<'de> for Only<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.expected())
    }

    // `visit_borrowed_str` and `visit_char` default to this one.
    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Value, E> {
        self.0.text(Zeroizing::new(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<S::Value, E> {
        self.0.text(Zeroizing::new(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Value, E> {
        self.0.flag(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<S::Value, E> {
        self.0.number(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<S::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.0.number(v),
            Err(_) => Err(refusal(&self.0)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Value, A::Error> {
        self.0.table(map)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Value, A::Error> {
        self.0.list(seq)
    }

    // Everything else is refused unread. (serde's defaults would quote it.)

    fn visit_i128<E: de::Error>(self, _: i128) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    // `visit_borrowed_bytes` and `visit_byte_buf` default to this one.
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Value, E> {
        Err(refusal(&self.0))
    }

    fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<S::Value, D::Error> {
        Err(refusal(&self.0))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, _: D) -> Result<S::Value, D::Error> {
        Err(refusal(&self.0))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<S::Value, A::Error> {
        Err(refusal(&self.0))
    }
}

/// Reads `shape` from `deserializer`: for `Deserialize` impls.
pub(crate) fn read<'de, S: Shape, D: Deserializer<'de>>(
    shape: S,
    deserializer: D,
) -> Result<S::Value, D::Error> {
    Only(shape).deserialize(deserializer)
}

/// Reads `shape` as a present optional field: for `#[serde(default, deserialize_with = ..)]`,
/// so that a JSON `null` is refused like any other misplaced value instead of meaning "absent".
pub(crate) fn some<'de, S: Shape, D: Deserializer<'de>>(
    shape: S,
    deserializer: D,
) -> Result<Option<S::Value>, D::Error> {
    read(shape, deserializer).map(Some)
}

/// A string, which is not a secret; anything else is refused with the message.
pub(crate) struct Text(pub(crate) &'static str);

impl Shape for Text {
    type Value = String;

    fn expected(&self) -> &'static str {
        self.0
    }

    fn text<E: de::Error>(self, mut text: Zeroizing<String>) -> Result<String, E> {
        Ok(std::mem::take(&mut *text))
    }
}

/// A string that may be a secret, kept wiped-on-drop; anything else is refused with the message.
pub(crate) struct SecretText(pub(crate) &'static str);

impl Shape for SecretText {
    type Value = Zeroizing<String>;

    fn expected(&self) -> &'static str {
        self.0
    }

    fn text<E: de::Error>(self, text: Zeroizing<String>) -> Result<Zeroizing<String>, E> {
        Ok(text)
    }
}

/// `true` or `false`; anything else is refused with the message.
pub(crate) struct Flag(pub(crate) &'static str);

impl Shape for Flag {
    type Value = bool;

    fn expected(&self) -> &'static str {
        self.0
    }

    fn flag<E: de::Error>(self, flag: bool) -> Result<bool, E> {
        Ok(flag)
    }
}

/// A whole number from 0 to `u64::MAX`; anything else is refused with the message.
#[cfg_attr(not(feature = "azure"), allow(dead_code))] // read only by the Azure configuration
pub(crate) struct Number(pub(crate) &'static str);

impl Shape for Number {
    type Value = u64;

    fn expected(&self) -> &'static str {
        self.0
    }

    fn number<E: de::Error>(self, number: u64) -> Result<u64, E> {
        Ok(number)
    }
}

/// Nothing at all: refuses whatever is here with the message, so that an error found by the
/// caller (say, a second definition of a name) points at this place.
pub(crate) struct Refuse(pub(crate) &'static str);

impl Shape for Refuse {
    type Value = Infallible;

    fn expected(&self) -> &'static str {
        self.0
    }
}

/// What [`sanitize`] gives for a message it cannot show safely.
pub(crate) const WITHHELD: &str =
    "this value is not valid here (the details are not shown, as they could quote it)";

/// The kinds serde's `Unexpected` names (and serde_json's `null`): what may be kept of what was
/// found, without the value that follows.
const KINDS: &[&str] = &[
    "boolean",
    "integer",
    "floating point",
    "character",
    "string",
    "byte array",
    "unit value",
    "Option value",
    "newtype struct",
    "sequence",
    "map",
    "enum",
    "unit variant",
    "newtype variant",
    "tuple variant",
    "struct variant",
    "null",
];

const EXPECTED: &str = ", expected ";

/// Rewrites a deserializer's error message so that it cannot quote the input.
///
/// `own` lists how the messages written by the caller's own code begin (the shapes' fixed
/// messages, its checks): those are kept whole. Of serde's messages, `invalid type`,
/// `invalid value`, `unknown field` and `unknown variant` keep their category and their
/// `expected ...` part, which comes from code, and lose what was found but for its kind:
/// ``invalid type: string "hunter2", expected a boolean`` becomes
/// `invalid type: string, expected a boolean`. `missing field` and `duplicate field` are kept
/// when they name one of the caller's `fields`. Anything else becomes [`WITHHELD`].
///
/// The `expected ...` part is found by the *last* `, expected ` of the message: what was found
/// comes before it and may contain those words, the code's part after it does not.
pub(crate) fn sanitize(message: &str, own: &[&str], fields: &[&str]) -> String {
    if own.iter().any(|prefix| message.starts_with(prefix)) {
        return message.to_owned();
    }
    for category in ["invalid type", "invalid value"] {
        if let Some(rest) = message
            .strip_prefix(category)
            .and_then(|r| r.strip_prefix(": "))
        {
            let Some((found, expected)) = rest.rsplit_once(EXPECTED) else {
                return WITHHELD.to_owned();
            };
            return match kind_of(found) {
                Some(kind) => format!("{category}: {kind}{EXPECTED}{expected}"),
                None => format!("{category}{EXPECTED}{expected}"),
            };
        }
    }
    if let Some((length, expected)) = message
        .strip_prefix("invalid length ")
        .and_then(|rest| rest.split_once(EXPECTED))
        && !length.is_empty()
        && length.bytes().all(|b| b.is_ascii_digit())
    {
        return format!("invalid length {length}{EXPECTED}{expected}");
    }
    for (category, none) in [
        ("unknown field", ", there are no fields"),
        ("unknown variant", ", there are no variants"),
    ] {
        if message.starts_with(category) && message[category.len()..].starts_with(" `") {
            // Checked first: the name found may contain `, expected `, never this ending.
            if message.ends_with(none) {
                return format!("{category}{none}");
            }
            return match message.rsplit_once(EXPECTED) {
                Some((_, expected)) => format!("{category}{EXPECTED}{expected}"),
                None => WITHHELD.to_owned(),
            };
        }
    }
    for category in ["missing field `", "duplicate field `"] {
        if let Some(field) = message
            .strip_prefix(category)
            .and_then(|rest| rest.strip_suffix('`'))
            && fields.contains(&field)
        {
            return message.to_owned();
        }
    }
    WITHHELD.to_owned()
}

/// The kind of what serde found (`string` of ``string "hunter2"``), if it is one of [`KINDS`].
fn kind_of(found: &str) -> Option<&'static str> {
    KINDS.iter().copied().find(|kind| {
        found.strip_prefix(kind).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(" `") || rest.starts_with(" \"")
        })
    })
}

/// Renders where an error happened, as `secrets.db.versions[1]`, up to the first key that
/// `shown(index, key)` refuses (`index` counts segments from 0): a key that is not a name the
/// caller knows may be a value typed where a key belongs. Empty for the top of the document.
pub(crate) fn path(
    path: &serde_path_to_error::Path,
    shown: impl Fn(usize, &str) -> bool,
) -> String {
    let mut rendered = String::new();
    for (index, segment) in path.iter().enumerate() {
        match segment {
            Segment::Seq { index: position } => {
                let _ = write!(rendered, "[{position}]");
            }
            Segment::Map { key } | Segment::Enum { variant: key } if shown(index, key) => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(key);
            }
            _ => break,
        }
    }
    rendered
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde::de::{Error as _, Unexpected};

    use super::*;

    /// serde's own error type, whose messages are serde's defaults.
    type SerdeError = serde::de::value::Error;

    const OWN: &[&str] = &["`enabled` must be", "our own check: "];
    const FIELDS: &[&str] = &["value", "content-type"];

    fn clean(message: &str) -> String {
        sanitize(message, OWN, FIELDS)
    }

    fn invalid_type(found: Unexpected<'_>, expected: &str) -> String {
        SerdeError::invalid_type(found, &expected).to_string()
    }

    #[test]
    fn invalid_types_keep_the_kind_and_what_was_expected() {
        let cases = [
            (
                Unexpected::Str("hunter2"),
                "invalid type: string, expected a boolean",
            ),
            (
                Unexpected::Signed(-1234),
                "invalid type: integer, expected a boolean",
            ),
            (
                Unexpected::Unsigned(1234),
                "invalid type: integer, expected a boolean",
            ),
            (
                Unexpected::Float(12.5),
                "invalid type: floating point, expected a boolean",
            ),
            (
                Unexpected::Bool(true),
                "invalid type: boolean, expected a boolean",
            ),
            (
                Unexpected::Char('x'),
                "invalid type: character, expected a boolean",
            ),
            (
                Unexpected::Bytes(b"hunter2"),
                "invalid type: byte array, expected a boolean",
            ),
            (Unexpected::Map, "invalid type: map, expected a boolean"),
            (
                Unexpected::Seq,
                "invalid type: sequence, expected a boolean",
            ),
            (
                Unexpected::Unit,
                "invalid type: unit value, expected a boolean",
            ),
            (
                Unexpected::Other("hunter2"),
                "invalid type, expected a boolean",
            ),
            (
                Unexpected::Other("string hunter2"),
                "invalid type, expected a boolean",
            ),
        ];
        for (found, want) in cases {
            assert_eq!(clean(&invalid_type(found, "a boolean")), want, "{found:?}");
        }
        let value = SerdeError::invalid_value(Unexpected::Str("hunter2"), &"a date");
        assert_eq!(
            clean(&value.to_string()),
            "invalid value: string, expected a date"
        );
        let length = SerdeError::invalid_length(3, &"two entries");
        assert_eq!(
            clean(&length.to_string()),
            "invalid length 3, expected two entries"
        );
    }

    #[test]
    fn serde_json_kinds_are_kept_too() {
        let null = serde_json::from_str::<bool>("null").unwrap_err();
        assert_eq!(
            null.to_string(),
            "invalid type: null, expected a boolean at line 1 column 4"
        );
        assert_eq!(
            clean("invalid type: null, expected a boolean"),
            "invalid type: null, expected a boolean"
        );
        let float =
            <serde_json::Error as de::Error>::invalid_type(Unexpected::Float(1.5), &"a string");
        assert_eq!(
            clean(&float.to_string()),
            "invalid type: floating point, expected a string"
        );
    }

    /// Secrets made to break a parser of serde's messages: quotes, backticks, its own words.
    const ADVERSARIAL: &[&str] = &[
        "hunter2",
        "hunter2`, expected a boolean",
        "hunter2\", expected a boolean",
        "`hunter2`",
        "\"hunter2\"",
        ", expected hunter2",
        "hunter2, expected ",
        "a, expected b`, expected hunter2",
        "hunter2`, there are no fields",
        "hunter2, there are no variants",
        "hunter2\n, expected\n",
        "` or `hunter2",
    ];

    #[test]
    fn adversarial_values_never_survive() {
        for secret in ADVERSARIAL {
            let messages = [
                invalid_type(Unexpected::Str(secret), "a boolean"),
                invalid_type(Unexpected::Other(secret), "a boolean"),
                SerdeError::invalid_value(Unexpected::Str(secret), &"a date").to_string(),
                SerdeError::unknown_field(secret, &["value", "version"]).to_string(),
                SerdeError::unknown_field(secret, &[]).to_string(),
                SerdeError::unknown_variant(secret, &["env", "file"]).to_string(),
                SerdeError::unknown_variant(secret, &[]).to_string(),
                SerdeError::custom(secret).to_string(),
                SerdeError::custom(format_args!("invalid length {secret}, expected x")).to_string(),
                SerdeError::custom(format_args!("missing field `{secret}`")).to_string(),
                SerdeError::custom(format_args!("{secret}: our own check: x")).to_string(),
            ];
            for message in messages {
                let cleaned = clean(&message);
                assert!(
                    !cleaned.contains("hunter2"),
                    "{secret:?}: {message:?} became {cleaned:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_fields_and_variants_keep_the_names_of_the_code() {
        for secret in ADVERSARIAL {
            let field = SerdeError::unknown_field(secret, &["value", "version"]);
            assert_eq!(
                clean(&field.to_string()),
                "unknown field, expected `value` or `version`"
            );
            let none = SerdeError::unknown_field(secret, &[]);
            assert_eq!(
                clean(&none.to_string()),
                "unknown field, there are no fields"
            );
            let variant = SerdeError::unknown_variant(secret, &["env", "file", "value"]);
            assert_eq!(
                clean(&variant.to_string()),
                "unknown variant, expected one of `env`, `file`, `value`"
            );
        }
        let backtick = invalid_type(Unexpected::Char('`'), "a string");
        assert_eq!(
            clean(&backtick),
            "invalid type: character, expected a string"
        );
    }

    #[test]
    fn own_messages_and_field_names_are_kept_and_the_rest_withheld() {
        assert_eq!(
            clean("`enabled` must be true or false"),
            "`enabled` must be true or false"
        );
        assert_eq!(
            clean("our own check: version 2"),
            "our own check: version 2"
        );
        let missing = SerdeError::missing_field("content-type").to_string();
        assert_eq!(clean(&missing), "missing field `content-type`");
        let duplicate = SerdeError::duplicate_field("value").to_string();
        assert_eq!(clean(&duplicate), "duplicate field `value`");
        let unknown = SerdeError::missing_field("hunter2").to_string();
        assert_eq!(clean(&unknown), WITHHELD);
        for other in [
            "",
            "hunter2",
            "missing field `hunter 2`",
            "missing field `value` `hunter2`",
            "missing field `a` and `hunter2`",
            "invalid type: string \"hunter2\"",
            "invalid length, expected x",
            "unknown fields `hunter2`",
            "unexpected keys in table: hunter2, available keys: value",
            "integer number overflowed",
        ] {
            assert_eq!(clean(other), WITHHELD, "{other:?}");
        }
    }

    /// A derived struct, as the file backend and the Azure config use them.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "kebab-case")]
    #[allow(dead_code)]
    struct Derived {
        #[serde(default)]
        enabled: Option<bool>,
        #[serde(default)]
        retries: Option<u32>,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        value: String,
    }

    #[test]
    fn messages_of_real_derives_lose_the_value() {
        for (json, want) in [
            (
                r#"{"enabled": "hunter2"}"#,
                "invalid type: string, expected a boolean",
            ),
            (
                r#"{"retries": "hunter2"}"#,
                "invalid type: string, expected u32",
            ),
            (
                r#"{"retries": -12345}"#,
                "invalid value: integer, expected u32",
            ),
            (
                r#"{"hunter2": 1}"#,
                "unknown field, expected one of `enabled`, `retries`, `nested`",
            ),
            (r#"{"nested": {}}"#, "missing field `value`"),
            (
                r#"{"nested": {"value": 12345}}"#,
                "invalid type: integer, expected a string",
            ),
            (
                r#"{"nested": "hunter2"}"#,
                "invalid type: string, expected struct Nested",
            ),
        ] {
            let error = serde_json::from_str::<Derived>(json).unwrap_err();
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap();
            assert_eq!(clean(message), want, "{json}");
        }
    }

    #[test]
    fn only_refuses_other_kinds_without_quoting_them() {
        const MUST: &str = "`enabled` must be true or false";
        for json in [
            "\"hunter2\"",
            "12345",
            "-12345",
            "1.5e300",
            "null",
            "[\"hunter2\"]",
            "{\"a\": 1}",
        ] {
            let mut de = serde_json::Deserializer::from_str(json);
            let error = Only(Flag(MUST)).deserialize(&mut de).unwrap_err();
            assert!(error.to_string().starts_with(MUST), "{json}: {error}");
        }
        let mut de = serde_json::Deserializer::from_str("true");
        assert!(Only(Flag(MUST)).deserialize(&mut de).unwrap());

        for json in ["true", "12345", "[1]", "{\"hunter2\": 1}"] {
            let mut de = serde_json::Deserializer::from_str(json);
            let error = Only(SecretText("must be text"))
                .deserialize(&mut de)
                .unwrap_err();
            assert!(
                error.to_string().starts_with("must be text"),
                "{json}: {error}"
            );
        }
        let mut de = serde_json::Deserializer::from_str("\"a \\\"quoted\\\" text\"");
        assert_eq!(
            *Only(SecretText("x")).deserialize(&mut de).unwrap(),
            "a \"quoted\" text"
        );

        let number = |text| toml::from_str::<Numbered>(text).map(|n| n.n);
        assert_eq!(number("n = 18446744073709551615").unwrap(), u64::MAX);
        for text in ["n = -1", "n = 1.0", "n = \"1\"", "n = 2027-01-01T00:00:00Z"] {
            let error = number(text).unwrap_err();
            assert_eq!(error.message(), "`n` must be a whole number", "{text}");
        }
        let mut de = serde_json::Deserializer::from_str("\"anything\"");
        let error = Only(Refuse("refused here"))
            .deserialize(&mut de)
            .unwrap_err();
        assert!(error.to_string().starts_with("refused here"), "{error}");
    }

    #[derive(Deserialize)]
    struct Numbered {
        #[serde(deserialize_with = "numbered")]
        n: u64,
    }

    fn numbered<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        read(Number("`n` must be a whole number"), deserializer)
    }

    #[test]
    fn paths_stop_at_the_first_key_that_is_not_known() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Document {
            secrets: std::collections::BTreeMap<String, Vec<Nested>>,
        }
        let shown = |index: usize, key: &str| match index {
            0 => key == "secrets",
            1 => !key.contains("hunter2"),
            _ => key == "value",
        };
        for (json, want) in [
            (
                r#"{"secrets": {"db": [{"value": 1}]}}"#,
                "secrets.db[0].value",
            ),
            (
                r#"{"secrets": {"db": [{"value": "a"}, {"value": 1}]}}"#,
                "secrets.db[1].value",
            ),
            (
                r#"{"secrets": {"db": [{"hunter2": "x"}]}}"#,
                "secrets.db[0]",
            ),
            (r#"{"secrets": {"hunter2": 1}}"#, "secrets"),
            (r#"{"hunter2": 1}"#, ""),
        ] {
            let mut de = serde_json::Deserializer::from_str(json);
            let error = serde_path_to_error::deserialize::<_, Document>(&mut de).unwrap_err();
            assert_eq!(path(error.path(), shown), want, "{json}");
        }
    }
}
