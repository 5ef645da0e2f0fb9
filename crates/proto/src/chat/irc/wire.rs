//! IRC lines (RFC 1459 / 2812 framing): parsing a client's line into a command
//! and its parameters, and writing the server's lines safely.
//!
//! A line is at most 512 bytes with its CR LF. Text that came from elsewhere
//! (a UDP member's message can hold 1,000 bytes, and any byte but NUL) never
//! smuggles a line break into the stream: [`Out::line`] replaces CR, LF and NUL,
//! and [`split_text`] cuts long text at character boundaries.

/// The longest IRC line, CR LF included.
pub const MAX_LINE: usize = 512;

/// One client line, parsed. Tags and a prefix are accepted and ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The command, upper-cased.
    pub command: String,
    /// The parameters; the last may contain spaces (it followed a `:`).
    pub params: Vec<&'a str>,
}

impl<'a> Line<'a> {
    /// Parses one line without its line ending. `None` for a blank line.
    pub fn parse(line: &'a str) -> Option<Line<'a>> {
        let mut rest = line.trim_start_matches(' ');
        if rest.starts_with('@') {
            rest = rest
                .split_once(' ')
                .map_or("", |(_, r)| r)
                .trim_start_matches(' ');
        }
        if rest.starts_with(':') {
            rest = rest
                .split_once(' ')
                .map_or("", |(_, r)| r)
                .trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing);
                break;
            }
            let (param, more) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param);
            rest = more;
        }
        Some(Line {
            command: command.to_ascii_uppercase(),
            params,
        })
    }
}

/// Server output being assembled.
#[derive(Debug, Default)]
pub struct Out {
    /// Bytes to send.
    pub bytes: Vec<u8>,
}

impl Out {
    /// Appends one line made of `parts` joined by spaces, the last given as a
    /// trailing parameter (`:` first) when `trailing` is set; CR, LF and NUL in
    /// any part become spaces, and the line is cut to fit [`MAX_LINE`].
    pub fn line(&mut self, parts: &[&str], trailing: Option<&str>) {
        let start = self.bytes.len();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                self.bytes.push(b' ');
            }
            self.put(part);
        }
        if let Some(text) = trailing {
            self.bytes.extend_from_slice(b" :");
            self.put(text);
        }
        let mut end = self.bytes.len();
        if end - start > MAX_LINE - 2 {
            end = start + MAX_LINE - 2;
            // Back up to a character boundary.
            while end > start && (self.bytes[end] & 0xC0) == 0x80 {
                end -= 1;
            }
            self.bytes.truncate(end);
        }
        self.bytes.extend_from_slice(b"\r\n");
    }

    fn put(&mut self, text: &str) {
        self.bytes.extend(text.bytes().map(|b| match b {
            b'\r' | b'\n' | 0 => b' ',
            b => b,
        }));
    }
}

/// Cuts `text` into pieces of at most `max` bytes at character boundaries.
pub fn split_text(text: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, more) = rest.split_at(cut);
        pieces.push(piece);
        rest = more;
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        let l = Line::parse("privmsg #netkit :hello there").unwrap();
        assert_eq!(l.command, "PRIVMSG");
        assert_eq!(l.params, ["#netkit", "hello there"]);
        let l = Line::parse("@time=x :nick!u@h JOIN  #netkit").unwrap();
        assert_eq!((l.command.as_str(), l.params), ("JOIN", vec!["#netkit"]));
        let l = Line::parse("USER u 0 * :Real Name").unwrap();
        assert_eq!(l.params, ["u", "0", "*", "Real Name"]);
        assert_eq!(Line::parse("PING :").unwrap().params, [""]);
        assert!(Line::parse("").is_none());
        assert!(Line::parse(":prefix").is_none());
    }

    #[test]
    fn output_never_breaks_lines_and_fits() {
        let mut out = Out::default();
        out.line(&[":a!a@h", "PRIVMSG", "#netkit"], Some("evil\r\nQUIT :x\0"));
        assert_eq!(out.bytes, b":a!a@h PRIVMSG #netkit :evil  QUIT :x \r\n");
        let mut out = Out::default();
        out.line(&["X"], Some(&"é".repeat(600)));
        assert!(out.bytes.len() <= MAX_LINE);
        assert!(std::str::from_utf8(&out.bytes).is_ok());
        assert_eq!(split_text("aébc", 2), ["a", "é", "bc"]);
    }
}
