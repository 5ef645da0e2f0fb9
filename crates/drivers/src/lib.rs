//! Concurrency models: the half of netkit that owns sockets, threads and processes.
//!
//! A driver accepts connections, reads, writes, waits and closes — for any
//! [`netkit_proto::Service`], without knowing its protocol. Every model is one
//! module with the same signature, `serve(listeners, service, config, shutdown)`,
//! so a learner can put two of them side by side. `listeners` is one
//! [`Listener`] or several (`--bind` given more than once); every model
//! accepts on all of them.
//!
//!
//! ```text
//!                 ┌ iterative  one client at a time, in the accepting thread
//!                 ├ thread     a thread per connection
//!   Listener ──▶  ├ pool       N worker threads take accepted connections from a queue
//!   (tcp/unix)    ├ fork       a child process per connection, reaped on SIGCHLD
//!                 ├ select     one thread, select(2) readiness loop (FD_SETSIZE bound)
//!                 ├ poll       one thread, poll(2) readiness loop
//!                 ├ epoll      N threads, each an epoll(7) loop on its own SO_REUSEPORT listener
//!                 ├ async      tokio tasks on a multi-threaded runtime
//!                 └ uring      N threads, each an io_uring loop (completions, not readiness)
//! ```
//!
//! Shared pieces: [`listener`] (binding and accepting on TCP or Unix sockets),
//! [`shutdown`] (SIGINT/SIGTERM as a readable file descriptor),
//! [`shared_memory`] (memory `fork`'s children share: a service's counters), the
//! connection loops every model reuses (`loops/`: `blocking` for the one-connection-per-
//! flow models, `readiness` and `scan` for the event loops), and `wake` (how a session's
//! `Waker`, called from any thread, reaches the connection's thread or loop).
//! UDP services run on the loops in [`udp`] instead: one sender and one
//! receiver under the datagram loop (chat, echo) and the transfer loop that
//! the TFTP server and client both run.
#![warn(missing_docs, unreachable_pub)]

mod io;
pub mod listener;
mod loops;
pub mod shutdown;

pub mod epoll;
pub mod fork;
pub mod iterative;
pub mod poll;
pub mod pool;
pub mod select;
pub mod shared_memory;
pub mod thread;
pub mod tokio;
pub mod udp;
pub mod uring;
mod wake;

pub use listener::{Conn, Listener};
pub use shutdown::Shutdown;

use netkit_proto::Service;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// How a TCP service handles concurrent clients (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Model {
    /// One client at a time; the others wait in the listen backlog.
    Iterative,
    /// A new thread for every connection.
    Thread,
    /// A fixed number of worker threads (`--workers`).
    Pool,
    /// A new process for every connection.
    Fork,
    /// One thread multiplexing every socket with select(2).
    Select,
    /// One thread multiplexing every socket with poll(2).
    Poll,
    /// One epoll(7) loop per worker thread, each on its own SO_REUSEPORT listener.
    Epoll,
    /// Tokio tasks on a multi-threaded runtime.
    Async,
    /// One io_uring loop per worker thread, each on its own SO_REUSEPORT listener.
    Uring,
}

impl Model {
    /// Every model, in the order the course teaches them.
    pub const ALL: [Model; 9] = [
        Model::Iterative,
        Model::Thread,
        Model::Pool,
        Model::Fork,
        Model::Select,
        Model::Poll,
        Model::Epoll,
        Model::Async,
        Model::Uring,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Model::Iterative => "iterative",
            Model::Thread => "thread",
            Model::Pool => "pool",
            Model::Fork => "fork",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Epoll => "epoll",
            Model::Async => "async",
            Model::Uring => "uring",
        }
    }

    /// The default: the fastest model on Linux.
    pub const DEFAULT: Model = Model::Epoll;
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a model name that does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownModel(pub String);

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
        write!(
            f,
            "unknown model '{}' (one of: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownModel {}

impl FromStr for Model {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownModel(s.to_owned()))
    }
}

/// Settings every model understands.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads for `pool`, `epoll`, `async` and `uring`.
    pub workers: usize,
    /// After shutdown starts, how long in-flight connections may take to finish.
    pub grace: Duration,
    /// How long a write may stall (the peer not reading) before the connection is dropped.
    pub send_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            grace: Duration::from_secs(10),
            send_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `service` on `listener` under `model` until `shutdown` fires and the
/// in-flight connections have finished (or the grace period ran out).
///
/// First raises the process's open-file limit as far as allowed
/// ([`raise_fd_limit`]): every connection is a descriptor.
pub fn serve<S: Service>(
    model: Model,
    listeners: impl Into<Vec<Listener>>,
    service: Arc<S>,
    config: &Config,
    shutdown: &Shutdown,
) -> std::io::Result<()> {
    let listeners = listeners.into();
    if listeners.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no listener to serve",
        ));
    }
    if let Err(e) = raise_fd_limit() {
        tracing::debug!("cannot raise the open-file limit: {e}");
    }
    match model {
        Model::Iterative => iterative::serve(listeners, service, config, shutdown),
        Model::Thread => thread::serve(listeners, service, config, shutdown),
        Model::Pool => pool::serve(listeners, service, config, shutdown),
        Model::Fork => fork::serve(listeners, service, config, shutdown),
        Model::Select => select::serve(listeners, service, config, shutdown),
        Model::Poll => poll::serve(listeners, service, config, shutdown),
        Model::Epoll => epoll::serve(listeners, service, config, shutdown),
        Model::Async => tokio::serve(listeners, service, config, shutdown),
        Model::Uring => uring::serve(listeners, service, config, shutdown),
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit, so a server can hold as
/// many connections as the administrator allows rather than the shell's
/// default (often 1024); returns the new soft limit. Harmless to call twice.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard.max(soft))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_round_trip() {
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>(), Ok(m));
        }
        let err = "forked".parse::<Model>().unwrap_err();
        assert!(err.to_string().contains("iterative, thread"), "{err}");
    }
}
