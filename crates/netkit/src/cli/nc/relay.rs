//! Relaying between stdin/stdout and a socket: a stream (TCP, Unix) with a
//! half-close when stdin ends, and UDP datagrams (one per stdin line) until
//! stdin has ended and the peer has been quiet for a while.

use anyhow::{Context, Result};
use socket2::Socket;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The largest UDP payload (65,535 minus the IP and UDP headers).
pub(super) const MAX_DATAGRAM: usize = 65_507;

/// How often the UDP receiver looks whether stdin has ended.
const UDP_TICK: Duration = Duration::from_millis(100);

/// Copies stdin to `sock` on a thread, and `sock` to stdout here, until the
/// peer closes.
pub(super) fn relay_stream(sock: Socket, idle: Option<Duration>) -> Result<()> {
    let writer = sock.try_clone().context("duplicating the socket")?;
    // Detached on purpose: if the peer closes first we exit without waiting for stdin.
    std::thread::spawn(move || {
        if let Err(e) = copy_flushed(&mut io::stdin().lock(), &mut &writer) {
            tracing::debug!("stdin to socket: {e}");
        }
        // End of stdin (or a write error): the peer reads EOF, may still answer.
        let _ = writer.shutdown(Shutdown::Write);
    });
    // -w: a connection idle for that long ends (as nc's).
    sock.set_read_timeout(idle)
        .context("setting the idle timeout")?;
    match copy_flushed(&mut &sock, &mut io::stdout().lock()) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        other => other.map(|_| ()).context("reading from the socket"),
    }
}

/// Copies until EOF, flushing after every chunk so an interactive peer sees
/// each line at once.
pub(super) fn copy_flushed(from: &mut impl Read, to: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        to.flush()?;
        total += n as u64;
    }
}

/// Sends stdin as datagrams on a thread; prints replies until stdin has ended
/// and the peer has been quiet for `wait`.
/// `sock` is connected to `addr` (it receives only from it, and learns of
/// ICMP refusals).
pub(super) fn relay_udp(sock: UdpSocket, addr: SocketAddr, wait: Duration) -> Result<()> {
    let sender = sock.try_clone().context("duplicating the socket")?;
    let (stdin_done, stdin_ended) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(e) = send_lines(&sender) {
            tracing::warn!("stdin to udp: {e}");
        }
        let _ = stdin_done.send(());
    });

    let mut stdout = io::stdout().lock();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut quiet_since: Option<Instant> = None; // set once stdin has ended
    let (mut received, mut refused) = (false, false);
    loop {
        if quiet_since.is_none() && stdin_ended.try_recv().is_ok() {
            quiet_since = Some(Instant::now());
        }
        let timeout = match quiet_since {
            None => UDP_TICK,
            Some(since) => match wait.checked_sub(since.elapsed()) {
                Some(left) if !left.is_zero() => left,
                _ => break,
            },
        };
        sock.set_read_timeout(Some(timeout))?;
        match sock.recv(&mut buf) {
            Ok(n) => {
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
                received = true;
                quiet_since = quiet_since.map(|_| Instant::now());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // An ICMP "port unreachable" for an earlier datagram; UDP goes on regardless.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => refused = true,
            Err(e) => return Err(e).context("receiving from the socket"),
        }
    }
    anyhow::ensure!(
        received || !refused,
        "{addr} refused the datagrams (nothing listens on that udp port)"
    );
    Ok(())
}

/// One datagram per stdin line (newline included); a line too long for one
/// datagram is cut into datagrams of the largest size.
fn send_lines(sock: &UdpSocket) -> io::Result<()> {
    send_lines_with(|line| sock.send(line))
}

/// Each stdin line (as in `send_lines`) handed to `send`.
pub(super) fn send_lines_with(mut send: impl FnMut(&[u8]) -> io::Result<usize>) -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut line = Vec::with_capacity(MAX_DATAGRAM);
    loop {
        line.clear();
        if (&mut stdin)
            .take(MAX_DATAGRAM as u64)
            .read_until(b'\n', &mut line)?
            == 0
        {
            return Ok(());
        }
        match send(&line) {
            Ok(_) => {}
            // The refusal of an earlier datagram, reported on this send: the
            // receiving side counts refusals; this datagram is simply lost.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
}
