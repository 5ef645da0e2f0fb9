//! `netkit broadcast send|listen`: UDP broadcast, the seed's lesson on
//! `SO_BROADCAST`.
//!
//! A datagram sent to a broadcast address (255.255.255.255, or a subnet's
//! x.x.x.255, or 127.255.255.255 on loopback) reaches every host on the link,
//! and on each host *every* socket bound to the port. The kernel refuses to send
//! one unless the socket has opted in with `SO_BROADCAST` — a guard against
//! flooding a network by mistake. Listeners set `SO_REUSEADDR` and
//! `SO_REUSEPORT` so several of them on one host can share the port; each gets
//! its own copy of every broadcast.
//!
//! A datagram's text comes from whoever sent it, so `listen` escapes control
//! characters before they reach a terminal.

use super::common::{announce, shutdown_on_signals};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

/// The largest UDP payload (65,535 minus the IP and UDP headers).
const MAX_DATAGRAM: usize = 65_507;

/// `netkit broadcast …`
#[derive(Debug, Subcommand)]
pub enum BroadcastCommand {
    /// Broadcast MSG as UDP datagrams.
    Send(SendArgs),
    /// Print each datagram received on a port, with its sender.
    Listen(ListenArgs),
}

/// `netkit broadcast send` flags.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Destination port.
    #[arg(short = 'p', long)]
    port: u16,
    /// The message.
    msg: String,
    /// Broadcast address (or any address) to send to.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::BROADCAST))]
    to: IpAddr,
    /// How many datagrams to send.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Time between datagrams: 1s, 250ms, … (a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = super::values::duration)]
    interval: Duration,
}

/// `netkit broadcast listen` flags.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Port to listen on (0 picks a free one, shown in the ready line).
    #[arg(short = 'p', long)]
    port: u16,
    /// Address to bind; broadcasts arrive only on a wildcard or broadcast address.
    #[arg(short = 'b', long, default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    bind: IpAddr,
    /// Print one JSON object per datagram: {"from": "ip:port", "message": "…"}.
    #[arg(long)]
    json: bool,
}

/// Runs a `broadcast` command.
pub fn run(cmd: BroadcastCommand) -> Result<()> {
    match cmd {
        BroadcastCommand::Send(args) => send(args),
        BroadcastCommand::Listen(args) => listen(args),
    }
}

fn send(args: SendArgs) -> Result<()> {
    let to = SocketAddr::new(args.to, args.port);
    let sock = Socket::new(Domain::for_address(to), Type::DGRAM, Some(Protocol::UDP))
        .context("creating a udp socket")?;
    // Without this the kernel answers EACCES to a broadcast destination.
    sock.set_broadcast(true).context("setting SO_BROADCAST")?;
    for i in 0..args.count {
        if i > 0 {
            std::thread::sleep(args.interval);
        }
        sock.send_to(args.msg.as_bytes(), &to.into())
            .with_context(|| format!("cannot send to {to}"))?;
    }
    tracing::info!("sent {} datagram(s) to {to}", args.count);
    Ok(())
}

fn listen(args: ListenArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let addr = SocketAddr::new(args.bind, args.port);
    let sock = shared_socket(addr).with_context(|| format!("cannot bind udp {addr}"))?;
    announce("broadcast", &format!("udp://{}", sock.local_addr()?))?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut stdout = io::stdout().lock();
    while !shutdown.is_triggered() {
        let mut fds = [
            PollFd::new(sock.as_fd(), PollFlags::POLLIN),
            PollFd::new(shutdown.fd(), PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).context("waiting for datagrams"),
        }
        // Drain what is queued (bounded), then look at shutdown again.
        for _ in 0..64 {
            let (n, from) = match sock.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("receiving a datagram"),
            };
            let line = if args.json {
                json_line(from, &buf[..n])
            } else {
                format!("{from} {}", printable(&buf[..n]))
            };
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
        }
    }
    Ok(())
}

/// A non-blocking UDP socket on `addr` that other listeners may share.
fn shared_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_address(true)?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

/// The datagram as one line of text: invalid UTF-8 becomes U+FFFD, one trailing
/// newline is dropped, and control or direction-changing characters are
/// escaped (`\n`, `\u{1b}`), so a hostile sender cannot drive the terminal.
fn printable(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_format_char(c) => {
                let _ = write!(out, "{}", c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out
}

/// Invisible characters that reorder or hide text on a terminal (bidi
/// overrides, zero-width characters).
fn is_format_char(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `{"from":"ip:port","message":"…"}` — the message decoded as lossy UTF-8
/// and escaped as JSON requires (which also makes it safe on a terminal).
fn json_line(from: SocketAddr, data: &[u8]) -> String {
    let mut out = format!("{{\"from\":\"{from}\",\"message\":\"");
    for c in String::from_utf8_lossy(data).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_format_char(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push_str("\"}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_what_could_drive_a_terminal() {
        assert_eq!(printable(b"hello\n"), "hello");
        assert_eq!(printable(b"a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable(b"x\ny\\"), "x\\ny\\\\");
        assert_eq!(printable("\u{202e}abc".as_bytes()), "\\u{202e}abc");
        assert_eq!(printable(b"\xff ok"), "\u{fffd} ok");
        assert_eq!(printable("héllo".as_bytes()), "héllo");
    }

    #[test]
    fn json_line_is_escaped() {
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            json_line(from, b"say \"hi\"\x07\n"),
            r#"{"from":"127.0.0.1:9","message":"say \"hi\"\u0007\n"}"#
        );
    }
}
