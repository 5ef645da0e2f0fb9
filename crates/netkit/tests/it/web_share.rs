//! The web share's folder archives, search and sorting, end to end with
//! readers nobody here wrote: Python's `zipfile` reads `GET /folder/?zip`
//! byte-exact and `unzip -t` passes it; `curl -C -` resumes it with a Range
//! request byte-exact; a folder over 4 GiB (sparse files) is a ZIP64 that
//! `zipfile` reads through Range requests without downloading it; hidden
//! names stay out unless `--hidden`. Search and sort with curl, HTML and JSON.

use super::common::{every_model, run_bounded, up_addrs, up_args, utf8, Server};
use super::http::start;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// A tree with nested folders, an empty folder and file, a file of a few
/// MiB, a non-ASCII name, hidden names and a symlink out of the root.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("share");
    std::fs::create_dir_all(p.join("Photos/2024/Été")).unwrap();
    std::fs::create_dir_all(p.join("Photos/empty")).unwrap();
    std::fs::write(p.join("Photos/notes.txt"), "a NOTE\n").unwrap();
    std::fs::write(p.join("Photos/empty.txt"), "").unwrap();
    std::fs::write(
        p.join("Photos/2024/big.bin"),
        super::common::random_bytes(7, 3 << 20),
    )
    .unwrap();
    std::fs::write(p.join("Photos/2024/Été/plage.jpg"), "jpeg?").unwrap();
    std::fs::write(p.join("Photos/2024/Notebook.md"), "# notebook\n").unwrap();
    std::fs::write(p.join("Photos/.secret"), "hidden").unwrap();
    std::fs::create_dir_all(p.join("Photos/.cache")).unwrap();
    std::fs::write(p.join("Photos/.cache/x"), "hidden too").unwrap();
    std::os::unix::fs::symlink("/etc", p.join("Photos/etc")).unwrap();
    std::fs::write(p.join("a.txt"), "aaaa").unwrap();
    std::fs::write(p.join("B.txt"), "b").unwrap();
    std::fs::write(p.join("c.txt"), "cc").unwrap();
    dir
}

fn curl(args: &[&str]) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f"]).args(args);
    let (code, out, err) = run_bounded(cmd, LIMIT);
    assert_eq!(code, Some(0), "curl {args:?}: {err}");
    out
}

fn python(script: &str, args: &[&str]) -> String {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    let (code, out, err) = run_bounded(cmd, LIMIT);
    assert_eq!(code, Some(0), "python3: {err}\n{out}");
    out
}

/// Reads every member (zipfile checks each CRC at its end) and compares it
/// with the file under the folder; prints the names.
const READ_ALL: &str = r#"
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
for info in z.infolist():
    path = os.path.join(sys.argv[2], info.filename)
    if info.is_dir():
        assert os.path.isdir(path), path
    else:
        assert z.read(info) == open(path, 'rb').read(), path
    print(info.filename)
"#;

fn zip_is_read_byte_exact(model: &str) {
    let dir = tree();
    let share = dir.path().join("share");
    let server = start(model, &share, &[]);
    let url = format!("http://{}/Photos/?zip", server.addr());
    let local = tempfile::tempdir().unwrap();
    let zip = local.path().join("Photos.zip");
    let head = curl(&["-D", "-", "-o", utf8(&zip), &url]);
    assert!(
        head.contains("Content-Disposition: attachment; filename=\"Photos.zip\""),
        "{head}"
    );
    let len = std::fs::metadata(&zip).unwrap().len();
    assert!(
        head.contains(&format!("Content-Length: {len}\r\n")),
        "{head}"
    );

    let names = python(READ_ALL, &[utf8(&zip), utf8(&share)]);
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(
        names,
        [
            "Photos/",
            "Photos/2024/",
            "Photos/2024/Notebook.md",
            "Photos/2024/big.bin",
            "Photos/2024/Été/",
            "Photos/2024/Été/plage.jpg",
            "Photos/empty/",
            "Photos/empty.txt",
            "Photos/notes.txt",
        ],
        "hidden names and the link out are left out"
    );
    let mut unzip = Command::new("unzip");
    unzip.arg("-t").arg(&zip);
    let (code, out, err) = run_bounded(unzip, LIMIT);
    assert_eq!(code, Some(0), "unzip -t: {out}{err}");
    assert!(out.contains("No errors detected"), "{out}");

    // A broken download resumed by curl with a Range request: byte-exact.
    let whole = std::fs::read(&zip).unwrap();
    let part = local.path().join("part.zip");
    std::fs::write(&part, &whole[..1_234_567]).unwrap();
    curl(&["-C", "-", "-o", utf8(&part), &url]);
    assert!(
        std::fs::read(&part).unwrap() == whole,
        "the resumed archive differs"
    );
    server.terminate();
}

