//! `netkit chat join ADDR NAME`: a member of a UDP chat room at the terminal.
//!
//! As in the seed, sending and receiving are separate: this thread reads stdin
//! and sends (`/who` asks for the members, `/quit` or end of input leaves), a
//! receiving thread prints what arrives and keeps the membership alive with a
//! PING every 20 s. When nothing at all has come back for two PINGs in a row,
//! the server is taken for dead and the client exits with status 1; when the
//! server says it is shutting down, the client leaves at once (status 0).
//!
//! What others send is printed with its control characters (and text-direction
//! overrides) escaped, as `\u{1b}`: the server already replaces them, and this
//! is a second wall against a server that does not.

use super::DEFAULT_PORT;
use crate::cli::common::resolve;
use crate::cli::values::{addr, positive_duration};
use anyhow::{bail, Context, Result};
use clap::Args;
use netkit_proto::chat::wire::{valid_name, ErrorReason, Reply, Request, SHUTTING_DOWN};
use std::borrow::Cow;
use std::io::{BufRead, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests are padded to this many bytes so that the server may answer an
/// error before we have joined (it never sends an unjoined address more bytes
/// than it received).
const PAD_TO: usize = 48;

/// How many times JOIN is sent (a second apart) before giving up.
const JOIN_TRIES: u32 = 5;

/// `netkit chat join` arguments.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The room: host:port (host alone: port 9999).
    #[arg(value_parser = addr)]
    addr: String,
    /// Your name: 1-32 characters, no spaces.
    #[arg(value_parser = name)]
    name: String,
    /// Time between heartbeats (tests shorten it).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = positive_duration, hide = true)]
    ping_interval: Duration,
}

/// A member name the room accepts.
fn name(s: &str) -> Result<String, String> {
    if valid_name(s) {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not a valid name (1-32 characters; no spaces, control characters or , * ? ! @; not starting with : # &)"))
    }
}

/// Runs `netkit chat join`.
pub fn run(args: JoinArgs) -> Result<()> {
    let server = resolve(&args.addr, DEFAULT_PORT)?;
    let interval = args.ping_interval;
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    let socket = UdpSocket::bind(local).context("binding a UDP socket")?;
    socket
        .connect(server)
        .with_context(|| format!("cannot reach {server}"))?;
    join(&socket, &args.name, server)?;

    let last_heard = Arc::new(Mutex::new(Instant::now()));
    let receiver = socket.try_clone()?;
    let heard = last_heard.clone();
    std::thread::spawn(move || receive(&receiver, &heard, interval, server));

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let request = match line.trim_end() {
            "" => continue,
            "/quit" => break,
            "/who" => Request::Who,
            _ => Request::Say(&line),
        };
        send(&socket, &request).with_context(|| format!("sending to the room at {server}"))?;
    }
    send(&socket, &Request::Leave).with_context(|| format!("sending to the room at {server}"))?;
    Ok(())
}

fn send(socket: &UdpSocket, request: &Request<'_>) -> Result<()> {
    let mut data = Vec::new();
    request.emit(&mut data);
    if !matches!(request, Request::Say(_)) && data.len() < PAD_TO {
        data.resize(PAD_TO, b' ');
    }
    socket.send(&data)?;
    Ok(())
}

/// Sends JOIN until the server answers OK (or refuses).
fn join(socket: &UdpSocket, name: &str, server: SocketAddr) -> Result<()> {
    socket.set_read_timeout(Some(Duration::from_secs(1)))?;
    let mut buf = vec![0u8; 65_536];
    let mut limited = false;
    for _ in 0..JOIN_TRIES {
        // The socket is connected: an ICMP "port unreachable" for this JOIN
        // comes back as ECONNREFUSED on the send or on the next receive.
        match send(socket, &Request::Join(name)) {
            Err(e) if refused(&e) => {
                bail!("{server}: connection refused (no chat room on that port)")
            }
            other => other?,
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let n = match socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    bail!("{server}: connection refused (no chat room on that port)")
                }
                Err(_) => break,
            };
            match Reply::parse(&buf[..n]) {
                Ok(Reply::Ok(members)) => {
                    // A new member's OK names itself alone; the member list
                    // and the history follow our next datagram.
                    let others: Vec<Cow<'_, str>> = members
                        .iter()
                        .filter(|m| **m != name)
                        .map(|m| printable(m))
                        .collect();
                    if others.is_empty() {
                        say(&format!("joined as {name}"));
                    } else {
                        say(&format!("joined as {name}; members: {}", others.join(", ")));
                    }
                    send(socket, &Request::Ping)?;
                    return Ok(());
                }
                Ok(Reply::Err(ErrorReason::NameTaken)) => {
                    bail!("the name {name} is taken (or looks like a member's name)")
                }
                Ok(Reply::Err(ErrorReason::BadName)) => {
                    bail!("{name:?} is not a valid name (1-32 characters, no spaces)")
                }
                // Too many joins from this address: the bucket refills, try again.
                Ok(Reply::Err(ErrorReason::RateLimited)) => limited = true,
                _ => {}
            }
        }
    }
    if limited {
        bail!("the room at {server} refuses joins from this address for now (too many joins); try again later")
    }
    bail!("no answer from {server}")
}

