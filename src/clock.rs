//! The clock cache hits read.
//!
//! Reading the system clock costs about as much as the whole map lookup of a hit (measured
//! 40-50 ns on the machines this crate is benchmarked on, against about 45 ns for the lookup),
//! so hits read a coarse time instead: one atomic load of a value a background task advances
//! every `resolution`. Times to live are then kept to within that resolution, which the cache
//! sets to a hundredth of its shortest duration.
//!
//! The task runs on the Tokio runtime of the first caller (so it follows Tokio's clock, paused
//! in tests), holds the clock weakly, and stops when the clock is dropped. When it is not
//! running (no runtime yet, or its runtime shut down), reads take the system clock and start
//! it again if they run on a runtime.
//!
//! A task that reads in a loop without ever awaiting anything keeps the runtime from running
//! the clock's task, so every 64th read on a thread takes the system clock as well: time never
//! stands still for more than 64 reads, and the count is per thread, so it is shared with no
//! other core. The same bound holds when the runtime the task runs on sits idle between reads
//! (a current-thread runtime driven now and then by `block_on`): there, a value may be served
//! up to 63 reads per thread past its time to live.
//!
//! On a runtime without timers the task fails at its first sleep (Tokio reports the panic
//! once); the clock then never starts it again and every read takes the system clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// A coarse clock; cloning shares it.
#[derive(Clone)]
pub(crate) struct CoarseClock(Arc<Ticks>);

struct Ticks {
    origin: Instant,
    /// Nanoseconds from `origin` to the last tick.
    elapsed: AtomicU64,
    running: AtomicBool,
    /// The task failed (a runtime without timers): never start it again, read the system
    /// clock instead.
    failed: AtomicBool,
    resolution: Duration,
}

impl CoarseClock {
    pub(crate) fn new(resolution: Duration) -> Self {
        Self(Arc::new(Ticks {
            origin: Instant::now(),
            elapsed: AtomicU64::new(0),
            running: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            resolution: resolution.clamp(Duration::from_millis(1), Duration::from_secs(1)),
        }))
    }

    /// The time, in nanoseconds from the clock's origin, to within the resolution.
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        thread_local! {
            static READS: std::cell::Cell<Reads> = const { std::cell::Cell::new(Reads::new()) };
        }
        let exact = READS.with(|reads| {
            let mut counted = reads.get();
            let exact = counted.count();
            reads.set(counted);
            exact
        });
        self.read(exact)
    }

    /// The time, to within the resolution unless `exact` (or the task that keeps it is not
    /// running), in which case it is read from the system clock. A caller that keeps its own
    /// per-thread [`Reads`] passes what it says, instead of [`now`](Self::now) counting.
    #[inline]
    pub(crate) fn read(&self, exact: bool) -> u64 {
        let ticks = &*self.0;
        if ticks.running.load(Ordering::Acquire) && !exact {
            return ticks.elapsed.load(Ordering::Acquire);
        }
        self.start()
    }

    /// The time read from the system clock, in nanoseconds from the clock's origin.
    pub(crate) fn exact(&self) -> u64 {
        self.0.catch_up()
    }

    /// Reads the system clock, and starts the task if it is not running and the caller is on
    /// a runtime.
    #[cold]
    fn start(&self) -> u64 {
        let now = self.0.catch_up();
        if !self.0.running.load(Ordering::Acquire)
            && !self.0.failed.load(Ordering::Relaxed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && !self.0.running.swap(true, Ordering::AcqRel)
        {
            let ticks = Arc::downgrade(&self.0);
            runtime.spawn(advance(ticks, self.0.resolution));
        }
        now
    }
}

impl Ticks {
    /// Moves the time to now (never backwards) and returns now.
    fn tick(&self) -> u64 {
        let nanos = self.system();
        self.elapsed.fetch_max(nanos, Ordering::AcqRel);
        nanos
    }

