//! Room tests: byte-free, with a fake clock.

use super::*;
use std::net::SocketAddr;

/// A heartbeat member that hears the room from its join on (a web page's).
/// The fan-out tests use it; a datagram member first has to confirm its
/// address with a second datagram (`room/hostile_tests.rs`, [`udp`]).
pub(crate) fn member(n: u16) -> MemberId {
    MemberId::Web(u64::from(n))
}

/// The UDP member at 127.0.0.1:`port`.
pub(crate) fn udp(port: u16) -> MemberId {
    MemberId::Udp(SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Every delivery the room has queued, as (member, event).
pub(crate) fn drain(room: &mut Room) -> Vec<(MemberId, Event)> {
    let mut out = Vec::new();
    room.poll_deliveries(&mut out);
    out.into_iter()
        .map(|d| (d.to, (*d.event).clone()))
        .collect()
}

fn to(events: &[(MemberId, Event)], id: MemberId) -> Vec<Event> {
    events
        .iter()
        .filter(|(to, _)| *to == id)
        .map(|(_, e)| e.clone())
        .collect()
}

fn names(list: &[&str]) -> Vec<Arc<str>> {
    list.iter().map(|n| Arc::from(*n)).collect()
}

#[test]
fn join_say_leave_reach_the_others_once_and_never_the_sender() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let (a, b, c) = (member(1), member(2), member(3));
    room.join(t, a, "alice", true).unwrap();
    assert_eq!(
        drain(&mut room),
        vec![(
            a,
            Event::Welcome {
                members: names(&["alice"])
            }
        )]
    );
    room.join(t, b, "bob", true).unwrap();
    room.join(t, c, "Carol", true).unwrap();
    let ev = drain(&mut room);
    assert_eq!(
        to(&ev, a),
        vec![
            Event::Joined { name: "bob".into() },
            Event::Joined {
                name: "Carol".into()
            }
        ]
    );
    assert_eq!(
        to(&ev, c),
        vec![Event::Welcome {
            members: names(&["alice", "bob", "Carol"])
        }]
    );

    room.say(t, b, "hi all").unwrap();
    let ev = drain(&mut room);
    let msg = Event::Message {
        name: "bob".into(),
        text: "hi all".into(),
    };
    assert_eq!(ev.len(), 2);
    assert_eq!(to(&ev, a), vec![msg.clone()]);
    assert_eq!(to(&ev, c), vec![msg]);
    assert!(to(&ev, b).is_empty());

    assert!(room.leave(b, LeaveReason::Left));
    assert!(!room.leave(b, LeaveReason::Left));
    let ev = drain(&mut room);
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|(_, e)| *e
        == Event::Left {
            name: "bob".into(),
            reason: LeaveReason::Left
        }));
    assert_eq!(room.say(t, b, "x"), Err(SayError::NotJoined));
    // The name is free again.
    room.join(t, member(4), "BOB", true).unwrap();
}

#[test]
fn names_are_unique_case_insensitively_and_checked() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    room.join(t, member(1), "Alice", true).unwrap();
    assert_eq!(
        room.join(t, member(2), "aLICE", true),
        Err(JoinError::NameTaken)
    );
    assert_eq!(
        room.join(t, member(2), "a b", true),
        Err(JoinError::BadName)
    );
    assert_eq!(room.join(t, member(2), "", true), Err(JoinError::BadName));
    assert_eq!(
        room.join(t, member(2), &"x".repeat(33), true),
        Err(JoinError::BadName)
    );
    // An IRC nick holds its name before joining.
    room.claim_name(t, MemberId::Irc(7), "Dave").unwrap();
    assert_eq!(
        room.join(t, member(2), "dave", true),
        Err(JoinError::NameTaken)
    );
    room.join(t, MemberId::Irc(7), "Dave", false).unwrap();
    room.leave(MemberId::Irc(7), LeaveReason::Left);
    assert_eq!(
        room.join(t, member(2), "dave", true),
        Err(JoinError::NameTaken),
        "PART keeps the nick"
    );
    room.release_name(MemberId::Irc(7));
    room.join(t, member(2), "dave", true).unwrap();
}

#[test]
fn joining_again_repeats_the_welcome_or_renames() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", true).unwrap();
    room.join(t, b, "bob", true).unwrap();
    drain(&mut room);
    room.join(t, a, "alice", true).unwrap();
    assert_eq!(
        drain(&mut room),
        vec![(
            a,
            Event::Welcome {
                members: names(&["alice", "bob"])
            }
        )]
    );
    room.join(t, a, "ann", true).unwrap();
    let ev = to(&drain(&mut room), b);
    assert_eq!(
        ev,
        vec![
            Event::Left {
                name: "alice".into(),
                reason: LeaveReason::Left
            },
            Event::Joined { name: "ann".into() }
        ]
    );
}

