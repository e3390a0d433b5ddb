//! The cache layer: time to live, single flight, refresh ahead, negative caching of not-found,
//! stale-if-error, and a bound on the number of entries.
//!
//! # Why hand-written on `papaya`
//!
//! A hit is on every request of the services that use this crate, and the design promises that
//! it costs about one hash-map lookup: no I/O, no allocation, no exclusive lock, and no write to
//! memory that readers on other cores write. `moka` records every read in a shared buffer and
//! measured about 4-5x a plain map lookup per hit; `quick_cache` takes a shard's read lock,
//! whose counter every reader writes; `papaya`'s reads write nothing shared and measured about
//! as fast as a plain map (`BENCHMARKS.md` has the figures). So `papaya` holds the entries, and
//! this module adds what a secrets cache needs on top of it:
//!
//! - **Entries** are one cache line each (the `entry` module): the key, when it was fetched,
//!   two marks, and one handle to the value per stripe of reader threads (the `stripes`
//!   module), so that handing out a value writes a count only the reader's stripe writes. The
//!   map hashes each to its slot (the name's and version's own hashes, keyed once per process),
//!   and the eviction queue keeps slots: eight bytes an entry.
//! - **Eviction** is CLOCK over insertion order: when the cache is over its bound, the oldest
//!   entry goes unless it was read since the hand last passed it, in which case it gets a
//!   second chance. A read sets the entry's mark only if it is clear, so hits write nothing
//!   while there is no eviction pressure. Amortised O(1) per insertion.
//! - **Single flight**: concurrent misses of one key share one backend call and its outcome,
//!   error included. If the caller leading the fetch is cancelled, a waiting caller takes over.
//! - **Refresh ahead**: a hit in the last part of an entry's time to live starts one background
//!   refresh (on the Tokio runtime of the caller), so a hot key never waits for the network.
//! - **Negative caching**: a not-found answer is kept for a short time, so a missing secret
//!   read in a loop does not reach the vault each time.
//! - **Stale-if-error**: on a temporary failure (throttling, outage), a value past its time to
//!   live is served for a bounded window, marked [`Source::StaleCache`] with its age.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use foldhash::fast::RandomState;
use papaya::Guard;
use parking_lot::Mutex;
use tracing::Instrument;

use crate::backend::{Fetched, SecretBackend};
use crate::clock::CoarseClock;
use crate::error::{Error, Result};
use crate::location::Location;
use crate::observe;
use crate::reference::{ConnectionName, SecretName, SecretVersion};
use crate::value::{Secret, Source};

mod entry;
mod options;
mod stripes;

use entry::{Entry, Key, KeyRef, Marks, Slot, SlotHasher};
pub use options::CacheOptions;
use stripes::{Reader, Stripes};

/// A backend with a cache in front of it; see the [module documentation](self).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use secretscope::cache::{CacheOptions, CachedBackend};
/// use secretscope::memory::MemoryBackend;
/// use secretscope::{SecretBackend, SecretName, Source};
///
/// let memory = MemoryBackend::new();
/// memory.set("db-password", "hunter2")?;
/// let cached = CachedBackend::new(memory, CacheOptions::new());
/// let name = SecretName::new("db-password")?;
/// assert_eq!(cached.fetch(&name, None).await?.source, Source::Backend);
/// assert_eq!(cached.fetch(&name, None).await?.source, Source::Cache);
/// # Ok::<(), secretscope::Error>(())
/// # }).unwrap();
/// ```
pub struct CachedBackend<B> {
    shared: Arc<Shared<B>>,
}

struct Shared<B> {
    inner: B,
    options: CacheOptions,
    clock: CoarseClock,
    /// The time to live, and from what age a hit starts a refresh (`u64::MAX`: never), in
    /// nanoseconds, as hits compare them.
    ttl_nanos: u64,
    refresh_from_nanos: u64,
    /// The entries, each the map's key (with no value), hashed to its slot ([`KeyRef::slot`]):
    /// see the `entry` module for why.
    entries: papaya::HashMap<Entry, (), BuildHasherDefault<SlotHasher>>,
    /// The fetch in progress for each key that has one: callers that miss join it.
    flights: Mutex<HashMap<Key, Arc<Flight>, RandomState>>,
    /// Slots in insertion order, for eviction: eight bytes an entry. An item whose entry was
    /// since removed is skipped.
    order: Mutex<VecDeque<u64>>,
    /// Moves on every invalidation: a fetch that started before one does not store its
    /// answer, which may be what was invalidated.
    epoch: AtomicU64,
    /// How many answers are cached, for the service's metrics.
    entries_gauge: metrics::Gauge,
}

