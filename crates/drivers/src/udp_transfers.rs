//! A UDP loop for services that answer each request from a fresh socket (TFTP:
//! the server's port for a transfer is its transfer ID).
//!
//! One thread, one poll(2) over every socket it owns:
//!
//! ```text
//!   shutdown fd ─┐
//!   listening  ──┼─▶ poll(timeout = earliest session deadline) ─▶ request → new socket + session
//!   transfer 1 ──┤                                              ─▶ datagram → its session
//!   transfer N ──┘                                              ─▶ deadline → handle_timeout
//!   after each: drain poll_transmit (send_to), drop sessions that are done (and their sockets)
//! ```
//!
//! No thread per transfer, so nothing can leak: a session (and its socket) lives
//! in one `Vec` and is dropped when it says it is done, which every TFTP
//! transfer reaches through completion, an error or its retry cap. On shutdown
//! the listening socket is no longer read; the transfers in flight get the
//! grace period to finish, then are dropped.

use crate::io::poll_timeout;
use crate::Shutdown;
use netkit_proto::tftp::{TransferService, TransferSession};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The largest UDP payload (65,535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_536;

/// Requests read per wake-up, so a flood cannot starve running transfers.
const REQUEST_BATCH: usize = 16;

/// Datagrams read from one transfer socket per wake-up.
const TRANSFER_BATCH: usize = 64;

/// Socket buffers asked for (the kernel caps them at its maximum): a window
/// of large blocks must fit.
const SOCKET_BUFFER: usize = 4 << 20;

struct Live<T> {
    socket: UdpSocket,
    session: T,
}

/// Serves `service` on `listener` until `shutdown` fires and the transfers in
/// flight finish, or `grace` after shutdown, whichever is first.
pub fn serve<S: TransferService>(
    listener: &UdpSocket,
    service: &S,
    grace: Duration,
    shutdown: &Shutdown,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let local_ip = listener.local_addr()?.ip();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut live: Vec<Live<S::Transfer>> = Vec::new();
    let mut stop_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if stop_at.is_none() && shutdown.is_triggered() {
            stop_at = Some(now + grace);
        }
        if let Some(at) = stop_at {
            if live.is_empty() || now >= at {
                if !live.is_empty() {
                    tracing::info!("{} transfer(s) cut off by the grace period", live.len());
                }
                return Ok(());
            }
        }
        let deadline = live
            .iter()
            .filter_map(|l| l.session.poll_timeout())
            .chain(stop_at)
            .min();
        let wait = deadline.map(|d| d.saturating_duration_since(now));
        // Slots: 0 shutdown, 1 listener, then one per transfer. After shutdown
        // the first two are left out (the shutdown fd stays readable forever).
        let accepting = stop_at.is_none();
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(live.len() + 2);
        if accepting {
            fds.push(PollFd::new(shutdown.fd(), PollFlags::POLLIN));
            fds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        }
        fds.extend(
            live.iter()
                .map(|l| PollFd::new(l.socket.as_fd(), PollFlags::POLLIN)),
        );
        match nix::poll::poll(&mut fds, poll_timeout(wait)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|p| {
                p.revents().is_some_and(|r| {
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLERR | PollFlags::POLLHUP)
                })
            })
            .collect();
        drop(fds);
        let first = if accepting { 2 } else { 0 };
        for (i, l) in live.iter_mut().enumerate() {
            if ready[first + i] {
                receive(l, &mut buf);
            }
        }
        if accepting && ready[1] {
            accept_requests(listener, local_ip, service, &mut buf, &mut live);
        }
        let now = Instant::now();
        for l in &mut live {
            if l.session.poll_timeout().is_some_and(|at| at <= now) {
                l.session.handle_timeout(now);
                flush(l);
            }
        }
        live.retain(|l| !l.session.is_done());
    }
}

/// Reads what is waiting on a transfer's socket and hands it to the session.
fn receive<T: TransferSession>(l: &mut Live<T>, buf: &mut [u8]) {
    for _ in 0..TRANSFER_BATCH {
        match l.socket.recv_from(buf) {
            Ok((n, from)) => {
                l.session.handle_datagram(Instant::now(), from, &buf[..n]);
                // Lockstep: the answer went out, so nothing more can be waiting
                // yet; skip the recv that would only say EAGAIN.
                if flush(l) {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                // An ICMP error from an earlier send (the peer's port is gone);
                // the session's own timeout deals with a vanished peer.
                tracing::debug!("transfer recv_from: {e}");
                return;
            }
        }
    }
}

fn accept_requests<S: TransferService>(
    listener: &UdpSocket,
    local_ip: std::net::IpAddr,
    service: &S,
    buf: &mut [u8],
    live: &mut Vec<Live<S::Transfer>>,
) {
    for _ in 0..REQUEST_BATCH {
        let (n, from) = match listener.recv_from(buf) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::debug!("recv_from: {e}");
                return;
            }
        };
        let Some(session) = service.handle_request(Instant::now(), from, &buf[..n]) else {
            continue;
        };
        let socket = match transfer_socket(SocketAddr::new(local_ip, 0)) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot open a socket for a transfer to {from}: {e}");
                continue;
            }
        };
        tracing::debug!(peer = %from, port = ?socket.local_addr().ok(), "new transfer");
        let mut l = Live { socket, session };
        flush(&mut l);
        if !l.session.is_done() {
            live.push(l);
        }
    }
}

fn transfer_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Best effort: the kernel caps these at its configured maximum.
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Sends everything the session has queued; returns whether anything went.
fn flush<T: TransferSession>(l: &mut Live<T>) -> bool {
    let mut sent = false;
    while let Some((to, data)) = l.session.poll_transmit() {
        sent = true;
        if let Err(e) = l.socket.send_to(data, to) {
            // Counted as lost: the session's retransmission covers it.
            tracing::debug!(%to, "send_to: {e}");
        }
    }
    sent
}
