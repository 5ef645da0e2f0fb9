//! Several `chat serve` instances on one Redis act as one room: names unique
//! across instances (a race of two JOINs has one winner), every message heard
//! once by everyone in one order, history, member lists, admin lines and
//! /kick across instances, IRC on one instance and UDP on another.
//! (Outages: chat_backplane_outage.rs.)
//!
//! Each test starts its own `redis-server` on a free port (Debian package
//! redis-server, installed by scripts/test.sh). Synchronisation is by replies
//! and log lines only.

use crate::chat_backplane_support as support;
use crate::common;

use std::io::Write;
use std::net::UdpSocket;
use std::sync::{Arc, Barrier};
use support::{irc, irc_until, three, Instance, Redis, Udp, WAIT};

#[test]
fn names_are_unique_across_instances_and_a_race_has_one_winner() {
    let redis = Redis::start();
    let [a, b, c] = three(&redis);
    let _alice = Udp::joined(&a, "alice");
    assert_eq!(Udp::new(&b).try_join("alice"), "ERR name-taken");
    assert_eq!(Udp::new(&c).try_join("ALICE"), "ERR name-taken");
    for round in 0..5 {
        let name = format!("racer{round}");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [a.addr(), b.addr()]
            .into_iter()
            .map(|addr| {
                let (barrier, name) = (barrier.clone(), name.clone());
                std::thread::spawn(move || {
                    let m = Udp {
                        socket: UdpSocket::bind("127.0.0.1:0").expect("bind"),
                    };
                    m.socket.connect(addr).expect("connect");
                    m.socket.set_read_timeout(Some(WAIT)).expect("timeout");
                    barrier.wait();
                    m.try_join(&name)
                })
            })
            .collect();
        let replies: Vec<String> = racers
            .into_iter()
            .map(|t| t.join().expect("racer"))
            .collect();
        let won = replies.iter().filter(|r| r.starts_with("OK ")).count();
        let lost = replies.iter().filter(|r| *r == "ERR name-taken").count();
        assert_eq!((won, lost), (1, 1), "{replies:?}");
    }
    // A name is free everywhere once its member has left (the release is
    // published before the LEFT that carol hears).
    let carol = Udp::joined(&c, "carol");
    let bob = Udp::joined(&b, "bob");
    bob.send("LEAVE");
    let _ = carol.until("LEFT bob");
    let _again = Udp::joined(&c, "bob");
}

#[test]
fn every_message_reaches_every_other_member_once_in_one_order() {
    let redis = Redis::start();
    let instances = three(&redis);
    let names = ["a0", "a1", "b0", "b1", "c0", "c1"];
    let members: Vec<Udp> = names
        .iter()
        .enumerate()
        .map(|(i, name)| Udp::joined(&instances[i / 2], name))
        .collect();
    const EACH: usize = 5;
    for round in 0..EACH {
        for (m, name) in members.iter().zip(names) {
            m.send(&format!("SAY {name}-{round}"));
        }
    }
    let others = (names.len() - 1) * EACH;
    let mut heard: Vec<Vec<String>> = Vec::new();
    for (m, name) in members.iter().zip(names) {
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if got.len() == others {
                break;
            }
            let d = m.recv();
            if let Some(msg) = d.strip_prefix("MSG ") {
                got.push(msg.to_owned());
            }
        }
        let late: Vec<_> = m
            .pending()
            .into_iter()
            .filter(|d| d.starts_with("MSG "))
            .collect();
        assert!(late.is_empty(), "{name} heard more: {late:?}");
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), others, "{name}: each message once: {got:?}");
        assert!(got.iter().all(|g| !g.starts_with(&format!("{name} "))));
        heard.push(got);
    }
    // One order: any two members agree on the order of what both heard.
    for i in 0..heard.len() {
        for j in i + 1..heard.len() {
            let both = |x: &Vec<String>, y: &Vec<String>| -> Vec<String> {
                x.iter().filter(|m| y.contains(m)).cloned().collect()
            };
            assert_eq!(
                both(&heard[i], &heard[j]),
                both(&heard[j], &heard[i]),
                "{} and {} disagree",
                names[i],
                names[j]
            );
        }
    }
}