/// Whether a socket error is an ICMP "port unreachable" (nobody listens).
fn refused(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// `text` as it may be printed on a terminal: control characters and
/// text-direction overrides escaped (`\u{1b}`), so nothing a member sends can
/// move the cursor, retitle the terminal or fake a line.
fn printable(text: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Prints a line on stdout; a closed stdout ends the client quietly.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        std::process::exit(0);
    }
}

/// The receiving task: print, PING every `interval`, notice a dead server.
fn receive(
    socket: &UdpSocket,
    last_heard: &Mutex<Instant>,
    interval: Duration,
    server: SocketAddr,
) {
    let mut buf = vec![0u8; 65_536];
    let mut next_ping = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if now >= next_ping {
            let silent = last_heard.lock().map_or(Duration::ZERO, |t| t.elapsed());
            if silent > interval * 2 {
                eprintln!(
                    "netkit: the room at {server} stopped answering (nothing for {:.0} s)",
                    silent.as_secs_f64()
                );
                std::process::exit(1);
            }
            let _ = send(socket, &Request::Ping);
            next_ping = now + interval;
        }
        let wait = next_ping.saturating_duration_since(Instant::now());
        let _ = socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
        let n = match socket.recv(&mut buf) {
            Ok(n) => n,
            // Timeouts, and ICMP "refused" while the server is down: keep counting.
            Err(_) => continue,
        };
        if let Ok(mut t) = last_heard.lock() {
            *t = Instant::now();
        }
        let p = printable;
        match Reply::parse(&buf[..n]) {
            Ok(Reply::Msg { name, text }) => say(&format!("{}: {}", p(name), p(text))),
            Ok(Reply::History { name, text }) => {
                say(&format!("[history] {}: {}", p(name), p(text)))
            }
            Ok(Reply::Joined(name)) => say(&format!("{} joined", p(name))),
            Ok(Reply::Left(name)) => say(&format!("{} left", p(name))),
            Ok(Reply::Admin(text)) if text == SHUTTING_DOWN => {
                say(&format!("[admin] {text}"));
                eprintln!("netkit: the room at {server} is shutting down; leaving");
                std::process::exit(0);
            }
            Ok(Reply::Admin(text)) => say(&format!("[admin] {}", p(text))),
            Ok(Reply::Members(names)) => {
                let names: Vec<Cow<'_, str>> = names.iter().map(|n| p(n)).collect();
                say(&format!("members: {}", names.join(", ")))
            }
            Ok(Reply::Err(ErrorReason::Kicked)) => {
                eprintln!("netkit: the operator removed you from the room");
                std::process::exit(1);
            }
            Ok(Reply::Err(ErrorReason::NotJoined)) => {
                eprintln!("netkit: the room no longer knows you (did it restart?)");
                std::process::exit(1);
            }
            Ok(Reply::Err(ErrorReason::RateLimited)) => say("! not sent: too fast (rate-limited)"),
            Ok(Reply::Err(ErrorReason::TooLong)) => say("! not sent: longer than 1000 bytes"),
            Ok(Reply::Err(reason)) => say(&format!("! error: {reason}")),
            Ok(Reply::Pong | Reply::Ok(_)) => {}
            Err(_) => say(&format!("! unreadable datagram ({n} bytes)")),
        }
    }
}
