//! The references a policy knows to be in use, and the reference texts it has parsed.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use foldhash::fast::RandomState;
use smol_str::SmolStr;

use super::ScopeMode;
use crate::reference::{ReferenceError, SecretRef};

/// What switch plans report, and a memo of parsing.
///
/// Both maps are read without locks, so the resolve of a reference text seen before costs one
/// lookup (no parse, no allocation) and records nothing: the text was recorded when it was
/// first parsed.
pub(crate) struct Registry {
    limit: usize,
    /// Reference text, as a service wrote it, to its parsed form, for the forms a manager does
    /// not parse in place (plain names it does). Texts of up to 23 bytes, and the parsed
    /// form, are held in the map's entry itself, so a lookup reads no other memory.
    parsed: papaya::HashMap<SmolStr, SecretRef, RandomState>,
    /// Every reference known to be in use, in canonical form.
    known: papaya::HashMap<SecretRef, (), RandomState>,
    /// Places taken in each map, reserved before an insert so that racing inserts cannot
    /// pass `limit` together.
    parsed_len: AtomicUsize,
    known_len: AtomicUsize,
    /// More references were seen than `limit`.
    truncated: AtomicBool,
}

impl Registry {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            parsed: papaya::HashMap::builder()
                .hasher(RandomState::default())
                .build(),
            known: papaya::HashMap::builder()
                .hasher(RandomState::default())
                .build(),
            parsed_len: AtomicUsize::new(0),
            known_len: AtomicUsize::new(0),
            truncated: AtomicBool::new(false),
        }
    }

    /// Parses `text`, or finds it parsed already; records the reference as known.
    pub(crate) fn parse(&self, text: &str) -> Result<SecretRef, ReferenceError> {
        self.with_parsed(text, SecretRef::clone)
    }

    /// Lends the parsed form of `text` to `with`, from the memo when the text was parsed
    /// before (nothing cloned, nothing written); records the reference as known.
    #[inline]
    pub(crate) fn with_parsed<R>(
        &self,
        text: &str,
        with: impl FnOnce(&SecretRef) -> R,
    ) -> Result<R, ReferenceError> {
        if let Some(reference) = self.parsed.pin().get(text) {
            return Ok(with(reference));
        }
        let reference = SecretRef::parse(text)?;
        if self.observe(&reference) && self.reserve(&self.parsed_len) {
            let parsed = self.parsed.pin();
            if parsed
                .try_insert(SmolStr::new(text), reference.clone())
                .is_err()
            {
                self.parsed_len.fetch_sub(1, Ordering::Relaxed); // parsed meanwhile
            }
        }
        Ok(with(&reference))
    }

    /// Records `reference` as known; returns whether it is (false once the limit is reached).
    pub(crate) fn observe(&self, reference: &SecretRef) -> bool {
        let known = self.known.pin();
        if known.contains_key(reference) {
            return true;
        }
        if !self.reserve(&self.known_len) {
            self.truncated.store(true, Ordering::Relaxed);
            return false;
        }
        if known.try_insert(reference.clone(), ()).is_err() {
            self.known_len.fetch_sub(1, Ordering::Relaxed); // recorded meanwhile
        }
        true
    }

    /// Takes one of `limit` places in `len`; false when none is left.
    fn reserve(&self, len: &AtomicUsize) -> bool {
        if len.fetch_add(1, Ordering::Relaxed) < self.limit {
            return true;
        }
        len.fetch_sub(1, Ordering::Relaxed);
        false
    }

    /// Every known reference, in canonical order.
    pub(crate) fn known(&self) -> Vec<SecretRef> {
        let mut refs: Vec<SecretRef> = self.known.pin().keys().cloned().collect();
        refs.sort_by_cached_key(ToString::to_string);
        refs
    }

    /// The known references a switch from `from` to `to` invalidates, in canonical order, and
    /// whether more references were seen than are known.
    pub(crate) fn breaking(&self, from: ScopeMode, to: ScopeMode) -> (Vec<SecretRef>, bool) {
        let mut refs: Vec<SecretRef> = self
            .known
            .pin()
            .keys()
            .filter(|r| from.admits(r.scope()) && !to.admits(r.scope()))
            .cloned()
            .collect();
        refs.sort_by_cached_key(ToString::to_string);
        (refs, self.truncated.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    #[test]
    fn racing_inserts_stay_within_the_limit() {
        for _ in 0..50 {
            let registry = Registry::new(2);
            let start = Barrier::new(8);
            std::thread::scope(|scope| {
                for t in 0..8 {
                    let (registry, start) = (&registry, &start);
                    scope.spawn(move || {
                        let text = format!("secret-{t}");
                        start.wait();
                        registry.parse(&text).unwrap();
                    });
                }
            });
            assert_eq!(registry.known.len(), 2);
            assert_eq!(registry.parsed.len(), 2);
            assert!(registry.truncated.load(Ordering::Relaxed));
        }
    }

    #[test]
    fn equal_references_are_recorded_once() {
        let registry = Registry::new(10);
        assert!(registry.observe(&SecretRef::parse("db").unwrap()));
        assert!(registry.observe(&SecretRef::parse("{{ DB }}").unwrap()));
        assert_eq!(registry.known().len(), 1);
    }
}
