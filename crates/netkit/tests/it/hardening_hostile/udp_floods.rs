//! UDP garbage and floods at the chat and TFTP ports, and a chat JOIN flood
//! that neither slows the room nor grows it.

use super::*;

#[test]
fn udp_garbage_and_floods_at_chat_and_tftp() {
    let (dir, root) = served();
    let chat = Server::start(&["chat", "serve", "--bind", "127.0.0.1", "--port", "0"]);
    let tftp = start("tftp", &root, "", &[]);
    let (chat_pid, tftp_pid) = (chat.child.id(), tftp.child.id());
    let (chat_base, tftp_base) = (rss_kib(chat_pid), rss_kib(tftp_pid));
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut x = rand_u64() | 1;
    for i in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 600) as usize;
        let garbage: Vec<u8> = (0..len).map(|j| (x >> (j % 56)) as u8).collect();
        let _ = attacker.send_to(&garbage, chat.addr());
        if i % 4 == 0 {
            let _ = attacker.send_to(&garbage, tftp.addr());
        }
    }
    // Many members joining from fresh ports (each a socket), then silent.
    let joiners: Vec<UdpSocket> = (0..300)
        .map(|i| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = s.send_to(format!("JOIN flood{i}").as_bytes(), chat.addr());
            s
        })
        .collect();
    // A normal member still joins and is answered.
    let me = UdpSocket::bind("127.0.0.1:0").unwrap();
    me.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut answered = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !answered && Instant::now() < deadline {
        me.send_to(b"JOIN normal", chat.addr()).unwrap();
        let mut buf = [0u8; 65536];
        while let Ok(n) = me.recv(&mut buf) {
            if buf[..n].starts_with(b"OK ") {
                answered = true;
                break;
            }
        }
    }
    assert!(
        answered,
        "a normal member was never answered during the flood"
    );
    me.send_to(b"PING", chat.addr()).unwrap();
    let mut buf = [0u8; 65536];
    let mut pong = false;
    for _ in 0..400 {
        match me.recv(&mut buf) {
            Ok(n) if &buf[..n] == b"PONG" => {
                pong = true;
                break;
            }
            Ok(_) => {}
            Err(_) => me.send_to(b"PING", chat.addr()).map(|_| ()).unwrap(),
        }
    }
    assert!(pong, "no PONG for a member during the flood");
    assert_eq!(tftp_get(tftp.addr(), b"a.txt"), b"hello\n");
    assert!(
        rss_kib(chat_pid) < chat_base + RSS_SLACK_KIB,
        "chat RSS {}",
        rss_kib(chat_pid)
    );
    assert!(
        rss_kib(tftp_pid) < tftp_base + RSS_SLACK_KIB,
        "tftp RSS {}",
        rss_kib(tftp_pid)
    );
    drop(joiners);
    drop(dir);
}

/// A chat member on its own socket, for the JOIN-flood test.
fn chat_member(server: &Server, name: &str) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send(format!("JOIN {name}").as_bytes()).unwrap();
    s.send(b"PING").unwrap();
    chat_until(&s, |d| d == "PONG");
    s
}

/// Reads datagrams until one satisfies `done` (bounded); returns it.
#[track_caller]
fn chat_until(s: &UdpSocket, done: impl Fn(&str) -> bool) -> String {
    let mut buf = [0u8; 65536];
    let mut last = String::new();
    for _ in 0..10_000 {
        let Ok(n) = s.recv(&mut buf) else {
            panic!("no datagram in time; the last was {last:?}");
        };
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        last.clone_from(&got);
        if done(&got) {
            return got;
        }
    }
    panic!("never got the datagram awaited");
}

#[test]
fn a_join_flood_neither_slows_the_room_nor_grows_it_and_its_timeouts_are_cheap() {
    // A short member timeout (hidden flag) so the flood's members time out
    // within the test.
    let chat = Server::start(&[
        "chat",
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--idle-timeout",
        "3",
    ]);
    let pid = chat.child.id();
    let base = rss_kib(pid);
    let alice = chat_member(&chat, "alice");
    let bob = chat_member(&chat, "bob");
    let mut admitted = 0;
    for round in 0..3 {
        // 4,000 JOINs from 4,000 ports of one address.
        for i in 0..4000 {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            let _ = s.send_to(format!("JOIN r{round}j{i:04}").as_bytes(), chat.addr());
        }
        alice
            .send(format!("SAY during flood {round}").as_bytes())
            .unwrap();
        let want = format!("MSG alice during flood {round}");
        admitted += 0;
        let _ = chat_until(&bob, |d| d == want);
        bob.send(b"WHO").unwrap();
        let members = chat_until(&bob, |d| d.starts_with("MEMBERS "));
        admitted = admitted.max(members.split(' ').count() - 3);
        assert!(
            rss_kib(pid) < base + RSS_SLACK_KIB,
            "chat RSS {}",
            rss_kib(pid)
        );
    }
    assert!(
        admitted <= 100,
        "{admitted} flood members let in from one address"
    );
    // Until the flood's members time out, alice and bob stay (PING, WHO)
    // and bob hears their LEFTs; the room stays small and answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 65536];
    loop {
        alice.send(b"PING").unwrap();
        chat_until(&alice, |d| d == "PONG");
        bob.send(b"WHO").unwrap();
        let members = chat_until(&bob, |d| d.starts_with("MEMBERS "));
        if members == "MEMBERS alice bob" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flood never timed out: {members}"
        );
        // Waits for the next departure (or half a second of nothing).
        bob.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let _ = bob.recv(&mut buf);
        bob.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    alice.send(b"SAY after the flood").unwrap();
    chat_until(&bob, |d| d == "MSG alice after the flood");
    assert!(
        rss_kib(pid) < base + RSS_SLACK_KIB,
        "chat RSS {}",
        rss_kib(pid)
    );
}
