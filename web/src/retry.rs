//! When an upload that failed is tried again by itself, and when it is not.
//!
//! A failure is temporary when asking again later may work: no answer at all (offline, a reset
//! connection), `408 Request Timeout`, `429 Too Many Requests` and any `5xx`. Those are retried
//! after an exponential backoff with jitter (1 s, 2 s, 4 s ... up to 30 s, each scaled by a
//! random factor in [0.5, 1) so that many browsers cut off at once do not all come back at the
//! same instant), at most [`Policy::UPLOADS`]`.max_attempts` tries in all. A `Retry-After` the
//! server sends is honoured: the wait is never shorter than it asks, and a wait longer than
//! [`Policy::max_wait_ms`] gives up with a message saying so. Every other answer is a definite
//! refusal, and final.

/// How an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No HTTP answer: offline, connection refused or reset, CORS.
    Network,
    /// An HTTP error answer.
    Status {
        /// Its status code.
        status: u16,
        /// Its `Retry-After`, in ms from now, when it had a valid one.
        retry_after_ms: Option<u32>,
    },
}

impl Failure {
    /// Whether asking again later may succeed.
    pub fn is_temporary(&self) -> bool {
        match self {
            Failure::Network => true,
            Failure::Status { status, .. } => is_temporary_status(*status),
        }
    }
}

/// `408`, `429` and `5xx`: the server could not answer now, but may later.
pub fn is_temporary_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this many ms.
    RetryIn(u32),
    /// Stop; the reason to add to the error, when there is one beyond the error itself.
    GiveUp(Option<String>),
}

/// A retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The wait after the first failure, before jitter, in ms.
    pub base_ms: u32,
    /// The longest backoff wait, before jitter, in ms.
    pub cap_ms: u32,
    /// Tries in all, the first one included.
    pub max_attempts: u8,
    /// The longest `Retry-After` honoured; a server asking for more is not waited for.
    pub max_wait_ms: u32,
}

impl Policy {
    /// The uploads' policy: 6 tries over about a minute at worst, `Retry-After` up to 2 minutes.
    pub const UPLOADS: Policy = Policy {
        base_ms: 1_000,
        cap_ms: 30_000,
        max_attempts: 6,
        max_wait_ms: 120_000,
    };

    /// The verdict after attempt number `attempt` (1 for the first) failed with `failure`;
    /// `jitter` is a random number in [0, 1).
    pub fn after(&self, attempt: u8, failure: Failure, jitter: f64) -> Verdict {
        if !failure.is_temporary() {
            return Verdict::GiveUp(None);
        }
        if attempt >= self.max_attempts {
            return Verdict::GiveUp(Some(format!("gave up after {attempt} tries")));
        }
        let doubled = u64::from(self.base_ms) << (attempt.saturating_sub(1)).min(20);
        let backoff = doubled.min(u64::from(self.cap_ms)) as f64;
        let jittered = (backoff * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))).round() as u32;
        match failure {
            Failure::Status {
                retry_after_ms: Some(asked),
                ..
            } => {
                if asked > self.max_wait_ms {
                    Verdict::GiveUp(Some(format!(
                        "the server asks to wait {} s; try again later",
                        asked.div_ceil(1000)
                    )))
                } else {
                    Verdict::RetryIn(asked.max(jittered))
                }
            }
            _ => Verdict::RetryIn(jittered),
        }
    }
}

/// A `Retry-After` value in ms from now: delay-seconds (`120`) or an HTTP-date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, read by the browser's own `Date.parse`); `now_ms` is the
/// current time in ms since the epoch. A date in the past is 0; anything else is `None`.
pub fn parse_retry_after(value: &str, now_ms: f64) -> Option<u32> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = value.parse().unwrap_or(u64::MAX);
        return Some(secs.saturating_mul(1000).min(u64::from(u32::MAX)) as u32);
    }
    // An HTTP-date names its day and month; `Date.parse` alone would also take "-5" as a year.
    if !value.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let at = js_sys::Date::parse(value);
    at.is_finite()
        .then(|| (at - now_ms).clamp(0.0, f64::from(u32::MAX)) as u32)
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const P: Policy = Policy::UPLOADS;

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after_ms: None,
        }
    }

    #[wasm_bindgen_test]
    fn only_temporary_failures_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(P.after(1, status(s), 0.0), Verdict::RetryIn(_)),
                "{s}"
            );
        }
        assert!(matches!(
            P.after(1, Failure::Network, 0.0),
            Verdict::RetryIn(_)
        ));
        for s in [400, 401, 403, 404, 409, 413, 415, 422] {
            assert_eq!(P.after(1, status(s), 0.0), Verdict::GiveUp(None), "{s}");
        }
    }

    #[wasm_bindgen_test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        // jitter 0 gives half the backoff, jitter near 1 almost all of it.
        assert_eq!(P.after(1, Failure::Network, 0.0), Verdict::RetryIn(500));
        assert_eq!(
            P.after(1, Failure::Network, 0.999_999),
            Verdict::RetryIn(1000)
        );
        assert_eq!(P.after(2, Failure::Network, 0.0), Verdict::RetryIn(1000));
        assert_eq!(P.after(3, status(503), 0.5), Verdict::RetryIn(3000));
        let capped = Policy {
            max_attempts: 100,
            ..P
        };
        assert_eq!(
            capped.after(50, Failure::Network, 0.0),
            Verdict::RetryIn(15_000)
        );
        // Out-of-range jitter is clamped, never a longer or negative wait.
        assert_eq!(P.after(1, Failure::Network, 7.0), Verdict::RetryIn(1000));
        assert_eq!(P.after(1, Failure::Network, -1.0), Verdict::RetryIn(500));
    }

    #[wasm_bindgen_test]
    fn attempts_are_bounded() {
        assert!(matches!(
            P.after(5, Failure::Network, 0.0),
            Verdict::RetryIn(_)
        ));
        match P.after(6, Failure::Network, 0.0) {
            Verdict::GiveUp(Some(why)) => assert!(why.contains("6 tries"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[wasm_bindgen_test]
    fn retry_after_is_honoured_and_bounded() {
        let asked = |ms| Failure::Status {
            status: 429,
            retry_after_ms: Some(ms),
        };
        // Longer than the backoff: waited for as asked.
        assert_eq!(P.after(1, asked(2_000), 0.0), Verdict::RetryIn(2_000));
        // Shorter than the backoff: the backoff wins (never sooner than asked).
        assert_eq!(P.after(4, asked(1_000), 0.0), Verdict::RetryIn(4_000));
        match P.after(1, asked(600_000), 0.0) {
            Verdict::GiveUp(Some(why)) => assert!(why.contains("600 s"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[wasm_bindgen_test]
    fn retry_after_values() {
        let now = js_sys::Date::parse("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(parse_retry_after("2", now), Some(2_000));
        assert_eq!(parse_retry_after(" 120 ", now), Some(120_000));
        assert_eq!(parse_retry_after("0", now), Some(0));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(30_000)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999", now),
            Some(u32::MAX)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
