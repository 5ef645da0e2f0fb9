//! The room's side of the [`Link`] seam: installing a link, claiming and
//! releasing names through it, publishing, receiving events in the shared
//! order, and kicks across rooms.

use super::{fold, Room};
use crate::chat::event::{Event, MemberId};
use crate::chat::link::{Link, LinkStatus, Shared};
use std::sync::Arc;

impl Room {
    /// Shares this room with others through `link` (names, events, members).
    pub fn set_link(&mut self, link: Box<dyn Link>) {
        self.link = Some(link);
    }

    /// Stops sharing: from now on the room is alone (a server shutting down).
    pub fn unlink(&mut self) {
        self.link = None;
    }

    /// Whether the room is alone, whole with the others, or split from them.
    pub fn link_status(&self) -> LinkStatus {
        self.link.as_ref().map_or(LinkStatus::Alone, |l| l.status())
    }

    /// Local members' names (the backplane re-announces them after an outage).
    pub fn local_names(&self) -> Vec<Arc<str>> {
        self.members.values().map(|m| m.name.clone()).collect()
    }

    /// Names held here, by members or by connections that claimed them.
    pub fn held_names(&self) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self.claims.values().cloned().collect();
        names.extend(
            self.members
                .iter()
                .filter(|(id, _)| !self.claims.contains_key(id))
                .map(|(_, m)| m.name.clone()),
        );
        names
    }

    /// Claims `name` in the other rooms too, unless `id` holds it already.
    pub(super) fn claim_shared(&mut self, id: MemberId, name: &str) -> bool {
        if self.names.get(&fold(name)) == Some(&id) {
            return true;
        }
        self.link.as_mut().is_none_or(|l| l.claim(name))
    }

    pub(super) fn release_shared(&mut self, name: &str) {
        if let Some(link) = self.link.as_mut() {
            link.release(name);
        }
    }

    /// Offers `event` to the link; true when the link will hand it back.
    pub(super) fn publish(&mut self, event: &Shared) -> bool {
        let number = self.published + 1;
        let taken = self.link.as_mut().is_some_and(|l| l.publish(number, event));
        if taken {
            self.published += 1;
        }
        taken
    }

    /// Asks the room that has member `name` to kick it (see [`Room::kick`]).
    pub(super) fn kick_elsewhere(&mut self, name: &str) -> Option<MemberId> {
        let wanted = fold(name);
        let there = self
            .link
            .as_ref()?
            .elsewhere()
            .into_iter()
            .find(|n| fold(n) == wanted)?;
        // Split (even half-way): the kick could be lost, so it is not sent.
        let whole = self.link_status() == LinkStatus::Whole;
        (whole && self.publish(&Shared::Kick { name: there })).then_some(MemberId::Elsewhere)
    }

    /// An event in the shared order from another room: local members hear
    /// it (a member never hears its own join or message); a kick of a local
    /// member removes it.
    pub fn receive(&mut self, event: Shared) {
        match event {
            Shared::Joined { name } => {
                self.tell_all_but(&name, Event::Joined { name: name.clone() })
            }
            Shared::Said { name, text } => self.record_and_tell(name, text, false),
            Shared::Acted { name, text } => self.record_and_tell(name, text, true),
            Shared::Renamed { old, new } => {
                let event = Event::Renamed {
                    old,
                    new: new.clone(),
                };
                self.tell_all_but(&new, event)
            }
            Shared::Told { from, to, text } => self.receive_told(from, &to, text),
            Shared::Left { name, reason } => self.tell_all_but(
                &name,
                Event::Left {
                    name: name.clone(),
                    reason,
                },
            ),
            Shared::Admin { text } => self.tell_all(Event::Admin { text }),
            Shared::Kick { name } => {
                self.kick_local(&name);
            }
        }
    }

    /// An event this room published, handed back by the link in the shared
    /// order. Members who joined after it was published do not hear it (it
    /// was in their welcome or history already), nor does the member it is about.
    pub fn receive_own(&mut self, number: u64, event: Shared) {
        match event {
            Shared::Joined { name } => {
                self.tell_newer(Some(&name), number, Event::Joined { name: name.clone() })
            }
            Shared::Said { name, text } => self.tell_newer(
                Some(&name),
                number,
                Event::Message {
                    name: name.clone(),
                    text,
                },
            ),
            Shared::Acted { name, text } => self.tell_newer(
                Some(&name),
                number,
                Event::Action {
                    name: name.clone(),
                    text,
                },
            ),
            Shared::Renamed { old, new } => {
                let event = Event::Renamed {
                    old,
                    new: new.clone(),
                };
                self.tell_newer(Some(&new), number, event)
            }
            // Heard by its one member, in the room that has it.
            Shared::Told { .. } => {}
            Shared::Left { name, reason } => {
                let event = Event::Left {
                    name: name.clone(),
                    reason,
                };
                self.tell_newer(Some(&name), number, event)
            }
            Shared::Admin { text } => self.tell_newer(None, number, Event::Admin { text }),
            // Meant for the room that has the member, never this one.
            Shared::Kick { .. } => {}
        }
    }

    /// Earlier messages and actions (`Said`, `Acted`) from the shared
    /// history, oldest first, kept for members who join later (only while
    /// this room has none of its own); other events are skipped.
    pub fn seed_history(&mut self, messages: Vec<Shared>) {
        if !self.history.is_empty() || self.config.history == 0 {
            return;
        }
        let kept: Vec<(Arc<str>, Arc<str>, bool)> = messages
            .into_iter()
            .filter_map(|event| match event {
                Shared::Said { name, text } => Some((name, text, false)),
                Shared::Acted { name, text } => Some((name, text, true)),
                _ => None,
            })
            .collect();
        let skip = kept.len().saturating_sub(self.config.history);
        for (name, text, action) in kept.into_iter().skip(skip) {
            self.record(name, text, action);
        }
    }
}

#[cfg(test)]
mod tests;
