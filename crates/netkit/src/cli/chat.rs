//! `netkit chat …`: the chat room server ([`serve`]) and its client ([`join`]).

pub mod backplane_bench;
pub mod fanout;
pub mod join;
pub mod serve;

use anyhow::Result;
use clap::Subcommand;

/// The chat room's default UDP port.
pub const DEFAULT_PORT: u16 = 9999;

/// `netkit chat …`
#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Run the room: UDP (default port 9999; IRC with --irc-port); stdin lines are admin announcements.
    Serve(serve::ServeArgs),
    /// Join a room: stdin lines are said, what others say is printed.
    Join(join::JoinArgs),
    /// Measure fan-out deliveries per second (bench/chat-fanout.sh).
    #[command(hide = true)]
    FanoutBench(fanout::FanoutArgs),
    /// Measure deliveries per second and latency across instances (bench/chat-backplane.sh).
    #[command(hide = true)]
    BackplaneBench(backplane_bench::BackplaneBenchArgs),
}

/// Runs a `chat` command.
pub fn run(cmd: ChatCommand) -> Result<()> {
    match cmd {
        ChatCommand::Serve(args) => serve::run(args),
        ChatCommand::Join(args) => join::run(args),
        ChatCommand::FanoutBench(args) => fanout::run(args),
        ChatCommand::BackplaneBench(args) => backplane_bench::run(args),
    }
}
