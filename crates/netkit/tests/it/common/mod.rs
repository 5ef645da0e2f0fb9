//! Shared test helpers: start `netkit` as a real process, wait for its ready
//! line (never a sleep), and stop it when the test ends.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `netkit` server process, killed when dropped.
pub struct Server {
    pub child: Child,
    /// The URL from the ready line, e.g. `tcp://127.0.0.1:40817`.
    pub url: String,
    /// Further stdout lines, read by a background thread.
    pub lines: mpsc::Receiver<String>,
}

/// The path of the `netkit` binary under test.
pub fn netkit_bin() -> &'static str {
    env!("CARGO_BIN_EXE_netkit")
}

/// A `netkit` command with stdin null and stderr inherited (so failures show logs).
pub fn netkit(args: &[&str]) -> Command {
    let mut cmd = Command::new(netkit_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

impl Server {
    /// Starts `netkit ARGS` and waits for its first ready line.
    pub fn start(args: &[&str]) -> Server {
        Server::start_cmd(netkit(args))
    }

    /// Starts a prepared command and waits for its first ready line.
    pub fn start_cmd(mut cmd: Command) -> Server {
        let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn netkit");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = spawn_line_reader(stdout);
        let first = match lines.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("no ready line from netkit {cmd:?} ({e}); exit: {status:?}");
            }
        };
        let url = ready_url(&first).unwrap_or_else(|| panic!("not a ready line: {first:?}"));
        Server { child, url, lines }
    }

    /// The TCP/UDP address from the ready line.
    pub fn addr(&self) -> SocketAddr {
        url_addr(&self.url)
    }

    /// Sends SIGTERM and waits (bounded) for the exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        signal(&self.child, "TERM");
        wait_bounded(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `X listening on URL` → `URL`.
pub fn ready_url(line: &str) -> Option<String> {
    let (_, url) = line.split_once(" listening on ")?;
    Some(url.trim().to_owned())
}

/// `tcp://127.0.0.1:40817` → `127.0.0.1:40817`.
pub fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split("://").nth(1).expect("url has a scheme");
    rest.parse()
        .unwrap_or_else(|_| panic!("not an ip:port url: {url}"))
}

/// A TCP connection to `addr` whose reads and writes fail after `limit`
/// (a server that stops answering fails the test instead of hanging it).
pub fn connect(addr: SocketAddr, limit: Duration) -> std::net::TcpStream {
    let s = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(limit)).expect("read timeout");
    s.set_write_timeout(Some(limit)).expect("write timeout");
    s
}

/// `netkit up DIR` on 127.0.0.1 with every service on port 0, then `extra`.
pub fn up_args<'a>(dir: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["up", dir, "--bind", "127.0.0.1"];
    for flag in [
        "--http-port",
        "--files-port",
        "--tftp-port",
        "--chat-port",
        "--irc-port",
    ] {
        args.extend([flag, "0"]);
    }
    args.extend_from_slice(extra);
    args
}

/// The addresses a started `netkit up` announced, by service name (`http`
/// first, from the first ready line; the other four follow, then the banner,
/// which starts with an empty line).
pub fn up_addrs(server: &Server) -> Vec<(String, SocketAddr)> {
    let mut addrs = vec![("http".to_owned(), server.addr())];
    for _ in 0..5 {
        let line = server
            .lines
            .recv_timeout(READY_TIMEOUT)
            .expect("every service prints its ready line");
        let Some(url) = ready_url(&line) else { break };
        let service = line.split(' ').next().unwrap_or_default().to_owned();
        addrs.push((service, url_addr(&url)));
    }
    addrs
}

/// Reads lines from `out` on a thread and hands them over a channel.
pub fn spawn_line_reader(out: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends a signal by name with kill(1) semantics, through nix.
pub fn signal(child: &Child, name: &str) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let sig: Signal = format!("SIG{name}").parse().expect("signal name");
    let _ = kill(Pid::from_raw(child.id() as i32), sig);
}

