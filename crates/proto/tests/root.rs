//! The safe root against a real file system: every test runs twice, once with
//! `openat2` and once with the component walk, and both must agree.
//!
//! Layout of each fixture (a fresh temporary directory):
//!
//! ```text
//!   base/
//!     served/          the Root
//!       a.txt          "hello"
//!       d1/d2/f.txt    "nested"
//!     outside/
//!       secret.txt     "SECRET" — no test may ever read this through the root
//! ```

mod root_fixture;

use root_fixture::*;

both_resolvers! {
    fn reads_plain_and_nested_files(fx) {
        assert_eq!(read(&fx.root, "a.txt").expect("a.txt"), "hello");
        assert_eq!(read(&fx.root, "d1/d2/f.txt").expect("nested"), "nested");
        assert_eq!(read(&fx.root, "./d1//d2/./f.txt").expect("normalised"), "nested");
    }

    fn bad_names_never_reach_the_file_system(fx) {
        let _ = fx;
        assert_eq!(RelPath::parse("../outside/secret.txt"), Err(PathError::ParentDir));
        assert_eq!(RelPath::parse("d1/../../outside/secret.txt"), Err(PathError::ParentDir));
        assert_eq!(RelPath::parse("/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(RelPath::parse("..\\outside\\secret.txt"), Err(PathError::Backslash));
        assert_eq!(RelPath::parse("a.txt\0.jpg"), Err(PathError::ControlCharacter));
    }

    fn missing_and_wrong_kinds_have_distinct_errors(fx) {
        let root = &fx.root;
        assert!(matches!(read(root, "nope"), Err(RootError::NotFound(_))));
        assert!(matches!(read(root, "a.txt/x"), Err(RootError::NotADirectory(_))));
        assert!(matches!(read(root, "d1"), Err(RootError::IsADirectory(_))));
        assert!(matches!(read(root, ""), Err(RootError::IsADirectory(_))));
        // A FIFO must be refused without blocking on a writer that never comes.
        nix::unistd::mkfifo(&fx.served.join("fifo"), nix::sys::stat::Mode::S_IRWXU)
            .expect("mkfifo");
        assert!(matches!(read(root, "fifo"), Err(RootError::NotAFile(_))));
        assert!(root.metadata(&rel("d1")).expect("stat").is_dir());
    }

    fn symlinks_inside_the_root_work(fx) {
        symlink("a.txt", fx.served.join("link")).expect("symlink");
        symlink("../a.txt", fx.served.join("d1/up")).expect("symlink");
        symlink("d1", fx.served.join("dirlink")).expect("symlink");
        symlink("../d1/./d2/../d2/f.txt", fx.served.join("d1/wander")).expect("symlink");
        symlink("link", fx.served.join("chain")).expect("symlink");
        assert_eq!(read(&fx.root, "link").expect("link"), "hello");
        assert_eq!(read(&fx.root, "d1/up").expect("up"), "hello");
        assert_eq!(read(&fx.root, "dirlink/d2/f.txt").expect("dir link"), "nested");
        assert_eq!(read(&fx.root, "d1/wander").expect("wander"), "nested");
        assert_eq!(read(&fx.root, "chain").expect("chain"), "hello");
    }

    fn symlinks_leading_out_are_forbidden(fx) {
        let served = &fx.served;
        symlink("/etc/passwd", served.join("passwd")).expect("symlink");
        symlink("../outside/secret.txt", served.join("rel_out")).expect("symlink");
        symlink("../../outside/secret.txt", served.join("d1/deep_out")).expect("symlink");
        symlink(&fx.outside, served.join("abs_dir")).expect("symlink");
        symlink("../outside", served.join("rel_dir")).expect("symlink");
        symlink("d1/../../outside", served.join("sneaky_dir")).expect("symlink");
        // Absolute targets are refused even when they point back inside.
        symlink(served.join("a.txt"), served.join("abs_inside")).expect("symlink");
        symlink("loop", served.join("loop")).expect("symlink");
        let root = &fx.root;
        assert_forbidden(read(root, "passwd"), "absolute symlink");
        assert_forbidden(read(root, "rel_out"), "relative symlink out");
        assert_forbidden(read(root, "d1/deep_out"), "deep symlink out");
        assert_forbidden(read(root, "abs_dir/secret.txt"), "dir component, absolute");
        assert_forbidden(read(root, "rel_dir/secret.txt"), "dir component, relative");
        assert_forbidden(read(root, "sneaky_dir/secret.txt"), "dir component via ..");
        assert_forbidden(read(root, "abs_inside"), "absolute symlink inside");
        assert_forbidden(read(root, "loop"), "symlink loop");
        assert_forbidden(root.list(&rel("abs_dir")), "listing a dir outside");
        assert_forbidden(root.metadata(&rel("rel_dir")), "stat of a dir outside");
    }

    fn hard_links_are_just_files(fx) {
        // A hard link is a second name for the same inode, indistinguishable from
        // a file created here: the root cannot refuse it, so whoever can make hard
        // links into the served directory decides what is served.
        fs::hard_link(fx.outside.join("secret.txt"), fx.served.join("hard")).expect("link");
        assert_eq!(read(&fx.root, "hard").expect("hard link"), "SECRET");
    }

    fn listing_flags_escaping_symlinks_without_following_them(fx) {
        let served = &fx.served;
        symlink("a.txt", served.join("link")).expect("symlink");
        symlink("d1", served.join("dirlink")).expect("symlink");
        symlink("/etc/passwd", served.join("esc")).expect("symlink");
        symlink("../outside", served.join("escdir")).expect("symlink");
        symlink("nowhere", served.join("dangling")).expect("symlink");
        fs::write(served.join(".hidden"), "h").expect("write");
        fs::write(served.join(".netkit-upload-0000.tmp"), "partial").expect("write");
        fs::write(served.join("bad\nname"), "x").expect("write");
        let entries = fx.root.list(&RelPath::root()).expect("list");
        let summary: Vec<(&str, EntryKind, bool)> =
            entries.iter().map(|e| (e.name.as_str(), e.kind, e.symlink)).collect();
        assert_eq!(
            summary,
            [
                ("a.txt", EntryKind::File, false),
                ("d1", EntryKind::Dir, false),
                ("dangling", EntryKind::Unreachable, true),
                ("dirlink", EntryKind::Dir, true),
                ("esc", EntryKind::Unreachable, true),
                ("escdir", EntryKind::Unreachable, true),
                ("link", EntryKind::File, true),
            ]
        );
        let size_of = |name: &str| entries.iter().find(|e| e.name == name).map(|e| e.size);
        assert_eq!(size_of("link"), Some(5), "an inside link shows its target");
        // An escaping link shows only the link itself: the size of its target
        // text, not of /etc/passwd.
        assert_eq!(size_of("esc"), Some("/etc/passwd".len() as u64));
        assert_eq!(size_of("escdir"), Some("../outside".len() as u64));
        assert!(entries.iter().all(|e| e.modified.is_some()));

        let nested = fx.root.list(&rel("d1")).expect("list d1");
        assert_eq!(nested.len(), 1);
        assert_eq!((nested[0].name.as_str(), nested[0].kind), ("d2", EntryKind::Dir));
        assert!(matches!(fx.root.list(&rel("a.txt")), Err(RootError::NotADirectory(_))));
        assert!(matches!(fx.root.list(&rel("none")), Err(RootError::NotFound(_))));
    }

    fn an_upload_is_invisible_until_commit(fx) {
        let before = names(&fx.served);
        let mut up = fx.root.create_atomic(&rel("d1/up.txt"), false).expect("create");
        up.write_all(b"uploaded").expect("write");
        assert!(!fx.served.join("d1/up.txt").exists());
        let listed: Vec<String> =
            fx.root.list(&rel("d1")).expect("list").into_iter().map(|e| e.name).collect();
        assert_eq!(listed, ["d2"], "temporaries are not listed");
        up.commit().expect("commit");
        assert_eq!(read(&fx.root, "d1/up.txt").expect("read back"), "uploaded");
        assert_eq!(names(&fx.served.join("d1")), ["d2", "up.txt"], "no temporary left");
        assert_eq!(names(&fx.served), before);
    }

    fn dropping_an_upload_leaves_nothing(fx) {
        let before = names(&fx.served);
        let mut up = fx.root.create_atomic(&rel("gone.txt"), false).expect("create");
        up.write_all(b"half").expect("write");
        assert_eq!(names(&fx.served).len(), before.len() + 1, "a temporary exists");
        drop(up);
        assert_eq!(names(&fx.served), before);
    }

    fn no_overwrite_refuses_and_keeps_the_old_file(fx) {
        let early = fx.root.create_atomic(&rel("a.txt"), false);
        assert!(matches!(early, Err(RootError::Exists(_))), "{early:?}");
        // The name is taken between create and commit: the rename must refuse.
        let mut up = fx.root.create_atomic(&rel("late.txt"), false).expect("create");
        up.write_all(b"mine").expect("write");
        fs::write(fx.served.join("late.txt"), "theirs").expect("write");
        let late = up.commit();
        assert!(matches!(late, Err(RootError::Exists(_))), "{late:?}");
        assert_eq!(read(&fx.root, "late.txt").expect("read"), "theirs");
        assert_eq!(read(&fx.root, "a.txt").expect("read"), "hello");
        assert!(!names(&fx.served).iter().any(|n| n.starts_with(".netkit-upload-")));
    }

    fn overwrite_replaces_atomically(fx) {
        let mut up = fx.root.create_atomic(&rel("a.txt"), true).expect("create");
        up.write_all(b"replaced").expect("write");
        assert_eq!(read(&fx.root, "a.txt").expect("old"), "hello", "old until commit");
        up.commit().expect("commit");
        assert_eq!(read(&fx.root, "a.txt").expect("new"), "replaced");
        // Overwriting a symlink replaces the link, never what it points at.
        symlink("../outside/secret.txt", fx.served.join("esc")).expect("symlink");
        let mut up = fx.root.create_atomic(&rel("esc"), true).expect("create");
        up.write_all(b"mine").expect("write");
        up.commit().expect("commit");
        assert_eq!(read(&fx.root, "esc").expect("read"), "mine");
        assert_eq!(fs::read_to_string(fx.outside.join("secret.txt")).expect("read"), "SECRET");
    }

    fn uploads_cannot_land_outside_or_on_directories(fx) {
        symlink("../outside", fx.served.join("escdir")).expect("symlink");
        assert_forbidden(fx.root.create_atomic(&rel("escdir/new.txt"), true), "via dir link");
        assert_eq!(names(&fx.outside), ["secret.txt"]);
        let dir = fx.root.create_atomic(&rel("d1"), true);
        assert!(matches!(dir, Err(RootError::IsADirectory(_))), "{dir:?}");
        let root = fx.root.create_atomic(&RelPath::root(), true);
        assert!(matches!(root, Err(RootError::IsADirectory(_))), "{root:?}");
        let orphan = fx.root.create_atomic(&rel("no/such/dir.txt"), true);
        assert!(matches!(orphan, Err(RootError::NotFound(_))), "{orphan:?}");
    }

    fn stale_temporaries_are_swept(fx) {
        fs::write(fx.served.join(".netkit-upload-1.tmp"), "x").expect("write");
        fs::write(fx.served.join("d1/d2/.netkit-upload-2.tmp"), "x").expect("write");
        fs::write(fx.served.join(".netkit-upload-keep.txt"), "x").expect("write");
        fs::write(fx.outside.join(".netkit-upload-3.tmp"), "x").expect("write");
        // A hidden folder is swept too, though the root does not serve it.
        fs::create_dir(fx.served.join(".cache")).expect("mkdir");
        fs::write(fx.served.join(".cache/.netkit-upload-4.tmp"), "x").expect("write");
        symlink("../outside", fx.served.join("escdir")).expect("symlink");
        assert_eq!(fx.root.remove_stale_temporaries().expect("sweep"), 3);
        assert!(!fx.served.join(".cache/.netkit-upload-4.tmp").exists());
        assert!(!fx.served.join(".netkit-upload-1.tmp").exists());
        assert!(!fx.served.join("d1/d2/.netkit-upload-2.tmp").exists());
        assert!(fx.served.join(".netkit-upload-keep.txt").exists());
        assert!(fx.outside.join(".netkit-upload-3.tmp").exists(), "outside untouched");
        assert_eq!(fx.root.remove_stale_temporaries().expect("sweep"), 0);
    }

    fn hidden_names_are_not_found_unless_served(fx) {
        let served = &fx.served;
        fs::write(served.join(".env"), "KEY=1").expect("write");
        fs::create_dir_all(served.join("d1/.git")).expect("mkdir");
        fs::write(served.join("d1/.git/config"), "[core]").expect("write");
        fs::create_dir(served.join(".ssh")).expect("mkdir");
        let root = &fx.root;
        assert!(!root.serves_hidden());
        let not_found = |what: &str, result: Result<(), RootError>| {
            assert!(matches!(result, Err(RootError::NotFound(_))), "{what}: {result:?}");
        };
        for name in [".env", "d1/.git/config", "d1/.git", ".ssh", ".nothing"] {
            assert!(root.hides(&rel(name)), "{name}");
            not_found(name, root.open_file(&rel(name)).map(drop));
            not_found(name, root.metadata(&rel(name)).map(drop));
            not_found(name, root.list(&rel(name)).map(drop));
            not_found(name, root.remove_file(&rel(name)));
        }
        for name in [".env", ".ssh/authorized_keys", "d1/.git/hooks", "d1/.new"] {
            not_found(name, root.create_atomic(&rel(name), true).map(drop));
        }
        assert!(!root.hides(&rel("d1/d2/f.txt")));
        let listed = |root: &Root, dir: &str| -> Vec<String> {
            root.list(&rel(dir)).expect("list").into_iter().map(|e| e.name).collect()
        };
        assert_eq!(listed(root, ""), ["a.txt", "d1"]);
        assert_eq!(listed(root, "d1"), ["d2"]);
        assert_eq!(names(served), [".env", ".ssh", "a.txt", "d1"], "nothing written");
        assert_eq!(names(&served.join(".ssh")), Vec::<String>::new());
        assert!(served.join(".env").exists(), "nothing removed");
        // Uploads to plain names still work: their temporaries are dot-names.
        let mut up = root.create_atomic(&rel("d1/new.txt"), false).expect("create");
        up.write_all(b"new").expect("write");
        up.commit().expect("commit");

        // --hidden: everything is served, listed and writable.
        let open = Root::open_with(served, root.resolver()).expect("open").with_hidden(true);
        assert!(open.serves_hidden() && !open.hides(&rel(".env")));
        assert_eq!(read(&open, ".env").expect("read"), "KEY=1");
        assert_eq!(read(&open, "d1/.git/config").expect("read"), "[core]");
        assert_eq!(listed(&open, ""), [".env", ".ssh", "a.txt", "d1"]);
        assert_eq!(listed(&open, "d1"), [".git", "d2", "new.txt"]);
        let mut up = open.create_atomic(&rel(".ssh/authorized_keys"), false).expect("create");
        up.write_all(b"key").expect("write");
        up.commit().expect("commit");
        assert_eq!(read(&open, ".ssh/authorized_keys").expect("read"), "key");
        open.remove_file(&rel(".env")).expect("remove");
        assert!(!served.join(".env").exists());
    }

    fn remove_file_acts_on_names_only(fx) {
        let root = &fx.root;
        root.remove_file(&rel("a.txt")).expect("remove");
        assert!(!fx.served.join("a.txt").exists());
        assert!(matches!(root.remove_file(&rel("a.txt")), Err(RootError::NotFound(_))));
        assert!(matches!(root.remove_file(&rel("d1")), Err(RootError::IsADirectory(_))));
        symlink("../outside/secret.txt", fx.served.join("esc")).expect("symlink");
        symlink("../outside", fx.served.join("escdir")).expect("symlink");
        root.remove_file(&rel("esc")).expect("remove the link");
        assert_forbidden(root.remove_file(&rel("escdir/secret.txt")), "through a dir link");
        assert!(fx.outside.join("secret.txt").exists());
    }

    fn a_symlink_swapped_in_mid_lookup_never_leads_out(fx) {
        // `sw` flips between a real directory and a symlink to `outside`, as fast
        // as another thread can rename. Whatever moment the lookup sees, it must
        // read the inside file or be refused: never the secret.
        fs::create_dir(fx.served.join("sw")).expect("mkdir");
        fs::write(fx.served.join("sw/secret.txt"), "inside").expect("write");
        symlink("../outside", fx.served.join("alt")).expect("symlink");
        let served = fx.served.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flipper = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let dir = fs::File::open(&served).expect("open served");
                let flags = nix::fcntl::RenameFlags::RENAME_EXCHANGE;
                for _ in 0..1_000_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    nix::fcntl::renameat2(&dir, "sw", &dir, "alt", flags).expect("exchange");
                }
            })
        };
        let mut inside = 0;
        for _ in 0..3000 {
            match read(&fx.root, "sw/secret.txt") {
                Ok(text) => {
                    assert_eq!(text, "inside");
                    inside += 1;
                }
                Err(RootError::Forbidden(_) | RootError::NotFound(_)) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flipper.join().expect("flipper");
        eprintln!("{inside} of 3000 lookups saw the inside directory");
    }
}
