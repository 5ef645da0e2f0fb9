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
//! [`Up::bind`] opens every listener first, on every `--bind` address (so a
//! busy port fails before anything is served, and port 0 is resolved),
//! [`Up::ready_lines`] says where each one is, and [`Up::run`] serves on one thread per service until the
//! shared [`Shutdown`] fires; a service that fails stops the others.

mod banner;
pub(crate) mod web;

use crate::backplane;
use crate::cli::common::{bind_udp, listen_tcp};
use crate::cli::share_args::{HttpArgs, IdleArgs, ShareArgs};
use crate::cli::tls_args::TlsArgs;
use crate::services::{self, chat, files, http, tftp};
use crate::tls::server::ServerTls;
use anyhow::{bail, Context, Result};
use netkit_drivers::{Config, Listener, Model, Shutdown};
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::room::RoomConfig;
use netkit_proto::Service;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::{mpsc, Arc};

pub use banner::{banner, interface_addresses};

/// What `netkit up` serves, and how. A port of `None` leaves that service out.
#[derive(Debug, Clone)]
pub struct UpConfig {
    /// The shared folder.
    pub dir: PathBuf,
    /// The addresses every service listens on (`--bind`, repeatable; `::`
    /// is dual-stack): each service gets a listener on each.
    pub bind: Vec<IpAddr>,
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
    /// What the share allows (uploads, sizes, dot-files) and the access log
    /// (`--quiet`): the flags every sharing command takes.
    pub share: ShareArgs,
    /// HTTP's limits and CORS.
    pub http: HttpArgs,
    /// The idle time-out of HTTP and files connections (each its own default).
    pub idle: IdleArgs,
    /// TLS for the web page and the file server (`--tls`, `--tls-cert`).
    pub tls: TlsArgs,
    /// The concurrency model of the TCP services.
    pub model: Model,
    /// Driver settings (workers, grace period).
    pub driver: Config,
    /// Share the chat room with other servers through Redis (`--backplane`).
    pub backplane: Option<BackplaneConfig>,
    /// The access rules and failed-login counters every service shares
    /// (from `--auth`; open by default).
    pub gate: services::access::Gate,
}

