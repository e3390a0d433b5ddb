//! Reading a configuration file: its text, the `SECRETSCOPE_*` variables laid over it, and
//! where an error is (the file's line, or the variable), without quoting what was written.
//!
//! The file is parsed into a tree, the variables are set into the tree, and the tree is read
//! into the typed configuration, tracking the path of keys. An error at a path a variable set
//! names the variable; any other is located in the file by walking the same keys again through
//! the parser, which knows the position of every value.

use std::path::Path;

use secrecy::zeroize::{Zeroize, Zeroizing};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

use crate::error::{Error, Result};
use crate::no_echo::{self, Only, SecretText};
pub(crate) use crate::text_format::Format;

/// Every variable named `SECRETSCOPE_<KEY>[__<KEY>...]` sets a key of the configuration.
pub(crate) const ENV_PREFIX: &str = "SECRETSCOPE_";

/// The path of the configuration file, for [`WorkspaceManager::from_config_env`]; not a key.
///
/// [`WorkspaceManager::from_config_env`]: crate::WorkspaceManager::from_config_env
pub const ENV_CONFIG: &str = "SECRETSCOPE_CONFIG";

/// One step on the way to a place in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    Key(String),
    Index(usize),
}

/// A key a `SECRETSCOPE_*` variable set.
#[derive(Debug)]
struct Overlay {
    path: Vec<Step>,
    variable: String,
}

/// What the reader needs to know of the document it reads.
pub(crate) struct Vocabulary {
    /// How the messages written for this document begin ([`no_echo::sanitize`] keeps them).
    pub(crate) own_messages: &'static [&'static [&'static str]],
    /// Messages (besides serde's `unknown field`) saying a key of the table is no setting.
    pub(crate) unknown_key_messages: &'static [&'static str],
    /// Every field name in the document.
    pub(crate) fields: &'static [&'static [&'static str]],
    /// Whether a key on the way to an error may be named (`index` is its depth).
    pub(crate) shown: fn(index: usize, key: &str) -> bool,
}

/// The document read from one file (with its variables), ready to be typed.
pub(crate) struct Document<'a> {
    path: &'a Path,
    text: Zeroizing<String>,
    format: Format,
    tree: Value,
    overlays: Vec<Overlay>,
}

impl Drop for Document<'_> {
    fn drop(&mut self) {
        // The tree holds every value of the file, client secrets written inline included.
        wipe(&mut self.tree);
    }
}

/// Where in the configuration a problem is: the file and line, or the variable.
pub(crate) fn file_field(path: &Path, position: Option<(usize, usize)>) -> String {
    match position {
        Some((line, column)) => {
            format!(
                "config file `{}`, line {line}, column {column}",
                path.display()
            )
        }
        None => format!("config file `{}`", path.display()),
    }
}

