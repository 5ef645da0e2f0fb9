//! What `netkit chat join` prints: each line stamped with the local time
//! (`HH:MM`, as irssi does; `--no-time` leaves it out), what the room sends
//! put in words (`alice: hi`, `* alice waves`, `[private] bob: psst`), and
//! everything a member wrote printed with its control characters escaped.

use netkit_proto::chat::wire::{ErrorReason, Reply};
use std::borrow::Cow;
use std::io::Write;
use std::sync::Mutex;
use time::{OffsetDateTime, UtcOffset};

/// The terminal side of the client, shared by the typing and the receiving thread.
#[derive(Debug)]
pub(super) struct Screen {
    /// The local time's offset from UTC; `None`: no timestamps.
    stamp: Option<UtcOffset>,
    /// The name asked for with `/nick`, until the room answers.
    wanted: Mutex<Option<String>>,
}

/// What a reply means to the client beyond what is printed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Go on.
    Continue,
    /// Leave with this status (after a message on stderr).
    Exit(i32, String),
}

impl Screen {
    /// A screen stamping lines with the local time when `time`. Call it
    /// before any thread starts: the local offset is only read while the
    /// process has one thread (it falls back to UTC otherwise).
    pub(super) fn new(time: bool) -> Screen {
        let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
        Screen {
            stamp: time.then_some(offset),
            wanted: Mutex::new(None),
        }
    }

    /// Remembers the name asked for, so that the room's `OK` can be told.
    pub(super) fn asked_for(&self, name: &str) {
        if let Ok(mut wanted) = self.wanted.lock() {
            *wanted = Some(name.to_owned());
        }
    }

    fn take_wanted(&self) -> Option<String> {
        self.wanted.lock().ok().and_then(|mut w| w.take())
    }

    /// Prints a line on stdout; a closed stdout ends the client quietly.
    pub(super) fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let written = match self.stamp {
            Some(offset) => {
                let now = OffsetDateTime::now_utc().to_offset(offset);
                writeln!(stdout, "{:02}:{:02} {text}", now.hour(), now.minute())
            }
            None => writeln!(stdout, "{text}"),
        };
        if written.and_then(|()| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }

    /// Prints what one reply from the room says.
    pub(super) fn reply(&self, reply: Reply<'_>, shutting_down: &str) -> Outcome {
        let p = printable;
        match reply {
            Reply::Msg { name, text } => self.line(&format!("{}: {}", p(name), p(text))),
            Reply::Me { name, text } => self.line(&format!("* {} {}", p(name), p(text))),
            Reply::Told { from, text } => self.line(&format!("[private] {}: {}", p(from), p(text))),
            Reply::Renamed { old, new } => {
                self.line(&format!("{} is now known as {}", p(old), p(new)))
            }
            Reply::History { name, text } => {
                self.line(&format!("[history] {}: {}", p(name), p(text)))
            }
            Reply::HistoryMe { name, text } => {
                self.line(&format!("[history] * {} {}", p(name), p(text)))
            }
            Reply::Joined(name) => self.line(&format!("{} joined", p(name))),
            Reply::Left(name) => self.line(&format!("{} left", p(name))),
            Reply::Admin(text) if text == shutting_down => {
                self.line(&format!("[admin] {text}"));
                return Outcome::Exit(0, "the room is shutting down; leaving".into());
            }
            Reply::Admin(text) => self.line(&format!("[admin] {}", p(text))),
            Reply::Members(names) => self.line(&format!("members: {}", list(&names))),
            Reply::Ok(names) => {
                // Only a rename is answered OK once we are in.
                if let Some(name) = self.take_wanted() {
                    self.line(&format!("you are now known as {}", p(&name)));
                    self.line(&format!("members: {}", list(&names)));
                }
            }
            Reply::Err(ErrorReason::Kicked) => {
                return Outcome::Exit(1, "the operator removed you from the room".into())
            }
            Reply::Err(ErrorReason::NotJoined) => {
                return Outcome::Exit(1, "the room no longer knows you (did it restart?)".into())
            }
            Reply::Err(ErrorReason::RateLimited) => {
                self.line("! not sent: too fast (rate-limited)")
            }
            Reply::Err(ErrorReason::TooLong) => self.line("! not sent: longer than 1000 bytes"),
            Reply::Err(ErrorReason::NoSuchMember) => {
                self.line("! not sent: no member has that name")
            }
            Reply::Err(ErrorReason::NameTaken) => {
                let name = self.take_wanted().unwrap_or_default();
                self.line(&format!("! the name {} is taken", p(&name)))
            }
            Reply::Err(ErrorReason::BadName) => {
                let name = self.take_wanted().unwrap_or_default();
                self.line(&format!("! {:?} is not a valid name", p(&name)))
            }
            Reply::Err(reason) => self.line(&format!("! error: {reason}")),
            Reply::Pong => {}
        }
        Outcome::Continue
    }
}

fn list(names: &[&str]) -> String {
    let names: Vec<Cow<'_, str>> = names.iter().map(|n| printable(n)).collect();
    names.join(", ")
}

/// `text` as it may be printed on a terminal: control characters and
/// text-direction overrides escaped (`\u{1b}`), so nothing a member sends can
/// move the cursor, retitle the terminal or fake a line.
pub(super) fn printable(text: &str) -> Cow<'_, str> {
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
