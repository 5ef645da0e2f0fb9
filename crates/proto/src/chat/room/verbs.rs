//! The verbs beyond saying: an action (`ME`), a rename (`NICK`) and a
//! private message (`TELL`), and the one path a message or an action takes.
//!
//! An action is a message in the third person: it shares the flood limit,
//! the length limit, the control-character filter and the history with
//! `SAY`. A rename is a join under a new name without leaving: it counts
//! against the address's join limit and follows the name rules (look-alikes
//! included); the others hear `RENAMED old new`. A private message goes to
//! one member only, here or on another server (through the link), and is
//! never kept in the history.

use super::{fold, JoinError, Room, SayError};
use crate::chat::event::{Event, MemberId};
use crate::chat::link::{LinkStatus, Shared};
use crate::chat::names::{clean_text, valid_name};
use crate::chat::wire::MAX_TEXT_BYTES;
use std::sync::Arc;
use std::time::Instant;

impl Room {
    /// `id` does `text` (an action, `ME waves`): everyone else hears it, as
    /// with [`Room::say`], whose limits it shares.
    pub fn act(&mut self, now: Instant, id: MemberId, text: &str) -> Result<(), SayError> {
        self.speak(now, id, text, true)
    }

    /// A message or an action from `id`: checked, cleaned, published (or
    /// told at once when no link takes it) and kept in the history.
    pub(super) fn speak(
        &mut self,
        now: Instant,
        id: MemberId,
        text: &str,
        action: bool,
    ) -> Result<(), SayError> {
        let name = self.charge_text(now, id, text)?;
        // Control characters never reach another member, whatever its front.
        let text: Arc<str> = clean_text(text).into();
        let event = if action {
            Shared::Acted { name, text }
        } else {
            Shared::Said { name, text }
        };
        if self.publish(&event) {
            // Kept now, so a member who joins before it comes back has it
            // in its history (and does not hear it live: see receive_own).
            match event {
                Shared::Said { name, text } => self.record(name, text, false),
                Shared::Acted { name, text } => self.record(name, text, true),
                _ => {}
            }
        } else {
            self.receive(event);
        }
        Ok(())
    }

    /// The checks every text from `id` passes (joined, length, flood limit;
    /// a sign of life too): its name when it may speak.
    fn charge_text(
        &mut self,
        now: Instant,
        id: MemberId,
        text: &str,
    ) -> Result<Arc<str>, SayError> {
        let (rate, burst) = (self.config.rate, self.config.burst);
        let member = self
            .touch(now, id)
            .map_err(|super::NotJoined| SayError::NotJoined)?;
        if text.len() > MAX_TEXT_BYTES {
            return Err(SayError::TooLong);
        }
        if !member.bucket.take(now, rate, burst) {
            return Err(SayError::RateLimited);
        }
        Ok(member.name.clone())
    }

    /// `id` is called `new` from now on; the others hear `Renamed`. Returns
    /// the member list (the renamer's `OK`). The same name again is no
    /// rename; another spelling of the same name (its case) is.
    pub fn rename(
        &mut self,
        now: Instant,
        id: MemberId,
        new: &str,
    ) -> Result<Vec<Arc<str>>, JoinError> {
        let old = match self.touch(now, id) {
            Ok(member) => member.name.clone(),
            Err(_) => return Err(JoinError::NotJoined),
        };
        if !valid_name(new) {
            return Err(JoinError::BadName);
        }
        if *old == *new {
            return Ok(self.sorted_names());
        }
        if self.name_taken(new, id) {
            return Err(JoinError::NameTaken);
        }
        if !self.charge_join(now, id) {
            return Err(JoinError::RateLimited);
        }
        if !self.claim_shared(id, new) {
            return Err(JoinError::NameTaken);
        }
        let new: Arc<str> = new.into();
        if fold(&old) != fold(&new) {
            self.names.remove(&fold(&old));
            self.release_shared(&old);
        }
        self.names.insert(fold(&new), id);
        if let Some(claim) = self.claims.get_mut(&id) {
            *claim = new.clone();
        }
        if let Some(member) = self.members.get_mut(&id) {
            member.name = new.clone();
        }
        let event = Shared::Renamed { old, new };
        if !self.publish(&event) {
            self.receive(event);
        }
        Ok(self.sorted_names())
    }

    /// `id` tells the member called `to` (any case, here or on another
    /// server) `text`, which nobody else hears. Limits as for [`Room::say`].
    pub fn tell(
        &mut self,
        now: Instant,
        id: MemberId,
        to: &str,
        text: &str,
    ) -> Result<(), SayError> {
        let from = self.charge_text(now, id, text)?;
        let text: Arc<str> = clean_text(text).into();
        if let Some(to) = self.local_member(to) {
            self.deliver(to, Arc::new(Event::Told { from, text }));
            return Ok(());
        }
        let wanted = fold(to);
        let there = self.link.as_ref().and_then(|link| {
            let whole = link.status() == LinkStatus::Whole;
            let names = link.elsewhere();
            names.into_iter().find(|n| whole && fold(n) == wanted)
        });
        let Some(to) = there else {
            return Err(SayError::NoSuchMember);
        };
        if self.publish(&Shared::Told { from, to, text }) {
            Ok(())
        } else {
            Err(SayError::NoSuchMember)
        }
    }

    /// The local member called `name` (any case, or a look-alike) that may
    /// hear a private message: not a datagram member still unconfirmed (its
    /// address may be forged, and it gets nothing but its `OK`).
    pub(super) fn local_member(&self, name: &str) -> Option<MemberId> {
        let id = *self.names.get(&fold(name))?;
        self.members
            .get(&id)
            .is_some_and(|m| !m.pending)
            .then_some(id)
    }

    /// A private message from another room: its member here hears it.
    pub(super) fn receive_told(&mut self, from: Arc<str>, to: &str, text: Arc<str>) {
        if let Some(id) = self.local_member(to) {
            self.deliver(id, Arc::new(Event::Told { from, text }));
        }
    }
}

#[cfg(test)]
mod tests;
