//! Dead properties in the folder sidecar (`.netkit-props`), the fallback
//! where a file system has no user extended attributes, forced here by
//! `HttpConfig::dav_sidecar_only`: kept across a restart, carried by MOVE
//! and COPY, dropped by DELETE, bounded, and never reachable by a client.

use super::{ask, fixture, service, status, Client, SET};
use crate::http::{AnchoredClock, HttpConfig, HttpContext, HttpService};
use crate::root::Root;
use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

const FIND: &str =
    "<propfind xmlns=\"DAV:\"><prop><author xmlns=\"http://example.com/z\"/></prop></propfind>";
const ANN: &str = "Ann &amp; <b xmlns=\"http://example.com/z\">Bo</b></author>";

fn sidecar_only(c: &mut HttpConfig) {
    c.dav_sidecar_only = true;
}

fn has_author(h: &mut Client<'_>, path: &str) -> bool {
    let out = ask(h, "PROPFIND", path, "Depth: 0\r\n", FIND);
    assert_eq!(status(&out), 207, "{out}");
    out.contains(ANN)
}

#[test]
fn properties_go_to_the_sidecar_and_survive_a_restart_without_xattrs() {
    let f = fixture(sidecar_only);
    let mut h = f.session();
    let out = ask(&mut h, "PROPPATCH", "/a.txt", "", SET);
    assert!(out.contains("HTTP/1.1 200 OK"), "{out}");
    let side = std::fs::read_to_string(f.dir.path().join(".netkit-props")).unwrap();
    assert!(
        side.contains("\"a.txt\"") && side.contains("author"),
        "{side}"
    );
    let attrs: Vec<_> = xattr::list(f.dir.path().join("a.txt")).unwrap().collect();
    assert!(attrs.is_empty(), "no attribute was written: {attrs:?}");
    // The root's own and a folder's properties.
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/", "", SET)), 207);
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/sub/", "", SET)), 207);
    // A new service over the same folder reads them back.
    let again = service(f.dir.path(), f.t0, &sidecar_only);
    let mut h = Client {
        service: &again,
        now: f.t0,
    };
    assert!(has_author(&mut h, "/a.txt"));
    assert!(has_author(&mut h, "/"));
    assert!(has_author(&mut h, "/sub/"));
    assert!(!has_author(&mut h, "/a%20b%26c.txt"));
    let all = ask(&mut h, "PROPFIND", "/", "Depth: 1\r\n", "");
    assert_eq!(all.matches(ANN).count(), 3, "{all}");
    // Removing the last ones removes the sidecar.
    let remove = "<propertyupdate xmlns=\"DAV:\"><remove><prop><author xmlns=\"http://example.com/z\"/></prop></remove></propertyupdate>";
    for path in ["/a.txt", "/", "/sub/"] {
        assert_eq!(status(&ask(&mut h, "PROPPATCH", path, "", remove)), 207);
    }
    assert!(!has_author(&mut h, "/a.txt"));
    assert!(!f.dir.path().join(".netkit-props").exists());
}

