//! TFTP packets as bytes: typed parse and emit, nothing else.
//!
//! ```text
//!   RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | …
//!   DATA     | 03    | block (u16)  | 0–blksize bytes
//!   ACK      | 04    | block (u16)
//!   ERROR    | 05    | code (u16)   | message | 0
//!   OACK     | 06    | opt1 | 0 | value1 | 0 | …            (RFC 2347)
//! ```
//!
//! Parsing borrows from the datagram; it never panics and never allocates more
//! than the option list. [`Options`] is the typed view of the negotiable options
//! (blksize, timeout, tsize, windowsize): unknown names and out-of-range values are
//! dropped, as RFC 2347 lets a server ignore what it does not support.

/// Read request.
pub const OP_RRQ: u16 = 1;
/// Write request.
pub const OP_WRQ: u16 = 2;
/// A block of data.
pub const OP_DATA: u16 = 3;
/// Acknowledgement of a block.
pub const OP_ACK: u16 = 4;
/// An error; ends the transfer.
pub const OP_ERROR: u16 = 5;
/// Option acknowledgement.
pub const OP_OACK: u16 = 6;

/// The default block size of RFC 1350.
pub const DEFAULT_BLKSIZE: usize = 512;
/// The smallest block size RFC 2348 allows.
pub const MIN_BLKSIZE: usize = 8;
/// The largest block size RFC 2348 allows (fits one UDP datagram over IPv4).
pub const MAX_BLKSIZE: usize = 65_464;
/// The largest request a server accepts (the classic 512-byte packet).
pub const MAX_REQUEST: usize = 512;

/// Whether a request reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// RRQ: the server sends the file.
    Read,
    /// WRQ: the client sends the file.
    Write,
}

/// The transfer mode of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Text with CR LF line ends and CR NUL for a bare CR.
    Netascii,
    /// Raw bytes.
    Octet,
}

impl Mode {
    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Netascii => "netascii",
            Mode::Octet => "octet",
        }
    }
}

/// TFTP error codes (RFC 1350, 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    /// Not defined, see the message.
    NotDefined = 0,
    /// File not found.
    FileNotFound = 1,
    /// Access violation.
    AccessViolation = 2,
    /// Disk full or allocation exceeded.
    DiskFull = 3,
    /// Illegal TFTP operation.
    IllegalOperation = 4,
    /// Unknown transfer ID.
    UnknownTid = 5,
    /// File already exists.
    FileExists = 6,
    /// No such user.
    NoSuchUser = 7,
    /// Option negotiation refused.
    OptionRefused = 8,
}

/// One parsed packet, borrowing from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// RRQ or WRQ.
    Request {
        /// Read or write.
        direction: Direction,
        /// The file name as sent (not yet checked).
        filename: &'a [u8],
        /// Transfer mode.
        mode: Mode,
        /// Options in the order sent.
        options: Vec<(&'a str, &'a str)>,
    },
    /// DATA.
    Data {
        /// Block number.
        block: u16,
        /// Payload.
        data: &'a [u8],
    },
    /// ACK.
    Ack {
        /// Block number.
        block: u16,
    },
    /// ERROR.
    Error {
        /// Error code (any value a peer sends).
        code: u16,
        /// Message, lossily decoded.
        message: String,
    },
    /// OACK.
    Oack {
        /// Accepted options.
        options: Vec<(&'a str, &'a str)>,
    },
}

/// Why a datagram is not a TFTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Shorter than its fixed fields.
    #[error("packet too short")]
    TooShort,
    /// An opcode outside 1–6.
    #[error("unknown opcode {0}")]
    UnknownOpcode(u16),
    /// A string field lacks its NUL terminator.
    #[error("missing NUL terminator")]
    Unterminated,
    /// A mode or option is not valid UTF-8.
    #[error("text field is not UTF-8")]
    NotUtf8,
    /// A mode other than netascii or octet (mail is obsolete).
    #[error("unsupported transfer mode")]
    BadMode,
    /// An option name without its value.
    #[error("option without a value")]
    OddOptions,
}

fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*buf.get(at)?, *buf.get(at + 1)?]))
}

/// Splits NUL-terminated fields; the last must be terminated too.
fn fields(buf: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    if buf.is_empty() {
        return Ok(Vec::new());
    }
    if buf.last() != Some(&0) {
        return Err(WireError::Unterminated);
    }
    Ok(buf[..buf.len() - 1].split(|&b| b == 0).collect())
}

