//! One epoll worker: its loop (`epoll_wait`, then events, timers, accepts),
//! the slab of connections its tokens name, and its timer heap. `epoll.rs`
//! starts one per `--workers` thread, each on its own listener.

use crate::io::poll_timeout;
use crate::listener::Conn;
use crate::loops::readiness::{
    abort_all, accept_batch, earliest, Accepted, Connection, ACCEPT_PAUSE,
};
use crate::wake::WakeQueue;
use crate::{Config, Listener, Shutdown};
use netkit_proto::Service;
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Instant;

const SHUTDOWN: u64 = 1;
const WAKE: u64 = 2;
/// Tokens below this (in the low 32 bits) name listeners, shutdown and
/// wake-up descriptors. Listener `i`'s token is `i << 32`: its low half is
/// 0, which no connection's token has.
const FIRST_CONN: u64 = 3;
/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 256;

/// A worker's own descriptors: its epoll instance and its wake-up queue.
pub(super) struct Fds {
    epoll: Epoll,
    wakes: Arc<WakeQueue>,
}

impl Fds {
    pub(super) fn new() -> io::Result<Fds> {
        Ok(Fds {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            wakes: WakeQueue::new()?,
        })
    }
}

/// Runs one worker; on failure, tells the others to stop (`signals[1]`).
pub(super) fn run_worker<S: Service>(
    listeners: Vec<Listener>,
    fds: Fds,
    service: Arc<S>,
    config: &Config,
    signals: &[Shutdown; 2],
) -> io::Result<()> {
    let result = Worker::new(listeners, fds, service, config, signals).and_then(|mut w| w.run());
    if let Err(e) = &result {
        tracing::error!("epoll worker failed: {e}");
        signals[1].trigger();
    }
    result
}

struct Slot<S> {
    conn: Option<Connection<S>>,
    generation: u32,
    /// The interest epoll currently has for this socket.
    registered: (bool, bool),
    /// The earliest live timer-heap entry for this slot.
    scheduled: Option<Instant>,
}

struct Worker<'a, S: Service> {
    epoll: Epoll,
    /// This worker's listeners; emptied by shutdown.
    listeners: Vec<Listener>,
    /// Listeners epoll reported ready in this turn, by index.
    ready_listeners: Vec<usize>,
    signals: &'a [Shutdown; 2],
    service: Arc<S>,
    config: Config,
    slots: Vec<Slot<S::Session>>,
    free: Vec<usize>,
    live: usize,
    timers: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    due: Vec<(Instant, usize, u32)>,
    wakes: Arc<WakeQueue>,
    woken: Vec<u64>,
    draining_until: Option<Instant>,
    accept_paused_until: Option<Instant>,
}

