//! The seam through which a program adds its own routes to the HTTP service —
//! `netkit up` serves its web app and the web chat through it — without the
//! service knowing what they are.
//!
//! An [`Extension`] owns one path prefix (e.g. `/_netkit/`): every request under
//! it goes to [`Extension::handle`] and never reaches the served files, so a
//! file of that name in the root is simply shadowed (`/_netkit/stats` stays
//! the service's own). A state-changing request (not GET, HEAD or OPTIONS)
//! from another origin than the page's is refused with 403 before any
//! extension route sees it, and so are PUT and DELETE (unless `--cors`):
//! a handler never needs to check `Origin` itself. Nor need it check logins:
//! with `--auth`, its routes follow the rule of the web page (whoever may
//! list the share's root, see [`Visitor::may_use_page`]) unless it calls
//! them public ([`Extension::is_public`]: the page's script and style), and a
//! request comes with its [`Visitor`] for what lies beyond (what a folder
//! shows, who is logged in). A `401` it answers carries the login challenge.
//! It may offer the web page folder listings are shown in
//! ([`Extension::listing_page`]: the web share's page, on `http serve` and
//! `up`), or take `GET /` itself ([`Extension::wants_root`]).
//!
//! Requests under the prefix may carry a small body (up to [`MAX_BODY`] bytes,
//! with `Content-Length`); the session waits until all of it has arrived, so a
//! handler sees it whole. A handler answers with bytes, or with an
//! [`EventStream`]: a reply that never ends (Server-Sent Events). For a stream
//! the session sends the head at once, then whatever the stream appends each
//! time the connection's waker is called or the stream's timer fires, and
//! closes when the stream ends, the peer goes away or the server stops.
//!
//! ```text
//!   request under prefix ──▶ Extension::handle ──▶ ExtBody::Bytes ──▶ reply
//!                                               └▶ ExtBody::Stream ─▶ head, then
//!   waker.wake() / timer ──▶ HttpSession ──▶ EventStream::poll(out) ──▶ more body
//! ```

use super::request::{Framing, Head};
use super::response::{Body, Reply};
use super::target::Target;
use super::visitor::Visitor;
use super::Shared;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::task::Waker;
use std::time::Instant;

/// The largest request body an extension route accepts (413 beyond).
pub const MAX_BODY: usize = 16 * 1024;

/// Routes a program adds to the HTTP service. See the module documentation.
pub trait Extension: Send + Sync + 'static {
    /// The path prefix this extension owns, starting and ending with `/`.
    fn prefix(&self) -> &str;

    /// Whether `GET /` (or `HEAD /`) goes to the extension instead of the
    /// files; `accept_json` tells whether the client asked for JSON (a
    /// listing a script wants, which the extension should leave alone).
    fn wants_root(&self, accept_json: bool) -> bool {
        let _ = accept_json;
        false
    }

    /// The web page folder listings are shown in: an HTML document with
    /// [`LISTING_MARK`](super::listing::LISTING_MARK) where the listing
    /// goes (its table stays usable without script). `None`: the listing is
    /// a page of its own.
    fn listing_page(&self) -> Option<&str> {
        None
    }

    /// Whether `path` (under the prefix) is answered to anyone, logged in or
    /// not, even where the page is not: assets that hold nothing of the
    /// share. The default: none is.
    fn is_public(&self, path: &str) -> bool {
        let _ = path;
        false
    }

    /// Answers one request under the prefix (or `/`).
    fn handle(&self, now: Instant, request: &ExtRequest<'_>) -> ExtResponse;

    /// Fields the program adds to `GET /_netkit/stats` (e.g. the chat room's
    /// state), merged into its JSON object; `None` adds nothing.
    fn stats(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }
}

/// A request as an extension sees it.
#[derive(Debug)]
pub struct ExtRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (still percent-encoded), without the query.
    pub path: &'a str,
    /// The query without its `?`, or empty.
    pub query: &'a str,
    /// The whole body (empty when there is none).
    pub body: &'a [u8],
    /// The client's address (`None` for a Unix socket).
    pub peer: Option<SocketAddr>,
    /// Who is asking and what the share lets them do.
    pub visitor: Visitor<'a>,
}

/// An extension's answer.
pub struct ExtResponse {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Cow<'static, str>,
    /// The body.
    pub body: ExtBody,
}

impl std::fmt::Debug for ExtResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtResponse")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

