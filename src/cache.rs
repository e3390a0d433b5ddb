//! The in-memory cache in front of the backends: time to live, single flight, stale-if-error.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::reference::{SecretName, SecretVersion};
use crate::value::{Secret, Source};

/// How resolved secrets are cached in memory.
///
/// Key Vault throttles at about 4,000 reads per 10 s per vault and Microsoft's guidance is to
/// cache in memory: the default keeps each secret for 5 minutes, at most 1,024 of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    ttl: Duration,
    max_entries: usize,
    stale_if_error: Duration,
}

impl CacheOptions {
    /// Five minutes, 1,024 entries, no stale values.
    pub fn new() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_entries: 1024,
            stale_if_error: Duration::ZERO,
        }
    }

    /// No caching: every resolve reads the backend.
    pub fn disabled() -> Self {
        Self::new().with_ttl(Duration::ZERO)
    }

    /// How long a value is served without asking the backend again. Zero disables the cache.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many secrets (name and version pairs) are kept at most.
    pub fn with_max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries.max(1);
        self
    }

    /// For how long past its time to live a value may still be served when the backend has a
    /// temporary failure (throttling, network, 5xx). Zero, the default, never serves stale
    /// values. Permanent failures (not found, disabled, permission denied) are never hidden.
    pub fn with_stale_if_error(mut self, window: Duration) -> Self {
        self.stale_if_error = window;
        self
    }

    fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// A secret name and optional version in one connection.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    pub(crate) connection: usize,
    pub(crate) name: SecretName,
    pub(crate) version: Option<SecretVersion>,
}

struct Entry {
    secret: Arc<Secret>,
    fetched_at: Instant,
}

/// The outcome of one backend fetch, shared by every caller that waited for it.
type Flight = tokio::sync::OnceCell<Result<Arc<Secret>>>;

#[derive(Default)]
struct Slot {
    entry: Mutex<Option<Entry>>,
    /// The fetch in progress for this key, if any: callers that miss join it.
    flight: Mutex<Option<Arc<Flight>>>,
}

pub(crate) struct Cache {
    options: CacheOptions,
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
}

