//! `netkit nc`: a small netcat — stdin to the socket, the socket to stdout —
//! that also takes netcat-openbsd's own forms.
//!
//! ```text
//! netkit nc ADDR [--udp | --unix]      the original form (host alone: port 7007)
//! netkit nc HOST PORT                  connect (-u UDP, -U PATH a Unix socket)
//! netkit nc -l [HOST] PORT             listen for one client, then exit (-k: keep on)
//! netkit nc -z HOST PORT|LOW-HIGH      scan: exit 0 when a port is open, 1 when none is
//! ```
//!
//! The seed's TCP and UDP clients, made into a tool. Over a stream (TCP or a
//! Unix socket) two flows run at once, one per thread: stdin → socket and
//! socket → stdout. When stdin ends, the socket's *write half* is shut down (a
//! TCP FIN; netcat's `-N`, always on here): the peer sees end of input but can
//! still answer, and we exit once it closes its side and every byte it sent is
//! on stdout. This half-close is what makes `nc host port < request > reply` work.
//!
//! UDP has no connection and no end: each stdin line (or each read, for input
//! without newlines) is one datagram, each datagram from the peer is written to
//! stdout, and after stdin ends we wait until the peer has been quiet for
//! `-w` (default 1 s). `-v` reports on stderr as nc does (`Listening on IP
//! PORT`, `Connection to HOST PORT port [tcp/*] succeeded!`), so a script (or a
//! test) can listen on port 0 and read the port.

mod listen;
mod relay;
mod scan;

use super::common::resolve;
use super::values::usage_error;
use anyhow::{Context, Result};
use clap::error::ErrorKind;
use socket2::Socket;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// How long a UDP relay waits for replies after stdin ends, unless `-w`.
const UDP_WAIT: Duration = Duration::from_secs(1);

/// `netkit nc` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Forms: nc ADDR | nc HOST PORT | nc -l [HOST] PORT | nc -U PATH | \
                        nc -z HOST PORT (or LOW-HIGH). ADDR is host:port; host alone uses the echo port, 7007."
)]
pub struct NcArgs {
    /// `host:port` (`host` alone uses the echo port, 7007), `HOST PORT`, with -l
    /// `[HOST] PORT`, with -U the socket path, with -z `HOST PORT` or `HOST LOW-HIGH`.
    #[arg(value_name = "ADDR | HOST PORT", num_args = 1..=2, required = true)]
    target: Vec<String>,
    /// UDP: stdin lines as datagrams, the datagrams that come back printed.
    #[arg(long, short = 'u', conflicts_with = "unix")]
    udp: bool,
    /// The target is the path of a Unix stream socket.
    #[arg(long, short = 'U')]
    unix: bool,
    /// Listen for one client (TCP, UDP with -u, a Unix socket with -U), relay, then exit.
    #[arg(long, short = 'l')]
    listen: bool,
    /// With -l: after a client leaves, wait for the next one.
    #[arg(long = "keep-open", short = 'k', requires = "listen")]
    keep_open: bool,
    /// Scan: only see whether each port is open (exit 0 when one is, 1 when none is).
    #[arg(long, short = 'z', conflicts_with_all = ["listen", "unix"])]
    scan: bool,
    /// Report on stderr: the listening address, each connection, each scanned port.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Time limit: for connecting and for an idle connection; with -u, how long
    /// replies are awaited after stdin ends (default 1s): 1s, 500ms, …
    #[arg(long, short = 'w', value_name = "DURATION", value_parser = super::values::duration)]
    wait: Option<Duration>,
    /// Shut the write side of the socket down when stdin ends (always done;
    /// accepted for netcat's scripts).
    #[arg(short = 'N', long = "shutdown")]
    shutdown: bool,
}

/// Runs the command.
pub fn run(args: NcArgs) -> Result<()> {
    // -N is what every stream relay here does anyway.
    let _ = args.shutdown;
    if args.listen {
        return listen::run(&args);
    }
    if args.scan {
        return scan::run(&args);
    }
    if args.unix {
        let [path] = args.target.as_slice() else {
            usage("-U takes one socket path");
        };
        let stream = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to unix socket {path}"))?;
        if args.verbose {
            eprintln!("Connection to {path} succeeded!");
        }
        return relay::relay_stream(Socket::from(stream), args.wait);
    }
    let addr = target(&args.target)?;
    if args.udp {
        let local: SocketAddr = if addr.is_ipv4() {
            "0.0.0.0:0".parse()?
        } else {
            "[::]:0".parse()?
        };
        let sock = UdpSocket::bind(local).context("binding a udp socket")?;
        sock.connect(addr)
            .with_context(|| format!("cannot reach {addr}"))?;
        if args.verbose {
            eprintln!(
                "Connection to {} {} port [udp/*] succeeded!",
                addr.ip(),
                addr.port()
            );
        }
        return relay::relay_udp(sock, addr, args.wait.unwrap_or(UDP_WAIT));
    }
    let stream = match args.wait {
        Some(limit) => TcpStream::connect_timeout(&addr, limit),
        None => TcpStream::connect(addr),
    }
    .with_context(|| format!("cannot connect to {addr}"))?;
    if args.verbose {
        eprintln!(
            "Connection to {} {} port [tcp/*] succeeded!",
            addr.ip(),
            addr.port()
        );
    }
    relay::relay_stream(Socket::from(stream), args.wait)
}

/// The address to connect to: `ADDR` (host alone: port 7007) or `HOST PORT`.
fn target(target: &[String]) -> Result<SocketAddr> {
    match target {
        [addr] => resolve(addr, super::echo::DEFAULT_PORT),
        [host, port] => host_port(host, port),
        _ => usage("give ADDR or HOST PORT"),
    }
}

/// A usage error of `netkit nc` (exit 2, with its usage line).
fn usage(message: &str) -> ! {
    usage_error(&["nc"], ErrorKind::InvalidValue, message)
}

/// `HOST PORT` as netcat takes them (an IPv6 host without brackets too).
fn host_port(host: &str, port: &str) -> Result<SocketAddr> {
    let Ok(port) = port.parse::<u16>() else {
        usage(&format!("{port:?} is not a port number"));
    };
    Ok(SocketAddr::new(resolve_host(host)?, port))
}

/// A host name or address (IPv6 with or without brackets).
fn resolve_host(host: &str) -> Result<std::net::IpAddr> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok((host, 0)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve '{host}'"))?
        .next()
        .with_context(|| format!("'{host}' has no address"))?
        .ip())
}
