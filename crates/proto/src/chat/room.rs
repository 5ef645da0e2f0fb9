//! The chat room as a state machine: members, names, history, flood control and
//! heartbeats, with no socket inside.
//!
//! Every front (UDP datagrams, IRC connections, later a browser or a backplane)
//! calls the same verbs — [`Room::join`], [`Room::say`], [`Room::ping`],
//! [`Room::leave`], [`Room::who`], [`Room::admin`], [`Room::kick`], and the
//! verbs of `room/verbs.rs`: [`Room::act`], [`Room::rename`], [`Room::tell`] — and then
//! collects [`Delivery`]s with [`Room::poll_deliveries`]: one [`Event`] for one
//! [`MemberId`]. The front that owns that member turns the event into bytes
//! (`MSG bob hi` for UDP, `:bob!bob@netkit PRIVMSG #netkit :hi` for IRC). An event
//! that goes to many members is one `Arc`, so a front can encode it once.
//!
//! ```text
//!   front ── join/say/leave/ping(now, id, …) ──▶ Room ── Delivery{to, event} ──▶ fronts
//!   clock ── handle_timeout(now) ─────────────▶ Room   (heartbeat evictions)
//! ```
//!
//! Names are unique across fronts, case-insensitively and up to look-alikes
//! (UTS #39 confusables, see [`super::names`]). An IRC connection holds
//! its nick with [`Room::claim_name`] before it joins the channel, so a UDP
//! member cannot take a nick in use. Members that may vanish silently (UDP)
//! carry a heartbeat: silent for longer than the idle timeout, they are dropped
//! as if they had left.
//!
//! The room may be one of several that act as one (servers sharing a backplane).
//! It then talks to the others through a [`Link`] only: names are claimed
//! through it, and what everyone must hear ([`Shared`]: joins, messages, leaves,
//! announcements) is offered to it. A link that takes an event hands it back
//! later, in the one order every room agrees on, through [`Room::receive`], and
//! only then do local members hear it; a link that does not (none installed, or
//! the backplane is away) leaves the room to deliver at once. Either way each
//! member hears each event once.

use super::event::{Delivery, Event, LeaveReason, MemberId};
use super::limits::{AddressLimit, Bucket};
use super::link::{Link, Shared};
use super::names::{clean_text, valid_name};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Room settings.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Messages replayed to a joining member.
    pub history: usize,
    /// Messages per second a member may keep up (0: no flood control).
    pub rate: f64,
    /// Messages a member may send at once after being quiet.
    pub burst: u32,
    /// Heartbeat members silent for longer than this are dropped.
    pub idle_timeout: Duration,
    /// Joins and renames per second one address may keep up (0: no limit).
    pub join_rate: f64,
    /// Joins and renames one address may make at once.
    pub join_burst: u32,
}

impl Default for RoomConfig {
    fn default() -> Self {
        Self {
            history: 50,
            rate: 5.0,
            burst: 10,
            idle_timeout: Duration::from_secs(60),
            join_rate: 2.0,
            join_burst: 20,
        }
    }
}

/// Why a join failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The name is not 1–32 characters without spaces or control characters.
    #[error("bad name")]
    BadName,
    /// Another member (or IRC connection) has that name, case-insensitively
    /// or as a look-alike.
    #[error("name taken")]
    NameTaken,
    /// The address has joined or renamed too often (`--join-rate`).
    #[error("rate limited")]
    RateLimited,
    /// A rename (`NICK`) by someone who has not joined.
    #[error("not joined")]
    NotJoined,
}

/// Why a message was not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SayError {
    /// The sender has not joined.
    #[error("not joined")]
    NotJoined,
    /// Over [`MAX_TEXT_BYTES`].
    #[error("too long")]
    TooLong,
    /// Over the sender's flood limit.
    #[error("rate limited")]
    RateLimited,
    /// A private message (`TELL`) to a name no member has.
    #[error("no such member")]
    NoSuchMember,
}

/// The sender has not joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not joined")]
pub struct NotJoined;

