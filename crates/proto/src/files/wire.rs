//! The files protocol's bytes: typed parse and emit of command lines and
//! replies, with no state and no file system (smoltcp's `wire/` idea).
//!
//! ```text
//!   client                                  server
//!   LIST\n                         ──▶       OK <n>\n  then n × "<size> <mtime> <name>\n"
//!   GET <name> [<offset>]\n        ──▶       OK <bytes>\n<bytes>
//!   PUT <name> <size>\n            ──▶       READY\n
//!   <size bytes>                   ──▶       OK <sha256-hex>\n
//!   SUM <name> [<length>]\n        ──▶       OK <sha256-hex>\n  of the first <length> bytes
//!   AUTH <user> <password>\n       ──▶       OK\n  or  ERR 401 …
//!   LIST <folder>\n                ──▶       as LIST, folders too: "- <mtime> <name>/"
//!   MKDIR <name>\n                 ──▶       OK\n
//!   DELETE <name>\n                ──▶       OK\n  (a folder with everything in it)
//!   MOVE <from>\t<to>\n            ──▶       OK\n
//!   QUIT\n                         ──▶       BYE\n, close
//!   anything that fails            ──▶       ERR <code> <message>\n
//! ```
//!
//! Every payload is announced by a byte (or line) count, so a reader never
//! depends on how TCP cut or joined the stream (the seed's 粘包 warning).
//!
//! Parsing a command is two steps, as in mini-redis: [`split_line`] says whether
//! a complete line is there yet (incomplete input is not an error), then
//! [`Command::parse`] reads it. Keywords are case-insensitive and a trailing
//! `\r` is ignored, so `nc -C` and telnet users are served too.
//!
//! Names may contain spaces: a PUT's size is always its last word, and a GET's
//! (a SUM's) last word is its offset (length) when it is all digits — so a
//! client asking for a name that contains a space always sends the offset
//! (`GET my file.txt 0`) or the length (`SUM my file.txt 1234`).

use std::fmt;
use std::io::Write;

/// Longest command line accepted, newline included: a name of
/// [`crate::root::MAX_PATH`] bytes plus keyword and numbers fits.
pub const MAX_LINE: usize = crate::root::MAX_PATH + 64;

/// A client command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `LIST`: the regular files directly in the root.
    List,
    /// `GET <name> [<offset>]`: a file from `offset` (default 0) to its end.
    Get {
        /// The name as the client wrote it (validated by the session).
        name: String,
        /// Where to start.
        offset: u64,
    },
    /// `PUT <name> <size>`: upload `size` bytes after `READY`.
    Put {
        /// The name as the client wrote it.
        name: String,
        /// How many bytes follow.
        size: u64,
    },
    /// `SUM <name> [<length>]`: the SHA-256 of the file's first `length`
    /// bytes (the whole file without it), to check a download or the part a
    /// download resumes from.
    Sum {
        /// The name as the client wrote it.
        name: String,
        /// How many bytes from the start; `None`: the whole file. A name that
        /// contains a space and ends in a word of digits needs a length (the
        /// server would read that word as one).
        length: Option<u64>,
    },
    /// `QUIT`: say `BYE` and close.
    Quit,
    /// `LIST <folder>`: the files and folders directly in `folder` (`/` or
    /// `.` for the root), folders as `- <mtime> <name>/`.
    ListDir {
        /// The folder as the client wrote it.
        folder: String,
    },
    /// `MKDIR <name>`: make a folder (its parent must exist).
    Mkdir {
        /// The name as the client wrote it.
        name: String,
    },
    /// `DELETE <name>`: remove a file, or a folder with everything in it.
    Delete {
        /// The name as the client wrote it.
        name: String,
    },
    /// `MOVE <from>\t<to>`: rename or move a file or folder (a tab separates
    /// the names, so either may contain spaces).
    Move {
        /// What to move.
        from: String,
        /// Its new name.
        to: String,
    },
    /// `AUTH <user> <password>`: log the session in (the password is the
    /// rest of the line, spaces included).
    Auth {
        /// The account's name.
        user: String,
        /// The password.
        password: Password,
    },
}

