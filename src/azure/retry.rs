//! The retry policy of the Key Vault pipeline.

use std::time::Duration;

use azure_core::http::StatusCode;
use azure_core::http::headers::{HeaderName, RETRY_AFTER, RETRY_AFTER_MS, X_MS_RETRY_AFTER_MS};
use azure_core::http::policies::{RetryHeaders, RetryPolicy};

/// The headers in which a service says how long to wait, in the order the SDK reads them.
/// `RETRY_AFTER` is the SDK's standard header constant: only a standard header is also read as
/// an HTTP date.
pub(crate) const RETRY_HEADERS: [HeaderName; 3] =
    [X_MS_RETRY_AFTER_MS, RETRY_AFTER_MS, RETRY_AFTER];

/// Retried statuses. 429 is not among them: the SDK would sleep for the service's whole
/// `Retry-After`, uncapped, inside the caller's deadline, and report a timeout instead of
/// throttling. A 429 surfaces at once as [`Error::Throttled`](crate::Error::Throttled) with the
/// service's retry-after, and the cache (stale-if-error) and callers back off.
const RETRIED: &[StatusCode] = &[
    StatusCode::RequestTimeout,
    StatusCode::InternalServerError,
    StatusCode::BadGateway,
    StatusCode::ServiceUnavailable,
    StatusCode::GatewayTimeout,
];

/// Exponential back-off, with every wait (a 503's `Retry-After` included) capped at
/// `max_delay`, so the retries fit in the deadline.
#[derive(Debug)]
pub(crate) struct VaultRetryPolicy {
    initial_delay: Duration,
    max_delay: Duration,
    max_retries: u32,
    max_total: Duration,
    headers: RetryHeaders,
}

impl VaultRetryPolicy {
    pub(crate) fn new(
        initial_delay: Duration,
        max_delay: Duration,
        max_retries: u32,
        max_total: Duration,
    ) -> Self {
        Self {
            initial_delay,
            max_delay,
            max_retries,
            max_total,
            headers: RetryHeaders {
                retry_headers: RETRY_HEADERS.to_vec(),
            },
        }
    }

    /// The back-off before retry `retry_count` (1 for the first retry), before the cap.
    fn backoff(&self, retry_count: u32) -> Duration {
        let factor = 1u32 << retry_count.saturating_sub(1).min(16);
        self.initial_delay
            .saturating_mul(factor)
            .min(self.max_delay)
    }
}

fn to_sdk(d: Duration) -> azure_core::time::Duration {
    azure_core::time::Duration::try_from(d).unwrap_or(azure_core::time::Duration::MAX)
}

#[async_trait::async_trait]
impl RetryPolicy for VaultRetryPolicy {
    fn is_expired(&self, elapsed: azure_core::time::Duration, retry_count: u32) -> bool {
        retry_count >= self.max_retries || elapsed >= to_sdk(self.max_total)
    }

    fn retry_headers(&self) -> Option<&RetryHeaders> {
        Some(&self.headers)
    }

    fn retry_status_codes(&self) -> &[StatusCode] {
        RETRIED
    }

    fn sleep_duration(&self, retry_count: u32) -> azure_core::time::Duration {
        to_sdk(self.backoff(retry_count))
    }

    async fn wait(&self, retry_count: u32, retry_after: Option<azure_core::time::Duration>) {
        let asked = retry_after
            .and_then(|d| Duration::try_from(d).ok())
            .unwrap_or_default();
        let wait = self.backoff(retry_count).max(asked).min(self.max_delay);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let policy = VaultRetryPolicy::new(
            Duration::from_millis(200),
            Duration::from_secs(2),
            5,
            Duration::from_secs(10),
        );
        let waits: Vec<u128> = (1..=6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1600, 2000, 2000]);
        assert!(policy.is_expired(azure_core::time::Duration::ZERO, 5));
        assert!(policy.is_expired(azure_core::time::Duration::seconds(10), 0));
        assert!(!policy.is_expired(azure_core::time::Duration::seconds(1), 4));
        assert!(!RETRIED.contains(&StatusCode::TooManyRequests));
    }
}
