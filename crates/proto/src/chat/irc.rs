//! The IRC front: a [`Session`] per TCP connection, in the room as channel `#netkit`.
//!
//! Enough of RFC 2812 (and the modern registration of ircv3's `CAP LS`) for
//! real clients: registration (NICK and USER in either order, CAP answered with
//! an empty list, 001–005 and 422), JOIN/PART/QUIT, PRIVMSG and NOTICE to the
//! channel (CTCP ACTION as the room's `ME`) and to a nick (the room's `TELL`),
//! NICK in the channel (the room's rename), PING/PONG both ways, NAMES, WHO, MODE, TOPIC, LIST. The nick is held
//! in the room from NICK on (433 when any member, UDP or IRC, has it). Room
//! events reach the session through its outbox in the [`Hub`]; the hub wakes the
//! driver, which calls [`Session::handle_wake`]. A connection quiet for the
//! room's idle timeout is PINGed, and closed if it stays quiet as long again.

use super::event::{LeaveReason, MemberId};
use super::hub::{Front, Hub};
use super::names::clean_text;
use super::room::JoinError;
use crate::{FileChunk, Service, Session};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};
use wire::{Line, Out, MAX_LINE};

/// The one channel.
pub const CHANNEL: &str = "#netkit";

/// The server's name in replies.
const SERVER: &str = "netkit";

/// Longest text per PRIVMSG line we send, leaving room for the prefix.
const TEXT_PIECE: usize = 400;

/// Makes IRC sessions on one shared room.
#[derive(Debug, Clone)]
pub struct IrcService {
    hub: Arc<Hub>,
}

impl IrcService {
    /// IRC sessions in `hub`'s room.
    pub fn new(hub: Arc<Hub>) -> IrcService {
        IrcService { hub }
    }
}

impl Service for IrcService {
    type Session = IrcSession;

    fn new_session(&self, peer: Option<SocketAddr>, now: Instant) -> IrcSession {
        let id = self.hub.register(Front::Irc, peer.map(|p| p.ip()));
        let idle = self.hub.with_room(|room| room.config().idle_timeout);
        IrcSession {
            hub: self.hub.clone(),
            id,
            nick: None,
            user: None,
            cap_negotiating: false,
            registered: false,
            in_channel: false,
            out: Out::default(),
            discarding: false,
            done: false,
            gone: false,
            idle,
            deadline: now + idle,
            ping_outstanding: false,
        }
    }
}

/// One IRC connection.
#[derive(Debug)]
pub struct IrcSession {
    hub: Arc<Hub>,
    id: MemberId,
    nick: Option<String>,
    user: Option<String>,
    cap_negotiating: bool,
    registered: bool,
    in_channel: bool,
    out: Out,
    /// Skipping the rest of an over-long line.
    discarding: bool,
    done: bool,
    /// Already out of the room (QUIT, EOF, shutdown).
    gone: bool,
    idle: Duration,
    deadline: Instant,
    ping_outstanding: bool,
}

impl IrcSession {
    fn me(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }

    fn numeric(&mut self, code: &str, params: &[&str], text: &str) {
        let me = self.me().to_owned();
        let mut parts = vec![":netkit", code, &me];
        parts.extend_from_slice(params);
        self.out.line(&parts, Some(text));
    }

    fn prefix(name: &str) -> String {
        format!(":{name}!{name}@{SERVER}")
    }

    fn quit(&mut self, reason: LeaveReason, error: &str) {
        if !self.gone {
            self.gone = true;
            self.hub.unregister(self.id, reason);
        }
        self.out.line(&["ERROR"], Some(error));
        self.done = true;
    }

    fn handle_line(&mut self, now: Instant, line: &str) {
        let Some(line) = Line::parse(line) else {
            return;
        };
        let p = |i: usize| line.params.get(i).copied();
        match line.command.as_str() {
            "CAP" => match p(0).map(str::to_ascii_uppercase).as_deref() {
                Some("LS") => {
                    self.cap_negotiating = !self.registered;
                    let me = self.me().to_owned();
                    self.out.line(&[":netkit", "CAP", &me, "LS"], Some(""));
                }
                Some("LIST") => {
                    let me = self.me().to_owned();
                    self.out.line(&[":netkit", "CAP", &me, "LIST"], Some(""))
                }
                Some("REQ") => {
                    let me = self.me().to_owned();
                    self.out
                        .line(&[":netkit", "CAP", &me, "NAK"], Some(p(1).unwrap_or("")));
                }
                Some("END") => {
                    self.cap_negotiating = false;
                    self.try_register();
                }
                _ => self.numeric("410", &[p(0).unwrap_or("")], "Invalid CAP command"),
            },
            "NICK" => self.nick(now, p(0)),
            "USER" => {
                if self.registered {
                    self.numeric("462", &[], "You may not reregister");
                } else if line.params.len() < 4 {
                    self.numeric("461", &["USER"], "Not enough parameters");
                } else {
                    self.user = Some(line.params[0].to_owned());
                    self.try_register();
                }
            }
            "PING" => {
                let token = p(0).unwrap_or(SERVER).to_owned();
                self.out.line(&[":netkit", "PONG", SERVER], Some(&token));
            }
            "PONG" => {}
            "QUIT" => {
                // Heard by the others: no control characters (IRC colours included).
                let msg = clean_text(p(0).unwrap_or("Client quit")).into_owned();
                let error = format!("Closing Link: {} (Quit: {msg})", self.me());
                self.quit(LeaveReason::Quit(msg.into()), &error);
            }
            _ if !self.registered => self.numeric("451", &[], "You have not registered"),
            "JOIN" => self.join(now, p(0)),
            "PART" => self.part(p(0)),
            "PRIVMSG" | "NOTICE" => self.privmsg(now, &line.command, p(0), p(1)),
            "NAMES" => self.names(),
            "WHO" => self.who(p(0)),
            "MODE" => self.mode(p(0), p(1)),
            "TOPIC" => self.numeric("331", &[CHANNEL], "No topic is set"),
            "LIST" => {
                let count = self.hub.with_room(|room| room.members().len()).to_string();
                self.numeric("321", &["Channel"], "Users  Name");
                self.numeric("322", &[CHANNEL, &count], "");
                self.numeric("323", &[], "End of /LIST");
            }
            other => {
                let other = other.to_owned();
                self.numeric("421", &[&other], "Unknown command");
            }
        }
    }

