//! The chat room and its three fronts.
//!
//! ```text
//!   UDP datagrams ──▶ udp::UdpFront ─┐                            ┌─▶ UDP outbox ─▶ UDP loop (woken)
//!   IRC lines ─────▶ irc::IrcSession ┼─▶ hub::Hub ─▶ room::Room ──┼─▶ IRC outboxes ─▶ session wakers
//!   HTTP requests ─▶ web::WebChat ───┤   (one Mutex)   │          └─▶ web outboxes ─▶ event streams
//!   operator stdin ─▶ hub::Hub ──────┘                 └─ link::Link ◀─▶ other servers (backplane)
//! ```
//!
//! [`room`] is the sans-IO room every front drives (its members, names and
//! limits); [`hub`] shares one room between threads and routes its
//! deliveries to the front that owns each member; [`udp`], [`irc`] and
//! [`web`] are the three fronts. [`event`] is what members are told and who
//! they are; [`link`] is the seam (and its [`link::Shared`] events) through
//! which a room is one with rooms on other servers (netkit's Redis
//! backplane), without knowing what is behind it. [`wire`] parses and emits
//! the UDP datagrams, [`names`] and [`limits`] check names and rates.
//!
//! Dependencies point one way, each module importing only those before it:
//! `names`, `limits`, `wire` → `event` → `link` → `room` → `hub` → `udp`,
//! `irc`, `web`.

pub mod event;
pub mod hub;
pub mod irc;
pub mod limits;
pub mod link;
pub mod names;
pub mod room;
pub mod udp;
pub mod web;
pub mod wire;