    /// Returns now, and moves the time to now only if it lags by a resolution or more: while
    /// the task keeps it, readers on every core leave its cache line alone.
    fn catch_up(&self) -> u64 {
        let nanos = self.system();
        let lag = nanos.saturating_sub(self.elapsed.load(Ordering::Acquire));
        if lag >= self.resolution_nanos() {
            self.elapsed.fetch_max(nanos, Ordering::AcqRel);
        }
        nanos
    }

    fn system(&self) -> u64 {
        let since = Instant::now().duration_since(self.origin);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    fn resolution_nanos(&self) -> u64 {
        u64::try_from(self.resolution.as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One thread's reads of the clock, counted so that every 64th reads the system clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reads(u8);

impl Reads {
    pub(crate) const fn new() -> Self {
        Self(0)
    }

    /// Counts a read; true when it is the 64th since the last such one.
    #[inline]
    pub(crate) fn count(&mut self) -> bool {
        self.0 = self.0.wrapping_add(1);
        self.0.is_multiple_of(64)
    }
}

/// Clears `running` when the task ends, however it ends (its runtime shutting down drops it).
struct Running(Weak<Ticks>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(ticks) = self.0.upgrade() {
            if std::thread::panicking() {
                ticks.failed.store(true, Ordering::Relaxed);
            }
            ticks.running.store(false, Ordering::Release);
        }
    }
}

async fn advance(ticks: Weak<Ticks>, resolution: Duration) {
    let running = Running(ticks);
    loop {
        tokio::time::sleep(resolution).await;
        match running.0.upgrade() {
            Some(ticks) => {
                ticks.tick();
            }
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn follows_the_runtime_clock_within_its_resolution() {
        let clock = CoarseClock::new(Duration::from_millis(10));
        let start = clock.now();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let moved = Duration::from_nanos(clock.now() - start);
        assert!(
            moved <= Duration::from_secs(5) && moved >= Duration::from_millis(4990),
            "{moved:?}"
        );
    }

    #[test]
    fn without_a_runtime_it_reads_the_system_clock() {
        let clock = CoarseClock::new(Duration::from_millis(10));
        let a = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert!(Duration::from_nanos(clock.now() - a) >= Duration::from_millis(5));
        assert!(!clock.0.running.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn reads_that_never_yield_still_see_time_pass() {
        let clock = CoarseClock::new(Duration::from_millis(1));
        let start = clock.now();
        assert!(clock.0.running.load(Ordering::Relaxed));
        // This test never awaits, so the clock's task never runs; the time still moves.
        std::thread::sleep(Duration::from_millis(20));
        let mut latest = start;
        for _ in 0..64 {
            latest = clock.now();
        }
        assert!(Duration::from_nanos(latest - start) >= Duration::from_millis(20));
        // The read that found the time lagging moved it for every other reader too.
        assert!(Duration::from_nanos(clock.now() - start) >= Duration::from_millis(20));
    }

    #[test]
    fn readers_leave_a_time_that_is_within_its_resolution_alone() {
        let clock = CoarseClock::new(Duration::from_secs(1));
        let kept = clock.0.elapsed.load(Ordering::Relaxed);
        for _ in 0..128 {
            clock.now();
            clock.exact();
        }
        assert_eq!(clock.0.elapsed.load(Ordering::Relaxed), kept);
    }

    #[test]
    fn a_runtime_without_timers_gets_one_try() {
        let clock = CoarseClock::new(Duration::from_millis(10));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = clock.now();
            tokio::task::yield_now().await; // the task runs, and fails at its first sleep
            assert!(clock.0.failed.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(5));
            for _ in 0..10 {
                clock.now();
                tokio::task::yield_now().await;
            }
            assert!(!clock.0.running.load(Ordering::Relaxed), "started again");
            // Every read takes the system clock now.
            assert!(Duration::from_nanos(clock.now() - start) >= Duration::from_millis(5));
        });
    }

    #[test]
    fn the_task_stops_with_its_runtime() {
        let clock = CoarseClock::new(Duration::from_millis(10));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            clock.now();
            tokio::task::yield_now().await;
        });
        assert!(clock.0.running.load(Ordering::Relaxed));
        drop(runtime);
        assert!(!clock.0.running.load(Ordering::Relaxed));
    }
}
