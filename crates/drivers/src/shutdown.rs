//! Graceful shutdown as a file descriptor.
//!
//! A [`Shutdown`] is a pipe whose read end becomes readable — and stays readable,
//! since nobody reads it — once shutdown starts. Every model simply adds that
//! descriptor to whatever it waits on (`poll`, `select`, `epoll`, tokio's
//! `AsyncFd`), so no model needs a timer that polls a flag. SIGINT and SIGTERM
//! write to the same pipe from the signal handler (the classic self-pipe trick),
//! which works even in the single-threaded fork model; a second SIGINT while
//! shutting down exits at once. Forked children share the pipe, so they see
//! shutdown too.
//!
//! `Tracker` counts live connections so a model can wait, for at most the grace
//! period, for them to finish.

use std::io::{self, PipeReader, PipeWriter, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A shutdown signal shared by every worker; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    flag: Arc<AtomicBool>,
    reader: PipeReader,
    writer: PipeWriter,
}

impl Shutdown {
    /// A shutdown that has not started.
    pub fn new() -> io::Result<Shutdown> {
        let (reader, writer) = io::pipe()?;
        // A full pipe must never block a signal handler (or trigger()).
        nix::fcntl::fcntl(
            &writer,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )?;
        Ok(Shutdown {
            inner: Arc::new(Inner {
                flag: Arc::new(AtomicBool::new(false)),
                reader,
                writer,
            }),
        })
    }

    /// Starts shutdown on SIGINT or SIGTERM; a second SIGINT or SIGTERM after
    /// that exits the process at once (status 1), for a user who will not wait.
    pub fn on_signals(&self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for signal in [SIGINT, SIGTERM] {
            // Order matters: the exit hook must see the flag of the *previous* signal.
            signal_hook::flag::register_conditional_shutdown(
                signal,
                1,
                Arc::clone(&self.inner.flag),
            )?;
            signal_hook::flag::register(signal, Arc::clone(&self.inner.flag))?;
            let writer: OwnedFd = self.inner.writer.as_fd().try_clone_to_owned()?;
            signal_hook::low_level::pipe::register(signal, writer)?;
        }
        Ok(())
    }

    /// Starts shutdown now (what the signal handler does).
    pub fn trigger(&self) {
        self.inner.flag.store(true, Ordering::SeqCst);
        // Ignored: a full pipe is already readable, which is all that matters.
        let _ = (&self.inner.writer).write(&[1]);
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.inner.flag.load(Ordering::SeqCst)
    }

    /// The descriptor that becomes readable when shutdown starts.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.reader.as_fd()
    }
}

impl AsRawFd for Shutdown {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.reader.as_raw_fd()
    }
}

/// Counts live connections across threads, so shutdown can wait for them.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    live: Mutex<usize>,
    changed: Condvar,
}

impl Tracker {
    /// Registers a connection; it counts until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> TrackerGuard {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        TrackerGuard {
            tracker: Arc::clone(self),
        }
    }

    /// Waits until no connection is live or `grace` has passed; returns how many
    /// are still live.
    pub(crate) fn wait_idle(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        while *live > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            live = match self.changed.wait_timeout(live, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        *live
    }
}

/// Keeps one connection counted in its [`Tracker`].
#[derive(Debug)]
pub(crate) struct TrackerGuard {
    tracker: Arc<Tracker>,
}

impl Drop for TrackerGuard {
    fn drop(&mut self) {
        let mut live = self.tracker.live.lock().unwrap_or_else(|e| e.into_inner());
        *live -= 1;
        self.tracker.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_makes_the_fd_readable_for_every_clone() {
        let shutdown = Shutdown::new().unwrap();
        let clone = shutdown.clone();
        assert_eq!(
            crate::io::wait_readable(&[clone.fd()], Some(Duration::ZERO)).unwrap(),
            None
        );
        shutdown.trigger();
        shutdown.trigger(); // idempotent
        assert!(clone.is_triggered());
        for _ in 0..2 {
            assert_eq!(
                crate::io::wait_readable(&[clone.fd()], Some(Duration::ZERO)).unwrap(),
                Some(0)
            );
        }
    }

    #[test]
    fn tracker_waits_for_guards() {
        let tracker = Arc::new(Tracker::default());
        let guard = tracker.enter();
        assert_eq!(tracker.wait_idle(Duration::ZERO), 1);
        let t = std::thread::spawn(move || drop(guard));
        assert_eq!(tracker.wait_idle(Duration::from_secs(10)), 0);
        t.join().unwrap();
    }
}
