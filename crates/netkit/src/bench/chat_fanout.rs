//! `netkit bench chat-fanout` (hidden; run by `bench/chat-fanout.sh`): one
//! speaker, N listeners, count deliveries per second — through a netkit chat
//! room over UDP, or through redis-server PUBLISH/SUBSCRIBE over TCP, measured
//! by the same code so the two figures compare.
//!
//! The speaker keeps at most `--window` messages ahead of the slowest listener
//! ("as fast as the server accepts" without overrunning socket buffers); one
//! thread polls every listener socket and counts. With `--pace N` the speaker
//! instead sends N messages per second (to check that nobody misses a message
//! at the default flood limit).

use crate::cli::common::resolve;
use anyhow::{bail, Context, Result};
use clap::Args;
use netkit_drivers::udp::recv::{enable_gro, Receiver, Wait};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `netkit bench chat-fanout` flags.
#[derive(Debug, Args)]
pub struct FanoutArgs {
    /// A netkit chat room (host:port, UDP).
    #[arg(long, conflicts_with = "redis", required_unless_present = "redis")]
    udp: Option<String>,
    /// A redis-server (host:port, TCP): PUBLISH to SUBSCRIBErs instead.
    #[arg(long)]
    redis: Option<String>,
    /// Listeners.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Messages the speaker sends.
    #[arg(long, default_value_t = 10_000)]
    messages: u64,
    /// Messages the speaker may be ahead of the slowest listener.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Send this many messages per second instead of as fast as possible.
    #[arg(long)]
    pace: Option<f64>,
    /// UDP listeners read one datagram per call (no UDP GRO batches).
    #[arg(long)]
    no_gro: bool,
}

/// One listener socket, either kind.
enum Listener {
    Udp(UdpSocket),
    Redis(TcpStream, Vec<u8>),
}

/// The speaker's connection.
enum Speaker {
    Udp(UdpSocket),
    Redis(TcpStream),
}

const NEEDLE: &[u8] = b"\r\nmessage\r\n";

/// Runs the benchmark and prints one result line.
pub fn run(args: FanoutArgs) -> Result<()> {
    let (listeners, mut speaker) = match (&args.udp, &args.redis) {
        (Some(addr), _) => setup_udp(
            resolve(addr, crate::cli::chat::DEFAULT_PORT)?,
            args.members,
            !args.no_gro,
        )?,
        (_, Some(addr)) => setup_redis(resolve(addr, 6379)?, args.members)?,
        _ => bail!("give --udp ADDR or --redis ADDR"),
    };
    let counts: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.members).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let (c, s) = (counts.clone(), stop.clone());
    let receiver = std::thread::spawn(move || receive(listeners, &c, &s));

    let start = Instant::now();
    let min = || {
        counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let mut last_progress = (0u64, Instant::now());
    let mut sent = 0u64;
    let mut scratch = Vec::new();
    while sent < args.messages {
        let slowest = min();
        if slowest != last_progress.0 {
            last_progress = (slowest, Instant::now());
        } else if last_progress.1.elapsed() > Duration::from_secs(3) {
            break; // a loss: report what arrived
        }
        let ready = match args.pace {
            Some(rate) => start.elapsed().as_secs_f64() * rate >= sent as f64,
            None => sent - slowest < args.window,
        };
        if !ready {
            std::thread::yield_now();
            continue;
        }
        speak(&mut speaker, sent, &mut scratch)?;
        sent += 1;
    }
    let expected = sent * args.members as u64;
    let total = wait_for_deliveries(&counts, expected);
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    if let Ok(listeners) = receiver.join() {
        leave(&speaker, &listeners);
    }
    let missed = (0..args.members)
        .filter(|i| counts[*i].load(Ordering::Relaxed) < sent)
        .count();
    println!(
        "deliveries_per_sec={:.0} delivered={total} expected={expected} members={} messages={sent} members_missing_messages={missed} seconds={seconds:.3}",
        total as f64 / seconds,
        args.members,
    );
    Ok(())
}

/// A measuring member: a UDP socket joined to the room at `server` as `name`
/// (blocking, with a 5 s read timeout).
pub(super) fn join(server: SocketAddr, name: &str) -> Result<UdpSocket> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(1 << 20);
    socket.connect(server)?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Padded so that an error (a name left over from another run) is heard.
    socket.send(format!("JOIN {name:<40}").as_bytes())?;
    let mut buf = [0u8; 65_536];
    loop {
        let n = socket.recv(&mut buf).context("no answer to JOIN")?;
        if buf[..n].starts_with(b"OK ") {
            // Confirm the address with a second datagram: only then does
            // the room send this member anything (its list first).
            socket.send(b"PING")?;
            while socket.recv(&mut buf).context("no PONG")? != 4 || &buf[..4] != b"PONG" {}
            return Ok(socket);
        }
        if buf[..n].starts_with(b"ERR") {
            bail!("JOIN {name}: {}", String::from_utf8_lossy(&buf[..n]));
        }
    }
}

