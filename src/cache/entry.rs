//! What the cache keeps for one key, laid out so that a hit reads one cache line of it.
//!
//! A hit reads an entry's name and version (to tell it is the right one), when it was fetched,
//! its read mark, and the handle of the reader's stripe. An [`Entry`] is all of that in 64
//! bytes, aligned to 64, and the map keeps it as its key, with no value: papaya allocates a key
//! and its value together, so the entry is a whole allocation of one line. (As a value beside a
//! `u64` key it took 128 bytes, 16-aligned, over two or three lines.) To fit:
//!
//! - the name is kept without its hash ([`SecretName::text`]), which is worked out again only
//!   off the hit path: when the entry is stored, when the map grows, and when the eviction hand
//!   looks it up;
//! - a pinned version, which most references do not have, is kept out of line;
//! - when it was fetched and its two marks share one word ([`Stamp`]).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use papaya::Equivalent;
use smol_str::SmolStr;

use super::stripes::Stripes;
use crate::reference::{SecretName, SecretVersion};

/// The key of one cached answer: a secret name and, if pinned, a version.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) name: SecretName,
    pub(super) version: Option<SecretVersion>,
}

impl Key {
    pub(super) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            name: &self.name,
            version: self.version.as_ref(),
        }
    }
}

/// A [`Key`] borrowed from the caller, so that a hit builds nothing. Looks up its [`Entry`].
#[derive(Clone, Copy)]
pub(super) struct KeyRef<'a> {
    pub(super) name: &'a SecretName,
    pub(super) version: Option<&'a SecretVersion>,
}

impl KeyRef<'_> {
    pub(super) fn to_owned(self) -> Key {
        Key {
            name: self.name.clone(),
            version: self.version.copied(),
        }
    }

    /// The key's place in the map: the hashes its name and version keep (keyed once per
    /// process, so already spread and unpredictable), mixed.
    #[inline]
    pub(super) fn slot(self) -> u64 {
        let version = self.version.map_or(0, SecretVersion::folded_hash);
        self.name.folded_hash() ^ version.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29)
    }
}

impl Hash for KeyRef<'_> {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.slot());
    }
}

impl Equivalent<Entry> for KeyRef<'_> {
    #[inline]
    fn equivalent(&self, entry: &Entry) -> bool {
        self.name.is(&entry.name) && self.version == entry.version.as_deref()
    }
}

/// Looks up the entry in a slot, whatever its key: for the eviction hand, which keeps slots.
#[derive(Clone, Copy)]
pub(super) struct Slot(pub(super) u64);

impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

impl Equivalent<Entry> for Slot {
    fn equivalent(&self, entry: &Entry) -> bool {
        entry.slot() == self.0
    }
}

/// Hashes a slot to itself: slots are hashes already.
#[derive(Default)]
pub(super) struct SlotHasher(u64);

impl Hasher for SlotHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only slots (u64) are hashed; anything else still hashes, if poorly.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, slot: u64) {
        self.0 = slot;
    }
}

/// One cached answer: a value's handles, or that the backend found nothing.
#[repr(C, align(64))]
pub(super) struct Entry {
    /// The name as written ([`SecretName::text`]).
    name: SmolStr,
    version: Option<Box<SecretVersion>>,
    stamp: Stamp,
    /// `None`: the backend answered that there is no such secret.
    stripes: Option<Stripes>,
}

const _: () = assert!(size_of::<Entry>() == 64 && align_of::<Entry>() == 64);

impl Entry {
    pub(super) fn new(key: &Key, stripes: Option<Stripes>, fetched_at: u64) -> Self {
        Self {
            name: key.name.text().clone(),
            version: key.version.map(Box::new),
            stamp: Stamp::new(fetched_at),
            stripes,
        }
    }

    /// Its key, made again.
    pub(super) fn key(&self) -> Key {
        Key {
            name: SecretName::from_text(self.name.clone()),
            version: self.version.as_deref().copied(),
        }
    }

    /// Its place in the map, worked out again from its key.
    fn slot(&self) -> u64 {
        self.key().as_ref().slot()
    }

    /// The value's handles; `None` for a not-found answer.
    #[inline(always)]
    pub(super) fn stripes(&self) -> Option<&Stripes> {
        self.stripes.as_ref()
    }

