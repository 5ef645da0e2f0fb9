//! The file-management operations of the safe root (`make_dir`,
//! `remove_tree`, `rename`, `copy`) against a real file system, under both
//! resolvers: tables of names and the error each must give, then what each
//! does to the tree, symlinks leading out, hidden names and folders into
//! themselves. The fixture is `root_fixture` (see `tests/root.rs`).

mod root_fixture;

use netkit_proto::root::{CopyOptions, Outcome};
use root_fixture::*;

/// The error's name, for tables.
fn kind_of<T: std::fmt::Debug>(result: Result<T, RootError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(RootError::NotFound(_)) => "NotFound",
        Err(RootError::Forbidden(_)) => "Forbidden",
        Err(RootError::Exists(_)) => "Exists",
        Err(RootError::MissingParent(_)) => "MissingParent",
        Err(RootError::IntoItself(_)) => "IntoItself",
        Err(RootError::NoSpace(_)) => "NoSpace",
        Err(RootError::NotAFile(_)) => "NotAFile",
        Err(RootError::IsADirectory(_)) => "IsADirectory",
        Err(RootError::NotADirectory(_)) => "NotADirectory",
        Err(e) => panic!("unexpected {e:?}"),
    }
}

/// Adds the escape hatches every table checks: a link to the outside
/// folder, one to the secret, and a hidden file and folder.
fn plant(fx: &Fixture) {
    symlink("../outside", fx.served.join("escdir")).expect("symlink");
    symlink("../outside/secret.txt", fx.served.join("esc")).expect("symlink");
    symlink("d1", fx.served.join("inlink")).expect("symlink");
    fs::write(fx.served.join(".env"), "KEY").expect("write");
    fs::create_dir(fx.served.join(".git")).expect("mkdir");
}

/// The outside folder is as the fixture made it.
fn outside_untouched(fx: &Fixture) {
    assert_eq!(names(&fx.outside), ["secret.txt"]);
    assert_eq!(
        fs::read_to_string(fx.outside.join("secret.txt")).expect("read"),
        "SECRET"
    );
}

