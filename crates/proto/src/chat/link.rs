//! The seam between a chat room and the other rooms it is one with (servers
//! sharing a backplane): the events they all hear ([`Shared`]), and the
//! [`Link`] a room claims names and publishes events through (and asks the
//! others to kick their members). The room does
//! not know what is behind a link; `netkit`'s Redis backplane is one.

use super::event::LeaveReason;
use std::fmt;
use std::sync::Arc;

/// What every member of a shared room must hear, in one order for everyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    /// `name` joined.
    Joined {
        /// The new member.
        name: Arc<str>,
    },
    /// `name` said `text`.
    Said {
        /// The speaker.
        name: Arc<str>,
        /// The text.
        text: Arc<str>,
    },
    /// `name` did `text` (an action, `ME`).
    Acted {
        /// Who acts.
        name: Arc<str>,
        /// What it does.
        text: Arc<str>,
    },
    /// Member `old` is called `new` from now on (its new name is claimed
    /// everywhere before this is published).
    Renamed {
        /// The name it had.
        old: Arc<str>,
        /// The name it has now.
        new: Arc<str>,
    },
    /// `from` tells member `to` (of whichever room has it) `text`; only
    /// that member hears it, and it is never kept in the history.
    Told {
        /// The sender.
        from: Arc<str>,
        /// The member it is for.
        to: Arc<str>,
        /// The text.
        text: Arc<str>,
    },
    /// `name` is gone.
    Left {
        /// The member who left.
        name: Arc<str>,
        /// Why.
        reason: LeaveReason,
    },
    /// The operator of some server speaks.
    Admin {
        /// The announcement.
        text: Arc<str>,
    },
    /// The operator of some server kicks `name`, a member of another server:
    /// a request no member hears. The room that has `name` kicks it (its
    /// [`Shared::Left`] follows, with the reason `Kicked`); the others ignore it.
    Kick {
        /// The member to remove.
        name: Arc<str>,
    },
}

/// How the room stands towards the other rooms it shares members with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStatus {
    /// No backplane: this room is the whole room.
    Alone,
    /// Joined with the others through the backplane.
    Whole,
    /// The backplane is away: this room serves its own members only.
    Split,
}

impl fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkStatus::Alone => "alone",
            LinkStatus::Whole => "whole",
            LinkStatus::Split => "split",
        })
    }
}

/// The seam between a room and the others it shares members with (see the
/// module documentation). Called with the room's lock held: no method may wait
/// long, and none may call back into the room.
pub trait Link: Send + fmt::Debug {
    /// Holds `name` in every room; false when a member elsewhere has it.
    fn claim(&mut self, name: &str) -> bool;
    /// Gives `name` up everywhere.
    fn release(&mut self, name: &str);
    /// Offers `event`, this room's event number `number` (counting from 1),
    /// to every room. True: it comes back, with its number, through
    /// the room's `receive_own` (in the shared order), so the room delivers
    /// nothing now. False: the room delivers it to its own members at once.
    fn publish(&mut self, number: u64, event: &Shared) -> bool;
    /// Members on other servers.
    fn elsewhere(&self) -> Vec<Arc<str>>;
    /// Whether the room is whole or split.
    fn status(&self) -> LinkStatus;
}