fn setup_udp(server: SocketAddr, members: usize, gro: bool) -> Result<(Vec<Listener>, Speaker)> {
    let join = |name: &str| join(server, name);
    // Names unique to this run: an earlier run's members may still be in the room.
    let run = std::process::id();
    let speaker = join(&format!("s{run}"))?;
    let mut listeners = Vec::new();
    for i in 0..members {
        let socket = join(&format!("m{run}_{i}"))?;
        socket.set_nonblocking(true)?;
        if gro {
            // A GSO batch from the server arrives whole, the UDP counterpart
            // of a Redis subscriber reading many messages with one read.
            enable_gro(&socket);
        }
        listeners.push(Listener::Udp(socket));
    }
    // Drain the JOINED notices the speaker received.
    speaker.set_nonblocking(true)?;
    let mut buf = [0u8; 2048];
    while speaker.recv(&mut buf).is_ok() {}
    Ok((listeners, Speaker::Udp(speaker)))
}

fn setup_redis(server: SocketAddr, members: usize) -> Result<(Vec<Listener>, Speaker)> {
    let mut listeners = Vec::new();
    for _ in 0..members {
        let mut stream = TcpStream::connect(server).context("connecting to redis")?;
        stream.write_all(b"SUBSCRIBE netkit\r\n")?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b":1\r\n") {
            let n = stream.read(&mut buf).context("no SUBSCRIBE answer")?;
            if n == 0 {
                bail!("redis closed the connection");
            }
            got.extend_from_slice(&buf[..n]);
        }
        stream.set_nonblocking(true)?;
        listeners.push(Listener::Redis(stream, Vec::new()));
    }
    let speaker = TcpStream::connect(server)?;
    speaker.set_nodelay(true)?;
    speaker.set_nonblocking(true)?;
    Ok((listeners, Speaker::Redis(speaker)))
}

fn speak(speaker: &mut Speaker, seq: u64, scratch: &mut Vec<u8>) -> Result<()> {
    match speaker {
        Speaker::Udp(socket) => {
            let msg = format!("SAY {seq}");
            loop {
                match socket.send(msg.as_bytes()) {
                    Ok(_) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::yield_now()
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            // Errors (rate-limited) and notices are not counted; keep the buffer empty.
            let mut buf = [0u8; 2048];
            while socket.recv(&mut buf).is_ok() {}
        }
        Speaker::Redis(stream) => {
            let msg = format!("PUBLISH netkit {seq}\r\n");
            let mut data = msg.as_bytes();
            while !data.is_empty() {
                match stream.write(data) {
                    Ok(n) => data = &data[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::yield_now()
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            scratch.resize(4096, 0);
            while matches!(stream.read(scratch), Ok(n) if n > 0) {}
        }
    }
    Ok(())
}

/// UDP members leave, so the room is empty for the next run.
fn leave(speaker: &Speaker, listeners: &[Listener]) {
    if let Speaker::Udp(socket) = speaker {
        let _ = socket.send(b"LEAVE");
    }
    for l in listeners {
        if let Listener::Udp(socket) = l {
            let _ = socket.send(b"LEAVE");
        }
    }
}

fn receive(mut listeners: Vec<Listener>, counts: &[AtomicU64], stop: &AtomicBool) -> Vec<Listener> {
    let mut buf = vec![0u8; 65_536];
    // One datagram or GRO batch per call, cut back into datagrams.
    let mut udp = Receiver::new(1, 65_536, false, true);
    while !stop.load(Ordering::Relaxed) {
        let ready = readable(listeners.iter().map(|l| match l {
            Listener::Udp(s) => s.as_fd(),
            Listener::Redis(s, _) => s.as_fd(),
        }));
        for i in ready {
            match &mut listeners[i] {
                Listener::Udp(socket) => {
                    // One call takes a whole GRO batch; each datagram in it counts.
                    while udp.recv(socket, Wait::No).is_ok() {
                        let found = udp
                            .datagrams()
                            .filter(|(_, _, d)| d.starts_with(b"MSG s"))
                            .count();
                        counts[i].fetch_add(found as u64, Ordering::Relaxed);
                    }
                }
                Listener::Redis(stream, tail) => {
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        // Count frames across read boundaries: keep the last bytes.
                        tail.extend_from_slice(&buf[..n]);
                        let found = tail.windows(NEEDLE.len()).filter(|w| *w == NEEDLE).count();
                        counts[i].fetch_add(found as u64, Ordering::Relaxed);
                        let keep = tail.len().min(NEEDLE.len() - 1);
                        tail.drain(..tail.len() - keep);
                    }
                }
            }
        }
    }
    listeners
}

/// Waits until the counters add up to `expected` deliveries, or until they
/// stop moving for 2 s (a lost datagram must not hang the bench); returns
/// the total counted.
pub(super) fn wait_for_deliveries(counts: &[AtomicU64], expected: u64) -> u64 {
    let mut seen = (0u64, Instant::now());
    loop {
        let total: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        if total >= expected {
            return total;
        }
        if total != seen.0 {
            seen = (total, Instant::now());
        } else if seen.1.elapsed() > Duration::from_secs(2) {
            return total;
        }
        std::thread::yield_now();
    }
}

/// Waits up to 100 ms for any of `fds` to be readable; the indexes of those
/// that are (none on a timeout or an interrupted wait).
pub(super) fn readable<'a>(fds: impl Iterator<Item = BorrowedFd<'a>>) -> Vec<usize> {
    let mut polled: Vec<PollFd<'_>> = fds.map(|fd| PollFd::new(fd, PollFlags::POLLIN)).collect();
    if nix::poll::poll(&mut polled, PollTimeout::from(100u16)).is_err() {
        return Vec::new();
    }
    polled
        .iter()
        .enumerate()
        .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
        .map(|(i, _)| i)
        .collect()
}
