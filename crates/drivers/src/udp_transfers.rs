//! A UDP loop for services that answer each request from a fresh socket (TFTP:
//! the server's port for a transfer is its transfer ID).
//!
//! ```text
//!   listening socket ──▶ poll(listener, shutdown) ─▶ recvmmsg: up to 32 requests
//!                                                    ─▶ service.handle_request
//!                                                    │ refused: its ERROR goes out
//!                                                    │ from a fresh socket, done
//!                                                    ▼
//!                       a scoped thread per transfer, on its own socket:
//!                         loop { send what the session queued;
//!                                recv (SO_RCVTIMEO = time to its deadline)
//!                                  → handle_datagram | handle_timeout }
//!                         until the session is done; the socket closes with it
//! ```
//!
//! Why a thread per transfer rather than one readiness loop: TFTP in lockstep
//! is one round trip per block, so per-block cost is latency. A blocking
//! `recv` with a receive timeout is two system calls per block (recv, send); a
//! readiness loop is three (poll, recv, send), which is what tftpd-hpa pays. The
//! receive timeout is re-armed only when the session's deadline moves by more
//! than an eighth, so steady transfers do not pay a `setsockopt` per block.
//!
//! Nothing leaks: every session reaches done (completion, an ERROR, or its
//! retry cap), and its thread ends with it. Threads are scoped, so `serve`
//! returns only when all of them have. On shutdown the listening socket is no
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

mod batch;
mod listen;

pub use batch::Batcher;

use crate::io::wait_readable;
use crate::shutdown::Tracker;
use crate::udp_recv::{grow_receive_buffer, sockaddr, RecvBatch};
use crate::Shutdown;
use listen::{enable_pktinfo, BATCHES_PER_WAKE, LISTEN_BUFFER, REQUEST_BATCH, REQUEST_SLOT};
use netkit_proto::{TransferService, TransferSession};
use nix::sys::socket::MsgFlags;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Transfers running at once.
pub const MAX_TRANSFERS: usize = 1024;

/// The longest a transfer thread waits without looking at the stop flag.
pub const MAX_WAIT: Duration = Duration::from_millis(500);

/// The shortest receive timeout (zero would mean "block forever").
const MIN_WAIT: Duration = Duration::from_millis(1);

