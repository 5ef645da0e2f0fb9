//! The UDP loop: one socket, one [`DatagramService`], datagrams and timers.
//!
//! UDP has no connections to accept, so there is no choice of model: one thread
//! waits for a datagram, the service's next deadline or shutdown, and sends what
//! the service asks for.

use crate::io::wait_readable;
use crate::Shutdown;
use netkit_proto::{Datagram, DatagramService};
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::Instant;

/// The largest UDP payload (65,535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// Datagrams handled per wake-up before timers and shutdown are looked at again.
const BATCH: usize = 64;

/// Runs `service` on `socket` until `shutdown` fires.
pub fn serve(
    socket: &UdpSocket,
    service: &mut impl DatagramService,
    shutdown: &Shutdown,
) -> io::Result<()> {
    socket.set_nonblocking(true)?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out: Vec<Datagram> = Vec::new();
    while !shutdown.is_triggered() {
        let timeout = service
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()));
        match wait_readable(&[socket.as_fd(), shutdown.fd()], timeout)? {
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
            Some(_) => break,
            None => service.handle_timeout(Instant::now(), &mut out),
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
