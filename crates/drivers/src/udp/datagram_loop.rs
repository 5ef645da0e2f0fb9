//! The datagram loop: one [`DatagramService`] on one or more sockets (one
//! per `--bind`), datagrams and timers.
//!
//! UDP has no connections to accept, so there is no choice of model: one
//! thread waits for a datagram on any of its sockets, the service's next
//! deadline, shutdown or — with [`serve_woken`] — a [`UdpWaker`] fired by
//! another thread, and sends what the service asks for. A wake-up is delivered as an early
//! [`DatagramService::handle_timeout`] (which the trait allows), so a service
//! with output from elsewhere (the chat room's admin lines and IRC members)
//! collects it there.
//!
//! Datagrams come in batches and leave in batches: one `recvmmsg`
//! ([`super::recv::Receiver`]) reads what is queued (up to 64), the service
//! handles each, and everything it queued
//! for the whole batch goes out through [`super::send::Sender`]
//! (grouped by destination, one `sendmmsg`, runs to one address as one GSO
//! message). A chat SAY to 100 members is one system call, not 100; 32
//! pipelined SAYs are still one. Each socket asks for a 4 MiB receive buffer
//! so that a flood queues instead of dropping a member's PING while the loop
//! is descheduled.
//!
//! With several sockets (`--bind 127.0.0.1 --bind ::1`), each is read in
//! turn, a bounded number of batches at a time, and every datagram leaves
//! through the socket its destination was last heard on ([`super::routes`]):
//! an answer through the socket its request came in on, a chat line to a
//! member through the socket that member talks to.

use super::recv::{grow_receive_buffer, Receiver, Wait};
use super::routes::Routes;
use super::send::Sender;
use crate::io::wait_readable_set;
use crate::Shutdown;
use netkit_proto::{Datagram, DatagramService};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::io;
use std::net::UdpSocket;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

/// Datagrams one `recvmmsg` reads at most.
const SLOTS: usize = 64;

/// Bytes per slot: more than the largest UDP payload (65,527 over IPv6).
const SLOT: usize = 65_536;

/// `recvmmsg` calls per wake-up at most (each up to [`SLOTS`]
/// datagrams) before timers and shutdown are looked at again.
const ROUNDS: usize = 4;

/// The receive buffer asked for (the kernel doubles it for its bookkeeping).
pub const RECEIVE_BUFFER: usize = 4 << 20;

/// Wakes a [`serve_woken`] loop from any thread (an eventfd).
#[derive(Debug)]
pub struct UdpWaker {
    fd: EventFd,
}

impl UdpWaker {
    /// A new waker, not yet fired.
    pub fn new() -> io::Result<Arc<UdpWaker>> {
        let fd = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;
        Ok(Arc::new(UdpWaker { fd }))
    }

    /// A [`Waker`] that fires this.
    pub fn waker(self: &Arc<Self>) -> Waker {
        Waker::from(Arc::clone(self))
    }

    /// Whether it fired since the last call (and resets it).
    fn take(&self) -> bool {
        self.fd.read().is_ok()
    }
}

impl Wake for UdpWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Only fails when the counter is saturated, which is still "woken".
        let _ = self.fd.write(1);
    }
}

/// Runs `service` on `sockets` (one per `--bind`) until `shutdown` fires.
pub fn serve(
    sockets: &[UdpSocket],
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
) -> io::Result<()> {
    DatagramLoop::new(sockets)?.run(service, shutdown, None)
}

/// Like [`serve`], and also calls `service.handle_timeout` soon after `waker` fires.
pub fn serve_woken(
    sockets: &[UdpSocket],
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
    waker: &UdpWaker,
) -> io::Result<()> {
    DatagramLoop::new(sockets)?.run(service, shutdown, Some(waker))
}

