//! `netkit relay`: the course's select homework done right — ONE thread
//! multiplexes the listening socket, every client and stdin, and appends each
//! complete line any of them sends to a log file.
//!
//! ```text
//!   listener ─┐                                 ┌ LineAssembler per source
//!   client 1 ─┤  poll(2) ── readable? read once ┤  (netkit_proto::relay)
//!   client n ─┤                                 └─▶ records ─▶ one write_all per
//!   stdin    ─┤                                                 wake-up (O_APPEND)
//!   shutdown ─┘  (SIGINT/SIGTERM self-pipe)
//! ```
//!
//! **Why poll(2), not select(2) or epoll(7).** select's fd_set holds only
//! descriptors below FD_SETSIZE (1024); a server that accepts its 1,021st client
//! must refuse it or corrupt memory. poll takes an array of any size, names each
//! descriptor once, and reports per entry what happened, so rebuilding the set
//! on every wake-up (which keeps the loop stateless and easy to read) costs one
//! small vector. epoll would scale to many thousand idle clients, but a logger
//! with a few dozen sources gains nothing from its kernel-side interest list,
//! and the point of this command is to show the classic loop plainly.
//!
//! Details that make it dependable:
//! - Every source gets its own line assembler, so a client that sends many lines
//!   in one write, or one line across many writes, is logged line by line; an
//!   over-long line is logged in bounded pieces (see `netkit_proto::relay`).
//! - A wake-up reads each ready source once (level-triggered poll will report
//!   the rest next time), so one chatty client cannot starve the others.
//!   Sockets are non-blocking so a spurious readiness can never freeze the loop.
//!   Stdin is read with a plain read(2) after poll says it is readable: making
//!   it non-blocking would change the terminal's open file for the shell too.
//! - Stdin EOF only removes stdin from the set; clients may still come.
//! - On shutdown, the loop keeps reading (and accepting) with a zero timeout
//!   until nothing is ready — for at most [`DRAIN_LIMIT`] — so lines already
//!   sent are not lost; then unterminated tails are logged and the file flushed.

use netkit_proto::relay::{format_record, LineAssembler, LineEnd};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use netkit_drivers::Shutdown;

/// How long shutdown may keep draining sources that are still sending.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How long accepting pauses when the process is out of descriptors, so a
/// level-triggered listener does not spin on the same error.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How many connections one wake-up accepts at most (then the clients get a turn).
const ACCEPT_BATCH: usize = 64;

/// One line source: a client connection or stdin.
struct Source<R> {
    reader: R,
    /// `stdin` or the client's `ip:port`: the record's source field.
    name: String,
    lines: LineAssembler,
}

/// Which descriptor a poll entry stands for.
#[derive(Clone, Copy)]
enum Slot {
    Shutdown,
    /// The listener at this index.
    Listener(usize),
    Stdin,
    Client(usize),
}

