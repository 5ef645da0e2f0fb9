//! The refusal budget: how many answers that are one ERROR the server sends
//! per second, across every address. A refusal costs the driver a fresh
//! socket, so past the budget a refusal is dropped silently (a real client
//! retries).

use std::sync::Mutex;
use std::time::Instant;

/// Refusals (answers that are one ERROR) per second, and their burst. Each
/// costs the driver a fresh socket and a thread, so a flood of garbage at the
/// listening port must not become a flood of sockets that starves real
/// requests (it did: 0 RRQs/s got through under `bench/hostile.sh`), nor a
/// reflector (an ERROR is longer than a 1-byte datagram). Beyond the budget a
/// refusal is dropped silently; a real client retries.
const REFUSALS_PER_SEC: f64 = 200.0;
const REFUSAL_BURST: f64 = 200.0;

/// A token bucket of refusals, refilled at [`REFUSALS_PER_SEC`] up to
/// [`REFUSAL_BURST`]; shared by every request the listening loop hands over.
#[derive(Debug)]
pub(super) struct Refusals(Mutex<Bucket>);

/// The bucket's state.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Option<Instant>,
}

impl Refusals {
    /// A full bucket.
    pub(super) fn new() -> Self {
        Refusals(Mutex::new(Bucket {
            tokens: REFUSAL_BURST,
            at: None,
        }))
    }

    /// Spends one refusal from the budget, if any is left.
    pub(super) fn may_refuse(&self, now: Instant) -> bool {
        let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed =
            b.at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        b.tokens = (b.tokens + elapsed * REFUSALS_PER_SEC).min(REFUSAL_BURST);
        b.at = Some(now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
