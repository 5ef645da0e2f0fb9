//! One connection served start to finish by the calling thread or process,
//! with blocking reads and writes: the loop the iterative, thread, pool and fork
//! models share. It is the seed's `while True: data = c.recv(1024) ...` loop,
//! plus what a real server needs: timeouts, graceful shutdown, backpressure
//! (read again only after the replies are written) and wake-ups (an eventfd per
//! connection, polled together with the socket, so a session blocked on a
//! silent peer still hears from another thread).

use crate::io::{
    discard, discard_received, gather, send_file, wait_readable, wait_readable_set, InputBuffer,
    LINGER,
};
use crate::listener::{Conn, Listener};
use crate::shutdown::Shutdown;
use crate::wake::WakeQueue;
use crate::Config;
use netkit_proto::{Service, Session};
use nix::errno::Errno;
use nix::sys::socket::{send, MsgFlags};
use std::io;
use std::net::{Shutdown as HowShutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

/// Serves one accepted connection until its session is done, the peer goes
/// away, or a write stalls past the send timeout. Errors are logged, never
/// propagated: one client's failure is not the server's.
pub(crate) fn serve_connection<S: Service>(
    service: &S,
    mut conn: Conn,
    peer: Option<SocketAddr>,
    config: &Config,
    shutdown: &Shutdown,
) {
    let mut session = service.new_session(peer, Instant::now());
    let wakes = match WakeQueue::new() {
        Ok(wakes) => wakes,
        Err(e) => return tracing::warn!(?peer, "eventfd: {e}; connection closed"),
    };
    session.set_waker(wakes.waker(0));
    if let Err(e) = conn.set_write_timeout(Some(config.send_timeout)) {
        tracing::debug!(?peer, "set_write_timeout: {e}");
    }
    // A session that panics (a protocol bug) must cost its own connection
    // only, not the worker thread: a pool whose workers die stops serving
    // everyone while its accept loop goes on queueing.
    let driven = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drive(&mut conn, session, &wakes, shutdown)
    }));
    let Ok(driven) = driven else {
        return tracing::error!(?peer, "session panicked; connection closed");
    };
    match driven {
        Ok(true) => {
            // The peer has sent everything and we read it: a plain close is clean.
            let _ = conn.shutdown(HowShutdown::Write);
        }
        Ok(false) => linger(&mut conn, shutdown),
        Err(e) => tracing::debug!(?peer, "connection ended: {e}"),
    }
}

/// A lingering close. Closing a socket with unread input makes the kernel send
/// a reset, and a reset makes the peer's kernel throw away reply bytes its
/// application has not read yet. So: half-close (the peer reads the reply,
/// then EOF), read and discard until the peer's EOF or [`LINGER`] passes, and
/// only then close. Blocking this connection's own thread is fine here; a
/// stopping server only throws away what has already arrived.
fn linger(conn: &mut Conn, shutdown: &Shutdown) {
    let _ = conn.shutdown(HowShutdown::Write);
    let deadline = Instant::now() + LINGER;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match wait_readable(&[conn.as_fd(), shutdown.fd()], Some(left)) {
            Ok(Some(0)) => {}
            Ok(Some(_)) => {
                if conn.set_nonblocking(true).is_ok() {
                    discard_received(conn);
                }
                return;
            }
            Ok(None) => continue, // timed out or interrupted: the deadline decides
            Err(_) => return,
        }
        if !matches!(discard(conn), Ok(n) if n > 0) {
            return; // EOF or an error: nothing more can arrive
        }
    }
}

/// What the connection waits on; `wait_readable` reports an index into this.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Socket,
    Shutdown,
    Wake,
}

