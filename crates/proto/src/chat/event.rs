//! What a room tells its members, and who they are: the vocabulary every
//! part of the chat shares. The room makes [`Delivery`]s, the hub routes
//! each to the front that owns its [`MemberId`], and that front (UDP, IRC,
//! web) turns the [`Event`] into bytes; the backplane's events (`Shared`,
//! in `link`) carry a [`LeaveReason`] too. This module names none of them:
//! they all depend on it, so none has to depend on another for these types.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// Who a member is, and so which front delivers to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemberId {
    /// A UDP member, known by its source address.
    Udp(SocketAddr),
    /// An IRC connection, numbered by the hub (`Hub::register`).
    Irc(u64),
    /// A web page's member (`netkit up`'s chat), numbered by the hub like IRC.
    Web(u64),
    /// A member of the same room on another server (in member lists only;
    /// nothing is ever delivered to it here).
    Elsewhere,
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberId::Udp(addr) => write!(f, "udp {addr}"),
            MemberId::Irc(n) => write!(f, "irc #{n}"),
            MemberId::Web(n) => write!(f, "web #{n}"),
            MemberId::Elsewhere => write!(f, "on another server"),
        }
    }
}

/// Why a member is no longer in the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaveReason {
    /// It left (UDP `LEAVE`, IRC `PART`).
    Left,
    /// Its connection ended (IRC `QUIT` or a closed connection), with a message.
    Quit(Arc<str>),
    /// It was silent for longer than the idle timeout.
    TimedOut,
    /// The operator kicked it.
    Kicked,
}

/// Something a member is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// To the joiner: the join succeeded; every member's name, its own included.
    Welcome {
        /// Names, sorted case-insensitively.
        members: Vec<Arc<str>>,
    },
    /// To the joiner, after `Welcome`: an earlier message, oldest first.
    History {
        /// Who said it.
        name: Arc<str>,
        /// What was said.
        text: Arc<str>,
        /// An action (`ME`) rather than a message.
        action: bool,
    },
    /// To the others: someone joined.
    Joined {
        /// The new member.
        name: Arc<str>,
    },
    /// To the others: someone said something.
    Message {
        /// The speaker.
        name: Arc<str>,
        /// The text.
        text: Arc<str>,
    },
    /// To the others: someone did something (`ME`, IRC's CTCP ACTION).
    Action {
        /// Who acts.
        name: Arc<str>,
        /// What it does, in the third person ("waves").
        text: Arc<str>,
    },
    /// To the others: a member took a new name (`NICK`).
    Renamed {
        /// The name it had.
        old: Arc<str>,
        /// The name it has now.
        new: Arc<str>,
    },
    /// To one member only: a private message (`TELL`).
    Told {
        /// Who sent it.
        from: Arc<str>,
        /// The text.
        text: Arc<str>,
    },
    /// To the others: someone is gone.
    Left {
        /// The member who left.
        name: Arc<str>,
        /// Why.
        reason: LeaveReason,
    },
    /// To everyone: the operator speaks.
    Admin {
        /// The announcement.
        text: Arc<str>,
    },
    /// To one member, who asked: the member list.
    Members {
        /// Names, sorted case-insensitively.
        names: Vec<Arc<str>>,
    },
    /// To the kicked member itself.
    Kicked,
}

/// One event for one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The member to tell.
    pub to: MemberId,
    /// What to tell it (shared by every recipient of the same event).
    pub event: Arc<Event>,
}