/// The outcome of one backend fetch, shared by every caller that waited for it.
type Flight = tokio::sync::OnceCell<Result<Secret>>;

/// Takes a flight out of the map when a caller is done with it, however it ends: once it has
/// its outcome, or when the last caller waiting for it is dropped first (a cancelled fetch
/// nobody else waits for must not stay behind).
struct Leave<'a> {
    flights: &'a Mutex<HashMap<Key, Arc<Flight>, RandomState>>,
    key: &'a Key,
    flight: &'a Arc<Flight>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock();
        // The map holds one count and each caller one; callers join under this lock.
        let last = Arc::strong_count(self.flight) <= 2;
        if flights
            .get(self.key)
            .is_some_and(|f| Arc::ptr_eq(f, self.flight))
            && (self.flight.initialized() || last)
        {
            flights.remove(self.key);
        }
    }
}

impl<B: SecretBackend> CachedBackend<B> {
    /// Caches what `inner` returns, as `options` say.
    ///
    /// Hits tell time from a coarse clock (reading the system clock would cost as much as the
    /// lookup), advanced by a task on the Tokio runtime of the first caller: times to live are
    /// kept to within a hundredth of the shortest duration in `options`.
    pub fn new(inner: B, options: CacheOptions) -> Self {
        let clock = CoarseClock::new(options.clock_resolution());
        Self::with_clock(inner, options, clock, None)
    }

    /// Like [`new`](Self::new), telling time from `clock` (shared by a manager's caches).
    /// `connection` names the gauge of its entries.
    pub(crate) fn with_clock(
        inner: B,
        options: CacheOptions,
        clock: CoarseClock,
        connection: Option<&ConnectionName>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                entries_gauge: observe::cache_entries(connection),
                inner,
                clock,
                ttl_nanos: nanos(options.ttl),
                refresh_from_nanos: options.refresh_from().map_or(u64::MAX, nanos),
                options,
                entries: papaya::HashMap::builder()
                    .hasher(BuildHasherDefault::default())
                    .build(),
                flights: Mutex::new(HashMap::default()),
                order: Mutex::new(VecDeque::new()),
                epoch: AtomicU64::new(0),
            }),
        }
    }

    /// Drops the cached answer for `name` and `version` (`None`: the latest version); returns
    /// whether there was one.
    ///
    /// A fetch of it already in progress does not put its answer back, and the next read
    /// fetches again rather than join it.
    pub fn invalidate(&self, name: &SecretName, version: Option<&SecretVersion>) -> bool {
        let key = KeyRef { name, version };
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.flights.lock().remove(&key.to_owned());
        self.shared.remove(key)
    }

    /// Drops every cached answer. Fetches already in progress do not put theirs back, and
    /// the next reads fetch again rather than join them.
    pub fn clear(&self) {
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
        self.shared.flights.lock().clear();
        // Holding the queue while the map is swept: an entry stored during the sweep that
        // survives it queues its item after the queue is emptied, so it can still be evicted.
        let mut order = self.shared.order.lock();
        self.shared.entries.pin().clear();
        order.clear();
        drop(order);
        self.shared.count();
    }

    /// How many answers are cached (not-found answers included).
    pub fn len(&self) -> usize {
        self.shared.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<B: fmt::Debug> fmt::Debug for CachedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedBackend")
            .field("inner", &self.shared.inner)
            .field("entries", &self.shared.entries.len())
            .field("options", &self.shared.options)
            .finish()
    }
}

#[async_trait]
impl<B: SecretBackend> SecretBackend for CachedBackend<B> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        if let Some(outcome) = self.fetch_now(name, version) {
            return outcome;
        }
        let shared = &self.shared;
        if !shared.options.is_enabled() {
            return shared.inner.fetch(name, version).await;
        }
        let key = KeyRef { name, version };
        shared.load(key.to_owned(), shared.clock.now()).await
    }

    #[inline]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        match self.hit(name, version) {
            Some(fetched) => Some(Ok(fetched)),
            None => self.miss_now(KeyRef { name, version }),
        }
    }

    async fn check(&self) -> Result<()> {
        self.shared.inner.check().await
    }

    fn location(&self) -> &Location {
        self.shared.inner.location()
    }
}