impl ExtResponse {
    /// A complete reply.
    pub fn bytes(
        status: u16,
        content_type: impl Into<Cow<'static, str>>,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            body: ExtBody::Bytes(body.into()),
        }
    }

    /// A JSON reply.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::bytes(status, "application/json", value.to_string().into_bytes())
    }

    /// A plain-text reply (errors: `"name-taken"`).
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        let mut text = text.into();
        text.push('\n');
        Self::bytes(status, "text/plain; charset=utf-8", text.into_bytes())
    }

    /// A `200` stream of `text/event-stream`.
    pub fn event_stream(stream: Box<dyn EventStream>) -> Self {
        Self {
            status: 200,
            content_type: Cow::Borrowed("text/event-stream"),
            body: ExtBody::Stream(stream),
        }
    }
}

/// What an extension's reply carries.
pub enum ExtBody {
    /// A complete body.
    Bytes(Cow<'static, [u8]>),
    /// A body that goes on until the stream ends (the connection then closes).
    Stream(Box<dyn EventStream>),
}

/// A reply body produced over time (Server-Sent Events), driven by the
/// connection's waker and timer. Dropping it is how it learns the client left.
pub trait EventStream: Send + 'static {
    /// The connection's waker; called once, before the first [`EventStream::poll`].
    fn set_waker(&mut self, waker: Waker);

    /// Appends what is ready to `out`; returns `false` when the stream is over.
    fn poll(&mut self, now: Instant, out: &mut Vec<u8>) -> bool;

    /// When to be polled even without a wake (keep-alive comments).
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Whether `target` belongs to the extension.
pub(crate) fn claims(ext: &dyn Extension, head: &Head<'_>, target: &Target<'_>) -> bool {
    if target.raw_path.starts_with(ext.prefix()) {
        return true;
    }
    target.raw_path == "/"
        && matches!(head.method, "GET" | "HEAD")
        && !super::zip::asked(target) // the root's archive and search are the share's
        && !super::search::asked(target)
        && ext.wants_root(accepts_json(head))
}

/// A state-changing request (not GET, HEAD or OPTIONS) a browser sent from
/// another origin, to a service that serves a web page: refused, so a page
/// elsewhere cannot join the chat or write files in a visitor's name. Writes
/// outside the page's routes are left to CORS with `--cors`, which asks for
/// other origins.
pub(crate) fn refuses_origin(
    shared: &Shared,
    head: &Head<'_>,
    target: Option<&Target<'_>>,
) -> bool {
    let Some(ext) = &shared.ext else {
        return false;
    };
    if matches!(head.method, "GET" | "HEAD" | "OPTIONS") {
        return false;
    }
    let page_route = target.is_some_and(|t| t.raw_path.starts_with(ext.prefix()));
    (page_route || !shared.config.cors) && head.cross_origin()
}

/// The body length to wait for before answering, when the request is the
/// extension's and carries a body it may take.
pub(crate) fn body_len(ext: &dyn Extension, head: &Head<'_>) -> Option<usize> {
    match head.framing {
        Framing::Length(n) if n > 0 && n <= MAX_BODY as u64 => {
            let path = head.target.split('?').next().unwrap_or("");
            path.starts_with(ext.prefix()).then_some(n as usize)
        }
        _ => None,
    }
}

fn accepts_json(head: &Head<'_>) -> bool {
    head.accept.is_some_and(|a| {
        a.windows(16)
            .any(|w| w.eq_ignore_ascii_case(b"application/json"))
    })
}

/// Turns a complete extension reply into a session [`Reply`].
pub(crate) fn reply(status: u16, content_type: &str, body: Cow<'static, [u8]>) -> Reply {
    let mut reply = Reply::new(status, Body::Bytes(body.into_owned()));
    reply.header("Content-Type", content_type);
    reply.header("Cache-Control", "no-cache");
    if status == 401 {
        reply.header("WWW-Authenticate", super::login::CHALLENGE);
    }
    reply
}

/// The head of a stream reply: no length (the body ends when the connection
/// closes), not cached, and not buffered by proxies.
pub(crate) fn stream_head(content_type: &str) -> Reply {
    let mut reply = Reply::new(200, Body::None);
    reply.header("Content-Type", content_type);
    reply.header("Cache-Control", "no-cache");
    reply.header("X-Accel-Buffering", "no");
    reply.close = true;
    reply
}