/// Runs the session to its end; returns whether the peer's EOF was seen.
fn drive<S: Session>(
    conn: &mut Conn,
    mut session: S,
    wakes: &WakeQueue,
    shutdown: &Shutdown,
) -> io::Result<bool> {
    let mut input = InputBuffer::new();
    let mut out = Vec::new();
    let mut shutdown_seen = false;
    let mut eof = false;
    let mut woken = Vec::new();
    loop {
        flush(conn, &mut session, &mut out)?;
        if session.is_done() {
            return Ok(eof);
        }
        let reading = session.wants_read() && !eof;
        let timeout = session
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if !reading && timeout.is_none() && shutdown_seen {
            // Nothing can make progress any more: neither input, time nor shutdown
            // (a wake-up after shutdown must not keep the server waiting).
            return Ok(eof);
        }
        if reading && input.wants_reoffer() {
            // Leftover input (a pipelined request) goes in before waiting again.
            input.offer(|data| session.handle_input(Instant::now(), data));
            continue;
        }
        if wakes.is_pending() {
            // Checked here too, so a peer that keeps the socket busy cannot
            // starve wake-ups (poll reports only the first ready descriptor).
            woken.clear();
            wakes.take(&mut woken);
            session.handle_wake(Instant::now());
            continue;
        }
        // The socket only while reading (backpressure), shutdown until seen, and
        // always the wake-ups: a session blocked on a silent peer can still talk.
        let mut sources = [Source::Wake; 3];
        let mut fds = [wakes.fd(); 3];
        let mut n = 0;
        for (on, source, fd) in [
            (reading, Source::Socket, conn.as_fd()),
            (!shutdown_seen, Source::Shutdown, shutdown.fd()),
            (true, Source::Wake, wakes.fd()),
        ] {
            if on {
                (sources[n], fds[n]) = (source, fd);
                n += 1;
            }
        }
        let ready = wait_readable(&fds[..n], timeout)?.map(|i| sources[i]);
        let now = Instant::now();
        match ready {
            Some(Source::Socket) => {
                if input.is_full() {
                    return Err(io::Error::other(
                        "session left a full input buffer unconsumed",
                    ));
                }
                if input.read_and_offer(conn, |data| session.handle_input(now, data))? == 0 {
                    eof = true;
                    session.handle_eof(now);
                }
            }
            Some(Source::Shutdown) => {
                shutdown_seen = true;
                session.handle_shutdown(now);
            }
            Some(Source::Wake) => {
                woken.clear();
                wakes.take(&mut woken);
                session.handle_wake(now);
            }
            None => {
                if session.poll_timeout().is_some_and(|at| at <= now) {
                    session.handle_timeout(now);
                }
            }
        }
    }
}

/// Sends everything the session has to send, in order.
fn flush<S: Session>(conn: &mut Conn, session: &mut S, out: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let chunk = gather(session, out);
        if out.is_empty() && chunk.is_none() {
            return Ok(());
        }
        if !out.is_empty() {
            // MSG_MORE when a file range follows: header and body share a packet.
            send_all(conn, out, chunk.is_some())?;
            out.clear();
        }
        let Some(chunk) = chunk else { continue };
        let mut sent = 0;
        while sent < chunk.len {
            match send_file(&*conn, &chunk, sent)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being sent",
                    ))
                }
                n => sent += n as u64,
            }
        }
    }
}

/// Writes all of `buf` to a blocking socket; `more` says more data follows at
/// once (MSG_MORE). A write that stalls past SO_SNDTIMEO fails with `TimedOut`.
fn send_all(conn: &Conn, mut buf: &[u8], more: bool) -> io::Result<()> {
    let mut flags = MsgFlags::MSG_NOSIGNAL;
    if more {
        flags |= MsgFlags::from_bits_retain(nix::libc::MSG_MORE);
    }
    while !buf.is_empty() {
        match send(conn.as_raw_fd(), buf, flags) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "peer stopped reading",
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Runs `on_conn` for each accepted connection until shutdown starts. The
/// listeners are made non-blocking so a connection that vanishes between poll
/// and accept cannot block the loop; each ready listener gets one accept per
/// wake-up, so a busy one cannot starve the others.
pub(crate) fn accept_loop(
    listeners: &[Listener],
    shutdown: &Shutdown,
    mut on_conn: impl FnMut(Conn, Option<SocketAddr>),
) -> io::Result<()> {
    for listener in listeners {
        listener.set_nonblocking(true)?;
    }
    let mut fds = vec![shutdown.fd()];
    fds.extend(listeners.iter().map(|l| l.as_fd()));
    loop {
        let ready = wait_readable_set(&fds, None)?;
        if shutdown.is_triggered() || ready[0] {
            return Ok(());
        }
        for (listener, _) in listeners.iter().zip(&ready[1..]).filter(|(_, r)| **r) {
            accept_one(listener, &mut on_conn)?;
        }
    }
}

/// One `accept` on a non-blocking listener that poll reported ready; only a
/// broken listener is an error.
pub(crate) fn accept_one(
    listener: &Listener,
    on_conn: &mut impl FnMut(Conn, Option<SocketAddr>),
) -> io::Result<()> {
    match listener.accept() {
        Ok((conn, peer)) => on_conn(conn, peer),
        Err(e) if crate::io::is_transient_accept_error(&e) => {
            if crate::io::is_resource_exhaustion(&e) {
                tracing::warn!("accept: {e}; pausing");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Err(e) => return Err(e),
    }
    Ok(())
}
