//! The room behind a fake link: nothing is delivered until the link hands an
//! event back, then each member hears it once; claims and releases go through.

use crate::chat::event::{Event, LeaveReason, MemberId};
use crate::chat::link::{Link, LinkStatus, Shared};
use crate::chat::room::tests::{drain, member};
use crate::chat::room::{JoinError, Room, RoomConfig};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Default)]
struct Log {
    published: Vec<(u64, Shared)>,
    claimed: Vec<String>,
    released: Vec<String>,
    refuse: Vec<String>,
    shared: bool,
}

#[derive(Debug, Clone, Default)]
struct Fake(Arc<Mutex<Log>>);

impl Link for Fake {
    fn claim(&mut self, name: &str) -> bool {
        let mut log = self.0.lock().unwrap();
        log.claimed.push(name.into());
        !log.refuse.iter().any(|n| n == name)
    }
    fn release(&mut self, name: &str) {
        self.0.lock().unwrap().released.push(name.into());
    }
    fn publish(&mut self, number: u64, event: &Shared) -> bool {
        let mut log = self.0.lock().unwrap();
        log.published.push((number, event.clone()));
        log.shared
    }
    fn elsewhere(&self) -> Vec<Arc<str>> {
        vec!["zed".into()]
    }
    fn status(&self) -> LinkStatus {
        if self.0.lock().unwrap().shared {
            LinkStatus::Whole
        } else {
            LinkStatus::Split
        }
    }
}

#[test]
fn shared_events_reach_members_only_when_handed_back() {
    let t = Instant::now();
    let fake = Fake::default();
    fake.0.lock().unwrap().shared = true;
    let mut room = Room::new(RoomConfig::default());
    assert_eq!(room.link_status(), LinkStatus::Alone);
    room.set_link(Box::new(fake.clone()));
    assert_eq!(room.link_status(), LinkStatus::Whole);
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", false).unwrap();
    room.join(t, b, "bob", false).unwrap();
    let welcome = drain(&mut room);
    assert!(
        welcome
            .iter()
            .all(|(_, e)| matches!(e, Event::Welcome { .. })),
        "no JOINED yet: {welcome:?}"
    );
    assert!(matches!(&welcome[1].1, Event::Welcome { members } if members.len() == 3));
    room.say(t, a, "hi").unwrap();
    assert!(
        drain(&mut room).is_empty(),
        "nothing before the link hands it back"
    );
    let published = fake.0.lock().unwrap().published.clone();
    assert_eq!(published.len(), 3, "two joins and a message");
    assert_eq!(
        published.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for (number, event) in published {
        room.receive_own(number, event);
    }
    let heard = drain(&mut room);
    assert_eq!(
        heard,
        [
            (a, Event::Joined { name: "bob".into() }),
            (
                b,
                Event::Message {
                    name: "alice".into(),
                    text: "hi".into()
                }
            )
        ],
        "alice hears bob join (bob does not: he joined later); bob hears alice once"
    );
    room.receive(Shared::Admin { text: "x".into() });
    assert_eq!(drain(&mut room).len(), 2);
    let names: Vec<_> = room
        .members()
        .into_iter()
        .map(|(id, n)| (id, n.to_string()))
        .collect();
    assert!(names.contains(&(MemberId::Elsewhere, "zed".into())));
    assert!(room.leave(b, LeaveReason::Left));
    assert!(drain(&mut room).is_empty());
    assert_eq!(fake.0.lock().unwrap().released, ["bob"]);
}

#[test]
fn a_refused_claim_is_a_taken_name_and_a_split_link_delivers_at_once() {
    let t = Instant::now();
    let fake = Fake::default();
    fake.0.lock().unwrap().refuse.push("carol".into());
    let mut room = Room::new(RoomConfig::default());
    room.set_link(Box::new(fake.clone()));
    assert_eq!(room.link_status(), LinkStatus::Split);
    let (a, b) = (member(1), member(2));
    assert_eq!(room.join(t, a, "carol", false), Err(JoinError::NameTaken));
    room.join(t, a, "alice", false).unwrap();
    room.join(t, b, "bob", false).unwrap();
    drain(&mut room);
    room.say(t, a, "hi").unwrap();
    assert_eq!(drain(&mut room).len(), 1, "split: bob hears it now");
    assert_eq!(fake.0.lock().unwrap().published.len(), 3, "still offered");
    room.unlink();
    assert_eq!(room.link_status(), LinkStatus::Alone);
}

#[test]
fn a_kick_of_a_member_elsewhere_goes_through_the_link() {
    let t = Instant::now();
    let fake = Fake::default();
    fake.0.lock().unwrap().shared = true;
    let mut room = Room::new(RoomConfig::default());
    room.set_link(Box::new(fake.clone()));
    let a = member(1);
    room.join(t, a, "alice", true).unwrap();
    fake.0.lock().unwrap().published.clear();
    drain(&mut room);

    // zed is on another server: the kick is offered to the link, not done here.
    assert_eq!(room.kick("ZED"), Some(MemberId::Elsewhere));
    let published = std::mem::take(&mut fake.0.lock().unwrap().published);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1, Shared::Kick { name: "zed".into() });
    room.receive_own(published[0].0, published[0].1.clone());
    assert!(drain(&mut room).is_empty(), "a kick is heard by nobody");
    assert_eq!(room.kick("nobody"), None);

    // Another server kicks alice, who is here: she goes, and her LEFT is offered.
    room.receive(Shared::Kick {
        name: "ALICE".into(),
    });
    assert_eq!(drain(&mut room), vec![(a, Event::Kicked)]);
    let published = std::mem::take(&mut fake.0.lock().unwrap().published);
    assert!(
        matches!(&published[..], [(_, Shared::Left { name, reason: LeaveReason::Kicked })]
        if &**name == "alice")
    );
    assert_eq!(room.name_of(a), None);

    // Split: the kick cannot reach zed's server.
    fake.0.lock().unwrap().shared = false;
    assert_eq!(room.kick("zed"), None);
}

