//! The chat room and its fronts.
//!
//! ```text
//!   UDP datagrams ──▶ udp::UdpFront ─┐                     ┌─▶ UDP outbox ─▶ UDP loop (woken)
//!   IRC lines ─────▶ irc::IrcSession ┼─▶ hub::Hub ─▶ room::Room ─┤
//!   operator stdin ─▶ hub::Hub ──────┘   (one Mutex)        └─▶ IRC outboxes ─▶ session wakers
//! ```
//!
//! [`wire`] parses and emits the UDP datagrams; [`room`] is the sans-IO room
//! every front drives; [`hub`] shares one room between threads and routes its
//! deliveries to the front that owns each member; [`udp`] and [`irc`] are the
//! two fronts. [`link`] is the seam through which a room is one with rooms on
//! other servers (netkit's Redis backplane), without knowing what is behind it.

pub mod event;
pub mod hub;
pub mod irc;
pub mod limits;
pub mod link;
pub mod names;
pub mod room;
pub mod udp;
pub mod wire;