    /// When it was fetched and its marks, as they are now.
    #[inline(always)]
    pub(super) fn marks(&self) -> Marks {
        Marks(self.stamp.0.load(Ordering::Relaxed))
    }

    /// When the backend answered, on the cache's clock (nanoseconds).
    pub(super) fn fetched_at(&self) -> u64 {
        self.marks().fetched_at()
    }

    /// Marks it read, for the eviction hand; `marks` are what the caller last saw. Writes only
    /// on a change: a hit on an entry already marked writes nothing.
    #[inline(always)]
    pub(super) fn mark_read(&self, marks: Marks) {
        if marks.0 & READ == 0 {
            self.stamp.0.fetch_or(READ, Ordering::Relaxed);
        }
    }

    /// Clears its read mark; returns whether it was set.
    pub(super) fn clear_read(&self) -> bool {
        self.stamp.0.fetch_and(!READ, Ordering::Relaxed) & READ != 0
    }

    /// Marks that a refresh ahead of expiry was started; returns whether this call did (once
    /// per entry).
    pub(super) fn start_refresh(&self, marks: Marks) -> bool {
        marks.0 & REFRESHING == 0
            && self.stamp.0.fetch_or(REFRESHING, Ordering::AcqRel) & REFRESHING == 0
    }
}

impl Hash for Entry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.slot());
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.name.eq_ignore_ascii_case(&other.name) && self.version == other.version
    }
}

impl Eq for Entry {}

/// When an entry was fetched (nanoseconds on the cache's clock, which start at zero: 2^62 of
/// them is over a century) shifted left by two, and its two marks in the low bits.
struct Stamp(AtomicU64);

/// Read since the eviction hand last passed (CLOCK's mark).
const READ: u64 = 1;
/// A refresh ahead of expiry was started.
const REFRESHING: u64 = 2;
const MARK_BITS: u32 = 2;

impl Stamp {
    fn new(fetched_at: u64) -> Self {
        Self(AtomicU64::new(
            fetched_at.min(u64::MAX >> MARK_BITS) << MARK_BITS,
        ))
    }
}

/// A [`Stamp`] as read once.
#[derive(Clone, Copy)]
pub(super) struct Marks(u64);

impl Marks {
    #[inline(always)]
    pub(super) fn fetched_at(self) -> u64 {
        self.0 >> MARK_BITS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Key {
        Key {
            name: SecretName::new(name).unwrap(),
            version: None,
        }
    }

    #[test]
    fn an_entry_is_found_by_its_key_in_any_case_and_hashes_like_it() {
        let entry = Entry::new(&key("Db-Password"), None, 7);
        let other = key("db-PASSWORD");
        assert!(other.as_ref().equivalent(&entry));
        assert!(!key("db-password2").as_ref().equivalent(&entry));
        assert_eq!(entry.slot(), other.as_ref().slot());
        assert!(Slot(other.as_ref().slot()).equivalent(&entry));
        let mut pinned = other.clone();
        pinned.version = Some("0123456789abcdef0123456789ABCDEF".parse().unwrap());
        assert!(!pinned.as_ref().equivalent(&entry));
        let pinned_entry = Entry::new(&pinned, None, 7);
        assert!(pinned.as_ref().equivalent(&pinned_entry));
        assert_eq!(pinned_entry.slot(), pinned.as_ref().slot());
        assert!(pinned_entry.key() == pinned);
    }

    #[test]
    fn marks_are_set_once_and_leave_the_fetch_time_alone() {
        let entry = Entry::new(&key("db"), None, 123_456_789);
        let marks = entry.marks();
        assert_eq!(marks.fetched_at(), 123_456_789);
        assert!(!entry.clear_read());
        entry.mark_read(marks);
        assert!(entry.start_refresh(entry.marks()));
        assert!(!entry.start_refresh(entry.marks()));
        assert!(
            !entry.start_refresh(marks),
            "the word, not the snapshot, decides"
        );
        assert!(entry.clear_read());
        assert!(!entry.clear_read());
        assert_eq!(entry.fetched_at(), 123_456_789);
    }

    #[test]
    fn a_fetch_time_beyond_the_stamp_saturates() {
        let entry = Entry::new(&key("db"), None, u64::MAX);
        assert_eq!(entry.fetched_at(), u64::MAX >> MARK_BITS);
    }
}