#[test]
fn renames_actions_and_private_messages_cross_the_link() {
    let t = Instant::now();
    let fake = Fake::default();
    fake.0.lock().unwrap().shared = true;
    let mut room = Room::new(RoomConfig::default());
    room.set_link(Box::new(fake.clone()));
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", false).unwrap();
    room.join(t, b, "bob", false).unwrap();
    drain(&mut room);
    fake.0.lock().unwrap().published.clear();

    // A rename claims the new name everywhere and frees the old one.
    room.rename(t, a, "alicia").unwrap();
    {
        let log = fake.0.lock().unwrap();
        assert_eq!(log.claimed.last().map(String::as_str), Some("alicia"));
        assert_eq!(log.released.last().map(String::as_str), Some("alice"));
    }
    fake.0.lock().unwrap().refuse.push("taken".into());
    assert_eq!(room.rename(t, b, "taken"), Err(JoinError::NameTaken));
    // An action, and a private message to zed, a member elsewhere.
    room.act(t, a, "waves").unwrap();
    room.tell(t, a, "ZED", "psst").unwrap();
    assert!(
        drain(&mut room).is_empty(),
        "the link hands them back first"
    );
    let published = fake.0.lock().unwrap().published.clone();
    let events: Vec<&Shared> = published.iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        [
            &Shared::Renamed {
                old: "alice".into(),
                new: "alicia".into()
            },
            &Shared::Acted {
                name: "alicia".into(),
                text: "waves".into()
            },
            &Shared::Told {
                from: "alicia".into(),
                to: "zed".into(),
                text: "psst".into()
            },
        ]
    );
    for (number, event) in published {
        room.receive_own(number, event);
    }
    assert_eq!(
        drain(&mut room),
        [
            (
                b,
                Event::Renamed {
                    old: "alice".into(),
                    new: "alicia".into()
                }
            ),
            (
                b,
                Event::Action {
                    name: "alicia".into(),
                    text: "waves".into()
                }
            ),
        ],
        "bob hears the rename and the action once; the message to zed is not for here"
    );

    // From another room: zed renames, acts, and tells bob something.
    room.receive(Shared::Renamed {
        old: "zed".into(),
        new: "zorro".into(),
    });
    room.receive(Shared::Acted {
        name: "zorro".into(),
        text: "bows".into(),
    });
    room.receive(Shared::Told {
        from: "zorro".into(),
        to: "Bob".into(),
        text: "for bob".into(),
    });
    room.receive(Shared::Told {
        from: "zorro".into(),
        to: "nobody-here".into(),
        text: "lost".into(),
    });
    let heard = drain(&mut room);
    assert_eq!(heard.len(), 5, "{heard:?}");
    assert!(heard.contains(&(
        b,
        Event::Told {
            from: "zorro".into(),
            text: "for bob".into()
        }
    )));
    assert!(!heard
        .iter()
        .any(|(to, e)| *to == a && matches!(e, Event::Told { .. })));
}