#[test]
fn history_replays_the_last_messages_oldest_first() {
    let t = Instant::now();
    let config = RoomConfig {
        rate: 0.0,
        ..RoomConfig::default()
    };
    let mut room = Room::new(config);
    let a = member(1);
    room.join(t, a, "alice", true).unwrap();
    for i in 0..60 {
        room.say(t, a, &format!("m{i}")).unwrap();
    }
    drain(&mut room);
    let b = member(2);
    room.join(t, b, "bob", true).unwrap();
    let ev = to(&drain(&mut room), b);
    assert_eq!(
        ev.len(),
        1,
        "a datagram member gets history only once it speaks again"
    );
    assert!(matches!(ev[0], Event::Welcome { .. }));
    room.join(t, b, "bob", true).unwrap();
    assert_eq!(
        to(&drain(&mut room), b).len(),
        1,
        "a repeated JOIN repeats only OK"
    );
    room.say(t, a, "after bob joined").unwrap();
    drain(&mut room);
    room.ping(t, b).unwrap();
    let ev = to(&drain(&mut room), b);
    // What was said before the join, less m10 (pushed out by the newer message,
    // which bob received live).
    assert_eq!(ev.len(), 49, "the history as it was when bob joined");
    assert_eq!(
        ev[0],
        Event::History {
            name: "alice".into(),
            text: "m11".into(),
            action: false
        }
    );
    assert_eq!(
        ev[48],
        Event::History {
            name: "alice".into(),
            text: "m59".into(),
            action: false
        }
    );
    room.ping(t, b).unwrap();
    assert!(drain(&mut room).is_empty(), "history is sent once");
    // A connection member (IRC) gets it at once.
    room.join(t, MemberId::Irc(1), "carol", false).unwrap();
    let ev = to(&drain(&mut room), MemberId::Irc(1));
    assert_eq!(ev.len(), 51);
    assert_eq!(
        ev[50],
        Event::History {
            name: "alice".into(),
            text: "after bob joined".into(),
            action: false
        }
    );
}

#[test]
fn flood_control_is_a_token_bucket() {
    let t = Instant::now();
    let config = RoomConfig {
        rate: 5.0,
        burst: 10,
        ..RoomConfig::default()
    };
    let mut room = Room::new(config);
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", true).unwrap();
    room.join(t, b, "bob", true).unwrap();
    drain(&mut room);
    for _ in 0..10 {
        room.say(t, a, "x").unwrap();
    }
    assert_eq!(room.say(t, a, "x"), Err(SayError::RateLimited));
    assert_eq!(drain(&mut room).len(), 10, "the excess is not forwarded");
    // 5 per second: one more after 200 ms, not before.
    assert_eq!(
        room.say(t + Duration::from_millis(150), a, "x"),
        Err(SayError::RateLimited)
    );
    room.say(t + Duration::from_millis(210), a, "x").unwrap();
    // Bob has his own bucket.
    room.say(t, b, "y").unwrap();

    let mut free = Room::new(RoomConfig {
        rate: 0.0,
        ..RoomConfig::default()
    });
    free.join(t, a, "alice", true).unwrap();
    for _ in 0..1000 {
        free.say(t, a, "x").unwrap();
    }
}

#[test]
fn repeated_joins_share_the_flood_limit() {
    let t = Instant::now();
    let config = RoomConfig {
        rate: 1.0,
        burst: 3,
        ..RoomConfig::default()
    };
    let mut room = Room::new(config);
    let a = member(1);
    room.join(t, a, "alice", true).unwrap();
    drain(&mut room);
    for _ in 0..10 {
        room.join(t, a, "alice", true).unwrap();
    }
    assert_eq!(drain(&mut room).len(), 3, "three repeats of OK, then none");
    assert_eq!(room.say(t, a, "x"), Err(SayError::RateLimited));
}

#[test]
fn too_long_text_is_refused() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    room.join(t, member(1), "alice", true).unwrap();
    room.say(t, member(1), &"x".repeat(1000)).unwrap();
    assert_eq!(
        room.say(t, member(1), &"x".repeat(1001)),
        Err(SayError::TooLong)
    );
}

#[test]
fn silent_heartbeat_members_are_dropped_and_announced() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let (a, b, irc) = (member(1), member(2), MemberId::Irc(1));
    room.join(t, a, "alice", true).unwrap();
    room.join(t + Duration::from_secs(10), b, "bob", true)
        .unwrap();
    room.join(t, irc, "ircer", false).unwrap();
    drain(&mut room);
    assert_eq!(room.poll_timeout(), Some(t + Duration::from_secs(60)));
    room.ping(t + Duration::from_secs(50), a).unwrap();
    room.handle_timeout(t + Duration::from_secs(60));
    assert!(drain(&mut room).is_empty(), "alice pinged");
    room.handle_timeout(t + Duration::from_secs(71));
    let ev = drain(&mut room);
    let left = Event::Left {
        name: "bob".into(),
        reason: LeaveReason::TimedOut,
    };
    assert_eq!(to(&ev, a), vec![left.clone()]);
    assert_eq!(to(&ev, irc), vec![left]);
    assert_eq!(room.poll_timeout(), Some(t + Duration::from_secs(110)));
    room.handle_timeout(t + Duration::from_secs(1000));
    assert_eq!(room.members().len(), 1, "IRC members have no heartbeat");
    assert_eq!(room.poll_timeout(), None);
    assert_eq!(room.ping(t, a), Err(NotJoined));
}

#[test]
fn admin_kick_and_who() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", true).unwrap();
    room.join(t, b, "bob", true).unwrap();
    drain(&mut room);
    room.admin("hello");
    let ev = drain(&mut room);
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|(_, e)| *e
        == Event::Admin {
            text: "hello".into()
        }));
    room.who(t, a).unwrap();
    assert_eq!(
        drain(&mut room),
        vec![(
            a,
            Event::Members {
                names: names(&["alice", "bob"])
            }
        )]
    );
    assert_eq!(room.who(t, member(9)), Err(NotJoined));
    assert_eq!(room.kick("BOB"), Some(b));
    let ev = drain(&mut room);
    assert_eq!(to(&ev, b), vec![Event::Kicked]);
    assert_eq!(
        to(&ev, a),
        vec![Event::Left {
            name: "bob".into(),
            reason: LeaveReason::Kicked
        }]
    );
    assert_eq!(room.kick("bob"), None);
    assert_eq!(room.members(), vec![(a, "alice".into())]);
}
