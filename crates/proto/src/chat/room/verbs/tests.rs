//! The verbs beyond SAY, byte-free with a fake clock: who hears an action, a
//! rename and a private message, and the limits they share with SAY and JOIN.

use crate::chat::event::{Event, MemberId};
use crate::chat::room::tests::{drain, member, udp};
use crate::chat::room::{JoinError, Room, RoomConfig, SayError};
use std::time::{Duration, Instant};

fn to(events: &[(MemberId, Event)], id: MemberId) -> Vec<Event> {
    events
        .iter()
        .filter(|(to, _)| *to == id)
        .map(|(_, e)| e.clone())
        .collect()
}

fn room_of_three(t: Instant) -> (Room, MemberId, MemberId, MemberId) {
    let mut room = Room::new(RoomConfig::default());
    let (a, b, c) = (member(1), member(2), member(3));
    for (id, name) in [(a, "alice"), (b, "bob"), (c, "carol")] {
        room.join(t, id, name, true).unwrap();
    }
    drain(&mut room);
    (room, a, b, c)
}

#[test]
fn an_action_reaches_the_others_and_stays_in_the_history() {
    let t = Instant::now();
    let (mut room, a, b, c) = room_of_three(t);
    room.act(t, a, "waves\u{1b}[2J").unwrap();
    let ev = drain(&mut room);
    let action = Event::Action {
        name: "alice".into(),
        text: "waves\u{fffd}[2J".into(),
    };
    assert_eq!(
        to(&ev, b),
        vec![action.clone()],
        "control characters replaced"
    );
    assert_eq!(to(&ev, c), [action]);
    assert!(to(&ev, a).is_empty(), "never to the actor");
    room.join(t, MemberId::Irc(9), "dave", false).unwrap();
    let history: Vec<Event> = to(&drain(&mut room), MemberId::Irc(9))
        .into_iter()
        .filter(|e| matches!(e, Event::History { .. }))
        .collect();
    assert_eq!(
        history,
        [Event::History {
            name: "alice".into(),
            text: "waves\u{fffd}[2J".into(),
            action: true
        }]
    );
    assert_eq!(room.act(t, a, &"x".repeat(1001)), Err(SayError::TooLong));
    assert_eq!(room.act(t, udp(5), "ghost"), Err(SayError::NotJoined));
}

#[test]
fn a_rename_is_heard_by_the_others_and_moves_the_name() {
    let t = Instant::now();
    let (mut room, a, b, c) = room_of_three(t);
    let members = room.rename(t, a, "alicia").unwrap();
    let list: Vec<&str> = members.iter().map(|n| &**n).collect();
    assert_eq!(list, ["alicia", "bob", "carol"]);
    let ev = drain(&mut room);
    let renamed = Event::Renamed {
        old: "alice".into(),
        new: "alicia".into(),
    };
    assert_eq!(to(&ev, b), vec![renamed.clone()]);
    assert_eq!(to(&ev, c), [renamed]);
    assert!(to(&ev, a).is_empty());
    assert_eq!(room.name_of(a).map(|n| &**n), Some("alicia"));
    // The old name is free, the new one taken; messages carry the new name.
    room.join(t, member(4), "alice", true).unwrap();
    assert_eq!(
        room.join(t, member(5), "ALICIA", true),
        Err(JoinError::NameTaken)
    );
    drain(&mut room);
    room.say(t, a, "hi").unwrap();
    assert!(drain(&mut room)
        .iter()
        .all(|(_, e)| matches!(e, Event::Message { name, .. } if &**name == "alicia")));
    // The rules of JOIN: taken (a look-alike too), bad, not joined.
    assert_eq!(room.rename(t, a, "bob"), Err(JoinError::NameTaken));
    // Cyrillic "а" looks like Latin "a" (UTS #39).
    assert_eq!(room.rename(t, b, "\u{430}licia"), Err(JoinError::NameTaken));
    assert_eq!(room.rename(t, b, "two words"), Err(JoinError::BadName));
    assert_eq!(room.rename(t, b, "bo\u{200b}b"), Err(JoinError::BadName));
    assert_eq!(room.rename(t, udp(7), "x"), Err(JoinError::NotJoined));
    // Its own name in another case is a rename; the same name is none.
    assert!(room.rename(t, b, "Bob").is_ok());
    assert_eq!(
        drain(&mut room).len(),
        3,
        "alicia, carol and the new alice hear it"
    );
    assert!(room.rename(t, b, "Bob").is_ok());
    assert!(to(&drain(&mut room), c).is_empty());
}

