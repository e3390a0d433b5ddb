//! [`MaybeReady`]: a future that may already hold its output, so that a cache hit is answered
//! without allocating or awaiting anything.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The future [`SecretsManager::resolve_ref`](crate::SecretsManager::resolve_ref) and the
/// resolves of [`SecretsManagerExt`](crate::SecretsManagerExt) return: either an outcome
/// already known (a cache hit, a refusal before any I/O), which costs nothing, or a boxed
/// future for work that has to wait.
///
/// An outcome already known is ready on the first poll, and [`into_ready`](Self::into_ready)
/// takes it without polling at all. A pending future does nothing until it is polled, so
/// dropping one unpolled undoes nothing.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use secretscope::MaybeReady;
///
/// let known = MaybeReady::ready(1);
/// assert_eq!(known.into_ready().ok(), Some(1));
///
/// let later = MaybeReady::new(async { 2 }).map(|n| n * 10);
/// assert_eq!(later.await, 20);
/// # });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct MaybeReady<'a, T>(State<'a, T>);

enum State<'a, T> {
    Ready(Option<T>),
    Pending(Pin<Box<dyn Future<Output = T> + Send + 'a>>),
}

impl<'a, T> MaybeReady<'a, T> {
    /// An outcome already known.
    #[inline]
    pub fn ready(value: T) -> Self {
        Self(State::Ready(Some(value)))
    }

    /// Work that has to wait (boxed).
    pub fn new(future: impl Future<Output = T> + Send + 'a) -> Self {
        Self(State::Pending(Box::pin(future)))
    }

    /// Whether the outcome is already known.
    #[inline]
    pub fn is_ready(&self) -> bool {
        matches!(self.0, State::Ready(Some(_)))
    }

    /// The outcome if it is already known, or the future back.
    #[inline]
    pub fn into_ready(self) -> Result<T, Self> {
        match self.0 {
            State::Ready(Some(value)) => Ok(value),
            state => Err(Self(state)),
        }
    }

    /// Applies `f` to the outcome: at once if it is known, when it arrives otherwise.
    #[inline]
    pub fn map<U>(self, f: impl FnOnce(T) -> U + Send + 'a) -> MaybeReady<'a, U>
    where
        T: 'a,
    {
        match self.0 {
            State::Ready(Some(value)) => MaybeReady::ready(f(value)),
            State::Ready(None) => MaybeReady(State::Ready(None)),
            State::Pending(future) => MaybeReady::new(async move { f(future.await) }),
        }
    }
}

// The output is moved out by value and never pinned, so pinning the wrapper pins nothing in it.
impl<T> Unpin for MaybeReady<'_, T> {}

impl<T> Future for MaybeReady<'_, T> {
    type Output = T;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().0 {
            State::Ready(value) => Poll::Ready(value.take().expect("polled after completion")),
            State::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for MaybeReady<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            State::Ready(Some(_)) => "MaybeReady(ready)",
            State::Ready(None) => "MaybeReady(done)",
            State::Pending(_) => "MaybeReady(pending)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_known_outcome_is_ready_on_the_first_poll() {
        let mut future = MaybeReady::ready("hit").map(str::len);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(Pin::new(&mut future).poll(&mut cx), Poll::Ready(3));
    }

    #[test]
    fn a_pending_future_is_handed_back_unpolled() {
        let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let future = MaybeReady::new(async move {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let back = future.into_ready().expect_err("still pending");
        drop(back);
        assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    }
}
