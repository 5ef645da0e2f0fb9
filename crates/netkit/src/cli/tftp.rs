//! `netkit tftp serve|get|put`: the TFTP server on the per-transfer UDP loop,
//! and a client that runs on the same loop, over one socket.

use super::common::{announce_udp, resolve, shutdown_on_signals, ServerArgs};
use super::share_args::ShareArgs;
use super::values::{addr, duration, positive, positive_duration};
use crate::services;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use netkit_proto::tftp::client::{Client, Request};
use netkit_proto::tftp::netascii::NetasciiReader;
use netkit_proto::tftp::server::MAX_PER_CLIENT;
use netkit_proto::tftp::transfer::{Config, Failure, NetasciiSink, Sink, Status};
use netkit_proto::tftp::wire::{Direction, Mode, Options, MAX_BLKSIZE, MIN_BLKSIZE};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use crate::services::tftp::DEFAULT_PORT;

/// `netkit tftp …`
#[derive(Debug, Subcommand)]
pub enum TftpCommand {
    /// Serve DIR over TFTP (default port 6969; RFC 1350 with blksize, timeout, tsize, windowsize).
    Serve(ServeArgs),
    /// Download REMOTE from ADDR into LOCAL (default: REMOTE's file name).
    Get(GetArgs),
    /// Upload LOCAL to ADDR as REMOTE (default: LOCAL's file name).
    Put(PutArgs),
}

/// `netkit tftp get ADDR REMOTE [LOCAL]` (the order of `files get`).
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Server, `host[:port]` (default port 6969).
    #[arg(value_parser = addr)]
    addr: String,
    /// The remote file name.
    remote: String,
    /// The local file (default: REMOTE's last component).
    local: Option<PathBuf>,
    #[command(flatten)]
    opts: ClientArgs,
}

/// `netkit tftp put ADDR LOCAL [REMOTE]` (the order of `files put`,
/// tftp-hpa and `curl -T`).
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Server, `host[:port]` (default port 6969).
    #[arg(value_parser = addr)]
    addr: String,
    /// The local file to upload.
    local: PathBuf,
    /// The remote file name (default: LOCAL's file name).
    remote: Option<String>,
    #[command(flatten)]
    opts: ClientArgs,
}

/// `netkit tftp serve` flags.
#[derive(Debug, Args)]
#[command(mut_arg("port", |a| super::values::default_port(a, "6969")))]
pub struct ServeArgs {
    /// Directory to serve.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    share: ShareArgs,
    /// Retransmission timeout (the first and largest; it adapts down to the
    /// measured round trip unless a client fixes it): 1s, 500ms, …
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    timeout: Duration,
    /// Retransmissions without progress before a transfer is dropped.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// How long in-flight transfers get to finish after SIGINT/SIGTERM.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    grace: Duration,
    /// Transfers one client address may run at once; more are refused with
    /// an ERROR.
    #[arg(long, default_value_t = MAX_PER_CLIENT as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_per_client: u32,
}

impl ServeArgs {
    /// The transfer timing the flags ask for.
    pub(crate) fn timing(&self) -> services::tftp::Timing {
        services::tftp::Timing {
            timeout: self.timeout,
            retries: self.retries,
            max_per_client: self.max_per_client as usize,
        }
    }
}

/// The transfer mode flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Octet,
    Netascii,
}

/// `netkit tftp get|put` flags.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Block size to ask for (8–65464).
    #[arg(long, value_parser = blksize)]
    blksize: Option<usize>,
    /// Window size to ask for (blocks per ACK, RFC 7440).
    #[arg(long, value_parser = positive::<u16>)]
    windowsize: Option<u16>,
    /// Transfer mode.
    #[arg(long, value_enum, default_value = "octet")]
    mode: ModeArg,
    /// Retransmission timeout: 1s, 500ms, …
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    timeout: Duration,
    /// Retransmissions without progress before giving up.
    #[arg(long, default_value_t = 5)]
    retries: u32,
    /// Print one JSON document instead of the human summary.
    #[arg(long)]
    json: bool,
}

