//! The command line: one file per command, each with its arguments and `run()`.
//! This module only declares the commands and dispatches.

pub mod bench;
pub mod broadcast;
pub mod chat;
pub(crate) mod common;
pub mod completions;
pub mod echo;
pub mod files;
pub mod http;
pub mod man;
pub mod nc;
pub mod passwd;
pub mod relay;
pub mod share_args;
pub mod tftp;
pub mod tls_args;
mod transfer_summary;
pub mod up;
mod values;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub use common::{BindArgs, ModelArgs, ServerArgs};

/// `netkit --version`: the version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("NETKIT_COMMIT"), ")");

/// netkit: network tools and servers from the classic sockets course.
#[derive(Debug, Parser)]
#[command(name = "netkit", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything at once on one folder: HTTP 8000 + web app, files 8888, TFTP 6969, chat 9999, IRC 6667.
    Up(up::UpArgs),
    /// HTTP/1.1 static-file server.
    #[command(subcommand)]
    Http(http::HttpCommand),
    /// File server (its own TCP protocol) and its client.
    #[command(subcommand)]
    Files(files::FilesCommand),
    /// TFTP server and client.
    #[command(subcommand)]
    Tftp(tftp::TftpCommand),
    /// Chat room over UDP (and IRC), and its client.
    #[command(subcommand)]
    Chat(chat::ChatCommand),
    /// Echo server (TCP by default, or UDP, or a Unix socket).
    #[command(subcommand)]
    Echo(echo::EchoCommand),
    /// Connect to a TCP, UDP or Unix socket: stdin to the socket, the socket to stdout.
    Nc(nc::NcArgs),
    /// Send or receive UDP broadcasts.
    #[command(subcommand)]
    Broadcast(broadcast::BroadcastCommand),
    /// One-thread multiplexing server (default port 7070): logs every client line and stdin line to a file.
    Relay(relay::RelayArgs),
    /// Print the Argon2id hash of a password (asked without echo, or one line
    /// from a pipe), for a PASSWORD in --auth rules.
    Passwd(passwd::PasswdArgs),
    /// Benchmarks: a load generator, every model under load, threads vs processes.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(completions::CompletionsArgs),
    /// Write one manual page per command into DIR.
    Man(man::ManArgs),
}

/// The process's command line, parsed; a usage error exits with status 2 and
/// the usage line of the subcommand it is about.
pub fn parse() -> Cli {
    values::parse_args()
}

/// Runs a parsed command line and returns the process exit status.
pub fn run(cli: Cli) -> ExitCode {
    if let Err(e) = crate::services::ignore_sigxfsz() {
        return common::exit_code(Err(e));
    }
    common::init_logging();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Http(cmd) => http::run(cmd),
        Command::Files(cmd) => files::run(cmd),
        Command::Tftp(cmd) => tftp::run(cmd),
        Command::Chat(cmd) => chat::run(cmd),
        Command::Echo(cmd) => echo::run(cmd),
        Command::Nc(args) => nc::run(args),
        Command::Broadcast(cmd) => broadcast::run(cmd),
        Command::Relay(args) => relay::run(args),
        Command::Passwd(args) => passwd::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    };
    common::exit_code(result)
}
