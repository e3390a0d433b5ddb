//! References inside a service's own configuration: in a string
//! ([`SecretsManagerExt::render`]) and in every string of a configuration tree
//! ([`SecretsManagerExt::resolve_tree`]).
//!
//! In a string, every `{{ ... }}` is a reference (`postgres://app:{{ db-password }}@db/app`),
//! and a string that is an App Service reference as a whole (`@Microsoft.KeyVault(...)`) is one
//! too. Other text is left as it is: a plain name such as `db-password` is a reference only
//! inside `{{ }}`, since any word would otherwise be one. The references of one call are
//! fetched concurrently, each distinct one once, and each is known to switch plans from then
//! on. A reference that cannot be resolved fails the call with [`Error::Unresolved`], naming
//! where it was found; nothing is ever replaced by an empty string.

use std::fmt::Write as _;

use futures_util::future::join_all;

use crate::error::{Error, Result};
use crate::manager::{SecretsManager, SecretsManagerExt};
use crate::reference::{SecretRef, strip_prefix_ignore_case};
use crate::value::SecretValue;

/// A configuration tree whose strings may hold references: `serde_json::Value`,
/// `toml::Value` and `toml::Table`, and `figment`'s dictionaries with the `figment` feature.
pub trait ConfigTree: Send {
    /// Hands every string in the tree to `visit`, with its key path (`database.url`,
    /// `servers[1].password`; `path` holds the path of the tree itself, empty at the root).
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    );
}

/// Where a reference is in a string: the byte range of its text, and its first character's
/// position (1-based, in characters).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    at: usize,
}

/// A reference found in a string by [`find_references`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Found<'t> {
    /// Its text, braces included: give it to [`SecretRef::parse`].
    pub text: &'t str,
    /// Where it starts: 1-based, in characters.
    pub at: usize,
}

/// The references in `text`, as [`render`](crate::SecretsManagerExt::render) finds them.
///
/// ```
/// use secretscope::render::find_references;
///
/// let found = find_references("postgres://app:{{ db-password }}@db/app");
/// assert_eq!(found[0].text, "{{ db-password }}");
/// assert_eq!(found[0].at, 16);
/// ```
pub fn find_references(text: &str) -> Vec<Found<'_>> {
    references(text)
        .into_iter()
        .map(|span| Found {
            text: &text[span.start..span.end],
            at: span.at,
        })
        .collect()
}

/// The references in `text`: every `{{ ... }}`, or the whole text when it is an App Service
/// reference. An opened `{{` that is never closed is a reference too, which fails to parse.
fn references(text: &str) -> Vec<Span> {
    let trimmed = text.trim();
    if strip_prefix_ignore_case(trimmed, "@Microsoft.KeyVault(").is_some() {
        let start = text.len() - text.trim_start().len();
        return vec![Span {
            start,
            end: start + trimmed.len(),
            at: text[..start].chars().count() + 1,
        }];
    }
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let end = text[open + 2..]
            .find("}}")
            .map_or(text.len(), |i| open + 2 + i + 2);
        spans.push(Span {
            start: open,
            end,
            at: text[..open].chars().count() + 1,
        });
        from = end;
    }
    spans
}

/// How a reference is named in an error: as it parsed, or by its position.
fn shown(text: &str, at: usize) -> String {
    match SecretRef::parse(text) {
        Ok(reference) => format!("`{reference}`"),
        Err(_) => format!("at character {at}"),
    }
}

/// Resolves each distinct text of `texts` once, all at once.
async fn resolve_all<M: SecretsManager + ?Sized>(
    manager: &M,
    texts: &[&str],
) -> Vec<Result<SecretValue>> {
    join_all(texts.iter().map(|text| manager.resolve(text))).await
}

/// The index of `text` in `distinct`, added if new.
fn index_of<'t>(distinct: &mut Vec<&'t str>, text: &'t str) -> usize {
    match distinct.iter().position(|known| *known == text) {
        Some(index) => index,
        None => {
            distinct.push(text);
            distinct.len() - 1
        }
    }
}

/// `text` with the references at `spans` replaced by their values (`values[index[i]]`).
fn fill(text: &str, spans: &[Span], slots: &[usize], values: &[Result<SecretValue>]) -> String {
    let value = |slot: usize| match &values[slot] {
        Ok(value) => value.expose_secret(),
        Err(_) => unreachable!("filled only when every reference resolved"),
    };
    // Sized exactly first, so that no reallocation leaves a copy of a value behind.
    let mut length = text.len();
    for (span, slot) in spans.iter().zip(slots) {
        length = length - (span.end - span.start) + value(*slot).len();
    }
    let mut filled = String::with_capacity(length);
    let mut from = 0;
    for (span, slot) in spans.iter().zip(slots) {
        filled.push_str(&text[from..span.start]);
        filled.push_str(value(*slot));
        from = span.end;
    }
    filled.push_str(&text[from..]);
    filled
}

