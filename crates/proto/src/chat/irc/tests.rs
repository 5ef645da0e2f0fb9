//! IRC session tests: in memory, with the UDP front on the same hub.

use super::*;
use crate::chat::room::RoomConfig;
use crate::chat::udp::UdpFront;
use crate::testing::Harness;
use crate::{Datagram, DatagramService};

pub(super) fn setup() -> (Arc<Hub>, IrcService, Instant) {
    let hub = Hub::new(RoomConfig::default());
    (hub.clone(), IrcService::new(hub), Instant::now())
}

pub(super) fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap()
}

pub(super) fn client(svc: &IrcService, t: Instant, nick: &str) -> Harness<IrcSession> {
    let mut h = Harness::new(svc.new_session(None, t), t);
    let reply = text(h.send(format!("NICK {nick}\r\nUSER u 0 * :Real\r\n").as_bytes()));
    assert!(
        reply.contains(&format!(":netkit 001 {nick} :Welcome")),
        "{reply}"
    );
    h
}

pub(super) fn udp(front: &mut UdpFront, port: u16, data: &str) -> Vec<String> {
    let mut out: Vec<Datagram> = Vec::new();
    let from = SocketAddr::from(([127, 0, 0, 1], port));
    front.handle_datagram(Instant::now(), from, data.as_bytes(), &mut out);
    out.into_iter().map(|d| text(d.data)).collect()
}

#[test]
fn registration_in_either_order_with_cap() {
    let (_hub, svc, t) = setup();
    let mut h = Harness::new(svc.new_session(None, t), t);
    let r = text(h.send(b"CAP LS 302\r\nUSER u 0 * :Real Name\r\nNICK alice\r\n"));
    assert_eq!(
        r, ":netkit CAP * LS :\r\n",
        "registration waits for CAP END"
    );
    let r = text(h.send(b"CAP END\r\n"));
    for code in ["001", "002", "003", "004", "005", "422"] {
        assert!(
            r.contains(&format!(":netkit {code} alice ")),
            "{code} missing in {r}"
        );
    }
    let mut h2 = Harness::new(svc.new_session(None, t), t);
    assert!(text(h2.send(b"NICK ALICE\r\n")).contains(" 433 * ALICE :Nickname is already in use"));
    assert!(text(h2.send(b"JOIN #netkit\r\n")).contains(" 451 "));
}

#[test]
fn join_privmsg_and_the_udp_side() {
    let (hub, svc, t) = setup();
    let mut front = UdpFront::new(hub.clone());
    assert_eq!(udp(&mut front, 5, "JOIN udpbob"), ["OK udpbob"]);
    udp(&mut front, 5, "SAY before");
    let mut h = client(&svc, t, "alice");
    let r = text(h.send(b"JOIN #netkit\r\n"));
    assert!(r.starts_with(":alice!alice@netkit JOIN #netkit\r\n"), "{r}");
    assert!(
        r.contains(":netkit 353 alice = #netkit :alice udpbob\r\n"),
        "{r}"
    );
    assert!(r.contains(":netkit 366 alice #netkit :"), "{r}");
    assert!(
        r.contains("NOTICE #netkit :[history] <udpbob> before"),
        "{r}"
    );

    // The UDP member hears the join and the message; the sender gets no echo.
    let mut pending = Vec::new();
    front.handle_timeout(Instant::now(), &mut pending);
    assert_eq!(text(pending.remove(0).data), "JOINED alice");
    assert!(h.send(b"PRIVMSG #netkit :hello udp\r\n").is_empty());
    front.handle_timeout(Instant::now(), &mut pending);
    assert_eq!(text(pending.remove(0).data), "MSG alice hello udp");

    // A UDP message reaches the IRC client after a wake-up.
    udp(&mut front, 5, "SAY hi irc\r\nQUIT :injected");
    h.session.handle_wake(t);
    let r = text(h.drain());
    assert_eq!(
        r, ":udpbob!udpbob@netkit PRIVMSG #netkit :hi irc\u{fffd}\u{fffd}QUIT :injected\r\n",
        "the room replaced the control characters"
    );

    assert_eq!(
        text(h.send(b"PART #netkit\r\n")),
        ":alice!alice@netkit PART #netkit\r\n"
    );
    front.handle_timeout(Instant::now(), &mut pending);
    assert_eq!(text(pending.remove(0).data), "LEFT alice");
    assert_eq!(
        udp(&mut front, 6, "JOIN Alice"),
        Vec::<String>::new(),
        "nick still held (short JOIN, no ERR)"
    );
    assert_eq!(
        udp(&mut front, 6, "JOIN Alice                "),
        ["ERR name-taken"]
    );
}