/// Runs a `tftp` command.
pub fn run(cmd: TftpCommand) -> Result<()> {
    match cmd {
        TftpCommand::Serve(args) => serve(args),
        TftpCommand::Get(a) => {
            let local = match a.local {
                Some(l) => l,
                None => PathBuf::from(last_component(&a.remote)),
            };
            client(Direction::Read, &a.addr, &a.remote, &local, &a.opts)
        }
        TftpCommand::Put(a) => {
            let remote = match a.remote {
                Some(r) => r,
                None => a
                    .local
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| {
                        format!("{} has no file name to upload as", a.local.display())
                    })?
                    .to_owned(),
            };
            client(Direction::Write, &a.addr, &remote, &a.local, &a.opts)
        }
    }
}

/// `--blksize`: what RFC 2348 allows.
fn blksize(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(b) if (MIN_BLKSIZE..=MAX_BLKSIZE).contains(&b) => Ok(b),
        _ => Err(format!(
            "'{s}' is not a block size ({MIN_BLKSIZE}-{MAX_BLKSIZE})"
        )),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    serve_with(args, &shutdown_on_signals()?)
}

/// Serves until `shutdown` fires and transfers in flight finish (or the
/// grace period ends); prints the ready line once listening.
pub fn serve_with(args: ServeArgs, shutdown: &netkit_drivers::Shutdown) -> Result<()> {
    // The UDP loop runs in this process (no fork): counters on the heap.
    let gate = args
        .share
        .gate(netkit_drivers::Model::Thread, &["tftp", "serve"]);
    let root = services::open_share(&args.dir, &args.share)?;
    let cfg = services::tftp::config(&args.share, args.timing());
    let sockets = args.server.udp_sockets(DEFAULT_PORT)?;
    // The UDP loop runs in this process (no fork): the log may buffer.
    let log = services::access_log::open(args.share.quiet, true);
    let service = services::tftp::service(root, cfg, log.as_ref(), &gate);
    announce_udp("tftp", &sockets)?;
    let result = netkit_drivers::udp::transfers::serve(&sockets, &service, args.grace, shutdown);
    // Transfers log when dropped: the service goes first, then the log flushes.
    drop(service);
    drop(log);
    result?;
    Ok(())
}

/// A remote name's last component (a local name for a download).
fn last_component(remote: &str) -> &str {
    match Path::new(remote).file_name().and_then(|n| n.to_str()) {
        Some(name) => name,
        None => remote,
    }
}

fn client(
    direction: Direction,
    addr: &str,
    remote: &str,
    local: &Path,
    args: &ClientArgs,
) -> Result<()> {
    let server = resolve(addr, DEFAULT_PORT)?;
    let mode = match args.mode {
        ModeArg::Octet => Mode::Octet,
        ModeArg::Netascii => Mode::Netascii,
    };
    let cfg = Config {
        timeout: args.timeout,
        retries: args.retries,
        ..Config::default()
    };
    let mut options = Options {
        blksize: args.blksize,
        windowsize: args.windowsize,
        ..Options::default()
    };
    let now = Instant::now();
    let (client, total) = match direction {
        Direction::Read => {
            options.tsize = Some(0);
            let req = Request {
                direction,
                filename: remote.to_owned(),
                mode,
                options,
            };
            let sink = LocalSink::create(local)?;
            let sink: Box<dyn Sink> = match mode {
                Mode::Octet => Box::new(sink),
                Mode::Netascii => Box::new(NetasciiSink::new(sink)),
            };
            (Client::get(server, req, cfg, sink, now), None)
        }
        Direction::Write => {
            let file =
                File::open(local).with_context(|| format!("cannot open {}", local.display()))?;
            let size = file.metadata()?.len();
            options.tsize = (mode == Mode::Octet).then_some(size);
            let req = Request {
                direction,
                filename: remote.to_owned(),
                mode,
                options,
            };
            let reader = BufReader::with_capacity(256 * 1024, file);
            let source: Box<dyn Read + Send> = match mode {
                Mode::Octet => Box::new(reader),
                Mode::Netascii => Box::new(NetasciiReader::new(reader)),
            };
            (Client::put(server, req, cfg, source, now), Some(size))
        }
    };
    let show = io::stdout().is_terminal() && !args.json;
    let (preposition, what) = match direction {
        Direction::Read => ("from", verb(direction)),
        Direction::Write => ("to", verb(direction)),
    };
    let (client, elapsed) =
        drive(client, server, total, show).with_context(|| format!("{what} {remote}"))?;
    let bytes = client.bytes();
    // Every failure names the address it concerns (the server, or the
    // transfer's port on it once one answered).
    let peer = client.peer().unwrap_or(server);
    match client.status() {
        Status::Complete => {}
        Status::Failed(why) => bail!("{what} {remote} {preposition} {peer}: {why}"),
        Status::Running => bail!("{what} {remote} {preposition} {peer}: transfer stopped"),
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let mbps = bytes as f64 / secs / 1e6;
    if args.json {
        let doc = serde_json::json!({
            "direction": verb(direction), "file": remote, "local": local,
            "bytes": bytes, "seconds": secs, "mb_per_s": mbps,
            "blksize": client.config().blksize, "windowsize": client.config().windowsize,
        });
        println!("{doc}");
    } else if show {
        let what = format!("{} {}", verb(direction), remote);
        println!(
            "{}",
            super::transfer_summary::line(&what, bytes, elapsed, None)
        );
    }
    Ok(())
}

fn verb(direction: Direction) -> &'static str {
    match direction {
        Direction::Read => "get",
        Direction::Write => "put",
    }
}

