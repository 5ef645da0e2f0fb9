//! Admission: the join limit per address, and datagram members confirmed by
//! their second datagram (until then they hear nothing but their `OK`, so a
//! forged JOIN draws no more bytes than it had), then given the member list
//! and the history they are owed.

use super::{Member, NotJoined, Room};
use crate::chat::event::{Delivery, Event, MemberId};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

impl Room {
    /// A sign of life from `id`: its heartbeat is renewed, a pending member
    /// confirmed (its member list follows), and history still owed to it is sent.
    pub(super) fn touch(&mut self, now: Instant, id: MemberId) -> Result<&mut Member, NotJoined> {
        self.confirm(now, id, false);
        self.members.get_mut(&id).ok_or(NotJoined)
    }

    /// Renews `id`'s heartbeat; a pending member gets the member list (as a
    /// welcome, or as `Members`) and hears the room from now on; history owed
    /// is sent — for a pending member, everything said until now.
    pub(super) fn confirm(&mut self, now: Instant, id: MemberId, welcome: bool) {
        let (idle, said, published) = (self.config.idle_timeout, self.said, self.published);
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if let Some(exp) = &mut member.expires {
            *exp = now + idle;
        }
        if std::mem::take(&mut member.pending) {
            // It heard nothing live: what was said meanwhile comes as history.
            member.history_owed = Some(said);
            member.since = published;
            let names = self.sorted_names();
            let event = if welcome {
                Event::Welcome { members: names }
            } else {
                Event::Members { names }
            };
            self.deliver(id, Arc::new(event));
        }
        let owed = self
            .members
            .get_mut(&id)
            .and_then(|m| m.history_owed.take());
        if let Some(until) = owed {
            self.replay_history(id, until);
        }
    }

    /// Charges a join or rename by `id` to its address; false when over the limit.
    pub(super) fn charge_join(&mut self, now: Instant, id: MemberId) -> bool {
        let ip = match id {
            MemberId::Udp(addr) => Some(addr.ip()),
            _ => self.origins.get(&id).copied(),
        };
        ip.is_none_or(|ip| self.joins.take(now, ip))
    }

    /// The address connection member `id` (IRC, web) connects from: its joins
    /// and renames count against that address's limit.
    pub fn set_origin(&mut self, id: MemberId, ip: IpAddr) {
        self.origins.insert(id, ip);
    }

    /// Connection `id` is gone: its address is forgotten.
    pub fn forget_origin(&mut self, id: MemberId) {
        self.origins.remove(&id);
    }

    pub(super) fn replay_history(&mut self, id: MemberId, until: u64) {
        for said in self.history.iter().take_while(|s| s.number < until) {
            let event = Event::History {
                name: said.name.clone(),
                text: said.text.clone(),
                action: said.action,
            };
            self.deliveries.push(Delivery {
                to: id,
                event: Arc::new(event),
            });
        }
    }
}
