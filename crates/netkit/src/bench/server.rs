//! The server processes `bench models` starts and watches: this very binary
//! as `netkit echo serve` / `netkit http serve` on port 0 (found by its ready
//! line), the temporary directory `http serve` is given, and a sampler of the
//! resident memory of the server and all its children.

use anyhow::{bail, Context, Result};
use netkit_drivers::Model;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The service a benchmark runs under every model (its own type here, where
/// the server is started, so `models` and `server` do not import each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// `netkit echo serve`, loaded with tcp:// round trips.
    Echo,
    /// `netkit http serve` over a temporary directory, loaded with GETs of a small file.
    Http,
}

impl ServiceKind {
    /// The command's name, `echo` or `http`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceKind::Echo => "echo",
            ServiceKind::Http => "http",
        }
    }
}

/// How long a server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// A server process of this binary, stopped (SIGTERM, then SIGKILL) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Server {
    pub(crate) fn start(service: ServiceKind, model: Model, site: Option<&Site>) -> Result<Server> {
        let exe = std::env::current_exe().context("finding the netkit binary")?;
        let mut cmd = Command::new(exe);
        let common = ["--bind", "127.0.0.1", "--port", "0", "--grace", "1"];
        match (service, site) {
            (ServiceKind::Http, Some(site)) => {
                cmd.args(["http", "serve", "--quiet", "--model", model.name()])
                    .args(common)
                    .arg(&site.dir);
            }
            _ => {
                cmd.args(["echo", "serve", "--model", model.name()])
                    .args(common);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("starting the server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {} // keep the pipe drained
        });
        let mut server = Server {
            child,
            url: String::new(),
        };
        let line = rx
            .recv_timeout(READY_TIMEOUT)
            .map_err(|_| anyhow::anyhow!("{model}: no ready line from the server"))?;
        let Some((_, url)) = line.split_once(" listening on ") else {
            bail!("{model}: unexpected first line {line:?}");
        };
        server.url = match service {
            ServiceKind::Echo => url.trim().to_owned(),
            ServiceKind::Http => format!("{}/{}", url.trim(), Site::FILE),
        };
        Ok(server)
    }

    pub(crate) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn stop(mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary directory with one small file for `http serve`.
pub(crate) struct Site {
    dir: PathBuf,
}

impl Site {
    pub(crate) const FILE: &'static str = "hello.txt";

    pub(crate) fn create() -> Result<Site> {
        let dir = std::env::temp_dir().join(format!("netkit-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(Self::FILE), b"Hello from netkit bench models.\n")
            .context("writing the served file")?;
        Ok(Site { dir })
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Samples the resident memory of a process tree until finished; keeps the peak.
pub(crate) struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub(crate) fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || loop {
            p.fetch_max(tree_rss_kib(pid), Ordering::Relaxed);
            if s.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        });
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    pub(crate) fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// VmRSS of `pid` and all its descendants, KiB (0 where /proc says nothing).
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut todo = vec![pid];
    let mut seen = 0;
    while let Some(p) = todo.pop() {
        seen += 1;
        if seen > 100_000 {
            break;
        }
        total += rss_kib(p);
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
    }
    total
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_resident_memory() {
        assert!(tree_rss_kib(std::process::id()) > 0);
        assert_eq!(rss_kib(u32::MAX), 0);
    }
}
