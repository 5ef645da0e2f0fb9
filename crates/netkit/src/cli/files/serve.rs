//! `netkit files serve [DIR]`: the files protocol under any `--model`.

use crate::cli::common::{announce_all, shutdown_on_signals, ModelArgs, ServerArgs};
use crate::cli::share_args::{IdleArgs, ShareArgs};
use crate::cli::tls_args::TlsArgs;
use crate::services;
use crate::services::files::DEFAULT_PORT;
use crate::tls::server::ServerTls;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `netkit files serve` flags.
#[derive(Debug, Args)]
#[command(
    mut_arg("port", |a| crate::cli::values::default_port(a, "8888")),
    mut_arg("idle_timeout", |a| a.default_value("300s"))
)]
pub struct ServeArgs {
    /// The directory to share.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    share: ShareArgs,
    #[command(flatten)]
    idle: IdleArgs,
    #[command(flatten)]
    tls: TlsArgs,
}

impl ServeArgs {
    /// The files settings the flags ask for.
    pub(crate) fn config(&self) -> netkit_proto::files::FilesConfig {
        services::files::config(&self.share, self.idle)
    }
}

pub(crate) fn run(args: ServeArgs) -> Result<()> {
    let shutdown = shutdown_on_signals()?;
    let model = args.model.model;
    let gate = args.share.gate(model, &["files", "serve"]);
    let root = services::open_share(&args.dir, &args.share)?;
    let config = args.model.config()?;
    let tls = ServerTls::from_args(&args.tls, &args.server.binds.bind)?;
    services::access::warn_if_passwords_in_clear(&gate, tls.is_some());
    let listeners = args.server.listen_tcp(DEFAULT_PORT)?;
    let files = args.config();
    let log = services::open_log(&args.share, model);
    let service = services::files::service(root, files, log.as_ref(), &gate)?;
    if let Some(tls) = &tls {
        tls.announce();
    }
    let scheme = if tls.is_some() { "tls" } else { "tcp" };
    announce_all("files", scheme, &listeners)?;
    let tls = tls.as_ref().map(|t| &t.plain);
    let result = crate::tls::server::serve(tls, model, listeners, service, &config, &shutdown);
    drop(log);
    result?;
    Ok(())
}
