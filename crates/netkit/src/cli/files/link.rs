//! The bytes under a files client: the socket read through one large buffer,
//! or TLS over it (`--tls`, `--cacert`, `--fingerprint`, `--insecure`).
//!
//! An enum, not a trait object: the plain path stays a `BufReader<TcpStream>`
//! with one predictable branch per call (calls move up to a megabyte each),
//! and keeps its socket for `sendfile(2)`.

use crate::cli::common::resolve;
use crate::tls::client::{Connector, TlsClientArgs, TlsStream};
use anyhow::{Context, Result};
use netkit_proto::files::DEFAULT_PORT;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Bytes read per system call on the plain path.
const BUF_SIZE: usize = 1 << 20;

/// A server to (re)connect to: its address and, with a TLS flag, how.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    tls: Option<Connector>,
}

impl Target {
    /// `addr` over plain TCP.
    pub(crate) fn plain(addr: SocketAddr) -> Target {
        Target { addr, tls: None }
    }

    /// `host[:port]` (default port 8888) and the command's TLS flags.
    pub(crate) fn new(addr: &str, tls: &TlsClientArgs) -> Result<Target> {
        Ok(Target {
            addr: resolve(addr, DEFAULT_PORT)?,
            tls: tls.connector(addr)?,
        })
    }

    /// Connects (and runs the TLS handshake, if any).
    pub(crate) fn connect(&self, reply_timeout: Duration) -> Result<Link> {
        let addr = self.addr;
        let stream =
            TcpStream::connect(addr).with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(reply_timeout))?;
        Ok(match &self.tls {
            None => Link::Plain(BufReader::with_capacity(BUF_SIZE, stream)),
            Some(tls) => Link::Tls(Box::new(tls.handshake(stream, addr)?)),
        })
    }
}

/// One connection's bytes, plaintext either way.
#[derive(Debug)]
pub(crate) enum Link {
    Plain(BufReader<TcpStream>),
    Tls(Box<TlsStream>),
}

impl Link {
    /// The socket, when bytes may go to it directly (not under TLS).
    pub(crate) fn plain_socket(&self) -> Option<&TcpStream> {
        match self {
            Link::Plain(r) => Some(r.get_ref()),
            Link::Tls(_) => None,
        }
    }
}

impl Read for Link {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Link::Plain(r) => r.read(buf),
            Link::Tls(s) => s.read(buf),
        }
    }
}

impl BufRead for Link {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Link::Plain(r) => r.fill_buf(),
            Link::Tls(s) => s.fill_buf(),
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Link::Plain(r) => r.consume(amt),
            Link::Tls(s) => s.consume(amt),
        }
    }
}

impl Write for Link {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Link::Plain(r) => r.get_mut().write(buf),
            Link::Tls(s) => s.write(buf),
        }
    }

    /// Under TLS, sends what rustls still holds (a command must leave now).
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Link::Plain(_) => Ok(()),
            Link::Tls(s) => s.flush(),
        }
    }
}
