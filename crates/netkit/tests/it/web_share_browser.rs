//! The web share's page in headless Chromium, on `http serve` and on `up`
//! alike: it lists a folder (folders first), sorts by a click on a column
//! header, searches, opens a folder (and goes back with Backspace, moves with
//! the arrow keys), uploads a whole folder through the folder picker, makes a
//! folder, renames a file, deletes a folder, downloads a folder as ZIP
//! (byte-exact with the server's archive), and previews an image and
//! Markdown (a `<script>` in it stays text). On `up`, a chat `/me` typed in the page
//! reaches a UDP member as an action, and theirs shows as `* name text`;
//! `/msg` is private both ways and `/nick` renames in the member list.
//! A browser that prefers dark gets the dark page; one without script gets
//! a working listing. Screenshots at 1280 and
//! 390 px wide, and the dark one, go to target/ (docs/ keeps copies).

use crate::common;
use crate::up_browser::{browser, browser_with, eventually, text_of, Driver, WAIT};

use common::{up_addrs, up_args, Server};
use fantoccini::{Client, Locator};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;

/// The tree every test shares.
fn make_tree(shared: &Path) {
    std::fs::create_dir_all(shared.join("deep/er")).unwrap();
    std::fs::create_dir(shared.join("attic")).unwrap();
    std::fs::write(shared.join("notes.txt"), "bring snacks\n").unwrap();
    std::fs::write(shared.join("big.bin"), vec![7u8; 50_000]).unwrap();
    std::fs::write(shared.join("attic/old.txt"), "old\n").unwrap();
    std::fs::write(shared.join("deep/er/needle.txt"), "found me\n").unwrap();
    std::fs::write(shared.join("deep/small.txt"), "s\n").unwrap();
    std::fs::write(
        shared.join("deep/pic.svg"),
        "<svg xmlns='http://www.w3.org/2000/svg' width='40' height='30'><rect width='40' height='30' fill='teal'/></svg>",
    )
    .unwrap();
    std::fs::write(
        shared.join("README.md"),
        "# Shared here\n\nSome **bold** text and <script>document.title='owned'</script>.\n\n- one\n- two\n",
    )
    .unwrap();
}

async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn wait_for(c: &Client, css: &str) {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"));
}

async fn gone(c: &Client, css: &'static str) {
    eventually(css, || async {
        c.find_all(Locator::Css(css))
            .await
            .is_ok_and(|all| all.is_empty())
            .then_some(())
    })
    .await;
}

/// Presses and releases `keys` (WebDriver key codes) where the focus is.
async fn keys(c: &Client, keys: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("keyboard".into());
    for k in keys.chars() {
        actions = actions
            .then(KeyAction::Down { value: k })
            .then(KeyAction::Up { value: k });
    }
    c.perform_actions(actions).await.unwrap();
}

/// The names in the list, in order.
async fn names(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for e in c
        .find_all(Locator::Css("#files tbody td.name a"))
        .await
        .unwrap()
    {
        out.push(e.attr("data-name").await.unwrap().unwrap_or_default());
    }
    out
}

/// A plain GET of `path` (the bytes of the body).
fn get(http: SocketAddr, path: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    reply.split_off(at + 4)
}

