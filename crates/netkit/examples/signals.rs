//! Signals: the seed's 信号 lesson — `os.kill`, `signal.alarm`, `signal.pause`,
//! `signal.signal(sig, handler)` with a custom function or `SIG_IGN`, and the rule
//! that SIGKILL (like SIGSTOP) "终止进程且不能被处理" — ends the process and cannot
//! be handled.
//!
//! A signal is a tiny asynchronous message from the kernel or another process: just
//! a number. Each one has a default action (terminate, stop, ignore); a process may
//! replace it with "ignore" or with its own handler. A handler interrupts whatever
//! the program was doing, so it may only do async-signal-safe things — here it just
//! bumps an atomic counter that the normal code reads afterwards.
//!
//! Run: `cargo run -p netkit --example signals` (takes about one second: the alarm).
use nix::errno::Errno;
use nix::sys::signal::{kill, sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{alarm, fork, getpid, pause, pipe, ForkResult};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

static USR1_COUNT: AtomicUsize = AtomicUsize::new(0);
static ALARM_COUNT: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_usr1(_: nix::libc::c_int) {
    USR1_COUNT.fetch_add(1, Ordering::SeqCst);
}

extern "C" fn on_alarm(_: nix::libc::c_int) {
    ALARM_COUNT.fetch_add(1, Ordering::SeqCst);
}

/// `signal.signal(sig, handler)`: installs `handler` for `sig`.
fn install(sig: Signal, handler: SigHandler) -> nix::Result<SigAction> {
    let action = SigAction::new(handler, SaFlags::empty(), SigSet::empty());
    // SAFETY: the handlers above only touch atomics, which is async-signal-safe.
    unsafe { sigaction(sig, &action) }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let me = getpid();
    println!("pid {me}");

    // 1. A custom handler, and os.kill(os.getpid(), SIGUSR1) to ourselves.
    install(Signal::SIGUSR1, SigHandler::Handler(on_usr1))?;
    kill(me, Signal::SIGUSR1)?;
    kill(me, Signal::SIGUSR1)?;
    // POSIX: an unblocked signal a process sends itself is delivered before kill()
    // returns, so both are counted.
    println!(
        "handler: SIGUSR1 caught {} time(s)",
        USR1_COUNT.load(Ordering::SeqCst)
    );

    // 2. SIG_IGN: SIGUSR2 would terminate us by default; ignored, it does nothing.
    install(Signal::SIGUSR2, SigHandler::SigIgn)?;
    kill(me, Signal::SIGUSR2)?;
    println!("SIG_IGN: SIGUSR2 ignored, still alive");

    // 3. alarm + pause: the kernel sends us SIGALRM in one second; pause() sleeps
    // until a signal arrives. (Alarm's default action would kill us, so catch it.)
    install(Signal::SIGALRM, SigHandler::Handler(on_alarm))?;
    alarm::set(1);
    // pause() returns after any handled signal, so loop until it was the alarm.
    while ALARM_COUNT.load(Ordering::SeqCst) == 0 {
        pause();
    }
    println!("alarm: SIGALRM woke pause() after 1 s");

    // 4. SIGKILL cannot be caught: a child tries to install a handler, fails, and
    // is then killed by its parent no matter what.
    let (read_end, write_end) = pipe()?;
    // SAFETY: this program is single-threaded, so the child may run normal code.
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(read_end);
            let refused = match install(Signal::SIGKILL, SigHandler::Handler(on_usr1)) {
                Err(Errno::EINVAL) => "EINVAL",
                Err(_) => "another error",
                Ok(_) => "accepted?!",
            };
            println!("child {}: sigaction(SIGKILL) refused: {refused}", getpid());
            // Tell the parent we are ready, then wait forever (pause in a loop).
            let mut w = std::fs::File::from(write_end);
            let _ = w.write_all(b"r");
            drop(w);
            loop {
                pause();
            }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut byte = [0u8; 1];
            std::fs::File::from(read_end).read_exact(&mut byte)?;
            kill(child, Signal::SIGKILL)?;
            match waitpid(child, None)? {
                WaitStatus::Signaled(pid, sig, _) => {
                    println!("parent: child {pid} ended by {sig:?}")
                }
                other => return Err(format!("unexpected child status {other:?}").into()),
            }
        }
    }

    // 5. The default action: SIGTERM, not handled, terminates a child too.
    // SAFETY: still single-threaded.
    match unsafe { fork() }? {
        ForkResult::Child => loop {
            pause();
        },
        ForkResult::Parent { child } => {
            // Pending until the child runs; the default action applies either way.
            kill(child, Signal::SIGTERM)?;
            if let WaitStatus::Signaled(pid, sig, _) = waitpid(child, None)? {
                println!("parent: child {pid} ended by {sig:?} (default action)");
            }
        }
    }
    println!("done");
    Ok(())
}
