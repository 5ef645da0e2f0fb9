//! Room events as IRC lines: what an IRC member sees of the room.
//!
//! A message from elsewhere may be up to 1,000 bytes (UDP) and is cut into
//! several PRIVMSGs; history is replayed as NOTICEs from the server, so clients
//! do not mistake it for live talk (an action as `* name text`, never as a
//! CTCP); the operator's lines are NOTICEs too. An action is a CTCP ACTION,
//! a rename a NICK, a private message a PRIVMSG to this nick.

use super::wire::split_text;
use super::{IrcSession, CHANNEL, TEXT_PIECE};
use crate::chat::event::{Event, LeaveReason};

impl IrcSession {
    /// Turns what the room sent this connection into lines.
    pub(super) fn take_events(&mut self) {
        let taken = self.hub.take(self.id);
        for event in taken.events {
            self.render(&event);
        }
        if taken.overflowed {
            self.quit(LeaveReason::Quit("SendQ exceeded".into()), "SendQ exceeded");
        }
    }

    fn render(&mut self, event: &Event) {
        match event {
            Event::Welcome { members } => {
                self.in_channel = true;
                let from = Self::prefix(self.me());
                self.out.line(&[&from, "JOIN", CHANNEL], None);
                self.names_reply(members);
            }
            Event::History { name, text, action } if self.in_channel => {
                // Plain text: a CTCP inside a NOTICE would be a CTCP reply.
                for piece in split_text(text, TEXT_PIECE) {
                    let line = if *action {
                        format!("[history] * {name} {piece}")
                    } else {
                        format!("[history] <{name}> {piece}")
                    };
                    self.out.line(&[":netkit", "NOTICE", CHANNEL], Some(&line));
                }
            }
            Event::Action { name, text } if self.in_channel => {
                for piece in split_text(text, TEXT_PIECE) {
                    self.out.line(
                        &[&Self::prefix(name), "PRIVMSG", CHANNEL],
                        Some(&format!("\x01ACTION {piece}\x01")),
                    );
                }
            }
            Event::Renamed { old, new } if self.in_channel => {
                self.out.line(&[&Self::prefix(old), "NICK"], Some(new));
            }
            Event::Told { from, text } => {
                let me = self.me().to_owned();
                for piece in split_text(text, TEXT_PIECE) {
                    self.out
                        .line(&[&Self::prefix(from), "PRIVMSG", &me], Some(piece));
                }
            }
            Event::Joined { name } if self.in_channel => {
                self.out.line(&[&Self::prefix(name), "JOIN", CHANNEL], None);
            }
            Event::Message { name, text } if self.in_channel => {
                for piece in split_text(text, TEXT_PIECE) {
                    self.out
                        .line(&[&Self::prefix(name), "PRIVMSG", CHANNEL], Some(piece));
                }
            }
            Event::Left { name, reason } if self.in_channel => {
                let from = Self::prefix(name);
                match reason {
                    LeaveReason::Left => self.out.line(&[&from, "PART", CHANNEL], None),
                    LeaveReason::Quit(msg) => self
                        .out
                        .line(&[&from, "QUIT"], Some(&format!("Quit: {msg}"))),
                    LeaveReason::TimedOut => self.out.line(&[&from, "QUIT"], Some("Ping timeout")),
                    LeaveReason::Kicked => self.out.line(
                        &[":netkit", "KICK", CHANNEL, name],
                        Some("kicked by the operator"),
                    ),
                }
            }
            Event::Admin { text } => {
                let me = self.me().to_owned();
                self.out.line(
                    &[":netkit", "NOTICE", &me],
                    Some(&format!("[admin] {text}")),
                );
            }
            Event::Kicked => {
                self.in_channel = false;
                let me = self.me().to_owned();
                self.out.line(
                    &[":netkit", "KICK", CHANNEL, &me],
                    Some("kicked by the operator"),
                );
            }
            _ => {}
        }
    }
}
