//! IRC's side of the room's verbs, in memory with a UDP member on the same
//! hub: CTCP ACTION ↔ `ME`, NICK ↔ `RENAMED`, PRIVMSG to a nick ↔ `TELL`/`TOLD`,
//! and history NOTICEs without CTCP bytes.

use super::tests::{client, setup, text, udp};
use crate::chat::udp::UdpFront;
use crate::DatagramService;
use std::time::Instant;

fn udp_hears(front: &mut UdpFront) -> Vec<String> {
    let mut out = Vec::new();
    front.handle_timeout(Instant::now(), &mut out);
    out.into_iter().map(|d| text(d.data)).collect()
}

#[test]
fn action_rename_and_private_message_both_ways() {
    let (hub, svc, t) = setup();
    let mut front = UdpFront::new(hub.clone());
    assert_eq!(udp(&mut front, 5, "JOIN bob"), ["OK bob"]);
    udp(&mut front, 5, "PING");
    udp(&mut front, 5, "ME waved earlier");
    let mut h = client(&svc, t, "alice");
    let r = text(h.send(b"JOIN #netkit\r\n"));
    assert!(
        r.contains(":netkit NOTICE #netkit :[history] * bob waved earlier\r\n"),
        "{r}"
    );
    assert!(!r.contains('\u{1}'), "no CTCP in a NOTICE: {r:?}");
    udp_hears(&mut front);

    // IRC → UDP.
    assert!(h
        .send(b"PRIVMSG #netkit :\x01ACTION waves\x01\r\n")
        .is_empty());
    assert_eq!(udp_hears(&mut front), ["ME alice waves"]);
    assert!(h.send(b"PRIVMSG #netkit :\x01VERSION\x01\r\n").is_empty());
    assert!(h.send(b"PRIVMSG BOB :just for you\r\n").is_empty());
    assert_eq!(udp_hears(&mut front), ["TOLD alice just for you"]);
    let r = text(h.send(b"PRIVMSG nobody :hello?\r\n"));
    assert!(r.contains(" 401 alice nobody :No such nick"), "{r}");
    assert_eq!(
        text(h.send(b"NICK alicia\r\n")),
        ":alice!alice@netkit NICK :alicia\r\n"
    );
    assert_eq!(udp_hears(&mut front), ["RENAMED alice alicia"]);
    let r = text(h.send(b"NICK bob\r\n"));
    assert!(
        r.contains(" 433 alicia bob :Nickname is already in use"),
        "{r}"
    );

    // UDP → IRC.
    assert!(udp(&mut front, 5, "ME bows").is_empty());
    assert_eq!(
        text(h.wake()),
        ":bob!bob@netkit PRIVMSG #netkit :\x01ACTION bows\x01\r\n"
    );
    assert!(udp(&mut front, 5, "TELL alicia a secret").is_empty());
    assert_eq!(
        text(h.wake()),
        ":bob!bob@netkit PRIVMSG alicia :a secret\r\n"
    );
    assert_eq!(udp(&mut front, 5, "NICK robert"), ["OK alicia robert"]);
    assert_eq!(text(h.wake()), ":bob!bob@netkit NICK :robert\r\n");
    assert_eq!(udp(&mut front, 5, "TELL nobody hi"), ["ERR no-such-member"]);
}
