//! One room shared by every front, and the outboxes that carry its deliveries.
//!
//! The UDP loop, each IRC connection (on whatever driver thread serves it) and
//! the operator's stdin all act on the same [`Room`] through [`Hub::act`], which
//! holds one lock for the action and then routes each resulting [`Delivery`] to
//! the front that owns its member: UDP deliveries to the UDP outbox, IRC ones to
//! that connection's outbox. A front that did not cause the delivery is woken
//! through the [`Waker`] it registered — after the lock is released — and takes
//! its outbox on its own thread. No socket and no thread lives here.

use super::room::{Delivery, Event, LeaveReason, MemberId, Room, RoomConfig};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

/// Events an IRC connection may have queued before it is cut off as too slow
/// (IRC servers call this "SendQ exceeded").
pub const MAX_QUEUED: usize = 10_000;

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
    irc: HashMap<u64, Outbox>,
    next_irc: u64,
    scratch: Vec<Delivery>,
}

#[derive(Debug, Default)]
struct Outbox {
    events: VecDeque<Arc<Event>>,
    waker: Option<Waker>,
    overflowed: bool,
}

/// What an IRC connection takes from its outbox.
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
                irc: HashMap::new(),
                next_irc: 1,
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

    /// A new IRC connection: its member id and an empty outbox.
    pub fn register_irc(&self) -> MemberId {
        let mut inner = self.lock();
        let n = inner.next_irc;
        inner.next_irc += 1;
        inner.irc.insert(n, Outbox::default());
        MemberId::Irc(n)
    }

    /// The waker of IRC connection `id`.
    pub fn set_irc_waker(&self, id: MemberId, waker: Waker) {
        if let MemberId::Irc(n) = id {
            if let Some(outbox) = self.lock().irc.get_mut(&n) {
                outbox.waker = Some(waker);
            }
        }
    }

    /// Takes what IRC connection `id` has been sent.
    pub fn take_irc(&self, id: MemberId) -> Taken {
        let mut inner = self.lock();
        match id {
            MemberId::Irc(n) => match inner.irc.get_mut(&n) {
                Some(outbox) => Taken {
                    events: outbox.events.drain(..).collect(),
                    overflowed: std::mem::take(&mut outbox.overflowed),
                },
                None => Taken::default(),
            },
            _ => Taken::default(),
        }
    }

    /// IRC connection `id` is gone: it leaves the room (if it was in it), its
    /// nick is free and its outbox dropped.
    pub fn unregister_irc(&self, id: MemberId, reason: LeaveReason) {
        self.act(None, |room| {
            room.leave(id, reason);
            room.release_name(id);
        });
        if let MemberId::Irc(n) = id {
            self.lock().irc.remove(&n);
        }
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
                    None => {
                        wake_udp |= self.udp.is_empty();
                        self.udp.push((addr, d.event));
                    }
                },
                // Members elsewhere are told by their own server.
                MemberId::Elsewhere => {}
                MemberId::Irc(n) => {
                    let Some(outbox) = self.irc.get_mut(&n) else {
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
        let irc = hub.register_irc();
        hub.set_irc_waker(irc, Waker::from(irc_wakes.clone()));
        let a = MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], 1)));

        let mut out = Vec::new();
        hub.act(Some(&mut out), |room| room.join(t, a, "alice", true))
            .unwrap();
        assert_eq!(out.len(), 1, "the welcome, handed straight to the UDP loop");
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
        let taken = hub.take_irc(irc);
        assert_eq!(taken.events.len(), 2);
        let mut udp = Vec::new();
        hub.take_udp(&mut udp);
        assert_eq!(udp.len(), 2, "JOINED bob, ADMIN one");

        hub.unregister_irc(irc, LeaveReason::Quit("bye".into()));
        hub.take_udp(&mut udp);
        assert!(matches!(&*udp[2].1, Event::Left { name, .. } if &**name == "bob"));
        assert!(!hub.with_room(|room| room.name_taken("bob", a)));
    }

    #[test]
    fn a_connection_that_does_not_keep_up_is_told_to_close() {
        let t = Instant::now();
        let hub = Hub::new(RoomConfig {
            rate: 0.0,
            ..RoomConfig::default()
        });
        let irc = hub.register_irc();
        let a = MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], 1)));
        hub.act(None, |room| room.join(t, irc, "slow", false))
            .unwrap();
        hub.act(None, |room| room.join(t, a, "fast", true)).unwrap();
        for _ in 0..MAX_QUEUED + 5 {
            hub.act(None, |room| room.say(t, a, "x")).unwrap();
        }
        let taken = hub.take_irc(irc);
        assert!(taken.overflowed);
        assert!(taken.events.is_empty());
    }
}
