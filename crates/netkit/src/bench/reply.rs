//! Where one reply ends in the bytes read so far — the load generator's only
//! parsing, kept to framing so it costs little next to the server's work.
//!
//! An HTTP reply is a head (found and read by `httparse`, no allocation) and a
//! body framed by `Content-Length`, `Transfer-Encoding: chunked`, or the end of
//! the connection; the body's bytes are skipped, never copied. An echo reply is
//! exactly the bytes sent, compared as they arrive.
//!
//! The caller owns the buffer: [`ReplyParser::advance`] is handed the unread
//! bytes and says how many it consumed and whether a reply is complete.

/// What a complete reply said that the load generator cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The HTTP status (200 for an echo round trip).
    pub(crate) status: u16,
    /// Whether the connection may carry another request.
    pub(crate) keep_alive: bool,
}

/// The outcome of feeding bytes to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The reply is not complete yet: read more.
    NeedMore,
    /// One reply ended.
    Done(Reply),
    /// The bytes are not a reply we can frame.
    Invalid(&'static str),
}

/// What kind of reply to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// An HTTP/1.x response; `head_request` means no body follows the head.
    Http { head_request: bool },
    /// The same `len` bytes that were sent.
    Echo { len: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailer,
    UntilClose,
    Echo(usize),
}

/// Frames one reply at a time; [`ReplyParser::reset`] before each request.
#[derive(Debug, Clone)]
pub(crate) struct ReplyParser {
    expect: Expect,
    state: State,
    status: u16,
    keep_alive: bool,
}

const MAX_HEADERS: usize = 64;

impl ReplyParser {
    pub(crate) fn new(expect: Expect) -> Self {
        let mut parser = ReplyParser {
            expect,
            state: State::Head,
            status: 0,
            keep_alive: true,
        };
        parser.reset();
        parser
    }

    /// Gets ready for the reply to the next request.
    pub(crate) fn reset(&mut self) {
        self.state = match self.expect {
            Expect::Http { .. } => State::Head,
            Expect::Echo { len } => State::Echo(len),
        };
        self.status = if matches!(self.expect, Expect::Echo { .. }) {
            200
        } else {
            0
        };
        self.keep_alive = true;
    }

    /// Whether any byte of the current reply has been consumed.
    pub(crate) fn started(&self) -> bool {
        match self.state {
            State::Head => false,
            State::Echo(left) => !matches!(self.expect, Expect::Echo { len } if len == left),
            _ => true,
        }
    }

    /// Consumes what it can of `buf`; `sent` is the request (echo replies are
    /// compared with it). Returns the bytes consumed and the outcome.
    pub(crate) fn advance(&mut self, buf: &[u8], sent: &[u8]) -> (usize, Step) {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match self.state {
                State::Head => match self.head(rest) {
                    Ok(Some(n)) => used += n,
                    Ok(None) => return (used, Step::NeedMore),
                    Err(why) => return (used, Step::Invalid(why)),
                },
                State::Body(0) => return (used, self.done()),
                State::Body(left) => {
                    let n = left.min(rest.len() as u64);
                    used += n as usize;
                    self.state = State::Body(left - n);
                    if n == 0 {
                        return (used, Step::NeedMore);
                    }
                }
                State::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, 0))) => {
                        used += n;
                        self.state = State::Trailer;
                    }
                    Ok(httparse::Status::Complete((n, size))) => {
                        used += n;
                        self.state = State::ChunkData(size);
                    }
                    Ok(httparse::Status::Partial) => return (used, Step::NeedMore),
                    Err(_) => return (used, Step::Invalid("bad chunk size")),
                },
                State::ChunkData(0) => self.state = State::ChunkEnd,
                State::ChunkData(left) => {
                    let n = left.min(rest.len() as u64);
                    if n == 0 {
                        return (used, Step::NeedMore);
                    }
                    used += n as usize;
                    self.state = State::ChunkData(left - n);
                }
                State::ChunkEnd => match rest {
                    [b'\r', b'\n', ..] => {
                        used += 2;
                        self.state = State::ChunkSize;
                    }
                    [] | [b'\r'] => return (used, Step::NeedMore),
                    _ => return (used, Step::Invalid("chunk not followed by CRLF")),
                },
                State::Trailer => match find_line_end(rest) {
                    Some(0) => {
                        used += 2;
                        return (used, self.done());
                    }
                    Some(n) => used += n + 2,
                    None => return (used, Step::NeedMore),
                },
                State::UntilClose => return (buf.len(), Step::NeedMore),
                State::Echo(0) => return (used, self.done()),
                State::Echo(left) => {
                    let n = left.min(rest.len());
                    if n == 0 {
                        return (used, Step::NeedMore);
                    }
                    let at = sent.len() - left;
                    if rest[..n] != sent[at..at + n] {
                        return (used, Step::Invalid("echo differs from what was sent"));
                    }
                    used += n;
                    self.state = State::Echo(left - n);
                }
            }
        }
    }

    /// The peer closed the connection: a reply framed by the close ends here;
    /// any other unfinished reply is short.
    pub(crate) fn eof(&mut self) -> Option<Reply> {
        (self.state == State::UntilClose).then_some(Reply {
            status: self.status,
            keep_alive: false,
        })
    }

    fn done(&mut self) -> Step {
        Step::Done(Reply {
            status: self.status,
            keep_alive: self.keep_alive,
        })
    }

    /// Parses a head if one is complete; returns its length.
    fn head(&mut self, buf: &[u8]) -> Result<Option<usize>, &'static str> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err("malformed response head"),
        };
        let status = response.code.unwrap_or(0);
        let mut keep_alive = response.version == Some(1);
        let mut length = None;
        let mut chunked = false;
        for h in response.headers.iter() {
            if h.name.eq_ignore_ascii_case("content-length") {
                let text = std::str::from_utf8(h.value).map_err(|_| "bad Content-Length")?;
                length = Some(
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| "bad Content-Length")?,
                );
            } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = contains_token(h.value, b"chunked");
            } else if h.name.eq_ignore_ascii_case("connection") {
                if contains_token(h.value, b"close") {
                    keep_alive = false;
                } else if contains_token(h.value, b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
        self.status = status;
        self.keep_alive = keep_alive;
        let head_request = matches!(self.expect, Expect::Http { head_request: true });
        self.state = if (100..200).contains(&status) {
            State::Head // an interim reply; the real one follows
        } else if head_request || status == 204 || status == 304 {
            State::Body(0)
        } else if chunked {
            State::ChunkSize
        } else if let Some(n) = length {
            State::Body(n)
        } else {
            self.keep_alive = false;
            State::UntilClose
        };
        Ok(Some(len))
    }
}

