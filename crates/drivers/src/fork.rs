//! `--model fork`: a child process per connection (the seed's fork server,
//! `socketserver.ForkingMixIn`).
//!
//! The parent only accepts: for each connection it forks, closes its copy of the
//! connection and goes back to `accept`; the child closes its copy of the
//! listener, serves the one client and exits. A child that exits becomes a
//! zombie until its parent collects its status with `waitpid` — the seed's
//! 僵尸进程. Here SIGCHLD writes a byte to a pipe (the self-pipe trick), the
//! accept loop wakes up on it and reaps every finished child with
//! `waitpid(-1, WNOHANG)`, so no zombie is left behind.
//!
//! Processes share nothing: a crash in one child cannot touch another client,
//! but a fork per connection is the most expensive model, and state such as
//! statistics lives in each child's copy of the service unless it was put in
//! memory the children share ([`crate::shared_memory`], which is how HTTP's
//! counters are whole under this model). Wake-ups too: a
//! session's waker works (through the child's own eventfd, as in every
//! blocking model) only when called from inside that child — a chat room in
//! one child cannot reach an IRC member served by another. Shared state across
//! connections needs a model whose connections share one process.
//!
//! The parent must be single-threaded when it forks (only the forking thread
//! exists in the child); the `netkit` binary runs this model on its main thread
//! and starts no other.

use crate::io::{wait_readable, wait_readable_set};
use crate::loops::blocking::{accept_one, serve_connection};
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::collections::HashSet;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

/// Serves each connection in a child process.
pub fn serve<S: Service>(
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> io::Result<()> {
    let listeners = listeners.into();
    let (sigchld, sigchld_writer) = UnixStream::pair()?;
    sigchld.set_nonblocking(true)?;
    sigchld_writer.set_nonblocking(true)?;
    let hook =
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, sigchld_writer)?;
    for listener in &listeners {
        listener.set_nonblocking(true)?;
    }
    let mut children = HashSet::new();
    // [shutdown, sigchld, listeners…]
    let mut fds = vec![shutdown.fd(), sigchld.as_fd()];
    fds.extend(listeners.iter().map(|l| l.as_fd()));

    let result = 'serving: loop {
        let ready = wait_readable_set(&fds, None)?;
        if shutdown.is_triggered() || ready[0] {
            break Ok(());
        }
        if ready[1] {
            reap(&sigchld, &mut children);
        }
        for (listener, _) in listeners.iter().zip(&ready[2..]).filter(|(_, r)| **r) {
            let mut spawn = |conn, peer: Option<std::net::SocketAddr>| {
                // SAFETY: the parent is single-threaded (see the module doc), and
                // the child only serves its connection and exits.
                match unsafe { fork() } {
                    Ok(ForkResult::Child) => {
                        serve_child(&listeners, &*service, conn, peer, config, shutdown)
                    }
                    Ok(ForkResult::Parent { child }) => {
                        children.insert(child);
                    }
                    Err(e) => tracing::warn!(?peer, "fork: {e}; connection closed"),
                }
            };
            if let Err(e) = accept_one(listener, &mut spawn) {
                break 'serving Err(e);
            }
        }
    };
    drop(fds);

    // Stop accepting, then give the children the grace period. They saw the same
    // shutdown pipe (it is shared across fork), so they are finishing already.
    drop(listeners);
    let deadline = Instant::now() + config.grace;
    reap(&sigchld, &mut children);
    while !children.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            tracing::warn!(
                "{} child process(es) still running after the grace period; killing",
                children.len()
            );
            for child in &children {
                let _ = kill(*child, Signal::SIGKILL);
            }
            for child in children.drain() {
                let _ = waitpid(child, None);
            }
            break;
        }
        wait_readable(&[sigchld.as_fd()], Some(left))?;
        reap(&sigchld, &mut children);
    }
    signal_hook::low_level::unregister(hook);
    result
}

/// The child's side of a fork: closes its copies of the listeners, serves
/// the one connection and exits.
fn serve_child<S: Service>(
    listeners: &[Listener],
    service: &S,
    conn: crate::listener::Conn,
    peer: Option<std::net::SocketAddr>,
    config: &Config,
    shutdown: &Shutdown,
) -> ! {
    for listener in listeners {
        // The parent keeps accepting on its own descriptors; the child's
        // copies would only hold the ports open after the parent stops.
        let _ = nix::unistd::close(listener.as_raw_fd());
    }
    serve_connection(service, conn, peer, config, shutdown);
    std::process::exit(0);
}

/// Empties the self-pipe and collects the exit status of every finished child.
fn reap(mut sigchld: &UnixStream, children: &mut HashSet<Pid>) {
    let mut buf = [0u8; 64];
    while matches!(sigchld.read(&mut buf), Ok(n) if n > 0) {}
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
            Ok(status) => {
                if let Some(pid) = status.pid() {
                    children.remove(&pid);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::warn!("waitpid: {e}");
                return;
            }
        }
    }
}
