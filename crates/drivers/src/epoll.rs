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

/// Serves with `config.workers` epoll loops, one per thread and listener.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    // If one worker fails, this private signal winds the others down too, so
    // `serve` can return the error instead of leaving them running.
    let stop_others = Shutdown::new()?;
    let mut siblings = Vec::new();
    for _ in 1..config.workers.max(1) {
        let set: io::Result<Vec<Listener>> = listeners.iter().map(Listener::open_sibling).collect();
        siblings.push(set?);
    }
    // Every worker's descriptors are made here, before any worker accepts:
    // a worker still starting up while the first one fills the descriptor
    // table (a connection flood right after the ready line) would otherwise
    // fail with EMFILE and take the server down.
    let mut own = Vec::new();
    for _ in 0..config.workers.max(1) {
        own.push(Fds::new()?);
    }
    let first_fds = own.pop().ok_or_else(|| io::Error::other("no worker"))?;
    let mut threads = Vec::new();
    for ((i, sibling), fds) in siblings.into_iter().enumerate().zip(own) {
        let (service, config) = (Arc::clone(&service), config.clone());
        let signals = [shutdown.clone(), stop_others.clone()];
        let spawned = std::thread::Builder::new()
            .name(format!("netkit-epoll-{}", i + 1))
            .spawn(move || run_worker(sibling, fds, service, &config, &signals));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => {
                stop_others.trigger();
                join_all(threads)?;
                return Err(e);
            }
        }
    }
    let first = run_worker(
        listeners,
        first_fds,
        service,
        config,
        &[shutdown.clone(), stop_others],
    );
    let rest = join_all(threads);
    first.and(rest)
}

fn join_all(threads: Vec<std::thread::JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut result = Ok(());
    for t in threads {
        let r = t
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("an epoll worker panicked")));
        result = result.and(r);
    }
    result
}
