//! Heartbeat evictions: members silent for longer than the idle timeout are
//! dropped, and the others told, at a cost linear in the departures.
//!
//! Telling every departure to every member is quadratic when many members
//! leave at once (4,000 flood members timing out together were 16 million
//! LEFTs, queued in one go). So a sweep first takes *every* expired member
//! out of the room — members leaving together are never told of each other —
//! and then tells the members who stay, [`MAX_SWEEP_DELIVERIES`] deliveries
//! per call at most: when there is more to tell, [`Room::poll_timeout`] asks
//! to be called again at once, so the UDP loop sends each slice (and serves
//! the datagrams that came meanwhile) before the next. Nobody is left with a
//! stale member list: every member that stays hears every LEFT. Sweeps run
//! at most every [`SWEEP_EVERY`], so members who joined in a burst (a flood)
//! expire in one sweep, not one by one while the others still listen.

use super::Room;
use crate::chat::event::{LeaveReason, MemberId};
use std::time::{Duration, Instant};

/// Deliveries one sweep call makes at most.
pub const MAX_SWEEP_DELIVERIES: usize = 16_384;

/// Sweeps are at least this far apart (a member is dropped at most this late).
pub const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl Room {
    /// Drops heartbeat members silent for longer than the idle timeout, and
    /// tells the others (a slice at a time, see the module documentation).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_sweep.is_none_or(|at| now < at) {
            return;
        }
        if self.departed.is_empty() {
            let expired: Vec<MemberId> = self
                .members
                .iter()
                .filter(|(_, m)| m.expires.is_some_and(|at| at <= now))
                .map(|(id, _)| *id)
                .collect();
            for id in expired {
                if let Some(name) = self.remove_member(id) {
                    self.departed.push_back(name);
                }
            }
        }
        let hearing = self.members.values().filter(|m| !m.pending).count();
        let slice = (MAX_SWEEP_DELIVERIES / hearing.max(1)).max(1);
        for _ in 0..slice {
            let Some(name) = self.departed.pop_front() else {
                break;
            };
            self.announce_left(name, LeaveReason::TimedOut);
        }
        self.next_sweep = if self.departed.is_empty() {
            let next = self.members.values().filter_map(|m| m.expires).min();
            next.map(|at| at.max(now + SWEEP_EVERY))
        } else {
            Some(now)
        };
    }

    /// When [`Room::handle_timeout`] next has work, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_sweep
    }
}
