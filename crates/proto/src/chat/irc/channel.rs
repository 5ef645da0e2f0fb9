//! The channel's commands: JOIN, PART, PRIVMSG and NOTICE to `#netkit` or
//! to a member (CTCP ACTION as `ME`),
//! NAMES, WHO and MODE — what an IRC member does in the room once registered.

use super::{IrcSession, CHANNEL, SERVER, TEXT_PIECE};
use crate::chat::event::{LeaveReason, MemberId};
use crate::chat::room::{JoinError, SayError};
use std::sync::Arc;
use std::time::Instant;

impl IrcSession {
    pub(super) fn join(&mut self, now: Instant, target: Option<&str>) {
        let Some(target) = target else {
            return self.numeric("461", &["JOIN"], "Not enough parameters");
        };
        if target == "0" {
            return self.part(Some(CHANNEL));
        }
        for chan in target.split(',') {
            if !chan.eq_ignore_ascii_case(CHANNEL) {
                let chan = chan.to_owned();
                self.numeric("403", &[&chan], "No such channel (only #netkit here)");
            } else if !self.in_channel {
                let nick = self.me().to_owned();
                // The nick is ours (claimed): only the join limit or a bad name.
                match self
                    .hub
                    .act(None, |room| room.join(now, self.id, &nick, false))
                {
                    Ok(()) => {}
                    Err(JoinError::RateLimited) => self.numeric(
                        "263",
                        &["JOIN"],
                        "Too many joins from your address; wait a while and try again",
                    ),
                    Err(_) => self.numeric("479", &[CHANNEL], "Cannot join with that nickname"),
                }
            }
        }
    }

    pub(super) fn part(&mut self, target: Option<&str>) {
        let Some(target) = target else {
            return self.numeric("461", &["PART"], "Not enough parameters");
        };
        if !target.split(',').any(|c| c.eq_ignore_ascii_case(CHANNEL)) || !self.in_channel {
            let target = target.to_owned();
            return self.numeric("442", &[&target], "You're not on that channel");
        }
        self.hub
            .act(None, |room| room.leave(self.id, LeaveReason::Left));
        self.in_channel = false;
        let from = Self::prefix(self.me());
        self.out.line(&[&from, "PART", CHANNEL], None);
    }

    pub(super) fn privmsg(
        &mut self,
        now: Instant,
        command: &str,
        target: Option<&str>,
        text: Option<&str>,
    ) {
        let quiet = command == "NOTICE";
        let Some(target) = target else {
            return if !quiet {
                self.numeric("411", &[], "No recipient given (PRIVMSG)")
            };
        };
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            return if !quiet {
                self.numeric("412", &[], "No text to send")
            };
        };
        // CTCP: an ACTION is the room's `ME`; other requests (VERSION, PING…)
        // have no one to answer them here and are dropped.
        let ctcp = text
            .strip_prefix('\x01')
            .map(|t| t.trim_end_matches('\x01'));
        let action = match ctcp {
            Some(body) => match body.split_once(' ') {
                Some((word, rest)) if word.eq_ignore_ascii_case("ACTION") => Some(rest),
                _ => return,
            },
            None => None,
        };
        if !target.eq_ignore_ascii_case(CHANNEL) {
            return self.tell(now, quiet, target, text, action);
        }
        let result = self.hub.act(None, |room| match action {
            Some(body) => room.act(now, self.id, body),
            None => room.say(now, self.id, text),
        });
        let why = match result {
            Ok(()) => return,
            Err(SayError::NotJoined) => "Cannot send to channel (join it first)",
            Err(SayError::TooLong) => "Cannot send to channel (message too long)",
            Err(_) => "Cannot send to channel (rate limited)",
        };
        if !quiet {
            self.numeric("404", &[CHANNEL], why);
        }
    }

    /// A PRIVMSG or NOTICE to a nick: the room's private message (`TELL`);
    /// a private ACTION arrives as `* me text`.
    fn tell(&mut self, now: Instant, quiet: bool, target: &str, text: &str, action: Option<&str>) {
        let text = match action {
            Some(body) => format!("* {} {body}", self.me()),
            None => text.to_owned(),
        };
        let result = self
            .hub
            .act(None, |room| room.tell(now, self.id, target, &text));
        let why = match result {
            Ok(()) => return,
            Err(SayError::NoSuchMember) => "No such nick/channel",
            Err(SayError::NotJoined) => "Cannot send (join #netkit first)",
            Err(SayError::TooLong) => "Cannot send (message too long)",
            Err(_) => "Cannot send (rate limited)",
        };
        if !quiet {
            let target = target.to_owned();
            let code = if result == Err(SayError::NoSuchMember) {
                "401"
            } else {
                "404"
            };
            self.numeric(code, &[&target], why);
        }
    }

    pub(super) fn names(&mut self) {
        let names: Vec<Arc<str>> = self
            .hub
            .with_room(|room| room.members().into_iter().map(|(_, n)| n).collect());
        self.names_reply(&names);
    }

    pub(super) fn names_reply(&mut self, names: &[Arc<str>]) {
        let mut chunk = String::new();
        for name in names {
            if chunk.len() + name.len() > TEXT_PIECE {
                self.numeric("353", &["=", CHANNEL], &chunk);
                chunk.clear();
            }
            if !chunk.is_empty() {
                chunk.push(' ');
            }
            chunk.push_str(name);
        }
        if !chunk.is_empty() {
            self.numeric("353", &["=", CHANNEL], &chunk);
        }
        self.numeric("366", &[CHANNEL], "End of /NAMES list");
    }

    pub(super) fn who(&mut self, mask: Option<&str>) {
        let mask = mask.unwrap_or("*").to_owned();
        let members = self.hub.with_room(|room| room.members());
        for (id, name) in members {
            let matches = mask.eq_ignore_ascii_case(CHANNEL)
                || mask == "*"
                || mask.eq_ignore_ascii_case(&name);
            if matches {
                let host = match id {
                    MemberId::Udp(_) => "udp",
                    MemberId::Web(_) => "web",
                    _ => "irc",
                };
                self.numeric(
                    "352",
                    &[CHANNEL, &name, host, SERVER, &name, "H"],
                    &format!("0 {name}"),
                );
            }
        }
        self.numeric("315", &[&mask], "End of /WHO list");
    }

    pub(super) fn mode(&mut self, target: Option<&str>, modes: Option<&str>) {
        let Some(target) = target else {
            return self.numeric("461", &["MODE"], "Not enough parameters");
        };
        if target.eq_ignore_ascii_case(CHANNEL) {
            match modes {
                None => self.numeric("324", &[CHANNEL, "+nt"], ""),
                Some(m) if m.trim_start_matches('+') == "b" => {
                    self.numeric("368", &[CHANNEL], "End of channel ban list")
                }
                Some(_) => self.numeric("482", &[CHANNEL], "You're not channel operator"),
            }
        } else if self.nick.as_deref() == Some(target) {
            let me = self.me().to_owned();
            self.out.line(&[":netkit", "221", &me, "+"], None);
        } else {
            let target = target.to_owned();
            self.numeric("502", &[&target], "Can't change mode for other users");
        }
    }
}