fn hidden_names_go_in_with_hidden(model: &str) {
    let dir = tree();
    let share = dir.path().join("share");
    let server = start(model, &share, &["--hidden"]);
    let local = tempfile::tempdir().unwrap();
    let zip = local.path().join("share.zip");
    let head = curl(&[
        "-D",
        "-",
        "-o",
        utf8(&zip),
        &format!("http://{}/?zip", server.addr()),
    ]);
    assert!(
        head.contains("filename=\"share.zip\""),
        "the root's name: {head}"
    );
    let names = python(READ_ALL, &[utf8(&zip), utf8(dir.path())]);
    assert!(
        names.lines().any(|n| n == "share/Photos/.secret"),
        "{names}"
    );
    assert!(
        names.lines().any(|n| n == "share/Photos/.cache/x"),
        "{names}"
    );
    server.terminate();
}

every_model!(zip_is_read_byte_exact, hidden_names_go_in_with_hidden);

/// A file-like object over HTTP Range requests: zipfile seeks to the end
/// records, the central directory and the members it reads, and nothing
/// else is downloaded.
const OVER_RANGES: &str = r#"
import sys, zipfile, urllib.request, io
class Remote(io.RawIOBase):
    def __init__(self, url):
        self.url, self.pos, self.fetched = url, 0, 0
        with urllib.request.urlopen(urllib.request.Request(url, method='HEAD')) as r:
            self.len = int(r.headers['Content-Length'])
    def seekable(self): return True
    def readable(self): return True
    def tell(self): return self.pos
    def seek(self, off, whence=0):
        self.pos = [off, self.pos + off, self.len + off][whence]
        return self.pos
    def read(self, n=-1):
        end = self.len if n is None or n < 0 else min(self.len, self.pos + n)
        if end <= self.pos: return b''
        req = urllib.request.Request(self.url, headers={'Range': 'bytes=%d-%d' % (self.pos, end - 1)})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206, r.status
            data = r.read()
        assert len(data) == end - self.pos
        self.pos, self.fetched = end, self.fetched + len(data)
        return data
remote = Remote(sys.argv[1])
z = zipfile.ZipFile(remote)
for info in z.infolist():
    print(info.filename, info.file_size, info.header_offset)
assert z.read('big/z-after.txt') == b'after the big ones\n'
with z.open('big/one.bin') as f:
    assert f.read(1 << 20) == bytes(1 << 20)
print('archive', remote.len, 'fetched', remote.fetched)
"#;

/// Over 4 GiB of sparse files: a ZIP64 archive that zipfile reads through
/// Range requests (the end records, the central directory, a member stored
/// past 4 GiB read whole so its data and CRC are checked, the start of a big
/// one), downloading a few MiB of it.
#[test]
fn zip64_over_4_gib_read_through_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    std::fs::create_dir(&big).unwrap();
    for (name, len) in [("one.bin", 3u64 << 30), ("two.bin", (2 << 30) + 12_345)] {
        std::fs::File::create(big.join(name))
            .unwrap()
            .set_len(len)
            .unwrap();
    }
    std::fs::write(big.join("z-after.txt"), "after the big ones\n").unwrap();
    let server = start("epoll", dir.path(), &[]);
    let out = python(
        OVER_RANGES,
        &[&format!("http://{}/big/?zip", server.addr())],
    );
    let lines: Vec<&str> = out.lines().collect();
    let entry = |i: usize| -> (&str, u64, u64) {
        let w: Vec<&str> = lines[i].split(' ').collect();
        (w[0], w[1].parse().unwrap(), w[2].parse().unwrap())
    };
    assert_eq!(entry(0), ("big/", 0, 0), "{out}");
    assert_eq!(entry(1).0, "big/one.bin");
    assert_eq!(entry(1).1, 3 << 30);
    assert_eq!(entry(2).1, (2 << 30) + 12_345);
    assert_eq!(entry(3).0, "big/z-after.txt");
    assert!(entry(3).2 > 5 << 30, "an entry past 4 GiB: {out}");
    let words: Vec<&str> = lines[4].split(' ').collect();
    let (len, fetched): (u64, u64) = (words[1].parse().unwrap(), words[3].parse().unwrap());
    assert!(len > 5 << 30, "{out}");
    assert!(fetched < 8 << 20, "fetched {fetched} of {len}");
    server.terminate();
}