#[derive(Debug)]
struct Member {
    name: Arc<str>,
    /// When a heartbeat member is dropped; `None` for members whose connection
    /// tells us when they go (IRC).
    expires: Option<Instant>,
    /// Its flood limit for messages.
    bucket: Bucket,
    /// A datagram member (its address may be forged) hears nothing but its
    /// `OK` until its next datagram: no address gets more bytes than it sent.
    pending: bool,
    /// A datagram member gets the history as it was when it joined (messages
    /// numbered below this) with its first datagram after JOIN.
    history_owed: Option<u64>,
    /// Events this room published after this number (see [`Room::receive_own`])
    /// are news to this member; earlier ones were in its welcome or history.
    since: u64,
}

/// The room. See the module documentation.
#[derive(Debug)]
pub struct Room {
    config: RoomConfig,
    members: HashMap<MemberId, Member>,
    /// Lower-cased name → its holder (a member, or an IRC connection's claim).
    names: HashMap<String, MemberId>,
    /// Names held by connections whether or not they are members (IRC nicks).
    claims: HashMap<MemberId, Arc<str>>,
    /// The last messages and actions.
    history: VecDeque<Said>,
    said: u64,
    deliveries: Vec<Delivery>,
    /// No heartbeat expires before this (a sweep may come early, never late).
    next_sweep: Option<Instant>,
    /// The other rooms, if any.
    link: Option<Box<dyn Link>>,
    /// The number of the last event the link took from this room.
    published: u64,
    /// Join buckets per address.
    joins: AddressLimit,
    /// Members the last sweep dropped whose departure is still to be told
    /// (a few at a time: see `room/sweep.rs`).
    departed: VecDeque<Arc<str>>,
    /// The addresses of connection members (IRC, web), for the join limit.
    origins: HashMap<MemberId, IpAddr>,
}

/// A message or an action kept in the history.
#[derive(Debug)]
struct Said {
    /// Counted since the room began.
    number: u64,
    name: Arc<str>,
    text: Arc<str>,
    action: bool,
}

/// The key a name is held under: look-alikes (UTS #39) and cases are one name.
fn fold(name: &str) -> String {
    super::names::name_key(name)
}

