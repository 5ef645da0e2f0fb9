//! `netkit http serve [DIR]`: the HTTP/1.1 static-file server under any model,
//! with its access log (one line per request on stderr, `--quiet` for none).

use super::common::{announce_all, shutdown_on_signals, ModelArgs, ServerArgs};
use super::share_args::{HttpArgs, IdleArgs, ShareArgs};
use super::tls_args::TlsArgs;
use crate::services;
use crate::tls::server::ServerTls;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::services::http::DEFAULT_PORT;

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
    #[command(flatten)]
    tls: TlsArgs,
}

impl ServeArgs {
    /// The HTTP settings the flags ask for.
    pub(crate) fn config(&self) -> netkit_proto::http::HttpConfig {
        services::http::config(&self.share, &self.http, self.idle, self.model.model)
    }
}

/// Runs a `http` command.
pub fn run(cmd: HttpCommand) -> Result<()> {
    match cmd {
        HttpCommand::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let config = args.model.config()?;
    let model = args.model.model;
    let gate = args.share.gate(model, &["http", "serve"]);
    let root = services::open_share(&args.dir, &args.share)?;
    let http = args.config();
    let tls = ServerTls::from_args(&args.tls, &args.server.binds.bind)?;
    services::access::warn_if_passwords_in_clear(&gate, tls.is_some());
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    services::http::defer_accept(&listeners);
    let log = services::open_log(&args.share, model);
    // The web page (folders without index.html), under /_netkit/.
    let page = crate::up::web::WebApp::for_http_serve(
        services::open_share(&args.dir, &args.share)?,
        http.upload,
        http.overwrite,
        model.name(),
    );
    let page: Arc<dyn netkit_proto::http::extension::Extension> = Arc::new(page);
    let service = services::http::service(root, http, model, log.as_ref(), Some(page), &gate);
    if let Some(tls) = &tls {
        tls.announce();
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    announce_all("http", scheme, &listeners)?;
    let tls = tls.as_ref().map(|t| &t.http);
    let result = crate::tls::server::serve(tls, model, listeners, service, &config, &shutdown);
    drop(log);
    result?;
    Ok(())
}
