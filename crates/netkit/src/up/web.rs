//! The web app of `netkit up`: its embedded assets, its settings document and
//! the web chat routes, all under `/_netkit/`, plugged into the HTTP service as
//! an [`Extension`]. `http serve` has it too, without chat or other services.
//! The page is what a folder without `index.html` answers a browser with: the
//! HTTP listing puts its table into the page ([`Extension::listing_page`]),
//! so it works without script, and the script takes over where it runs. It
//! is also at `/_netkit/` (for a share whose root has an `index.html`).
//! `/_netkit/qr.svg?u=URL` draws the QR code of the page's address.
//!
//! The page lists folders from `/_netkit/ls` (the HTTP listing's JSON, also
//! for folders that have an `index.html`), downloads with plain links to the
//! HTTP service, uploads with `PUT` (when `--upload`) and reads
//! `/_netkit/stats` (the HTTP service's own route, under the same prefix).
//! The HTTP service refuses the page's state-changing requests from another
//! origin before they get here (see `netkit_proto::http::extension`), so the
//! chat's join, say and leave need no check of their own.
//!
//! With accounts (`--auth`) the HTTP service lets only those who may use the
//! page reach its routes (the script, style and icon excepted, which hold
//! nothing of the share). The settings then name who is logged in, and a
//! folder's listing shows only what the visitor may reach and says what they
//! may do there (`may.upload`, `may.delete`), so the page hides the buttons
//! they may not use. Each request's [`Visitor`] answers both, with the same
//! rules the HTTP service enforces.

use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::web::WebChat;
use netkit_proto::http::extension::{ExtRequest, ExtResponse, Extension};
use netkit_proto::http::listing::LISTING_MARK;
use netkit_proto::http::Visitor;
use netkit_proto::root::{EntryKind, RelPath, Root};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

const INDEX: &str = include_str!("../../web/index.html");
const CSS: &str = include_str!("../../web/app.css");
const JS: &str = include_str!("../../web/app.js");
const CHAT_JS: &str = include_str!("../../web/chat.js");
const PREVIEW_JS: &str = include_str!("../../web/preview.js");
const ICON: &str = include_str!("../../web/icon.svg");

/// The prefix the web app owns.
pub(crate) const PREFIX: &str = "/_netkit/";

/// The web app, as an HTTP extension.
#[derive(Debug)]
pub(crate) struct WebApp {
    root: Root,
    /// What the page shows and allows: uploads, services and their ports.
    settings: serde_json::Value,
    chat: Option<Arc<WebChat>>,
    /// The chat room, whose state `/_netkit/stats` reports (also when the page
    /// itself has no chat).
    room: Option<Arc<Hub>>,
}

impl WebApp {
    pub(crate) fn new(
        root: Root,
        settings: serde_json::Value,
        chat: Option<Arc<WebChat>>,
        room: Option<Arc<Hub>>,
    ) -> WebApp {
        WebApp {
            root,
            settings,
            chat,
            room,
        }
    }

    /// The page of `http serve`: no chat, no other services.
    pub(crate) fn for_http_serve(root: Root, upload: bool, overwrite: bool, model: &str) -> WebApp {
        let settings = serde_json::json!({
            "upload": upload,
            "overwrite": overwrite,
            "chat": false,
            "ports": {},
            "model": model,
        });
        WebApp::new(root, settings, None, None)
    }

    /// `GET /_netkit/ls?path=/dir/`: the folder as JSON — the same document
    /// as the HTTP listing, here also for folders that have an `index.html` —
    /// with what the visitor may do in it.
    fn list(&self, req: &ExtRequest<'_>) -> ExtResponse {
        let path = query_param(req.query, "path").unwrap_or_default();
        let Ok(rel) = RelPath::parse(path.trim_matches('/')) else {
            return ExtResponse::text(400, "bad path");
        };
        let visitor = &req.visitor;
        let folder = rel.to_string();
        if !visitor.may_list(&folder) {
            return refused(visitor);
        }
        // Hidden names are the root's policy (`--hidden`): it answers them
        // not found and leaves them out of listings.
        let mut entries = match self.root.list(&rel) {
            Ok(entries) => entries,
            Err(e) => return ExtResponse::text(404, e.to_string()),
        };
        entries.retain(|e| {
            matches!(e.kind, EntryKind::File | EntryKind::Dir) && visitor.shows(&folder, &e.name)
        });
        entries.sort_by(|a, b| {
            (a.kind != EntryKind::Dir, &a.name).cmp(&(b.kind != EntryKind::Dir, &b.name))
        });
        let entries: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                let modified = e
                    .modified
                    .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs());
                serde_json::json!({
                    "name": e.name,
                    "type": if e.kind == EntryKind::Dir { "dir" } else { "file" },
                    "size": e.size,
                    "modified": modified,
                })
            })
            .collect();
        let may = serde_json::json!({
            "upload": visitor.may_upload(&folder),
            "delete": visitor.may_delete(&folder),
        });
        ExtResponse::json(
            200,
            &serde_json::json!({ "path": path, "entries": entries, "may": may }),
        )
    }

    /// `GET /_netkit/settings`: the share's settings and who is logged in
    /// (`user`: null for anonymous; `accounts`: whether there is any to log
    /// in to).
    fn settings(&self, visitor: &Visitor<'_>) -> ExtResponse {
        let mut settings = self.settings.clone();
        if let Some(fields) = settings.as_object_mut() {
            fields.insert("user".into(), visitor.user().into());
            fields.insert("accounts".into(), visitor.has_accounts().into());
        }
        ExtResponse::json(200, &settings)
    }

    fn chat(&self, now: Instant, route: &str, req: &ExtRequest<'_>) -> ExtResponse {
        let Some(chat) = &self.chat else {
            return ExtResponse::text(404, "chat is off");
        };
        let token = query_param(req.query, "token").unwrap_or_default();
        match (req.method, route) {
            ("POST", "join") => chat.join(now, req.peer.map(|p| p.ip()), req.body),
            ("POST", "say") => chat.say(now, &token, req.body),
            ("POST", "me") => chat.me(now, &token, req.body),
            ("POST", "nick") => chat.nick(now, &token, req.body),
            ("POST", "tell") => chat.tell(now, &token, req.body),
            ("POST", "leave") => chat.leave(&token),
            ("GET", "events") => chat.events(now, &token),
            (_, "join" | "say" | "me" | "nick" | "tell" | "leave" | "events") => {
                ExtResponse::text(405, "method not allowed")
            }
            _ => ExtResponse::text(404, "not found"),
        }
    }
}

