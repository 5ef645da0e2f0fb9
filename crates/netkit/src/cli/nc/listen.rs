//! `nc -l [HOST] PORT`: listen, relay with the one client that comes, exit
//! when it leaves — or with `-k`, wait for the next one (stdin then goes to
//! whichever client is connected). TCP by default, UDP with `-u` (the first
//! datagram's sender is the peer; with `-k` replies go to the latest
//! sender), a Unix socket with `-U PATH` (the socket file is removed at the end).
//! `-v` prints `Listening on IP PORT` (UDP: `Bound on IP PORT`) once ready,
//! then `Connection received on IP PORT` for each client.

use super::relay::{copy_flushed, relay_stream, relay_udp, send_lines_with, MAX_DATAGRAM};
use super::{host_port, NcArgs, UDP_WAIT};
use anyhow::{Context, Result};
use socket2::Socket;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a `-k` connection's writer looks whether its client left.
const WRITER_TICK: Duration = Duration::from_millis(100);

/// Runs `nc -l`.
pub(super) fn run(args: &NcArgs) -> Result<()> {
    if args.unix {
        let [path] = args.target.as_slice() else {
            super::usage("-l -U takes one socket path");
        };
        return unix(args, PathBuf::from(path));
    }
    let addr = match args.target.as_slice() {
        [port] if port.parse::<u16>().is_ok() => host_port("0.0.0.0", port)?,
        [addr] => super::target(std::slice::from_ref(addr))?,
        [host, port] => host_port(host, port)?,
        _ => super::usage("give [HOST] PORT"),
    };
    if args.udp {
        return udp(args, addr);
    }
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    if args.verbose {
        eprintln!("Listening on {} {}", local.ip(), local.port());
    }
    let stdin = args.keep_open.then(stdin_chunks);
    loop {
        let (stream, peer) = listener.accept().context("accepting a connection")?;
        if args.verbose {
            eprintln!("Connection received on {} {}", peer.ip(), peer.port());
        }
        let sock = Socket::from(stream);
        match &stdin {
            None => return relay_stream(sock, args.wait),
            Some(chunks) => relay_shared(sock, chunks)?,
        }
    }
}

/// `nc -l -U PATH`.
fn unix(args: &NcArgs, path: PathBuf) -> Result<()> {
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot listen on unix socket {}", path.display()))?;
    let _remove = RemoveOnDrop(path.clone());
    if args.verbose {
        eprintln!("Bound on {}", path.display());
    }
    let stdin = args.keep_open.then(stdin_chunks);
    loop {
        let (stream, _) = listener.accept().context("accepting a connection")?;
        if args.verbose {
            eprintln!("Connection received on {}", path.display());
        }
        let sock = Socket::from(stream);
        match &stdin {
            None => return relay_stream(sock, args.wait),
            Some(chunks) => relay_shared(sock, chunks)?,
        }
    }
}

/// Removes the socket file this process bound.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `nc -l -u`: the first datagram's sender is the peer.
fn udp(args: &NcArgs, addr: SocketAddr) -> Result<()> {
    let sock = UdpSocket::bind(addr).with_context(|| format!("cannot listen on udp {addr}"))?;
    let local = sock.local_addr()?;
    if args.verbose {
        eprintln!("Bound on {} {}", local.ip(), local.port());
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let (n, peer) = sock.recv_from(&mut buf).context("receiving")?;
    if args.verbose {
        eprintln!("Connection received on {} {}", peer.ip(), peer.port());
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(&buf[..n])?;
    stdout.flush()?;
    drop(stdout);
    if !args.keep_open {
        sock.connect(peer)
            .with_context(|| format!("cannot reach {peer}"))?;
        return relay_udp(sock, peer, args.wait.unwrap_or(UDP_WAIT));
    }
    // -k: anyone may send; stdin goes to the latest sender. Until killed.
    let last = Arc::new(Mutex::new(peer));
    let sender = sock.try_clone()?;
    let to = last.clone();
    std::thread::spawn(move || {
        let _ = send_lines_to(&sender, &to);
    });
    loop {
        let (n, from) = sock.recv_from(&mut buf).context("receiving")?;
        if let Ok(mut l) = last.lock() {
            *l = from;
        }
        let mut stdout = io::stdout().lock();
        stdout.write_all(&buf[..n])?;
        stdout.flush()?;
    }
}

/// Each stdin line as a datagram to whoever sent last.
fn send_lines_to(sock: &UdpSocket, to: &Mutex<SocketAddr>) -> io::Result<()> {
    send_lines_with(|line| {
        let peer = *to.lock().unwrap_or_else(|e| e.into_inner());
        sock.send_to(line, peer)
    })
}

/// Reads stdin on a thread, in chunks, for whichever `-k` client is
/// connected (a bounded queue: stdin waits while no client reads).
fn stdin_chunks() -> Arc<Mutex<Receiver<Vec<u8>>>> {
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(16);
    std::thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return, // dropping tx tells the writers
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Arc::new(Mutex::new(rx))
}

/// One `-k` client: its bytes to stdout until it closes; stdin's chunks to
/// it meanwhile (its write side shut down once stdin has ended).
fn relay_shared(sock: Socket, chunks: &Arc<Mutex<Receiver<Vec<u8>>>>) -> Result<()> {
    let writer = sock.try_clone().context("duplicating the socket")?;
    let done = Arc::new(AtomicBool::new(false));
    let (chunks, finished) = (chunks.clone(), done.clone());
    let handle = std::thread::spawn(move || {
        let rx = chunks.lock().unwrap_or_else(|e| e.into_inner());
        while !finished.load(Ordering::Relaxed) {
            match rx.recv_timeout(WRITER_TICK) {
                Ok(chunk) => {
                    if (&writer).write_all(&chunk).is_err() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = writer.shutdown(Shutdown::Write);
                    return;
                }
            }
        }
    });
    let read = copy_flushed(&mut &sock, &mut io::stdout().lock());
    done.store(true, Ordering::Relaxed);
    let _ = handle.join();
    if let Err(e) = read {
        tracing::debug!("a client's connection: {e}");
    }
    Ok(())
}
