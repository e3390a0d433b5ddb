//! Handles of one cached secret, one for each stripe of reader threads.
//!
//! A hit hands out a handle to the cached secret, which writes that handle's reference count
//! (and dropping it writes it again). If every reader cloned the same handle, readers on
//! different cores would take turns owning the cache line of that count, and a hit on a hot key
//! would cost a transfer between cores. So an entry keeps a few handles to the one secret, each
//! counted on a cache line of its own ([`Secret::with_own_count`]), and each thread reads
//! through its own stripe's handle. There is still one copy of the value: the handles share it.
//!
//! Threads are given stripes in turn as they first read; there are as many stripes as the
//! machine has cores, up to [`MAX_STRIPES`]. More threads than stripes share them, and then
//! contend only when two threads of one stripe read the same key at the same moment.
//!
//! A thread's stripe and its count of clock reads ([`Reads`]) are one thread-local, read once
//! a hit: each thread-local read costs a call or two.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::clock::Reads;
use crate::value::Secret;

/// The most stripes an entry keeps: as many handles as fit in the entry's cache line beside
/// its key (each handle points to an allocation of one cache line).
pub(crate) const MAX_STRIPES: usize = 3;

/// The handles of one cached secret.
pub(super) struct Stripes {
    first: Secret,
    rest: [Option<Secret>; MAX_STRIPES - 1],
}

impl Stripes {
    /// New handles to `secret` for every stripe in use.
    ///
    /// New ones even for the first stripe: made here, just before the entry that holds them,
    /// they are allocated next to it, so that a hit reads memory in one place.
    pub(super) fn new(secret: &Secret) -> Self {
        let mut rest: [Option<Secret>; MAX_STRIPES - 1] = Default::default();
        let first = secret.with_own_count();
        for handle in rest.iter_mut().take(stripe_count() - 1) {
            *handle = Some(secret.with_own_count());
        }
        Self { first, rest }
    }

    /// The handle of the reader's stripe.
    #[inline]
    pub(super) fn get(&self, reader: Reader) -> &Secret {
        match usize::from(reader.stripe) {
            0 => &self.first,
            i => self.rest[i - 1].as_ref().unwrap_or(&self.first),
        }
    }

    /// Any handle, for work that is not on the hit path.
    pub(super) fn any(&self) -> &Secret {
        &self.first
    }
}

/// How many stripes entries keep: one per core, up to [`MAX_STRIPES`].
fn stripe_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_STRIPES)
    })
}

/// What a thread that reads the cache keeps for itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reader {
    /// Its stripe; `u8::MAX` until it first reads.
    stripe: u8,
    reads: Reads,
}

impl Reader {
    /// The calling thread's state for this read: its stripe (given in turn the first time it
    /// reads), and whether this read should read the system clock.
    ///
    /// Never inlined: in a function of this crate the thread-local is read in place, where
    /// inlined into a caller's crate it is reached through a function pointer.
    #[inline(never)]
    pub(super) fn this_thread() -> (Self, bool) {
        thread_local! {
            static READER: Cell<Reader> = const {
                Cell::new(Reader { stripe: u8::MAX, reads: Reads::new() })
            };
        }
        READER.with(|cell| {
            let mut reader = cell.get();
            if reader.stripe == u8::MAX {
                reader.stripe = next_stripe();
            }
            let exact = reader.reads.count();
            cell.set(reader);
            (reader, exact)
        })
    }
}

#[cold]
fn next_stripe() -> u8 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Below MAX_STRIPES, which is below u8::MAX.
    (NEXT.fetch_add(1, Ordering::Relaxed) % stripe_count()) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::SecretName;
    use crate::value::SecretProperties;

    fn secret() -> Secret {
        Secret::new(
            "v".to_owned(),
            SecretProperties::new(SecretName::new("db").unwrap()),
        )
    }

    #[test]
    fn every_stripe_in_use_has_its_own_handle_to_one_value() {
        let stripes = Stripes::new(&secret());
        let handles: Vec<&Secret> = std::iter::once(&stripes.first)
            .chain(stripes.rest.iter().flatten())
            .collect();
        assert_eq!(handles.len(), stripe_count());
        for handle in &handles {
            assert!(std::ptr::eq(
                handle.expose_secret(),
                stripes.first.expose_secret()
            ));
        }
    }

    #[test]
    fn threads_are_given_stripes_in_turn() {
        let stripe = || Reader::this_thread().0.stripe;
        let given: std::collections::HashSet<u8> = (0..stripe_count())
            .map(|_| std::thread::spawn(stripe).join().unwrap())
            .collect();
        // Other tests' threads take stripes too, so only the bound is exact here.
        assert!(given.iter().all(|&s| usize::from(s) < stripe_count()));
        assert_eq!(stripe(), stripe());
    }

    #[test]
    fn every_64th_read_of_a_thread_reads_the_clock() {
        let exact = (0..128).filter(|_| Reader::this_thread().1).count();
        assert_eq!(exact, 2);
    }
}