impl<'a, S: Service> Worker<'a, S> {
    fn new(
        listeners: Vec<Listener>,
        Fds { epoll, wakes }: Fds,
        service: Arc<S>,
        config: &Config,
        signals: &'a [Shutdown; 2],
    ) -> io::Result<Self> {
        for listener in &listeners {
            listener.set_nonblocking(true)?;
        }
        for s in signals {
            epoll.add(s.fd(), EpollEvent::new(EpollFlags::EPOLLIN, SHUTDOWN))?;
        }
        epoll.add(wakes.fd(), EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
        let w = Worker {
            epoll,
            listeners,
            ready_listeners: Vec::new(),
            signals,
            service,
            config: config.clone(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: BinaryHeap::new(),
            due: Vec::new(),
            wakes,
            woken: Vec::new(),
            draining_until: None,
            accept_paused_until: None,
        };
        w.watch_listener()?;
        Ok(w)
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = vec![EpollEvent::empty(); EVENTS];
        loop {
            let now = Instant::now();
            let next_timer = self.timers.peek().map(|Reverse((at, ..))| *at);
            let wake = earliest(
                earliest(next_timer, self.accept_paused_until),
                self.draining_until,
            );
            let timeout = poll_timeout(wake.map(|t| t.saturating_duration_since(now)));
            let n = match self.epoll.wait(&mut events, timeout) {
                Ok(n) => n,
                Err(Errno::EINTR) => 0,
                Err(e) => return Err(e.into()),
            };
            let now = Instant::now();
            let mut stop = false;
            self.ready_listeners.clear();
            for ev in &events[..n] {
                match ev.data() {
                    SHUTDOWN => stop = true,
                    WAKE => self.on_wakes(now),
                    data if data & u64::from(u32::MAX) == 0 => {
                        self.ready_listeners.push((data >> 32) as usize)
                    }
                    data => self.on_event(data, ev.events(), now),
                }
            }
            self.run_timers(now);
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
                self.watch_listener()?;
            }
            if stop && self.draining_until.is_none() {
                self.begin_drain(now)?;
            }
            if !self.ready_listeners.is_empty() && self.accept_paused_until.is_none() {
                self.accept(now)?;
            }
            if let Some(until) = self.draining_until {
                if self.live == 0 || now >= until {
                    abort_all(self.slots.iter_mut().filter_map(|s| s.conn.as_mut()));
                    return Ok(());
                }
            }
        }
    }

    /// The connection a token names, if it is still the one that got the token.
    fn lookup(&mut self, data: u64) -> Option<(usize, &mut Connection<S::Session>)> {
        let index = (data & u64::from(u32::MAX)).wrapping_sub(FIRST_CONN) as usize;
        let generation = (data >> 32) as u32;
        let slot = self.slots.get_mut(index)?;
        let conn = slot
            .conn
            .as_mut()
            .filter(|_| slot.generation == generation)?;
        Some((index, conn))
    }

    /// Sessions' wakers were called: each woken connection that still exists
    /// handles its wake-up here, on the loop's thread.
    fn on_wakes(&mut self, now: Instant) {
        let mut woken = std::mem::take(&mut self.woken);
        self.wakes.take(&mut woken);
        for &data in &woken {
            if let Some((index, conn)) = self.lookup(data) {
                conn.on_wake(now);
                self.settle(index);
            }
        }
        woken.clear();
        self.woken = woken;
    }

    fn on_event(&mut self, data: u64, flags: EpollFlags, now: Instant) {
        let Some((index, conn)) = self.lookup(data) else {
            return;
        };
        if flags.intersects(EpollFlags::EPOLLERR | EpollFlags::EPOLLHUP) {
            conn.on_hangup(now);
        } else if flags.contains(EpollFlags::EPOLLOUT) {
            conn.on_writable(now);
        } else if flags.contains(EpollFlags::EPOLLIN) {
            conn.on_readable(now);
        }
        self.settle(index);
    }

    /// After a connection handled an event: drop it if finished, otherwise
    /// bring epoll's interest and the timer heap up to date — each only if it
    /// changed.
    fn settle(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let Some(conn) = slot.conn.as_ref() else {
            return;
        };
        if conn.is_finished() {
            // Dropping the socket closes it, which also removes it from epoll.
            slot.conn = None;
            self.live -= 1;
            return self.release(index);
        }
        let interest = conn.interest();
        if interest != slot.registered {
            let mut ev = EpollEvent::new(flags(interest), token(index, slot.generation));
            match self.epoll.modify(conn.as_fd(), &mut ev) {
                Ok(()) => slot.registered = interest,
                Err(e) => tracing::warn!("epoll_ctl(MOD): {e}"),
            }
        }
        if let Some(at) = conn.deadline() {
            if slot.scheduled.is_none_or(|s| at < s) {
                slot.scheduled = Some(at);
                self.timers.push(Reverse((at, index, slot.generation)));
                self.compact_timers();
            }
        }
    }

    /// Stale entries (closed connections, superseded deadlines) are skipped when
    /// they come due; this keeps a burst of short connections from piling them up.
    fn compact_timers(&mut self) {
        if self.timers.len() > 2 * self.live + 1024 {
            let slots = &self.slots;
            self.timers.retain(|Reverse((at, index, generation))| {
                slots.get(*index).is_some_and(|s| {
                    s.conn.is_some() && s.generation == *generation && s.scheduled == Some(*at)
                })
            });
        }
    }

    fn run_timers(&mut self, now: Instant) {
        while let Some(&Reverse(entry)) = self.timers.peek() {
            if entry.0 > now {
                break;
            }
            self.timers.pop();
            self.due.push(entry);
        }
        // Entries re-pushed while handling these wait for the next turn, so a
        // session whose deadline stays in the past cannot trap this loop.
        let mut due = std::mem::take(&mut self.due);
        for (at, index, generation) in due.drain(..) {
            let Some(slot) = self.slots.get_mut(index) else {
                continue;
            };
            if slot.generation != generation || slot.scheduled != Some(at) {
                continue;
            }
            slot.scheduled = None;
            if let Some(conn) = slot.conn.as_mut() {
                if conn.deadline().is_some_and(|d| d <= now) {
                    conn.on_timeout(now);
                }
            }
            self.settle(index);
        }
        self.due = due;
    }

    fn begin_drain(&mut self, now: Instant) -> io::Result<()> {
        self.draining_until = Some(now + self.config.grace);
        // Nobody reads these pipes: left registered, they would wake every turn.
        for s in self.signals {
            self.epoll.delete(s.fd())?;
        }
        for listener in std::mem::take(&mut self.listeners) {
            // Explicitly: a Unix sibling is a dup, and epoll forgets a socket
            // only when its last descriptor closes.
            if self.accept_paused_until.is_none() {
                self.epoll.delete(listener.as_fd())?;
            }
        }
        for index in 0..self.slots.len() {
            if let Some(conn) = self.slots[index].conn.as_mut() {
                conn.on_shutdown(now);
                self.settle(index);
            }
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant) -> io::Result<()> {
        let listeners = std::mem::take(&mut self.listeners);
        let ready = std::mem::take(&mut self.ready_listeners);
        let mut result = Ok(Accepted::Continue);
        for &i in &ready {
            let Some(listener) = listeners.get(i) else {
                continue;
            };
            result = accept_batch(listener, |conn, peer| self.add(conn, peer, now));
            if !matches!(result, Ok(Accepted::Continue)) {
                break;
            }
        }
        self.listeners = listeners;
        self.ready_listeners = ready;
        if result? == Accepted::Exhausted {
            for l in &self.listeners {
                self.epoll.delete(l.as_fd())?;
            }
            self.accept_paused_until = Some(now + ACCEPT_PAUSE);
        }
        Ok(())
    }

    fn add(&mut self, conn: Conn, peer: Option<SocketAddr>, now: Instant) {
        // The slot comes first: its token is the session's wake-up address.
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                conn: None,
                generation: 0,
                registered: (false, false),
                scheduled: None,
            });
            self.slots.len() - 1
        });
        let token = token(index, self.slots[index].generation);
        let session = self.service.new_session(peer, now);
        let send_timeout = self.config.send_timeout;
        let mut conn =
            match Connection::new(conn, peer, session, &self.wakes, token, send_timeout, now) {
                Ok(c) if !c.is_finished() => c,
                Ok(_) => return self.release(index),
                Err(e) => {
                    tracing::debug!(?peer, "cannot set up connection: {e}");
                    return self.release(index);
                }
            };
        // The client's first bytes have often arrived by the time it is
        // accepted: read them now rather than after a round through
        // epoll_wait. A one-request connection is then served and closed
        // without ever being registered.
        conn.on_readable(now);
        if conn.is_finished() {
            return self.release(index);
        }
        let slot = &mut self.slots[index];
        let interest = conn.interest();
        let ev = EpollEvent::new(flags(interest), token);
        if let Err(e) = self.epoll.add(conn.as_fd(), ev) {
            tracing::warn!(?peer, "epoll_ctl(ADD): {e}; connection closed");
            return self.release(index);
        }
        slot.conn = Some(conn);
        slot.registered = interest;
        self.live += 1;
        self.settle(index);
    }

    /// Frees a slot; the new generation makes its old token (held by a waker,
    /// or in this batch of events) name nothing.
    fn release(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.scheduled = None;
        self.free.push(index);
    }

    fn watch_listener(&self) -> io::Result<()> {
        for (i, l) in self.listeners.iter().enumerate() {
            let token = (i as u64) << 32;
            let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLEXCLUSIVE, token);
            self.epoll.add(l.as_fd(), ev)?;
        }
        Ok(())
    }
}

fn token(index: usize, generation: u32) -> u64 {
    (u64::from(generation) << 32) | (index as u64 + FIRST_CONN)
}

fn flags((read, write): (bool, bool)) -> EpollFlags {
    let mut f = EpollFlags::empty();
    if read {
        f |= EpollFlags::EPOLLIN;
    }
    if write {
        f |= EpollFlags::EPOLLOUT;
    }
    f
}
