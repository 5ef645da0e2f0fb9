//! The room against hostile members (issue 15): join and rename floods,
//! amplification by the welcome, mass departures, control characters and
//! look-alike names. Byte-free, with a fake clock.

use super::tests::{drain, member, udp};
use super::*;
use std::net::{Ipv4Addr, SocketAddr};

fn at(t: Instant, ms: u64) -> Instant {
    t + Duration::from_millis(ms)
}

/// `port` joins and confirms its address with a PING (as `chat join` does).
fn confirmed(room: &mut Room, t: Instant, port: u16, name: &str) -> MemberId {
    let id = udp(port);
    room.join(t, id, name, true).unwrap();
    room.ping(t, id).unwrap();
    id
}

#[test]
fn joins_from_one_address_count_against_its_limit() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let burst = RoomConfig::default().join_burst as usize;
    let admitted = (0..4000u16)
        .filter(|i| {
            room.join(t, udp(10_000 + i), &format!("j{i:05}"), true)
                .is_ok()
        })
        .count();
    assert_eq!(admitted, burst, "4,000 ports of one address are one joiner");
    assert_eq!(
        room.join(t, udp(9), "late", true),
        Err(JoinError::RateLimited)
    );
    let other = MemberId::Udp(SocketAddr::from(([127, 0, 0, 2], 9)));
    room.join(t, other, "elsewhere", true).unwrap();
    // The address gets its rate back with time.
    room.join(at(t, 1000), udp(9), "late", true).unwrap();
    room.join(at(t, 1000), udp(8), "later", true).unwrap();
    // Web and IRC members count against their connection's address.
    let web = member(1);
    room.set_origin(web, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        room.join(at(t, 1000), web, "page", true),
        Err(JoinError::RateLimited)
    );
    let irc = MemberId::Irc(2);
    room.set_origin(irc, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(
        room.claim_name(at(t, 1000), irc, "nick"),
        Err(JoinError::RateLimited)
    );
}

#[test]
fn renames_count_against_the_join_limit() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let alice = confirmed(&mut room, t, 1, "alice");
    let bob = MemberId::Udp(SocketAddr::from(([127, 0, 0, 2], 2)));
    room.join(t, bob, "bob", true).unwrap();
    room.ping(t, bob).unwrap();
    drain(&mut room);
    let renamed = (0..500)
        .filter(|i| room.join(t, bob, &format!("b{i}"), true).is_ok())
        .count();
    let burst = RoomConfig::default().join_burst as usize;
    assert_eq!(renamed, burst - 1, "the first join took one token");
    let heard = drain(&mut room)
        .into_iter()
        .filter(|(to, e)| *to == alice && matches!(e, Event::Joined { .. }))
        .count();
    assert_eq!(heard, burst - 1);
}

#[test]
fn members_leaving_together_cost_linear_work() {
    let t = Instant::now();
    let idle = Duration::from_secs(60);
    let mut room = Room::new(RoomConfig {
        join_rate: 0.0,
        idle_timeout: idle,
        ..RoomConfig::default()
    });
    let normal = confirmed(&mut room, t, 1, "normal");
    // 2,000 flood members join over 80 ms and confirm (the worst case:
    // they all hear the room).
    let n = 2000u16;
    for i in 0..n {
        let when = t + Duration::from_micros(40 * u64::from(i));
        let id = udp(2 + i);
        room.join(when, id, &format!("f{i:04}"), true).unwrap();
        room.ping(when, id).unwrap();
    }
    drain(&mut room);
    let mut now = t;
    let (mut total, mut largest, mut calls, mut normal_heard) = (0usize, 0usize, 0usize, 0usize);
    let mut out = Vec::new();
    // The normal member PINGs every 20 s; the clock runs to 62 s after the flood.
    while now < at(t, 62_500) && calls < 10_000 {
        now = room
            .poll_timeout()
            .map_or(at(now, 100), |a| a.max(now))
            .min(at(now, 100));
        if now.saturating_duration_since(t).as_millis() % 20_000 < 100 {
            room.ping(now, normal).unwrap();
        }
        room.handle_timeout(now);
        room.poll_deliveries(&mut out);
        largest = largest.max(out.len());
        total += out.len();
        normal_heard += out
            .iter()
            .filter(|d| d.to == normal && matches!(*d.event, Event::Left { .. }))
            .count();
        out.clear();
        calls += 1;
    }
    assert_eq!(room.members().len(), 1, "the flood timed out");
    assert_eq!(
        normal_heard,
        usize::from(n),
        "the member who stayed heard every LEFT"
    );
    assert!(
        total <= 4 * usize::from(n),
        "{total} deliveries for {n} departures"
    );
    assert!(
        largest <= MAX_SWEEP_DELIVERIES,
        "{largest} deliveries at once"
    );
}

#[test]
fn control_characters_in_text_never_reach_another_member() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    let (a, b) = (member(1), member(2));
    room.join(t, a, "alice", false).unwrap();
    room.join(t, b, "mallory", false).unwrap();
    drain(&mut room);
    room.say(
        t,
        b,
        "\u{1b}]0;owned\u{7}\u{1b}[2J\r\nalice: give me your password\u{7f}\u{9b}",
    )
    .unwrap();
    room.admin("bell\u{7}");
    for (_, e) in drain(&mut room) {
        let text = match &e {
            Event::Message { text, .. } | Event::Admin { text } => text.clone(),
            other => panic!("{other:?}"),
        };
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }
}

#[test]
fn look_alike_and_invisible_names_are_refused() {
    let t = Instant::now();
    let mut room = Room::new(RoomConfig::default());
    room.join(t, member(1), "alice", false).unwrap();
    for look_alike in ["ａlice", "alicе", "ALICE", "ａｌｉｃｅ"] {
        assert_eq!(
            room.join(t, member(2), look_alike, false),
            Err(JoinError::NameTaken),
            "{look_alike}"
        );
        assert_eq!(
            room.claim_name(t, MemberId::Irc(3), look_alike),
            Err(JoinError::NameTaken),
            "{look_alike}"
        );
    }
    for invisible in ["\u{202e}ecila", "al\u{200b}ice", "bo\u{200d}b", "\u{2066}x"] {
        assert_eq!(
            room.join(t, member(2), invisible, false),
            Err(JoinError::BadName),
            "{invisible:?}"
        );
    }
    room.join(t, member(2), "bob", false).unwrap();
}
