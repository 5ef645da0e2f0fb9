//! One room shared by every front, and the outboxes that carry its deliveries.
//!
//! The UDP loop, each IRC connection (on whatever driver thread serves it) and
//! the operator's stdin all act on the same [`Room`] through [`Hub::act`], which
//! holds one lock for the action and then routes each resulting [`Delivery`] to
//! the front that owns its member: UDP deliveries to the UDP outbox, and those
//! of a connection member (an IRC connection, a web page's event stream: a
//! [`Front`] registered with [`Hub::register`]) to that connection's outbox. A front that did not cause the delivery is woken
//! through the [`Waker`] it registered — after the lock is released — and takes
//! its outbox on its own thread. No socket and no thread lives here.

use super::event::{Delivery, Event, LeaveReason, MemberId};

use super::room::{Room, RoomConfig};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// Events a connection may have queued before it is cut off as too slow
/// (IRC servers call this "SendQ exceeded").
pub const MAX_QUEUED: usize = 10_000;

/// UDP deliveries the outbox holds at most while the UDP loop is busy
/// (made by other fronts: IRC, web, the operator); beyond it they are
/// dropped, as a full socket buffer would drop them, and the server does not grow.
pub const MAX_UDP_QUEUED: usize = 65_536;

/// A UDP delivery: the address and the event.
pub type UdpDelivery = (SocketAddr, Arc<Event>);

/// The shared room. See the module documentation.
#[derive(Debug)]
pub struct Hub {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    room: Room,
    udp: Vec<UdpDelivery>,
    udp_waker: Option<Waker>,
    /// Connection members' outboxes (IRC and web ids).
    conns: HashMap<MemberId, Outbox>,
    next_conn: u64,
    scratch: Vec<Delivery>,
}

#[derive(Debug, Default)]
struct Outbox {
    events: VecDeque<Arc<Event>>,
    waker: Option<Waker>,
    overflowed: bool,
}

/// The kinds of connection member that have an outbox in the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Front {
    /// An IRC connection ([`MemberId::Irc`]).
    Irc,
    /// A web page's event stream ([`MemberId::Web`]).
    Web,
}

/// What a connection takes from its outbox.
#[derive(Debug, Default)]
pub struct Taken {
    /// The events, in order.
    pub events: Vec<Arc<Event>>,
    /// More than [`MAX_QUEUED`] events piled up: the connection should close.
    pub overflowed: bool,
}