#[test]
fn queries_ping_and_quit() {
    let (hub, svc, t) = setup();
    let mut h = client(&svc, t, "alice");
    h.send(b"JOIN #netkit\r\n");
    assert_eq!(
        text(h.send(b"PING :abc\r\n")),
        ":netkit PONG netkit :abc\r\n"
    );
    let r = text(h.send(b"NAMES #netkit\r\n"));
    assert!(
        r.contains(" 353 alice = #netkit :alice\r\n") && r.contains(" 366 "),
        "{r}"
    );
    let r = text(h.send(b"WHO #netkit\r\n"));
    assert!(
        r.contains(":netkit 352 alice #netkit alice irc netkit alice H :0 alice\r\n"),
        "{r}"
    );
    assert!(
        r.contains(":netkit 315 alice #netkit :End of /WHO list\r\n"),
        "{r}"
    );
    assert!(text(h.send(b"MODE #netkit\r\n")).contains(":netkit 324 alice #netkit +nt"));
    assert!(text(h.send(b"MODE #netkit b\r\n")).contains(":netkit 368 alice #netkit :"));
    assert!(text(h.send(b"PRIVMSG #other :x\r\n")).contains(" 401 "));
    assert!(text(h.send(b"FROB\r\n")).contains(" 421 alice FROB "));
    let r = text(h.send(b"QUIT :bye\r\n"));
    assert!(r.starts_with("ERROR :Closing Link: alice"), "{r}");
    assert!(h.session.is_done());
    assert!(!hub.with_room(|room| room.name_taken("alice", MemberId::Irc(999))));
}

#[test]
fn long_lines_get_an_error_and_the_session_goes_on() {
    let (_hub, svc, t) = setup();
    let mut h = client(&svc, t, "alice");
    let mut long = vec![b'x'; 600];
    long.extend_from_slice(b"\r\nPING :ok\r\n");
    let r = text(h.send(&long));
    assert!(r.contains(" 417 alice :Input line was too long"), "{r}");
    assert!(r.ends_with(":netkit PONG netkit :ok\r\n"), "{r}");
    // An over-long line arriving without its end, in pieces.
    let r = text(h.send(&[b'y'; 700]));
    assert!(r.contains(" 417 "), "{r}");
    assert!(h.unconsumed().is_empty());
    assert!(text(h.send(&[b'y'; 700])).is_empty(), "one error per line");
    assert_eq!(
        text(h.send(b"yyy\r\nPING x\r\n")),
        ":netkit PONG netkit :x\r\n"
    );
    assert!(!h.session.is_done());
}

#[test]
fn admin_kick_and_idle_ping() {
    let (hub, svc, t) = setup();
    let mut h = client(&svc, t, "alice");
    h.send(b"JOIN #netkit\r\n");
    hub.act(None, |room| room.admin("maintenance at noon"));
    h.session.handle_wake(t);
    assert_eq!(
        text(h.drain()),
        ":netkit NOTICE alice :[admin] maintenance at noon\r\n"
    );
    hub.act(None, |room| room.kick("alice"));
    h.session.handle_wake(t);
    assert_eq!(
        text(h.drain()),
        ":netkit KICK #netkit alice :kicked by the operator\r\n"
    );
    assert!(h
        .send(b"PRIVMSG #netkit :x\r\n")
        .starts_with(b":netkit 404"));
    // Quiet for the idle timeout: PING; quiet as long again: closed.
    assert_eq!(text(h.advance(Duration::from_secs(61))), "PING :netkit\r\n");
    let r = text(h.advance(Duration::from_secs(61)));
    assert!(r.starts_with("ERROR :Ping timeout"), "{r}");
    assert!(h.session.is_done());
}

