//! The chat room (`netkit chat serve`, `netkit up`): one [`Hub`] with, when
//! asked, its link to other servers through Redis; the IRC front as a service
//! for a driver; and the UDP front's loop, which also runs the room's clock,
//! ending with the farewell every member is owed.

use crate::backplane::{self, Backplane};
use anyhow::{Context, Result};
use netkit_drivers::udp::{DatagramLoop, UdpWaker};
use netkit_drivers::Shutdown;
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::irc::IrcService;
use netkit_proto::chat::room::RoomConfig;
use netkit_proto::chat::udp::UdpFront;
use netkit_proto::chat::wire::SHUTTING_DOWN;
use netkit_proto::DatagramService;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The chat room's default UDP port.
pub const DEFAULT_PORT: u16 = 9999;

/// The IRC front's port in `netkit up`.
pub const IRC_PORT: u16 = 6667;

/// Where and as which room the room joins other servers (see
/// [`crate::backplane`]).
#[derive(Debug, Clone)]
pub struct Link {
    /// `redis://HOST:PORT[/DB]`.
    pub url: String,
    /// Servers on one Redis with one room name are one room.
    pub room: String,
    /// Silence after which another server's members are gone.
    pub liveness: Duration,
}

impl Link {
    /// A link with the default liveness.
    pub fn new(url: String, room: String) -> Link {
        Link {
            url,
            room,
            liveness: backplane::DEFAULT_LIVENESS,
        }
    }
}

/// A running room: its hub, its backplane (if linked) and the waker of its
/// UDP loop.
#[derive(Debug)]
pub struct Room {
    hub: Arc<Hub>,
    backplane: Option<Backplane>,
    waker: Arc<UdpWaker>,
}

impl Room {
    /// Starts the room with `config`, joined to other servers when `link`
    /// says so.
    pub fn start(config: RoomConfig, link: Option<Link>) -> Result<Room> {
        let history = config.history;
        let hub = Hub::new(config);
        let backplane = link
            .map(|link| {
                let config = backplane::Config {
                    url: link.url,
                    room: link.room,
                    liveness: link.liveness,
                    history,
                };
                Backplane::start(config, hub.clone())
            })
            .transpose()?;
        let waker = UdpWaker::new().context("creating the UDP loop's waker")?;
        hub.set_udp_waker(waker.waker());
        Ok(Room {
            hub,
            backplane,
            waker,
        })
    }

    /// The shared room (for the other fronts and the operator).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The IRC front, for a driver (threaded models only: a forked child
    /// could not share the room).
    pub fn irc(&self) -> Arc<IrcService> {
        Arc::new(IrcService::new(self.hub.clone()))
    }

    /// Runs the UDP front on `sockets` (one per `--bind`) until `shutdown`
    /// fires (this loop also runs the room's clock), then leaves the shared
    /// room and tells the UDP members the server is going, each through the
    /// socket it talks to (IRC members get an ERROR line from their session).
    pub fn serve_udp(&self, sockets: &[UdpSocket], shutdown: &Shutdown) -> Result<()> {
        let mut front = UdpFront::new(self.hub.clone());
        let mut udp = DatagramLoop::new(sockets)?;
        udp.run(&mut front, shutdown, Some(&self.waker))?;
        // Leave the shared room first, so the farewell stays on this server.
        if let Some(backplane) = &self.backplane {
            backplane.shutdown();
        }
        self.hub.act(None, |room| room.admin(SHUTTING_DOWN));
        let mut farewell = Vec::new();
        front.handle_timeout(Instant::now(), &mut farewell);
        udp.send(&mut farewell);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::chat::ChatCommand;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    /// `up` runs the room with [`RoomConfig::default`] and the default
    /// liveness: they must be what `chat serve` runs without flags.
    #[test]
    fn up_runs_the_room_as_chat_serve_does_by_default() {
        let cli = Cli::try_parse_from(["netkit", "chat", "serve", "--backplane", "redis://x:1"])
            .expect("parses");
        let Command::Chat(ChatCommand::Serve(args)) = cli.command else {
            panic!("not chat serve");
        };
        let (flags, default) = (args.room_config(), RoomConfig::default());
        assert_eq!(
            (flags.history, flags.rate, flags.burst, flags.idle_timeout),
            (
                default.history,
                default.rate,
                default.burst,
                default.idle_timeout
            )
        );
        assert_eq!(
            (flags.join_rate, flags.join_burst),
            (default.join_rate, default.join_burst)
        );
        let link = args.link().expect("--backplane");
        let up = Link::new(link.url.clone(), link.room.clone());
        assert_eq!(link.liveness, up.liveness);
        assert_eq!(link.room, "netkit");
    }
}
