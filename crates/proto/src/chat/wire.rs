//! The UDP chat datagrams of SPEC.md, parsed into types and emitted from them.
//!
//! One UTF-8 datagram is one message: a command word, then one space and its
//! argument. Two additions to SPEC.md, documented in the README:
//!
//! - `WHO` (client → server) asks for the member list; the reply is
//!   `MEMBERS <name> <name> …`.
//! - `HISTORY <name> <text>` (server → client) replays one earlier message to a
//!   member who just joined, oldest first: the last 50 messages said before the
//!   join, sent when the member's next datagram after `OK` arrives (the `join`
//!   client PINGs at once), so that a JOIN from a forged address is answered
//!   with one `OK`, never with fifty messages.
//!
//! - `HISTORY-ME <name> <text>` (server → client) replays an earlier action
//!   (`ME`) the same way.
//!
//! A command without text (`JOIN`, `LEAVE`, `PING`, `WHO`) may carry trailing
//! spaces as padding: a client pads a datagram so that an error to a not-yet-
//! joined address fits in the bytes it sent (the room never amplifies).

use std::fmt;

pub use super::names::{valid_name, MAX_NAME_CHARS};

/// The `ADMIN` text a server sends every member as it shuts down: the `join`
/// client leaves when it reads it (instead of waiting for silence).
pub const SHUTTING_DOWN: &str = "the server is shutting down";

/// The longest `SAY` text, in bytes.
pub const MAX_TEXT_BYTES: usize = 1000;

/// A datagram a client sends to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request<'a> {
    /// `JOIN <name>`: the name is not yet validated (see [`valid_name`]).
    Join(&'a str),
    /// `SAY <text>`: the text is not yet length-checked.
    Say(&'a str),
    /// `LEAVE`
    Leave,
    /// `PING`
    Ping,
    /// `WHO` (an addition): asks for the member list.
    Who,
    /// `ME <text>`: an action; the text is not yet length-checked.
    Me(&'a str),
    /// `NICK <new>`: a rename; the name is not yet validated.
    Nick(&'a str),
    /// `TELL <name> <text>`: a private message to one member.
    Tell(&'a str, &'a str),
}

/// Why a datagram is not a [`Request`]; every case is answered `ERR bad-command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Not valid UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
    /// An unknown command word, or a known one with a malformed argument.
    #[error("unknown command")]
    Unknown,
}

impl<'a> Request<'a> {
    /// Parses one datagram.
    pub fn parse(data: &'a [u8]) -> Result<Request<'a>, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::NotUtf8)?;
        let (word, arg) = match text.split_once(' ') {
            Some((w, a)) => (w, Some(a)),
            None => (text, None),
        };
        let bare = |arg: Option<&str>| arg.is_none_or(|a| a.bytes().all(|b| b == b' '));
        match word {
            // The name check (and its own ERR) is the room's: `JOIN` alone is a bad name.
            "JOIN" => Ok(Request::Join(arg.unwrap_or("").trim_end_matches(' '))),
            "SAY" => Ok(Request::Say(arg.unwrap_or(""))),
            "LEAVE" if bare(arg) => Ok(Request::Leave),
            "PING" if bare(arg) => Ok(Request::Ping),
            "WHO" if bare(arg) => Ok(Request::Who),
            "ME" => Ok(Request::Me(arg.unwrap_or(""))),
            "NICK" => Ok(Request::Nick(arg.unwrap_or("").trim_end_matches(' '))),
            "TELL" => match arg.and_then(|a| a.split_once(' ')) {
                Some((name, text)) if !name.is_empty() => Ok(Request::Tell(name, text)),
                _ => Err(ParseError::Unknown),
            },
            _ => Err(ParseError::Unknown),
        }
    }

    /// Appends the datagram for this request to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let parts: &[&str] = match self {
            Request::Join(name) => &["JOIN", name],
            Request::Say(text) => &["SAY", text],
            Request::Leave => &["LEAVE"],
            Request::Ping => &["PING"],
            Request::Who => &["WHO"],
            Request::Me(text) => &["ME", text],
            Request::Nick(name) => &["NICK", name],
            Request::Tell(name, text) => &["TELL", name, text],
        };
        out.extend_from_slice(parts.join(" ").as_bytes());
    }
}

/// The reason in an `ERR <reason>` datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorReason {
    /// SAY/LEAVE/PING/WHO from an address that has not joined.
    NotJoined,
    /// SAY text over [`MAX_TEXT_BYTES`].
    TooLong,
    /// Not UTF-8, or not a known command.
    BadCommand,
    /// JOIN with a name another member has (case-insensitively).
    NameTaken,
    /// JOIN with a name that is not [`valid_name`].
    BadName,
    /// SAY over the member's flood limit (an addition).
    RateLimited,
    /// The operator removed this member (an addition).
    Kicked,
    /// TELL to a name no member has.
    NoSuchMember,
}