#[test]
fn renames_count_against_the_address_join_limit() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let x = udp(1);
    room.join(t, x, "x", true).unwrap();
    room.ping(t, x).unwrap();
    let burst = RoomConfig::default().join_burst as usize;
    let renamed = (0..100)
        .filter(|i| room.rename(t, x, &format!("x{i}")).is_ok())
        .count();
    assert_eq!(renamed, burst - 1, "the join took one token");
    assert_eq!(room.rename(t, x, "later"), Err(JoinError::RateLimited));
    // The bucket refills with the (fake) clock.
    let later = t + Duration::from_secs(1);
    assert!(room.rename(later, x, "later").is_ok());
}

#[test]
fn a_private_message_reaches_its_member_alone() {
    let t = Instant::now();
    let (mut room, a, b, _) = room_of_three(t);
    room.tell(t, a, "BOB", "just you\u{7}").unwrap();
    let ev = drain(&mut room);
    assert_eq!(
        ev,
        [(
            b,
            Event::Told {
                from: "alice".into(),
                text: "just you\u{fffd}".into()
            }
        )]
    );
    assert_eq!(room.tell(t, a, "nobody", "hi"), Err(SayError::NoSuchMember));
    assert_eq!(room.tell(t, udp(3), "bob", "hi"), Err(SayError::NotJoined));
    assert_eq!(
        room.tell(t, a, "bob", &"x".repeat(1001)),
        Err(SayError::TooLong)
    );
    // Never in the history.
    room.join(t, MemberId::Irc(9), "dave", false).unwrap();
    assert!(!to(&drain(&mut room), MemberId::Irc(9))
        .iter()
        .any(|e| matches!(e, Event::History { .. })));
}

#[test]
fn actions_and_private_messages_share_the_flood_limit_of_say() {
    let t = Instant::now();
    let (mut room, a, _, _) = room_of_three(t);
    let burst = RoomConfig::default().burst as usize;
    let sent = (0..30)
        .filter(|i| match i % 3 {
            0 => room.say(t, a, "s").is_ok(),
            1 => room.act(t, a, "acts").is_ok(),
            _ => room.tell(t, a, "bob", "psst").is_ok(),
        })
        .count();
    assert_eq!(sent, burst);
    assert_eq!(room.act(t, a, "more"), Err(SayError::RateLimited));
    assert_eq!(room.tell(t, a, "bob", "more"), Err(SayError::RateLimited));
    let later = t + Duration::from_secs(1);
    assert!(room.act(later, a, "again").is_ok());
}

#[test]
fn an_unconfirmed_datagram_member_is_told_nothing() {
    let t = Instant::now();
    let (mut room, a, _, _) = room_of_three(t);
    // A JOIN from a forged address: no private message may follow its OK.
    let forged = udp(9);
    room.join(t, forged, "victim", true).unwrap();
    drain(&mut room);
    assert_eq!(
        room.tell(t, a, "victim", &"x".repeat(1000)),
        Err(SayError::NoSuchMember)
    );
    assert!(drain(&mut room).is_empty());
    // Confirmed by its next datagram, it hears them.
    room.ping(t, forged).unwrap();
    drain(&mut room);
    room.tell(t, a, "victim", "now").unwrap();
    assert_eq!(drain(&mut room).len(), 1);
}