impl Extension for WebApp {
    fn prefix(&self) -> &str {
        PREFIX
    }

    fn listing_page(&self) -> Option<&str> {
        Some(INDEX)
    }

    /// The page's script, style and icon hold nothing of the share.
    fn is_public(&self, path: &str) -> bool {
        matches!(
            path.strip_prefix(PREFIX),
            Some("app.css" | "app.js" | "chat.js" | "preview.js" | "icon.svg" | "qr.svg")
        )
    }

    /// `chat_room`: `alone` (no backplane), `whole` or `split` (the backplane
    /// is away and this server's members only hear each other);
    /// `chat_members`: members this server sees.
    fn stats(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let hub = self.room.as_ref()?;
        let (status, members) = hub.with_room(|room| (room.link_status(), room.members().len()));
        let mut fields = serde_json::Map::new();
        fields.insert("chat_room".into(), status.to_string().into());
        fields.insert("chat_members".into(), members.into());
        Some(fields)
    }

    fn handle(&self, now: Instant, req: &ExtRequest<'_>) -> ExtResponse {
        let route = req.path.strip_prefix(PREFIX).unwrap_or("");
        if let Some(chat_route) = route.strip_prefix("chat/") {
            return self.chat(now, chat_route, req);
        }
        if !matches!(req.method, "GET" | "HEAD") {
            return ExtResponse::text(405, "method not allowed");
        }
        let (content_type, body) = match route {
            "" | "index.html" => {
                let page = INDEX.replacen(LISTING_MARK, "", 1);
                return ExtResponse::bytes(200, "text/html; charset=utf-8", page.into_bytes());
            }
            "qr.svg" => return qr(req.query),
            "app.css" => ("text/css; charset=utf-8", CSS),
            "app.js" => ("text/javascript; charset=utf-8", JS),
            "chat.js" => ("text/javascript; charset=utf-8", CHAT_JS),
            "preview.js" => ("text/javascript; charset=utf-8", PREVIEW_JS),
            "icon.svg" => ("image/svg+xml", ICON),
            "settings" => return self.settings(&req.visitor),
            "ls" => return self.list(req),
            _ => return ExtResponse::text(404, "not found"),
        };
        ExtResponse::bytes(200, content_type, body.as_bytes())
    }
}

/// A folder the visitor may not list: 401 (the HTTP service adds the
/// challenge) where logging in could help, else not found, as the files are.
fn refused(visitor: &Visitor<'_>) -> ExtResponse {
    if visitor.user().is_none() && visitor.has_accounts() {
        ExtResponse::text(401, "log in to see this folder")
    } else {
        ExtResponse::text(404, "not found")
    }
}

/// The longest address `qr.svg` draws.
const MAX_QR_TEXT: usize = 1024;

/// `GET /_netkit/qr.svg?u=TEXT`: TEXT (the page's address) as a QR code, an
/// SVG of one path (a module per unit, a quiet zone of four around).
fn qr(query: &str) -> ExtResponse {
    let text = query_param(query, "u").unwrap_or_default();
    if text.is_empty() || text.len() > MAX_QR_TEXT {
        return ExtResponse::text(400, "u: the address to draw, up to 1024 bytes");
    }
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return ExtResponse::text(400, "too long for a QR code");
    };
    let width = code.width();
    let colors = code.to_colors();
    let mut path = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let _ = write!(path, "M{} {}h1v1h-1z", i % width + 4, i / width + 4);
        }
    }
    let side = width + 8;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    ExtResponse::bytes(200, "image/svg+xml", svg.into_bytes())
}

/// The percent-decoded value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{qr, query_param};

    #[test]
    fn the_qr_code_is_an_svg_of_the_address() {
        let svg = qr("u=http%3A%2F%2F127.0.0.1%3A8000%2F");
        assert_eq!(svg.status, 200);
        assert_eq!(svg.content_type, "image/svg+xml");
        assert_eq!(qr("u=").status, 400);
        assert_eq!(qr(&format!("u={}", "a".repeat(2000))).status, 400);
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_param("a=1&token=ab%20c", "token").as_deref(),
            Some("ab c")
        );
        assert_eq!(query_param("token", "token"), None);
        assert_eq!(query_param("", "token"), None);
    }
}
