//! The request budget: a layer that keeps the requests to a vault host under a rate shared by
//! every connection in the process that talks to that host, and pauses them all together when
//! the host throttles.
//!
//! Key Vault allows about 4,000 secret reads per 10 s per vault, and throttling is the failure
//! its users meet most: a burst of cache misses after a deploy or a cache flush passes the
//! limit, and then every caller retrying on its own keeps it there. This layer sits between
//! the cache and the backend, so the cache's single flight has already folded concurrent
//! misses of one secret into one request:
//!
//! - **A token bucket per host** ([`BudgetOptions`]; by default 100 requests a second, in
//!   bursts of up to 200). A fetch takes a token at once, or is given the earliest moment one
//!   is free and waits for it, in order of arrival. When that moment is further away than
//!   [`max_wait`](BudgetOptions::with_max_wait), it fails at once as [`Error::Throttled`] by
//!   [`ThrottledBy::Budget`], and nothing is sent.
//! - **One pause for everyone.** A 429 from the host pauses every caller of that host until
//!   its `Retry-After`; when none is sent, for a backoff computed once for all of them (1 s,
//!   then 2, 4, 8, up to 16 s by default, each shortened by up to a fifth at random, so that
//!   processes paused together do not return together). Fetches that arrive meanwhile wait
//!   for the end of the pause within `max_wait`, or fail at once as throttled by the service.
//!   When the pause ends, one request goes first and the rest follow at the budget's rate.
//! - **Background work yields.** Refreshes ahead of expiry and the presence checks of switch
//!   plans spend only tokens above a [reserve](BudgetOptions::with_reserve) kept for resolves,
//!   so they can slow down but never starve a resolve.
//!
//! A backend without an HTTPS host (memory, a file) passes through untouched. The budget of a
//! host is created by the first stack built for it and shared, through a process-wide
//! registry, by every stack built for that host while it lives.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::num::NonZeroU32;
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::time::Instant;
use tracing::Instrument;

use crate::backend::{Fetched, SecretBackend};
use crate::error::{Error, Result, ThrottledBy};
use crate::location::Location;
use crate::observe;
use crate::reference::{SecretName, SecretVersion};

/// How many requests a process sends to one vault host, and how it backs off when throttled.
///
/// The defaults keep one process at a quarter of Key Vault's limit (about 400 reads a second
/// per vault), leaving room for a few replicas and for the other clients of the vault:
///
/// | setting | default |
/// |---|---|
/// | [rate](Self::with_rate) | 100 requests a second |
/// | [burst](Self::with_burst) | 200 requests |
/// | [reserve](Self::with_reserve) kept from background work | 50 requests |
/// | [max_wait](Self::with_max_wait) for a token or the end of a pause | 2 s |
/// | [backoff](Self::with_backoff) after a 429 without `Retry-After` | 1 s doubling to 16 s |
/// | [max_pause](Self::with_max_pause), whatever `Retry-After` says | 60 s |
///
/// ```
/// use std::num::NonZeroU32;
/// use std::time::Duration;
/// use secretscope::budget::BudgetOptions;
///
/// // Ten replicas sharing one vault: 30 requests a second each.
/// let budget = BudgetOptions::new()
///     .with_rate(NonZeroU32::new(30).unwrap())
///     .with_burst(NonZeroU32::new(60).unwrap())
///     .with_max_wait(Duration::from_secs(5));
/// assert_eq!(budget.rate().get(), 30);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetOptions {
    enabled: bool,
    rate: NonZeroU32,
    burst: NonZeroU32,
    reserve: u32,
    max_wait: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    max_pause: Duration,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            rate: NonZeroU32::new(100).expect("not zero"),
            burst: NonZeroU32::new(200).expect("not zero"),
            reserve: 50,
            max_wait: Duration::from_secs(2),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(16),
            max_pause: Duration::from_secs(60),
        }
    }
}

impl BudgetOptions {
    /// The defaults in the table above.
    pub fn new() -> Self {
        Self::default()
    }

    /// No budget and no shared pause: every fetch goes straight to the backend.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Requests a second, sustained.
    pub fn with_rate(mut self, per_second: NonZeroU32) -> Self {
        self.rate = per_second;
        self
    }