fn text(b: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(b).map_err(|_| WireError::NotUtf8)
}

fn option_pairs<'a>(fields: &[&'a [u8]]) -> Result<Vec<(&'a str, &'a str)>, WireError> {
    if !fields.len().is_multiple_of(2) {
        return Err(WireError::OddOptions);
    }
    fields
        .chunks(2)
        .map(|kv| Ok((text(kv[0])?, text(kv[1])?)))
        .collect()
}

/// Parses one datagram.
pub fn parse(buf: &[u8]) -> Result<Packet<'_>, WireError> {
    let op = u16_at(buf, 0).ok_or(WireError::TooShort)?;
    let body = &buf[2..];
    match op {
        OP_RRQ | OP_WRQ => {
            let f = fields(body)?;
            if f.len() < 2 {
                return Err(WireError::Unterminated);
            }
            let mode = match text(f[1])?.to_ascii_lowercase().as_str() {
                "octet" => Mode::Octet,
                "netascii" => Mode::Netascii,
                _ => return Err(WireError::BadMode),
            };
            Ok(Packet::Request {
                direction: if op == OP_RRQ {
                    Direction::Read
                } else {
                    Direction::Write
                },
                filename: f[0],
                mode,
                options: option_pairs(&f[2..])?,
            })
        }
        OP_DATA => Ok(Packet::Data {
            block: u16_at(buf, 2).ok_or(WireError::TooShort)?,
            data: &buf[4.min(buf.len())..],
        }),
        OP_ACK => Ok(Packet::Ack {
            block: u16_at(buf, 2).ok_or(WireError::TooShort)?,
        }),
        OP_ERROR => {
            let code = u16_at(buf, 2).ok_or(WireError::TooShort)?;
            let msg = &buf[4..];
            // Lenient: many stacks forget the terminator of the message.
            let end = msg.iter().position(|&b| b == 0).unwrap_or(msg.len());
            Ok(Packet::Error {
                code,
                message: String::from_utf8_lossy(&msg[..end]).into_owned(),
            })
        }
        OP_OACK => Ok(Packet::Oack {
            options: option_pairs(&fields(body)?)?,
        }),
        other => Err(WireError::UnknownOpcode(other)),
    }
}

/// Appends a request.
pub fn emit_request(
    out: &mut Vec<u8>,
    direction: Direction,
    filename: &str,
    mode: Mode,
    options: &[(String, String)],
) {
    let op = match direction {
        Direction::Read => OP_RRQ,
        Direction::Write => OP_WRQ,
    };
    out.extend_from_slice(&op.to_be_bytes());
    for field in [filename, mode.name()] {
        out.extend_from_slice(field.as_bytes());
        out.push(0);
    }
    emit_pairs(out, options);
}

fn emit_pairs(out: &mut Vec<u8>, options: &[(String, String)]) {
    for (k, v) in options {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
}

/// Appends a DATA header; the payload follows.
pub fn emit_data_header(out: &mut Vec<u8>, block: u16) {
    out.extend_from_slice(&data_header(block));
}

/// The 4 bytes that start a DATA packet for `block`.
pub fn data_header(block: u16) -> [u8; 4] {
    let [a, b] = OP_DATA.to_be_bytes();
    let [c, d] = block.to_be_bytes();
    [a, b, c, d]
}

/// An ACK packet.
pub fn ack(block: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(4);
    out.extend_from_slice(&OP_ACK.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out
}

/// An ERROR packet.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&OP_ERROR.to_be_bytes());
    out.extend_from_slice(&(code as u16).to_be_bytes());
    out.extend(message.bytes().filter(|&b| b != 0));
    out.push(0);
    out
}

/// An OACK packet.
pub fn oack(options: &[(String, String)]) -> Vec<u8> {
    let mut out = OP_OACK.to_be_bytes().to_vec();
    emit_pairs(&mut out, options);
    out
}

/// The negotiable options, typed. `None` means not asked for (or dropped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// blksize, 8–65464 (RFC 2348).
    pub blksize: Option<usize>,
    /// timeout in seconds, 1–255 (RFC 2349).
    pub timeout: Option<u8>,
    /// tsize: transfer size in bytes (RFC 2349).
    pub tsize: Option<u64>,
    /// windowsize, 1–65535 (RFC 7440).
    pub windowsize: Option<u16>,
}

