//! `netkit chat join ADDR NAME`: a member of a UDP chat room at the terminal.
//!
//! As in the seed, sending and receiving are separate: this thread reads stdin
//! and sends (typed commands as IRC users know them, see `typed.rs`; `/quit`
//! or end of input leaves), a
//! receiving thread prints what arrives and keeps the membership alive with a
//! PING every 20 s. When nothing at all has come back for two PINGs in a row,
//! the server is taken for dead and the client exits with status 1; when the
//! server says it is shutting down, the client leaves at once (status 0).
//!
//! What others send is printed with its control characters (and text-direction
//! overrides) escaped, as `\u{1b}`: the server already replaces them, and this
//! is a second wall against a server that does not (see `show.rs`).

use super::show::{printable, Outcome, Screen};
use super::typed::{self, Typed, HELP};
use super::DEFAULT_PORT;
use crate::cli::common::resolve;
use crate::cli::values::{addr, positive_duration};
use anyhow::{bail, Context, Result};
use clap::Args;
use netkit_proto::chat::wire::{valid_name, ErrorReason, Reply, Request, SHUTTING_DOWN};
use std::borrow::Cow;
use std::io::BufRead;
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
    /// Print lines without the time they arrived.
    #[arg(long)]
    no_time: bool,
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
    let screen = Arc::new(Screen::new(!args.no_time));
    let socket = UdpSocket::bind(local).context("binding a UDP socket")?;
    socket
        .connect(server)
        .with_context(|| format!("cannot reach {server}"))?;
    join(&socket, &args.name, server, &screen)?;

    let last_heard = Arc::new(Mutex::new(Instant::now()));
    let receiver = socket.try_clone()?;
    let heard = last_heard.clone();
    let shown = screen.clone();
    std::thread::spawn(move || receive(&receiver, &heard, interval, server, &shown));

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let requests = match typed::parse(line.trim_end_matches('\r')) {
            Typed::Send(requests) => requests,
            Typed::Quit => break,
            Typed::Help => {
                HELP.iter().for_each(|h| screen.line(h));
                continue;
            }
            Typed::Problem(why) => {
                screen.line(&format!("! {why}"));
                continue;
            }
        };
        for request in requests {
            match request {
                Request::Nick(name) => screen.asked_for(name),
                Request::Tell(to, text) => {
                    screen.line(&format!("[to {}] {}", printable(to), printable(text)))
                }
                _ => {}
            }
            send(&socket, &request).with_context(|| format!("sending to the room at {server}"))?;
        }
    }
    send(&socket, &Request::Leave).with_context(|| format!("sending to the room at {server}"))?;
    Ok(())
}

fn send(socket: &UdpSocket, request: &Request<'_>) -> Result<()> {
    let mut data = Vec::new();
    request.emit(&mut data);
    // Padding is for requests without text (spaces would change a text).
    let bare = matches!(
        request,
        Request::Join(_) | Request::Leave | Request::Ping | Request::Who | Request::Nick(_)
    );
    if bare && data.len() < PAD_TO {
        data.resize(PAD_TO, b' ');
    }
    socket.send(&data)?;
    Ok(())
}

/// Sends JOIN until the server answers OK (or refuses).
fn join(socket: &UdpSocket, name: &str, server: SocketAddr, screen: &Screen) -> Result<()> {
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
                        screen.line(&format!("joined as {name}"));
                    } else {
                        let others = others.join(", ");
                        screen.line(&format!("joined as {name}; members: {others}"));
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

/// The receiving task: print, PING every `interval`, notice a dead server.
fn receive(
    socket: &UdpSocket,
    last_heard: &Mutex<Instant>,
    interval: Duration,
    server: SocketAddr,
    screen: &Screen,
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
        let outcome = match Reply::parse(&buf[..n]) {
            Ok(reply) => screen.reply(reply, SHUTTING_DOWN),
            Err(_) => {
                screen.line(&format!("! unreadable datagram ({n} bytes)"));
                Outcome::Continue
            }
        };
        if let Outcome::Exit(status, why) = outcome {
            eprintln!("netkit: {why}");
            std::process::exit(status);
        }
    }
}