#[test]
fn history_member_lists_and_admin_lines_cross_instances() {
    let redis = Redis::start();
    let [mut a, mut b, c] = three(&redis);
    let alice = Udp::joined(&a, "alice");
    let bob = Udp::joined(&b, "bob");
    let dave = Udp::joined(&c, "dave");
    alice.send("SAY one");
    alice.send("SAY two");
    let _ = bob.until("MSG alice two");
    let _ = dave.until("MSG alice two");
    // On bob's instance, which has heard them.
    let carol = Udp::new(&b);
    assert_eq!(carol.try_join("carol"), "OK carol");
    // Its next datagram brings the member list, then the history.
    carol.send("PING");
    // dave's JOINED may reach bob's instance after carol joined: it is news
    // to her then, not history, and may come before the history it owes her.
    let history: Vec<String> = carol
        .until("PONG")
        .into_iter()
        .filter(|line| line != "JOINED dave" && !line.starts_with("MEMBERS "))
        .collect();
    assert_eq!(history, ["HISTORY alice one", "HISTORY alice two"]);
    // dave's join travels on its own: it may land after alice's messages.
    carol.sees("MEMBERS alice bob carol dave");
    let list = b.operator("/list");
    assert!(
        list.starts_with("4 members: alice (on another server), bob (udp "),
        "{list}"
    );
    assert_eq!(b.operator("/status"), "room whole, 4 members");
    writeln!(a.stdin, "maintenance at noon").expect("stdin");
    for m in [&alice, &bob, &carol, &dave] {
        let before = m.until("ADMIN maintenance at noon");
        assert!(before.iter().all(|d| !d.starts_with("ADMIN")));
    }
    alice.sees("MEMBERS alice bob carol dave");
    assert_eq!(a.operator("/status"), "room whole, 4 members");
}

#[test]
fn the_operator_kicks_a_member_of_another_instance() {
    let redis = Redis::start();
    let [mut a, b, c] = three(&redis);
    let alice = Udp::joined(&a, "alice");
    let bob = Udp::joined(&b, "bob");
    let dave = Udp::joined(&c, "dave");
    // a knows bob is elsewhere once alice sees him.
    alice.sees("MEMBERS alice bob dave");
    let reply = a.operator("/kick BOB");
    assert_eq!(
        reply,
        "kicking BOB (on another server; its server removes it)"
    );
    let before = bob.until("ERR kicked");
    assert!(
        before.iter().all(|d| d.starts_with("JOINED ")),
        "{before:?}"
    );
    for m in [&alice, &dave] {
        let before = m.until("LEFT bob");
        assert!(before.iter().all(|d| !d.starts_with("LEFT")), "{before:?}");
    }
    // bob is gone everywhere: no member to kick, and the name is free.
    assert_eq!(a.operator("/kick bob"), "no member named bob");
    let _again = Udp::joined(&c, "bob");
    bob.send("SAY still here?");
    assert_eq!(bob.recv(), "ERR not-joined");
    drop(b);
}

#[test]
fn an_irc_client_and_a_udp_member_on_other_instances_talk() {
    let redis = Redis::start();
    let a = Instance::start(&redis, &["--irc-port", "0"]);
    let b = Instance::start(&redis, &[]);
    let (mut stream, lines) = irc(a.irc.expect("irc address"), "ann");
    assert_eq!(Udp::new(&b).try_join("ann"), "ERR name-taken");
    let bob = Udp::joined(&b, "bob");
    irc_until(&lines, ":bob!bob@netkit JOIN #netkit");
    write!(stream, "PRIVMSG #netkit :hello bob\r\n").expect("send");
    let _ = bob.until("MSG ann hello bob");
    bob.send("SAY hello ann");
    irc_until(&lines, ":bob!bob@netkit PRIVMSG #netkit :hello ann");
    write!(stream, "NAMES #netkit\r\n").expect("send");
    let names = irc_until(&lines, " 353 ");
    assert!(names.ends_with(":ann bob"), "{names}");
    write!(stream, "QUIT :bye\r\n").expect("send");
    let _ = bob.until("LEFT ann");
}

