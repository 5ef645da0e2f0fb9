//! `netkit http serve [DIR]`: the HTTP/1.1 static-file server under any model,
//! with its access log (one line per request on stderr, `--quiet` for none).

use super::access_log;
use super::common::{announce_all, shutdown_on_signals, ModelArgs, ServerArgs};
use super::share_args::{HttpArgs, IdleArgs, ShareArgs, NEVER};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use netkit_drivers::Model;
use netkit_proto::http::{HttpConfig, HttpService};
use netkit_proto::root::Root;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The HTTP port (80 needs root).
pub const DEFAULT_PORT: u16 = 8000;

/// `netkit http …`
#[derive(Debug, Subcommand)]
pub enum HttpCommand {
    /// Serve DIR over HTTP/1.1 (default port 8000): files, listings, ranges, uploads with --upload.
    Serve(ServeArgs),
}

/// `netkit http serve` flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| super::values::default_port(a, "8000")),
    mut_arg("idle_timeout", |a| a.default_value("75s"))
)]
pub struct ServeArgs {
    /// The directory to serve.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    share: ShareArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    idle: IdleArgs,
}

/// Runs a `http` command.
pub fn run(cmd: HttpCommand) -> Result<()> {
    match cmd {
        HttpCommand::Serve(args) => serve(args),
    }
}

/// The HTTP settings the shared flags ask for (`http serve` and `up`).
pub(crate) fn http_config(
    share: &ShareArgs,
    http: &HttpArgs,
    idle: IdleArgs,
    model: Model,
) -> HttpConfig {
    HttpConfig {
        upload: share.upload,
        overwrite: share.overwrite,
        max_upload: share.max_upload.unwrap_or(u64::MAX),
        cors: http.cors,
        header_timeout: http.header_timeout,
        keepalive_timeout: idle.or(KEEPALIVE_TIMEOUT).unwrap_or(NEVER),
        max_connections: http.max_connections,
        model: model.name().to_owned(),
    }
}

/// How long an idle keep-alive connection is kept by default (nginx's).
pub(crate) const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(75);

fn serve(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let config = args.model.config()?;
    let root = Root::open(&args.dir)
        .with_context(|| format!("cannot serve {}", args.dir.display()))?
        .with_hidden(args.share.hidden);
    if args.share.upload {
        let removed = root.remove_stale_temporaries().unwrap_or(0);
        if removed > 0 {
            tracing::info!("removed {removed} unfinished uploads");
        }
    }
    let http = http_config(&args.share, &args.http, args.idle, args.model.model);
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    // The client speaks first: accept a connection once its request is there
    // (one wake-up per connection; a silent one is handed over after ~1 s and
    // then meets --header-timeout). Best effort: serving works without it.
    for listener in &listeners {
        if let Err(e) = listener.defer_accept(1) {
            tracing::debug!("TCP_DEFER_ACCEPT: {e}");
        }
    }
    // A forked child exits without running a flusher, so it writes each line
    // straight away; every other model buffers.
    let log = access_log::open(args.share.quiet, args.model.model != Model::Fork);
    let mut context = crate::http_context::http_context(args.model.model, Instant::now());
    context.log = log.as_ref().map(access_log::Log::sink);
    let service = Arc::new(HttpService::new(root, http, context));
    announce_all("http", "http", &listeners)?;
    let result = netkit_drivers::serve(args.model.model, listeners, service, &config, &shutdown);
    drop(log);
    result?;
    Ok(())
}
