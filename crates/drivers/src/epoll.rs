//! `--model epoll`: `config.workers` threads, each running its own epoll(7)
//! loop on its own listener — the shape of nginx's worker processes.
//!
//! Unlike `select` and `poll`, the interest set lives in the kernel: a socket is
//! registered once (`EPOLL_CTL_ADD`), changed only when what its connection waits
//! for changes (`EPOLL_CTL_MOD`, skipped when the interest is the same, which it
//! almost always is), and `epoll_wait` returns only the sockets that are ready.
//! A wake-up costs O(ready), not O(connections).
//!
//! Pieces of one worker (`epoll/worker.rs`; this file starts the workers):
//!
//! - **Listener per worker.** Worker 0 takes the given listeners (one per
//!   `--bind` address); the others open siblings of each with SO_REUSEPORT, and the kernel spreads new
//!   connections between them, so workers never share an accept queue or a lock.
//!   (A Unix socket has no SO_REUSEPORT: the siblings are one socket, added with
//!   `EPOLLEXCLUSIVE` so a connection wakes one worker, not all.)
//! - **Slab of connections.** A `Vec` of slots; a connection's index is its epoll
//!   token (`data`), with the slot's generation in the high bits so an event for
//!   a connection closed earlier in the same batch never reaches its successor.
//!   Closing the socket removes it from epoll, so closing costs no extra call.
//! - **Timer heap.** A `BinaryHeap` of `(deadline, slot, generation)` instead of
//!   a scan of every connection. A slot's entry is pushed only when its deadline
//!   moves *earlier*; when an entry comes due the connection's real deadline is
//!   checked and re-pushed — so an idle timer pushed forward by every request
//!   costs nothing until it fires.
//!
//! - **Wake queue.** One eventfd per worker (token `WAKE`) and a queue of the
//!   connection tokens whose sessions called their waker (`wake.rs`); the loop
//!   takes the queue and calls `handle_wake` on each connection still alive.
//!
//! **Level-triggered**, deliberately. The session decides when to read (only once
//! its replies are flushed — that is the backpressure), so the loop often leaves
//! data unread on purpose. Edge-triggered epoll reports a socket only when new
//! data arrives, so the loop would have to remember "readable, not drained"
//! itself and read until EAGAIN each time (an extra `read` per request).
//! Level-triggered readiness keeps reporting what is still there, and the
//! interest flags (changed only on a state change) keep it from reporting what
//! the connection does not want.

mod worker;

use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;
use worker::{run_worker, Fds};

/// Serves with `config.workers` epoll loops, one per thread and listener
/// (started and joined by [`crate::loops::workers`]).
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    crate::loops::workers::serve(
        "epoll",
        listeners.into(),
        service,
        config,
        shutdown,
        Fds::new,
        run_worker,
    )
}
