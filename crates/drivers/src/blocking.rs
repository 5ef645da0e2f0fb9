//! One connection served start to finish by the calling thread or process,
//! with blocking reads and writes: the loop the iterative, thread, pool and fork
//! models share. It is the seed's `while True: data = c.recv(1024) ...` loop,
//! plus the three things a real server needs: timeouts, graceful shutdown and
//! backpressure (read again only after the replies are written).

use crate::io::{send_file, wait_readable, InputBuffer};
use crate::listener::{Conn, Listener};
use crate::shutdown::Shutdown;
use crate::Config;
use netkit_proto::{Service, Session};
use std::io::{self, Write};
use std::net::{Shutdown as HowShutdown, SocketAddr};
use std::os::fd::AsFd;
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
    let session = service.new_session(peer, Instant::now());
    if let Err(e) = conn.set_write_timeout(Some(config.send_timeout)) {
        tracing::debug!(?peer, "set_write_timeout: {e}");
    }
    match drive(&mut conn, session, shutdown) {
        Ok(()) => {
            // Half-close first so the peer reads everything before it sees EOF.
            let _ = conn.shutdown(HowShutdown::Write);
        }
        Err(e) => tracing::debug!(?peer, "connection ended: {e}"),
    }
}

fn drive<S: Session>(conn: &mut Conn, mut session: S, shutdown: &Shutdown) -> io::Result<()> {
    let mut input = InputBuffer::new();
    let mut out = Vec::new();
    let mut shutdown_seen = false;
    let mut eof = false;
    loop {
        flush(conn, &mut session, &mut out)?;
        if session.is_done() {
            return Ok(());
        }
        let reading = session.wants_read() && !eof;
        let timeout = session
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()));
        if !reading && timeout.is_none() && shutdown_seen {
            // Nothing can make progress any more: neither input, time nor shutdown.
            return Ok(());
        }
        let fds: Vec<_> = reading
            .then(|| conn.as_fd())
            .into_iter()
            .chain((!shutdown_seen).then(|| shutdown.fd()))
            .collect();
        let ready = wait_readable(&fds, timeout)?;
        let now = Instant::now();
        match ready {
            Some(0) if reading => {
                if input.is_full() {
                    return Err(io::Error::other(
                        "session left a full input buffer unconsumed",
                    ));
                }
                if input.read_from(conn)? == 0 {
                    eof = true;
                    session.handle_eof(now);
                } else {
                    let used = session.handle_input(now, input.data());
                    input.consume(used);
                }
            }
            Some(_) => {
                shutdown_seen = true;
                session.handle_shutdown(now);
            }
            None => session.handle_timeout(now),
        }
    }
}

/// Sends everything the session has to send, in order.
fn flush<S: Session>(conn: &mut Conn, session: &mut S, out: &mut Vec<u8>) -> io::Result<()> {
    loop {
        let chunk = session.poll_transmit(out);
        if !out.is_empty() {
            conn.write_all(out)?;
            out.clear();
        }
        let Some(chunk) = chunk else { return Ok(()) };
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

/// Runs `on_conn` for each accepted connection until shutdown starts. The
/// listener is made non-blocking so a connection that vanishes between poll and
/// accept cannot block the loop.
pub(crate) fn accept_loop(
    listener: &Listener,
    shutdown: &Shutdown,
    mut on_conn: impl FnMut(Conn, Option<SocketAddr>),
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    loop {
        let ready = wait_readable(&[listener.as_fd(), shutdown.fd()], None)?;
        if shutdown.is_triggered() || ready == Some(1) {
            return Ok(());
        }
        if ready.is_none() {
            continue;
        }
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
    }
}