/// A password on the wire: shown as `***` by `Debug`, so no debug print of
/// a [`Command`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(pub String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a command line was refused (ERR 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The line is empty.
    #[error("empty command")]
    Empty,
    /// The line is not UTF-8.
    #[error("command is not UTF-8")]
    NotUtf8,
    /// The line is longer than [`MAX_LINE`].
    #[error("command line longer than {MAX_LINE} bytes")]
    TooLong,
    /// The keyword is not one of the commands.
    #[error("unknown command '{0}' (try LIST, GET, PUT, SUM, MKDIR, DELETE, MOVE, AUTH, QUIT)")]
    Unknown(String),
    /// GET, PUT or SUM without a name.
    #[error("{0} needs a name")]
    MissingName(&'static str),
    /// PUT without a size, or a number that is not a decimal u64.
    #[error("{0}")]
    BadNumber(&'static str),
    /// LIST or QUIT with arguments.
    #[error("{0} takes no arguments")]
    UnexpectedArgument(&'static str),
    /// MOVE without two names separated by a tab.
    #[error("MOVE needs two names separated by a tab: MOVE <from>\\t<to>")]
    MissingTarget,
    /// AUTH without a user name and a password.
    #[error("AUTH needs a user name and a password")]
    MissingCredentials,
}

/// What [`split_line`] found at the start of the input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line (without `\n` or a trailing `\r`) and the bytes it used.
    Complete(&'a [u8], usize),
    /// No newline yet, and not too long to wait for one.
    Incomplete,
    /// No newline within [`MAX_LINE`] bytes.
    TooLong,
}

/// Finds the first line of `input`.
pub fn split_line(input: &[u8]) -> Line<'_> {
    let window = &input[..input.len().min(MAX_LINE)];
    match window.iter().position(|&b| b == b'\n') {
        Some(end) => {
            let line = &input[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Line::Complete(line, end + 1)
        }
        None if input.len() >= MAX_LINE => Line::TooLong,
        None => Line::Incomplete,
    }
}

impl Command {
    /// Parses one line (as returned by [`split_line`]).
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        let line = std::str::from_utf8(line).map_err(|_| CommandError::NotUtf8)?;
        if line.is_empty() {
            return Err(CommandError::Empty);
        }
        let (keyword, rest) = match line.split_once(' ') {
            Some((k, r)) => (k, Some(r)),
            None => (line, None),
        };
        match keyword.to_ascii_uppercase().as_str() {
            "LIST" => match rest.filter(|r| !r.trim().is_empty()) {
                None => Ok(Command::List),
                Some(folder) => Ok(Command::ListDir {
                    folder: folder.to_owned(),
                }),
            },
            "MKDIR" => one_name(rest, "MKDIR").map(|name| Command::Mkdir { name }),
            "DELETE" => one_name(rest, "DELETE").map(|name| Command::Delete { name }),
            "MOVE" => {
                let rest = rest
                    .filter(|r| !r.is_empty())
                    .ok_or(CommandError::MissingName("MOVE"))?;
                match rest.split_once('\t') {
                    Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok(Command::Move {
                        from: from.to_owned(),
                        to: to.to_owned(),
                    }),
                    _ => Err(CommandError::MissingTarget),
                }
            }
            "QUIT" => no_arguments(rest, "QUIT").map(|()| Command::Quit),
            "GET" => {
                let (name, offset) = name_and_number(rest, "GET", "GET offset is too large")?;
                Ok(Command::Get {
                    name,
                    offset: offset.unwrap_or(0),
                })
            }
            "SUM" => {
                let (name, length) = name_and_number(rest, "SUM", "SUM length is too large")?;
                Ok(Command::Sum { name, length })
            }
            "PUT" => {
                let rest = rest
                    .filter(|r| !r.is_empty())
                    .ok_or(CommandError::MissingName("PUT"))?;
                let Some((name, size)) = rest.rsplit_once(' ') else {
                    return Err(CommandError::BadNumber("PUT needs a name and a size"));
                };
                if name.is_empty() {
                    return Err(CommandError::MissingName("PUT"));
                }
                if !is_decimal(size) {
                    return Err(CommandError::BadNumber("PUT size must be a decimal number"));
                }
                Ok(Command::Put {
                    name: name.to_owned(),
                    size: number(size, "PUT size is too large")?,
                })
            }
            "AUTH" => match rest.and_then(|r| r.split_once(' ')) {
                Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                    Ok(Command::Auth {
                        user: user.to_owned(),
                        password: Password(password.to_owned()),
                    })
                }
                _ => Err(CommandError::MissingCredentials),
            },
            _ => Err(CommandError::Unknown(printable(keyword, 32))),
        }
    }

    /// Appends the command line, newline included. A GET whose name contains a
    /// space (or ends in digits) always carries its offset, so the server
    /// cannot mistake part of the name for one.
    pub fn emit(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Command::List => out.write_all(b"LIST\n"),
            Command::Quit => out.write_all(b"QUIT\n"),
            Command::Get { name, offset } if *offset == 0 && !name.contains(' ') => {
                writeln!(out, "GET {name}")
            }
            Command::Get { name, offset } => writeln!(out, "GET {name} {offset}"),
            Command::Put { name, size } => writeln!(out, "PUT {name} {size}"),
            Command::Sum { name, length: None } => writeln!(out, "SUM {name}"),
            Command::Sum {
                name,
                length: Some(length),
            } => writeln!(out, "SUM {name} {length}"),
            Command::Auth { user, password } => writeln!(out, "AUTH {user} {}", password.0),
            Command::ListDir { folder } => writeln!(out, "LIST {folder}"),
            Command::Mkdir { name } => writeln!(out, "MKDIR {name}"),
            Command::Delete { name } => writeln!(out, "DELETE {name}"),
            Command::Move { from, to } => writeln!(out, "MOVE {from}\t{to}"),
        };
    }
}