/// Serves until `shutdown` fires: accepts clients on every one of
/// `listeners` (`--bind` given more than once; this makes them non-blocking) and logs every line from them and from `stdin` to `log`.
/// Returns an error only if the log cannot be written or polling fails.
pub fn serve<W: Write>(
    listeners: &[TcpListener],
    stdin: Option<File>,
    log: &mut W,
    shutdown: &Shutdown,
) -> io::Result<()> {
    for listener in listeners {
        listener.set_nonblocking(true)?;
    }
    let mut stdin = stdin.map(|reader| Source {
        reader,
        name: "stdin".to_owned(),
        lines: LineAssembler::default(),
    });
    let mut clients: Vec<Source<TcpStream>> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut batch = String::new();
    let mut accept_paused_until: Option<Instant> = None;
    let mut drain_until: Option<Instant> = None;

    loop {
        let now = Instant::now();
        if accept_paused_until.is_some_and(|t| now >= t) {
            accept_paused_until = None;
        }
        let mut slots = Vec::with_capacity(clients.len() + 3);
        let mut fds: Vec<BorrowedFd<'_>> = Vec::with_capacity(clients.len() + 3);
        if drain_until.is_none() {
            slots.push(Slot::Shutdown);
            fds.push(shutdown.fd());
        }
        if accept_paused_until.is_none() {
            for (j, listener) in listeners.iter().enumerate() {
                slots.push(Slot::Listener(j));
                fds.push(listener.as_fd());
            }
        }
        if let Some(s) = &stdin {
            slots.push(Slot::Stdin);
            fds.push(s.reader.as_fd());
        }
        for (i, c) in clients.iter().enumerate() {
            slots.push(Slot::Client(i));
            fds.push(c.reader.as_fd());
        }
        let timeout = if drain_until.is_some() {
            Some(Duration::ZERO)
        } else {
            accept_paused_until.map(|t| t.saturating_duration_since(now))
        };
        let ready = match wait(&fds, timeout)? {
            Some(ready) => ready,
            None => continue, // interrupted by a signal: look again
        };
        drop(fds);
        if drain_until.is_some() && !ready.iter().any(|&r| r) {
            break; // drained: nothing more is waiting to be read
        }

        let mut closed = Vec::new();
        for (slot, _) in slots.iter().zip(&ready).filter(|(_, r)| **r) {
            match *slot {
                Slot::Shutdown => {
                    tracing::info!("shutting down; logging what clients already sent");
                    drain_until = Some(Instant::now() + DRAIN_LIMIT);
                }
                Slot::Listener(j) => {
                    if let Err(pause) = accept_some(&listeners[j], &mut clients) {
                        tracing::warn!("accept: {pause}; pausing");
                        accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    }
                }
                Slot::Stdin => {
                    if let Some(s) = stdin.as_mut() {
                        if !read_once(s, &mut buf, &mut batch) {
                            tracing::info!("stdin closed; still serving clients");
                            stdin = None;
                        }
                    }
                }
                Slot::Client(i) => {
                    if !read_once(&mut clients[i], &mut buf, &mut batch) {
                        tracing::debug!(peer = %clients[i].name, "client left");
                        closed.push(i);
                    }
                }
            }
        }
        // Indices were taken before any removal; remove from the back.
        for i in closed.into_iter().rev() {
            clients.swap_remove(i);
        }
        write_batch(log, &mut batch)?;
        if drain_until.is_some_and(|t| Instant::now() >= t) {
            tracing::warn!("sources still sending after {DRAIN_LIMIT:?}; stopping anyway");
            break;
        }
    }

    for source in stdin.iter_mut() {
        finish(source, &mut batch);
    }
    for client in &mut clients {
        finish(client, &mut batch);
    }
    write_batch(log, &mut batch)
}

/// poll(2) on `fds` for input; `None` when a signal interrupted the wait.
fn wait(fds: &[BorrowedFd<'_>], timeout: Option<Duration>) -> io::Result<Option<Vec<bool>>> {
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(d) => {
            // Round up, so a pause is never woken early and spun on.
            let ms = d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
        }
    };
    match nix::poll::poll(&mut pollfds, timeout) {
        Err(Errno::EINTR) => Ok(None),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(Some(
            pollfds
                .iter()
                .map(|p| {
                    p.revents().is_some_and(|r| {
                        // Hang-up, error and a bad descriptor are "readable": the
                        // read reports them and the source is dropped, rather than
                        // poll returning at once forever.
                        r.intersects(
                            PollFlags::POLLIN
                                | PollFlags::POLLHUP
                                | PollFlags::POLLERR
                                | PollFlags::POLLNVAL,
                        )
                    })
                })
                .collect(),
        )),
    }
}

