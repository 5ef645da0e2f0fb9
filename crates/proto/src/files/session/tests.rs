//! The files session driven in memory (no socket), over a real temporary root.

use super::*;
use crate::files::{FilesConfig, FilesService};
use crate::testing::Harness;
use crate::Service;
use std::fs;
use std::path::Path;
use std::time::Duration;

struct Fixture {
    dir: tempfile::TempDir,
    service: FilesService,
}

fn fixture(config: FilesConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("a.txt"), b"hello world").unwrap();
    fs::write(dir.path().join("b c.txt"), b"spaced").unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    fs::write(dir.path().join("sub/n.txt"), b"nested").unwrap();
    let root = Arc::new(Root::open(dir.path()).expect("root"));
    Fixture {
        dir,
        service: FilesService::new(root, config),
    }
}

fn uploads() -> FilesConfig {
    FilesConfig {
        upload: true,
        max_upload: Some(1000),
        idle_timeout: Some(Duration::from_secs(30)),
        ..FilesConfig::default()
    }
}

impl Fixture {
    fn harness(&self) -> Harness<FilesSession> {
        let now = Instant::now();
        Harness::new(self.service.new_session(None, now), now)
    }

    fn temporaries(&self) -> Vec<String> {
        names(self.dir.path())
            .into_iter()
            .filter(|n| n.starts_with(".netkit-upload-"))
            .collect()
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 reply")
}

const HELLO_SHA: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

#[test]
fn list_shows_regular_files_sorted_with_sizes() {
    let f = fixture(FilesConfig::default());
    let reply = text(f.harness().send(b"LIST\n"));
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines[0], "OK 2", "{reply}");
    assert!(
        lines[1].starts_with("11 ") && lines[1].ends_with(" a.txt"),
        "{reply}"
    );
    assert!(
        lines[2].starts_with("6 ") && lines[2].ends_with(" b c.txt"),
        "{reply}"
    );
}

#[test]
fn get_whole_file_from_offset_and_at_end() {
    let f = fixture(FilesConfig::default());
    let mut h = f.harness();
    assert_eq!(text(h.send(b"GET a.txt\n")), "OK 11\nhello world");
    assert_eq!(text(h.send(b"GET a.txt 6\n")), "OK 5\nworld");
    assert_eq!(text(h.send(b"GET a.txt 11\n")), "OK 0\n");
    assert_eq!(text(h.send(b"GET b c.txt 0\n")), "OK 6\nspaced");
    assert_eq!(text(h.send(b"GET sub/n.txt\n")), "OK 6\nnested");
    let past = text(h.send(b"GET a.txt 12\n"));
    assert!(past.starts_with("ERR 400 "), "{past}");
}

#[test]
fn several_commands_in_one_segment_each_get_a_reply() {
    let f = fixture(uploads());
    let mut h = f.harness();
    let got = text(h.send(b"GET a.txt 6\nPUT new.txt 5\nhelloLIST\nQUIT\nLIST\n"));
    let want_start = format!("OK 5\nworldREADY\nOK {HELLO_SHA}\nOK 3\n");
    assert!(got.starts_with(&want_start), "{got}");
    assert!(got.ends_with(" new.txt\nBYE\n"), "{got}");
    assert!(
        h.session.is_done(),
        "QUIT closes; later commands are ignored"
    );
    assert_eq!(fs::read(f.dir.path().join("new.txt")).unwrap(), b"hello");
}

#[test]
fn commands_one_byte_at_a_time() {
    let f = fixture(uploads());
    let mut h = f.harness();
    let mut got = Vec::new();
    for b in b"GET a.txt 6\nPUT one.txt 5\nhelloQUIT\n" {
        got.extend(h.send(&[*b]));
    }
    assert_eq!(
        text(got),
        format!("OK 5\nworldREADY\nOK {HELLO_SHA}\nBYE\n")
    );
    assert_eq!(fs::read(f.dir.path().join("one.txt")).unwrap(), b"hello");
}