    /// Requests that may go at once after a quiet spell: the bucket's size.
    pub fn with_burst(mut self, burst: NonZeroU32) -> Self {
        self.burst = burst;
        self
    }

    /// Tokens that background work (refreshes ahead of expiry, switch-plan checks) leaves in
    /// the bucket for resolves. Capped at the burst less one, so background work can always
    /// proceed once the bucket is nearly full.
    pub fn with_reserve(mut self, reserve: u32) -> Self {
        self.reserve = reserve;
        self
    }

    /// How long a fetch may wait for a token, or for the end of a pause, before it fails as
    /// [`Error::Throttled`]. Zero means never wait.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The pause after a 429 that says no `Retry-After`: `initial`, doubled for each further
    /// 429 in a row, up to `max`. Microsoft's guidance for Key Vault is 1, 2, 4, 8, 16 s.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max.max(initial);
        self
    }

    /// The longest pause, whatever a `Retry-After` asks for.
    pub fn with_max_pause(mut self, max_pause: Duration) -> Self {
        self.max_pause = max_pause;
        self
    }

    /// The pause after a 429 without `Retry-After`: its first length and its cap.
    pub(crate) fn backoff_range(&self) -> (Duration, Duration) {
        (self.backoff_initial, self.backoff_max)
    }

    /// Whether a budget is kept at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Requests a second, sustained.
    pub fn rate(&self) -> NonZeroU32 {
        self.rate
    }

    /// The bucket's size.
    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// How long a fetch may wait.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Tokens background work leaves for resolves.
    fn reserve(&self) -> f64 {
        f64::from(self.reserve.min(self.burst.get() - 1))
    }

    /// The pause after the `strikes`-th 429 in a row that gave no `Retry-After`, before
    /// jitter.
    fn backoff(&self, strikes: u32) -> Duration {
        let factor = 1u32 << strikes.saturating_sub(1).min(16);
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

tokio::task_local! {
    /// Set while background work (a refresh ahead of expiry, a plan's presence check) runs.
    static BACKGROUND: ();
}

/// Runs `work` as background work: the budgets it meets give it only tokens above their
/// reserve.
pub(crate) fn background<F: Future>(work: F) -> impl Future<Output = F::Output> {
    BACKGROUND.scope((), work)
}

fn in_background() -> bool {
    BACKGROUND.try_with(|_| ()).is_ok()
}

/// The budget of one host, shared by every stack that talks to it.
struct HostBudget {
    options: BudgetOptions,
    state: Mutex<State>,
}

struct State {
    /// Tokens at `updated`. Negative while fetches wait for tokens given to them ahead.
    tokens: f64,
    /// When `tokens` was counted: the last token given, or the end of a pause; it may lie
    /// ahead. The bucket fills at `rate` from then, up to `burst`.
    updated: Instant,
    /// The end of the current pause, and when it began.
    paused: Option<(Instant, Instant)>,
    /// Pauses begun so far: a fetch given a token before a pause began asks again.
    pauses: u64,
    /// 429s in a row without `Retry-After`, for the backoff.
    strikes: u32,
}

/// A token: when to send, and under which pause.
struct Ticket {
    at: Instant,
    pauses: u64,
}

impl HostBudget {
    fn new(options: BudgetOptions) -> Self {
        Self {
            options,
            state: Mutex::new(State {
                tokens: f64::from(options.burst.get()),
                updated: Instant::now(),
                paused: None,
                pauses: 0,
                strikes: 0,
            }),
        }
    }

    /// Waits for a token within `max_wait`, or says why there is none.
    async fn admit(&self, location: &Location) -> Result<Ticket> {
        let background = in_background();
        let started = Instant::now();
        let deadline = started + self.options.max_wait;
        let mut wait = Wait::default();
        loop {
            let now = Instant::now();
            let ticket = if background {
                self.take_surplus(now)
            } else {
                self.take(now, deadline)
            };
            match ticket {
                Ok(ticket) => {
                    if ticket.at > now {
                        tracing::debug!(
                            %location,
                            wait_ms = (ticket.at - now).as_millis() as u64,
                            "waiting for the request budget"
                        );
                        wait.until(ticket.at, location).await;
                    }
                    // A pause that began meanwhile holds this fetch too.
                    if self.state.lock().pauses == ticket.pauses {
                        wait.done(location, started, "admitted");
                        return Ok(ticket);
                    }
                }
                Err(Refused::Retry(at)) if at <= deadline => wait.until(at, location).await,
                Err(Refused::Retry(_)) => {
                    wait.done(location, started, "throttled");
                    return Err(self.throttled(location, now, ThrottledBy::Budget));
                }
                Err(Refused::Throttled(by)) => {
                    wait.done(location, started, "throttled");
                    return Err(self.throttled(location, now, by));
                }
            }
        }
    }

    /// Gives the earliest token free, if it is free by `deadline`: tokens are given in order
    /// of asking, so a fetch that waits keeps its place.
    fn take(&self, now: Instant, deadline: Instant) -> Result<Ticket, Refused> {
        let mut state = self.state.lock();
        let start = now.max(state.updated);
        let rate = f64::from(self.options.rate.get());
        let full = f64::from(self.options.burst.get());
        let tokens = (state.tokens + rate * (start - state.updated).as_secs_f64()).min(full);
        let at = start + Duration::from_secs_f64((1.0 - tokens).max(0.0) / rate);
        if at > deadline {
            let paused = state.paused.is_some_and(|(until, _)| until > deadline);
            return Err(Refused::Throttled(if paused {
                ThrottledBy::Service
            } else {
                ThrottledBy::Budget
            }));
        }
        state.tokens = tokens.max(1.0) - 1.0;
        state.updated = at;
        Ok(Ticket {
            at,
            pauses: state.pauses,
        })
    }

    /// A token now, if one is free above the reserve; otherwise when to ask again.
    fn take_surplus(&self, now: Instant) -> Result<Ticket, Refused> {
        let mut state = self.state.lock();
        let rate = f64::from(self.options.rate.get());
        let full = f64::from(self.options.burst.get());
        let needed = self.options.reserve() + 1.0;
        if state.updated > now {
            // Paused, or tokens already given ahead to fetches that wait.
            let behind = (needed - state.tokens).max(0.0);
            return Err(Refused::Retry(
                state.updated + Duration::from_secs_f64(behind / rate),
            ));
        }
        let tokens = (state.tokens + rate * (now - state.updated).as_secs_f64()).min(full);
        if tokens < needed {
            let behind = needed - tokens;
            return Err(Refused::Retry(now + Duration::from_secs_f64(behind / rate)));
        }
        state.tokens = tokens - 1.0;
        state.updated = now;
        Ok(Ticket {
            at: now,
            pauses: state.pauses,
        })
    }

    fn throttled(&self, location: &Location, now: Instant, by: ThrottledBy) -> Error {
        let state = self.state.lock();
        let retry_after = match state.paused {
            Some((until, _)) if until > now => until - now,
            _ => {
                let rate = f64::from(self.options.rate.get());
                let start = now.max(state.updated);
                let short = (1.0 - state.tokens).max(0.0);
                start + Duration::from_secs_f64(short / rate) - now
            }
        };
        observe::throttled(location.host().unwrap_or_default(), by);
        Error::Throttled {
            location: location.clone(),
            retry_after: Some(retry_after),
            by,
        }
    }

    /// Learns from what the host answered the fetch `ticket` admitted.
    fn learn(&self, ticket: &Ticket, outcome: &Result<Fetched>, location: &Location) {
        match outcome {
            Err(Error::Throttled {
                retry_after,
                by: ThrottledBy::Service,
                ..
            }) => self.pause(ticket, *retry_after, location),
            // Any other answer of the service ends a run of 429s.
            Err(error) if error.is_temporary() => {}
            Ok(_) | Err(_) => {
                let mut state = self.state.lock();
                if state.strikes != 0 {
                    state.strikes = 0;
                }
            }
        }
    }

    /// Pauses every caller: until `retry_after`, or for the backoff the 429s in a row call
    /// for. A 429 to a request sent before the current pause began is the same throttling,
    /// not a further strike.
    fn pause(&self, ticket: &Ticket, retry_after: Option<Duration>, location: &Location) {
        let now = Instant::now();
        let mut state = self.state.lock();
        if state.paused.is_none_or(|(_, began)| ticket.at >= began) {
            state.strikes = state.strikes.saturating_add(1);
        }
        let wait = retry_after
            .unwrap_or_else(|| jittered(self.options.backoff(state.strikes)))
            .min(self.options.max_pause);
        let until = now + wait;
        if state.paused.is_some_and(|(current, _)| current >= until) {
            return;
        }
        state.paused = Some((until, now));
        state.pauses += 1;
        observe::throttled(location.host().unwrap_or_default(), ThrottledBy::Service);
        // One request goes when the pause ends; the others follow at the budget's rate.
        state.tokens = 1.0;
        state.updated = until;
        drop(state);
        tracing::warn!(
            %location,
            pause_ms = wait.as_millis() as u64,
            retry_after_sent = retry_after.is_some(),
            "the vault is throttling: every request to it from this process is paused"
        );
    }
}

/// The span of a fetch that waits for the budget, opened at its first wait.
#[derive(Default)]
struct Wait {
    span: Option<tracing::Span>,
}

impl Wait {
    async fn until(&mut self, at: Instant, location: &Location) {
        let span = self.span.get_or_insert_with(|| {
            tracing::debug_span!(
                "secretscope.budget.wait",
                host = location.host().unwrap_or_default(),
                waited_ms = tracing::field::Empty,
                outcome = tracing::field::Empty,
            )
        });
        tokio::time::sleep_until(at).instrument(span.clone()).await;
    }

    /// Records a wait that happened: its span's fields and the metrics.
    fn done(&self, location: &Location, started: Instant, outcome: &'static str) {
        let Some(span) = &self.span else {
            return;
        };
        let waited = started.elapsed();
        span.record("waited_ms", waited.as_millis() as u64);
        span.record("outcome", outcome);
        observe::budget_waited(location.host().unwrap_or_default(), waited);
    }
}

enum Refused {
    /// Background work: ask again then.
    Retry(Instant),
    /// No token within the deadline.
    Throttled(ThrottledBy),
}

/// `wait` shortened by up to a fifth, at random, so that processes paused together do not
/// return together.
fn jittered(wait: Duration) -> Duration {
    let mut random = RandomState::new().build_hasher();
    random.write_u64(wait.as_nanos() as u64);
    let fifth = wait / 5;
    wait - fifth.mul_f64((random.finish() >> 11) as f64 / (1u64 << 53) as f64)
}

/// host -> its budget, while some stack holds it.
static BUDGETS: LazyLock<Mutex<HashMap<Box<str>, Weak<HostBudget>>>> =
    LazyLock::new(Default::default);

/// The budget of `host`, shared with every stack built for it while one lives.
fn budget_for(host: &str, options: BudgetOptions) -> Arc<HostBudget> {
    let mut budgets = BUDGETS.lock();
    budgets.retain(|_, budget| budget.strong_count() > 0);
    if let Some(budget) = budgets.get(host).and_then(Weak::upgrade) {
        if budget.options != options {
            tracing::warn!(
                host,
                "a request budget with other settings already exists for this host; the first one made is shared"
            );
        }
        return budget;
    }
    let budget = Arc::new(HostBudget::new(options));
    budgets.insert(host.into(), Arc::downgrade(&budget));
    budget
}

/// A backend whose requests are held to its host's request budget, and paused with every
/// other caller of that host when it throttles.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use secretscope::budget::{BudgetOptions, BudgetedBackend};
/// use secretscope::memory::MemoryBackend;
/// use secretscope::{SecretBackend, SecretName};
///
/// let memory = MemoryBackend::new();
/// memory.set("db-password", "s3cr3t")?;
/// // A memory backend has no host: the budget lets everything through.
/// let budgeted = BudgetedBackend::new(memory, BudgetOptions::new());
/// let fetched = budgeted.fetch(&SecretName::new("db-password")?, None).await?;
/// assert_eq!(fetched.secret.value().expose_secret(), "s3cr3t");
/// # Ok::<(), secretscope::Error>(())
/// # }).unwrap();
/// ```
pub struct BudgetedBackend<B> {
    inner: B,
    budget: Option<Arc<HostBudget>>,
}

impl<B: SecretBackend> BudgetedBackend<B> {
    /// Holds `inner` to the budget of its host, made with `options` unless a stack built
    /// earlier for the same host made it already.
    pub fn new(inner: B, options: BudgetOptions) -> Self {
        let budget = match inner.location().host() {
            Some(host) if options.enabled => Some(budget_for(host, options)),
            _ => None,
        };
        Self { inner, budget }
    }

    /// The backend behind the budget.
    pub fn inner(&self) -> &B {
        &self.inner
    }
}

#[async_trait]
impl<B: SecretBackend> SecretBackend for BudgetedBackend<B> {
    async fn fetch(&self, name: &SecretName, version: Option<&SecretVersion>) -> Result<Fetched> {
        let Some(budget) = &self.budget else {
            return self.inner.fetch(name, version).await;
        };
        let location = self.inner.location();
        let ticket = budget.admit(location).await?;
        let outcome = self.inner.fetch(name, version).await;
        budget.learn(&ticket, &outcome, location);
        outcome
    }

    /// What the backend has at hand costs no request.
    #[inline(always)]
    fn fetch_now(
        &self,
        name: &SecretName,
        version: Option<&SecretVersion>,
    ) -> Option<Result<Fetched>> {
        self.inner.fetch_now(name, version)
    }

    async fn check(&self) -> Result<()> {
        let Some(budget) = &self.budget else {
            return self.inner.check().await;
        };
        let location = self.inner.location();
        let ticket = budget.admit(location).await?;
        let outcome = self.inner.check().await;
        if let Err(error) = &outcome {
            budget.learn(&ticket, &Err(error.clone()), location);
        }
        outcome
    }

    fn location(&self) -> &Location {
        self.inner.location()
    }
}

impl<B: fmt::Debug> fmt::Debug for BudgetedBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetedBackend")
            .field("inner", &self.inner)
            .field("budget", &self.budget.as_ref().map(|b| b.options))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(rate: u32, burst: u32, reserve: u32) -> HostBudget {
        HostBudget::new(
            BudgetOptions::new()
                .with_rate(NonZeroU32::new(rate).unwrap())
                .with_burst(NonZeroU32::new(burst).unwrap())
                .with_reserve(reserve),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_given_in_order_at_the_rate() {
        let budget = budget(10, 2, 0);
        let now = Instant::now();
        let far = now + Duration::from_secs(60);
        let times: Vec<Duration> = (0..5)
            .map(|_| budget.take(now, far).ok().unwrap().at - now)
            .collect();
        let ms: Vec<u128> = times.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [0, 0, 100, 200, 300]);
        // Past the deadline: refused, and nothing taken.
        assert!(budget.take(now, now + Duration::from_millis(350)).is_err());
        assert_eq!(
            budget.take(now, far).ok().unwrap().at - now,
            Duration::from_millis(400)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_leaves_the_reserve_to_resolves() {
        let budget = budget(10, 4, 2);
        let now = Instant::now();
        assert!(budget.take_surplus(now).is_ok()); // 4 -> 3
        assert!(budget.take_surplus(now).is_ok()); // 3 -> 2
        let Err(Refused::Retry(again)) = budget.take_surplus(now) else {
            panic!("the reserve was spent on background work");
        };
        assert_eq!(again - now, Duration::from_millis(100));
        // Resolves still have the reserve, at once.
        let far = now + Duration::from_secs(60);
        assert_eq!(budget.take(now, far).ok().unwrap().at, now);
        assert_eq!(budget.take(now, far).ok().unwrap().at, now);
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_jitter_only_shortens() {
        let options = BudgetOptions::new();
        let waits: Vec<u64> = (1..=7).map(|n| options.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 16, 16]);
        for _ in 0..1000 {
            let wait = jittered(Duration::from_secs(10));
            assert!(wait <= Duration::from_secs(10) && wait >= Duration::from_secs(8));
        }
    }

    #[test]
    fn the_reserve_never_locks_background_work_out() {
        let options = BudgetOptions::new()
            .with_burst(NonZeroU32::new(3).unwrap())
            .with_reserve(10);
        assert_eq!(options.reserve(), 2.0);
    }
}