/// Runs the client over one UDP socket until it is done, on the transfer
/// loop the server's transfers run on.
fn drive(
    mut client: Client,
    server: SocketAddr,
    total: Option<u64>,
    show: bool,
) -> Result<(Client, Duration)> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .context("bind address")?;
    // Ctrl-C stops the transfer within one receive timeout, so the partial
    // download is removed (a second Ctrl-C exits at once).
    let interrupted = shutdown_on_signals()?;
    let socket = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
    // Until the server answers, an ICMP port unreachable is reported on this
    // (unconnected) socket as ECONNREFUSED, which ends the client at once
    // (`handle_refused`) rather than after every retry. Off once the server's
    // TID is known, so reports never pile up in the error queue.
    let mut recverr = set_recverr(&socket, server, true);
    let _ = socket2::SockRef::from(&socket).set_recv_buffer_size(4 << 20);
    // A bar once the size is known (put: the file; get: the OACK's tsize),
    // a spinner with the byte count until then.
    let bar = show.then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    });
    let mut sized = false;
    let start = Instant::now();
    // Asked after every round of sending, before the loop waits.
    let go_on = |client: &Client| {
        if interrupted.is_triggered() {
            return false;
        }
        if let Some(bar) = &bar {
            if let (false, Some(t)) = (sized, total.or(client.tsize())) {
                sized = true;
                bar.set_length(t);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            }
            bar.set_position(client.bytes());
        }
        if recverr && client.peer().is_some() {
            recverr = set_recverr(&socket, server, false);
        }
        true
    };
    netkit_drivers::udp::transfers::run(&socket, &mut client, go_on)?;
    if !client.is_done() && interrupted.is_triggered() {
        bail!("interrupted");
    }
    if let Status::Failed(Failure::Refused) = client.status() {
        bail!("connection refused by {server}");
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok((client, start.elapsed()))
}

/// Turns `IP_RECVERR` on or off (best effort); whether it is now on.
fn set_recverr(socket: &UdpSocket, server: SocketAddr, on: bool) -> bool {
    use nix::sys::socket::{setsockopt, sockopt};
    let done = match server {
        SocketAddr::V4(_) => setsockopt(socket, sockopt::Ipv4RecvErr, &on),
        SocketAddr::V6(_) => setsockopt(socket, sockopt::Ipv6RecvErr, &on),
    };
    on && done.is_ok()
}

/// A download's destination: a temporary next to LOCAL, renamed over it once
/// complete, removed if the transfer fails.
struct LocalSink {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl LocalSink {
    fn create(dest: &Path) -> Result<Self> {
        let name = dest.file_name().context("LOCAL must name a file")?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.part", std::process::id()));
        let tmp = dest.with_file_name(tmp_name);
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Self {
            out: Some(BufWriter::with_capacity(256 * 1024, file)),
            tmp,
            dest: dest.to_owned(),
        })
    }
}

impl Sink for LocalSink {
    fn write_block(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.out {
            Some(w) => w.write_all(data),
            None => Err(io::Error::other("download already finished")),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        let w = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("finished twice"))?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.dest)
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