/// The loop over its sockets, for a caller that still has something to send
/// when it ends (the chat room's farewell): [`DatagramLoop::send`] routes it
/// as the loop did, each datagram through the socket its peer was heard on.
#[derive(Debug)]
pub struct DatagramLoop<'a> {
    sockets: &'a [UdpSocket],
    /// Only consulted with more than one socket.
    routes: Routes,
    sender: Sender,
    /// Per socket, the datagrams of one send (kept for their capacity).
    parts: Vec<Vec<Datagram>>,
}

impl<'a> DatagramLoop<'a> {
    /// A loop over `sockets` (at least one), made non-blocking with large
    /// receive buffers.
    pub fn new(sockets: &'a [UdpSocket]) -> io::Result<DatagramLoop<'a>> {
        if sockets.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no socket to serve",
            ));
        }
        for socket in sockets {
            socket.set_nonblocking(true)?;
            grow_receive_buffer(socket, RECEIVE_BUFFER);
        }
        Ok(DatagramLoop {
            sockets,
            routes: Routes::new(sockets),
            sender: Sender::new(),
            parts: sockets.iter().map(|_| Vec::new()).collect(),
        })
    }

    /// Runs `service` until `shutdown` fires; with a `waker`, as
    /// [`serve_woken`].
    pub fn run(
        &mut self,
        service: &mut impl DatagramService,
        shutdown: &Shutdown,
        waker: Option<&UdpWaker>,
    ) -> io::Result<()> {
        let mut batch = Receiver::new(SLOTS, SLOT, false, false);
        let mut out: Vec<Datagram> = Vec::new();
        // The sockets, then shutdown, then the waker if there is one.
        let sockets = self.sockets;
        let mut fds: Vec<BorrowedFd<'_>> = sockets.iter().map(AsFd::as_fd).collect();
        fds.push(shutdown.fd());
        fds.extend(waker.map(|w| w.fd.as_fd()));
        let count = sockets.len();
        while !shutdown.is_triggered() {
            let timeout = service
                .poll_timeout()
                .map(|at| at.saturating_duration_since(Instant::now()));
            let ready = wait_readable_set(&fds, timeout)?;
            if ready[count] {
                break;
            }
            for (index, _) in ready[..count].iter().enumerate().filter(|(_, r)| **r) {
                self.read(index, &mut batch, service, &mut out);
            }
            // Checked after every batch too, so a datagram flood delays neither.
            let woken = waker.is_some_and(UdpWaker::take);
            let due = service
                .poll_timeout()
                .is_some_and(|at| at <= Instant::now());
            if woken || due {
                service.handle_timeout(Instant::now(), &mut out);
            }
            self.send(&mut out);
        }
        Ok(())
    }

    /// A bounded number of batches from socket `index`, so a flood on one
    /// cannot starve the others, timers or shutdown.
    fn read(
        &mut self,
        index: usize,
        batch: &mut Receiver,
        service: &mut impl DatagramService,
        out: &mut Vec<Datagram>,
    ) {
        let sockets = self.sockets;
        let socket = &sockets[index];
        let several = sockets.len() > 1;
        for _ in 0..ROUNDS {
            let n = match batch.recv(socket, Wait::No) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // An ICMP error from an earlier send (ECONNREFUSED) is not ours to stop on.
                Err(e) => {
                    tracing::debug!("recvmmsg: {e}");
                    break;
                }
            };
            for (from, _, data) in batch.datagrams() {
                if several {
                    self.routes.heard(from, index);
                }
                service.handle_datagram(Instant::now(), from, data, out);
            }
            // The output of the whole batch at once: per destination in order.
            self.send(out);
            if n < SLOTS {
                break;
            }
        }
    }

    /// Sends (and empties) `out`, each datagram through the socket its
    /// destination was last heard on: with one socket, as one batch.
    pub fn send(&mut self, out: &mut Vec<Datagram>) {
        if let [socket] = self.sockets {
            self.sender.send(socket, out);
            return;
        }
        for d in out.drain(..) {
            self.parts[self.routes.socket_for(d.to)].push(d);
        }
        for (socket, part) in self.sockets.iter().zip(&mut self.parts) {
            self.sender.send(socket, part);
        }
    }
}
