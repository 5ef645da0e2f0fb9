//! The session's side of the extension seam: handing a request to the
//! program's [`Extension`](super::super::extension::Extension), and keeping a
//! connection for an event stream (its waker and timer drive it; it ends with
//! the stream, the client or the server).

use super::super::extension::{self, ExtBody, ExtRequest};
use super::super::request::{Framing, Head};
use super::super::response::Reply;
use super::super::target::Target;
use super::{HttpSession, Meta, Phase, QUEUE_BYTES};
use crate::access::User;
use std::time::Instant;

impl HttpSession {
    /// Hands a request to the program's extension; a stream reply keeps the
    /// connection for itself until the stream ends.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn extension(
        &mut self,
        now: Instant,
        ext: &dyn extension::Extension,
        head: &Head<'_>,
        target: &Target<'_>,
        body: Option<&[u8]>,
        has_body: bool,
        meta: &Meta,
        who: Option<&User>,
    ) {
        if has_body && body.is_none() {
            let status = if head.framing == Framing::Chunked {
                411
            } else {
                413
            };
            return self.finish(now, Reply::fatal(status), meta);
        }
        let response = {
            let request = ExtRequest {
                method: head.method,
                path: target.raw_path,
                query: target.query.strip_prefix('?').unwrap_or(target.query),
                body: body.unwrap_or_default(),
                peer: self.peer,
                visitor: self.visitor(who),
            };
            ext.handle(now, &request)
        };
        match response.body {
            ExtBody::Bytes(bytes) => {
                let reply = extension::reply(response.status, &response.content_type, bytes);
                self.finish(now, reply, meta);
            }
            ExtBody::Stream(mut stream) => {
                self.finish(now, extension::stream_head(&response.content_type), meta);
                if meta.head_only || self.shutdown {
                    return;
                }
                // The stream holds the connection open (its head said
                // `Connection: close`, so it is Closing until now); it closes
                // when the stream ends, the peer leaves or the server stops.
                if let Some(waker) = &self.waker {
                    stream.set_waker(waker.clone());
                }
                self.phase = Phase::Streaming(stream);
                self.pump(now);
            }
        }
    }

    /// Lets the event stream add what it has; ends it when it is over or the
    /// client does not read what it is sent.
    pub(super) fn pump(&mut self, now: Instant) {
        let Phase::Streaming(stream) = &mut self.phase else {
            return;
        };
        let before = self.out.len();
        let more = stream.poll(now, &mut self.out);
        let sent = (self.out.len() - before) as u64;
        self.shared.counters().sent(sent);
        if !more || self.out.len() > QUEUE_BYTES {
            self.phase = Phase::Closing; // drops the stream: it learns the client is gone
        }
    }
}