impl Cache {
    pub(crate) fn new(options: CacheOptions) -> Self {
        Self {
            options,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// Serves `key` from the cache while fresh; otherwise joins the fetch in progress for it,
    /// or starts one with `fetch`. Every caller that joins a fetch gets its outcome, value or
    /// error, so the backend sees one request per key at a time, even while it fails.
    pub(crate) async fn get_or_fetch<F, Fut>(
        &self,
        key: CacheKey,
        fetch: F,
    ) -> Result<(Arc<Secret>, Source)>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Secret>>,
    {
        if !self.options.enabled() {
            return fetch().await.map(|s| (Arc::new(s), Source::Backend));
        }
        let slot = self.slot(key);
        if let Some(secret) = self.fresh(&slot) {
            return Ok((secret, Source::Cache));
        }
        let flight = Arc::clone(lock(&slot.flight).get_or_insert_with(Default::default));
        // If the caller leading the fetch is cancelled, a waiting caller takes it over.
        let outcome = flight
            .get_or_init(|| async {
                let outcome = fetch().await.map(Arc::new);
                match &outcome {
                    Ok(secret) => {
                        *lock(&slot.entry) = Some(Entry {
                            secret: Arc::clone(secret),
                            fetched_at: Instant::now(),
                        });
                    }
                    // The secret is gone, disabled or forbidden now: do not keep a copy of it.
                    Err(error) if !error.is_temporary() => *lock(&slot.entry) = None,
                    Err(_) => {}
                }
                outcome
            })
            .await
            .clone();
        {
            let mut current = lock(&slot.flight);
            if current.as_ref().is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                *current = None;
            }
        }
        match outcome {
            Ok(secret) => Ok((secret, Source::Backend)),
            Err(error) if error.is_temporary() => match self.stale(&slot) {
                Some(secret) => {
                    tracing::warn!(%error, "serving a stale cached secret while the backend fails");
                    Ok((secret, Source::StaleCache))
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    /// Drops every entry whose connection `keep` rejects.
    pub(crate) fn retain(&self, keep: impl Fn(usize) -> bool) {
        lock(&self.slots).retain(|key, _| keep(key.connection));
    }

    fn slot(&self, key: CacheKey) -> Arc<Slot> {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.get(&key) {
            return Arc::clone(slot);
        }
        if slots.len() >= self.options.max_entries {
            self.evict(&mut slots);
        }
        Arc::clone(slots.entry(key).or_default())
    }

    /// Makes room for one entry: first everything too old to serve even stale, then the
    /// oldest idle entry.
    fn evict(&self, slots: &mut HashMap<CacheKey, Arc<Slot>>) {
        let keep_for = self.options.ttl + self.options.stale_if_error;
        let fetched_at = |slot: &Slot| lock(&slot.entry).as_ref().map(|e| e.fetched_at);
        slots.retain(|_, slot| {
            Arc::strong_count(slot) > 1 || fetched_at(slot).is_some_and(|t| t.elapsed() < keep_for)
        });
        if slots.len() < self.options.max_entries {
            return;
        }
        let oldest = slots
            .iter()
            .filter(|(_, slot)| Arc::strong_count(slot) == 1)
            .min_by_key(|(_, slot)| fetched_at(slot))
            .map(|(key, _)| key.clone());
        if let Some(key) = oldest {
            slots.remove(&key);
        }
    }

    fn fresh(&self, slot: &Slot) -> Option<Arc<Secret>> {
        let entry = lock(&slot.entry);
        let entry = entry.as_ref()?;
        (entry.fetched_at.elapsed() < self.options.ttl).then(|| Arc::clone(&entry.secret))
    }

    fn stale(&self, slot: &Slot) -> Option<Arc<Secret>> {
        let entry = lock(&slot.entry);
        let entry = entry.as_ref()?;
        let limit = self.options.ttl + self.options.stale_if_error;
        (entry.fetched_at.elapsed() < limit).then(|| Arc::clone(&entry.secret))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.slots).len()
    }
}

/// Cache state stays consistent across a panic (every update is one assignment), so a poisoned
/// lock is used as is rather than failing every later resolve.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::value::{SecretProperties, SecretValue};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(name: &str) -> CacheKey {
        CacheKey {
            connection: 0,
            name: SecretName::new(name).unwrap(),
            version: None,
        }
    }

    fn secret(value: &str) -> Secret {
        Secret::new(
            SecretValue::new(value.to_owned()),
            SecretProperties::new(SecretName::new("s").unwrap()),
        )
    }

    fn unavailable() -> Error {
        Error::Unavailable {
            location: "test".into(),
            reason: "down".into(),
            source: None,
        }
    }

    #[tokio::test]
    async fn serves_fresh_values_from_memory() {
        let cache = Cache::new(CacheOptions::new());
        let (_, first) = cache
            .get_or_fetch(key("a"), || async { Ok(secret("1")) })
            .await
            .unwrap();
        let (value, second) = cache
            .get_or_fetch(key("A"), || async {
                panic!("a fresh entry must not be fetched again")
            })
            .await
            .unwrap();
        assert_eq!((first, second), (Source::Backend, Source::Cache));
        assert_eq!(value.value.expose_secret(), "1");
    }

    #[tokio::test]
    async fn concurrent_misses_make_one_request() {
        let cache = Arc::new(Cache::new(CacheOptions::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(key("a"), || async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok(secret("1"))
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_failure() {
        let options = CacheOptions::new()
            .with_ttl(Duration::from_nanos(1))
            .with_stale_if_error(Duration::from_secs(60));
        let cache = Arc::new(Cache::new(options));
        cache
            .get_or_fetch(key("a"), || async { Ok(secret("1")) })
            .await
            .unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls) = (Arc::clone(&cache), Arc::clone(&calls));
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(key("a"), || async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Err(unavailable())
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            let (_, source) = task.await.unwrap().expect("the stale value is served");
            assert_eq!(source, Source::StaleCache);
        }
        // One failing request for sixteen callers: nobody queued to repeat it.
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_the_fetch_over() {
        let cache = Arc::new(Cache::new(CacheOptions::new()));
        let leader = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move {
                cache
                    .get_or_fetch(key("a"), || async {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        Ok(secret("never"))
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move {
                cache
                    .get_or_fetch(key("a"), || async { Ok(secret("2")) })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        // A handover that does not happen would hang the waiter: fail instead.
        let (value, _) = tokio::time::timeout(Duration::from_secs(30), waiter)
            .await
            .expect("the waiter took the fetch over")
            .unwrap()
            .unwrap();
        assert_eq!(value.value.expose_secret(), "2");
    }

    #[tokio::test]
    async fn stale_values_only_on_temporary_errors_within_the_window() {
        let options = CacheOptions::new()
            .with_ttl(Duration::from_secs(10))
            .with_stale_if_error(Duration::from_secs(60));
        let cache = Cache::new(options);
        cache
            .get_or_fetch(key("a"), || async { Ok(secret("1")) })
            .await
            .unwrap();
        // `Instant` in the cache is std's, so age the entry by rewriting its timestamp.
        let age = |cache: &Cache, by: Duration| {
            let slot = Arc::clone(lock(&cache.slots).get(&key("a")).unwrap());
            lock(&slot.entry).as_mut().unwrap().fetched_at -= by;
        };
        age(&cache, Duration::from_secs(30));
        let (_, source) = cache
            .get_or_fetch(key("a"), || async { Err(unavailable()) })
            .await
            .unwrap();
        assert_eq!(source, Source::StaleCache);
        age(&cache, Duration::from_secs(60));
        let err = cache
            .get_or_fetch(key("a"), || async { Err(unavailable()) })
            .await
            .unwrap_err();
        assert!(err.is_temporary());
    }

    #[tokio::test]
    async fn permanent_errors_drop_the_cached_copy() {
        let cache = Cache::new(
            CacheOptions::new()
                .with_ttl(Duration::from_nanos(1))
                .with_stale_if_error(Duration::from_secs(60)),
        );
        cache
            .get_or_fetch(key("a"), || async { Ok(secret("1")) })
            .await
            .unwrap();
        let not_found = || async {
            Err(Error::NotFound {
                name: "a".into(),
                version: None,
                location: "test".into(),
            })
        };
        assert!(cache.get_or_fetch(key("a"), not_found).await.is_err());
        // Nothing stale is left to hide a later temporary error.
        let err = cache
            .get_or_fetch(key("a"), || async { Err(unavailable()) })
            .await;
        assert!(err.is_err());
    }

    #[tokio::test]
    async fn the_number_of_entries_is_bounded() {
        let cache = Cache::new(CacheOptions::new().with_max_entries(8));
        for i in 0..100 {
            cache
                .get_or_fetch(key(&format!("s{i}")), || async { Ok(secret("v")) })
                .await
                .unwrap();
        }
        assert!(cache.len() <= 8, "{} entries", cache.len());
    }

    #[tokio::test]
    async fn disabled_cache_always_fetches() {
        let cache = Cache::new(CacheOptions::disabled());
        for _ in 0..2 {
            let (_, source) = cache
                .get_or_fetch(key("a"), || async { Ok(secret("1")) })
                .await
                .unwrap();
            assert_eq!(source, Source::Backend);
        }
        assert_eq!(cache.len(), 0);
    }
}