#[test]
fn bad_names_are_400_or_403() {
    let f = fixture(FilesConfig::default());
    std::os::unix::fs::symlink("/etc/passwd", f.dir.path().join("out")).unwrap();
    let mut h = f.harness();
    for (cmd, code) in [
        (&b"GET ../x\n"[..], "403"),
        (b"GET /etc/passwd\n", "403"),
        (b"GET out\n", "403"),
        (b"GET .netkit-upload-1.tmp\n", "403"),
        (b"GET sub\n", "403"),
        (b"GET a\\b\n", "400"),
        (b"GET a\x01b\n", "400"),
        (b"GET .\n", "400"),
        (b"GET nope\n", "404"),
        (b"GET nodir/x\n", "404"),
        (b"FETCH x\n", "400"),
        (b"\n", "400"),
        (b"GET a\x00b\n", "400"),
    ] {
        let reply = text(h.send(cmd));
        assert!(
            reply.starts_with(&format!("ERR {code} ")) && reply.ends_with('\n'),
            "{:?} → {reply:?}",
            String::from_utf8_lossy(cmd)
        );
        assert_eq!(reply.lines().count(), 1);
    }
    assert_eq!(text(h.send(b"GET a.txt 10\n")), "OK 1\nd", "still serving");
}

#[test]
fn upload_errors() {
    let f = fixture(FilesConfig::default());
    let off = text(f.harness().send(b"PUT x 1\n"));
    assert!(off.starts_with("ERR 403 uploads are off"), "{off}");

    let f = fixture(uploads());
    let mut h = f.harness();
    for (cmd, code) in [
        (&b"PUT a.txt 3\n"[..], "409"),
        (b"PUT sub 3\n", "403"),
        (b"PUT big 1001\n", "413"),
        (b"PUT nodir/x 3\n", "404"),
        (b"PUT ../x 3\n", "403"),
        (b"PUT x -3\n", "400"),
        (b"PUT x\n", "400"),
    ] {
        let reply = text(h.send(cmd));
        assert!(
            reply.starts_with(&format!("ERR {code} ")),
            "{cmd:?} → {reply}"
        );
    }
    assert_eq!(
        fs::read(f.dir.path().join("a.txt")).unwrap(),
        b"hello world"
    );
    assert!(f.temporaries().is_empty());
}

#[test]
fn overwrite_replaces_and_empty_upload_works() {
    let f = fixture(FilesConfig {
        overwrite: true,
        ..uploads()
    });
    let mut h = f.harness();
    assert_eq!(
        text(h.send(b"PUT a.txt 5\nhello")),
        format!("READY\nOK {HELLO_SHA}\n")
    );
    assert_eq!(fs::read(f.dir.path().join("a.txt")).unwrap(), b"hello");
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(text(h.send(b"PUT e 0\n")), format!("READY\nOK {empty}\n"));
    assert_eq!(fs::read(f.dir.path().join("e")).unwrap(), b"");
}

#[test]
fn body_bytes_are_consumed_as_they_arrive() {
    let f = fixture(uploads());
    let mut h = f.harness();
    assert_eq!(text(h.send(b"PUT p 10\n")), "READY\n");
    assert!(h.send(b"01234").is_empty());
    assert!(h.unconsumed().is_empty(), "body bytes are not held back");
    assert_eq!(f.temporaries().len(), 1);
    assert!(
        !f.dir.path().join("p").exists(),
        "not visible before complete"
    );
    let reply = text(h.send(b"56789LIST\n"));
    assert!(
        reply.starts_with("OK ") && reply.contains("\nOK 3\n"),
        "{reply}"
    );
    assert_eq!(fs::read(f.dir.path().join("p")).unwrap(), b"0123456789");
    assert!(f.temporaries().is_empty());
}

#[test]
fn eof_mid_upload_leaves_nothing() {
    let f = fixture(uploads());
    let mut h = f.harness();
    h.send(b"PUT q 10\n0123");
    assert_eq!(f.temporaries().len(), 1);
    h.eof();
    assert!(h.session.is_done());
    assert!(f.temporaries().is_empty());
    assert!(!f.dir.path().join("q").exists());
}

#[test]
fn dropping_the_session_mid_upload_leaves_nothing() {
    let f = fixture(uploads());
    let mut h = f.harness();
    h.send(b"PUT q 10\n0123");
    drop(h); // what a driver does on a reset connection
    assert!(f.temporaries().is_empty());
    assert!(!f.dir.path().join("q").exists());
}

#[test]
fn shutdown_lets_an_upload_finish_then_closes() {
    let f = fixture(uploads());
    let mut h = f.harness();
    h.send(b"PUT s 5\nhel");
    h.session.handle_shutdown(h.now);
    assert!(h.session.wants_read());
    let reply = text(h.send(b"loLIST\n"));
    assert_eq!(
        reply,
        format!("OK {HELLO_SHA}\n"),
        "no new command after shutdown"
    );
    assert!(h.session.is_done());
    assert_eq!(fs::read(f.dir.path().join("s")).unwrap(), b"hello");

    let mut idle = f.harness();
    idle.session.handle_shutdown(idle.now);
    assert!(idle.session.is_done());
}