/// Waits for a child to exit, killing it after `limit`; returns its exit code.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = std::time::Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `text` with netcat-openbsd (`nc -N`: half-close after stdin) and
/// returns what came back before the server closed (an echo server's echo).
pub fn nc_echo(addr: SocketAddr, text: &str) -> String {
    use std::io::Write;
    let mut nc = Command::new("nc")
        .args([
            "-N",
            "-w",
            "10",
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn nc");
    let mut stdin = nc.stdin.take().expect("piped stdin");
    stdin.write_all(text.as_bytes()).expect("write to nc");
    drop(stdin);
    let out = nc.wait_with_output().expect("nc runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that is expected to exit by itself; after `limit` it is
/// killed (a server that started where it should have failed) and the exit
/// code is `None`. Returns the code, stdout, and stderr in lower case.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> (Option<i32>, String, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let start = std::time::Instant::now();
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = readers.0.join().unwrap_or_default();
    let stderr = readers.1.join().unwrap_or_default().to_lowercase();
    (code, stdout, stderr)
}

/// The path of a built example (`cargo test` builds every example before it
/// runs any test, next to the binary: `target/<profile>/examples/NAME`).
pub fn example_bin(name: &str) -> std::path::PathBuf {
    let bin = std::path::Path::new(netkit_bin());
    let path = bin
        .parent()
        .expect("binary has a directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "example {name} not built at {}",
        path.display()
    );
    path
}

/// Starts example `name` with `args` and `stdin`, stderr inherited, and its
/// stdout lines handed over a channel.
pub fn spawn_example(name: &str, args: &[&str], stdin: Stdio) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(example_bin(name))
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn example");
    let lines = spawn_line_reader(child.stdout.take().expect("piped stdout"));
    (child, lines)
}

/// The flags that put a server on 127.0.0.1, a free port and `model`, after
/// the command words (`["files", "serve", DIR]`); callers add their own after.
pub fn local_args<'a>(words: &[&'a str], model: &'a str) -> Vec<&'a str> {
    let mut args = words.to_vec();
    args.extend(["--bind", "127.0.0.1", "--port", "0", "--model", model]);
    args
}

/// A path as `&str` (temporary directories are UTF-8 here).
pub fn utf8(path: &std::path::Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// A temporary directory with two empty folders in it: `served` (for the
/// server) and `local` (for a client's side); removed when dropped.
pub struct Dirs {
    /// Held only so the directory lives exactly as long as `Dirs`.
    _base: tempfile::TempDir,
    pub served: std::path::PathBuf,
    pub local: std::path::PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let base = tempfile::tempdir().expect("tempdir");
        let served = base.path().join("served");
        let local = base.path().join("local");
        std::fs::create_dir(&served).expect("create served/");
        std::fs::create_dir(&local).expect("create local/");
        Dirs {
            _base: base,
            served,
            local,
        }
    }
}

/// The upload temporaries (`.netkit-upload-*`) in `dir`.
pub fn upload_temporaries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("read the served directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".netkit-upload-"))
        })
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift64*): no dependency needed, and
/// a failure reproduces.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The SHA-256 of `data` in lower-case hex.
pub fn sha(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits until `cond` holds, checking every 5 ms and failing after `limit`
/// (for file-system states, which have no event to wait on).
pub fn eventually(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs scenarios under every concurrency model as separate named tests
/// (ripgrep's `rgtest!` idea): one module per model, one `#[test]` per
/// scenario, calling the caller's `fn scenario(model: &str)`. A failure reads
/// `models::poll::half_close_gets_everything_then_eof`, and one model runs
/// alone with `cargo test -p netkit models::poll::`.
///
/// ```ignore
/// common::every_model! {
///     serves_everything,                        // under all nine models
///     max_connections: [thread, pool, fork],    // only under these
/// }
/// ```
///
/// Call it once per test module (the model modules would collide). A new
/// model is one more name in the `@all` list and one more `@test` arm.
macro_rules! every_model {
    ($($test:ident $(: [$($only:ident),* $(,)?])?),* $(,)?) => {
        $crate::common::every_model!(@all [$($test [$($($only)*)?])*]);
    };
    (@all $tests:tt) => {
        $crate::common::every_model!(@models $tests
            iterative thread pool fork select poll epoll r#async uring);
    };
    (@models $tests:tt $($model:ident)*) => {
        $($crate::common::every_model!(@module $model $tests);)*
    };
    (@module $model:ident [$($test:ident $only:tt)*]) => {
        mod $model {
            $($crate::common::every_model!(@test $model $test $only $only);)*
        }
    };
    // No list (or `$model` found in it): the test.
    (@test $model:ident $test:ident [] []) => {
        #[test]
        fn $test() {
            super::$test($crate::common::model_name(stringify!($model)))
        }
    };
    // A list without `$model`: no test. (Idents compare only as patterns,
    // hence one arm per model below.)
    (@test $model:ident $test:ident [] [$($only:ident)+]) => {};
    (@test iterative $test:ident [iterative $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test iterative $test [] []); };
    (@test thread $test:ident [thread $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test thread $test [] []); };
    (@test pool $test:ident [pool $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test pool $test [] []); };
    (@test fork $test:ident [fork $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test fork $test [] []); };
    (@test select $test:ident [select $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test select $test [] []); };
    (@test poll $test:ident [poll $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test poll $test [] []); };
    (@test epoll $test:ident [epoll $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test epoll $test [] []); };
    (@test r#async $test:ident [r#async $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test r#async $test [] []); };
    (@test uring $test:ident [uring $($_r:ident)*] $all:tt) => { $crate::common::every_model!(@test uring $test [] []); };
    (@test $model:ident $test:ident [$_first:ident $($rest:ident)*] $all:tt) => {
        $crate::common::every_model!(@test $model $test [$($rest)*] $all);
    };
}
pub(crate) use every_model;

/// A model's name as the CLI spells it, from the module name the macro gives
/// it (`r#async` is `async`).
pub fn model_name(module: &str) -> &str {
    module.trim_start_matches("r#")
}

/// What a finished `netkit` run printed, and how it ended.
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `netkit ARGS` to its end (killed, and the test failed, after 20 s),
/// stdin null, both outputs captured.
pub fn run_netkit(args: &[&str]) -> Output {
    let mut child = Command::new(netkit_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netkit");
    let stdout = read_all_on_a_thread(child.stdout.take().expect("piped stdout"));
    let stderr = read_all_on_a_thread(child.stderr.take().expect("piped stderr"));
    let code = wait_bounded(&mut child, READY_TIMEOUT);
    Output {
        code,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads `out` to its end on a thread (so a full pipe never blocks the child).
pub fn read_all_on_a_thread(
    mut out: impl Read + Send + 'static,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out.read_to_string(&mut text);
        text
    })
}

/// Runs `cmd` under a file-size limit (RLIMIT_FSIZE, which needs no
/// privilege): the process's writes past `bytes` fail with EFBIG, as a full
/// disk fails with ENOSPC.
pub fn limit_file_size(cmd: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = nix::libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if nix::libc::setrlimit(nix::libc::RLIMIT_FSIZE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
