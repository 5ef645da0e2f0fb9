//! The relay's byte handling, without sockets or clocks: turning a byte stream
//! into lines ([`LineAssembler`]) and a line into one log record
//! ([`format_record`], [`rfc3339`]).
//!
//! TCP is a byte stream, not a message stream (the seed's 粘包 lesson): one
//! `recv` may carry many lines, or half of one. So each source — every client
//! and stdin — gets its own assembler that keeps the unterminated tail between
//! reads and hands out only complete lines.
//!
//! Decisions a learner should know:
//!
//! - **Bounded memory.** A line longer than the assembler's maximum (default
//!   [`MAX_LINE`], 64 KiB) is not buffered without bound: it is handed out in
//!   pieces of at most that many bytes, each but the last marked
//!   [`LineEnd::Split`]. A piece is cut before a UTF-8 sequence rather than
//!   through it. In the log, a split piece ends with a single unescaped `\`
//!   ("continued on the next record from this source"), as in a shell.
//! - **CRLF.** One `\r` before the `\n` is dropped, so `telnet`/`nc -C` clients
//!   log the same text as `nc`.
//! - **EOF.** [`LineAssembler::finish`] hands out an unterminated last line
//!   ([`LineEnd::Eof`]): nothing a client sent is lost because it forgot the
//!   final newline.
//! - **One record per log line.** Invalid UTF-8 becomes U+FFFD; `\` becomes
//!   `\\`, tab/CR/LF become `\t`/`\r`/`\n`, and every other control character
//!   becomes `\u{..}`. So a record can never break the log into two lines, and
//!   escapes are unambiguous.

use crate::date::Civil;
use std::fmt::Write as _;
use std::time::Duration;

/// The default longest line handed out whole (64 KiB).
pub const MAX_LINE: usize = 64 * 1024;

/// How a piece of text handed out by a [`LineAssembler`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// A complete line (its `\n`, and a `\r` before it, removed).
    Newline,
    /// The line was longer than the maximum: more of it follows.
    Split,
    /// The source ended without a final newline.
    Eof,
}

/// Splits one source's byte stream into lines, keeping partial tails between
/// pushes. Holds at most the maximum line length (plus one byte) in between.
#[derive(Debug, Clone)]
pub struct LineAssembler {
    partial: Vec<u8>,
    max: usize,
}

impl Default for LineAssembler {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl LineAssembler {
    /// An assembler that hands out lines of at most `max` bytes (at least 4,
    /// so that a UTF-8 character always fits in a piece).
    pub fn new(max: usize) -> Self {
        Self {
            partial: Vec::new(),
            max: max.max(4),
        }
    }

    /// Feeds bytes read from the source; calls `emit` for every line (or
    /// piece of an over-long line) they complete, in order.
    pub fn push(&mut self, mut input: &[u8], mut emit: impl FnMut(&[u8], LineEnd)) {
        while let Some(nl) = input.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&input[..nl], &input[nl + 1..]);
            if self.partial.is_empty() {
                self.emit_line(line, LineEnd::Newline, &mut emit);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.emit_line(&whole, LineEnd::Newline, &mut emit);
                whole.clear();
                self.partial = whole; // keep the allocation
            }
            input = rest;
        }
        self.partial.extend_from_slice(input);
        // One byte of slack: a `\r` at the limit may yet be followed by `\n`.
        while self.partial.len() > self.max + 1 {
            let cut = utf8_cut(&self.partial, self.max);
            emit(&self.partial[..cut], LineEnd::Split);
            self.partial.drain(..cut);
        }
    }

    /// The source ended: hands out the unterminated tail, if any.
    pub fn finish(&mut self, mut emit: impl FnMut(&[u8], LineEnd)) {
        if !self.partial.is_empty() {
            let tail = std::mem::take(&mut self.partial);
            self.emit_line(&tail, LineEnd::Eof, &mut emit);
        }
    }

    /// Bytes held back waiting for the rest of their line.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    fn emit_line(&self, mut line: &[u8], end: LineEnd, emit: &mut impl FnMut(&[u8], LineEnd)) {
        if end == LineEnd::Newline {
            line = line.strip_suffix(b"\r").unwrap_or(line);
        }
        while line.len() > self.max {
            let cut = utf8_cut(line, self.max);
            emit(&line[..cut], LineEnd::Split);
            line = &line[cut..];
        }
        emit(line, end);
    }
}

