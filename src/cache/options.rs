//! How the cache layer is configured.

use std::time::Duration;

/// How resolved secrets are cached in memory, per connection.
///
/// Key Vault throttles at about 4,000 reads per 10 s per vault and Microsoft's guidance is to
/// cache in memory. The defaults: each secret is kept for 5 minutes and refreshed in the
/// background when read in its last minute; at most 1,024 secrets per connection; a not-found
/// answer is kept for 5 seconds; no stale values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    pub(super) ttl: Duration,
    pub(super) max_entries: usize,
    pub(super) stale_if_error: Duration,
    pub(super) negative_ttl: Duration,
    refresh_ahead: Option<Duration>,
}

impl CacheOptions {
    /// Five minutes, refreshed ahead in the last fifth, 1,024 entries, not-found kept for 5 s,
    /// no stale values.
    pub fn new() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_entries: 1024,
            stale_if_error: Duration::ZERO,
            negative_ttl: Duration::from_secs(5),
            refresh_ahead: None,
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

    /// How many secrets (name and version pairs, not-found answers included) are kept at most.
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

    /// How long a not-found answer is kept (5 s by default). Zero asks the backend every time.
    pub fn with_negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How long before the end of its time to live a read starts a background refresh of the
    /// entry (a fifth of the time to live by default; at most half of it, so that a refreshed
    /// entry is not refreshed again at once). Zero turns refresh ahead off.
    pub fn with_refresh_ahead(mut self, window: Duration) -> Self {
        self.refresh_ahead = Some(window);
        self
    }

    /// The time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether values are cached at all.
    pub fn is_enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// How finely hits tell time: a hundredth of the shortest duration in use.
    pub(crate) fn clock_resolution(&self) -> Duration {
        let window = self.refresh_ahead.unwrap_or(self.ttl / 5).min(self.ttl / 2);
        [self.ttl, self.negative_ttl, self.stale_if_error, window]
            .into_iter()
            .filter(|d| !d.is_zero())
            .min()
            .unwrap_or(self.ttl)
            / 100
    }

    /// From what age a read starts a refresh; `None` when refresh ahead is off.
    pub(super) fn refresh_from(&self) -> Option<Duration> {
        let window = self.refresh_ahead.unwrap_or(self.ttl / 5).min(self.ttl / 2);
        (!window.is_zero()).then(|| self.ttl - window)
    }
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self::new()
    }
}
