//! Netascii (RFC 764 as used by RFC 1350): LF ↔ CR LF and CR ↔ CR NUL, streaming.
//!
//! Both directions keep one byte of state, because a pair can be split across
//! two blocks: a block may end with the CR of a CR LF whose LF starts the next
//! block. The encoder ([`NetasciiReader`]) wraps any reader and yields the wire
//! form, so a sender can cut it into blocks of exactly `blksize` bytes; the
//! decoder ([`NetasciiDecoder`]) is fed blocks and remembers a trailing CR.
//!
//! ```text
//!   local  "a\nb\rc"   ──encode──▶   wire "a\r\nb\r\0c"   ──decode──▶  "a\nb\rc"
//! ```

use std::io::{self, Read};

/// Reads local text and yields netascii.
#[derive(Debug)]
pub struct NetasciiReader<R> {
    inner: R,
    raw: Box<[u8]>,
    pos: usize,
    len: usize,
    /// The second byte of a pair that did not fit in the caller's buffer.
    pending: Option<u8>,
}

impl<R: Read> NetasciiReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            raw: vec![0; 16 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            pending: None,
        }
    }
}

impl<R: Read> Read for NetasciiReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if let Some(b) = self.pending.take() {
                buf[n] = b;
                n += 1;
                continue;
            }
            if self.pos == self.len {
                if n > 0 {
                    break; // hand over what we have rather than block for more
                }
                self.len = self.inner.read(&mut self.raw)?;
                self.pos = 0;
                if self.len == 0 {
                    break;
                }
            }
            let b = self.raw[self.pos];
            self.pos += 1;
            let (first, second) = match b {
                b'\n' => (b'\r', Some(b'\n')),
                b'\r' => (b'\r', Some(0)),
                other => (other, None),
            };
            buf[n] = first;
            n += 1;
            self.pending = second;
        }
        Ok(n)
    }
}

/// Turns netascii blocks back into local text.
#[derive(Debug, Default)]
pub struct NetasciiDecoder {
    /// The previous block ended with a CR whose partner is still to come.
    cr: bool,
}

impl NetasciiDecoder {
    /// A decoder at the start of a file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one block, appending to `out`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &b in input {
            if self.cr {
                self.cr = false;
                match b {
                    b'\n' => out.push(b'\n'),
                    0 => out.push(b'\r'),
                    b'\r' => {
                        // A bare CR (not valid netascii): keep it, and this one
                        // starts a new pair.
                        out.push(b'\r');
                        self.cr = true;
                    }
                    other => out.extend_from_slice(&[b'\r', other]),
                }
            } else if b == b'\r' {
                self.cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// The file ended: a dangling CR is kept as it was.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(data: &[u8], chunk: usize) -> Vec<u8> {
        let mut r = NetasciiReader::new(data);
        let mut out = Vec::new();
        let mut buf = vec![0; chunk];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn decode(wire: &[u8], chunk: usize) -> Vec<u8> {
        let mut d = NetasciiDecoder::new();
        let mut out = Vec::new();
        for block in wire.chunks(chunk.max(1)) {
            d.decode(block, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn encodes_line_ends_and_bare_cr() {
        assert_eq!(encode(b"a\nb\rc\r\n", 100), b"a\r\nb\r\0c\r\0\r\n");
        assert_eq!(encode(b"", 100), b"");
    }

    #[test]
    fn pairs_split_across_blocks_survive() {
        let text = b"\n\r\nab\r\r\n\nxyz\r";
        let wire = encode(text, 100);
        for chunk in 1..wire.len() + 1 {
            assert_eq!(encode(text, chunk), wire, "encode in {chunk}-byte reads");
            assert_eq!(decode(&wire, chunk), text, "decode in {chunk}-byte blocks");
        }
    }

    #[test]
    fn a_cr_that_ends_a_block_waits_for_the_next() {
        let mut d = NetasciiDecoder::new();
        let mut out = Vec::new();
        d.decode(b"line\r", &mut out);
        assert_eq!(out, b"line");
        d.decode(b"\nnext\r", &mut out);
        assert_eq!(out, b"line\nnext");
        d.decode(b"\0", &mut out);
        assert_eq!(out, b"line\nnext\r");
    }

    #[test]
    fn lenient_with_invalid_pairs() {
        assert_eq!(decode(b"a\rb", 10), b"a\rb");
        assert_eq!(decode(b"a\r\r\n", 10), b"a\r\n");
        assert_eq!(decode(b"end\r", 10), b"end\r");
    }
}