impl<B: SecretBackend> CachedBackend<B> {
    /// A value cached within its time to live: the way nearly every resolve takes, so it is
    /// inlined into the layers above and carries nothing the size of an error.
    #[inline(always)]
    pub(crate) fn hit(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Fetched> {
        let shared = &*self.shared;
        if !shared.options.is_enabled() {
            return None;
        }
        let guard = shared.entries.guard();
        let entry = shared.get(KeyRef { name, version }, &guard)?;
        let stripes = entry.stripes()?;
        let (reader, exact) = Reader::this_thread();
        let marks = entry.marks();
        let age = shared.clock.read(exact).saturating_sub(marks.fetched_at());
        if age >= shared.ttl_nanos {
            return None;
        }
        entry.mark_read(marks);
        if age >= shared.refresh_from_nanos {
            self.refresh_ahead(entry, marks);
        }
        let secret = stripes.get(reader).clone();
        Some(Fetched::served(
            secret,
            Source::Cache,
            Duration::from_nanos(age),
        ))
    }

    /// Whether values are cached at all (a time to live above zero).
    pub(crate) fn is_enabled(&self) -> bool {
        self.shared.options.is_enabled()
    }

    /// Everything but a fresh hit that is known at once: the cache turned off (the backend's
    /// own answer at hand, if any), or a not-found answer still kept.
    #[inline(never)]
    fn miss_now(&self, key: KeyRef<'_>) -> Option<Result<Fetched>> {
        let shared = &self.shared;
        let now = shared.clock.now();
        if !shared.options.is_enabled() {
            return shared.inner.fetch_now(key.name, key.version);
        }
        {
            let guard = shared.entries.guard();
            if let Some(entry) = shared.get(key, &guard)
                && entry.stripes().is_none()
                && Duration::from_nanos(now.saturating_sub(entry.fetched_at()))
                    < shared.options.negative_ttl
            {
                return Some(Err(shared.not_found(key)));
            }
        }
        None
    }

    /// Starts one background refresh of `entry`, if none was started for it and the caller runs
    /// on a Tokio runtime (otherwise the entry simply expires and the next read fetches it).
    #[cold]
    #[inline(never)]
    fn refresh_ahead(&self, entry: &Entry, marks: Marks) {
        if !entry.start_refresh(marks) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let key = entry.key();
        tracing::debug!(secret = %key.name, location = %shared.inner.location(), "refreshing a cached secret ahead of expiry");
        // Background work: a request budget below gives it only what resolves can spare.
        runtime.spawn(crate::budget::background(async move {
            let now = shared.clock.exact();
            // The outcome lands in the cache; a failure leaves the entry to expire.
            if let (Err(error), _) = shared.join(&key, now).await {
                tracing::debug!(%error, secret = %key.name, "refresh ahead failed; the entry expires as usual");
            }
        }));
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl<B: SecretBackend> Shared<B> {
    /// The entry of `key`, if there is one.
    #[inline(always)]
    fn get<'g>(&self, key: KeyRef<'_>, guard: &'g impl Guard) -> Option<&'g Entry> {
        self.entries
            .get_key_value(&key, guard)
            .map(|(entry, ())| entry)
    }

    /// Tells the service's metrics how many answers are cached.
    fn count(&self) {
        self.entries_gauge.set(self.entries.len() as f64);
    }

    /// Removes the entry of `key`; returns whether there was one.
    fn remove(&self, key: KeyRef<'_>) -> bool {
        let removed = self.entries.pin().remove(&key).is_some();
        if removed {
            self.count();
        }
        removed
    }

    /// Fetches `key` from the backend, joining the fetch already in progress for it if there is
    /// one; `since` is when the caller found no usable entry.
    async fn load(&self, key: Key, since: u64) -> Result<Fetched> {
        let span = tracing::debug_span!(
            "secretscope.cache",
            secret = %key.name,
            outcome = tracing::field::Empty,
        );
        let (outcome, led) = self.join(&key, since).instrument(span.clone()).await;
        let (loaded, said) = match outcome {
            Ok(secret) => (
                Ok(Fetched::new(secret)),
                if led { "fetched" } else { "joined" },
            ),
            Err(error) if error.is_temporary() => {
                let stale = self.stale(&key, error);
                let said = if stale.is_ok() { "stale" } else { "failed" };
                (stale, said)
            }
            Err(error) => (Err(error), "failed"),
        };
        span.record("outcome", said);
        loaded
    }

    /// The backend's answer for `key`, from the fetch in progress or a new one, and whether
    /// this caller made the fetch.
    async fn join(&self, key: &Key, since: u64) -> (Result<Secret>, bool) {
        let flight = Arc::clone(self.flights.lock().entry(key.clone()).or_default());
        let leave = Leave {
            flights: &self.flights,
            key,
            flight: &flight,
        };
        let led = AtomicBool::new(false);
        // If the caller leading the fetch is cancelled, a waiting caller runs its own closure.
        let outcome = flight
            .get_or_init(|| {
                led.store(true, Ordering::Relaxed);
                self.fetch_and_store(key, since)
            })
            .await
            .clone();
        drop(leave);
        (outcome, led.into_inner())
    }

    async fn fetch_and_store(&self, key: &Key, since: u64) -> Result<Secret> {
        // A fetch that landed after the caller looked (its flight already gone) left a value
        // as new as this one would be: use it rather than ask again.
        if let Some(secret) = self.stored_since(key, since) {
            return Ok(secret);
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let outcome = self
            .inner
            .fetch(&key.name, key.version.as_ref())
            .await
            .map(|fetched| fetched.secret);
        self.store(key, &outcome, epoch);
        outcome
    }

    fn stored_since(&self, key: &Key, since: u64) -> Option<Secret> {
        let guard = self.entries.guard();
        match self.get(key.as_ref(), &guard) {
            Some(entry) if entry.fetched_at() > since => Some(entry.stripes()?.any().clone()),
            _ => None,
        }
    }

    /// Keeps what the backend answered: a value, or a not-found answer for a while; forgets a
    /// secret that is now disabled or forbidden; keeps the old value on a temporary failure,
    /// for stale-if-error. Nothing is kept if the cache was invalidated since `epoch`, when the
    /// fetch started.
    fn store(&self, key: &Key, outcome: &Result<Secret>, epoch: u64) {
        let stripes = match outcome {
            Ok(secret) => Some(Stripes::new(secret)),
            Err(Error::NotFound { .. }) if !self.options.negative_ttl.is_zero() => None,
            Err(error) if error.is_temporary() => return,
            Err(_) => {
                self.remove(key.as_ref());
                return;
            }
        };
        let guard = self.entries.guard();
        // A refresh keeps the entry's place in the eviction order.
        let new = self.get(key.as_ref(), &guard).is_none();
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        let entry = Entry::new(key, stripes, self.clock.exact());
        self.entries.insert(entry, (), &guard);
        // An invalidation between the check and the insert: take the key out again (whatever
        // answer it has now, the next read fetches it again).
        if self.epoch.load(Ordering::SeqCst) != epoch {
            self.remove(key.as_ref());
            return;
        }
        if new {
            self.order.lock().push_back(key.as_ref().slot());
            self.evict(&guard);
            self.count();
        }
    }

    /// CLOCK: while over the bound, the oldest entry goes unless read since the hand last
    /// passed it, which only clears its mark.
    fn evict(&self, guard: &impl Guard) {
        let max = self.options.max_entries;
        let mut order = self.order.lock();
        // Items of removed entries pile up when entries are invalidated, even under the
        // bound; keep the queue within twice the bound, each slot once.
        if order.len() > 2 * max + 16 {
            let mut kept = std::collections::HashSet::with_capacity(order.len());
            order
                .retain(|&slot| self.entries.contains_key(&Slot(slot), guard) && kept.insert(slot));
        }
        if self.entries.len() <= max {
            return;
        }
        // Each item is looked at most twice (once to clear its mark, once to evict it).
        let mut steps = order.len() * 2;
        while self.entries.len() > max && steps > 0 {
            steps -= 1;
            let Some(slot) = order.pop_front() else {
                break;
            };
            let Some((entry, ())) = self.entries.get_key_value(&Slot(slot), guard) else {
                continue; // removed since: a stale item
            };
            if entry.clear_read() {
                order.push_back(slot);
            } else if let Ok(Some(_)) =
                self.entries
                    .remove_if(&Slot(slot), |e, ()| std::ptr::eq(e, entry), guard)
            {
                self.count();
            }
        }
    }

    /// The cached value of `key` past its time to live, if stale-if-error allows it.
    fn stale(&self, key: &Key, error: Error) -> Result<Fetched> {
        let window = self.options.ttl.saturating_add(self.options.stale_if_error);
        let guard = self.entries.guard();
        if !self.options.stale_if_error.is_zero()
            && let Some(entry) = self.get(key.as_ref(), &guard)
            && let Some(stripes) = entry.stripes()
        {
            let age = Duration::from_nanos(self.clock.exact().saturating_sub(entry.fetched_at()));
            if age < window {
                tracing::warn!(
                    %error,
                    secret = %key.name,
                    age_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                    "serving a stale cached secret while the backend fails"
                );
                let secret = stripes.any().clone();
                return Ok(Fetched::served(secret, Source::StaleCache, age));
            }
        }
        Err(error)
    }

    fn not_found(&self, key: KeyRef<'_>) -> Error {
        Error::NotFound {
            name: key.name.clone(),
            version: key.version.cloned(),
            location: self.inner.location().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryBackend;

    #[tokio::test]
    async fn invalidated_entries_do_not_pile_up_in_the_eviction_queue() {
        let backend = MemoryBackend::new();
        backend.set("db", "v").unwrap();
        let cached = CachedBackend::new(backend, CacheOptions::new().with_max_entries(4));
        let name = SecretName::new("db").unwrap();
        for _ in 0..1_000 {
            cached.fetch(&name, None).await.unwrap();
            assert!(cached.invalidate(&name, None));
        }
        let queued = cached.shared.order.lock().len();
        assert!(
            queued <= 2 * 4 + 16 + 1,
            "{queued} items queued for 4 entries"
        );
    }

    #[tokio::test]
    async fn answers_at_once_what_it_holds_or_what_the_backend_has_at_hand() {
        let backend = Arc::new(MemoryBackend::new());
        backend.set("db", "v").unwrap();
        let name = SecretName::new("db").unwrap();
        let cached = CachedBackend::new(Arc::clone(&backend), CacheOptions::new());
        assert!(
            cached.fetch_now(&name, None).is_none(),
            "nothing cached yet"
        );
        cached.fetch(&name, None).await.unwrap();
        let hit = cached.fetch_now(&name, None).unwrap().unwrap();
        assert_eq!(hit.source, Source::Cache);
        let off = CachedBackend::new(backend, CacheOptions::disabled());
        let at_hand = off.fetch_now(&name, None).unwrap().unwrap();
        assert_eq!(at_hand.source, Source::Backend);
    }

    #[test]
    fn refresh_ahead_starts_no_earlier_than_half_the_time_to_live() {
        let ttl = Duration::from_secs(300);
        let options = CacheOptions::new().with_ttl(ttl);
        assert_eq!(options.refresh_from(), Some(Duration::from_secs(240)));
        let whole = options.clone().with_refresh_ahead(ttl);
        assert_eq!(whole.refresh_from(), Some(Duration::from_secs(150)));
        let off = options.with_refresh_ahead(Duration::ZERO);
        assert_eq!(off.refresh_from(), None);
    }

    /// A backend whose answers never come.
    #[derive(Debug)]
    struct Hanging(Location);

    #[async_trait]
    impl SecretBackend for Hanging {
        async fn fetch(&self, _: &SecretName, _: Option<&SecretVersion>) -> Result<Fetched> {
            std::future::pending().await
        }
        async fn check(&self) -> Result<()> {
            Ok(())
        }
        fn location(&self) -> &Location {
            &self.0
        }
    }

    #[test]
    fn a_cancelled_fetch_nobody_waits_for_leaves_nothing_behind() {
        let cached = CachedBackend::new(Hanging(Location::memory()), CacheOptions::new());
        let name = SecretName::new("db").unwrap();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut first = cached.fetch(&name, None);
        assert!(std::pin::Pin::new(&mut first).poll(&mut cx).is_pending());
        let mut second = cached.fetch(&name, None);
        assert!(std::pin::Pin::new(&mut second).poll(&mut cx).is_pending());
        drop(first);
        assert_eq!(
            cached.shared.flights.lock().len(),
            1,
            "a caller still waits"
        );
        drop(second);
        assert!(cached.shared.flights.lock().is_empty());
    }

    #[test]
    fn a_stale_window_of_any_length_is_fine() {
        let cached = CachedBackend::new(
            MemoryBackend::new(),
            CacheOptions::new().with_stale_if_error(Duration::MAX),
        );
        let key = Key {
            name: SecretName::new("db").unwrap(),
            version: None,
        };
        let error = cached.shared.not_found(KeyRef {
            name: &key.name,
            version: None,
        });
        assert!(cached.shared.stale(&key, error).is_err());
    }
}
