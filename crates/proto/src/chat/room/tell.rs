//! Fan-out: who hears an event. Pending datagram members (not yet confirmed
//! by a second datagram) hear nothing; a member never hears its own events.

use super::Room;
use crate::chat::event::{Delivery, Event, MemberId};
use std::sync::Arc;

impl Room {
    pub(super) fn deliver(&mut self, to: MemberId, event: Arc<Event>) {
        self.deliveries.push(Delivery { to, event });
    }

    pub(super) fn tell_all(&mut self, event: Event) {
        let event = Arc::new(event);
        for (id, _) in self.members.iter().filter(|(_, m)| !m.pending) {
            self.deliveries.push(Delivery {
                to: *id,
                event: event.clone(),
            });
        }
    }

    /// Tells every member except the one called `name` (its own event).
    pub(super) fn tell_all_but(&mut self, name: &str, event: Event) {
        self.tell_newer(Some(name), u64::MAX, event);
    }

    /// Tells every member except the one called `except`, if any, that joined
    /// before this room's event number `number`.
    pub(super) fn tell_newer(&mut self, except: Option<&str>, number: u64, event: Event) {
        let event = Arc::new(event);
        // The name as its member spelled it; case-folded without allocating.
        let same = |a: &str, b: &str| {
            a == b
                || a.chars()
                    .flat_map(char::to_lowercase)
                    .eq(b.chars().flat_map(char::to_lowercase))
        };
        for (id, m) in &self.members {
            if !m.pending && m.since < number && except.is_none_or(|n| !same(&m.name, n)) {
                self.deliveries.push(Delivery {
                    to: *id,
                    event: event.clone(),
                });
            }
        }
    }

    pub(super) fn tell_others(&mut self, from: MemberId, event: Event) {
        let event = Arc::new(event);
        let hearing = self.members.iter().filter(|(_, m)| !m.pending);
        for (id, _) in hearing.filter(|(id, _)| **id != from) {
            self.deliveries.push(Delivery {
                to: *id,
                event: event.clone(),
            });
        }
    }
}