proptest::proptest! {
    /// Whatever bytes a client sends, in whatever pieces, the session neither
    /// panics nor leaves input unconsumed past one line, and every line it
    /// sends fits IRC's 512 bytes.
    #[test]
    fn arbitrary_input_never_panics(chunks in proptest::collection::vec(
        proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700), 0..8)
    ) {
        let (hub, svc, t) = setup();
        let mut front = UdpFront::new(hub);
        udp(&mut front, 5, "JOIN other");
        let mut h = Harness::new(svc.new_session(None, t), t);
        h.send(b"NICK fuzz\r\nUSER u 0 * :x\r\nJOIN #netkit\r\n");
        for chunk in &chunks {
            let out = h.send(chunk);
            for line in out.split(|b| *b == b'\n') {
                proptest::prop_assert!(line.len() < MAX_LINE);
            }
            proptest::prop_assert!(h.unconsumed().len() < MAX_LINE);
        }
    }
}

#[test]
fn look_alike_and_invisible_nicks_are_refused() {
    let (_hub, svc, t) = setup();
    let _alice = client(&svc, t, "alice");
    let mut h = Harness::new(svc.new_session(None, t), t);
    for look_alike in ["ａlice", "alicе", "ALICE"] {
        let r = text(h.send(format!("NICK {look_alike}\r\n").as_bytes()));
        assert!(r.contains(" 433 * "), "{look_alike}: {r}");
    }
    for invisible in ["\u{202e}ecila", "al\u{200b}ix", "bo\u{200d}b"] {
        let r = text(h.send(format!("NICK {invisible}\r\n").as_bytes()));
        assert!(r.contains(" 432 "), "{invisible:?}: {r}");
    }
}

#[test]
fn nick_changes_count_against_the_join_limit_of_the_address() {
    let (_hub, svc, t) = setup();
    let peer = Some(SocketAddr::from(([192, 0, 2, 1], 4000)));
    let mut h = Harness::new(svc.new_session(peer, t), t);
    let mut flood = String::new();
    for i in 0..500 {
        flood.push_str(&format!("NICK n{i}\r\n"));
    }
    let r = text(h.send(flood.as_bytes()));
    let burst = RoomConfig::default().join_burst as usize;
    assert_eq!(r.matches(" 438 ").count(), 500 - burst, "{r}");
    // Another address is not held back by this one.
    let other = Some(SocketAddr::from(([192, 0, 2, 2], 4000)));
    let mut h2 = Harness::new(svc.new_session(other, t), t);
    let r = text(h2.send(b"NICK fresh\r\nUSER u 0 * :x\r\n"));
    assert!(r.contains(" 001 fresh "), "{r}");
}

#[test]
fn a_quit_message_reaches_the_others_without_control_characters() {
    let (_hub, svc, t) = setup();
    let mut a = client(&svc, t, "watcher");
    a.send(b"JOIN #netkit\r\n");
    let mut b = client(&svc, t, "leaver");
    b.send(b"JOIN #netkit\r\n");
    a.session.handle_wake(t);
    a.drain();
    b.send(b"QUIT :\x1b]0;owned\x07bye\r\n");
    a.session.handle_wake(t);
    let r = text(a.drain());
    assert!(
        r.contains(":leaver!leaver@netkit QUIT :Quit: \u{fffd}]0;owned\u{fffd}bye\r\n"),
        "{r:?}"
    );
}
