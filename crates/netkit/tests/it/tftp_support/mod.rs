//! Raw-socket helpers shared by the TFTP packet-level tests: packet builders,
//! a parsed view of answers, a client socket that learns the transfer's port,
//! and a served directory with the files and symlinks the tests need.

use crate::common::Server;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::Duration;

/// A packet that must arrive arrives within this.
pub const MUST_ARRIVE: Duration = Duration::from_secs(10);

/// How long "nothing arrives" is watched for; several of the server's
/// retransmission timeouts in the tests that use it.
pub const SILENCE: Duration = Duration::from_millis(800);

#[derive(Debug, PartialEq, Eq)]
pub enum P {
    Data(u16, Vec<u8>),
    Ack(u16),
    Error(u16),
    Oack(Vec<(String, String)>),
}

pub fn parse(b: &[u8]) -> P {
    let op = u16::from_be_bytes([b[0], b[1]]);
    let n = || u16::from_be_bytes([b[2], b[3]]);
    match op {
        3 => P::Data(n(), b[4..].to_vec()),
        4 => P::Ack(n()),
        5 => P::Error(n()),
        6 => {
            let f: Vec<String> = b[2..b.len() - 1]
                .split(|&c| c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            P::Oack(
                f.chunks(2)
                    .map(|kv| (kv[0].clone(), kv[1].clone()))
                    .collect(),
            )
        }
        other => panic!("unexpected opcode {other}: {b:?}"),
    }
}

pub fn request(op: u8, name: &[u8], mode: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    let mut p = vec![0, op];
    p.extend_from_slice(name);
    p.push(0);
    p.extend_from_slice(mode.as_bytes());
    p.push(0);
    for (k, v) in opts {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    }
    p
}

pub fn rrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(1, name.as_bytes(), "octet", opts)
}

pub fn wrq(name: &str, opts: &[(&str, &str)]) -> Vec<u8> {
    request(2, name.as_bytes(), "octet", opts)
}

pub fn ack(n: u16) -> Vec<u8> {
    let mut p = vec![0, 4];
    p.extend_from_slice(&n.to_be_bytes());
    p
}

pub fn data(n: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 3];
    p.extend_from_slice(&n.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

pub fn error(code: u16) -> Vec<u8> {
    let mut p = vec![0, 5];
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(b"client gives up\0");
    p
}

/// A raw client socket.
pub struct Peer {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    /// The transfer's port, learnt from the first answer.
    pub tid: Option<SocketAddr>,
}

impl Peer {
    pub fn new(server: SocketAddr) -> Peer {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        Peer {
            sock,
            server,
            tid: None,
        }
    }

    /// Sends to the listening port.
    pub fn request(&self, p: &[u8]) {
        self.sock.send_to(p, self.server).unwrap();
    }

    /// Sends to the transfer's port.
    pub fn send(&self, p: &[u8]) {
        self.sock
            .send_to(p, self.tid.expect("a transfer port"))
            .unwrap();
    }

    pub fn recv_within(&mut self, limit: Duration) -> Option<P> {
        self.sock.set_read_timeout(Some(limit)).unwrap();
        let mut buf = vec![0; 70_000];
        match self.sock.recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_ne!(from, self.server, "answers come from a fresh port");
                if let Some(tid) = self.tid {
                    assert_eq!(from, tid, "every answer from the same transfer port");
                }
                self.tid = Some(from);
                Some(parse(&buf[..n]))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("recv: {e}"),
        }
    }

    pub fn recv(&mut self) -> P {
        self.recv_within(MUST_ARRIVE)
            .expect("a packet from the server")
    }

    pub fn expect_silence(&mut self) {
        if let Some(p) = self.recv_within(SILENCE) {
            panic!("expected nothing, got {p:?}");
        }
    }
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub server: Server,
}

pub fn setup(extra: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("three"), vec![7u8; 1024 + 100]).unwrap();
    std::fs::write(root.join("ten"), vec![1u8; 512 * 10]).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("text"), b"a\nb\rc").unwrap();
    std::fs::write(root.join("exists"), b"old").unwrap();
    std::fs::write(dir.path().join("secret"), b"outside").unwrap();
    std::os::unix::fs::symlink(dir.path(), root.join("link-out")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link-file")).unwrap();
    let r = root.to_str().unwrap().to_owned();
    let mut args = vec!["tftp", "serve", &r, "--bind", "127.0.0.1", "--port", "0"];
    args.extend_from_slice(extra);
    let server = Server::start(&args);
    Setup { dir, root, server }
}

/// Short timeouts, so retries and lingering end quickly.
pub const QUICK: [&str; 4] = ["--timeout", "0.1", "--retries", "2"];

/// Option pairs as the OACK parser returns them.
pub fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
