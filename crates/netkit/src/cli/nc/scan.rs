//! `nc -z HOST PORT` (or a range, `20-25`): is anything listening? Exit 0
//! when at least one port is open, 1 when none is. TCP: a connection that
//! succeeds (closed at once, nothing sent). UDP (`-u`): an empty datagram
//! that draws no ICMP "port unreachable" within the wait counts as open, as
//! netcat counts it. `-v` prints a line per port, as netcat-openbsd does.

use super::{resolve_host, NcArgs};
use anyhow::{bail, Context, Result};
use std::io;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::ops::RangeInclusive;
use std::time::Duration;

/// How long a TCP connect may take without `-w` (loopback answers at once).
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

/// How long a UDP probe waits for a refusal without `-w`.
const UDP_PROBE: Duration = Duration::from_secs(1);

/// Runs `nc -z`.
pub(super) fn run(args: &NcArgs) -> Result<()> {
    let (host, ports) = match args.target.as_slice() {
        [host, ports] => (host.as_str(), ports.as_str()),
        [addr] => match addr.rsplit_once(':') {
            Some((host, ports)) => (host, ports),
            None => super::usage("-z takes HOST PORT (or HOST LOW-HIGH)"),
        },
        _ => super::usage("-z takes HOST PORT (or HOST LOW-HIGH)"),
    };
    let range = port_range(ports).unwrap_or_else(|e| super::usage(&e.to_string()));
    let ip = resolve_host(host)?;
    let proto = if args.udp { "udp" } else { "tcp" };
    let mut open = 0;
    for port in range.clone() {
        let addr = SocketAddr::new(ip, port);
        let result = if args.udp {
            probe_udp(addr, args.wait.unwrap_or(UDP_PROBE))
        } else {
            TcpStream::connect_timeout(&addr, args.wait.unwrap_or(CONNECT_LIMIT)).map(drop)
        };
        match result {
            Ok(()) => {
                open += 1;
                if args.verbose {
                    eprintln!("Connection to {host} {port} port [{proto}/*] succeeded!");
                }
            }
            Err(e) if args.verbose => {
                eprintln!("netkit: connect to {host} port {port} ({proto}) failed: {e}");
            }
            Err(_) => {}
        }
    }
    if open > 0 {
        return Ok(());
    }
    if args.verbose {
        // Each port has had its line already.
        std::process::exit(1);
    }
    let (low, high) = (range.start(), range.end());
    if low == high {
        bail!("{host} port {low} ({proto}) is not open");
    }
    bail!("no port from {low} to {high} on {host} ({proto}) is open");
}

/// `25` or `20-25`.
fn port_range(text: &str) -> Result<RangeInclusive<u16>> {
    let parse = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("{p:?} is not a port number"))
    };
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (parse(low)?, parse(high)?),
        None => (parse(text)?, parse(text)?),
    };
    if low > high {
        bail!("the port range {text} runs backwards");
    }
    Ok(low..=high)
}

/// An empty datagram; open unless an ICMP refusal comes back within `wait`.
fn probe_udp(addr: SocketAddr, wait: Duration) -> io::Result<()> {
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local)?;
    sock.connect(addr)?;
    sock.send(&[])?;
    sock.set_read_timeout(Some(wait))?;
    let mut buf = [0u8; 1];
    match sock.recv(&mut buf) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_ranges() {
        assert_eq!(port_range("22").unwrap(), 22..=22);
        assert_eq!(port_range("20-25").unwrap(), 20..=25);
        for bad in ["0", "25-20", "x", "1-", "70000", ""] {
            assert!(port_range(bad).is_err(), "{bad}");
        }
    }
}
