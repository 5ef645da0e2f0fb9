//! `netkit files shell` driven through a real terminal (tmux send-keys and
//! capture-pane) against `netkit files serve --upload --overwrite`: cd with
//! Tab completing a folder, mget with a glob, get of a parent's file, get -a
//! resuming a partial download, mkdir, put -r of a tree, mv into a folder,
//! rm asking before a folder, the ERR sentences, and the history surviving
//! a restart of the shell. Every result is checked byte for byte on disk.

use crate::common;

use common::{local_args, netkit_bin, random_bytes, utf8, Dirs, Server};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

/// What every prompt of the shell starts with (`files:/logs> `).
const PROMPT: &str = "files:/";

/// A tmux server of our own (its own socket), killed when the test ends.
pub(crate) struct Tmux {
    socket: String,
}

impl Tmux {
    /// A server named after `name` and this process.
    pub(crate) fn new(name: &str) -> Tmux {
        Tmux {
            socket: format!("{name}-{}", std::process::id()),
        }
    }

    pub(crate) fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux (scripts/test.sh installs it)")
    }

    /// Starts `command` in a 150×40 window named `shell`, in `dir`.
    pub(crate) fn start(&self, dir: &Path, command: &str) {
        let started = self.cmd(&[
            "new-session",
            "-d",
            "-s",
            "shell",
            "-x",
            "150",
            "-y",
            "40",
            "-c",
            utf8(dir),
            command,
        ]);
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    pub(crate) fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", "shell", "-S", "-200"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (bounded) until the pane shows `text`.
    pub(crate) fn wait_for(&self, text: &str) -> String {
        self.wait_count(text, 1)
    }

    /// Waits (bounded) until the pane shows `text` `n` times.
    pub(crate) fn wait_count(&self, text: &str, n: usize) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= n {
                return screen;
            }
            assert!(
                start.elapsed() < LIMIT,
                "never saw {text:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "shell"];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status.success());
    }

    /// Types `line`, Enter, and waits for one more `shows` than the pane
    /// had (so an answer already on screen is not taken for this one's).
    pub(crate) fn ask(&self, line: &str, shows: &str) {
        let seen = self.screen().matches(shows).count();
        self.keys(&[line, "Enter"]);
        self.wait_count(shows, seen + 1);
    }

    /// [`Tmux::ask`], then waits for the next prompt: nothing is typed
    /// ahead while a command runs (a line editor starting up may read it
    /// as its own terminal's answers).
    pub(crate) fn run(&self, line: &str, shows: &str) {
        let prompts = self.screen().matches(PROMPT).count();
        self.ask(line, shows);
        self.wait_count(PROMPT, prompts + 1);
    }

    /// Waits (bounded) for the window to close (the shell exited).
    pub(crate) fn wait_closed(&self) {
        let start = Instant::now();
        while self.cmd(&["has-session", "-t", "shell"]).status.success() {
            assert!(
                start.elapsed() < LIMIT,
                "the shell did not exit; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn shell_works_as_sftp_users_expect() {
    let d = Dirs::new();
    let s = &d.served;
    std::fs::create_dir_all(s.join("logs")).unwrap();
    std::fs::write(s.join("hello.txt"), b"hello from the server\n").unwrap();
    std::fs::write(s.join("logs/a.log"), random_bytes(1, 3000)).unwrap();
    std::fs::write(s.join("logs/b.log"), random_bytes(2, 70_000)).unwrap();
    std::fs::write(s.join("logs/c.txt"), b"not a log").unwrap();
    let big = random_bytes(3, 300_000);
    std::fs::write(s.join("logs/big.bin"), &big).unwrap();
    // A download cut short: its first 100 000 bytes are here already.
    std::fs::write(d.local.join("big.bin"), &big[..100_000]).unwrap();
    // A local tree to upload.
    let tree = d.local.join("tree");
    std::fs::create_dir_all(tree.join("inner/deeper")).unwrap();
    std::fs::write(tree.join("one.txt"), b"one\n").unwrap();
    std::fs::write(tree.join("inner/two.bin"), random_bytes(4, 50_000)).unwrap();
    std::fs::write(tree.join("inner/deeper/three.txt"), b"three\n").unwrap();

    let mut args = local_args(&["files", "serve", utf8(s)], "epoll");
    args.extend(["--upload", "--overwrite", "--quiet"]);
    let server = Server::start(&args);
    let state = d.local.join(".state");
    let home = d.local.join(".home");
    let shell = format!(
        "env HOME={} XDG_STATE_HOME={} {} files shell {}",
        utf8(&home),
        utf8(&state),
        netkit_bin(),
        server.addr()
    );
    let tmux = Tmux::new("netkit-files-shell");
    tmux.start(&d.local, &shell);
    tmux.wait_for("files:/>");

    // cd: Tab completes the folder, the prompt shows where we are.
    tmux.keys(&["cd lo", "Tab"]);
    tmux.wait_for("cd logs/");
    tmux.run("", "files:/logs>");
    tmux.run("pwd", "Remote working directory: /logs");
    tmux.run("cd nope", "not found on the server");

    // mget with a glob: the two logs, not c.txt; a batch summary.
    tmux.run("mget *.log", "2 file(s):");
    assert_eq!(read(&d.local.join("a.log")), random_bytes(1, 3000));
    assert_eq!(read(&d.local.join("b.log")), random_bytes(2, 70_000));
    assert!(!d.local.join("c.txt").exists());

    // get of a name in the parent folder, and get -a resuming a part.
    tmux.run("get ../hello.txt", "hello.txt → hello.txt");
    assert_eq!(read(&d.local.join("hello.txt")), b"hello from the server\n");
    tmux.run("get -a big.bin", "resumed at");
    assert_eq!(read(&d.local.join("big.bin")), big);

    // mkdir, then put -r of the local tree (folders made as needed).
    tmux.run("mkdir made", PROMPT);
    tmux.run("ls", "made/");
    // Tab completes the local folder.
    tmux.keys(&["put -r tre", "Tab"]);
    tmux.wait_for("put -r tree/");
    tmux.run("", "3 file(s):");
    assert_eq!(read(&s.join("logs/tree/one.txt")), b"one\n");
    assert_eq!(
        read(&s.join("logs/tree/inner/two.bin")),
        random_bytes(4, 50_000)
    );
    assert_eq!(
        read(&s.join("logs/tree/inner/deeper/three.txt")),
        b"three\n"
    );

    // mv into an existing folder keeps the name.
    tmux.run(
        "mv tree/one.txt made",
        "/logs/tree/one.txt → /logs/made/one.txt",
    );
    assert_eq!(read(&s.join("logs/made/one.txt")), b"one\n");
    assert!(!s.join("logs/tree/one.txt").exists());

    // get -r of a folder into a local one; lcd, lpwd and lls see it.
    tmux.run("get -r tree fetched", "2 file(s):");
    let fetched = d.local.join("fetched");
    assert_eq!(
        read(&fetched.join("inner/two.bin")),
        random_bytes(4, 50_000)
    );
    assert_eq!(read(&fetched.join("inner/deeper/three.txt")), b"three\n");
    tmux.run("lcd fetched", PROMPT);
    tmux.run("lpwd", "Local working directory: ");
    tmux.run("lls", "inner/");
    tmux.run("lcd ..", PROMPT);

    // rm asks before a folder: no keeps it, y removes it all.
    let question = "remove folder /logs/tree and everything in it? [y/N]";
    tmux.ask("rm tree", question);
    tmux.run("n", "kept /logs/tree");
    assert!(s.join("logs/tree/inner/two.bin").exists());
    tmux.ask("rm tree", question);
    tmux.run("y", "removed /logs/tree");
    assert!(!s.join("logs/tree").exists());
    tmux.run("rm c.txt", "removed /logs/c.txt");
    assert!(!s.join("logs/c.txt").exists());

    // A local command, and an ERR in words.
    tmux.run("!echo local-$((40+2))", "local-42");
    tmux.run("put tree/one.txt ../nowhere/x", "not found on the server");
    tmux.keys(&["quit", "Enter"]);
    tmux.wait_closed();

    // The history survives a restart of the shell.
    let history = state.join("netkit/files_history");
    let saved = String::from_utf8(read(&history)).unwrap();
    assert!(saved.contains("mget *.log"), "{saved}");
    let tmux = Tmux::new("netkit-files-shell-again");
    tmux.start(&d.local, &shell);
    tmux.wait_for("files:/>");
    // Up twice: `quit`, then the line before it.
    tmux.keys(&["Up"]);
    tmux.wait_for("files:/> quit");
    tmux.keys(&["Up"]);
    tmux.wait_for("files:/> put tree/one.txt ../nowhere/x");
    tmux.keys(&["C-u", "quit", "Enter"]);
    tmux.wait_closed();
    assert_eq!(server.terminate(), Some(0));
}
