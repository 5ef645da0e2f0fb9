//! The UDP front: datagrams in, room actions, datagrams out.
//!
//! A member is its source address. Replies to the sender itself (`PONG`, `ERR …`)
//! are made here; everything else comes from the room as deliveries and is
//! encoded once per event, however many members receive it. An address that
//! has not joined is never sent more bytes than it sent: an error that would be
//! longer than the datagram that caused it is dropped (clients pad with spaces),
//! and answers to strangers share a budget of [`STRANGER_REPLIES_PER_SEC`], so
//! a garbage flood costs a parse per datagram, not a `sendto` as well.

use super::event::{Event, MemberId};
use super::hub::{Hub, UdpDelivery};
use super::room::{JoinError, SayError};
use super::wire::{ErrorReason, Reply, Request};
use crate::{Datagram, DatagramService};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Replies per second to addresses that have not joined (errors and
/// refusals), with an equal burst; beyond it they are dropped. Measured with
/// `bench/hostile.sh`: answering every garbage datagram halved the rate a
/// member was served at during a flood.
pub const STRANGER_REPLIES_PER_SEC: f64 = 200.0;

/// The UDP side of a chat room.
#[derive(Debug)]
pub struct UdpFront {
    hub: Arc<Hub>,
    deliveries: Vec<UdpDelivery>,
    /// Tokens left for replies to strangers, and when they were counted.
    stranger_budget: (f64, Option<Instant>),
}

impl UdpFront {
    /// A front on `hub`'s room.
    pub fn new(hub: Arc<Hub>) -> UdpFront {
        UdpFront {
            hub,
            deliveries: Vec::new(),
            stranger_budget: (STRANGER_REPLIES_PER_SEC, None),
        }
    }

    /// Spends one reply to a stranger from the budget, if any is left.
    fn may_answer_stranger(&mut self, now: Instant) -> bool {
        let (tokens, at) = &mut self.stranger_budget;
        let elapsed = at.map_or(0.0, |at| now.saturating_duration_since(at).as_secs_f64());
        *tokens = (*tokens + elapsed * STRANGER_REPLIES_PER_SEC).min(STRANGER_REPLIES_PER_SEC);
        *at = Some(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn flush(&mut self, out: &mut Vec<Datagram>) {
        // Deliveries of one event are adjacent; encode each event once.
        let mut last: Option<(*const Event, Vec<u8>)> = None;
        for (to, event) in self.deliveries.drain(..) {
            let data = match &last {
                Some((ptr, bytes)) if std::ptr::eq(*ptr, Arc::as_ptr(&event)) => bytes.clone(),
                _ => {
                    let bytes = encode(&event);
                    last = Some((Arc::as_ptr(&event), bytes.clone()));
                    bytes
                }
            };
            out.push(Datagram { to, data });
        }
    }
}

/// The datagram for one room event.
pub fn encode(event: &Event) -> Vec<u8> {
    fn names(list: &[Arc<str>]) -> Vec<&str> {
        list.iter().map(|n| &**n).collect()
    }
    match event {
        Event::Welcome { members } => Reply::Ok(names(members)),
        Event::History {
            name,
            text,
            action: false,
        } => Reply::History { name, text },
        Event::History { name, text, .. } => Reply::HistoryMe { name, text },
        Event::Action { name, text } => Reply::Me { name, text },
        Event::Renamed { old, new } => Reply::Renamed { old, new },
        Event::Told { from, text } => Reply::Told { from, text },
        Event::Joined { name } => Reply::Joined(name),
        Event::Message { name, text } => Reply::Msg { name, text },
        Event::Left { name, .. } => Reply::Left(name),
        Event::Admin { text } => Reply::Admin(text),
        Event::Members { names: list } => Reply::Members(names(list)),
        Event::Kicked => Reply::Err(ErrorReason::Kicked),
    }
    .to_bytes()
}

/// The `ERR` for a refused join or rename.
fn join_error(e: JoinError) -> ErrorReason {
    match e {
        JoinError::NameTaken => ErrorReason::NameTaken,
        JoinError::RateLimited => ErrorReason::RateLimited,
        JoinError::NotJoined => ErrorReason::NotJoined,
        _ => ErrorReason::BadName,
    }
}

/// The `ERR` for a refused message, action or private message.
fn say_error(e: SayError) -> ErrorReason {
    match e {
        SayError::NotJoined => ErrorReason::NotJoined,
        SayError::TooLong => ErrorReason::TooLong,
        SayError::NoSuchMember => ErrorReason::NoSuchMember,
        _ => ErrorReason::RateLimited,
    }
}

impl DatagramService for UdpFront {
    fn handle_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        out: &mut Vec<Datagram>,
    ) {
        let id = MemberId::Udp(from);
        let (joined, reply) = self.hub.act(Some(&mut self.deliveries), |room| {
            let joined = room.name_of(id).is_some();
            let said = |result: Result<(), SayError>| {
                result.err().map(|e| Reply::Err(say_error(e)).to_bytes())
            };
            let reply = match Request::parse(data) {
                Err(_) => Some(Reply::Err(ErrorReason::BadCommand).to_bytes()),
                Ok(Request::Join(name)) => room
                    .join(now, id, name, true)
                    .err()
                    .map(|e| Reply::Err(join_error(e)).to_bytes()),
                Ok(Request::Say(text)) => said(room.say(now, id, text)),
                Ok(Request::Me(text)) => said(room.act(now, id, text)),
                Ok(Request::Tell(to, text)) => said(room.tell(now, id, to, text)),
                Ok(Request::Nick(name)) => match room.rename(now, id, name) {
                    Ok(members) => {
                        let members: Vec<&str> = members.iter().map(|n| &**n).collect();
                        // Encoded here: the names live in the room.
                        Some(Reply::Ok(members).to_bytes())
                    }
                    Err(e) => Some(Reply::Err(join_error(e)).to_bytes()),
                },
                Ok(Request::Leave) => {
                    let left = room.leave(id, super::event::LeaveReason::Left);
                    (!left).then(|| Reply::Err(ErrorReason::NotJoined).to_bytes())
                }
                Ok(Request::Ping) => Some(match room.ping(now, id) {
                    Ok(()) => Reply::Pong.to_bytes(),
                    Err(_) => Reply::Err(ErrorReason::NotJoined).to_bytes(),
                }),
                Ok(Request::Who) => room
                    .who(now, id)
                    .err()
                    .map(|_| Reply::Err(ErrorReason::NotJoined).to_bytes()),
            };
            (joined, reply)
        });
        // Room deliveries first: history owed to this member precedes its PONG.
        self.flush(out);
        if let Some(bytes) = reply {
            if joined || (bytes.len() <= data.len() && self.may_answer_stranger(now)) {
                out.push(Datagram {
                    to: from,
                    data: bytes,
                });
            }
        }
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Datagram>) {
        self.hub
            .act(Some(&mut self.deliveries), |room| room.handle_timeout(now));
        self.hub.take_udp(&mut self.deliveries);
        self.flush(out);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.hub.with_room(|room| room.poll_timeout())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::room::tests::{drain, udp};
    use crate::chat::room::{Room, RoomConfig};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn send(front: &mut UdpFront, from: u16, data: &[u8]) -> Vec<(u16, String)> {
        let mut out = Vec::new();
        front.handle_datagram(Instant::now(), addr(from), data, &mut out);
        out.into_iter()
            .map(|d| (d.to.port(), String::from_utf8(d.data).unwrap()))
            .collect()
    }

    #[test]
    fn datagrams_drive_the_room() {
        let mut front = UdpFront::new(Hub::new(RoomConfig::default()));
        assert_eq!(send(&mut front, 1, b"JOIN alice"), [(1, "OK alice".into())]);
        assert_eq!(
            send(&mut front, 1, b"PING"),
            [(1, "MEMBERS alice".into()), (1, "PONG".into())]
        );
        // bob's OK names bob alone: the list follows its next datagram.
        assert_eq!(
            send(&mut front, 2, b"JOIN bob"),
            [(1, "JOINED bob".into()), (2, "OK bob".into())]
        );
        assert_eq!(
            send(&mut front, 2, b"SAY hi"),
            [(2, "MEMBERS alice bob".into()), (1, "MSG bob hi".into())]
        );
        assert_eq!(send(&mut front, 1, b"PING"), [(1, "PONG".into())]);
        assert_eq!(
            send(&mut front, 1, b"WHO"),
            [(1, "MEMBERS alice bob".into())]
        );
        assert_eq!(
            send(&mut front, 1, b"bogus"),
            [(1, "ERR bad-command".into())]
        );
        assert_eq!(send(&mut front, 2, b"LEAVE"), [(1, "LEFT bob".into())]);
        let three = send(&mut front, 3, b"JOIN carol");
        assert_eq!(three.len(), 2, "JOINED carol to alice, OK to carol");
        assert_eq!(
            send(&mut front, 3, b"PING"),
            [
                (3, "MEMBERS alice carol".into()),
                (3, "HISTORY bob hi".into()),
                (3, "PONG".into())
            ]
        );
    }

    #[test]
    fn unjoined_addresses_never_get_more_than_they_sent() {
        let mut front = UdpFront::new(Hub::new(RoomConfig::default()));
        assert!(send(&mut front, 9, b"PING").is_empty());
        assert!(send(&mut front, 9, b"x").is_empty());
        assert!(send(&mut front, 9, b"JOIN").is_empty());
        assert_eq!(
            send(&mut front, 9, b"PING          "),
            [(9, "ERR not-joined".into())]
        );
        assert_eq!(
            send(&mut front, 9, b"SAY hello there"),
            [(9, "ERR not-joined".into())]
        );
        assert_eq!(
            send(
                &mut front,
                9,
                b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
            ),
            [(9, "ERR bad-command".into())]
        );
        assert_eq!(
            send(&mut front, 9, b"JOIN a b       "),
            [(9, "ERR bad-name".into())]
        );
    }

    /// `port` joins and confirms its address with a PING (as `chat join` does).
    fn confirmed(room: &mut Room, t: Instant, port: u16, name: &str) -> MemberId {
        let id = udp(port);
        room.join(t, id, name, true).unwrap();
        room.ping(t, id).unwrap();
        id
    }

    /// The room's rule (issue 15), counted in this front's bytes: a forged
    /// JOIN draws no more bytes than it had until the address speaks again.
    #[test]
    fn a_new_datagram_member_gets_no_more_than_it_sent_until_its_next_datagram() {
        let t = Instant::now();
        let mut room = Room::new(RoomConfig {
            join_rate: 0.0,
            ..RoomConfig::default()
        });
        for i in 0..2000u16 {
            confirmed(&mut room, t, 1000 + i, &format!("member{i:04}"));
        }
        room.say(t, udp(1000), "earlier").unwrap();
        drain(&mut room);
        let joiner = udp(9);
        let join = b"JOIN x";
        room.join(t, joiner, "x", true).unwrap();
        room.say(t, udp(1001), "while x is unconfirmed").unwrap();
        room.admin("an announcement");
        room.join(t, udp(10), "y", true).unwrap();
        let to_x: Vec<Event> = drain(&mut room)
            .into_iter()
            .filter(|(to, _)| *to == joiner)
            .map(|(_, e)| e)
            .collect();
        let bytes: usize = to_x.iter().map(|e| encode(e).len()).sum();
        assert!(
            bytes <= join.len(),
            "{bytes} bytes for a {}-byte JOIN: {to_x:?}",
            join.len()
        );
        assert_eq!(
            to_x,
            [Event::Welcome {
                members: vec!["x".into()]
            }]
        );

        // Its next datagram brings the list and everything said meanwhile.
        room.ping(t, joiner).unwrap();
        let ev: Vec<Event> = drain(&mut room).into_iter().map(|(_, e)| e).collect();
        assert!(
            matches!(&ev[0], Event::Members { names } if names.len() == 2002),
            "{:?}",
            ev[0]
        );
        let history: Vec<&str> = ev[1..]
            .iter()
            .filter_map(|e| match e {
                Event::History { text, .. } => Some(&**text),
                _ => None,
            })
            .collect();
        assert_eq!(history, ["earlier", "while x is unconfirmed"]);
        // And from then on it hears the room live.
        room.say(t, udp(1000), "now").unwrap();
        assert!(drain(&mut room)
            .iter()
            .any(|(to, e)| *to == joiner
                && matches!(e, Event::Message { text, .. } if &**text == "now")));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::chat::room::RoomConfig;
    use proptest::prelude::*;

    proptest! {
        /// No datagram from an address that has not joined gets an answer
        /// longer than itself, whatever it holds.
        #[test]
        fn no_amplification(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            name in "[a-z]{1,12}",
            others in proptest::collection::vec(
                "(SAY [a-z ]{0,40}|WHO|PING|JOIN [a-z]{1,8}|ME [a-z ]{0,40}|NICK [a-z]{1,8}|TELL [a-z]{1,3} [a-z ]{1,40})",
                0..8,
            ),
        ) {
            // A room with members who talk; a new address sends one datagram
            // (anything, or a JOIN) and then gets, in all, no more than that.
            let mut front = UdpFront::new(Hub::new(RoomConfig::default()));
            let t = Instant::now();
            let mut ignore = Vec::new();
            for (i, m) in ["alice", "bob"].iter().enumerate() {
                let at = SocketAddr::from(([127, 0, 0, 1], 100 + i as u16));
                front.handle_datagram(t, at, format!("JOIN {m}").as_bytes(), &mut ignore);
                front.handle_datagram(t, at, b"PING", &mut ignore);
            }
            for (port, first) in [(9, data), (10, format!("JOIN {name}").into_bytes())] {
                let from = SocketAddr::from(([127, 0, 0, 1], port));
                let mut out = Vec::new();
                front.handle_datagram(t, from, &first, &mut out);
                for (i, d) in others.iter().enumerate() {
                    let at = SocketAddr::from(([127, 0, 0, 1], 100 + (i % 2) as u16));
                    front.handle_datagram(t, at, d.as_bytes(), &mut out);
                }
                let got: usize = out.iter().filter(|d| d.to == from).map(|d| d.data.len()).sum();
                prop_assert!(got <= first.len(), "{:?} drew {} bytes", first, got);
            }
        }
    }
}
