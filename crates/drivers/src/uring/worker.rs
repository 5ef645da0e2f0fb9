//! One io_uring worker: its loop (submit, wait, take completions), the slab
//! of connections its operations name, and its timer heap. `uring.rs` starts
//! one per `--workers` thread, each on its own listener.
//!
//! Every operation carries a `user_data` naming its kind and, for a
//! connection's, the slot and its generation: a completion for a slot that
//! was reused can then never reach the new connection. A slot is reused only
//! after every operation of the old connection has completed, since the
//! kernel may still read its output buffer until then.

use super::conn::{OutOp, UConn};
use super::ring::{self, Buffers, Pipe, Ring};
use crate::io::{is_resource_exhaustion, is_transient_accept_error};
use crate::listener::Conn;
use crate::loops::readiness::{earliest, ACCEPT_PAUSE};
use crate::wake::WakeQueue;
use crate::{Config, Listener, Shutdown};
use io_uring::{cqueue, opcode, types};
use netkit_proto::Service;
use nix::errno::Errno;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operation kinds, in the low bits of `user_data`.
const RECV: u64 = 0;
const ACCEPT: u64 = 1;
const WAKE: u64 = 2;
const SHUTDOWN: u64 = 3;
/// Completions nobody waits for: buffers given back, cancellations.
const IGNORE: u64 = 4;
const SEND: u64 = 5;
const READ: u64 = 6;
const FILL: u64 = 7;
const DRAIN: u64 = 8;
const KIND_BITS: u32 = 4;

/// After the grace period, how long the kernel gets to hand back the
/// operations of the connections just aborted before the worker leaves
/// without them (leaking their memory rather than freeing it under the kernel).
const CANCEL_WAIT: Duration = Duration::from_secs(1);

/// Accepts in flight per listener: each takes one connection (with its peer's
/// address) and is submitted again in the same batch, so this bounds the
/// connections one worker takes per loop turn, as a backlog of its own.
const ACCEPTS: usize = 16;

/// A worker's own resources, made before any worker starts accepting.
pub(super) struct Fds {
    ring: Ring,
    wakes: Arc<WakeQueue>,
    buffers: Buffers,
}

