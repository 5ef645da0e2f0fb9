//! `--model poll`: one thread multiplexing every socket with poll(2).
//!
//! The same loop as `select` (both are `scan::ScanLoop`s), with the interest set
//! passed as an array of `pollfd {fd, events, revents}` instead of bitmaps. That
//! removes select's FD_SETSIZE ceiling — any descriptor number works — and the
//! kernel reports hang-ups and errors (`POLLHUP`, `POLLERR`) even on sockets
//! nobody asked about.
//!
//! What it does not remove is the O(n): every turn rebuilds the whole array from
//! each connection's `interest`, hands all of it to the
//! kernel, which walks it and registers a wait on every socket, and then walks
//! it again to find the few that are ready. With 10,000 mostly idle clients that
//! is 10,000 entries copied and checked to serve one request. epoll keeps the
//! interest set inside the kernel and reports only ready sockets — the lesson of
//! the next model.

use crate::loops::scan::{Ready, ScanLoop};
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

/// Serves every connection from the calling thread with poll(2).
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let mut lp = ScanLoop::new(listeners.into(), service, config)?;
    let wakes = lp.wakes();
    loop {
        let now = Instant::now();
        let listeners: &[Listener] = if lp.accepting(now) {
            &lp.listeners
        } else {
            &[]
        };
        let watch_shutdown = lp.watches_shutdown();
        // Layout: [shutdown, wake, listeners..., conns...]: conns[i] sits at
        // index i + FIRST, listeners[j] at 2 + j.
        let first = 2 + listeners.len();
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(lp.conns.len() + first);
        let shutdown_events = if watch_shutdown {
            PollFlags::POLLIN
        } else {
            PollFlags::empty()
        };
        fds.push(PollFd::new(shutdown.fd(), shutdown_events));
        fds.push(PollFd::new(wakes.fd(), PollFlags::POLLIN));
        for l in listeners {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
        }
        for c in &lp.conns {
            let (r, w) = c.interest();
            let mut events = PollFlags::empty();
            if r {
                events |= PollFlags::POLLIN;
            }
            if w {
                events |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(c.as_fd(), events));
        }
        let timeout = crate::io::poll_timeout(lp.timeout(now));
        let woke = match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => true,
            Err(Errno::EINTR) => false,
            Err(e) => return Err(e.into()),
        };
        let revents = |i: usize| {
            fds.get(i)
                .and_then(PollFd::revents)
                .filter(|_| woke)
                .unwrap_or(PollFlags::empty())
        };
        let listener_ready: Vec<bool> = (2..first)
            .map(|i| revents(i).intersects(PollFlags::POLLIN))
            .collect();
        let shutdown_ready = watch_shutdown
            && (revents(0).intersects(PollFlags::POLLIN | PollFlags::POLLHUP)
                || shutdown.is_triggered());
        let wake_ready = revents(1).intersects(PollFlags::POLLIN);
        lp.ready.clear();
        lp.ready.extend((0..lp.conns.len()).map(|i| {
            let r = revents(i + first);
            Ready {
                read: r.intersects(PollFlags::POLLIN),
                write: r.intersects(PollFlags::POLLOUT),
                hangup: r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL),
            }
        }));
        drop(fds);
        if lp.dispatch(&listener_ready, shutdown_ready, wake_ready, |_| true)? {
            return Ok(());
        }
    }
}