#[test]
fn search_and_sort_with_curl() {
    let dir = tree();
    let share = dir.path().join("share");
    let server = start("epoll", &share, &[]);
    let base = format!("http://{}", server.addr());
    let json = |path: &str| -> serde_json::Value {
        let body = curl(&["-H", "Accept: application/json", &format!("{base}{path}")]);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    };
    let names = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect()
    };

    // Search: case-insensitive, below the folder, paths relative to it.
    let found = json("/?q=NoTe");
    assert_eq!(
        names(&found, "results"),
        ["Photos/2024/Notebook.md", "Photos/notes.txt"]
    );
    assert_eq!(found["truncated"], false);
    let found = json("/Photos/?q=%C3%A9T%C3%A9");
    assert_eq!(names(&found, "results"), ["2024/Été"]);
    assert_eq!(found["results"][0]["type"], "dir");
    assert!(
        names(&json("/?q=secret"), "results").is_empty(),
        "hidden names stay out"
    );
    let page = curl(&[&format!("{base}/?q=note")]);
    assert!(
        page.contains("<a href=\"Photos/2024/Notebook.md\">Photos/2024/Notebook.md</a>"),
        "{page}"
    );
    assert!(page.contains("2 found"), "{page}");
    assert!(
        page.contains("href=\"?q=note&amp;sort=size&amp;order=asc\""),
        "{page}"
    );

    // Sort: folders first, case-insensitive names by default; by size, both ways.
    assert_eq!(
        names(&json("/"), "entries"),
        ["Photos", "a.txt", "B.txt", "c.txt"]
    );
    assert_eq!(
        names(&json("/?sort=size&order=desc"), "entries"),
        ["Photos", "a.txt", "c.txt", "B.txt"]
    );
    assert_eq!(
        names(&json("/?order=desc"), "entries"),
        ["Photos", "c.txt", "B.txt", "a.txt"]
    );
    let page = curl(&[&format!("{base}/?sort=size")]);
    let at = |name: &str| {
        page.find(&format!(">{name}<"))
            .unwrap_or_else(|| panic!("{name}: {page}"))
    };
    assert!(at("Photos/") < at("B.txt") && at("B.txt") < at("c.txt") && at("c.txt") < at("a.txt"));
    assert!(
        page.contains("<a href=\"?sort=size&amp;order=desc\">Size ▲</a>"),
        "{page}"
    );
    server.terminate();
}

/// `netkit up` answers the same routes, at its root too (where a browser
/// otherwise gets the web page).
#[test]
fn up_serves_archives_and_search() {
    let dir = tree();
    let share = dir.path().join("share");
    let server = Server::start(&up_args(utf8(&share), &[]));
    let http = up_addrs(&server)[0].1;
    let local = tempfile::tempdir().unwrap();
    for (path, holder) in [("/?zip", dir.path()), ("/Photos/?zip", share.as_path())] {
        let zip = local.path().join("x.zip");
        curl(&["-o", utf8(&zip), &format!("http://{http}{path}")]);
        let names = python(READ_ALL, &[utf8(&zip), utf8(holder)]);
        assert!(
            names.lines().any(|n| n.ends_with("Photos/notes.txt")),
            "{path}: {names}"
        );
    }
    let found = curl(&[
        "-H",
        "Accept: application/json",
        &format!("http://{http}/?q=notebook"),
    ]);
    assert!(found.contains("\"Photos/2024/Notebook.md\""), "{found}");
    server.terminate();
}
