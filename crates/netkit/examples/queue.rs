//! queue — a bounded first-in-first-out queue shared by several processes.
//!
//! Seed topic: 消息队列 — `q = Queue(maxsize)`, `q.put(data, block, timeout)`,
//! `q.get(block, timeout)`, `q.full()`, `q.empty()`, `q.qsize()`, `q.close()`.
//!
//! The kernel already has exactly this: a POSIX message queue (`mq_open`). It
//! keeps whole messages (never half of one), in order, up to `maxmsg` of them.
//! A full queue blocks senders and an empty one blocks receivers, unless the
//! descriptor is non-blocking, in which case the call fails with `EAGAIN`
//! (Python's `queue.Full` / `queue.Empty`); `mq_timedreceive` waits at most
//! until a deadline (`get(timeout=...)`). `mq_getattr` reports the current
//! count (`qsize`).
//!
//! The queue has a name like a file. We create it, and unlink the name at
//! once: the open descriptor keeps it alive, children inherit it across
//! `fork`, and nothing is left behind when the last process exits.
//! Three producer processes put five messages each into a queue of four; they
//! block while it is full, so a slow consumer naturally slows them down.

use std::time::Duration;

use nix::errno::Errno;
use nix::mqueue::{mq_getattr, mq_open, mq_receive, mq_remove_nonblock, mq_send, mq_set_nonblock};
use nix::mqueue::{mq_timedreceive, mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;
use nix::sys::time::TimeSpec;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::time::{clock_gettime, ClockId};
use nix::unistd::{fork, getpid, ForkResult};

const MAXSIZE: i64 = 4;
const MSGSIZE: usize = 64;

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("queue: {what}: {e}");
    std::process::exit(1);
}

/// `q.get(timeout=...)`: the deadline is absolute, on the realtime clock.
fn get_timeout(q: &MqdT, wait: Duration) -> nix::Result<String> {
    let deadline = clock_gettime(ClockId::CLOCK_REALTIME)? + TimeSpec::from_duration(wait);
    let mut buf = [0u8; MSGSIZE];
    let n = mq_timedreceive(q, &mut buf, &mut 0, &deadline)?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn qsize(q: &MqdT) -> i64 {
    mq_getattr(q).map(|a| a.curmsgs()).unwrap_or(-1)
}

fn main() {
    let name = format!("/netkit-queue-{}", getpid());
    let attr = MqAttr::new(0, MAXSIZE, MSGSIZE as i64, 0);
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let q = mq_open(
        name.as_str(),
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
        Some(&attr),
    )
    .unwrap_or_else(|e| fail("mq_open", e));
    mq_unlink(name.as_str()).unwrap_or_else(|e| fail("mq_unlink", e));

    println!("empty={} qsize={}", qsize(&q) == 0, qsize(&q));
    match get_timeout(&q, Duration::from_millis(200)) {
        Err(Errno::ETIMEDOUT) => println!("get(timeout=200ms) on empty -> Empty"),
        other => fail("get on empty", format!("{other:?}")),
    }

    // put_nowait until the queue refuses.
    mq_set_nonblock(&q).unwrap_or_else(|e| fail("nonblock", e));
    let mut accepted = 0;
    let refused = loop {
        match mq_send(&q, format!("fill {accepted}").as_bytes(), 0) {
            Ok(()) if accepted < 100 => accepted += 1,
            other => break other,
        }
    };
    println!(
        "put_nowait accepted={accepted} then {refused:?} full={}",
        qsize(&q) == MAXSIZE
    );
    let mut buf = [0u8; MSGSIZE];
    while mq_receive(&q, &mut buf, &mut 0).is_ok() {}
    // The flag lives in the shared open queue: producers must inherit blocking mode.
    mq_remove_nonblock(&q).unwrap_or_else(|e| fail("blocking", e));

    // Three producers, one consumer.
    let mut producers = Vec::new();
    for p in 0..3 {
        // SAFETY: single-threaded, so the child may run arbitrary code.
        match unsafe { fork() }.unwrap_or_else(|e| fail("fork", e)) {
            ForkResult::Parent { child } => producers.push(child),
            ForkResult::Child => {
                for i in 0..5 {
                    if mq_send(&q, format!("p{p}-{i}").as_bytes(), 0).is_err() {
                        // SAFETY: _exit ends the process at once; it touches no Rust state.
                        unsafe { nix::libc::_exit(1) };
                    }
                }
                // SAFETY: _exit ends the process at once; it touches no Rust state.
                unsafe { nix::libc::_exit(0) };
            }
        }
    }
    let mut received = Vec::new();
    while received.len() < 15 {
        match get_timeout(&q, Duration::from_secs(10)) {
            Ok(msg) => received.push(msg),
            Err(e) => fail("get", e),
        }
        println!("got {} qsize={}", received[received.len() - 1], qsize(&q));
    }
    let ok = producers
        .iter()
        .filter(|&&p| matches!(waitpid(p, None), Ok(WaitStatus::Exited(_, 0))));
    println!("received={} producers_ok={}", received.len(), ok.count());
    // Each producer's own messages keep their order.
    for p in 0..3 {
        let mine: Vec<&String> = received
            .iter()
            .filter(|m| m.starts_with(&format!("p{p}-")))
            .collect();
        println!("p{p} order={:?}", mine);
    }
}