fn find_line_end(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn contains_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http() -> ReplyParser {
        ReplyParser::new(Expect::Http {
            head_request: false,
        })
    }

    /// Feeds `bytes` in pieces of `step` and returns every reply and the bytes used.
    fn feed(parser: &mut ReplyParser, bytes: &[u8], step: usize) -> (Vec<Step>, usize) {
        let mut steps = Vec::new();
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut used_total = 0;
        while fed < bytes.len() {
            let end = (fed + step).min(bytes.len());
            buf.extend_from_slice(&bytes[fed..end]);
            fed = end;
            loop {
                let (used, s) = parser.advance(&buf, b"");
                buf.drain(..used);
                used_total += used;
                match s {
                    Step::NeedMore => break,
                    Step::Invalid(_) => {
                        steps.push(s);
                        return (steps, used_total);
                    }
                    other => {
                        steps.push(other);
                        parser.reset();
                    }
                }
            }
        }
        (steps, used_total)
    }

    #[test]
    fn content_length_and_chunked_replies_end_where_they_should_in_any_pieces() {
        let two = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX: y\r\n\r\n";
        for step in [1, 2, 7, two.len()] {
            let (steps, used) = feed(&mut http(), two, step);
            assert_eq!(used, two.len(), "step {step}");
            assert_eq!(
                steps,
                vec![
                    Step::Done(Reply {
                        status: 200,
                        keep_alive: true
                    }),
                    Step::Done(Reply {
                        status: 500,
                        keep_alive: true
                    }),
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn close_and_http10_end_keep_alive_and_an_unframed_body_ends_at_eof() {
        let (steps, _) = feed(
            &mut http(),
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            3,
        );
        assert_eq!(
            steps,
            vec![Step::Done(Reply {
                status: 200,
                keep_alive: false
            })]
        );
        let mut p = http();
        let (steps, _) = feed(&mut p, b"HTTP/1.0 200 OK\r\n\r\nbody...", 4);
        assert!(steps.is_empty());
        assert_eq!(
            p.eof(),
            Some(Reply {
                status: 200,
                keep_alive: false
            })
        );
        let mut p = http();
        let _ = feed(
            &mut p,
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            4,
        );
        assert_eq!(p.eof(), None, "a short body is not a reply");
    }

    #[test]
    fn head_requests_204_304_and_interim_replies_have_no_body() {
        let mut p = ReplyParser::new(Expect::Http { head_request: true });
        let (steps, _) = feed(&mut p, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 5);
        assert_eq!(steps.len(), 1);
        let (steps, _) = feed(
            &mut http(),
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n",
            6,
        );
        assert_eq!(
            steps,
            vec![Step::Done(Reply {
                status: 304,
                keep_alive: true
            })]
        );
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab",
        ] {
            let (steps, _) = feed(&mut http(), bad, 3);
            assert!(matches!(steps.as_slice(), [Step::Invalid(_)]), "{bad:?}");
        }
    }

    #[test]
    fn echo_replies_are_compared_with_what_was_sent() {
        let sent = b"0123456789";
        let mut p = ReplyParser::new(Expect::Echo { len: sent.len() });
        assert!(!p.started());
        assert_eq!(p.advance(b"0123", sent), (4, Step::NeedMore));
        assert!(p.started());
        assert_eq!(
            p.advance(b"456789", sent),
            (
                6,
                Step::Done(Reply {
                    status: 200,
                    keep_alive: true
                })
            )
        );
        p.reset();
        assert!(matches!(p.advance(b"01x", sent), (0, Step::Invalid(_))));
    }
}