impl ErrorReason {
    /// The reason as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorReason::NotJoined => "not-joined",
            ErrorReason::TooLong => "too-long",
            ErrorReason::BadCommand => "bad-command",
            ErrorReason::NameTaken => "name-taken",
            ErrorReason::BadName => "bad-name",
            ErrorReason::RateLimited => "rate-limited",
            ErrorReason::Kicked => "kicked",
            ErrorReason::NoSuchMember => "no-such-member",
        }
    }

    fn from_wire(s: &str) -> Option<ErrorReason> {
        [
            ErrorReason::NotJoined,
            ErrorReason::TooLong,
            ErrorReason::BadCommand,
            ErrorReason::NameTaken,
            ErrorReason::BadName,
            ErrorReason::RateLimited,
            ErrorReason::Kicked,
            ErrorReason::NoSuchMember,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A datagram the server sends to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `OK <members>`: the join succeeded; every member's name, the joiner's included.
    Ok(Vec<&'a str>),
    /// `ERR <reason>`
    Err(ErrorReason),
    /// `MSG <name> <text>`
    Msg {
        /// Who said it.
        name: &'a str,
        /// What was said.
        text: &'a str,
    },
    /// `HISTORY <name> <text>` (an addition): an earlier message, replayed on join.
    History {
        /// Who said it.
        name: &'a str,
        /// What was said.
        text: &'a str,
    },
    /// `JOINED <name>`
    Joined(&'a str),
    /// `LEFT <name>`
    Left(&'a str),
    /// `ADMIN <text>`
    Admin(&'a str),
    /// `PONG`
    Pong,
    /// `MEMBERS <names>` (an addition): the answer to `WHO`.
    Members(Vec<&'a str>),
    /// `ME <name> <text>`: someone's action.
    Me {
        /// Who acts.
        name: &'a str,
        /// What it does.
        text: &'a str,
    },
    /// `HISTORY-ME <name> <text>` (an addition): an earlier action, replayed on join.
    HistoryMe {
        /// Who acted.
        name: &'a str,
        /// What it did.
        text: &'a str,
    },
    /// `RENAMED <old> <new>`
    Renamed {
        /// The name it had.
        old: &'a str,
        /// The name it has now.
        new: &'a str,
    },
    /// `TOLD <from> <text>`: a private message to this member.
    Told {
        /// Who sent it.
        from: &'a str,
        /// The text.
        text: &'a str,
    },
}

impl<'a> Reply<'a> {
    /// Parses a datagram from the server (what `netkit chat join` reads).
    pub fn parse(data: &'a [u8]) -> Result<Reply<'a>, ParseError> {
        let text = std::str::from_utf8(data).map_err(|_| ParseError::NotUtf8)?;
        let (word, arg) = text.split_once(' ').unwrap_or((text, ""));
        let names = |arg: &'a str| arg.split(' ').filter(|n| !n.is_empty()).collect();
        let name_text = |arg: &'a str| arg.split_once(' ').unwrap_or((arg, ""));
        Ok(match word {
            "OK" => Reply::Ok(names(arg)),
            "ERR" => Reply::Err(ErrorReason::from_wire(arg).ok_or(ParseError::Unknown)?),
            "MSG" => {
                let (name, text) = name_text(arg);
                Reply::Msg { name, text }
            }
            "HISTORY" => {
                let (name, text) = name_text(arg);
                Reply::History { name, text }
            }
            "JOINED" => Reply::Joined(arg),
            "LEFT" => Reply::Left(arg),
            "ADMIN" => Reply::Admin(arg),
            "PONG" => Reply::Pong,
            "MEMBERS" => Reply::Members(names(arg)),
            "ME" => {
                let (name, text) = name_text(arg);
                Reply::Me { name, text }
            }
            "HISTORY-ME" => {
                let (name, text) = name_text(arg);
                Reply::HistoryMe { name, text }
            }
            "RENAMED" => {
                let (old, new) = name_text(arg);
                Reply::Renamed { old, new }
            }
            "TOLD" => {
                let (from, text) = name_text(arg);
                Reply::Told { from, text }
            }
            _ => return Err(ParseError::Unknown),
        })
    }

    /// Appends the datagram for this reply to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut put = |parts: &[&str]| {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(part.as_bytes());
            }
        };
        match self {
            Reply::Ok(names) => put(&[&["OK"], names.as_slice()].concat()),
            Reply::Err(reason) => put(&["ERR", reason.as_str()]),
            Reply::Msg { name, text } => put(&["MSG", name, text]),
            Reply::History { name, text } => put(&["HISTORY", name, text]),
            Reply::Joined(name) => put(&["JOINED", name]),
            Reply::Left(name) => put(&["LEFT", name]),
            Reply::Admin(text) => put(&["ADMIN", text]),
            Reply::Pong => put(&["PONG"]),
            Reply::Members(names) => put(&[&["MEMBERS"], names.as_slice()].concat()),
            Reply::Me { name, text } => put(&["ME", name, text]),
            Reply::HistoryMe { name, text } => put(&["HISTORY-ME", name, text]),
            Reply::Renamed { old, new } => put(&["RENAMED", old, new]),
            Reply::Told { from, text } => put(&["TOLD", from, text]),
        }
    }

    /// The datagram for this reply.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_round_trip() {
        let cases: &[(&[u8], Request<'_>)] = &[
            (b"JOIN alice", Request::Join("alice")),
            (b"JOIN alice     ", Request::Join("alice")),
            (b"JOIN", Request::Join("")),
            (b"SAY hello  world ", Request::Say("hello  world ")),
            (b"SAY", Request::Say("")),
            (b"LEAVE", Request::Leave),
            (b"PING", Request::Ping),
            (b"PING          ", Request::Ping),
            (b"WHO", Request::Who),
            (b"ME waves  hello", Request::Me("waves  hello")),
            (b"NICK bob  ", Request::Nick("bob")),
            (b"TELL bob hi  there", Request::Tell("bob", "hi  there")),
            (b"TELL bob ", Request::Tell("bob", "")),
        ];
        for (bytes, want) in cases {
            assert_eq!(Request::parse(bytes), Ok(*want), "{bytes:?}");
        }
        for req in [
            Request::Join("bob"),
            Request::Say("hi there"),
            Request::Leave,
            Request::Ping,
            Request::Who,
            Request::Me("waves"),
            Request::Nick("carol"),
            Request::Tell("bob", "a secret"),
        ] {
            let mut out = Vec::new();
            req.emit(&mut out);
            assert_eq!(Request::parse(&out), Ok(req));
        }
    }

    #[test]
    fn bad_requests_are_errors() {
        assert_eq!(Request::parse(b"\xff\xfe"), Err(ParseError::NotUtf8));
        for bad in [
            &b""[..],
            b"join bob",
            b"HELLO",
            b"PING x",
            b"LEAVE now",
            b" SAY x",
            b"SAYhi",
            b"TELL bob",
            b"TELL",
            b"TELL  hi",
            b"me waves",
        ] {
            assert_eq!(Request::parse(bad), Err(ParseError::Unknown), "{bad:?}");
        }
    }

    #[test]
    fn names_are_checked() {
        for good in ["a", "alice", "Ünïcödé", "x".repeat(32).as_str(), "管理员"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "tab\t",
            "x".repeat(33).as_str(),
            "nul\0",
            "#chan",
            ":x",
            "a,b",
            "a!b",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn replies_emit_and_parse() {
        let cases = [
            (Reply::Ok(vec!["alice", "bob"]), "OK alice bob"),
            (Reply::Err(ErrorReason::NotJoined), "ERR not-joined"),
            (Reply::Err(ErrorReason::RateLimited), "ERR rate-limited"),
            (
                Reply::Msg {
                    name: "bob",
                    text: "hi  you",
                },
                "MSG bob hi  you",
            ),
            (
                Reply::History {
                    name: "bob",
                    text: "earlier",
                },
                "HISTORY bob earlier",
            ),
            (Reply::Joined("carol"), "JOINED carol"),
            (Reply::Left("carol"), "LEFT carol"),
            (Reply::Admin("server going down"), "ADMIN server going down"),
            (Reply::Pong, "PONG"),
            (Reply::Members(vec!["a", "b", "c"]), "MEMBERS a b c"),
            (
                Reply::Me {
                    name: "bob",
                    text: "waves  back",
                },
                "ME bob waves  back",
            ),
            (
                Reply::HistoryMe {
                    name: "bob",
                    text: "waved",
                },
                "HISTORY-ME bob waved",
            ),
            (
                Reply::Renamed {
                    old: "bob",
                    new: "robert",
                },
                "RENAMED bob robert",
            ),
            (
                Reply::Told {
                    from: "bob",
                    text: "just you",
                },
                "TOLD bob just you",
            ),
            (Reply::Err(ErrorReason::NoSuchMember), "ERR no-such-member"),
        ];
        for (reply, wire) in cases {
            assert_eq!(reply.to_bytes(), wire.as_bytes());
            assert_eq!(Reply::parse(wire.as_bytes()), Ok(reply));
        }
        assert!(Reply::parse(b"ERR nonsense").is_err());
        assert!(Reply::parse(b"WHAT").is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let _ = Request::parse(&data);
            let _ = Reply::parse(&data);
        }

        #[test]
        fn say_and_msg_round_trip(text in "\\PC{0,200}", name in "[a-zA-Z0-9_é]{1,32}") {
            let mut out = Vec::new();
            Request::Say(&text).emit(&mut out);
            prop_assert_eq!(Request::parse(&out), Ok(Request::Say(&text)));
            let msg = Reply::Msg { name: &name, text: &text };
            let bytes = msg.to_bytes();
            prop_assert_eq!(Reply::parse(&bytes), Ok(msg));
        }
    }
}