/// Where to cut `bytes` (longer than `max`) so no UTF-8 sequence is split:
/// back up over at most three continuation bytes.
fn utf8_cut(bytes: &[u8], max: usize) -> usize {
    let mut cut = max;
    while cut > max - 3 && bytes[cut] & 0xC0 == 0x80 {
        cut -= 1;
    }
    if bytes[cut] & 0xC0 == 0x80 {
        max // not UTF-8 anyway: cut where the limit says
    } else {
        cut
    }
}

/// Appends `text` to `out` as one log-safe line: lossy UTF-8, control
/// characters and `\` escaped (see the module doc).
pub fn escape_into(out: &mut String, text: &[u8]) {
    for c in String::from_utf8_lossy(text).chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            // U+2028/2029 end a line for some readers too.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// One log record, newline included: `<RFC 3339 UTC time> <source> <text>`,
/// with a trailing `\` on a piece of a split line.
pub fn format_record(since_epoch: Duration, source: &str, text: &[u8], end: LineEnd) -> String {
    let mut out = String::with_capacity(text.len() + source.len() + 32);
    out.push_str(&rfc3339(since_epoch));
    out.push(' ');
    out.push_str(source);
    out.push(' ');
    escape_into(&mut out, text);
    if end == LineEnd::Split {
        out.push('\\');
    }
    out.push('\n');
    out
}

/// Formats a time since the Unix epoch as RFC 3339 UTC with milliseconds,
/// e.g. `2024-02-29T13:45:07.250Z`.
pub fn rfc3339(since_epoch: Duration) -> String {
    let c = Civil::from_unix(since_epoch.as_secs());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        since_epoch.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(asm: &mut LineAssembler, chunks: &[&[u8]], eof: bool) -> Vec<(Vec<u8>, LineEnd)> {
        let mut got = Vec::new();
        for chunk in chunks {
            asm.push(chunk, |line, end| got.push((line.to_vec(), end)));
        }
        if eof {
            asm.finish(|line, end| got.push((line.to_vec(), end)));
        }
        got
    }

    fn lines(items: &[(&str, LineEnd)]) -> Vec<(Vec<u8>, LineEnd)> {
        items
            .iter()
            .map(|(s, e)| (s.as_bytes().to_vec(), *e))
            .collect()
    }

    use LineEnd::{Eof, Newline, Split};

    #[test]
    fn many_lines_in_one_push() {
        let mut asm = LineAssembler::default();
        let got = run(&mut asm, &[b"a\nbb\n\nccc\n"], false);
        assert_eq!(
            got,
            lines(&[
                ("a", Newline),
                ("bb", Newline),
                ("", Newline),
                ("ccc", Newline)
            ])
        );
        assert_eq!(asm.pending(), 0);
    }

    #[test]
    fn partial_tail_is_kept_across_pushes() {
        let mut asm = LineAssembler::default();
        let got = run(&mut asm, &[b"he", b"llo wo", b"rld\nsec", b"ond\n"], false);
        assert_eq!(got, lines(&[("hello world", Newline), ("second", Newline)]));
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once() {
        let input = b"one\r\ntwo\nthree";
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        let a = run(&mut LineAssembler::new(4), &chunks, true);
        let b = run(&mut LineAssembler::new(4), &[input], true);
        assert_eq!(a, b);
        assert_eq!(
            a,
            lines(&[
                ("one", Newline),
                ("two", Newline),
                ("thre", Split),
                ("e", Eof)
            ])
        );
    }

    #[test]
    fn crlf_loses_only_the_cr_before_the_newline() {
        let mut asm = LineAssembler::default();
        let got = run(&mut asm, &[b"a\r\nb\rc\n\r\r\n"], false);
        assert_eq!(
            got,
            lines(&[("a", Newline), ("b\rc", Newline), ("\r", Newline)])
        );
    }

    #[test]
    fn unterminated_last_line_is_flushed_at_eof_once() {
        let mut asm = LineAssembler::default();
        assert_eq!(
            run(&mut asm, &[b"x\ntail"], true),
            lines(&[("x", Newline), ("tail", Eof)])
        );
        assert!(
            run(&mut asm, &[], true).is_empty(),
            "finish twice emits nothing more"
        );
    }

    #[test]
    fn over_long_line_comes_out_in_bounded_pieces() {
        let mut asm = LineAssembler::new(8);
        let got = run(
            &mut asm,
            &[b"0123456789", b"abcdefghij", b"XY\nok\n"],
            false,
        );
        assert_eq!(
            got,
            lines(&[
                ("01234567", Split),
                ("89abcdef", Split),
                ("ghijXY", Newline),
                ("ok", Newline)
            ])
        );
        // Never more than max + 1 bytes held between pushes.
        asm.push(&[b'z'; 1000], |_, _| {});
        assert!(asm.pending() <= 9);
    }

    #[test]
    fn a_line_of_exactly_max_bytes_is_not_split_even_with_crlf() {
        let mut asm = LineAssembler::new(4);
        let got = run(&mut asm, &[b"abcd\r", b"\nefgh\n"], false);
        assert_eq!(got, lines(&[("abcd", Newline), ("efgh", Newline)]));
    }

    #[test]
    fn pieces_are_cut_before_a_utf8_sequence() {
        let mut asm = LineAssembler::new(4);
        // "ab" + "é" (2 bytes) + "€" (3 bytes): a cut at 4 would split the euro sign.
        let got = run(&mut asm, &["abé€x\n".as_bytes()], false);
        assert_eq!(got, lines(&[("abé", Split), ("€x", Newline)]));
        for (piece, _) in &got {
            assert!(std::str::from_utf8(piece).is_ok());
        }
    }

    #[test]
    fn escaping_keeps_one_record_per_line() {
        let mut s = String::new();
        escape_into(&mut s, b"a\\b\tc\x01d\x7f\xffe\r\n");
        assert_eq!(s, "a\\\\b\\tc\\u{1}d\\u{7f}\u{fffd}e\\r\\n");
        let mut s = String::new();
        escape_into(&mut s, "naïve \u{85}\u{2028}".as_bytes());
        assert_eq!(s, "naïve \\u{85}\\u{2028}");
    }

    #[test]
    fn record_format() {
        let t = Duration::from_millis(951_782_400_250);
        assert_eq!(
            format_record(t, "stdin", b"hi", Newline),
            "2000-02-29T00:00:00.250Z stdin hi\n"
        );
        assert_eq!(
            format_record(t, "127.0.0.1:9", b"ab\\", Split),
            "2000-02-29T00:00:00.250Z 127.0.0.1:9 ab\\\\\\\n"
        );
    }

    #[test]
    fn rfc3339_matches_known_dates() {
        // Checked against `date -u -d @N +%FT%TZ`.
        for (secs, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (68_169_600, "1972-02-29T00:00:00.000Z"),
            (951_868_799, "2000-02-29T23:59:59.000Z"),
            (978_307_200, "2001-01-01T00:00:00.000Z"),
            (1_709_210_096, "2024-02-29T12:34:56.000Z"),
            (4_102_444_799, "2099-12-31T23:59:59.000Z"),
            (4_107_542_400, "2100-03-01T00:00:00.000Z"),
        ] {
            assert_eq!(rfc3339(Duration::from_secs(secs)), want, "{secs}");
        }
    }
}
