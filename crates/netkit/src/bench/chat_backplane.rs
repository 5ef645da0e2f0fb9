//! `netkit bench chat-backplane` (hidden; run by `bench/chat-backplane.sh`):
//! one speaker on the first instance, N listeners spread round-robin over one
//! or more `chat serve` instances (one room, through a backplane or not);
//! deliveries per second and the latency from SAY to MSG (p50, p99).
//!
//! Each SAY carries the time it was sent (µs since the run began, on this
//! process's monotonic clock); each listener notes arrival minus that. The
//! speaker stays at most `--window` messages ahead of the slowest listener.

use anyhow::Result;
use clap::Args;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `netkit bench chat-backplane` flags.
#[derive(Debug, Args)]
pub struct BackplaneBenchArgs {
    /// The instances' UDP addresses, comma-separated (the speaker uses the first).
    #[arg(long, value_delimiter = ',', required = true)]
    udp: Vec<SocketAddr>,
    /// Listeners, spread over the instances.
    #[arg(long, default_value_t = 99)]
    members: usize,
    /// Messages the speaker sends.
    #[arg(long, default_value_t = 5_000)]
    messages: u64,
    /// Messages the speaker may be ahead of the slowest listener.
    #[arg(long, default_value_t = 32)]
    window: u64,
}

/// A member joined as `name`, non-blocking for the measuring loop.
fn join(server: SocketAddr, name: &str) -> Result<UdpSocket> {
    let socket = super::chat_fanout::join(server, name)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Runs the benchmark and prints one result line.
pub fn run(args: BackplaneBenchArgs) -> Result<()> {
    let run = std::process::id();
    let speaker = join(args.udp[0], &format!("s{run}"))?;
    let mut listeners = Vec::new();
    for i in 0..args.members {
        let at = args.udp[i % args.udp.len()];
        listeners.push(join(at, &format!("m{run}_{i}"))?);
    }
    let counts: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.members).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let receiver = {
        let (counts, stop) = (counts.clone(), stop.clone());
        std::thread::spawn(move || receive(&listeners, &counts, &stop, start))
    };
    let slowest = || {
        counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    };
    let mut sent = 0u64;
    let mut progress = (0u64, Instant::now());
    let mut buf = [0u8; 2048];
    while sent < args.messages {
        let low = slowest();
        if low != progress.0 {
            progress = (low, Instant::now());
        } else if progress.1.elapsed() > Duration::from_secs(3) {
            break; // a loss: report what arrived
        }
        if sent - low >= args.window {
            std::thread::yield_now();
            continue;
        }
        let micros = start.elapsed().as_micros();
        match speaker.send(format!("SAY {sent} {micros}").as_bytes()) {
            Ok(_) => sent += 1,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.into()),
        }
        while speaker.recv(&mut buf).is_ok() {}
    }
    let expected = sent * args.members as u64;
    super::chat_fanout::wait_for_deliveries(&counts, expected);
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut latencies, listeners) = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver panicked"))?;
    let _ = speaker.send(b"LEAVE");
    for l in &listeners {
        let _ = l.send(b"LEAVE");
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let total = latencies.len();
    println!(
        "instances={} members={} messages={sent} delivered={total} expected={expected} deliveries_per_sec={:.0} p50_ms={:.3} p99_ms={:.3} seconds={seconds:.3}",
        args.udp.len(),
        args.members,
        total as f64 / seconds,
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}

/// Polls every listener; returns each delivery's latency in µs (and the sockets).
fn receive(
    listeners: &[UdpSocket],
    counts: &[AtomicU64],
    stop: &AtomicBool,
    start: Instant,
) -> (Vec<u64>, Vec<UdpSocket>) {
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let ready = super::chat_fanout::readable(listeners.iter().map(|s| s.as_fd()));
        for i in ready {
            while let Ok(n) = listeners[i].recv(&mut buf) {
                let Some(rest) = buf[..n].strip_prefix(b"MSG s") else {
                    continue;
                };
                let sent_at = std::str::from_utf8(rest)
                    .ok()
                    .and_then(|r| r.rsplit(' ').next())
                    .and_then(|t| t.parse::<u64>().ok());
                if let Some(at) = sent_at {
                    let now = start.elapsed().as_micros() as u64;
                    latencies.push(now.saturating_sub(at));
                    counts[i].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let sockets = listeners
        .iter()
        .filter_map(|s| s.try_clone().ok())
        .collect();
    (latencies, sockets)
}
