//! The web front in memory: tokens, the verbs' POSTs and the event stream.

use super::*;
use crate::chat::room::RoomConfig;

fn body(r: &ExtResponse) -> String {
    match &r.body {
        crate::http::extension::ExtBody::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

#[test]
fn a_web_member_joins_speaks_and_leaves_through_its_token() {
    let t = Instant::now();
    let hub = Hub::new(RoomConfig::default());
    let chat = WebChat::new(hub.clone());
    let udp = MemberId::Udp("127.0.0.1:9".parse().unwrap());
    hub.act(None, |room| room.join(t, udp, "bob", true))
        .unwrap();
    // bob's second datagram: from now on it hears the room.
    hub.act(None, |room| room.ping(t, udp)).unwrap();

    assert_eq!(chat.join(t, None, b"bob").status, 409, "names are unique");
    assert_eq!(chat.join(t, None, b"two words").status, 400);
    let joined = chat.join(t, None, b"alice");
    assert_eq!(joined.status, 200);
    let v: serde_json::Value = serde_json::from_str(&body(&joined)).unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 32);

    assert_eq!(chat.say(t, "forged", b"hi").status, 404);
    assert_eq!(chat.say(t, &token, b"hi bob").status, 204);
    let mut udp_out = Vec::new();
    hub.take_udp(&mut udp_out);
    assert!(udp_out.iter().any(|(_, e)| matches!(&**e,
        Event::Message { name, text } if &**name == "alice" && &**text == "hi bob")));

    // Listed (the operator's /list, IRC WHO) as a web member, not as IRC.
    let members = hub.with_room(|room| room.members());
    let (id, _) = members.iter().find(|(_, n)| &**n == "alice").unwrap();
    assert!(matches!(id, MemberId::Web(_)), "{id:?}");
    assert!(id.to_string().starts_with("web #"), "{id}");

    let mut stream = match chat.events(t, &token).body {
        crate::http::extension::ExtBody::Stream(s) => s,
        _ => panic!("a stream"),
    };
    hub.act(None, |room| room.say(t, udp, "hello alice"))
        .unwrap();
    let mut out = Vec::new();
    assert!(stream.poll(t, &mut out));
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("event: welcome\ndata: {\"members\":[\"alice\",\"bob\"]}"));
    assert!(text.contains("event: message\ndata: {\"name\":\"bob\",\"text\":\"hello alice\"}"));

    drop(stream); // the page closed
    hub.take_udp(&mut udp_out);
    assert!(matches!(&*udp_out.last().unwrap().1, Event::Left { name, .. } if &**name == "alice"));
    assert_eq!(chat.say(t, &token, b"still here?").status, 404);
}

#[test]
fn web_joins_count_against_the_address_join_limit() {
    let t = Instant::now();
    let chat = WebChat::new(Hub::new(RoomConfig::default()));
    let peer = Some(IpAddr::from([192, 0, 2, 7]));
    let statuses: Vec<u16> = (0..300)
        .map(|i| chat.join(t, peer, format!("w{i}").as_bytes()).status)
        .collect();
    let burst = RoomConfig::default().join_burst as usize;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), burst);
    assert!(statuses[burst..].iter().all(|s| *s == 429), "{statuses:?}");
    let refused = chat.join(t, peer, b"one-more");
    assert_eq!(body(&refused).trim_end(), "rate-limited");
    let elsewhere = Some(IpAddr::from([192, 0, 2, 8]));
    assert_eq!(chat.join(t, elsewhere, b"neighbour").status, 200);
}

#[test]
fn a_web_member_acts_renames_and_tells() {
    let t = Instant::now();
    let hub = Hub::new(RoomConfig::default());
    let chat = WebChat::new(hub.clone());
    let token = |r: ExtResponse| {
        let v: serde_json::Value = serde_json::from_str(&body(&r)).unwrap();
        v["token"].as_str().unwrap().to_owned()
    };
    let (alice, bob) = (
        token(chat.join(t, None, b"alice")),
        token(chat.join(t, None, b"bob")),
    );
    let mut stream = match chat.events(t, &bob).body {
        crate::http::extension::ExtBody::Stream(s) => s,
        _ => panic!("a stream"),
    };
    assert_eq!(chat.me(t, &alice, b"waves").status, 204);
    assert_eq!(chat.tell(t, &alice, b"bob psst, bob").status, 204);
    assert_eq!(chat.tell(t, &alice, b"nobody hi").status, 404);
    assert_eq!(chat.tell(t, &alice, b"bob").status, 404);
    assert_eq!(chat.nick(t, &alice, b"bob").status, 409);
    assert_eq!(chat.nick(t, &alice, b"two words").status, 400);
    let renamed = chat.nick(t, &alice, b"alicia");
    assert_eq!(renamed.status, 200);
    assert!(
        body(&renamed).contains("\"name\":\"alicia\""),
        "{}",
        body(&renamed)
    );
    assert_eq!(chat.nick(t, "forged", b"x").status, 404);
    let mut out = Vec::new();
    assert!(stream.poll(t, &mut out));
    let text = String::from_utf8(out).unwrap();
    for want in [
        "event: action\ndata: {\"name\":\"alice\",\"text\":\"waves\"}",
        "event: told\ndata: {\"from\":\"alice\",\"text\":\"psst, bob\"}",
        "event: renamed\ndata: {\"new\":\"alicia\",\"old\":\"alice\"}",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
}