/// `<name> [<number>]`: the last word is the number when it is all digits
/// and a name comes before it.
fn name_and_number(
    rest: Option<&str>,
    keyword: &'static str,
    too_large: &'static str,
) -> Result<(String, Option<u64>), CommandError> {
    let rest = rest
        .filter(|r| !r.is_empty())
        .ok_or(CommandError::MissingName(keyword))?;
    match rest.rsplit_once(' ') {
        Some((name, n)) if !name.is_empty() && is_decimal(n) => {
            Ok((name.to_owned(), Some(number(n, too_large)?)))
        }
        _ => Ok((rest.to_owned(), None)),
    }
}

/// The rest of the line as one name (spaces included).
fn one_name(rest: Option<&str>, keyword: &'static str) -> Result<String, CommandError> {
    rest.filter(|r| !r.is_empty())
        .map(str::to_owned)
        .ok_or(CommandError::MissingName(keyword))
}

fn no_arguments(rest: Option<&str>, keyword: &'static str) -> Result<(), CommandError> {
    match rest {
        Some(r) if !r.trim().is_empty() => Err(CommandError::UnexpectedArgument(keyword)),
        _ => Ok(()),
    }
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn number(s: &str, too_large: &'static str) -> Result<u64, CommandError> {
    s.parse().map_err(|_| CommandError::BadNumber(too_large))
}

/// Keeps at most `max` characters of `s`, with control characters replaced, so
/// an echoed fragment of client input cannot forge reply lines.
pub fn printable(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// An ERR code: what went wrong, as a number a program can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrCode {
    /// 400: the command or name is malformed.
    BadRequest,
    /// 401: not logged in, and logging in (AUTH) may allow it; or a failed
    /// AUTH.
    Unauthorized,
    /// 403: the name leads outside the root, is not a regular file, uploads
    /// are off, or the logged-in user may not write there.
    Forbidden,
    /// 404: no such file (or, for PUT, no such directory).
    NotFound,
    /// 409: the name exists and overwriting is off.
    Exists,
    /// 413: the upload is larger than the server accepts.
    TooLarge,
    /// 429: too many failed logins from this address; wait for the minute to end.
    TooManyRequests,
    /// 500: an unexpected I/O error on the server.
    Internal,
    /// 507: the server's disk is full.
    NoSpace,
}

impl ErrCode {
    /// Every code.
    pub const ALL: [ErrCode; 9] = [
        ErrCode::BadRequest,
        ErrCode::Unauthorized,
        ErrCode::Forbidden,
        ErrCode::NotFound,
        ErrCode::Exists,
        ErrCode::TooLarge,
        ErrCode::TooManyRequests,
        ErrCode::Internal,
        ErrCode::NoSpace,
    ];

    /// The number on the wire.
    pub fn code(self) -> u16 {
        match self {
            ErrCode::BadRequest => 400,
            ErrCode::Unauthorized => 401,
            ErrCode::Forbidden => 403,
            ErrCode::NotFound => 404,
            ErrCode::Exists => 409,
            ErrCode::TooLarge => 413,
            ErrCode::TooManyRequests => 429,
            ErrCode::Internal => 500,
            ErrCode::NoSpace => 507,
        }
    }

    /// The code for a number, if it is one.
    pub fn from_code(code: u16) -> Option<ErrCode> {
        ErrCode::ALL.into_iter().find(|c| c.code() == code)
    }
}

impl fmt::Display for ErrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// Appends `ERR <code> <message>\n`; the message is made one printable line.
pub fn emit_err(out: &mut Vec<u8>, code: ErrCode, message: &str) {
    let _ = writeln!(out, "ERR {} {}", code.code(), printable(message, 512));
}

/// Appends `OK <value>\n` (a count, a byte count or a digest).
pub fn emit_ok(out: &mut Vec<u8>, value: impl fmt::Display) {
    let _ = writeln!(out, "OK {value}");
}

/// A digest as it goes on the wire (`OK <sha256-hex>`): lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends one LIST line, `<size> <mtime-unix> <name>\n`, or for a folder
/// (a name ending in `/`) `- <mtime-unix> <name>/\n`.
pub fn emit_entry(out: &mut Vec<u8>, entry: &ListEntry) {
    let _ = if entry.is_dir() {
        writeln!(out, "- {} {}", entry.mtime, entry.name)
    } else {
        writeln!(out, "{} {} {}", entry.size, entry.mtime, entry.name)
    };
}

/// One line of a LIST reply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ListEntry {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch (0 if unknown).
    pub mtime: u64,
    /// The name within the listed folder; a folder's ends in `/`.
    pub name: String,
}