/// Accepts the connections waiting in the backlog. An error is returned only
/// when accepting should pause (out of descriptors or memory); errors about a
/// single connection are skipped.
fn accept_some(listener: &TcpListener, clients: &mut Vec<Source<TcpStream>>) -> io::Result<()> {
    for _ in 0..ACCEPT_BATCH {
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Err(e) = stream.set_nonblocking(true) {
                    tracing::warn!(%peer, "set_nonblocking: {e}; connection dropped");
                    continue;
                }
                tracing::debug!(%peer, "client connected");
                clients.push(Source {
                    reader: stream,
                    name: peer.to_string(),
                    lines: LineAssembler::default(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                Some(Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM) => {
                    return Err(e)
                }
                _ => tracing::debug!("accept: {e}"),
            },
        }
    }
    Ok(())
}

/// Reads once from a ready source and turns what arrived into records.
/// Returns false when the source is finished (EOF or error); its unterminated
/// tail has then been logged.
fn read_once<R: Read>(source: &mut Source<R>, buf: &mut [u8], batch: &mut String) -> bool {
    match source.reader.read(buf) {
        Ok(0) => {
            finish(source, batch);
            false
        }
        Ok(n) => {
            let at = since_epoch();
            let name = &source.name;
            source.lines.push(&buf[..n], |line, end| {
                batch.push_str(&format_record(at, name, line, end))
            });
            true
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            true
        }
        Err(e) => {
            tracing::debug!(source = %source.name, "read: {e}");
            finish(source, batch);
            false
        }
    }
}

/// Logs a finished source's unterminated last line, if it has one.
fn finish<R>(source: &mut Source<R>, batch: &mut String) {
    let at = since_epoch();
    let name = &source.name;
    source.lines.finish(|line, end: LineEnd| {
        batch.push_str(&format_record(at, name, line, end));
    });
}

/// Appends the records gathered during one wake-up with a single write.
fn write_batch<W: Write>(log: &mut W, batch: &mut String) -> io::Result<()> {
    if !batch.is_empty() {
        log.write_all(batch.as_bytes())?;
        log.flush()?;
        batch.clear();
    }
    Ok(())
}

fn since_epoch() -> Duration {
    // A clock before 1970 is logged as the epoch rather than failing the line.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::OwnedFd;

    /// Lines sent before shutdown — complete, partial, from a client and from
    /// stdin — are all in the log once serve returns.
    #[test]
    fn shutdown_drains_and_flushes_partial_lines() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (stdin_r, mut stdin_w) = io::pipe().unwrap();
        let stdin = File::from(OwnedFd::from(stdin_r));
        let shutdown = Shutdown::new().unwrap();
        let server = {
            let shutdown = shutdown.clone();
            std::thread::spawn(move || {
                let mut log = Vec::new();
                serve(
                    std::slice::from_ref(&listener),
                    Some(stdin),
                    &mut log,
                    &shutdown,
                )
                .map(|()| log)
            })
        };
        let mut client = TcpStream::connect(addr).unwrap();
        let me = client.local_addr().unwrap().to_string();
        client.write_all(b"one\ntwo\nunfinished").unwrap();
        stdin_w.write_all(b"from stdin\n\x1b[31mred").unwrap();
        drop(stdin_w);
        // On loopback, written bytes are queued at the server before write
        // returns: shutdown arriving now must still find and log them.
        shutdown.trigger();
        let log = String::from_utf8(server.join().unwrap().unwrap()).unwrap();
        let records: Vec<(&str, &str)> = log
            .lines()
            .map(|l| {
                let mut parts = l.splitn(3, ' ');
                let ts = parts.next().unwrap();
                assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
                (parts.next().unwrap(), parts.next().unwrap())
            })
            .collect();
        let from = |src: &str| -> Vec<&str> {
            records
                .iter()
                .filter(|(s, _)| *s == src)
                .map(|(_, t)| *t)
                .collect()
        };
        assert_eq!(from(&me), ["one", "two", "unfinished"], "{log}");
        assert_eq!(from("stdin"), ["from stdin", "\\u{1b}[31mred"], "{log}");
        drop(client);
    }
}