both_resolvers! {
    fn make_dir_table(fx) {
        plant(&fx);
        let table = [
            ("new", "ok"),
            ("d1/new", "ok"),
            ("new/again", "ok"),
            ("a.txt", "Exists"),
            ("d1", "Exists"),
            ("", "Exists"),
            ("missing/x", "MissingParent"),
            ("a.txt/x", "MissingParent"),
            ("escdir/x", "Forbidden"),
            (".hidden", "NotFound"),
            (".git/x", "NotFound"),
        ];
        for (name, want) in table {
            assert_eq!(kind_of(fx.root.make_dir(&rel(name))), want, "make_dir({name:?})");
        }
        assert!(fx.served.join("new/again").is_dir() && fx.served.join("d1/new").is_dir());
        outside_untouched(&fx);
    }

    fn remove_tree_table(fx) {
        plant(&fx);
        fs::write(fx.served.join("d1/d2/.keep"), "").expect("write");
        fs::create_dir_all(fx.served.join("t/u/v")).expect("mkdir");
        fs::write(fx.served.join("t/u/v/w.txt"), "w").expect("write");
        symlink("../../outside", fx.served.join("t/u/out")).expect("symlink");
        let table = [
            ("missing", "NotFound"),
            ("", "Forbidden"),
            (".env", "NotFound"),
            ("escdir/secret.txt", "Forbidden"),
            ("d1", "Forbidden"), // holds a hidden name the share does not serve
            ("esc", "ok"),       // the link, not the secret
            ("escdir", "ok"),
            ("t", "ok"),         // with a link out inside: removed as a link
            ("a.txt", "ok"),
            ("a.txt", "NotFound"),
        ];
        for (name, want) in table {
            assert_eq!(kind_of(fx.root.remove_tree(&rel(name))), want, "remove_tree({name:?})");
        }
        assert_eq!(names(&fx.served), [".env", ".git", "d1", "inlink"]);
        assert!(fx.served.join("d1/d2/f.txt").exists(), "a refused tree is left whole");
        outside_untouched(&fx);
    }

    fn remove_tree_with_hidden_served(fx) {
        plant(&fx);
        fs::write(fx.served.join("d1/d2/.keep"), "").expect("write");
        let open = Root::open_with(&fx.served, fx.root.resolver()).expect("open").with_hidden(true);
        open.remove_tree(&rel("d1")).expect("remove d1");
        open.remove_tree(&rel(".git")).expect("remove .git");
        assert_eq!(names(&fx.served), [".env", "a.txt", "esc", "escdir", "inlink"]);
    }

    fn remove_tree_is_bounded_in_depth(fx) {
        let deep: Vec<&str> = vec!["n"; netkit_proto::root::MAX_DEPTH + 2];
        fs::create_dir_all(fx.served.join(deep.join("/"))).expect("mkdir");
        assert_eq!(kind_of(fx.root.remove_tree(&rel("n"))), "Forbidden");
        assert!(fx.served.join(deep.join("/")).is_dir(), "nothing removed");
        let ok: Vec<&str> = vec!["m"; netkit_proto::root::MAX_DEPTH];
        fs::create_dir_all(fx.served.join(ok.join("/"))).expect("mkdir");
        fx.root.remove_tree(&rel("m")).expect("as deep as allowed");
    }

    fn rename_table(fx) {
        plant(&fx);
        fs::write(fx.served.join("b.txt"), "bee").expect("write");
        fs::create_dir(fx.served.join("empty")).expect("mkdir");
        let table: [(&str, &str, bool, &str); 15] = [
            ("missing", "x", false, "NotFound"),
            ("a.txt", "b.txt", false, "Exists"),
            ("a.txt", "d1", false, "Exists"),
            ("a.txt", "nope/a.txt", false, "MissingParent"),
            ("a.txt", "a.txt/x", false, "IntoItself"),
            ("d1", "d1", true, "IntoItself"),
            ("d1", "d1/d2/in", false, "IntoItself"),
            ("d1", "inlink/d2/in", false, "IntoItself"), // through a link
            ("a.txt", "escdir/a.txt", false, "Forbidden"),
            ("esc", "esc2", false, "ok"), // the link moves, not the secret
            ("a.txt", ".a", false, "NotFound"),
            (".env", "env", false, "NotFound"),
            ("", "x", false, "Forbidden"),
            ("a.txt", "", true, "Forbidden"),
            ("a.txt", "d1/d2/a.txt", false, "ok"),
        ];
        for (from, to, replace, want) in table {
            let got = kind_of(fx.root.rename(&rel(from), &rel(to), replace));
            assert_eq!(got, want, "rename({from:?}, {to:?}, {replace})");
        }
        assert_eq!(fs::read_to_string(fx.served.join("d1/d2/a.txt")).expect("moved"), "hello");
        assert_eq!(fs::read_link(fx.served.join("esc2")).expect("link"), PathBuf::from("../outside/secret.txt"));
        outside_untouched(&fx);
    }

    fn rename_replaces_only_when_asked(fx) {
        let root = &fx.root;
        fs::write(fx.served.join("b.txt"), "bee").expect("write");
        assert_eq!(root.rename(&rel("a.txt"), &rel("c.txt"), false).expect("new"), Outcome::Created);
        assert_eq!(root.rename(&rel("c.txt"), &rel("b.txt"), true).expect("over"), Outcome::Replaced);
        assert_eq!(fs::read_to_string(fx.served.join("b.txt")).expect("read"), "hello");
        // A file over a folder, and a folder over a file: the old one goes first.
        assert_eq!(root.rename(&rel("b.txt"), &rel("d1"), true).expect("over a dir"), Outcome::Replaced);
        assert!(fx.served.join("d1").is_file());
        fs::create_dir_all(fx.served.join("x/y")).expect("mkdir");
        assert_eq!(root.rename(&rel("x"), &rel("d1"), true).expect("dir over file"), Outcome::Replaced);
        assert!(fx.served.join("d1/y").is_dir());
        assert_eq!(names(&fx.served), ["d1"]);
    }

    fn copy_table(fx) {
        plant(&fx);
        fs::write(fx.served.join("b.txt"), "bee").expect("write");
        let table: [(&str, &str, bool, &str); 14] = [
            ("missing", "x", false, "NotFound"),
            ("a.txt", "b.txt", false, "Exists"),
            ("a.txt", "nope/a.txt", false, "MissingParent"),
            ("d1", "d1", true, "IntoItself"),
            ("d1", "d1/d2/copy", false, "IntoItself"),
            ("", "x", false, "IntoItself"),
            ("esc", "leak.txt", false, "Forbidden"),
            ("escdir", "leak", false, "Forbidden"),
            ("a.txt", "escdir/a.txt", false, "Forbidden"),
            (".env", "env", false, "NotFound"),
            ("a.txt", ".a", false, "NotFound"),
            ("a.txt", "", true, "Forbidden"),
            ("a.txt", "c.txt", false, "ok"),
            ("a.txt", "b.txt", true, "ok"),
        ];
        for (from, to, replace, want) in table {
            let got = kind_of(fx.root.copy(&rel(from), &rel(to), replace));
            assert_eq!(got, want, "copy({from:?}, {to:?}, {replace})");
        }
        assert_eq!(fs::read_to_string(fx.served.join("c.txt")).expect("copy"), "hello");
        assert_eq!(fs::read_to_string(fx.served.join("b.txt")).expect("copy"), "hello");
        assert!(!fx.served.join("leak.txt").exists() && !fx.served.join("leak").exists());
        // No temporaries are left by the refusals.
        assert!(names(&fx.served).iter().all(|n| !n.starts_with(".netkit")));
        outside_untouched(&fx);
    }

    fn copy_of_a_folder_is_whole_and_keeps_links_as_links(fx) {
        let s = &fx.served;
        fs::write(s.join("d1/.hidden"), "h").expect("write");
        symlink("../../../outside/secret.txt", s.join("d1/d2/out")).expect("symlink");
        symlink("f.txt", s.join("d1/d2/same")).expect("symlink");
        nix::unistd::mkfifo(&s.join("d1/fifo"), nix::sys::stat::Mode::S_IRWXU).expect("fifo");
        let out = fx.root.copy(&rel("d1"), &rel("c1"), false).expect("copy");
        assert_eq!(out, Outcome::Created);
        assert_eq!(names(&s.join("c1")), ["d2"], "no hidden name, no FIFO");
        assert_eq!(names(&s.join("c1/d2")), ["f.txt", "out", "same"]);
        assert_eq!(fs::read_to_string(s.join("c1/d2/f.txt")).expect("read"), "nested");
        assert_eq!(fs::read_link(s.join("c1/d2/out")).expect("link"), PathBuf::from("../../../outside/secret.txt"));
        // Through the root the copied link still leads nowhere outside.
        assert_forbidden(fx.root.open_file(&rel("c1/d2/out")), "a copied link out");
        assert!(fx.root.copy(&rel("d1/d2/out"), &rel("leak"), false).is_err());
        assert_eq!(read(&fx.root, "c1/d2/same").expect("inside link"), "nested");
        // Depth 0: the folder alone; replacing: the old one is gone.
        let shallow = CopyOptions { replace: true, recursive: false, ..CopyOptions::default() };
        let out = fx.root.copy_with(&rel("d1"), &rel("c1"), &shallow).expect("shallow");
        assert_eq!(out, Outcome::Replaced);
        assert!(names(&s.join("c1")).is_empty());
        assert!(names(s).iter().all(|n| !n.starts_with(".netkit")), "no temporary left");
        outside_untouched(&fx);
    }

    fn copy_is_bounded_by_size(fx) {
        let small = CopyOptions { max_file: 3, ..CopyOptions::default() };
        assert_eq!(kind_of(fx.root.copy_with(&rel("a.txt"), &rel("x"), &small)), "NoSpace");
        assert_eq!(kind_of(fx.root.copy_with(&rel("d1"), &rel("y"), &small)), "NoSpace");
        assert_eq!(names(&fx.served), ["a.txt", "d1"], "a refused copy leaves nothing");
    }

    fn stale_folder_copies_are_swept(fx) {
        fs::create_dir_all(fx.served.join("d1/.netkit-upload-0123456789abcdef.tmp/x")).expect("mkdir");
        fs::write(fx.served.join("d1/.netkit-upload-0123456789abcdef.tmp/x/f"), "f").expect("write");
        assert_eq!(fx.root.remove_stale_temporaries().expect("sweep"), 1);
        assert_eq!(names(&fx.served.join("d1")), ["d2"]);
    }
}