impl Fds {
    pub(super) fn new() -> io::Result<Fds> {
        Ok(Fds {
            ring: Ring::new()?,
            wakes: WakeQueue::new()?,
            buffers: Buffers::new(),
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
        tracing::error!("uring worker failed: {e}");
        signals[1].trigger();
    }
    result
}

struct Slot<S> {
    conn: Option<UConn<S>>,
    generation: u32,
    /// Cancellations were submitted for the finished connection's operations.
    cancelled: bool,
    scheduled: Option<Instant>,
}

struct Worker<S: Service> {
    ring: Ring,
    buffers: Buffers,
    pipes: Vec<Pipe>,
    /// This worker's listeners (emptied by shutdown), and whether each of
    /// their accepts (`ACCEPTS` per listener, slot `listener * ACCEPTS + k`)
    /// is in flight.
    listeners: Vec<Listener>,
    armed: Vec<bool>,
    addrs: ring::AcceptAddrs,
    service: Arc<S>,
    config: Config,
    slots: Vec<Slot<S::Session>>,
    free: Vec<usize>,
    live: usize,
    timers: BinaryHeap<Reverse<(Instant, usize, u32)>>,
    due: Vec<(Instant, usize, u32)>,
    wakes: Arc<WakeQueue>,
    woken: Vec<u64>,
    completions: Vec<(u64, i32, u32)>,
    /// Scratch for a connection's chain of output operations.
    chain: Vec<io_uring::squeue::Entry>,
    draining_until: Option<Instant>,
    /// Set once the grace period is over: the moment the worker stops
    /// waiting for cancelled operations.
    give_up_at: Option<Instant>,
    accept_paused_until: Option<Instant>,
}

impl<S: Service> Worker<S> {
    fn new(
        listeners: Vec<Listener>,
        Fds {
            ring,
            wakes,
            buffers,
        }: Fds,
        service: Arc<S>,
        config: &Config,
        signals: &[Shutdown; 2],
    ) -> io::Result<Self> {
        ring.enable()?;
        for listener in &listeners {
            // Accepted sockets stay blocking: the ring waits, not the thread.
            listener.set_nonblocking(false)?;
        }
        let mut w = Worker {
            ring,
            buffers,
            pipes: Vec::new(),
            armed: vec![false; listeners.len() * ACCEPTS],
            addrs: ring::AcceptAddrs::new(listeners.len() * ACCEPTS),
            listeners,
            service,
            config: config.clone(),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            timers: BinaryHeap::new(),
            due: Vec::new(),
            wakes,
            woken: Vec::new(),
            completions: Vec::new(),
            chain: Vec::new(),
            draining_until: None,
            give_up_at: None,
            accept_paused_until: None,
        };
        let provide = w.buffers.provide_all(IGNORE);
        w.ring.push(provide);
        for s in signals {
            let poll = opcode::PollAdd::new(ring::fd(s), nix::libc::POLLIN as u32).build();
            w.ring.push(poll.user_data(SHUTDOWN));
        }
        w.arm_wake();
        w.arm_accepts();
        Ok(w)
    }

    fn run(&mut self) -> io::Result<()> {
        loop {
            let now = Instant::now();
            let next_timer = self.timers.peek().map(|Reverse((at, ..))| *at);
            let wake = [
                self.accept_paused_until,
                self.draining_until,
                self.give_up_at,
            ]
            .into_iter()
            .fold(next_timer, earliest);
            self.ring.flush_backlog();
            let waited = match wake {
                _ if self.ring.backlogged() => self.ring.ring.submit(),
                Some(at) => {
                    let ts = types::Timespec::from(at.saturating_duration_since(now));
                    let args = types::SubmitArgs::new().timespec(&ts);
                    self.ring.ring.submitter().submit_with_args(1, &args)
                }
                None => self.ring.ring.submit_and_wait(1),
            };
            if let Err(e) = waited {
                let errno = e.raw_os_error().map(Errno::from_raw);
                if !matches!(
                    errno,
                    Some(Errno::ETIME | Errno::EINTR | Errno::EBUSY | Errno::EAGAIN)
                ) {
                    return Err(e);
                }
            }
            let mut completions = std::mem::take(&mut self.completions);
            completions.extend(
                self.ring
                    .ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            let now = Instant::now();
            let mut stop = false;
            for &(data, result, flags) in &completions {
                match data & ((1 << KIND_BITS) - 1) {
                    RECV => self.on_recv(data, result, flags, now),
                    SEND => self.on_out(data, OutOp::Send, result, now),
                    READ => self.on_out(data, OutOp::Read, result, now),
                    FILL => self.on_out(data, OutOp::Fill, result, now),
                    DRAIN => self.on_out(data, OutOp::Drain, result, now),
                    ACCEPT => self.on_accept(data, result, flags, now)?,
                    WAKE => self.on_wakes(flags, now),
                    SHUTDOWN => stop = true,
                    _ => {
                        if result < 0 && result != -nix::libc::ENOENT {
                            tracing::debug!("uring: {}", Errno::from_raw(-result));
                        }
                    }
                }
            }
            completions.clear();
            self.completions = completions;
            self.run_timers(now);
            if self.accept_paused_until.is_some_and(|t| now >= t) {
                self.accept_paused_until = None;
                self.arm_accepts();
            }
            if stop && self.draining_until.is_none() {
                self.begin_drain(now);
            }
            if let Some(until) = self.draining_until {
                // The listeners close only when their accepts have ended:
                // until then the kernel holds them open, and accepts.
                if self.live == 0 && !self.armed.contains(&true) {
                    return Ok(());
                }
                if now >= until && self.give_up_at.is_none() {
                    self.abort_all(now);
                }
                if self.give_up_at.is_some_and(|t| now >= t) {
                    tracing::warn!("{} connection(s) left to the kernel at exit", self.live);
                    self.buffers.leak();
                    self.addrs.leak();
                    std::mem::forget(std::mem::take(&mut self.slots));
                    return Ok(());
                }
            }
        }
    }

    /// The slot a `user_data` (or waker token) names, if it still holds the
    /// connection of that generation.
    fn lookup(&mut self, data: u64) -> Option<(usize, &mut UConn<S::Session>)> {
        lookup(&mut self.slots, data)
    }

    fn on_recv(&mut self, data: u64, result: i32, flags: u32, now: Instant) {
        let bid = cqueue::buffer_select(flags);
        if let Some((index, conn)) = lookup(&mut self.slots, data) {
            let len = usize::try_from(result).unwrap_or(0);
            let bytes = bid.map_or(&[][..], |bid| self.buffers.filled(bid, len));
            conn.on_recv(now, result, bytes);
            self.settle(index);
        }
        if let Some(bid) = bid {
            let back = self.buffers.give_back(bid, IGNORE);
            self.ring.push(back);
        }
    }

    fn on_out(&mut self, data: u64, op: OutOp, result: i32, now: Instant) {
        let mut pipes = std::mem::take(&mut self.pipes);
        if let Some((index, conn)) = self.lookup(data) {
            conn.on_out(now, op, result, &mut pipes);
            self.settle(index);
        }
        self.pipes = pipes;
    }

    fn on_accept(&mut self, data: u64, result: i32, flags: u32, now: Instant) -> io::Result<()> {
        let i = ((data & u64::from(u32::MAX)) >> KIND_BITS) as usize;
        if !cqueue::more(flags) {
            if let Some(armed) = self.armed.get_mut(i) {
                *armed = false;
            }
        }
        match u32::try_from(result) {
            Ok(_) => {
                // SAFETY: a successful accept completion's result is a new
                // descriptor the kernel made for this process; nothing else
                // owns it.
                let fd = unsafe { OwnedFd::from_raw_fd(result) };
                let peer = self.addrs.peer(i);
                if let Some(listener) = self.listeners.get(i / ACCEPTS) {
                    let conn = take_conn(listener, fd);
                    self.add(conn, peer, now);
                }
            }
            Err(_) => {
                let e = io::Error::from_raw_os_error(-result);
                if result == -nix::libc::ECANCELED || self.draining_until.is_some() {
                } else if is_resource_exhaustion(&e) {
                    tracing::warn!("accept: {e}; not accepting for {ACCEPT_PAUSE:?}");
                    self.accept_paused_until = Some(now + ACCEPT_PAUSE);
                    return Ok(());
                } else if is_transient_accept_error(&e) {
                    tracing::debug!("accept: {e}");
                } else {
                    return Err(e);
                }
            }
        }
        if self.accept_paused_until.is_none() && self.draining_until.is_none() {
            self.arm_accepts();
        }
        Ok(())
    }

    /// Sessions' wakers were called: each woken connection still alive
    /// handles its wake-up here.
    fn on_wakes(&mut self, flags: u32, now: Instant) {
        if !cqueue::more(flags) {
            self.arm_wake();
        }
        let mut woken = std::mem::take(&mut self.woken);
        self.wakes.take(&mut woken);
        for &token in &woken {
            let index = (token & u64::from(u32::MAX)) as usize;
            let data = (token & !u64::from(u32::MAX)) | ((index as u64) << KIND_BITS);
            if let Some((index, conn)) = self.lookup(data) {
                conn.on_wake(now);
                self.settle(index);
            }
        }
        woken.clear();
        self.woken = woken;
    }

    /// After a connection handled an event: submit what it wants next, or
    /// drop it once finished and nothing of it is in the kernel's hands.
    fn settle(&mut self, index: usize) {
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        let generation = slot.generation;
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let base = (u64::from(generation) << 32) | ((index as u64) << KIND_BITS);
        if conn.is_finished() {
            if !conn.is_busy() {
                if let Some(conn) = slot.conn.take() {
                    let fd = conn.into_fd();
                    if self.draining_until.is_none() {
                        // Closed by the ring, in the batch of the next
                        // submission, not with a system call of its own.
                        let close = opcode::Close::new(types::Fd(fd.into_raw_fd())).build();
                        self.ring.push(close.user_data(IGNORE));
                    }
                    // (When stopping, dropping `fd` closes it now: the ring
                    // may not be entered again.)
                }
                self.live -= 1;
                return self.release(index);
            }
            if !slot.cancelled {
                // Everything still waiting on the socket; file reads and
                // fills of an empty pipe end on their own.
                slot.cancelled = true;
                let which = types::CancelBuilder::fd(conn.sock()).all();
                let cancel = opcode::AsyncCancel2::new(which).build();
                self.ring.push(cancel.user_data(IGNORE));
            }
            return;
        }
        if let Some(entry) = conn.recv_entry(base | RECV) {
            self.ring.push(entry);
        }
        let mut chain = std::mem::take(&mut self.chain);
        conn.out_entries(|op| base | kind(op), &mut self.pipes, &mut chain);
        if !chain.is_empty() {
            self.ring.push_chain(&chain);
            chain.clear();
        }
        self.chain = chain;
        if conn.is_finished() {
            return self.settle(index);
        }
        if let Some(at) = conn.deadline() {
            if slot.scheduled.is_none_or(|s| at < s) {
                slot.scheduled = Some(at);
                self.timers.push(Reverse((at, index, generation)));
                self.compact_timers();
            }
        }
    }

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

    /// Shutdown: cancel the accepts, close the listeners, and let every
    /// session finish what is in flight.
    fn begin_drain(&mut self, now: Instant) {
        self.draining_until = Some(now + self.config.grace);
        for (i, &armed) in self.armed.iter().enumerate() {
            if armed {
                let cancel = opcode::AsyncCancel::new(((i as u64) << KIND_BITS) | ACCEPT).build();
                self.ring.push(cancel.user_data(IGNORE));
            }
        }
        // The kernel keeps its own reference to a listener until its accept
        // is cancelled (the loop waits for that before returning); a
        // connection it still hands over is closed on arrival.
        self.listeners.clear();
        for index in 0..self.slots.len() {
            if let Some(conn) = self.slots[index].conn.as_mut() {
                conn.on_shutdown(now);
                self.settle(index);
            }
        }
    }

    /// The grace period is over: close what is left, and wait (briefly) for
    /// the kernel to hand back their operations.
    fn abort_all(&mut self, now: Instant) {
        self.give_up_at = Some(now + CANCEL_WAIT);
        let mut left = 0;
        for index in 0..self.slots.len() {
            if let Some(conn) = self.slots[index].conn.as_mut() {
                if !conn.is_finished() {
                    conn.abort();
                    left += 1;
                }
                self.settle(index);
            }
        }
        if left > 0 {
            tracing::warn!("{left} connection(s) still open after the grace period");
        }
    }

    fn add(&mut self, conn: Conn, peer: Option<SocketAddr>, now: Instant) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot {
                conn: None,
                generation: 0,
                cancelled: false,
                scheduled: None,
            });
            self.slots.len() - 1
        });
        let token = (u64::from(self.slots[index].generation) << 32) | index as u64;
        let session = self.service.new_session(peer, now);
        let send_timeout = self.config.send_timeout;
        let conn = UConn::new(conn, peer, session, &self.wakes, token, send_timeout, now);
        self.slots[index].conn = Some(conn);
        self.live += 1;
        self.settle(index);
    }

    /// Frees a slot; the new generation makes its old `user_data` and waker
    /// token name nothing.
    fn release(&mut self, index: usize) {
        let slot = &mut self.slots[index];
        slot.generation = slot.generation.wrapping_add(1);
        slot.scheduled = None;
        slot.cancelled = false;
        self.free.push(index);
    }

    /// Submits again every accept not in flight.
    fn arm_accepts(&mut self) {
        for (i, armed) in self.armed.iter_mut().enumerate() {
            let Some(listener) = self.listeners.get(i / ACCEPTS) else {
                continue;
            };
            if *armed {
                continue;
            }
            if let Some(accept) = self.addrs.accept(i, ring::fd(listener)) {
                *armed = true;
                self.ring
                    .push(accept.user_data(((i as u64) << KIND_BITS) | ACCEPT));
            }
        }
    }

    /// A multishot poll on the wake queue's eventfd.
    fn arm_wake(&mut self) {
        let poll = opcode::PollAdd::new(
            types::Fd(self.wakes.fd().as_raw_fd()),
            nix::libc::POLLIN as u32,
        )
        .multi(true)
        .build()
        .user_data(WAKE);
        self.ring.push(poll);
    }
}

/// The `user_data` kind of an output operation.
fn kind(op: OutOp) -> u64 {
    match op {
        OutOp::Send => SEND,
        OutOp::Read => READ,
        OutOp::Fill => FILL,
        OutOp::Drain => DRAIN,
    }
}

/// The slot a `user_data` names, if it still holds the connection of that
/// generation.
fn lookup<S>(slots: &mut [Slot<S>], data: u64) -> Option<(usize, &mut UConn<S>)> {
    let index = ((data & u64::from(u32::MAX)) >> KIND_BITS) as usize;
    let generation = (data >> 32) as u32;
    let slot = slots.get_mut(index)?;
    let conn = slot
        .conn
        .as_mut()
        .filter(|_| slot.generation == generation)?;
    Some((index, conn))
}

/// The connection an accept completion made, typed like the listener.
fn take_conn(listener: &Listener, fd: OwnedFd) -> Conn {
    match listener {
        Listener::Tcp(_) => Conn::Tcp(std::net::TcpStream::from(fd)),
        Listener::Unix(..) => Conn::Unix(fd.into()),
    }
}