#[test]
fn idle_timeout_closes_and_drops_an_upload() {
    let f = fixture(uploads());
    let mut h = f.harness();
    h.send(b"PUT t 5\nhe");
    h.advance(Duration::from_secs(29));
    assert!(!h.session.is_done());
    h.advance(Duration::from_secs(2));
    assert!(h.session.is_done());
    assert!(f.temporaries().is_empty());
}

#[test]
fn idle_time_counts_from_the_end_of_a_download() {
    let f = fixture(uploads()); // idle timeout 30 s
    let mut h = f.harness();
    // As a driver does: the reply is taken and the file starts going out.
    assert_eq!(h.session.handle_input(h.now, b"GET a.txt\n"), 10);
    let mut out = Vec::new();
    let chunk = h.session.poll_transmit(&mut out).expect("a file range");
    assert_eq!((text(out).as_str(), chunk.len), ("OK 11\n", 11));
    // The peer reads slowly: the file takes 100 s, more than the idle timeout
    // (the driver does not ask for more output meanwhile; a timer firing
    // anyway, early or spuriously, must not close the connection).
    for _ in 0..10 {
        h.now += Duration::from_secs(10);
        assert_eq!(
            h.session.poll_timeout(),
            None,
            "no idle timer while sending"
        );
        h.session.handle_timeout(h.now);
        assert!(!h.session.is_done(), "closed while the file was going out");
    }
    // The last byte leaves now (the driver asks for more output), and the
    // session asks for a timeout at once to note the instant: the idle time
    // counts from here, not from the GET.
    assert!(h.drain().is_empty());
    assert!(h.session.poll_timeout().is_some_and(|at| at <= h.now));
    assert!(h.advance(Duration::ZERO).is_empty());
    h.advance(Duration::from_secs(29));
    assert!(!h.session.is_done(), "closed right after a long download");
    assert_eq!(text(h.send(b"GET a.txt 6\n")), "OK 5\nworld");
    // Idle after that reply (its file noted as sent): closed once the
    // timeout has passed.
    h.advance(Duration::ZERO);
    h.advance(Duration::from_secs(29));
    assert!(!h.session.is_done());
    h.advance(Duration::from_secs(2));
    assert!(h.session.is_done(), "an idle connection is still closed");
}

#[test]
fn an_overlong_line_is_refused_and_the_session_goes_on() {
    let f = fixture(FilesConfig::default());
    let mut h = f.harness();
    let mut long = b"GET ".to_vec();
    long.extend(std::iter::repeat_n(b'x', wire::MAX_LINE + 10));
    let reply = text(h.send(&long));
    assert!(reply.starts_with("ERR 400 "), "{reply}");
    assert!(h.unconsumed().is_empty());
    assert!(h.send(b"xxxx").is_empty(), "still skipping the long line");
    assert_eq!(text(h.send(b"\nGET a.txt 10\n")), "OK 1\nd");
}

#[test]
fn many_pipelined_gets_are_answered_in_order() {
    let f = fixture(FilesConfig::default());
    let mut h = f.harness();
    let n = 2 * MAX_QUEUED_FILES + 3;
    // The session pauses at the queue limit; the harness re-offers the rest
    // once the output is drained, as drivers do.
    let got = text(h.send(b"GET a.txt 10\n".repeat(n).as_slice()));
    assert_eq!(got, "OK 1\nd".repeat(n));
    assert!(h.unconsumed().is_empty());
}

proptest::proptest! {
    /// However TCP cuts a conversation, the replies are the same bytes.
    #[test]
    fn any_split_gives_the_same_replies(cuts in proptest::collection::vec(1usize..40, 1..60)) {
        let script: &[u8] = b"LIST\nGET a.txt 3\nPUT x.bin 7\n0123456GET x.bin\nGET nope\nBOGUS\nQUIT\n";
        let whole = {
            let f = fixture(uploads());
            let mut h = f.harness();
            let mut out = h.send(script);
            out.extend(h.eof());
            out
        };
        let f = fixture(uploads());
        let mut h = f.harness();
        let mut got = Vec::new();
        let mut rest = script;
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at((*cut).min(rest.len()));
            got.extend(h.send(piece));
            rest = tail;
        }
        got.extend(h.eof());
        // LIST lines carry mtimes of files made by each fixture: compare the rest.
        let strip = |b: &[u8]| -> String {
            String::from_utf8_lossy(b)
                .lines()
                .map(|l| l.split(' ').filter(|w| w.len() != 10).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n")
        };
        proptest::prop_assert_eq!(strip(&got), strip(&whole));
    }
}