impl Options {
    /// Reads the options it knows from a list. Names are case-insensitive;
    /// unknown names and malformed or out-of-range values are ignored. A blksize
    /// above the maximum is lowered to it (RFC 2348 lets the answer be smaller).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Options {
        let mut o = Options::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "blksize" => {
                    o.blksize = v
                        .parse::<u64>()
                        .ok()
                        .filter(|&n| n >= MIN_BLKSIZE as u64)
                        .map(|n| n.min(MAX_BLKSIZE as u64) as usize)
                }
                "timeout" => o.timeout = v.parse::<u8>().ok().filter(|&n| n >= 1),
                "tsize" => o.tsize = v.parse().ok(),
                "windowsize" => o.windowsize = v.parse::<u16>().ok().filter(|&n| n >= 1),
                _ => {}
            }
        }
        o
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == Options::default()
    }

    /// The options as name/value pairs, in a fixed order.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push((k.to_owned(), v));
            }
        };
        push("blksize", self.blksize.map(|n| n.to_string()));
        push("timeout", self.timeout.map(|n| n.to_string()));
        push("tsize", self.tsize.map(|n| n.to_string()));
        push("windowsize", self.windowsize.map(|n| n.to_string()));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_with_options() {
        let p = parse(b"\0\x01dir/a.bin\0OCTET\0blksize\x001468\0tsize\x000\0x\0y\0").unwrap();
        let Packet::Request {
            direction,
            filename,
            mode,
            options,
        } = p
        else {
            panic!("not a request: {p:?}")
        };
        assert_eq!(direction, Direction::Read);
        assert_eq!(filename, b"dir/a.bin");
        assert_eq!(mode, Mode::Octet);
        let o = Options::from_pairs(&options);
        assert_eq!(o.blksize, Some(1468));
        assert_eq!(o.tsize, Some(0));
        assert_eq!(o.timeout, None);
    }

    #[test]
    fn rejects_malformed_packets() {
        assert_eq!(parse(b""), Err(WireError::TooShort));
        assert_eq!(parse(b"\0"), Err(WireError::TooShort));
        assert_eq!(parse(b"\0\x09"), Err(WireError::UnknownOpcode(9)));
        assert_eq!(parse(b"\0\x01a\0octet"), Err(WireError::Unterminated));
        assert_eq!(parse(b"\0\x01a\0"), Err(WireError::Unterminated));
        assert_eq!(parse(b"\0\x02a\0mail\0"), Err(WireError::BadMode));
        assert_eq!(parse(b"\0\x01a\0octet\0k\0"), Err(WireError::OddOptions));
        assert_eq!(parse(b"\0\x04\0"), Err(WireError::TooShort));
        assert_eq!(parse(b"\0\x03\x01"), Err(WireError::TooShort));
    }

    #[test]
    fn data_ack_error_round_trip() {
        let mut d = Vec::new();
        emit_data_header(&mut d, 65535);
        d.extend_from_slice(b"hi");
        assert_eq!(
            parse(&d),
            Ok(Packet::Data {
                block: 65535,
                data: b"hi"
            })
        );
        assert_eq!(parse(&ack(7)), Ok(Packet::Ack { block: 7 }));
        let e = error(ErrorCode::UnknownTid, "who\0are you");
        assert_eq!(
            parse(&e),
            Ok(Packet::Error {
                code: 5,
                message: "whoare you".into()
            })
        );
        assert_eq!(
            parse(b"\0\x05\0\x01no terminator"),
            Ok(Packet::Error {
                code: 1,
                message: "no terminator".into()
            })
        );
    }

    #[test]
    fn options_are_checked_and_clamped() {
        let o = Options::from_pairs(&[
            ("BLKSIZE", "70000"),
            ("timeout", "0"),
            ("windowsize", "16"),
            ("tsize", "abc"),
        ]);
        assert_eq!(o.blksize, Some(MAX_BLKSIZE));
        assert_eq!(o.timeout, None);
        assert_eq!(o.windowsize, Some(16));
        assert_eq!(o.tsize, None);
        assert_eq!(Options::from_pairs(&[("blksize", "7")]).blksize, None);
        assert_eq!(Options::from_pairs(&[("timeout", "256")]).timeout, None);
        let pairs = o.to_pairs();
        let packet = oack(&pairs);
        let Ok(Packet::Oack { options }) = parse(&packet) else {
            panic!("not an OACK")
        };
        assert_eq!(Options::from_pairs(&options), o);
    }
}
