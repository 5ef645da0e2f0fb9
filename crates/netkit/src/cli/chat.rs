//! `netkit chat …`: the chat room server ([`serve`]) and its client ([`join`]).

pub mod join;
pub mod serve;
mod show;
mod typed;

use anyhow::Result;
use clap::Subcommand;

pub use crate::services::chat::DEFAULT_PORT;

/// `netkit chat …`
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Run the room: UDP (default port 9999; IRC with --irc-port); stdin lines are admin announcements.
    Serve(serve::ServeArgs),
    /// Join a room: stdin lines are said, what others say is printed.
    Join(join::JoinArgs),
}

/// Runs a `chat` command.
pub fn run(cmd: ChatCommand) -> Result<()> {
    match cmd {
        ChatCommand::Serve(args) => serve::run(args),
        ChatCommand::Join(args) => join::run(args),
    }
}
