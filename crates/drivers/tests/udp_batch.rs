//! The UDP loop's batching (`recvmmsg` in, grouped `sendmmsg` + GSO out): a
//! batch of input datagrams whose output is many datagrams to several
//! destinations, interleaved and of mixed sizes, must reach every destination
//! whole and in the order the service queued it — for receivers that take
//! GRO batches and for plain ones.

use netkit_drivers::udp::recv::{enable_gro, Receiver, Wait};
use netkit_drivers::udp::send::Sender;
use netkit_drivers::Shutdown;
use netkit_proto::{Datagram, DatagramService};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Every blocking call in these tests gives up after this long.
const BOUND: Duration = Duration::from_secs(30);

/// For each input datagram `N`, sends `PER_INPUT` datagrams to every
/// destination, interleaved: `d<dest> <N> <j> <padding>`, the padding varying
/// so that runs of equal sizes start and end anywhere.
struct Fanout {
    to: Vec<SocketAddr>,
}

const PER_INPUT: usize = 7;
const INPUTS: usize = 150;

fn payload(dest: usize, input: usize, j: usize) -> Vec<u8> {
    let pad = match (input + j) % 5 {
        0..=2 => 3,
        3 => 0,
        _ => 700,
    };
    format!("d{dest} {input} {j} {}", "x".repeat(pad)).into_bytes()
}

impl DatagramService for Fanout {
    fn handle_datagram(
        &mut self,
        _now: Instant,
        _from: SocketAddr,
        data: &[u8],
        out: &mut Vec<Datagram>,
    ) {
        let Some(input) = std::str::from_utf8(data).ok().and_then(|s| s.parse().ok()) else {
            return;
        };
        for j in 0..PER_INPUT {
            for (dest, to) in self.to.iter().enumerate() {
                out.push(Datagram {
                    to: *to,
                    data: payload(dest, input, j),
                });
            }
        }
    }

    fn handle_timeout(&mut self, _now: Instant, _out: &mut Vec<Datagram>) {}

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
}

/// Receives `want` datagrams (a GRO batch counts as the datagrams in it).
fn receive(socket: &UdpSocket, want: usize) -> Vec<Vec<u8>> {
    socket.set_read_timeout(Some(BOUND)).unwrap();
    let mut rx = Receiver::new(1, 65_536, false, true);
    let mut got = Vec::new();
    while got.len() < want {
        rx.recv(socket, Wait::Blocking)
            .expect("a datagram before the bound");
        got.extend(rx.datagrams().map(|(_, _, d)| d.to_vec()));
    }
    got
}

/// Room for everything a test sends, so nothing is dropped for space.
fn big_buffers(receivers: &[UdpSocket]) {
    for r in receivers {
        socket2::SockRef::from(r)
            .set_recv_buffer_size(4 << 20)
            .unwrap();
    }
}

fn expected(dest: usize) -> Vec<Vec<u8>> {
    (0..INPUTS)
        .flat_map(|input| (0..PER_INPUT).map(move |j| payload(dest, input, j)))
        .collect()
}

#[test]
fn a_batch_reaches_every_destination_whole_and_in_order() {
    let receivers: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    for r in &receivers[..2] {
        assert!(enable_gro(r), "UDP_GRO");
    }
    big_buffers(&receivers);
    let to = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    // Queued before the loop starts, so its first reads are full batches.
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for input in 0..INPUTS {
        client.send_to(input.to_string().as_bytes(), addr).unwrap();
    }
    let shutdown = Shutdown::new().unwrap();
    let (signal, (tx, done)) = (shutdown.clone(), mpsc::channel());
    thread::spawn(move || {
        let _ = tx.send(netkit_drivers::udp::serve(
            std::slice::from_ref(&server),
            &mut Fanout { to },
            &signal,
        ));
    });
    for (dest, r) in receivers.iter().enumerate() {
        let want = expected(dest);
        assert_eq!(receive(r, want.len()), want, "destination {dest}");
    }
    shutdown.trigger();
    done.recv_timeout(BOUND).unwrap().unwrap();
}

/// Datagrams for `send`: `count` to each of `to`, interleaved, mixed sizes.
fn batch(to: &[SocketAddr], count: usize) -> Vec<Datagram> {
    (0..count)
        .flat_map(|i| {
            to.iter().enumerate().map(move |(dest, to)| Datagram {
                to: *to,
                data: payload(dest, i, 0),
            })
        })
        .collect()
}

fn sent_in_order(sender: &UdpSocket, batch_of: &mut Sender) {
    let receivers: Vec<UdpSocket> = (0..3)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    assert!(enable_gro(&receivers[0]), "UDP_GRO");
    big_buffers(&receivers);
    let to: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
    let mut out = batch(&to, 200);
    let want: Vec<Vec<Vec<u8>>> = (0..to.len())
        .map(|dest| {
            out.iter()
                .filter(|d| d.to == to[dest])
                .map(|d| d.data.clone())
                .collect()
        })
        .collect();
    batch_of.send(sender, &mut out);
    assert!(out.is_empty());
    for (dest, r) in receivers.iter().enumerate() {
        assert_eq!(
            receive(r, want[dest].len()),
            want[dest],
            "destination {dest}"
        );
    }
}

#[test]
fn gso_is_used_where_the_kernel_allows_it() {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut batch = Sender::new();
    sent_in_order(&sender, &mut batch);
    assert!(batch.gso(), "loopback takes UDP GSO (Linux 4.18 and later)");
}

/// A socket whose UDP checksums are off (SO_NO_CHECK): the kernel refuses
/// GSO on it (EINVAL).
fn refusing_gso() -> UdpSocket {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let one: libc::c_int = 1;
    // SAFETY: a plain int option on a socket this test owns.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&sender),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_NO_CHECK");
    sender
}

#[test]
fn a_kernel_refusing_gso_gets_every_datagram_one_by_one() {
    let sender = refusing_gso();
    let mut batch = Sender::new();
    sent_in_order(&sender, &mut batch);
    assert!(!batch.gso(), "the refusal is remembered");
    sent_in_order(&sender, &mut batch);
}

#[test]
fn without_gso_every_datagram_arrives_in_order() {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sent_in_order(&sender, &mut Sender::without_gso());
}

/// A TFTP-like window to one peer, lent one datagram at a time: 16 blocks
/// of 1,468 bytes (over the many-peers segment limit), a short last one, and
/// a datagram to a stranger in between.
fn window_sent(sender: &UdpSocket, one_peer: &mut Sender) {
    let rx = [
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    ];
    assert!(enable_gro(&rx[0]), "UDP_GRO");
    big_buffers(&rx);
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for r in &rx {
        let to = r.local_addr().unwrap();
        let mut window: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 1_468]).collect();
        window.push(vec![99; 10]);
        for (i, d) in window.iter().enumerate() {
            one_peer.push(to, d);
            if i == 3 {
                one_peer.push(stranger.local_addr().unwrap(), b"ERROR 5");
            }
        }
        one_peer.flush(sender);
        assert_eq!(receive(r, window.len()), window);
        assert_eq!(receive(&stranger, 1), [b"ERROR 5".to_vec()]);
    }
}

#[test]
fn a_window_to_one_peer_goes_out_as_gso_and_arrives_whole_and_in_order() {
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut one_peer = Sender::for_one_peer();
    window_sent(&sender, &mut one_peer);
    assert!(one_peer.gso(), "segments of 1,468 bytes fit loopback's MTU");
    let sender = refusing_gso();
    let mut one_peer = Sender::for_one_peer();
    window_sent(&sender, &mut one_peer);
    assert!(!one_peer.gso(), "the refusal is remembered");
}
