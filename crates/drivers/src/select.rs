//! `--model select`: one thread multiplexing every socket with select(2), the
//! seed's first I/O-multiplexing server.
//!
//! Each turn of the loop builds two bitmaps (`fd_set`s) — sockets to watch for
//! reading and for writing — from what every connection says it wants
//! (`Connection::interest` in `loops/readiness.rs`), sleeps in `select` until one is
//! ready or the nearest deadline passes, then scans every connection to see which
//! bits the kernel left set. Building and scanning are O(n) per wake-up, and the
//! kernel does the same walk inside `select`: fine for a hundred clients, the
//! reason `poll` and `epoll` exist for ten thousand.
//!
//! # The FD_SETSIZE limit
//!
//! An `fd_set` is a fixed bitmap of `FD_SETSIZE` (1024) bits indexed by
//! descriptor number, so select(2) cannot watch descriptor 1024 or above at all;
//! writing such a bit would scribble past the bitmap (nix asserts instead). This
//! is about descriptor *numbers*, not counts: a process that opened many files
//! hits it with few clients. A connection whose descriptor is too high is closed
//! at once with a warning that names the models without the limit; the loop
//! itself never touches such a descriptor.

use crate::listener::Conn;
use crate::loops::scan::{Ready, ScanLoop};
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use nix::errno::Errno;
use nix::sys::select::{select, FdSet, FD_SETSIZE};
use nix::sys::time::{TimeVal, TimeValLike};
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

/// Serves every connection from the calling thread with select(2).
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    let fds = listeners.iter().map(|l| l.as_raw_fd());
    for fd in fds.chain([shutdown.as_raw_fd()]) {
        if !fits(fd) {
            return Err(io::Error::other(format!(
                "select model: descriptor {fd} exceeds FD_SETSIZE {FD_SETSIZE}; \
                 use --model poll or epoll"
            )));
        }
    }
    let mut lp = ScanLoop::new(listeners, service, config)?;
    let wakes = lp.wakes();
    if !fits(wakes.fd().as_raw_fd()) {
        return Err(io::Error::other(
            "select model: the wake-up eventfd exceeds FD_SETSIZE; use --model poll or epoll",
        ));
    }
    loop {
        let now = Instant::now();
        let mut read = FdSet::new();
        let mut write = FdSet::new();
        let listeners: &[Listener] = if lp.accepting(now) {
            &lp.listeners
        } else {
            &[]
        };
        for l in listeners {
            read.insert(l.as_fd());
        }
        let watch_shutdown = lp.watches_shutdown();
        if watch_shutdown {
            read.insert(shutdown.fd());
        }
        read.insert(wakes.fd());
        for c in &lp.conns {
            let (r, w) = c.interest();
            if r {
                read.insert(c.as_fd());
            }
            if w {
                write.insert(c.as_fd());
            }
        }
        let mut timeout: Option<TimeVal> = lp.timeout(now).map(|d| {
            // Round up so a deadline is not woken for early and spun on.
            let micros = d.as_nanos().div_ceil(1_000).min(i64::MAX as u128) as i64;
            TimeVal::microseconds(micros)
        });
        let woke = match select(None, &mut read, &mut write, None, timeout.as_mut()) {
            Ok(_) => true,
            Err(Errno::EINTR) => false, // the sets are undefined: report nothing
            Err(e) => return Err(e.into()),
        };
        let listener_ready: Vec<bool> = listeners
            .iter()
            .map(|l| woke && read.contains(l.as_fd()))
            .collect();
        let shutdown_ready = (woke && watch_shutdown && read.contains(shutdown.fd()))
            || (watch_shutdown && shutdown.is_triggered());
        let wake_ready = woke && read.contains(wakes.fd());
        lp.ready.clear();
        lp.ready.extend(lp.conns.iter().map(|c| Ready {
            read: woke && read.contains(c.as_fd()),
            write: woke && write.contains(c.as_fd()),
            hangup: false,
        }));
        if lp.dispatch(&listener_ready, shutdown_ready, wake_ready, admit)? {
            return Ok(());
        }
    }
}

/// Whether select(2) can watch this descriptor.
fn fits(fd: RawFd) -> bool {
    usize::try_from(fd).is_ok_and(|fd| fd < FD_SETSIZE)
}

/// The FD_SETSIZE guard: refuses a connection select(2) could not watch.
fn admit(conn: &Conn) -> bool {
    let fd = conn.as_raw_fd();
    if fits(fd) {
        return true;
    }
    tracing::warn!(
        "select model: descriptor {fd} exceeds FD_SETSIZE {FD_SETSIZE}; \
         connection refused — use --model poll or epoll"
    );
    false
}
