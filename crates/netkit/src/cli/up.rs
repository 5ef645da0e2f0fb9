//! `netkit up [DIR]`: every service at once on one folder and one chat room
//! (see [`crate::up`]); this file only turns flags into an [`UpConfig`].

use super::common::{shutdown_on_signals, BindArgs, ModelArgs};
use super::share_args::{HttpArgs, IdleArgs, ShareArgs};
use super::tls_args::TlsArgs;
use super::values::usage_error;
use crate::up::{BackplaneConfig, UpConfig};
use anyhow::Result;
use clap::error::ErrorKind;
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `netkit up` flags.
#[derive(Debug, Args)]
#[command(mut_arg("idle_timeout", |a| {
    a.help("Close a connection idle this long (0: never) [default: HTTP 75s, files 300s]")
}))]
pub struct UpArgs {
    /// The folder to share.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    binds: BindArgs,
    /// HTTP port, for browsers and curl (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    http_port: u16,
    /// File server port (netkit files).
    #[arg(long, default_value_t = 8888)]
    files_port: u16,
    /// TFTP port.
    #[arg(long, default_value_t = 6969)]
    tftp_port: u16,
    /// Chat room UDP port (netkit chat join).
    #[arg(long, default_value_t = 9999)]
    chat_port: u16,
    /// IRC port of the chat room (channel #netkit).
    #[arg(long, default_value_t = 6667)]
    irc_port: u16,
    /// Leave HTTP (and the web app) out.
    #[arg(long)]
    no_http: bool,
    /// Leave the file server out.
    #[arg(long)]
    no_files: bool,
    /// Leave TFTP out.
    #[arg(long)]
    no_tftp: bool,
    /// Leave the UDP chat room out.
    #[arg(long)]
    no_chat: bool,
    /// Leave the IRC front out.
    #[arg(long)]
    no_irc: bool,
    #[command(flatten)]
    share: ShareArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    idle: IdleArgs,
    #[command(flatten)]
    tls: TlsArgs,
    /// Share the chat room with every server on this Redis: redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL")]
    backplane: Option<String>,
    /// The shared room's name (servers on one Redis with one name are one room).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "netkit",
        requires = "backplane"
    )]
    room: String,
    #[command(flatten)]
    model: ModelArgs,
}

/// Runs `netkit up`.
pub fn run(args: UpArgs) -> Result<()> {
    if args.model.model == netkit_drivers::Model::Fork && !(args.no_chat && args.no_irc) {
        usage_error(&["up"], ErrorKind::ArgumentConflict, "--model fork cannot share the chat room between services (forked children would each have their own); use a threaded model, or --no-chat --no-irc");
    }
    let gate = args.share.gate(args.model.model, &["up"]);
    if !args.no_http || !args.no_files {
        crate::services::access::warn_if_passwords_in_clear(&gate, args.tls.enabled());
    }
    let on = |off: bool, port: u16| (!off).then_some(port);
    let config = UpConfig {
        dir: args.dir,
        bind: args.binds.bind,
        http_port: on(args.no_http, args.http_port),
        files_port: on(args.no_files, args.files_port),
        tftp_port: on(args.no_tftp, args.tftp_port),
        chat_port: on(args.no_chat, args.chat_port),
        irc_port: on(args.no_irc, args.irc_port),
        share: args.share,
        http: args.http,
        idle: args.idle,
        tls: args.tls,
        model: args.model.model,
        driver: args.model.config()?,
        backplane: args.backplane.map(|url| BackplaneConfig {
            url,
            room: args.room,
        }),
        gate,
    };
    let shutdown = shutdown_on_signals()?;
    let terminal = std::io::stdout().is_terminal();
    crate::up::up(config, &shutdown, &mut std::io::stdout(), terminal)
}
