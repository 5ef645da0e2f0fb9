//! Driver and conductor: the seed's homework "司机和售票员". The parent process is
//! the driver (司机), the child is the conductor (售票员):
//! - SIGINT (Ctrl-C) to the conductor → it sends SIGUSR1 to the driver, who prints
//!   "老司机开车了" (the old hand starts the bus);
//! - SIGQUIT (Ctrl-\) to the conductor → SIGUSR2 to the driver: "车速有点快，系好安全带"
//!   (we're going a bit fast, fasten your seat belts);
//! - SIGTSTP (Ctrl-Z) to the driver → SIGUSR1 to the conductor: "到站了请下车" (we've
//!   arrived, please get off); the conductor gets off first (the child exits), then
//!   the driver.
//!
//! From a terminal, Ctrl-C / Ctrl-\ / Ctrl-Z reach both processes (the foreground
//! process group), so each ignores the keys meant for the other. Instead of handler
//! functions (see the signals example) both wait with `sigwait`: the signals are
//! blocked before the fork (so none is lost between fork and the first wait) and
//! taken one at a time as ordinary values — no async-signal-safety worries. An
//! alarm ends a forgotten run after two minutes.
//!
//! Run: `cargo run -p netkit --example driver_and_conductor`, then Ctrl-C, Ctrl-\,
//! Ctrl-Z — or `kill -INT <conductor pid>` etc. from another terminal.
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{alarm, fork, getpid, getppid, ForkResult, Pid};

const GIVE_UP_SECS: u32 = 120;

fn conductor(set: &SigSet) -> i32 {
    let driver = getppid();
    println!("conductor pid {}", getpid());
    loop {
        match set.wait() {
            Ok(Signal::SIGINT) => {
                let _ = kill(driver, Signal::SIGUSR1);
            }
            Ok(Signal::SIGQUIT) => {
                let _ = kill(driver, Signal::SIGUSR2);
            }
            Ok(Signal::SIGUSR1) => {
                println!("conductor: 到站了请下车 — we've arrived, please get off");
                println!("conductor: gets off");
                return 0;
            }
            Ok(Signal::SIGALRM) | Err(_) => return 1,
            Ok(_) => {} // SIGTSTP and SIGUSR2 are not for the conductor
        }
    }
}

fn driver(set: &SigSet, conductor: Pid) -> Result<(), Box<dyn std::error::Error>> {
    println!("driver pid {}", getpid());
    loop {
        match set.wait()? {
            Signal::SIGUSR1 => println!("driver: 老司机开车了 — the bus starts"),
            Signal::SIGUSR2 => {
                println!("driver: 车速有点快，系好安全带 — a bit fast, fasten your seat belts")
            }
            Signal::SIGTSTP => {
                kill(conductor, Signal::SIGUSR1)?;
                break;
            }
            Signal::SIGALRM => {
                let _ = kill(conductor, Signal::SIGKILL);
                let _ = waitpid(conductor, None);
                return Err(format!("no passengers for {GIVE_UP_SECS} s, giving up").into());
            }
            _ => {} // SIGINT and SIGQUIT are for the conductor
        }
    }
    // The conductor leaves first; the driver waits for that before getting off.
    match waitpid(conductor, None)? {
        WaitStatus::Exited(_, 0) => {
            println!("driver: the conductor got off, the driver gets off");
            Ok(())
        }
        other => Err(format!("conductor ended badly: {other:?}").into()),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTSTP,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGALRM,
    ] {
        set.add(sig);
    }
    // Blocked signals stay pending until sigwait takes them; the mask is inherited.
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    // SAFETY: single-threaded; the child runs plain code and exits.
    match unsafe { fork() }? {
        ForkResult::Child => {
            alarm::set(GIVE_UP_SECS);
            std::process::exit(conductor(&set));
        }
        ForkResult::Parent { child } => {
            alarm::set(GIVE_UP_SECS);
            driver(&set, child)
        }
    }
}