impl<'a> Document<'a> {
    /// Reads the file at `path` and lays `variables` (every variable of the process, say) over
    /// it.
    pub(crate) fn open(
        path: &'a Path,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let format = Format::of(path).ok_or_else(|| {
            Error::invalid_config(
                file_field(path, None),
                "the file name does not end in `.toml` or `.json`, which says how to read it; use a .toml or .json file",
            )
        })?;
        let bytes = std::fs::read(path).map_err(|e| Error::InvalidConfig {
            field: file_field(path, None),
            reason: format!(
                "the file cannot be read ({}); check the path and its permissions",
                io_problem(&e)
            ),
            source: Some(crate::ErrorSource::new(e)),
        })?;
        let text = crate::text_format::utf8(bytes).map_err(|position| {
            Error::invalid_config(
                file_field(path, position),
                "the file is not UTF-8 text; save it as UTF-8",
            )
        })?;
        Self::parse(path, text, format, variables)
    }

    /// Parses `text`, the contents of the file at `path`.
    pub(crate) fn parse(
        path: &'a Path,
        text: Zeroizing<String>,
        format: Format,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let tree = parse_tree(&text, format).map_err(|(position, message)| {
            Error::invalid_config(
                file_field(path, position),
                format!("{message}; fix the file, then load it again"),
            )
        })?;
        let mut document = Self {
            path,
            text,
            format,
            tree,
            overlays: Vec::new(),
        };
        if !document.tree.is_object() {
            return Err(document.error(
                &[],
                "the document must be a table of settings (in JSON, an object)",
            ));
        }
        let mut variables: Vec<(String, String)> = variables
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX) && name != ENV_CONFIG)
            .collect();
        // Sorted, so that which of two variables setting the same key wins does not depend on
        // the order the process lists them in.
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        for (variable, mut raw) in variables {
            let set = document.set(&variable, &raw);
            raw.zeroize();
            set?;
        }
        Ok(document)
    }

    /// Reads the typed configuration, or says where and what the problem is.
    pub(crate) fn read<T: for<'de> Deserialize<'de>>(&self, vocabulary: &Vocabulary) -> Result<T> {
        let mut track = serde_path_to_error::Track::new();
        let outcome = T::deserialize(serde_path_to_error::Deserializer::new(
            &self.tree, &mut track,
        ));
        outcome.map_err(|e| {
            let path = track.path();
            let steps: Vec<Step> = path
                .iter()
                .map_while(|segment| match segment {
                    Segment::Map { key } | Segment::Enum { variant: key } => {
                        Some(Step::Key(key.clone()))
                    }
                    Segment::Seq { index } => Some(Step::Index(*index)),
                    Segment::Unknown => None,
                })
                .collect();
            let own: Vec<&str> = vocabulary.own_messages.concat();
            let fields: Vec<&str> = vocabulary.fields.concat();
            let message = no_echo::sanitize(&e.to_string(), &own, &fields);
            let keys = no_echo::path(&path, vocabulary.shown);
            let mut steps = steps;
            if vocabulary
                .unknown_key_messages
                .iter()
                .chain(&["unknown field"])
                .any(|start| message.starts_with(start))
                && let Some(key) = self.unknown_key(&steps, &fields)
            {
                // Located, not named: a key that is no setting may be a misplaced value.
                steps.push(Step::Key(key));
            }
            let message = match keys.as_str() {
                "" => message,
                keys => format!("`{keys}`: {message}"),
            };
            self.error(&steps, &message)
        })
    }

    /// An error about the place at `steps`: in the file, or set by a variable.
    pub(crate) fn error(&self, steps: &[Step], message: &str) -> Error {
        Error::invalid_config(
            self.field(steps),
            format!("{message}; fix it, then load the configuration again"),
        )
    }

    /// The first key of the table at `steps` that is none of `fields`.
    fn unknown_key(&self, steps: &[Step], fields: &[&str]) -> Option<String> {
        let mut node = &self.tree;
        for step in steps {
            node = match step {
                Step::Key(key) => node.get(key.as_str())?,
                Step::Index(index) => node.get(*index)?,
            };
        }
        node.as_object()?
            .keys()
            .find(|key| !fields.contains(&key.as_str()))
            .cloned()
    }

    /// Where the place at `steps` was written: a variable that set it, or the file's line.
    pub(crate) fn field(&self, steps: &[Step]) -> String {
        match self
            .overlays
            .iter()
            .rev()
            .find(|overlay| steps.starts_with(&overlay.path))
        {
            Some(overlay) => format!("environment variable `{}`", overlay.variable),
            None => file_field(self.path, locate(&self.text, self.format, steps)),
        }
    }

    /// Sets the key a `SECRETSCOPE_*` variable names.
    fn set(&mut self, variable: &str, raw: &str) -> Result<()> {
        let refuse = |reason: &str| {
            Error::invalid_config(
                format!("environment variable `{variable}`"),
                format!("{reason}; rename or unset the variable"),
            )
        };
        let rest = &variable[ENV_PREFIX.len()..];
        let mut path = Vec::new();
        for part in rest.split("__") {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(refuse(
                    "its name does not name a setting: after `SECRETSCOPE_`, keys are separated by `__`, with `_` for `-` (such as SECRETSCOPE_CACHE__TTL_SECONDS for cache.ttl-seconds)",
                ));
            }
            let lower = part.to_ascii_lowercase();
            let key = match path.as_slice() {
                // A project's ID is kept as written, and matched to one in the file.
                [Step::Key(projects)] if projects == "projects" => self
                    .tree
                    .get("projects")
                    .and_then(Value::as_object)
                    .and_then(|projects| {
                        projects
                            .keys()
                            .find(|id| id.eq_ignore_ascii_case(&lower))
                            .cloned()
                    })
                    .unwrap_or(lower),
                _ => lower.replace('_', "-"),
            };
            path.push(Step::Key(key));
        }
        let mut node = &mut self.tree;
        let (last, parents) = path.split_last().expect("at least one key");
        for step in parents {
            let (Value::Object(map), Step::Key(key)) = (node, step) else {
                unreachable!("only objects are walked, by keys")
            };
            node = map
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !node.is_object() {
                return Err(refuse(
                    "it sets a key inside a setting that is not a table; unset it, or fix the file",
                ));
            }
        }
        let (Value::Object(map), Step::Key(key)) = (node, last) else {
            unreachable!("only objects are walked, by keys")
        };
        if let Some(mut replaced) = map.insert(key.clone(), variable_value(raw)) {
            wipe(&mut replaced);
        }
        self.overlays.push(Overlay {
            path,
            variable: variable.to_owned(),
        });
        Ok(())
    }
}