impl ListEntry {
    /// Whether this is a folder (`- <mtime> <name>/` on the wire).
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }

    /// Parses `<size> <mtime> <name>` or `- <mtime> <name>/` (without the
    /// newline); a folder's size is 0.
    pub fn parse(line: &str) -> Option<ListEntry> {
        let mut parts = line.splitn(3, ' ');
        let size = match parts.next()? {
            "-" => 0,
            size => size.parse().ok()?,
        };
        let mtime = parts.next()?.parse().ok()?;
        let name = parts.next().filter(|n| !n.is_empty())?.to_owned();
        Some(ListEntry { size, mtime, name })
    }
}

/// A reply line as a client reads it (the payload that may follow is the
/// client's to read, by the count in `Ok`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// `OK <value>`: a count, a byte count or a digest, depending on the command.
    Ok(String),
    /// `READY`: send the PUT body now.
    Ready,
    /// `BYE`: the server closes.
    Bye,
    /// `ERR <code> <message>`; `code` is kept as a number so a newer server's
    /// codes still read.
    Err {
        /// The number.
        code: u16,
        /// The explanation.
        message: String,
    },
}

impl Reply {
    /// Parses a reply line (without the newline; a trailing `\r` is ignored).
    pub fn parse(line: &str) -> Option<Reply> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match line.split_once(' ') {
            None if line == "READY" => Some(Reply::Ready),
            None if line == "BYE" => Some(Reply::Bye),
            None if line == "OK" => Some(Reply::Ok(String::new())),
            Some(("OK", value)) => Some(Reply::Ok(value.to_owned())),
            Some(("ERR", rest)) => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                Some(Reply::Err {
                    code: code.parse().ok()?,
                    message: message.to_owned(),
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
