//! `netkit nc ADDR [--udp | --unix]`: a small netcat — stdin to the socket, the
//! socket to stdout.
//!
//! The seed's TCP and UDP clients, made into a tool. Over a stream (TCP or a Unix
//! socket) two flows run at once, one per thread: stdin → socket and socket →
//! stdout. When stdin ends, the socket's *write half* is shut down (a TCP FIN):
//! the peer sees end of input but can still answer, and we exit once it closes
//! its side and every byte it sent is on stdout. This half-close is what makes
//! `nc host port < request > reply` work.
//!
//! UDP has no connection and no end: each stdin line (or each read, for input
//! without newlines) is one datagram, each datagram from ADDR is written to stdout,
//! and after stdin ends we wait until the peer has been quiet for `--wait` seconds.

use super::common::resolve;
use anyhow::{Context, Result};
use socket2::Socket;
use std::io::{self, BufRead, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The largest UDP payload (65,535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// How often the UDP receiver looks whether stdin has ended.
const UDP_TICK: Duration = Duration::from_millis(100);

/// `netkit nc` arguments.
#[derive(Debug, clap::Args)]
pub struct NcArgs {
    /// `host:port` (`host` alone uses the echo port, 7007), or a socket path with --unix.
    #[arg(value_name = "ADDR")]
    addr: String,
    /// Send stdin as UDP datagrams (one per line) and print the datagrams that come back.
    #[arg(long, conflicts_with = "unix")]
    udp: bool,
    /// ADDR is the path of a Unix stream socket.
    #[arg(long)]
    unix: bool,
    /// With --udp: after stdin ends, keep printing replies until none has arrived
    /// for this long (like `nc -w`): 1s, 500ms, …
    #[arg(long, short = 'w', value_name = "DURATION", default_value = "1s", value_parser = super::values::duration)]
    wait: Duration,
}

/// Runs the command.
pub fn run(args: NcArgs) -> Result<()> {
    if args.unix {
        let stream = UnixStream::connect(&args.addr)
            .with_context(|| format!("cannot connect to unix socket {}", args.addr))?;
        return relay_stream(Socket::from(stream));
    }
    let addr = resolve(&args.addr, super::echo::DEFAULT_PORT)?;
    if args.udp {
        return relay_udp(addr, args.wait);
    }
    let stream = TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
    relay_stream(Socket::from(stream))
}

/// Copies stdin to `sock` on a thread, and `sock` to stdout here, until the
/// peer closes.
fn relay_stream(sock: Socket) -> Result<()> {
    let writer = sock.try_clone().context("duplicating the socket")?;
    // Detached on purpose: if the peer closes first we exit without waiting for stdin.
    std::thread::spawn(move || {
        if let Err(e) = copy_flushed(&mut io::stdin().lock(), &mut &writer) {
            tracing::debug!("stdin to socket: {e}");
        }
        // End of stdin (or a write error): the peer reads EOF, may still answer.
        let _ = writer.shutdown(Shutdown::Write);
    });
    copy_flushed(&mut &sock, &mut io::stdout().lock()).context("reading from the socket")?;
    Ok(())
}

/// Copies until EOF, flushing after every chunk so an interactive peer sees
/// each line at once.
fn copy_flushed(from: &mut impl Read, to: &mut impl Write) -> io::Result<u64> {
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
fn relay_udp(addr: SocketAddr, wait: Duration) -> Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let sock = UdpSocket::bind(local).context("binding a udp socket")?;
    // A connected UDP socket receives only from ADDR, and learns of ICMP refusals.
    sock.connect(addr)
        .with_context(|| format!("cannot reach {addr}"))?;
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
        match sock.send(&line) {
            Ok(_) => {}
            // The refusal of an earlier datagram, reported on this send: the
            // receiving side counts refusals; this datagram is simply lost.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => return Err(e),
        }
    }
}
