//! The UDP loop: one socket, one [`DatagramService`], datagrams and timers.
//!
//! UDP has no connections to accept, so there is no choice of model: one thread
//! waits for a datagram, the service's next deadline, shutdown or — with
//! [`serve_woken`] — a [`UdpWaker`] fired by another thread, and sends what the
//! service asks for. A wake-up is delivered as an early
//! [`DatagramService::handle_timeout`] (which the trait allows), so a service
//! with output from elsewhere (the chat room's admin lines and IRC members)
//! collects it there.

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

/// The largest UDP payload (65,535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// Datagrams handled per wake-up before timers and shutdown are looked at again.
const BATCH: usize = 64;

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
    let mut buf = vec![0u8; MAX_DATAGRAM];
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
                for _ in 0..BATCH {
                    match socket.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            service.handle_datagram(Instant::now(), from, &buf[..n], &mut out)
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // An ICMP error from an earlier send (ECONNREFUSED) is not ours to stop on.
                        Err(e) => {
                            tracing::debug!("recv_from: {e}");
                            break;
                        }
                    }
                    send_all(socket, &mut out);
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
        send_all(socket, &mut out);
    }
    Ok(())
}

fn send_all(socket: &UdpSocket, out: &mut Vec<Datagram>) {
    for d in out.drain(..) {
        if let Err(e) = socket.send_to(&d.data, d.to) {
            tracing::debug!(to = %d.to, "send_to: {e}");
        }
    }
}
