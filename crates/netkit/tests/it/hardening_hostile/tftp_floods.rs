//! TFTP under requests that are never (or once) acknowledged: a flood from
//! one address must leave room for others, and 1,024 transfers stalled after
//! their first ACK at the largest block size must stay under 192 MiB.

use super::{rss_kib, served, start};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

fn rrq(name: &str, options: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, 1];
    for s in [name, "octet"]
        .into_iter()
        .chain(options.iter().flat_map(|(k, v)| [*k, *v]))
    {
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }
    p
}

fn recv(sock: &UdpSocket, buf: &mut [u8]) -> Option<(Vec<u8>, SocketAddr)> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (n, from) = sock.recv_from(buf).ok()?;
    Some((buf[..n].to_vec(), from))
}

#[test]
fn an_rrq_flood_from_one_address_leaves_room_for_others() {
    let (dir, root) = served();
    let tftp = start("tftp", &root, "", &[]);
    // 1,100 RRQs from 100 ports of 127.0.0.1, never acknowledged.
    let flood: Vec<UdpSocket> = (0..100)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for _ in 0..11 {
        for s in &flood {
            s.send_to(&rrq("a.txt", &[]), tftp.addr()).unwrap();
        }
    }
    // A client on another address is served. Like every TFTP client it sends
    // its RRQ again after a second without an answer: the flood may have
    // filled the socket's receive queue when the first one arrived, and a
    // datagram dropped there is the kernel's doing, not a refusal.
    let me = UdpSocket::bind("127.0.0.2:0").unwrap();
    me.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut answer = None;
    for _ in 0..10 {
        me.send_to(&rrq("a.txt", &[]), tftp.addr()).unwrap();
        if let Ok((n, _)) = me.recv_from(&mut buf) {
            answer = Some(buf[..n].to_vec());
            break;
        }
    }
    let p = answer.expect("the normal client is answered");
    assert_eq!(p, b"\0\x03\0\x01hello\n");
    // The flood got at most its share of transfers; the rest were refused.
    let (mut served_ports, mut errors) = (std::collections::HashSet::new(), 0);
    for s in &flood {
        s.set_nonblocking(true).unwrap();
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            match buf[..n].get(1) {
                Some(3) => {
                    served_ports.insert(from);
                }
                Some(5) => errors += 1,
                _ => {}
            }
        }
    }
    assert!(served_ports.len() <= 32, "{} transfers", served_ports.len());
    assert!(errors > 0, "no refusal was answered");
    drop(tftp);
    drop(dir);
}

#[test]
fn stalled_transfers_at_the_largest_blocks_stay_bounded() {
    let (dir, root) = served();
    let tftp = start("tftp", &root, "", &[]);
    let pid = tftp.child.id();
    let opts = [("blksize", "65464"), ("timeout", "30")];
    let mut buf = vec![0u8; 70_000];
    let mut stalled = Vec::new();
    // 1,024 transfers of a 16 MiB file from 64 addresses, each ACKed once
    // (the OACK), then never again.
    for host in 2..66u8 {
        let socks: Vec<UdpSocket> = (0..16)
            .map(|_| UdpSocket::bind((std::net::Ipv4Addr::new(127, 0, 0, host), 0)).unwrap())
            .collect();
        for s in &socks {
            s.send_to(&rrq("big.bin", &opts), tftp.addr()).unwrap();
        }
        for s in &socks {
            let (p, from) = recv(s, &mut buf).expect("an OACK");
            assert_eq!(p[1], 6, "OACK expected: {p:?}");
            s.send_to(&[0, 4, 0, 0], from).unwrap();
        }
        for s in &socks {
            let (p, _) = recv(s, &mut buf).expect("DATA 1");
            assert_eq!((p[1], p.len()), (3, 4 + 65464));
        }
        stalled.extend(socks);
    }
    assert_eq!(stalled.len(), 1024);
    let rss = rss_kib(pid);
    eprintln!("tftp server RSS with 1,024 stalled transfers: {rss} KiB");
    assert!(
        rss < 192 * 1024,
        "RSS {rss} KiB with 1,024 stalled transfers"
    );
    drop(tftp);
    drop(dir);
}
