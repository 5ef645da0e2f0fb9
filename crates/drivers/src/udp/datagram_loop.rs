//! The datagram loop: one socket, one [`DatagramService`], datagrams and timers.
//!
//! UDP has no connections to accept, so there is no choice of model: one thread
//! waits for a datagram, the service's next deadline, shutdown or — with
//! [`serve_woken`] — a [`UdpWaker`] fired by another thread, and sends what the
//! service asks for. A wake-up is delivered as an early
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
//! pipelined SAYs are still one. The socket asks for a 4 MiB receive buffer so
//! that a flood queues instead of dropping a member's PING while the loop is
//! descheduled.

use super::recv::{grow_receive_buffer, Receiver, Wait};
use super::send::Sender;
use crate::io::wait_readable;
use crate::Shutdown;
use netkit_proto::{Datagram, DatagramService};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;
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

/// Runs `service` on `socket` until `shutdown` fires.
pub fn serve(
    socket: &UdpSocket,
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
) -> io::Result<()> {
    run(socket, service, shutdown, None)
}

/// Like [`serve`], and also calls `service.handle_timeout` soon after `waker` fires.
pub fn serve_woken(
    socket: &UdpSocket,
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
    waker: &UdpWaker,
) -> io::Result<()> {
    run(socket, service, shutdown, Some(waker))
}

fn run(
    socket: &UdpSocket,
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
    waker: Option<&UdpWaker>,
) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    grow_receive_buffer(socket, RECEIVE_BUFFER);
    let mut batch = Receiver::new(SLOTS, SLOT, false, false);
    let mut sender = Sender::new();
    let mut out: Vec<Datagram> = Vec::new();
    while !shutdown.is_triggered() {
        let timeout = service
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()));
        let wake_fd = waker.map_or(shutdown.fd(), |w| w.fd.as_fd());
        let fds = [socket.as_fd(), shutdown.fd(), wake_fd];
        let watched = if waker.is_some() { 3 } else { 2 };
        match wait_readable(&fds[..watched], timeout)? {
            // A bounded batch per wake-up, so a flood cannot starve timers or shutdown.
            Some(0) => {
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
                        service.handle_datagram(Instant::now(), from, data, &mut out);
                    }
                    // The output of the whole batch at once: per destination in order.
                    sender.send(socket, &mut out);
                    if n < SLOTS {
                        break;
                    }
                }
            }
            Some(1) => break,
            _ => {}
        }
        // Checked after every batch too, so a datagram flood delays neither.
        let woken = waker.is_some_and(UdpWaker::take);
        let due = service
            .poll_timeout()
            .is_some_and(|at| at <= Instant::now());
        if woken || due {
            service.handle_timeout(Instant::now(), &mut out);
        }
        sender.send(socket, &mut out);
    }
    Ok(())
}
