//! `--model uring`: `config.workers` threads, each running its own io_uring
//! loop on its own listener — the shape of the epoll model, with completions
//! instead of readiness.
//!
//! epoll says "this socket is ready: now you read". io_uring takes the read
//! itself: the loop *submits* operations (accept, receive, send, splice a
//! file) into a ring shared with the kernel and later takes their
//! *completions* off another ring, the bytes already moved. One
//! `io_uring_enter` both submits every operation queued since the last one
//! and waits for the next completions (or the earliest timer), so a busy
//! loop makes about one system call per batch, not one per read and write.
//!
//! Pieces of one worker (`uring/worker.rs`; this file starts the workers):
//!
//! - **Listener per worker**, as in epoll (SO_REUSEPORT siblings; the port
//!   guard in `listener.rs` keeps a second netkit out). Each has a few
//!   **accepts** in flight, each with a buffer the kernel writes the peer's
//!   address into (so no `getpeername`), submitted again as it completes.
//! - **Closing** costs no system call of its own either: the check that the
//!   peer sent nothing more is a non-blocking receive on the ring, and the
//!   socket is closed by an IORING_OP_CLOSE in the next batch.
//! - **Provided buffers** (`uring/ring.rs`): receives take a buffer from a
//!   per-worker pool only when data arrives, so an idle connection waiting
//!   to read holds no memory; a buffer goes back after its session consumed it.
//! - **Connections** (`uring/conn.rs`): at most one receive and one output
//!   operation each in flight; a session is called exactly as under every
//!   other model, and large file ranges are spliced file → pipe → socket.
//! - **Timers** in a heap as in epoll; the wait for completions carries the
//!   earliest deadline as its timeout (IORING_ENTER_EXT_ARG).
//! - **Wake-ups** from other threads: a multishot poll on the worker's
//!   eventfd; **shutdown**: a poll on the shutdown pipe, then the accepts are
//!   cancelled and the sessions finish within the grace period.
//!
//! Where the kernel refuses io_uring (too old, `kernel.io_uring_disabled`,
//! a seccomp filter), [`check`] says so in one line, before the server
//! announces itself.

mod conn;
mod ring;
mod worker;

pub use ring::check;

use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use std::io;
use std::sync::Arc;
use worker::{run_worker, Fds};

/// Serves with `config.workers` uring loops, one per thread and listener
/// (started and joined by [`crate::loops::workers`]).
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    check()?;
    crate::loops::workers::serve(
        "uring",
        listeners.into(),
        service,
        config,
        shutdown,
        Fds::new,
        run_worker,
    )
}