impl Hub {
    /// A hub around an empty room.
    pub fn new(config: RoomConfig) -> Arc<Hub> {
        Arc::new(Hub {
            inner: Mutex::new(Inner {
                room: Room::new(config),
                udp: Vec::new(),
                udp_waker: None,
                conns: HashMap::new(),
                next_conn: 1,
                scratch: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a room that is still
        // consistent enough to serve (every verb keeps its invariants first).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `action` on the room, routes what it delivered and wakes the fronts
    /// that have new output. UDP deliveries go to `udp_out` when given (the UDP
    /// loop acting for itself needs no wake-up), else to the UDP outbox.
    pub fn act<R>(
        &self,
        udp_out: Option<&mut Vec<UdpDelivery>>,
        action: impl FnOnce(&mut Room) -> R,
    ) -> R {
        let mut to_wake: Vec<Waker> = Vec::new();
        let result = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let result = action(&mut inner.room);
            inner.route(udp_out, &mut to_wake);
            result
        };
        for waker in to_wake {
            waker.wake();
        }
        result
    }

    /// Reads the room without acting on it.
    pub fn with_room<R>(&self, look: impl FnOnce(&Room) -> R) -> R {
        look(&self.lock().room)
    }

    /// The waker of the UDP loop, for deliveries made by other fronts.
    pub fn set_udp_waker(&self, waker: Waker) {
        self.lock().udp_waker = Some(waker);
    }

    /// Moves the UDP outbox to `out`.
    pub fn take_udp(&self, out: &mut Vec<UdpDelivery>) {
        out.append(&mut self.lock().udp);
    }

    /// A new connection member of kind `front`: its member id (numbered
    /// across fronts, never reused) and an empty outbox. Its joins and
    /// renames count against the join limit of `peer`'s address, if known.
    pub fn register(&self, front: Front, peer: Option<IpAddr>) -> MemberId {
        let mut inner = self.lock();
        let n = inner.next_conn;
        inner.next_conn += 1;
        let id = match front {
            Front::Irc => MemberId::Irc(n),
            Front::Web => MemberId::Web(n),
        };
        inner.conns.insert(id, Outbox::default());
        if let Some(ip) = peer {
            inner.room.set_origin(id, ip);
        }
        id
    }

    /// The waker of connection `id`, woken when its outbox gets news.
    pub fn set_waker(&self, id: MemberId, waker: Waker) {
        if let Some(outbox) = self.lock().conns.get_mut(&id) {
            outbox.waker = Some(waker);
        }
    }

    /// Takes what connection `id` has been sent.
    pub fn take(&self, id: MemberId) -> Taken {
        match self.lock().conns.get_mut(&id) {
            Some(outbox) => Taken {
                events: outbox.events.drain(..).collect(),
                overflowed: std::mem::take(&mut outbox.overflowed),
            },
            None => Taken::default(),
        }
    }

    /// Connection `id` is gone: it leaves the room (if it was in it), its
    /// name is free and its outbox dropped.
    pub fn unregister(&self, id: MemberId, reason: LeaveReason) {
        self.act(None, |room| {
            room.leave(id, reason);
            room.release_name(id);
            room.forget_origin(id);
        });
        self.lock().conns.remove(&id);
    }
}

impl Inner {
    fn route(&mut self, mut udp_out: Option<&mut Vec<UdpDelivery>>, to_wake: &mut Vec<Waker>) {
        self.room.poll_deliveries(&mut self.scratch);
        let mut wake_udp = false;
        for d in self.scratch.drain(..) {
            match d.to {
                MemberId::Udp(addr) => match udp_out.as_deref_mut() {
                    Some(out) => out.push((addr, d.event)),
                    None if self.udp.len() < MAX_UDP_QUEUED => {
                        wake_udp |= self.udp.is_empty();
                        self.udp.push((addr, d.event));
                    }
                    None => {}
                },
                // Members elsewhere are told by their own server.
                MemberId::Elsewhere => {}
                id @ (MemberId::Irc(_) | MemberId::Web(_)) => {
                    let Some(outbox) = self.conns.get_mut(&id) else {
                        continue;
                    };
                    if outbox.overflowed {
                        continue;
                    }
                    if outbox.events.len() >= MAX_QUEUED {
                        outbox.overflowed = true;
                        outbox.events.clear();
                    }
                    if outbox.events.is_empty() || outbox.overflowed {
                        to_wake.extend(outbox.waker.clone());
                    }
                    if !outbox.overflowed {
                        outbox.events.push_back(d.event);
                    }
                }
            }
        }
        if wake_udp {
            to_wake.extend(self.udp_waker.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use std::time::Instant;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn deliveries_reach_their_front_and_wake_it() {
        let t = Instant::now();
        let hub = Hub::new(RoomConfig::default());
        let udp_wakes = Arc::new(Count(AtomicUsize::new(0)));
        let irc_wakes = Arc::new(Count(AtomicUsize::new(0)));
        hub.set_udp_waker(Waker::from(udp_wakes.clone()));
        let irc = hub.register(Front::Irc, None);
        hub.set_waker(irc, Waker::from(irc_wakes.clone()));
        let a = MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], 1)));

        let mut out = Vec::new();
        hub.act(Some(&mut out), |room| room.join(t, a, "alice", true))
            .unwrap();
        assert_eq!(out.len(), 1, "the welcome, handed straight to the UDP loop");
        hub.act(Some(&mut out), |room| room.ping(t, a)).unwrap();
        assert_eq!(out.len(), 2, "the member list, after its second datagram");
        assert_eq!(udp_wakes.0.load(Ordering::SeqCst), 0);

        hub.act(None, |room| room.join(t, irc, "bob", false))
            .unwrap();
        assert_eq!(
            udp_wakes.0.load(Ordering::SeqCst),
            1,
            "JOINED bob for alice"
        );
        assert_eq!(irc_wakes.0.load(Ordering::SeqCst), 1, "bob's welcome");
        hub.act(None, |room| room.admin("one"));
        assert_eq!(
            irc_wakes.0.load(Ordering::SeqCst),
            1,
            "a wake is still pending"
        );
        let taken = hub.take(irc);
        assert_eq!(taken.events.len(), 2);
        let mut udp = Vec::new();
        hub.take_udp(&mut udp);
        assert_eq!(udp.len(), 2, "JOINED bob, ADMIN one");

        hub.unregister(irc, LeaveReason::Quit("bye".into()));
        hub.take_udp(&mut udp);
        assert!(matches!(&*udp[2].1, Event::Left { name, .. } if &**name == "bob"));
        assert!(!hub.with_room(|room| room.name_taken("bob", a)));
    }

    #[test]
    fn web_and_irc_members_have_their_own_ids_and_outboxes() {
        let t = Instant::now();
        let hub = Hub::new(RoomConfig::default());
        let irc = hub.register(Front::Irc, None);
        let web = hub.register(Front::Web, None);
        assert!(matches!(web, MemberId::Web(_)) && matches!(irc, MemberId::Irc(_)));
        assert_ne!(irc.to_string(), web.to_string());
        assert!(web.to_string().starts_with("web #"), "{web}");
        hub.act(None, |room| room.join(t, web, "page", true))
            .unwrap();
        hub.act(None, |room| room.join(t, irc, "nick", false))
            .unwrap();
        let listed = hub.with_room(|room| room.members());
        assert_eq!(listed, vec![(irc, "nick".into()), (web, "page".into())]);
        // The page's welcome and JOINED nick; the IRC connection's own welcome.
        assert_eq!(hub.take(web).events.len(), 2);
        assert_eq!(hub.take(irc).events.len(), 1);
        hub.unregister(web, LeaveReason::Left);
        assert!(matches!(&*hub.take(irc).events[0], Event::Left { name, .. } if &**name == "page"));
        assert!(hub.take(web).events.is_empty(), "its outbox is gone");
    }

    #[test]
    fn the_udp_outbox_is_bounded_while_the_udp_loop_is_busy() {
        let t = Instant::now();
        let hub = Hub::new(RoomConfig {
            rate: 0.0,
            join_rate: 0.0,
            ..RoomConfig::default()
        });
        let mut out = Vec::new();
        for port in 1..=100 {
            let a = MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], port)));
            hub.act(Some(&mut out), |room| {
                room.join(t, a, &format!("m{port}"), true)
            })
            .unwrap();
            // Its second datagram: from now on it hears the room.
            hub.act(Some(&mut out), |room| room.ping(t, a)).unwrap();
        }
        let irc = hub.register(Front::Irc, None);
        hub.act(None, |room| room.join(t, irc, "talker", false))
            .unwrap();
        // 100 members × 1,000 messages, and the UDP loop takes none of them.
        for _ in 0..1000 {
            hub.act(None, |room| room.say(t, irc, "x")).unwrap();
        }
        let mut udp = Vec::new();
        hub.take_udp(&mut udp);
        assert_eq!(udp.len(), MAX_UDP_QUEUED);
    }

    #[test]
    fn a_connection_that_does_not_keep_up_is_told_to_close() {
        let t = Instant::now();
        let hub = Hub::new(RoomConfig {
            rate: 0.0,
            ..RoomConfig::default()
        });
        let irc = hub.register(Front::Irc, None);
        let a = MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], 1)));
        hub.act(None, |room| room.join(t, irc, "slow", false))
            .unwrap();
        hub.act(None, |room| room.join(t, a, "fast", true)).unwrap();
        for _ in 0..MAX_QUEUED + 5 {
            hub.act(None, |room| room.say(t, a, "x")).unwrap();
        }
        let taken = hub.take(irc);
        assert!(taken.overflowed);
        assert!(taken.events.is_empty());
    }
}
