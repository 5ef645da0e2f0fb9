//! The transfer loop: for services that answer each request from a fresh
//! socket (TFTP: the server's port for a transfer is its transfer ID), and
//! for a client running one such transfer ([`run`]: `netkit tftp get|put`).
//!
//! ```text
//!   listening sockets ─▶ poll(listeners, shutdown) ─▶ recvmmsg: up to 32 requests
//!   (one per --bind)                                 ─▶ service.handle_request
//!                                                    │ refused: its ERROR goes out
//!                                                    │ from a fresh socket, done
//!                                                    ▼
//!                       a scoped thread per transfer, on its own socket
//!                       (bound on the address its request was sent to):
//!                         loop { send what the session queued;     ◀── run (the
//!                                recv (SO_RCVTIMEO = time to its       client: its
//!                                      deadline)                       one transfer)
//!                                  → handle_datagram | handle_timeout }
//!                         until the session is done; the socket closes with it
//! ```
//!
//! Why a thread per transfer rather than one readiness loop: TFTP in lockstep
//! is one round trip per block, so per-block cost is latency. A blocking
//! `recv` with a receive timeout is two system calls per block (recv, send); a
//! readiness loop is three (poll, recv, send), which is what tftpd-hpa pays. The
//! receive timeout is re-armed only when the session's deadline moves by more
//! than an eighth, so steady transfers do not pay a `setsockopt` per block
//! (see `wait.rs`). A window goes out through the one [`Sender`] (one GSO
//! message) and comes in through the one [`Receiver`] (one GRO batch).
//!
//! Nothing leaks: every session reaches done (completion, an ERROR, or its
//! retry cap), and its thread ends with it. Threads are scoped, so `serve`
//! returns only when all of them have. On shutdown the listening sockets are no
//! longer read; transfers in flight get the grace period, then are told to stop
//! (each notices within [`MAX_WAIT`]). At most [`MAX_TRANSFERS`] run at once;
//! requests beyond that are dropped (the client retries).
//!
//! Under a flood of garbage at the listening port, what decides whether a real
//! request gets through is whether the socket's queue has room when it
//! arrives: the listener reads in batches (`recvmmsg`) so it drains faster
//! than a sender can fill it, and asks for a large receive buffer so a
//! moment off the CPU does not fill it either. (Answers to garbage have
//! their own budget in the service.)

mod listen;
mod wait;

use super::recv::{enable_gro, Receiver};
use super::send::Sender;
use crate::io::wait_readable_set;
use crate::shutdown::Tracker;
use crate::Shutdown;
use listen::Listening;
use netkit_proto::{TransferService, TransferSession};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wait::{Heard, Waiting};

/// Transfers running at once.
pub const MAX_TRANSFERS: usize = 1024;

/// The longest a transfer thread waits without looking at the stop flag.
pub const MAX_WAIT: Duration = Duration::from_millis(500);

/// The shortest receive timeout (zero would mean "block forever").
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Socket buffers asked for (the kernel caps them at its maximum): a window
/// of large blocks must fit.
const SOCKET_BUFFER: usize = 4 << 20;

/// Serves `service` on `listeners` (one per `--bind`) until `shutdown`
/// fires and the transfers in flight finish, or `grace` after shutdown,
/// whichever is first. Each transfer's socket is bound on the address its
/// request was sent to.
pub fn serve<S: TransferService>(
    listeners: &[UdpSocket],
    service: &S,
    grace: Duration,
    shutdown: &Shutdown,
) -> io::Result<()> {
    if listeners.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no socket to serve",
        ));
    }
    let mut listening = listeners
        .iter()
        .map(Listening::new)
        .collect::<io::Result<Vec<_>>>()?;
    let mut fds: Vec<_> = listeners.iter().map(AsFd::as_fd).collect();
    fds.push(shutdown.fd());
    let tracker = Arc::new(Tracker::default());
    let active = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let result = (|| -> io::Result<()> {
            while !shutdown.is_triggered() {
                let ready = wait_readable_set(&fds, None)?;
                if ready[listeners.len()] {
                    break;
                }
                // Every ready listener in turn, a bounded number of batches
                // each, so a flood at one address cannot starve another.
                for (_, at) in ready.iter().zip(&mut listening).filter(|(r, _)| **r) {
                    at.read(|from, to, data| {
                        if active.load(Ordering::Acquire) >= MAX_TRANSFERS {
                            tracing::warn!(peer = %from, "too many transfers; request dropped");
                            return;
                        }
                        let Some(session) = service.handle_request(Instant::now(), from, data)
                        else {
                            return;
                        };
                        let Some((socket, session)) = start(to, from, session) else {
                            return;
                        };
                        let guard = tracker.enter();
                        active.fetch_add(1, Ordering::AcqRel);
                        let (active, stop) = (&active, &stop);
                        let spawned = std::thread::Builder::new()
                            .name("udp-transfer".into())
                            .stack_size(256 * 1024)
                            .spawn_scoped(scope, move || {
                                let mut session = session;
                                let go_on = |_: &S::Transfer| !stop.load(Ordering::Acquire);
                                if let Err(e) = drive(&socket, &mut session, go_on) {
                                    tracing::debug!("transfer ends: {e}");
                                }
                                active.fetch_sub(1, Ordering::AcqRel);
                                drop(guard);
                            });
                        if let Err(e) = spawned {
                            // The closure (socket, session, guard) was dropped with the error.
                            active.fetch_sub(1, Ordering::AcqRel);
                            tracing::warn!("cannot start a transfer thread: {e}");
                        }
                    });
                }
            }
            Ok(())
        })();
        let left = tracker.wait_idle(grace);
        if left > 0 {
            tracing::info!("{left} transfer(s) cut off by the grace period");
        }
        stop.store(true, Ordering::Release);
        result
    })
}

