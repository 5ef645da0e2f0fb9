//! `netkit up`: the whole system in one process — HTTP (with the web app),
//! the file server, TFTP, the chat room on UDP and its IRC front — sharing one
//! folder and one room.
//!
//! ```text
//!                 ┌── http  (driver, --model) ── HttpService + WebApp ──┐
//!   DIR ── Root ──┼── files (driver, --model) ── FilesService           │ web chat
//!                 └── tftp  (UDP transfer loop) ── TftpServer           ▼
//!                     chat  (UDP loop) ── UdpFront ──────────▶  one Hub (room)
//!                     irc   (driver, --model) ── IrcService ─────────▲
//! ```
//!
//! [`Up::bind`] opens every listener first (so a busy port fails before
//! anything is served, and port 0 is resolved), [`Up::ready_lines`] says where
//! each one is, and [`Up::run`] serves on one thread per service until the
//! shared [`Shutdown`] fires; a service that fails stops the others.

mod banner;
mod web;
mod webchat;

use crate::backplane::{self, Backplane};
use anyhow::{bail, Context, Result};
use netkit_drivers::udp::UdpWaker;
use netkit_drivers::{Config, Listener, Model, Shutdown};
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::irc::IrcService;
use netkit_proto::chat::room::RoomConfig;
use netkit_proto::chat::udp::UdpFront;
use netkit_proto::files::{FilesConfig, FilesService};
use netkit_proto::http::{HttpConfig, HttpService};
use netkit_proto::root::Root;
use netkit_proto::tftp::server::{ServerConfig, TftpServer};
use netkit_proto::DatagramService;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

pub use banner::{banner, interface_addresses};

/// What `netkit up` serves, and how. A port of `None` leaves that service out.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// The shared folder.
    pub dir: PathBuf,
    /// The address every listener binds.
    pub bind: IpAddr,
    /// HTTP and the web app (default 8000).
    pub http_port: Option<u16>,
    /// The files protocol (default 8888).
    pub files_port: Option<u16>,
    /// TFTP (default 6969).
    pub tftp_port: Option<u16>,
    /// The chat room on UDP (default 9999).
    pub chat_port: Option<u16>,
    /// The chat room's IRC front (default 6667).
    pub irc_port: Option<u16>,
    /// Accept uploads (HTTP PUT, files PUT, TFTP WRQ).
    pub upload: bool,
    /// Uploads may replace existing files.
    pub overwrite: bool,
    /// Serve, list and write hidden names (`--hidden`), on every service.
    pub hidden: bool,
    /// The concurrency model of the TCP services.
    pub model: Model,
    /// Driver settings (workers, grace period).
    pub driver: Config,
    /// Share the chat room with other servers through Redis (`--backplane`).
    pub backplane: Option<BackplaneConfig>,
}

/// Where and as which room `up`'s chat joins other servers (see
/// [`crate::backplane`]).
#[derive(Debug, Clone)]
pub struct BackplaneConfig {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// Servers on one Redis with one room name are one room.
    pub room: String,
}

impl UpConfig {
    /// Every service on its default port, sharing `dir`.
    pub fn new(dir: PathBuf) -> UpConfig {
        UpConfig {
            dir,
            bind: IpAddr::from([0, 0, 0, 0]),
            http_port: Some(8000),
            files_port: Some(8888),
            tftp_port: Some(6969),
            chat_port: Some(9999),
            irc_port: Some(6667),
            upload: false,
            overwrite: false,
            hidden: false,
            model: Model::DEFAULT,
            driver: Config::default(),
            backplane: None,
        }
    }

    /// The room is shared by threads; forked children could not share it.
    fn check(&self) -> Result<()> {
        let shares_room = self.chat_port.is_some() || self.irc_port.is_some();
        if self.model == Model::Fork && shares_room {
            bail!("--model fork cannot share the chat room between services: use a threaded model, or --no-chat --no-irc");
        }
        if let Some(b) = &self.backplane {
            if !shares_room {
                bail!("--backplane needs the chat room: drop --no-chat or --no-irc");
            }
            if !backplane::valid_room(&b.room) {
                bail!("--room must be 1-64 letters, digits, '-', '_' or '.'");
            }
        }
        Ok(())
    }
}