/// Everything the page does with files, on the server at `http`.
async fn manage_files(c: &Client, http: SocketAddr, dir: &Path, shot: Option<&str>) {
    let shared = dir.join("shared");
    let downloads = dir.join("downloads");
    c.goto(&format!("http://{http}/")).await.unwrap();
    wait_for(c, "a.file[data-name='notes.txt']").await;
    // The server's own listing (for browsers without script) is replaced.
    assert!(c
        .find_all(Locator::Css("#static"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        names(c).await,
        ["attic", "deep", "big.bin", "notes.txt", "README.md"]
    );
    // The address's QR code is on the page, drawn by the server.
    let qr = c.find(Locator::Css("#qr-image")).await.unwrap();
    let src = qr.attr("src").await.unwrap().unwrap_or_default();
    assert!(src.starts_with("/_netkit/qr.svg?u=http"), "{src}");

    // Sort: by size, then by size the other way; folders stay first.
    click(c, "th[data-key='size'] button").await;
    assert_eq!(
        names(c).await,
        ["attic", "deep", "notes.txt", "README.md", "big.bin"]
    );
    click(c, "th[data-key='size'] button").await;
    assert_eq!(
        names(c).await,
        ["deep", "attic", "big.bin", "README.md", "notes.txt"]
    );
    click(c, "th[data-key='name'] button").await;

    // Search below the folder.
    let input = c.find(Locator::Css("#search-input")).await.unwrap();
    input.send_keys("NEEDLE\u{e007}").await.unwrap();
    wait_for(c, "a.file[data-name='deep/er/needle.txt']").await;
    assert!(text_of(c, "#search-note").await.contains("1 found"));
    click(c, "#search-clear").await;
    wait_for(c, "a.file[data-name='notes.txt']").await;

    // Preview: Markdown is rendered, and its HTML stays text.
    click(c, "a.file[data-name='README.md']").await;
    wait_for(c, "#preview-body h1").await;
    assert_eq!(text_of(c, "#preview-body h1").await, "Shared here");
    assert_eq!(text_of(c, "#preview-body strong").await, "bold");
    assert!(text_of(c, "#preview-body p").await.contains("<script>"));
    assert!(c
        .find_all(Locator::Css("#preview-body script"))
        .await
        .unwrap()
        .is_empty());
    click(c, "#preview-close").await;
    assert_ne!(c.title().await.unwrap(), "owned");

    // Open a folder; its address is the folder's; Backspace goes back up.
    click(c, "a.dir[data-name='deep']").await;
    wait_for(c, "a.file[data-name='small.txt']").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/deep/");
    assert!(text_of(c, "#crumbs").await.contains("deep"));
    // Download this folder as ZIP: the server's archive, byte-exact.
    click(c, "#zip").await;
    let want = get(http, "/deep/?zip");
    assert!(want.starts_with(b"PK\x03\x04"));
    let saved = downloads.join("deep.zip");
    let want_len = want.len() as u64;
    eventually("the ZIP download", || {
        let saved = saved.clone();
        async move { (std::fs::metadata(&saved).ok()?.len() == want_len).then_some(()) }
    })
    .await;
    assert!(std::fs::read(&saved).unwrap() == want, "the ZIP differs");
    // An image is previewed in the page.
    click(c, "a.file[data-name='pic.svg']").await;
    eventually("the image preview", || async {
        let shown = c
            .execute(
                "const i = document.querySelector('#preview-body img'); return i ? i.naturalWidth : 0",
                vec![],
            )
            .await
            .ok()?;
        (shown.as_u64() == Some(40)).then_some(())
    })
    .await;
    click(c, "#preview-close").await;
    // Keys: Home goes to the top (".."), an arrow down to the folder er,
    // Enter opens it, Backspace goes up.
    keys(c, "\u{e011}\u{e015}").await;
    let focused = c
        .execute("return document.activeElement.dataset.name || ''", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "er");
    keys(c, "\u{e007}").await;
    wait_for(c, "a.file[data-name='needle.txt']").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/deep/er/");
    keys(c, "\u{e003}").await;
    wait_for(c, "a.file[data-name='small.txt']").await;
    keys(c, "\u{e003}").await;
    wait_for(c, "a.file[data-name='notes.txt']").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");

    // Upload a whole folder with the folder picker.
    let album = dir.join("album");
    std::fs::create_dir_all(album.join("2024")).unwrap();
    std::fs::write(album.join("cover.txt"), "cover\n").unwrap();
    std::fs::write(album.join("2024/track.bin"), vec![1u8; 70_000]).unwrap();
    c.find(Locator::Css("#upload-dir-input"))
        .await
        .unwrap()
        .send_keys(album.to_str().unwrap())
        .await
        .unwrap();
    wait_for(c, "a.dir[data-name='album']").await;
    eventually("the folder's files on disk", || async {
        let track = std::fs::read(shared.join("album/2024/track.bin")).ok()?;
        (track.len() == 70_000).then_some(())
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(shared.join("album/cover.txt")).unwrap(),
        "cover\n"
    );

    // New folder, rename, delete (the page's prompts answered by the test).
    c.execute(
        "window.prompt = () => 'made'; window.confirm = () => true;",
        vec![],
    )
    .await
    .unwrap();
    click(c, "#mkdir-button").await;
    wait_for(c, "a.dir[data-name='made']").await;
    assert!(shared.join("made").is_dir());
    c.execute("window.prompt = () => 'renamed.txt';", vec![])
        .await
        .unwrap();
    click(c, "button.rename[title='Rename or move notes.txt']").await;
    wait_for(c, "a.file[data-name='renamed.txt']").await;
    assert!(!shared.join("notes.txt").exists());
    assert_eq!(
        std::fs::read_to_string(shared.join("renamed.txt")).unwrap(),
        "bring snacks\n"
    );
    click(c, "button.delete[title='Delete attic']").await;
    gone(c, "a.dir[data-name='attic']").await;
    assert!(!shared.join("attic").exists());

    if let Some(name) = shot {
        screenshots(c, name).await;
    }
}

/// The page at 1280 and 390 px wide, saved as target/NAME-1280.png and
/// target/NAME-390.png (a test run leaves the tree clean; docs/ holds copies
/// that were looked at).
async fn screenshots(c: &Client, name: &str) {
    let out = crate::up_browser::target_dir();
    for (width, height) in [(1280, 800), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        // Wait until the layout has followed the new width.
        eventually("the new width", || async {
            let w = c
                .execute("return window.innerWidth", vec![])
                .await
                .ok()?
                .as_u64()?;
            (w <= width as u64 && w + 40 >= width as u64).then_some(())
        })
        .await;
        let shot = c.screenshot().await.unwrap();
        std::fs::write(out.join(format!("{name}-{width}.png")), &shot).unwrap();
    }
}

fn dirs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for d in ["shared", "downloads", "profile"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    make_tree(&dir.path().join("shared"));
    dir
}

#[tokio::test(flavor = "current_thread")]
async fn http_serve_page_lists_sorts_searches_and_manages_files_in_chromium() {
    let dir = dirs();
    let shared = dir.path().join("shared");
    let server = Server::start(&[
        "http",
        "serve",
        shared.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
        "--upload",
        "--overwrite",
    ]);
    let http = server.addr();
    let driver = Driver::start();
    let c = browser(
        &driver,
        &dir.path().join("profile"),
        &dir.path().join("downloads"),
    )
    .await;
    manage_files(&c, http, dir.path(), Some("web-share")).await;
    // No chat on `http serve`.
    assert!(c
        .find_all(Locator::Css("#chat-panel:not([hidden])"))
        .await
        .unwrap()
        .is_empty());
    c.close().await.unwrap();

    // Dark mode follows the system's (a browser that prefers dark).
    let profile = dir.path().join("profile-dark");
    std::fs::create_dir(&profile).unwrap();
    let c = browser_with(
        &driver,
        &profile,
        &dir.path().join("downloads"),
        &["--force-dark-mode"],
    )
    .await;
    c.goto(&format!("http://{http}/")).await.unwrap();
    wait_for(&c, "a.file[data-name='renamed.txt']").await;
    let background = c
        .execute(
            "return getComputedStyle(document.body).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, "rgb(17, 20, 24)");
    c.set_window_size(1280, 800).await.unwrap();
    let shot = c.screenshot().await.unwrap();
    let target = crate::up_browser::target_dir();
    std::fs::write(target.join("web-share-dark.png"), &shot).unwrap();
    c.close().await.unwrap();

    // Without script the page is still a listing: a link per entry, sizes
    // people read, folders that open.
    let profile = dir.path().join("profile-noscript");
    std::fs::create_dir(&profile).unwrap();
    let c = browser_with(
        &driver,
        &profile,
        &dir.path().join("downloads"),
        &["--blink-settings=scriptEnabled=false"],
    )
    .await;
    c.goto(&format!("http://{http}/")).await.unwrap();
    wait_for(&c, "#static a[href='renamed.txt']").await;
    let table = text_of(&c, "#static table").await;
    assert!(table.contains("48.8 KiB"), "{table}");
    click(&c, "#static a[href='deep/']").await;
    wait_for(&c, "#static a[href='small.txt']").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/deep/");
    c.close().await.unwrap();
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}

#[tokio::test(flavor = "current_thread")]
async fn up_page_manages_files_and_shows_chat_actions_in_chromium() {
    let dir = dirs();
    let shared = dir.path().join("shared");
    let server = Server::start(&up_args(
        shared.to_str().unwrap(),
        &["--upload", "--overwrite", "--no-tftp", "--no-files"],
    ));
    let addrs = up_addrs(&server);
    let find = |name: &str| addrs.iter().find(|(n, _)| n == name).unwrap().1;
    let http = find("http");
    let driver = Driver::start();
    let c = browser(
        &driver,
        &dir.path().join("profile"),
        &dir.path().join("downloads"),
    )
    .await;
    manage_files(&c, http, dir.path(), None).await;

    // The chat: a UDP member, then the page joins and acts.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    let chat = find("chat");
    let recv_until = |prefix: &str| {
        let mut buf = [0u8; 2048];
        for _ in 0..50 {
            let n = udp.recv(&mut buf).expect("a datagram");
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            if got.starts_with(prefix) {
                return got;
            }
        }
        panic!("no datagram starting with {prefix}");
    };
    udp.send_to(b"JOIN dana", chat).unwrap();
    recv_until("OK ");
    udp.send_to(b"PING", chat).unwrap();
    recv_until("PONG");
    c.find(Locator::Css("#chat-name"))
        .await
        .unwrap()
        .send_keys("mei\u{e007}")
        .await
        .unwrap();
    wait_for(&c, "#chat-say:not([hidden])").await;
    recv_until("JOINED mei");
    c.find(Locator::Css("#chat-text"))
        .await
        .unwrap()
        .send_keys("/me waves\u{e007}")
        .await
        .unwrap();
    assert_eq!(recv_until("ME "), "ME mei waves");
    udp.send_to(b"ME waves back", chat).unwrap();
    let action = eventually("dana's action on the page", || async {
        let all = c.find_all(Locator::Css("#chat-log li.action")).await.ok()?;
        let mut texts = Vec::new();
        for e in all {
            texts.push(e.text().await.ok()?);
        }
        texts
            .iter()
            .any(|t| t.contains("dana"))
            .then(|| texts.join("|"))
    })
    .await;
    assert!(action.contains("* mei waves"), "{action}");
    assert!(action.contains("* dana waves back"), "{action}");
    // /msg is private both ways; /nick renames in the member list.
    let page = &c;
    let say = |text: &'static str| async move {
        page.find(Locator::Css("#chat-text"))
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    };
    say("/msg dana psst\u{e007}").await;
    assert_eq!(recv_until("TOLD "), "TOLD mei psst");
    udp.send_to(b"TELL mei secret", chat).unwrap();
    wait_for(&c, "#chat-log li.private:not(.mine)").await;
    let private = text_of(&c, "#chat-log li.private:not(.mine)").await;
    assert!(
        private.contains("dana") && private.contains("secret"),
        "{private}"
    );
    say("/nick meili\u{e007}").await;
    assert_eq!(recv_until("RENAMED "), "RENAMED mei meili");
    eventually("the new name in the member list", || async {
        (text_of(&c, "#chat-members").await == "dana, meili").then_some(())
    })
    .await;
    c.close().await.unwrap();
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}
