//! `netkit files …`: the file server and its clients, one file per command.
//!
//! ```text
//!   serve  FilesService (netkit_proto::files) under any --model
//!   ls · get · put · shell ──▶ client (one blocking connection, many commands)
//!                                └─ link: the socket, or rustls over it (--tls …)
//! ```

mod client;
mod get;
mod link;
mod login;
mod ls;
mod progress;
mod put;
pub(crate) mod serve;
mod shell;
mod verify;

pub use client::{Client, ServerError};

use anyhow::Result;
use clap::Subcommand;

/// `netkit files …`
#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Serve a directory over the files protocol (default port 8888).
    Serve(serve::ServeArgs),
    /// List the regular files a server shares.
    Ls(ls::LsArgs),
    /// Download a file (`--resume` continues a partial local copy).
    Get(get::GetArgs),
    /// Upload a file; the server's SHA-256 is checked against ours.
    Put(put::PutArgs),
    /// Interactive prompt: ls, get, put, help, quit.
    Shell(shell::ShellArgs),
}

/// Runs a `files` command.
pub fn run(cmd: FilesCommand) -> Result<()> {
    match cmd {
        FilesCommand::Serve(args) => serve::run(args),
        FilesCommand::Ls(args) => ls::run(args),
        FilesCommand::Get(args) => get::run(args),
        FilesCommand::Put(args) => put::run(args),
        FilesCommand::Shell(args) => shell::run(args),
    }
}