    fn nick(&mut self, now: Instant, wanted: Option<&str>) {
        let Some(wanted) = wanted.filter(|n| !n.is_empty()) else {
            return self.numeric("431", &[], "No nickname given");
        };
        if self.nick.as_deref() == Some(wanted) {
            return;
        }
        let renamed = if self.in_channel {
            self.hub
                .act(None, |room| room.rename(now, self.id, wanted).map(|_| ()))
        } else {
            self.hub
                .act(None, |room| room.claim_name(now, self.id, wanted))
        };
        match renamed {
            Ok(()) => {
                if self.registered {
                    let from = Self::prefix(self.me());
                    self.out.line(&[&from, "NICK"], Some(wanted));
                }
                self.nick = Some(wanted.to_owned());
                self.try_register();
            }
            Err(JoinError::NameTaken) => {
                self.numeric("433", &[wanted], "Nickname is already in use")
            }
            // As ircd-hybrid and ratbox answer nick floods.
            Err(JoinError::RateLimited) => self.numeric(
                "438",
                &[wanted],
                "Nick change too fast (too many joins from your address); wait a while",
            ),
            Err(_) => self.numeric("432", &[wanted], "Erroneous nickname"),
        }
    }

    fn try_register(&mut self) {
        if self.registered || self.cap_negotiating || self.user.is_none() {
            return;
        }
        let Some(nick) = self.nick.clone() else {
            return;
        };
        self.registered = true;
        let version = env!("CARGO_PKG_VERSION");
        self.numeric("001", &[], &format!("Welcome to the netkit chat, {nick}"));
        self.numeric(
            "002",
            &[],
            &format!("Your host is {SERVER}, running version {version}"),
        );
        self.numeric("003", &[], "This server was created when it started");
        self.numeric("004", &[SERVER, version, "o", "bnt"], "");
        let isupport = [
            "CHANTYPES=#",
            "CHANMODES=b,,,nt",
            "PREFIX=(o)@",
            "NICKLEN=32",
            "CHANNELLEN=7",
            "NETWORK=netkit",
        ];
        self.numeric("005", &isupport, "are supported by this server");
        self.numeric("422", &[], "MOTD File is missing");
    }
}

impl Session for IrcSession {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> usize {
        let mut used = 0;
        while !self.done {
            let rest = &input[used..];
            let Some(end) = rest.iter().position(|b| *b == b'\n') else {
                // No line end within the limit: refuse the line, skip to its end.
                if rest.len() >= MAX_LINE {
                    if !self.discarding {
                        self.numeric("417", &[], "Input line was too long");
                    }
                    self.discarding = true;
                    used = input.len();
                }
                break;
            };
            let line = &rest[..end];
            used += end + 1;
            self.deadline = now + self.idle;
            self.ping_outstanding = false;
            if std::mem::take(&mut self.discarding) {
                continue;
            }
            if line.len() + 1 > MAX_LINE {
                self.numeric("417", &[], "Input line was too long");
                continue;
            }
            let line =
                String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line)).into_owned();
            self.handle_line(now, &line);
            self.take_events();
        }
        used
    }

    fn handle_eof(&mut self, _now: Instant) {
        if !self.done {
            self.quit(
                LeaveReason::Quit("Connection closed".into()),
                "Connection closed",
            );
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.done || now < self.deadline {
            return;
        }
        if !self.registered {
            self.quit(
                LeaveReason::Quit("Registration timeout".into()),
                "Registration timeout",
            );
        } else if self.ping_outstanding {
            self.quit(LeaveReason::TimedOut, "Ping timeout");
        } else {
            self.out.line(&["PING"], Some(SERVER));
            self.ping_outstanding = true;
            self.deadline = now + self.idle;
        }
    }

    fn handle_shutdown(&mut self, _now: Instant) {
        if !self.done {
            self.quit(
                LeaveReason::Quit("Server shutting down".into()),
                "Server shutting down",
            );
        }
    }

    fn poll_transmit(&mut self, out: &mut Vec<u8>) -> Option<FileChunk> {
        out.append(&mut self.out.bytes);
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (!self.done).then_some(self.deadline)
    }

    fn wants_read(&self) -> bool {
        !self.done
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn set_waker(&mut self, waker: Waker) {
        self.hub.set_waker(self.id, waker);
    }

    fn handle_wake(&mut self, _now: Instant) {
        if !self.done {
            self.take_events();
        }
    }
}

impl Drop for IrcSession {
    fn drop(&mut self) {
        if !self.gone {
            self.hub
                .unregister(self.id, LeaveReason::Quit("Connection closed".into()));
        }
    }
}

mod channel;
mod events;
pub mod wire;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod verbs_tests;