impl Room {
    /// An empty room.
    pub fn new(config: RoomConfig) -> Room {
        Room {
            members: HashMap::new(),
            names: HashMap::new(),
            claims: HashMap::new(),
            history: VecDeque::new(),
            said: 0,
            deliveries: Vec::new(),
            next_sweep: None,
            link: None,
            published: 0,
            joins: AddressLimit::new(config.join_rate, config.join_burst),
            departed: VecDeque::new(),
            origins: HashMap::new(),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// Whether `name` is held by anyone but `by`.
    pub fn name_taken(&self, name: &str, by: MemberId) -> bool {
        self.names
            .get(&fold(name))
            .is_some_and(|holder| *holder != by)
    }

    /// Holds `name` for `id` without joining (an IRC nick), releasing the name it
    /// held before. Fails while `id` is a member (rename by leaving first).
    /// A claim counts against the address's join limit.
    pub fn claim_name(&mut self, now: Instant, id: MemberId, name: &str) -> Result<(), JoinError> {
        if !valid_name(name) {
            return Err(JoinError::BadName);
        }
        if self.name_taken(name, id) || self.members.contains_key(&id) {
            return Err(JoinError::NameTaken);
        }
        if !self.charge_join(now, id) {
            return Err(JoinError::RateLimited);
        }
        if !self.claim_shared(id, name) {
            return Err(JoinError::NameTaken);
        }
        self.release_name(id);
        self.names.insert(fold(name), id);
        self.claims.insert(id, name.into());
        Ok(())
    }

    /// Gives up the name claimed with [`Room::claim_name`] (leaving first, if a member).
    pub fn release_name(&mut self, id: MemberId) {
        self.leave(id, LeaveReason::Quit("".into()));
        if let Some(old) = self.claims.remove(&id) {
            self.names.remove(&fold(&old));
            self.release_shared(&old);
        }
    }

    /// `id` joins as `name`. A heartbeat member is dropped when silent for the
    /// idle timeout, and gets the history only with its next datagram (a SAY,
    /// PING or WHO): its address may be forged, and a forged JOIN must not turn
    /// a few bytes into fifty messages sent to someone else. A datagram
    /// member ([`MemberId::Udp`]) is welcomed with its own name alone and
    /// hears nothing more until that datagram, which brings the member list
    /// and the history. Joining again under the same name repeats the welcome
    /// alone (a UDP client whose `OK` was lost); under another name (a
    /// rename), it leaves first. Joins and renames count against the
    /// address's join limit ([`RoomConfig::join_rate`]).
    pub fn join(
        &mut self,
        now: Instant,
        id: MemberId,
        name: &str,
        heartbeat: bool,
    ) -> Result<(), JoinError> {
        if !valid_name(name) {
            return Err(JoinError::BadName);
        }
        if self.name_taken(name, id) {
            return Err(JoinError::NameTaken);
        }
        let same = self.members.get(&id).is_some_and(|m| *m.name == *name);
        if !same && !self.charge_join(now, id) {
            return Err(JoinError::RateLimited);
        }
        if !same && !self.claim_shared(id, name) {
            return Err(JoinError::NameTaken);
        }
        let (rate, burst) = (self.config.rate, self.config.burst);
        match self.members.get_mut(&id) {
            Some(m) if *m.name == *name => {
                if m.pending {
                    // Its second datagram: the full welcome, then the history.
                    self.confirm(now, id, true);
                } else if m.bucket.take(now, rate, burst) {
                    // Repeats share the flood limit, so forged JOINs cannot draw a
                    // stream of member lists towards someone else's address.
                    let members = self.sorted_names();
                    self.deliver(id, Arc::new(Event::Welcome { members }));
                }
                return Ok(());
            }
            Some(_) => {
                self.leave(id, LeaveReason::Left);
            }
            None => {}
        }
        let name: Arc<str> = name.into();
        let expires = heartbeat.then(|| now + self.config.idle_timeout);
        if let Some(at) = expires {
            self.next_sweep = Some(self.next_sweep.map_or(at, |s| s.min(at)));
        }
        self.names.insert(fold(&name), id);
        let shared = self.publish(&Shared::Joined { name: name.clone() });
        let pending = matches!(id, MemberId::Udp(_));
        self.members.insert(
            id,
            Member {
                name: name.clone(),
                expires,
                bucket: Bucket::full(now, self.config.burst),
                pending,
                history_owed: heartbeat.then_some(self.said),
                since: self.published,
            },
        );
        if !shared {
            self.tell_others(id, Event::Joined { name: name.clone() });
        }
        let members = if pending {
            vec![name]
        } else {
            self.sorted_names()
        };
        self.deliver(id, Arc::new(Event::Welcome { members }));
        if !heartbeat {
            self.replay_history(id, self.said);
        }
        Ok(())
    }

    /// `id` says `text` to everyone else (never to itself), its control
    /// characters replaced ([`clean_text`]). Counts as a heartbeat.
    pub fn say(&mut self, now: Instant, id: MemberId, text: &str) -> Result<(), SayError> {
        self.speak(now, id, text, false)
    }

    /// Keeps a message (or an action) in the history and tells every member
    /// but its speaker.
    fn record_and_tell(&mut self, name: Arc<str>, text: Arc<str>, action: bool) {
        self.record(name.clone(), text.clone(), action);
        let event = if action {
            Event::Action {
                name: name.clone(),
                text,
            }
        } else {
            Event::Message {
                name: name.clone(),
                text,
            }
        };
        self.tell_all_but(&name, event);
    }

    fn record(&mut self, name: Arc<str>, text: Arc<str>, action: bool) {
        if self.config.history > 0 {
            if self.history.len() == self.config.history {
                self.history.pop_front();
            }
            self.history.push_back(Said {
                number: self.said,
                name,
                text,
                action,
            });
        }
        self.said += 1;
    }

    /// A heartbeat from `id`.
    pub fn ping(&mut self, now: Instant, id: MemberId) -> Result<(), NotJoined> {
        self.touch(now, id).map(|_| ())
    }

    /// `id` asks for the member list (a sign of life, like PING).
    pub fn who(&mut self, now: Instant, id: MemberId) -> Result<(), NotJoined> {
        let pending = self.members.get(&id).is_some_and(|m| m.pending);
        self.touch(now, id)?;
        // A pending member's confirmation has just sent the list.
        if !pending {
            let names = self.sorted_names();
            self.deliver(id, Arc::new(Event::Members { names }));
        }
        Ok(())
    }

    /// `id` leaves; the others are told. Returns whether it was a member.
    pub fn leave(&mut self, id: MemberId, reason: LeaveReason) -> bool {
        let Some(name) = self.remove_member(id) else {
            return false;
        };
        self.announce_left(name, reason);
        true
    }

    /// Takes `id` out of the room (its name freed unless claimed), untold.
    fn remove_member(&mut self, id: MemberId) -> Option<Arc<str>> {
        let member = self.members.remove(&id)?;
        if !self.claims.contains_key(&id) {
            self.names.remove(&fold(&member.name));
            self.release_shared(&member.name);
        }
        Some(member.name)
    }

    /// Tells the members still here (and the other rooms) that `name` left.
    fn announce_left(&mut self, name: Arc<str>, reason: LeaveReason) {
        let event = Shared::Left { name, reason };
        if !self.publish(&event) {
            self.receive(event);
        }
    }

    /// The operator speaks to every member.
    pub fn admin(&mut self, text: &str) {
        let event = Shared::Admin {
            text: clean_text(text).into(),
        };
        if !self.publish(&event) {
            self.receive(event);
        }
    }

    /// The operator removes the member called `name` (any case). Returns who it
    /// was: a local member is removed at once; for a member on another server
    /// ([`MemberId::Elsewhere`]) the kick is sent through the link, and that
    /// server removes it (its LEFT follows). `None`: no such member, or it is
    /// elsewhere and the room is not whole (a kick sent just as the backplane
    /// goes away may still be lost: the member stays, and nobody hears of it).
    pub fn kick(&mut self, name: &str) -> Option<MemberId> {
        if self.names.contains_key(&fold(name)) {
            return self.kick_local(name);
        }
        self.kick_elsewhere(name)
    }

    /// Removes the local member called `name` (any case), if there is one.
    pub(super) fn kick_local(&mut self, name: &str) -> Option<MemberId> {
        let id = *self.names.get(&fold(name))?;
        if !self.members.contains_key(&id) {
            return None;
        }
        self.deliver(id, Arc::new(Event::Kicked));
        self.leave(id, LeaveReason::Kicked);
        Some(id)
    }

    /// Every member and its name, sorted by name (for the operator's `/list`),
    /// members on other servers included.
    pub fn members(&self) -> Vec<(MemberId, Arc<str>)> {
        let mut list: Vec<_> = self
            .members
            .iter()
            .map(|(id, m)| (*id, m.name.clone()))
            .collect();
        if let Some(link) = &self.link {
            for name in link.elsewhere() {
                if !self.names.contains_key(&fold(&name)) {
                    list.push((MemberId::Elsewhere, name));
                }
            }
        }
        list.sort_by_key(|(_, name)| name.to_lowercase());
        list
    }

    /// The name of member `id`.
    pub fn name_of(&self, id: MemberId) -> Option<&Arc<str>> {
        self.members.get(&id).map(|m| &m.name)
    }

    /// Moves every pending delivery to `out`, in order.
    pub fn poll_deliveries(&mut self, out: &mut Vec<Delivery>) {
        out.append(&mut self.deliveries);
    }

    fn sorted_names(&self) -> Vec<Arc<str>> {
        self.members().into_iter().map(|(_, name)| name).collect()
    }
}

mod link;

mod admit;

mod tell;

mod verbs;

mod sweep;
pub use sweep::{MAX_SWEEP_DELIVERIES, SWEEP_EVERY};

#[cfg(test)]
pub(super) mod tests;

#[cfg(test)]
mod hostile_tests;
