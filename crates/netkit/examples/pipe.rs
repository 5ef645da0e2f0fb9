//! pipe — one-way pipes and two-way socket pairs between parent and child.
//!
//! Seed topic: 进程间通信（IPC）— 管道通信, `fd1, fd2 = Pipe(duplex=True)`,
//! `fd.send(data)` / `fd.recv()`; and the earlier note that writing when the
//! other end is gone raises "Pipe Broken".
//!
//! `pipe()` gives two descriptors: bytes written to the write end come out of
//! the read end, in one direction only (Python's `Pipe(duplex=False)`). Both
//! descriptors survive `fork`, so parent and child share the pipe; each side
//! closes the end it does not use. That matters: `read` returns 0 (EOF) only
//! when *every* copy of the write end is closed.
//!
//! `socketpair(AF_UNIX, SOCK_STREAM)` gives two connected sockets, each
//! readable and writable — Python's default `Pipe(duplex=True)`.
//!
//! Writing to a pipe nobody can read fails with `EPIPE` ("broken pipe"); Rust
//! programs ignore SIGPIPE, so we see the error instead of being killed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, pipe, write, ForkResult};

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("pipe: {what}: {e}");
    std::process::exit(1);
}

fn main() {
    // 1. One-way: the child writes three lines, the parent reads to EOF.
    let (rd, wr) = pipe().unwrap_or_else(|e| fail("pipe", e));
    // SAFETY: single-threaded, so the child may run arbitrary code.
    match unsafe { fork() }.unwrap_or_else(|e| fail("fork", e)) {
        ForkResult::Child => {
            drop(rd);
            for i in 1..=3 {
                let _ = write(&wr, format!("message {i}\n").as_bytes());
            }
            // SAFETY: _exit ends the process at once; it touches no Rust state.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(wr); // without this, the loop below would wait forever
            let lines = BufReader::new(std::fs::File::from(rd)).lines();
            let got: Vec<String> = lines.map_while(Result::ok).collect();
            println!("one-way: received {got:?} then EOF");
            let _ = waitpid(child, None);
        }
    }

    // 2. Duplex: parent asks, child answers, over the same pair.
    let (mine, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::empty(),
    )
    .unwrap_or_else(|e| fail("socketpair", e));
    // SAFETY: single-threaded, so the child may run arbitrary code.
    match unsafe { fork() }.unwrap_or_else(|e| fail("fork", e)) {
        ForkResult::Child => {
            drop(mine);
            let sock = UnixStream::from(theirs);
            let mut out = &sock;
            for line in BufReader::new(&sock).lines().map_while(Result::ok) {
                let reply = line.replace("ping", "pong");
                if writeln!(out, "{reply}").is_err() {
                    break;
                }
            }
            // SAFETY: _exit ends the process at once; it touches no Rust state.
            unsafe { nix::libc::_exit(0) };
        }
        ForkResult::Parent { child } => {
            drop(theirs);
            let sock = UnixStream::from(mine);
            let mut replies = BufReader::new(&sock).lines();
            for i in 1..=3 {
                let sent = writeln!(&sock, "ping {i}");
                let reply = replies.next();
                println!("duplex: sent ping {i} ({}) got {reply:?}", sent.is_ok());
            }
            drop(replies);
            drop(sock); // the child sees EOF and exits
            println!("duplex child: {:?}", waitpid(child, None));
        }
    }

    // 3. Broken pipe: the read end is closed, so the write has nowhere to go.
    let (rd, wr) = pipe().unwrap_or_else(|e| fail("pipe", e));
    drop(rd);
    println!("write with no reader: {:?}", write(&wr, b"lost"));
}
