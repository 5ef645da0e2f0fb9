//! Wake-ups: how output that appears without input from the peer — a chat
//! message for an idle IRC member — reaches the thread or loop that owns the
//! connection.
//!
//! Right after `Service::new_session` every driver calls `Session::set_waker`
//! with a `std::task::Waker` the session may call from any thread. Each model
//! turns that call into something it already waits on:
//!
//! ```text
//!   waker.wake() ──▶ mark the connection queued (once) ──▶ push it on a WakeQueue
//!                                                          └─▶ eventfd += 1
//!   blocking models: one WakeQueue per connection, its eventfd polled beside the socket
//!   select/poll/epoll: one WakeQueue per loop, its eventfd in the interest set;
//!                      the loop takes the queued tokens and calls handle_wake
//!   async: a tokio Notify per connection (tokio.rs), no eventfd
//! ```
//!
//! Wakes are merged: a connection already queued is not queued again until the
//! loop took it, so a busy room cannot grow the queue past one entry per
//! connection. A waker holds its queue only weakly, so a session (or room) that
//! keeps a waker after its connection closed wakes nothing and keeps no
//! descriptor open; tokens carry a generation so a stale wake never reaches a
//! newer connection in a reused slot.
//!
//! Under `fork` each child is a separate process with its own copy of the
//! service: a wake only works from inside that child (a thread it started),
//! never from another connection's process.

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Wake, Waker};

/// Woken connections, and an eventfd that is readable while there are some.
pub(crate) struct WakeQueue {
    fd: EventFd,
    woken: Mutex<Vec<Arc<ConnWaker>>>,
    /// Whether `woken` is non-empty, readable without a lock or a syscall.
    pending: AtomicBool,
}

impl WakeQueue {
    pub(crate) fn new() -> io::Result<Arc<WakeQueue>> {
        let fd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Arc::new(WakeQueue {
            fd,
            woken: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
        }))
    }

    /// A waker that queues `token` (the loop's name for the connection).
    pub(crate) fn waker(self: &Arc<Self>, token: u64) -> Waker {
        Waker::from(Arc::new(ConnWaker {
            queue: Arc::downgrade(self),
            token,
            queued: AtomicBool::new(false),
        }))
    }

    /// The descriptor to wait on: readable while a wake is pending.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Whether a wake is waiting to be taken (a cheap check a loop can make
    /// between other work, so a busy socket cannot starve wake-ups).
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Resets the eventfd and moves the woken tokens into `into`. A connection
    /// woken again from now on is queued again.
    pub(crate) fn take(&self, into: &mut Vec<u64>) {
        // EAGAIN just means another wake was already taken with the queue.
        let _ = self.fd.read();
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        self.pending.store(false, Ordering::Release);
        for w in woken.drain(..) {
            w.queued.store(false, Ordering::Release);
            into.push(w.token);
        }
    }

    fn push(&self, waker: Arc<ConnWaker>) {
        let mut woken = self.woken.lock().unwrap_or_else(|e| e.into_inner());
        let was_empty = woken.is_empty();
        woken.push(waker);
        self.pending.store(true, Ordering::Release);
        drop(woken);
        if was_empty {
            // Fails only if the counter would overflow, which means it is readable.
            let _ = self.fd.write(1);
        }
    }
}

struct ConnWaker {
    queue: Weak<WakeQueue>,
    token: u64,
    queued: AtomicBool,
}

impl Wake for ConnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return; // already queued: merged with the pending wake
        }
        if let Some(queue) = self.queue.upgrade() {
            queue.push(Arc::clone(self));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::wait_readable;
    use std::time::Duration;

    #[test]
    fn wakes_are_merged_and_make_the_fd_readable_until_taken() {
        let queue = WakeQueue::new().unwrap();
        let (a, b) = (queue.waker(7), queue.waker(9));
        let ready = |q: &WakeQueue| wait_readable(&[q.fd()], Some(Duration::ZERO)).unwrap();
        assert_eq!(ready(&queue), None);
        assert!(!queue.is_pending());
        a.wake_by_ref();
        a.wake_by_ref();
        std::thread::spawn(move || b.wake()).join().unwrap();
        assert_eq!(ready(&queue), Some(0));
        assert!(queue.is_pending());
        let mut tokens = Vec::new();
        queue.take(&mut tokens);
        assert_eq!(tokens, [7, 9]);
        assert_eq!(ready(&queue), None);
        assert!(!queue.is_pending());
        a.wake_by_ref(); // taken, so it queues again
        tokens.clear();
        queue.take(&mut tokens);
        assert_eq!(tokens, [7]);
        drop(queue);
        a.wake(); // the loop is gone: nothing happens
    }
}