/// Where and as which room `up`'s chat joins other servers (see
/// [`crate::backplane`]; the liveness is the default).
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
            bind: vec![IpAddr::from([0, 0, 0, 0])],
            http_port: Some(http::DEFAULT_PORT),
            files_port: Some(files::DEFAULT_PORT),
            tftp_port: Some(tftp::DEFAULT_PORT),
            chat_port: Some(chat::DEFAULT_PORT),
            irc_port: Some(chat::IRC_PORT),
            share: defaults::<ShareArgs>(),
            http: defaults::<HttpArgs>(),
            idle: defaults::<IdleArgs>(),
            tls: TlsArgs::default(),
            model: Model::DEFAULT,
            driver: Config::default(),
            backplane: None,
            gate: services::access::Gate::open(),
        }
    }

    /// The room is shared by threads; forked children could not share it.
    fn check(&self) -> Result<()> {
        if self.bind.is_empty() {
            bail!("no address to listen on: give --bind");
        }
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

/// Every listener, bound and ready to serve: per service one per `--bind`
/// address, none when the service is off.
#[derive(Debug)]
pub struct Up {
    config: UpConfig,
    http: Vec<Listener>,
    files: Vec<Listener>,
    tftp: Vec<UdpSocket>,
    chat: Vec<UdpSocket>,
    irc: Vec<Listener>,
    room: Option<chat::Room>,
    tls: Option<ServerTls>,
}

impl Up {
    /// Opens the folder and binds every listener the config asks for.
    pub fn bind(config: UpConfig) -> Result<Up> {
        config.check()?;
        let tls = ServerTls::from_args(&config.tls, &config.bind)?;
        // Fails early on a bad folder, and removes the unfinished uploads of
        // an earlier run once for every service.
        services::open_share(&config.dir, &config.share)?;
        let tcp = |port: Option<u16>| port.map_or(Ok(Vec::new()), |p| listen_tcp(&config.bind, p));
        let udp = |port: Option<u16>| port.map_or(Ok(Vec::new()), |p| bind_udp(&config.bind, p));
        let shares_room = config.chat_port.is_some() || config.irc_port.is_some();
        let (http, files) = (tcp(config.http_port)?, tcp(config.files_port)?);
        http::defer_accept(&http);
        let (tftp, chat) = (udp(config.tftp_port)?, udp(config.chat_port)?);
        let irc = tcp(config.irc_port)?;
        // Linked only once every port is bound, so a busy port leaves no trace in Redis.
        let link = config
            .backplane
            .as_ref()
            .map(|b| chat::Link::new(b.url.clone(), b.room.clone()));
        let room = shares_room
            .then(|| chat::Room::start(RoomConfig::default(), link))
            .transpose()?;
        Ok(Up {
            tls,
            room,
            http,
            files,
            tftp,
            chat,
            irc,
            config,
        })
    }

    /// The SPEC ready line of every listener, in a fixed order: by service,
    /// then by `--bind`.
    pub fn ready_lines(&self) -> Result<Vec<String>> {
        let mut lines = Vec::new();
        let (web, files) = match self.tls {
            Some(_) => ("https", "tls"),
            None => ("http", "tcp"),
        };
        for (service, scheme, listeners) in
            [("http", web, &self.http), ("files", files, &self.files)]
        {
            for l in listeners {
                lines.push(format!("{service} listening on {}", l.url(scheme)?));
            }
        }
        for (service, sockets) in [("tftp", &self.tftp), ("chat", &self.chat)] {
            for s in sockets {
                lines.push(format!("{service} listening on udp://{}", s.local_addr()?));
            }
        }
        for l in &self.irc {
            lines.push(format!("irc listening on {}", l.url("tcp")?));
        }
        Ok(lines)
    }

    /// Every bound address, by service name (`http`, `files`, …), in the
    /// order of [`Up::ready_lines`].
    pub fn addrs(&self) -> Vec<(&'static str, SocketAddr)> {
        let tcp = |ls: &[Listener]| ls.iter().filter_map(Listener::local_addr).collect();
        let udp = |ss: &[UdpSocket]| ss.iter().filter_map(|s| s.local_addr().ok()).collect();
        let all: [(&'static str, Vec<SocketAddr>); 5] = [
            ("http", tcp(&self.http)),
            ("files", tcp(&self.files)),
            ("tftp", udp(&self.tftp)),
            ("chat", udp(&self.chat)),
            ("irc", tcp(&self.irc)),
        ];
        all.into_iter()
            .flat_map(|(name, addrs)| addrs.into_iter().map(move |a| (name, a)))
            .collect()
    }

    /// The port of each service on its first `--bind` address, by name
    /// (`http`, `files`, …).
    pub fn ports(&self) -> Vec<(&'static str, u16)> {
        let mut ports: Vec<(&'static str, u16)> = Vec::new();
        for (name, addr) in self.addrs() {
            if !ports.iter().any(|(n, _)| *n == name) {
                ports.push((name, addr.port()));
            }
        }
        ports
    }

    /// The certificate's SHA-256 fingerprint, when the web page and the file
    /// server speak TLS.
    pub fn fingerprint(&self) -> Option<&str> {
        self.tls.as_ref().map(ServerTls::fingerprint)
    }

    /// The shared room (for the operator's announcements), when chat is on.
    pub fn hub(&self) -> Option<Arc<Hub>> {
        self.room.as_ref().map(|room| room.hub().clone())
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
            room,
            tls,
        } = self;
        let hub = room.as_ref().map(|room| room.hub().clone());
        // The page's links: each service's port on the first --bind.
        let ports: serde_json::Map<String, serde_json::Value> = [
            ("http", http.first().and_then(Listener::local_addr)),
            ("files", files.first().and_then(Listener::local_addr)),
            ("tftp", tftp.first().and_then(|s| s.local_addr().ok())),
            ("chat", chat.first().and_then(|s| s.local_addr().ok())),
            ("irc", irc.first().and_then(Listener::local_addr)),
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
        // One access log for every service (none with --quiet).
        let log = services::open_log(&config.share, model);
        let root = || services::reopen_share(&config.dir, &config.share);

        if !http.is_empty() {
            // An open page holds its event stream: one client at a time would
            // stall every other browser, so the iterative model has no web chat.
            let web_hub = hub.clone().filter(|_| model != Model::Iterative);
            if hub.is_some() && web_hub.is_none() {
                tracing::warn!(
                    "--model iterative serves one connection at a time: the web page has no chat"
                );
            }
            let settings = serde_json::json!({
                "upload": config.share.upload,
                "overwrite": config.share.overwrite,
                "chat": web_hub.is_some(),
                "ports": ports,
                "model": model.name(),
                "fingerprint": tls.as_ref().map(ServerTls::fingerprint),
            });
            let chat = web_hub.map(netkit_proto::chat::web::WebChat::new);
            let app = web::WebApp::new(root()?, settings, chat, hub.clone());
            let settings = http::config(&config.share, &config.http, config.idle, model);
            let app: Arc<dyn netkit_proto::http::extension::Extension> = Arc::new(app);
            let service = http::service(
                root()?,
                settings,
                model,
                log.as_ref(),
                Some(app),
                &config.gate,
            );
            let tls = tls.as_ref().map(|t| Arc::clone(&t.http));
            spawn(
                "http",
                tcp_job(model, http, service, tls, &driver, shutdown),
            )?;
        }
        if !files.is_empty() {
            let settings = files::config(&config.share, config.idle);
            let service = files::service(root()?, settings, log.as_ref(), &config.gate)?;
            let tls = tls.as_ref().map(|t| Arc::clone(&t.plain));
            spawn(
                "files",
                tcp_job(model, files, service, tls, &driver, shutdown),
            )?;
        }
        if !tftp.is_empty() {
            let cfg = tftp::config(&config.share, tftp::Timing::default());
            let service = tftp::service(root()?, cfg, log.as_ref(), &config.gate);
            let (grace, shutdown) = (driver.grace, shutdown.clone());
            spawn(
                "tftp",
                Box::new(move || {
                    Ok(netkit_drivers::udp::transfers::serve(
                        &tftp, &service, grace, &shutdown,
                    )?)
                }),
            )?;
        }
        if let (false, Some(room)) = (irc.is_empty(), &room) {
            let service = room.irc();
            spawn("irc", tcp_job(model, irc, service, None, &driver, shutdown))?;
        }
        if let Some(room) = room {
            // Without a UDP front nothing would run the room's clock; the loop
            // runs on a socket nobody is told of then.
            let sockets = if chat.is_empty() {
                bind_udp(&config.bind[..1], 0).context("binding the room's clock socket")?
            } else {
                chat
            };
            let shutdown = shutdown.clone();
            spawn(
                "chat",
                Box::new(move || room.serve_udp(&sockets, &shutdown)),
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
        drop(log);
        first_error.map_or(Ok(()), Err)
    }
}

/// A TCP service (over TLS when `tls` is given) served by a driver under
/// `model` until `shutdown` fires, as a job for one of `up`'s threads.
fn tcp_job<S: Service>(
    model: Model,
    listeners: Vec<Listener>,
    service: Arc<S>,
    tls: Option<Arc<rustls::ServerConfig>>,
    driver: &Config,
    shutdown: &Shutdown,
) -> Box<dyn FnOnce() -> Result<()> + Send> {
    let (driver, shutdown) = (driver.clone(), shutdown.clone());
    Box::new(move || {
        Ok(crate::tls::server::serve(
            tls.as_ref(),
            model,
            listeners,
            service,
            &driver,
            &shutdown,
        )?)
    })
}

/// A flag group with every flag at its default, as the command line gives it.
fn defaults<T: clap::Args>() -> T {
    #[derive(clap::Parser)]
    struct Only<T: clap::Args> {
        #[command(flatten)]
        args: T,
    }
    <Only<T> as clap::Parser>::parse_from(["netkit"]).args
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
    if let Some(tls) = &up.tls {
        tls.announce();
    }
    for line in up.ready_lines()? {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    let text = banner(&up.config, &up.addrs(), up.fingerprint(), terminal);
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