#[test]
fn move_copy_and_delete_carry_the_sidecar_entries() {
    let f = fixture(sidecar_only);
    let mut h = f.session();
    std::fs::write(f.dir.path().join("sub/in.txt"), "in").unwrap();
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/a.txt", "", SET)), 207);
    assert_eq!(
        status(&ask(&mut h, "PROPPATCH", "/sub/in.txt", "", SET)),
        207
    );
    assert_eq!(status(&ask(&mut h, "PROPPATCH", "/sub/", "", SET)), 207);
    let to = |p: &str| format!("Destination: http://x{p}\r\n");
    // MOVE of a file: the entry moves to the new name (in another folder).
    assert_eq!(
        status(&ask(&mut h, "MOVE", "/a.txt", &to("/sub/b.txt"), "")),
        201
    );
    assert!(has_author(&mut h, "/sub/b.txt"));
    // COPY over a file that had no properties gives it the source's.
    assert_eq!(
        status(&ask(&mut h, "COPY", "/sub/b.txt", &to("/c.txt"), "")),
        201
    );
    assert!(has_author(&mut h, "/c.txt") && has_author(&mut h, "/sub/b.txt"));
    // A new file under a deleted one's name starts bare.
    assert_eq!(status(&ask(&mut h, "DELETE", "/c.txt", "", "")), 204);
    assert_eq!(status(&ask(&mut h, "PUT", "/c.txt", "", "new")), 201);
    assert!(!has_author(&mut h, "/c.txt"));
    // A folder: its own properties and its members' go along.
    assert_eq!(
        status(&ask(&mut h, "MOVE", "/sub/", &to("/moved/"), "")),
        201
    );
    assert!(has_author(&mut h, "/moved/") && has_author(&mut h, "/moved/in.txt"));
    assert_eq!(
        status(&ask(&mut h, "COPY", "/moved/", &to("/copy/"), "")),
        201
    );
    assert!(has_author(&mut h, "/copy/") && has_author(&mut h, "/copy/b.txt"));
    // A folder holding a sidecar is deleted whole without `--hidden`.
    assert_eq!(status(&ask(&mut h, "DELETE", "/copy/", "", "")), 204);
    assert!(!f.dir.path().join("copy").exists());
    std::fs::create_dir(f.dir.path().join("copy")).unwrap();
    assert!(!has_author(&mut h, "/copy/"), "a new folder starts bare");
}

#[test]
fn the_sidecar_is_never_listed_served_written_or_deleted_even_with_hidden() {
    let f = fixture(sidecar_only);
    assert_eq!(
        status(&ask(&mut f.session(), "PROPPATCH", "/a.txt", "", SET)),
        207
    );
    let t0 = Instant::now();
    let hidden = HttpService::new(
        Root::open(f.dir.path()).unwrap().with_hidden(true),
        HttpConfig {
            upload: true,
            overwrite: true,
            dav_sidecar_only: true,
            ..HttpConfig::default()
        },
        HttpContext::new(
            t0,
            Arc::new(AnchoredClock {
                instant: t0,
                wall: UNIX_EPOCH,
            }),
        ),
    );
    let mut h = Client {
        service: &hidden,
        now: t0,
    };
    let list = ask(&mut h, "PROPFIND", "/", "Depth: 1\r\n", "");
    assert!(
        list.contains("/.secret") && !list.contains("netkit-props"),
        "{list}"
    );
    let get = ask(&mut h, "GET", "/", "", "");
    assert!(!get.contains("netkit-props"), "{get}");
    for (method, extra) in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("PROPFIND", "Depth: 0\r\n"),
        ("PROPPATCH", ""),
        ("MOVE", "Destination: http://x/stolen\r\n"),
        ("COPY", "Destination: http://x/stolen\r\n"),
    ] {
        let body = if method == "PROPPATCH" { SET } else { "" };
        let out = ask(&mut h, method, "/.netkit-props", extra, body);
        assert!(matches!(status(&out), 400 | 403 | 404), "{method}: {out}");
    }
    let dest = "Destination: http://x/.netkit-props\r\n";
    let out = ask(&mut h, "COPY", "/a.txt", dest, "");
    assert!(matches!(status(&out), 400 | 403 | 404), "{out}");
    let side = std::fs::read_to_string(f.dir.path().join(".netkit-props")).unwrap();
    assert!(side.contains("author"), "{side}");
    assert!(!f.dir.path().join("stolen").exists());
}

#[test]
fn a_folder_sidecar_is_bounded() {
    let f = fixture(sidecar_only);
    let mut h = f.session();
    let value = "v".repeat(3000);
    let mut statuses = Vec::new();
    for i in 0..120 {
        let body = format!("<propertyupdate xmlns=\"DAV:\"><set><prop><p{i} xmlns=\"urn:x\">{value}</p{i}></prop></set></propertyupdate>");
        let out = ask(&mut h, "PROPPATCH", "/a.txt", "", &body);
        statuses.push(if out.contains("HTTP/1.1 507") {
            507
        } else if out.contains("HTTP/1.1 200 OK") {
            200
        } else {
            0
        });
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&507),
        "{statuses:?}"
    );
    assert!(!statuses.contains(&0), "{statuses:?}");
    let len = std::fs::metadata(f.dir.path().join(".netkit-props"))
        .unwrap()
        .len();
    assert!(len <= 256 * 1024, "{len}");
}