/// Socket buffers asked for (the kernel caps them at its maximum): a window
/// of large blocks must fit.
const SOCKET_BUFFER: usize = 4 << 20;

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
    // On a wildcard address, learn which address each request was sent to, so
    // the transfer answers from it (a multi-homed server would otherwise answer
    // from whatever address routing picks, and clients ignore that).
    let pktinfo = local_ip.is_unspecified() && enable_pktinfo(listener, local_ip);
    grow_receive_buffer(listener, LISTEN_BUFFER);
    let mut requests = RecvBatch::new(REQUEST_BATCH, REQUEST_SLOT, pktinfo);
    let tracker = Arc::new(Tracker::default());
    let active = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let result = (|| -> io::Result<()> {
            while !shutdown.is_triggered() {
                if wait_readable(&[listener.as_fd(), shutdown.fd()], None)? != Some(0) {
                    continue;
                }
                for _ in 0..BATCHES_PER_WAKE {
                    let count = match requests.recv(listener) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::debug!("recvmmsg: {e}");
                            break;
                        }
                    };
                    for (from, to, data) in requests.datagrams() {
                        if active.load(Ordering::Acquire) >= MAX_TRANSFERS {
                            tracing::warn!(peer = %from, "too many transfers; request dropped");
                            continue;
                        }
                        let Some(session) = service.handle_request(Instant::now(), from, data)
                        else {
                            continue;
                        };
                        let Some((socket, session)) = start(to.unwrap_or(local_ip), from, session)
                        else {
                            continue;
                        };
                        let guard = tracker.enter();
                        active.fetch_add(1, Ordering::AcqRel);
                        let (active, stop) = (&active, &stop);
                        let spawned = std::thread::Builder::new()
                            .name("tftp-transfer".into())
                            .stack_size(256 * 1024)
                            .spawn_scoped(scope, move || {
                                run_transfer(&socket, session, stop);
                                active.fetch_sub(1, Ordering::AcqRel);
                                drop(guard);
                            });
                        if let Err(e) = spawned {
                            // The closure (socket, session, guard) was dropped with the error.
                            active.fetch_sub(1, Ordering::AcqRel);
                            tracing::warn!("cannot start a transfer thread: {e}");
                        }
                    }
                    if count < REQUEST_BATCH {
                        break;
                    }
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
    if session.largest_datagram().is_none() {
        enable_gro(&socket);
    }
    tracing::debug!(%peer, port = ?socket.local_addr().ok(), "new transfer");
    flush(&socket, &mut session, &mut Batcher::default());
    (!session.is_done()).then_some((socket, session))
}

/// One transfer, on its own thread, until the session is done or `stop`.
fn run_transfer<T: TransferSession>(socket: &UdpSocket, mut session: T, stop: &AtomicBool) {
    // Sized to what the session must hear whole (see `largest_datagram`).
    let mut buf = vec![0u8; session.largest_datagram().unwrap_or(RECV_BUFFER)];
    let mut batch = Batcher::default();
    let mut waiting = Waiting::default();
    loop {
        flush(socket, &mut session, &mut batch);
        if session.is_done() || stop.load(Ordering::Acquire) {
            return;
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
        let received = receive_or_time_out(
            socket,
            &mut buf,
            &mut waiting,
            wait,
            &mut session,
            |s, from, d| s.handle_datagram(Instant::now(), from, d),
            |s| s.handle_timeout(Instant::now()),
        );
        if let Err(e) = received {
            tracing::debug!("transfer ends: {e}");
            return;
        }
    }
}

/// How one transfer waits for its peer: the read timeout armed on its socket,
/// and whether polling before sleeping has been paying off.
///
/// In lockstep the peer's next datagram is often only microseconds away, and
/// on a virtual machine putting an idle CPU to sleep and waking it costs more
/// than that — per block, on the critical path (measured: blksize 1468 over
/// loopback 2.5× faster with the poll). So a wait first polls the socket
/// without blocking for up to [`SPIN`]; a wait where that came to nothing
/// turns polling off for the next [`SPIN_PAUSE`] waits, so a slow peer (a
/// real network, a busy client) costs at most [`SPIN`] of CPU per
/// [`SPIN_PAUSE`] blocks.
#[derive(Debug, Default)]
pub struct Waiting {
    armed: Option<Duration>,
    /// Waits left before polling is tried again.
    spin_pause: u32,
}

/// How long a wait polls before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// Waits without polling after a poll that came to nothing.
const SPIN_PAUSE: u32 = 16;

impl Waiting {
    /// Polls for up to [`SPIN`] if polling pays off: whether a datagram came
    /// (an error only for a refused peer, see [`receive_or_time_out`]).
    fn poll_first(
        &mut self,
        socket: &UdpSocket,
        buf: &mut [u8],
        mut each: impl FnMut(SocketAddr, &[u8]),
    ) -> io::Result<bool> {
        if self.spin_pause > 0 {
            self.spin_pause -= 1;
            return Ok(false);
        }
        let until = Instant::now() + SPIN;
        loop {
            match recv_datagrams_with(socket, buf, MsgFlags::MSG_DONTWAIT, &mut each) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < until => {
                    std::hint::spin_loop();
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(e),
                Err(_) => {
                    self.spin_pause = SPIN_PAUSE;
                    return Ok(false);
                }
            }
        }
    }
}

/// Waits up to `wait` for datagrams on `socket` and hands each to
/// `on_datagram`, or calls `on_timeout` when none came; polls briefly before
/// it sleeps (see [`Waiting`]). The socket's read timeout is re-set only when
/// it would oversleep by more than an eighth or wake before half of `wait`
/// has passed. Fails when the read timeout cannot be set, and with
/// `ConnectionRefused` when the kernel reports an ICMP port unreachable for
/// an earlier send (only on a socket with `IP_RECVERR` or a connected one);
/// EINTR and other errors are logged and left to the transfer's own timeout.
pub fn receive_or_time_out<S>(
    socket: &UdpSocket,
    buf: &mut [u8],
    waiting: &mut Waiting,
    wait: Duration,
    state: &mut S,
    mut on_datagram: impl FnMut(&mut S, SocketAddr, &[u8]),
    on_timeout: impl FnOnce(&mut S),
) -> io::Result<()> {
    if waiting.poll_first(socket, buf, |from, d| on_datagram(state, from, d))? {
        return Ok(());
    }
    if waiting
        .armed
        .is_none_or(|a| a > wait + wait / 8 || a < wait / 2)
    {
        socket.set_read_timeout(Some(wait))?;
        waiting.armed = Some(wait);
    }
    match recv_datagrams(socket, buf, |from, d| on_datagram(state, from, d)) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            on_timeout(state)
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => return Err(e),
        Err(e) => tracing::debug!("transfer recv_from: {e}"),
    }
    Ok(())
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
/// in the batcher would copy every block once more (a 64 KiB `memcpy` per
/// round trip at the largest block size). The rest of a window is batched.
fn flush<T: TransferSession>(socket: &UdpSocket, session: &mut T, batch: &mut Batcher) {
    let Some((to, first)) = session.poll_transmit() else {
        return;
    };
    if let Err(e) = socket.send_to(first, to) {
        // Counted as lost: the session's retransmission covers it.
        tracing::debug!(%to, "send_to: {e}");
    }
    while let Some((to, data)) = session.poll_transmit() {
        batch.push(socket, to, data);
    }
    batch.flush(socket);
}

/// Asks the kernel to hand over runs of datagrams from one sender as one
/// buffer (UDP GRO), which [`recv_datagrams`] splits again. Best effort.
pub fn enable_gro(socket: &UdpSocket) {
    let _ = nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::UdpGroSegment, &true);
}

/// A receive buffer big enough for a GRO batch.
pub const RECV_BUFFER: usize = 128 * 1024;

/// Receives one datagram (or one GRO batch of them, split back into
/// datagrams) and calls `each` for every datagram. Blocks as the socket does
/// (its read timeout gives `WouldBlock`).
pub fn recv_datagrams(
    socket: &UdpSocket,
    buf: &mut [u8],
    each: impl FnMut(SocketAddr, &[u8]),
) -> io::Result<()> {
    recv_datagrams_with(socket, buf, MsgFlags::empty(), each)
}

fn recv_datagrams_with(
    socket: &UdpSocket,
    buf: &mut [u8],
    flags: MsgFlags,
    mut each: impl FnMut(SocketAddr, &[u8]),
) -> io::Result<()> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, SockaddrStorage};
    use std::os::fd::AsRawFd;
    let mut cmsg = nix::cmsg_space!(i32);
    let (n, from, seg) = {
        let mut iov = [io::IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut cmsg), flags)?;
        let mut seg = None;
        for c in msg.cmsgs().into_iter().flatten() {
            if let ControlMessageOwned::UdpGroSegments(s) = c {
                seg = usize::try_from(s).ok().filter(|&s| s > 0);
            }
        }
        let from = msg.address.and_then(|a| sockaddr(&a));
        (msg.bytes, from, seg)
    };
    let Some(from) = from else {
        return Ok(());
    };
    match seg {
        Some(seg) if n > seg => buf[..n].chunks(seg).for_each(|d| each(from, d)),
        _ => each(from, &buf[..n]),
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    #[test]
    fn polling_before_sleeping_pauses_after_a_miss() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = socket.local_addr().unwrap();
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut waiting = Waiting::default();
        let mut got = Vec::new();
        peer.send_to(b"ack", to).unwrap();
        assert!(waiting
            .poll_first(&socket, &mut buf, |_, d| got.push(d.to_vec()))
            .unwrap());
        assert_eq!(
            got,
            [b"ack".to_vec()],
            "a queued datagram is taken by the poll"
        );
        assert!(!waiting
            .poll_first(&socket, &mut buf, |_, d| got.push(d.to_vec()))
            .unwrap());
        // After that miss, the next waits sleep at once, even with data there.
        peer.send_to(b"late", to).unwrap();
        for _ in 0..SPIN_PAUSE {
            assert!(!waiting
                .poll_first(&socket, &mut buf, |_, d| got.push(d.to_vec()))
                .unwrap());
        }
        assert_eq!(got.len(), 1);
        assert!(waiting
            .poll_first(&socket, &mut buf, |_, d| got.push(d.to_vec()))
            .unwrap());
        assert_eq!(got[1], b"late");
    }

    use super::*;

    fn received(socket: &UdpSocket, want: usize) -> Vec<Vec<u8>> {
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut got = Vec::new();
        while got.len() < want {
            recv_datagrams(socket, &mut buf, |_, d| got.push(d.to_vec())).expect("a datagram");
        }
        got
    }

    #[test]
    fn batches_arrive_as_the_datagrams_sent() {
        for gro in [false, true] {
            let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
            if gro {
                enable_gro(&rx);
            }
            let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
            let to = rx.local_addr().unwrap();
            let other = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut sent: Vec<Vec<u8>> = (0..70u8).map(|i| vec![i; 100]).collect();
            sent.push(vec![200; 7]); // a short one ends the run
            sent.push(vec![201; 100]);
            sent.push(Vec::new());
            let mut batch = Batcher::default();
            for d in &sent {
                batch.push(&tx, to, d);
            }
            batch.push(&tx, other.local_addr().unwrap(), b"elsewhere");
            batch.flush(&tx);
            assert_eq!(received(&rx, sent.len()), sent, "gro {gro}");
            assert_eq!(received(&other, 1), vec![b"elsewhere".to_vec()]);
        }
    }
}