/// Opens the transfer's socket and sends the session's first datagrams;
/// `None` when that already finished it (a refusal) or no socket could be had.
fn start<T: TransferSession>(
    local_ip: IpAddr,
    peer: SocketAddr,
    mut session: T,
) -> Option<(UdpSocket, T)> {
    let socket = match transfer_socket(SocketAddr::new(local_ip, 0)) {
        Ok(s) => s,
        // A broadcast destination, say: answer from the wildcard address.
        Err(_) if !local_ip.is_unspecified() && !peer.ip().is_unspecified() => {
            let any = match peer {
                SocketAddr::V4(_) => IpAddr::from([0u8; 4]),
                SocketAddr::V6(_) => IpAddr::from([0u16; 8]),
            };
            match transfer_socket(SocketAddr::new(any, 0)) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot open a socket for a transfer to {peer}: {e}");
                    return None;
                }
            }
        }
        Err(e) => {
            tracing::warn!("cannot open a socket for a transfer to {peer}: {e}");
            return None;
        }
    };
    prepare(&socket, &session);
    tracing::debug!(%peer, port = ?socket.local_addr().ok(), "new transfer");
    flush(&socket, &mut session, &mut Sender::for_one_peer());
    (!session.is_done()).then_some((socket, session))
}

/// Runs one transfer `session` on `socket` (bound and, for a client, with
/// whatever options it wants) until the session is done, or until `go_on`
/// — asked after every round of sending, before waiting — says stop. The
/// TFTP server runs each transfer it starts this way, and the client its
/// one transfer. Fails when the socket's read timeout cannot be set.
pub fn run<T: TransferSession>(
    socket: &UdpSocket,
    session: &mut T,
    go_on: impl FnMut(&T) -> bool,
) -> io::Result<()> {
    prepare(socket, session);
    drive(socket, session, go_on)
}

/// Readies `socket` for `session`: UDP GRO for a session that may be sent
/// windows of large datagrams (see `largest_datagram`).
fn prepare<T: TransferSession>(socket: &UdpSocket, session: &T) {
    if session.largest_datagram().is_none() {
        enable_gro(socket);
    }
}

/// The loop of [`run`], on a prepared socket:
///
/// ```text
///   loop { send what the session queued; done or !go_on → return;
///          deadline passed → handle_timeout;
///          else wait for datagrams until the deadline (polling first while
///          that pays off) → handle_datagram each | handle_timeout
///          (ECONNREFUSED → handle_refused) }
/// ```
fn drive<T: TransferSession>(
    socket: &UdpSocket,
    session: &mut T,
    mut go_on: impl FnMut(&T) -> bool,
) -> io::Result<()> {
    // Sized to what the session must hear whole (see `largest_datagram`).
    let largest = session.largest_datagram();
    let mut receiver = Receiver::new(1, largest.unwrap_or(RECV_BUFFER), false, largest.is_none());
    let mut sender = Sender::for_one_peer();
    let mut waiting = Waiting::default();
    loop {
        flush(socket, session, &mut sender);
        if session.is_done() || !go_on(session) {
            return Ok(());
        }
        let now = Instant::now();
        let deadline = session.poll_timeout();
        if deadline.is_some_and(|d| d <= now) {
            session.handle_timeout(now);
            continue;
        }
        let wait = deadline
            .map_or(MAX_WAIT, |d| d - now)
            .clamp(MIN_WAIT, MAX_WAIT);
        match waiting.receive(socket, &mut receiver, wait)? {
            Heard::Datagrams => {
                for (from, _, data) in receiver.datagrams() {
                    session.handle_datagram(Instant::now(), from, data);
                }
            }
            Heard::Nothing => session.handle_timeout(Instant::now()),
            Heard::Refused => session.handle_refused(Instant::now()),
            Heard::Error => {}
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
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Sends everything the session has queued. The first datagram goes straight
/// from the session's buffer: in lockstep it is the only one, and staging it
/// in the sender would copy every block once more (a 64 KiB `memcpy` per
/// round trip at the largest block size). The rest of a window is staged and
/// sent as one GSO message where the kernel allows.
fn flush<T: TransferSession>(socket: &UdpSocket, session: &mut T, sender: &mut Sender) {
    let Some((to, first)) = session.poll_transmit() else {
        return;
    };
    if let Err(e) = socket.send_to(first, to) {
        // Counted as lost: the session's retransmission covers it.
        tracing::debug!(%to, "send_to: {e}");
    }
    while let Some((to, data)) = session.poll_transmit() {
        sender.push(to, data);
    }
    sender.flush(socket);
}

/// A receive buffer big enough for a GRO batch.
const RECV_BUFFER: usize = 128 * 1024;