/// `netkit up --backplane` puts its room (UDP, IRC and web fronts) into the
/// shared room: its member and a `chat serve` member hear each other, and
/// `/_netkit/stats` says the room is whole.
#[test]
fn up_with_a_backplane_shares_its_room() {
    let redis = Redis::start();
    let b = Instance::start(&redis, &[]);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = redis.url();
    let up = common::Server::start(&[
        "up",
        dir.path().to_str().expect("utf-8 path"),
        "--bind",
        "127.0.0.1",
        "--http-port",
        "0",
        "--chat-port",
        "0",
        "--irc-port",
        "0",
        "--no-files",
        "--no-tftp",
        "--backplane",
        &url,
    ]);
    let http = up.addr();
    let chat_line = up.lines.recv_timeout(WAIT).expect("chat ready line");
    let chat = common::ready_url(&chat_line).expect("chat ready line");
    assert!(
        chat_line.starts_with("chat listening on udp://"),
        "{chat_line}"
    );
    let chat: std::net::SocketAddr = chat.trim_start_matches("udp://").parse().expect("addr");

    let alice = Udp {
        socket: UdpSocket::bind("127.0.0.1:0").expect("bind"),
    };
    alice.socket.connect(chat).expect("connect");
    alice.socket.set_read_timeout(Some(WAIT)).expect("timeout");
    assert!(alice.try_join("alice").starts_with("OK "));
    let bob = Udp::joined(&b, "bob");
    assert_eq!(Udp::new(&b).try_join("Alice"), "ERR name-taken");
    alice.sees("MEMBERS alice bob");
    alice.send("SAY hello from up");
    let _ = bob.until("MSG alice hello from up");
    bob.send("SAY hello from chat serve");
    let _ = alice.until("MSG bob hello from chat serve");

    let mut s = std::net::TcpStream::connect(http).expect("connect http");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(b"GET /_netkit/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut s, &mut reply).expect("stats");
    assert!(reply.contains("\"chat_room\":\"whole\""), "{reply}");
    assert!(reply.contains("\"chat_members\":2"), "{reply}");
}

#[test]
fn actions_renames_and_private_messages_cross_instances() {
    let redis = Redis::start();
    let [a, b, c] = three(&redis);
    let alice = Udp::joined(&a, "alice");
    let bob = Udp::joined(&b, "bob");
    let carol = Udp::joined(&c, "carol");
    alice.sees("MEMBERS alice bob carol");
    bob.sees("MEMBERS alice bob carol");

    alice.send("ME waves");
    let _ = bob.until("ME alice waves");
    let _ = carol.until("ME alice waves");

    alice.send("NICK alicia");
    let _ = alice.until("OK alicia bob carol");
    let _ = bob.until("RENAMED alice alicia");
    let _ = carol.until("RENAMED alice alicia");
    // The new name is held everywhere, the old one free (its release was
    // published before the RENAMED carol heard).
    assert_eq!(Udp::new(&c).try_join("ALICIA"), "ERR name-taken");
    let _alice_again = Udp::joined(&c, "alice");
    bob.send(&format!("NICK carol{}", " ".repeat(24)));
    let _ = bob.until("ERR name-taken");

    // A private message to a member on another instance reaches it alone.
    bob.send("TELL Alicia psst");
    let _ = alice.until("TOLD bob psst");
    bob.send("TELL nobody hi");
    let _ = bob.until("ERR no-such-member");
    bob.send("SAY after");
    let before = carol.until("MSG bob after");
    assert!(
        !before.iter().any(|d| d.starts_with("TOLD")),
        "carol heard {before:?}"
    );
    // The action is in the history of an instance that heard it.
    let dave = Udp::new(&b);
    let _ = dave.try_join("dave");
    let history = dave.pending();
    assert!(
        history.contains(&"HISTORY-ME alice waves".to_owned()),
        "{history:?}"
    );
}