/// Every listener, bound and ready to serve.
#[derive(Debug)]
pub struct Up {
    config: UpConfig,
    http: Option<Listener>,
    files: Option<Listener>,
    tftp: Option<UdpSocket>,
    chat: Option<UdpSocket>,
    irc: Option<Listener>,
    hub: Option<Arc<Hub>>,
    backplane: Option<Backplane>,
}

impl Up {
    /// Opens the folder and binds every listener the config asks for.
    pub fn bind(config: UpConfig) -> Result<Up> {
        config.check()?;
        open_root(&config)?;
        let tcp = |port: Option<u16>| -> Result<Option<Listener>> {
            port.map(|p| {
                let addr = SocketAddr::new(config.bind, p);
                Listener::bind_tcp(addr).with_context(|| format!("cannot listen on tcp {addr}"))
            })
            .transpose()
        };
        let udp = |port: Option<u16>| -> Result<Option<UdpSocket>> {
            port.map(|p| {
                let addr = SocketAddr::new(config.bind, p);
                UdpSocket::bind(addr).with_context(|| format!("cannot bind udp {addr}"))
            })
            .transpose()
        };
        let shares_room = config.chat_port.is_some() || config.irc_port.is_some();
        let (http, files) = (tcp(config.http_port)?, tcp(config.files_port)?);
        // As in `http serve`: a browser speaks first, so a connection is
        // accepted once its request is there (best effort).
        if let Some(Err(e)) = http.as_ref().map(|l| l.defer_accept(1)) {
            tracing::debug!("TCP_DEFER_ACCEPT: {e}");
        }
        let (tftp, chat) = (udp(config.tftp_port)?, udp(config.chat_port)?);
        let irc = tcp(config.irc_port)?;
        let room = RoomConfig::default();
        let history = room.history;
        let hub = shares_room.then(|| Hub::new(room));
        // Linked only once every port is bound, so a busy port leaves no trace in Redis.
        let backplane = match (&hub, &config.backplane) {
            (Some(hub), Some(b)) => Some(Backplane::start(
                backplane::Config {
                    url: b.url.clone(),
                    room: b.room.clone(),
                    liveness: backplane::DEFAULT_LIVENESS,
                    history,
                },
                hub.clone(),
            )?),
            _ => None,
        };
        Ok(Up {
            hub,
            backplane,
            http,
            files,
            tftp,
            chat,
            irc,
            config,
        })
    }

    /// The SPEC ready line of every listener, in a fixed order.
    pub fn ready_lines(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        if let Some(l) = &self.http {
            lines.push(format!("http listening on {}", l.url("http")?));
        }
        if let Some(l) = &self.files {
            lines.push(format!("files listening on {}", l.url("tcp")?));
        }
        if let Some(s) = &self.tftp {
            lines.push(format!("tftp listening on udp://{}", s.local_addr()?));
        }
        if let Some(s) = &self.chat {
            lines.push(format!("chat listening on udp://{}", s.local_addr()?));
        }
        if let Some(l) = &self.irc {
            lines.push(format!("irc listening on {}", l.url("tcp")?));
        }
        Ok(lines)
    }

    /// The bound port of each service, by name (`http`, `files`, …).
    pub fn ports(&self) -> Vec<(&'static str, u16)> {
        let tcp = |l: &Option<Listener>| l.as_ref().and_then(|l| l.local_addr()).map(|a| a.port());
        let udp = |s: &Option<UdpSocket>| {
            s.as_ref()
                .and_then(|s| s.local_addr().ok())
                .map(|a| a.port())
        };
        [
            ("http", tcp(&self.http)),
            ("files", tcp(&self.files)),
            ("tftp", udp(&self.tftp)),
            ("chat", udp(&self.chat)),
            ("irc", tcp(&self.irc)),
        ]
        .into_iter()
        .filter_map(|(name, port)| Some((name, port?)))
        .collect()
    }