/// A variable's text as a value: `true` and `false` are flags, digits a number, a JSON list
/// (`["a", "b"]`) a list, anything else a string.
fn variable_value(raw: &str) -> Value {
    match raw {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => raw
            .parse::<u64>()
            .map_or_else(|_| Value::String(raw.to_owned()), Value::from),
        _ if raw.starts_with('[') => match serde_json::from_str::<Value>(raw) {
            Ok(list @ Value::Array(_)) => list,
            Ok(mut other) => {
                wipe(&mut other);
                Value::String(raw.to_owned())
            }
            Err(_) => Value::String(raw.to_owned()),
        },
        _ => Value::String(raw.to_owned()),
    }
}

/// Parses the text into a tree, or gives where the parser stopped and why, in the parser's own
/// words about the grammar, which never quote the file.
fn parse_tree(
    text: &str,
    format: Format,
) -> std::result::Result<Value, (Option<(usize, usize)>, String)> {
    match format {
        Format::Toml => {
            let at = |span: Option<std::ops::Range<usize>>| {
                span.map(|span| no_echo::line_column(text, span.start))
            };
            // Parsed apart from deserializing so that the toml crate's error holds no copy of
            // the file; only spans and the parser's message are kept.
            let document = toml::de::DeTable::parse(text)
                .map_err(|e| (at(e.span()), e.message().trim_end().to_owned()))?;
            Value::deserialize(toml::de::Deserializer::from(document)).map_err(|e| {
                (
                    at(e.span()),
                    no_echo::sanitize(e.message().trim_end(), &[], &[]),
                )
            })
        }
        Format::Json => serde_json::from_str::<Value>(text).map_err(|e| {
            // serde_json appends " at line L column C" to the message; keep the message alone.
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            (
                (e.line() > 0).then(|| (e.line(), e.column())),
                match e.classify() {
                    serde_json::error::Category::Data => no_echo::sanitize(message, &[], &[]),
                    _ => message.to_owned(),
                },
            )
        }),
    }
}

/// The line and column of the place at `steps` in the file, when it is in the file.
///
/// The keys are walked again through the parser, and an error raised at the place: the parser
/// gives every error the position it was at.
fn locate(text: &str, format: Format, steps: &[Step]) -> Option<(usize, usize)> {
    match format {
        Format::Toml => {
            let document = toml::de::DeTable::parse(text).ok()?;
            let error = Locate(steps)
                .deserialize(toml::de::Deserializer::from(document))
                .err()?;
            (error.message() == HERE)
                .then(|| error.span())
                .flatten()
                .map(|span| no_echo::line_column(text, span.start))
        }
        Format::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let error = Locate(steps).deserialize(&mut deserializer).err()?;
            let message = error.to_string();
            (message.starts_with(HERE) && error.line() > 0).then(|| (error.line(), error.column()))
        }
    }
}

const HERE: &str = "secretscope: located";

/// Walks `steps` down a document and fails where they end.
struct Locate<'a>(&'a [Step]);

impl<'de> DeserializeSeed<'de> for Locate<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> std::result::Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Locate<'_> {
    fn scalar<E: de::Error>(self) -> std::result::Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(HERE))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for Locate<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<(), E> {
        self.scalar()
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let Some((Step::Key(wanted), rest)) = self.0.split_first() else {
            return Err(de::Error::custom(HERE));
        };
        while let Some(key) = map.next_key_seed(Only(SecretText(HERE)))? {
            if *key == *wanted {
                // With nothing left to walk, the value fails: the parser gives its position.
                map.next_value_seed(Locate(rest))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let Some((Step::Index(wanted), rest)) = self.0.split_first() else {
            return Err(de::Error::custom(HERE));
        };
        let mut index = 0;
        loop {
            let found = if index == *wanted {
                seq.next_element_seed(Locate(rest))?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !found {
                return Ok(());
            }
            index += 1;
        }
    }
}

/// Wipes every string in `value`: the tree of a file may hold client secrets.
fn wipe(value: &mut Value) {
    match value {
        Value::String(text) => text.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => {
            for (_, item) in map.iter_mut() {
                wipe(item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn io_problem(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist",
        std::io::ErrorKind::PermissionDenied => "permission denied",
        _ => "an I/O error",
    }
}
