//! The loop body the single-threaded `select` and `poll` models share
//! ([`ScanLoop`]): every connection in a `Vec`, scanned once per wake-up. The
//! two models differ only in how they hand the interest set to the kernel.

use crate::listener::{Conn, Listener};
use crate::loops::readiness::{
    abort_all, accept_batch, earliest, Accepted, Connection, ACCEPT_PAUSE,
};
use crate::wake::WakeQueue;
use crate::Config;
use netkit_proto::Service;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the single-threaded `select` and `poll` loops share: the listener,
/// every connection in a `Vec` scanned once per wake-up, and shutdown. The two
/// models differ only in how they hand the interest set to the kernel, so each
/// builds that set from [`ScanLoop::conns`] and its own wait call, fills
/// [`ScanLoop::ready`] (one entry per connection, same order), and calls
/// [`ScanLoop::dispatch`].
pub(crate) struct ScanLoop<S: Service> {
    /// The listeners, until shutdown closes them.
    pub(crate) listeners: Vec<Listener>,
    /// Live connections, in accept order.
    pub(crate) conns: Vec<Connection<S::Session>>,
    /// What the wait reported for `conns[i]`.
    pub(crate) ready: Vec<Ready>,
    service: Arc<S>,
    config: Config,
    wakes: Arc<WakeQueue>,
    woken: Vec<u64>,
    next_token: u64,
    /// `Some(t)`: draining after shutdown until `t` (the grace period).
    draining_until: Option<Instant>,
    accept_paused_until: Option<Instant>,
}

/// What a wait reported for one connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ready {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) hangup: bool,
}

impl<S: Service> ScanLoop<S> {
    pub(crate) fn new(
        listeners: Vec<Listener>,
        service: Arc<S>,
        config: &Config,
    ) -> io::Result<Self> {
        for listener in &listeners {
            listener.set_nonblocking(true)?;
        }
        Ok(ScanLoop {
            listeners,
            conns: Vec::new(),
            ready: Vec::new(),
            service,
            config: config.clone(),
            wakes: WakeQueue::new()?,
            woken: Vec::new(),
            next_token: 0,
            draining_until: None,
            accept_paused_until: None,
        })
    }

    /// Whether the wait should watch [`ScanLoop::listeners`] now (accepting
    /// is not paused; after shutdown the list is empty).
    pub(crate) fn accepting(&self, now: Instant) -> bool {
        self.accept_paused_until.is_none_or(|t| now >= t)
    }

    /// The loop's wake-up queue, whose eventfd the wait always watches.
    pub(crate) fn wakes(&self) -> Arc<WakeQueue> {
        Arc::clone(&self.wakes)
    }

    /// Whether the wait should watch the shutdown descriptor (only until it fired:
    /// nobody reads the pipe, so it stays readable).
    pub(crate) fn watches_shutdown(&self) -> bool {
        self.draining_until.is_none()
    }

    /// How long the wait may sleep: until the nearest connection deadline, the
    /// end of an accept pause, or the end of the grace period. This scan of
    /// every connection is the readiness loops' O(n) per wake-up.
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        let conns = self.conns.iter().filter_map(|c| c.deadline()).min();
        let pause = self.accept_paused_until.filter(|&t| t > now);
        earliest(earliest(conns, pause), self.draining_until)
            .map(|t| t.saturating_duration_since(now))
    }

    /// Acts on what the wait reported (`listener_ready[i]`: the i-th of the
    /// watched listeners is readable; `wake_ready`: the wake eventfd was
    /// readable); `admit` may refuse a new connection (the
    /// select model's FD_SETSIZE guard). Returns true when the loop should end:
    /// draining, and every connection finished or the grace period is over.
    pub(crate) fn dispatch(
        &mut self,
        listener_ready: &[bool],
        shutdown_ready: bool,
        wake_ready: bool,
        admit: impl Fn(&Conn) -> bool,
    ) -> io::Result<bool> {
        let now = Instant::now();
        if wake_ready {
            self.woken.clear();
            self.wakes.take(&mut self.woken);
            self.woken.sort_unstable();
            // A scan, like everything else in these loops; epoll looks the token up.
            for c in &mut self.conns {
                if self.woken.binary_search(&c.token()).is_ok() {
                    c.on_wake(now);
                }
            }
        }
        for (c, r) in self.conns.iter_mut().zip(&self.ready) {
            if r.hangup {
                c.on_hangup(now);
            } else if r.write {
                c.on_writable(now);
            } else if r.read {
                c.on_readable(now);
            }
        }
        for c in &mut self.conns {
            if c.deadline().is_some_and(|d| d <= now) {
                c.on_timeout(now);
            }
        }
        if shutdown_ready && self.draining_until.is_none() {
            // Closing the listeners makes new clients see a refusal at once.
            self.listeners.clear();
            self.draining_until = Some(now + self.config.grace);
            for c in &mut self.conns {
                c.on_shutdown(now);
            }
        }
        let ready = self
            .listeners
            .iter()
            .zip(listener_ready)
            .filter(|(_, r)| **r);
        for (listener, _) in ready {
            let (conns, service, send_timeout, wakes, next_token) = (
                &mut self.conns,
                &self.service,
                self.config.send_timeout,
                &self.wakes,
                &mut self.next_token,
            );
            let accepted = accept_batch(listener, |conn, peer| {
                if admit(&conn) {
                    let session = service.new_session(peer, now);
                    *next_token += 1;
                    let token = *next_token;
                    match Connection::new(conn, peer, session, wakes, token, send_timeout, now) {
                        Ok(c) if !c.is_finished() => conns.push(c),
                        Ok(_) => {}
                        Err(e) => tracing::debug!(?peer, "cannot set up connection: {e}"),
                    }
                }
            })?;
            if accepted == Accepted::Exhausted {
                self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                break;
            }
        }
        self.conns.retain(|c| !c.is_finished());
        match self.draining_until {
            Some(until) if self.conns.is_empty() || now >= until => {
                abort_all(self.conns.iter_mut());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
