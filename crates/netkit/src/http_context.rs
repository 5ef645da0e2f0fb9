//! What the binary hands an HTTP service (`netkit http serve`, `netkit up`):
//! the system's wall clock, and the service's counters where every worker of
//! the chosen model reaches them — this process's memory for models whose
//! workers are threads, memory the children share for `--model fork`
//! ([`netkit_drivers::shared_memory`]). The protocol asks for neither: it is
//! given them (see `netkit_proto::http::HttpContext`).

use netkit_drivers::shared_memory::SharedMemory;
use netkit_drivers::Model;
use netkit_proto::http::{Counters, HttpContext, Stats, WallClock};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// The context for a service run under `model`, uptime counted from
/// `started`; no access log (the caller adds one).
pub fn http_context(model: Model, started: Instant) -> HttpContext {
    let mut context = HttpContext::new(started, Arc::new(SystemClock));
    if model == Model::Fork {
        match ForkStats::new() {
            Ok(stats) => context.stats = Arc::new(stats),
            // Serving goes on; the counters then cover one child each.
            Err(e) => tracing::warn!("shared memory for the counters: {e}"),
        }
    }
    context
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl WallClock for SystemClock {
    fn wall_time(&self, _now: Instant) -> SystemTime {
        SystemTime::now()
    }
}

/// [`Counters`] in memory that `--model fork`'s children share.
#[derive(Debug)]
pub struct ForkStats(SharedMemory<Counters>);

impl ForkStats {
    /// Maps the counters (all zero).
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: `Counters` is a `#[repr(C)]` struct of atomics only, changed
        // only through `&self` (its documented promise), so its whole state
        // is in the shared bytes.
        unsafe { SharedMemory::new(Counters::default()) }.map(Self)
    }
}

impl Stats for ForkStats {
    fn counters(&self) -> &Counters {
        &self.0
    }
}