    /// The shared room (for the operator's announcements), when chat is on.
    pub fn hub(&self) -> Option<Arc<Hub>> {
        self.hub.clone()
    }

    /// Serves every service until `shutdown` fires (or one of them fails,
    /// which stops the others), then returns the first failure.
    pub fn run(self, shutdown: &Shutdown) -> Result<()> {
        let Up {
            config,
            http,
            files,
            tftp,
            chat,
            irc,
            hub,
            backplane,
        } = self;
        let ports: serde_json::Map<String, serde_json::Value> = [
            ("http", http.as_ref().and_then(|l| l.local_addr())),
            ("files", files.as_ref().and_then(|l| l.local_addr())),
            ("tftp", tftp.as_ref().and_then(|s| s.local_addr().ok())),
            ("chat", chat.as_ref().and_then(|s| s.local_addr().ok())),
            ("irc", irc.as_ref().and_then(|l| l.local_addr())),
        ]
        .into_iter()
        .filter_map(|(name, addr)| Some((name.to_owned(), addr?.port().into())))
        .collect();
        let (done_tx, done_rx) = mpsc::channel::<(&'static str, Result<()>)>();
        let mut running = 0;
        let mut spawn = |name: &'static str, job: Box<dyn FnOnce() -> Result<()> + Send>| {
            let done = done_tx.clone();
            running += 1;
            std::thread::Builder::new()
                .name(format!("up-{name}"))
                .spawn(move || {
                    let _ = done.send((name, job()));
                })
                .map(|_| ())
                .with_context(|| format!("starting {name}"))
        };
        let (model, driver) = (config.model, config.driver.clone());

        if let Some(listener) = http {
            // An open page holds its event stream: one client at a time would
            // stall every other browser, so the iterative model has no web chat.
            let web_hub = hub.clone().filter(|_| model != Model::Iterative);
            if hub.is_some() && web_hub.is_none() {
                tracing::warn!(
                    "--model iterative serves one connection at a time: the web page has no chat"
                );
            }
            let settings = serde_json::json!({
                "upload": config.upload,
                "overwrite": config.overwrite,
                "chat": web_hub.is_some(),
                "ports": ports,
                "model": model.name(),
            });
            let chat = web_hub.map(webchat::WebChat::new);
            let app = web::WebApp::new(open_root(&config)?, settings, chat, hub.clone());
            let http = HttpConfig {
                upload: config.upload,
                overwrite: config.overwrite,
                model: model.name().to_owned(),
                ..HttpConfig::default()
            };
            let service = Arc::new(HttpService::with_extension(
                open_root(&config)?,
                http,
                None,
                Instant::now(),
                Some(Arc::new(app)),
            ));
            let (driver, shutdown) = (driver.clone(), shutdown.clone());
            spawn(
                "http",
                Box::new(move || {
                    Ok(netkit_drivers::serve(
                        model, listener, service, &driver, &shutdown,
                    )?)
                }),
            )?;
        }
        if let Some(listener) = files {
            let files = FilesConfig {
                upload: config.upload,
                overwrite: config.overwrite,
                max_upload: None,
                idle_timeout: Some(Duration::from_secs(300)),
            };
            let service = Arc::new(FilesService::new(Arc::new(open_root(&config)?), files));
            let (driver, shutdown) = (driver.clone(), shutdown.clone());
            spawn(
                "files",
                Box::new(move || {
                    Ok(netkit_drivers::serve(
                        model, listener, service, &driver, &shutdown,
                    )?)
                }),
            )?;
        }
        if let Some(socket) = tftp {
            let cfg = ServerConfig {
                upload: config.upload,
                overwrite: config.overwrite,
                ..ServerConfig::default()
            };
            let service = TftpServer::new(Arc::new(open_root(&config)?), cfg);
            let (grace, shutdown) = (driver.grace, shutdown.clone());
            spawn(
                "tftp",
                Box::new(move || {
                    Ok(netkit_drivers::udp::transfers::serve(
                        &socket, &service, grace, &shutdown,
                    )?)
                }),
            )?;
        }
        if let (Some(listener), Some(hub)) = (irc, &hub) {
            let service = Arc::new(IrcService::new(hub.clone()));
            let (driver, shutdown) = (driver.clone(), shutdown.clone());
            spawn(
                "irc",
                Box::new(move || {
                    Ok(netkit_drivers::serve(
                        model, listener, service, &driver, &shutdown,
                    )?)
                }),
            )?;
        }
        if let Some(hub) = &hub {
            // Without a UDP front nothing would run the room's clock; the loop
            // runs on an unbound-to-anyone socket then.
            let socket = match chat {
                Some(socket) => socket,
                None => UdpSocket::bind(SocketAddr::new(config.bind, 0))
                    .context("binding the room's clock socket")?,
            };
            let (hub, shutdown) = (hub.clone(), shutdown.clone());
            spawn(
                "chat",
                Box::new(move || run_room(&socket, &hub, backplane.as_ref(), &shutdown)),
            )?;
        }
        drop(done_tx);

        let mut first_error = None;
        for _ in 0..running {
            let Ok((name, result)) = done_rx.recv() else {
                break;
            };
            if let Err(e) = result {
                shutdown.trigger();
                first_error.get_or_insert(e.context(format!("{name} failed")));
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn open_root(config: &UpConfig) -> Result<Root> {
    let root = Root::open(&config.dir)
        .with_context(|| format!("cannot share {}", config.dir.display()))?
        .with_hidden(config.hidden);
    if config.upload {
        let _ = root.remove_stale_temporaries();
    }
    Ok(root)
}

/// The chat room's UDP loop, and the announcement that it is closing.
fn run_room(
    socket: &UdpSocket,
    hub: &Arc<Hub>,
    backplane: Option<&Backplane>,
    shutdown: &Shutdown,
) -> Result<()> {
    let waker = UdpWaker::new().context("creating the UDP loop's waker")?;
    hub.set_udp_waker(waker.waker());
    let mut front = UdpFront::new(hub.clone());
    netkit_drivers::udp::serve_woken(socket, &mut front, shutdown, &waker)?;
    // Leave the shared room first, so the farewell stays on this server.
    if let Some(backplane) = backplane {
        backplane.shutdown();
    }
    hub.act(None, |room| room.admin("the server is shutting down"));
    let mut farewell = Vec::new();
    front.handle_timeout(Instant::now(), &mut farewell);
    for d in farewell {
        let _ = socket.send_to(&d.data, d.to);
    }
    Ok(())
}

/// Binds, prints every ready line to `out`, then the banner for people, then
/// serves until `shutdown` fires. `terminal`: `out` is a terminal (the QR code
/// is drawn only there).
pub fn up(
    config: UpConfig,
    shutdown: &Shutdown,
    out: &mut dyn Write,
    terminal: bool,
) -> Result<()> {
    let up = Up::bind(config)?;
    for line in up.ready_lines()? {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let text = banner(&up.config, &up.ports(), terminal);
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if let Some(hub) = up.hub() {
        std::thread::spawn(move || announce_stdin(&hub));
    }
    up.run(shutdown)
}

/// Each line on stdin is an announcement to the room (shown apart on the
/// page, `ADMIN` to UDP members, a NOTICE on IRC).
fn announce_stdin(hub: &Hub) {
    use std::io::BufRead;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { return };
        let line = line.trim();
        if !line.is_empty() {
            hub.act(None, |room| room.admin(line));
        }
    }
}
