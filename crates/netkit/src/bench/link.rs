//! One load connection's bytes: the non-blocking socket itself (`http://`,
//! `tcp://`), or rustls over it (`https://`), driven sans-IO: rustls takes the
//! ciphertext this side reads and hands back what to write, so the worker's
//! edge-triggered loop stays as it is.
//!
//! The plain path is one predictable branch per `read`/`write`. Under TLS:
//! - a request is written into rustls whole (it buffers it during the
//!   handshake) and counts as sent only once rustls' output reached the socket;
//! - every read first pushes out what rustls still holds (the handshake's
//!   next flight), then decrypts what arrived.

use rustls::{ClientConnection, HandshakeKind};
use std::io::{self, Read, Write};
use std::net::TcpStream;

/// A socket, with TLS when the target is `https://`.
pub(crate) struct Link {
    pub(crate) socket: TcpStream,
    tls: Option<Box<Tls>>,
}

struct Tls {
    conn: ClientConnection,
    /// The handshake's completion was counted.
    counted: bool,
}

impl Link {
    pub(crate) fn plain(socket: TcpStream) -> Link {
        Link { socket, tls: None }
    }

    pub(crate) fn tls(socket: TcpStream, conn: ClientConnection) -> Link {
        Link {
            socket,
            tls: Some(Box::new(Tls {
                conn,
                counted: false,
            })),
        }
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Takes bytes of the request: `WouldBlock` when none fit now.
    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return self.socket.write(buf);
        };
        // Bound what rustls holds: older bytes reach the socket first.
        if !push(&mut tls.conn, &mut self.socket)? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = tls.conn.writer().write(buf)?;
        push(&mut tls.conn, &mut self.socket)?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Whether everything written so far has reached the socket.
    pub(crate) fn flushed(&mut self) -> io::Result<bool> {
        match self.tls.as_mut() {
            None => Ok(true),
            Some(tls) => push(&mut tls.conn, &mut self.socket),
        }
    }

    /// Reads reply bytes (plaintext); `Ok(0)` at the end of the stream.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = self.tls.as_mut() else {
            return self.socket.read(buf);
        };
        let conn = &mut tls.conn;
        push(conn, &mut self.socket)?;
        loop {
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n), // 0: the server's close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: an end all the same, as for HTTP.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if conn.read_tls(&mut self.socket)? == 0 {
                return Ok(0);
            }
            if let Err(e) = conn.process_new_packets() {
                // Tell the server why (the alert rustls queued), best effort.
                let _ = conn.write_tls(&mut self.socket);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // The handshake's next flight, or the request it was holding.
            push(conn, &mut self.socket)?;
        }
    }

    /// Once per connection, when its TLS handshake has completed: whether
    /// it resumed an earlier session.
    pub(crate) fn handshake_done(&mut self) -> Option<bool> {
        match self.tls.as_mut() {
            Some(tls) if !tls.counted && !tls.conn.is_handshaking() => {
                tls.counted = true;
                Some(tls.conn.handshake_kind() == Some(HandshakeKind::Resumed))
            }
            _ => None,
        }
    }
}

/// Writes what rustls holds until it is empty (true) or the socket is full.
fn push(conn: &mut ClientConnection, socket: &mut TcpStream) -> io::Result<bool> {
    while conn.wants_write() {
        match conn.write_tls(socket) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Whether `e` is a TLS failure (a refused certificate, a bad record), not a
/// broken connection.
pub(crate) fn is_tls_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|e| e.is::<rustls::Error>())
}