/// The first failure among `values`, in the order the references were found, as an error
/// naming the place.
fn first_failure(
    places: &[(String, &str, Vec<Span>, Vec<usize>)],
    values: &mut [Result<SecretValue>],
) -> Option<Error> {
    for (place, text, spans, slots) in places {
        for (span, slot) in spans.iter().zip(slots) {
            if values[*slot].is_err()
                && let Err(error) =
                    std::mem::replace(&mut values[*slot], Ok(SecretValue::new(String::new())))
            {
                return Some(Error::Unresolved {
                    place: place.clone(),
                    reference: shown(&text[span.start..span.end], span.at),
                    error: Box::new(error),
                });
            }
        }
    }
    None
}

/// [`SecretsManagerExt::render`].
pub(crate) async fn render<M: SecretsManager + ?Sized>(
    manager: &M,
    template: &str,
) -> Result<SecretValue> {
    let spans = references(template);
    let mut distinct = Vec::new();
    let slots: Vec<usize> = spans
        .iter()
        .map(|span| index_of(&mut distinct, &template[span.start..span.end]))
        .collect();
    let mut values = resolve_all(manager, &distinct).await;
    let places = [("template".to_owned(), template, spans, slots)];
    if let Some(error) = first_failure(&places, &mut values) {
        return Err(error);
    }
    let [(_, _, spans, slots)] = &places;
    Ok(SecretValue::new(fill(template, spans, slots, &values)))
}

/// [`SecretsManagerExt::resolve_tree`].
pub(crate) async fn resolve_tree<M: SecretsManager + ?Sized, T: ConfigTree + ?Sized>(
    manager: &M,
    tree: &mut T,
) -> Result<()> {
    // Each string holding references, its key path and where they are; and a copy of its
    // text (references only, until filled), since the strings are rewritten below.
    let mut leaves: Vec<&mut String> = Vec::new();
    let mut found: Vec<(String, String, Vec<Span>)> = Vec::new();
    tree.visit_strings(&mut String::new(), &mut |path, text| {
        let spans = references(text);
        if !spans.is_empty() {
            found.push((path.to_owned(), text.clone(), spans));
            leaves.push(text);
        }
    });
    let mut distinct = Vec::new();
    let mut places = Vec::new();
    for (path, text, spans) in &mut found {
        let slots: Vec<usize> = spans
            .iter()
            .map(|span| index_of(&mut distinct, &text[span.start..span.end]))
            .collect();
        places.push((path.clone(), text.as_str(), std::mem::take(spans), slots));
    }
    let mut values = resolve_all(manager, &distinct).await;
    if let Some(error) = first_failure(&places, &mut values) {
        return Err(error);
    }
    for ((_, text, spans, slots), leaf) in places.iter().zip(&mut leaves) {
        **leaf = fill(text, spans, slots, &values);
    }
    Ok(())
}

/// Visits the items of a list, each at `path[index]`.
pub(crate) fn visit_items<'t, T: ConfigTree + 't>(
    items: impl Iterator<Item = &'t mut T>,
    path: &mut String,
    visit: &mut dyn FnMut(&str, &'t mut String),
) {
    for (index, item) in items.enumerate() {
        let length = path.len();
        let _ = write!(path, "[{index}]");
        item.visit_strings(path, visit);
        path.truncate(length);
    }
}

/// Visits the entries of a table, each at `path.key` (`key` at the root).
pub(crate) fn visit_entries<'t, T: ConfigTree + 't>(
    entries: impl Iterator<Item = (&'t String, &'t mut T)>,
    path: &mut String,
    visit: &mut dyn FnMut(&str, &'t mut String),
) {
    for (key, item) in entries {
        let length = path.len();
        if length != 0 {
            path.push('.');
        }
        path.push_str(key);
        item.visit_strings(path, visit);
        path.truncate(length);
    }
}

impl ConfigTree for serde_json::Value {
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    ) {
        match self {
            Self::String(text) => visit(path, text),
            Self::Array(items) => visit_items(items.iter_mut(), path, visit),
            Self::Object(map) => visit_entries(map.iter_mut(), path, visit),
            Self::Null | Self::Bool(_) | Self::Number(_) => {}
        }
    }
}

impl ConfigTree for toml::Value {
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    ) {
        match self {
            Self::String(text) => visit(path, text),
            Self::Array(items) => visit_items(items.iter_mut(), path, visit),
            Self::Table(table) => table.visit_strings(path, visit),
            Self::Integer(_) | Self::Float(_) | Self::Boolean(_) | Self::Datetime(_) => {}
        }
    }
}

impl ConfigTree for toml::Table {
    fn visit_strings<'t>(
        &'t mut self,
        path: &mut String,
        visit: &mut dyn FnMut(&str, &'t mut String),
    ) {
        visit_entries(self.iter_mut(), path, visit);
    }
}
