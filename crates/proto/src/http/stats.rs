//! The counters behind `GET /_netkit/stats`, and the seam that says where
//! they live.
//!
//! The service bumps four [`Counters`]; *where* they are is not its business
//! but that of whoever runs it, who hands the service a [`Stats`]: for models
//! whose workers are threads of one process, a plain [`Counters`] on the heap;
//! for `--model fork`, whose children are processes of their own, the binary
//! puts the same [`Counters`] in memory every child shares (see
//! `netkit_drivers::shared_memory`). The protocol never learns which.
//!
//! ```text
//!   runner ── Arc<dyn Stats> ──▶ HttpService ── counters() ──▶ opened / answered / sent
//!                                    └── /_netkit/stats ◀── snapshot()
//! ```

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Where a service's counters live; handed to the service by whoever runs it.
pub trait Stats: Send + Sync + 'static {
    /// The counters to bump and read.
    fn counters(&self) -> &Counters;
}

/// Counters in this process's memory: shared by threads, not by processes.
impl Stats for Counters {
    fn counters(&self) -> &Counters {
        self
    }
}

/// The counters every connection of every worker bumps.
///
/// Only atomics, laid out in C order, changed only through `&self`: all zeros
/// is a valid start and no state lives outside these bytes, so a `Counters`
/// may be placed in any zeroed memory its workers share, a mapping that
/// forked processes share included.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Counters {
    connections_open: AtomicUsize,
    connections_total: AtomicU64,
    requests: AtomicU64,
    bytes_sent: AtomicU64,
}

/// The counters at one moment, as `/_netkit/stats` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// Connections open now.
    pub connections_open: usize,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// Requests answered.
    pub requests: u64,
    /// Bytes of responses (heads and bodies) queued for sending.
    pub bytes_sent: u64,
}

impl Counters {
    /// A connection was accepted; returns how many are open now, this one
    /// included.
    pub(crate) fn opened(&self) -> usize {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A connection ended.
    pub(crate) fn closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A reply of `bytes` (head and body) was queued.
    pub(crate) fn answered(&self, bytes: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.sent(bytes);
    }

    /// `bytes` more were queued outside a reply (an event stream's body).
    pub(crate) fn sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections_open: self.connections_open.load(Ordering::Relaxed),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_zero_and_counts() {
        let stats: &dyn Stats = &Counters::default();
        let c = stats.counters();
        assert_eq!(c.snapshot().requests, 0);
        assert_eq!(c.opened(), 1);
        assert_eq!(c.opened(), 2);
        c.closed();
        c.answered(10);
        c.sent(5);
        let s = c.snapshot();
        assert_eq!(
            (
                s.connections_open,
                s.connections_total,
                s.requests,
                s.bytes_sent
            ),
            (1, 2, 1, 15)
        );
    }
}
