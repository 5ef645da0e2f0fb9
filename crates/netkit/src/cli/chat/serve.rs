//! `netkit chat serve`: the room on UDP, optionally IRC on TCP, and the
//! operator's stdin.
//!
//! Three kinds of thread share one [`Hub`]: this thread runs the UDP loop, a
//! driver serves IRC connections under `--model` (threaded models only: a forked
//! child could not share the room), and a stdin thread turns each line into an
//! ADMIN announcement or an operator command (`/kick NAME`, `/list`, `/status`).
//! `/kick` of a member on another instance asks that instance (through the
//! backplane) to remove it.
//! With `--backplane redis://…`, every instance on that Redis with the same
//! `--room` serves one room (see [`crate::backplane`]).

use super::DEFAULT_PORT;
use crate::backplane;
use crate::cli::common::{announce_all, announce_udp, shutdown_on_signals, ModelArgs, ServerArgs};
use crate::cli::values::{duration, positive, usage_error};
use crate::services::chat;
use anyhow::{Context, Result};
use clap::error::ErrorKind;
use clap::Args;
use netkit_drivers::Model;
use netkit_proto::chat::event::MemberId;
use netkit_proto::chat::hub::Hub;
use netkit_proto::chat::room::RoomConfig;
use std::io::{BufRead, Write};
use std::time::Duration;

/// `netkit chat serve` flags.
#[derive(Debug, Args)]
#[command(mut_arg("port", |a| crate::cli::values::default_port(a, "9999")))]
pub struct ServeArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Also accept IRC clients on this TCP port, in channel #netkit (0 picks one).
    #[arg(long, value_name = "N")]
    irc_port: Option<u16>,
    #[command(flatten)]
    model: ModelArgs,
    /// Messages per second each member may keep up (0 turns flood control off).
    #[arg(long, default_value_t = 5.0, value_parser = rate)]
    rate: f64,
    /// Messages a member may send at once.
    #[arg(long, default_value_t = 10, value_parser = positive::<u32>)]
    burst: u32,
    /// Joins and renames per second one address (IPv4, or IPv6 /64) may keep
    /// up, over UDP, IRC and the web page together (0 turns the limit off).
    #[arg(long, default_value_t = 2.0, value_parser = rate)]
    join_rate: f64,
    /// Joins and renames one address may make at once.
    #[arg(long, default_value_t = 20, value_parser = positive::<u32>)]
    join_burst: u32,
    /// Silence before a member is dropped (tests shorten it).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = duration, hide = true)]
    idle_timeout: Duration,
    /// Share the room with every instance on this Redis: redis://HOST:PORT[/DB].
    #[arg(long, value_name = "URL", value_parser = redis_url)]
    backplane: Option<String>,
    /// The shared room's name (instances on one Redis with one name are one room).
    #[arg(long, value_name = "NAME", default_value = "netkit", value_parser = room)]
    room: String,
    /// Time without a heartbeat before another instance's members are
    /// announced as LEFT and their names freed (tests shorten it).
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = duration, hide = true)]
    backplane_timeout: Duration,
}

impl ServeArgs {
    /// The room's limits the flags ask for.
    pub(crate) fn room_config(&self) -> RoomConfig {
        RoomConfig {
            rate: self.rate,
            burst: self.burst,
            idle_timeout: self.idle_timeout,
            join_rate: self.join_rate,
            join_burst: self.join_burst,
            ..RoomConfig::default()
        }
    }

    /// The link to other servers, with `--backplane`.
    pub(crate) fn link(&self) -> Option<chat::Link> {
        self.backplane.clone().map(|url| chat::Link {
            url,
            room: self.room.clone(),
            liveness: self.backplane_timeout,
        })
    }
}

/// `--rate`: messages per second, 0 or more.
fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r >= 0.0 && r.is_finite() => Ok(r),
        _ => Err(format!(
            "'{s}' is not a number of messages per second, 0 or more"
        )),
    }
}

/// `--room`: a name Redis keys can carry.
fn room(s: &str) -> Result<String, String> {
    if backplane::valid_room(s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "'{s}' must be 1-64 letters, digits, '-', '_' or '.'"
        ))
    }
}

/// `--backplane`: `redis://HOST:PORT[/DB]`.
fn redis_url(s: &str) -> Result<String, String> {
    if s.starts_with("redis://") {
        Ok(s.to_owned())
    } else {
        Err(format!("'{s}' is not redis://HOST:PORT[/DB]"))
    }
}

/// Runs `netkit chat serve`.
pub fn run(args: ServeArgs) -> Result<()> {
    if args.irc_port.is_some() && args.model.model == Model::Fork {
        usage_error(&["chat", "serve"], ErrorKind::ArgumentConflict, "--model fork cannot serve IRC: forked children cannot share the room; use a threaded model (the default, epoll, or thread, pool, poll, select, async)");
    }
    let shutdown = shutdown_on_signals()?;
    let room = chat::Room::start(args.room_config(), args.link())?;

    let sockets = args.server.udp_sockets(DEFAULT_PORT)?;
    announce_udp("chat", &sockets)?;

    let irc = match args.irc_port {
        Some(port) => {
            // On every --bind, like the room itself.
            let listeners = args.server.binds.tcp(port)?;
            announce_all("irc", "tcp", &listeners)?;
            let service = room.irc();
            let (model, config, shutdown) =
                (args.model.model, args.model.config()?, shutdown.clone());
            Some(std::thread::spawn(move || {
                netkit_drivers::serve(model, listeners, service, &config, &shutdown)
            }))
        }
        None => None,
    };

    let operator = room.hub().clone();
    std::thread::spawn(move || operate(&operator));

    room.serve_udp(&sockets, &shutdown)?;
    if let Some(irc) = irc {
        match irc.join() {
            Ok(result) => result.context("IRC front")?,
            Err(_) => anyhow::bail!("the IRC front panicked"),
        }
    }
    Ok(())
}

/// The operator's stdin: every line is an announcement, except the commands.
fn operate(hub: &Hub) {
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let line = line.trim_end();
        let reply = match line.split_once(' ').unwrap_or((line, "")) {
            ("", _) => continue,
            ("/list", _) => {
                let members = hub.with_room(|room| room.members());
                let list: Vec<String> = members
                    .iter()
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect();
                format!("{} members: {}", list.len(), list.join(", "))
            }
            ("/status", _) => {
                let (status, count) =
                    hub.with_room(|room| (room.link_status(), room.members().len()));
                format!("room {status}, {count} members")
            }
            ("/kick", name) if !name.trim().is_empty() => {
                let name = name.trim();
                let (kicked, elsewhere) = hub.act(None, |room| {
                    let kicked = room.kick(name);
                    let wanted = name.to_lowercase();
                    let elsewhere = room
                        .members()
                        .iter()
                        .any(|(id, n)| *id == MemberId::Elsewhere && n.to_lowercase() == wanted);
                    (kicked, elsewhere)
                });
                match kicked {
                    Some(MemberId::Elsewhere) => {
                        format!("kicking {name} (on another server; its server removes it)")
                    }
                    Some(id) => format!("kicked {name} ({id})"),
                    None if elsewhere => format!(
                        "{name} is on another server and the backplane is away: kick it there"
                    ),
                    None => format!("no member named {name}"),
                }
            }
            (cmd, _) if cmd.starts_with('/') => {
                format!("unknown command {cmd} (commands: /kick NAME, /list, /status; other lines are announced)")
            }
            _ => {
                hub.act(None, |room| room.admin(line));
                continue;
            }
        };
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{reply}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return;
        }
    }
}
