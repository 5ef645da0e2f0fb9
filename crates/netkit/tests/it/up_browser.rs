//! The web app in a real browser: headless Chromium, driven through
//! chromedriver (WebDriver, with the `fantoccini` client), against `netkit up`
//! on a temporary folder. The page lists the files; a click downloads one
//! byte-exact; an upload through the page lands on disk and in `netkit files
//! ls`; a message typed in the page's chat reaches a UDP and an IRC member, and
//! theirs (and an operator announcement) appear on the page. A file dropped on
//! the page (a synthetic drop event) is uploaded too. Screenshots go to
//! `target/up-browser.png` and `target/up-browser-phone.png`. A page uploaded
//! to the share runs sandboxed: its script cannot read the web page's routes.

use crate::common;

use common::{netkit, up_addrs, up_args, Server, READY_TIMEOUT};
use fantoccini::{Client, ClientBuilder, Locator};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// chromedriver, started again (at most three times in all) if one exits
    /// before it says its port: on a loaded machine one start was seen to die
    /// silently while another browser test started its own.
    pub(crate) fn start() -> Driver {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Driver::try_start() {
                Ok(driver) => return driver,
                Err(why) => failures.push(why),
            }
        }
        panic!("chromedriver did not say its port: {failures:?}");
    }

    fn try_start() -> Result<Driver, String> {
        let errors = tempfile::tempfile().map_err(|e| e.to_string())?;
        let mut child = Command::new("chromedriver")
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(errors.try_clone().map_err(|e| e.to_string())?)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver) runs");
        let mut out = child.stdout.take().unwrap();
        // "ChromeDriver was started successfully on port 46637." — read until
        // the port and its full stop have arrived (no newline is promised).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while out.read(&mut byte).is_ok_and(|n| n == 1) {
                seen.push(byte[0]);
                let text = String::from_utf8_lossy(&seen);
                if let Some(rest) = text.split("successfully on port ").nth(1) {
                    if let Some(port) = rest.split('.').next().filter(|_| rest.contains('.')) {
                        let _ = tx.send(port.trim().parse::<u16>().ok());
                        break;
                    }
                }
            }
            // Keep draining so chromedriver never blocks on a full pipe.
            let _ = std::io::copy(&mut out, &mut std::io::sink());
        });
        match rx.recv_timeout(READY_TIMEOUT).ok().flatten() {
            Some(port) => Ok(Driver { child, port }),
            None => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let mut said = String::new();
                let mut errors = errors;
                let _ = std::io::Seek::rewind(&mut errors);
                let _ = errors.read_to_string(&mut said);
                Err(format!("{status}; stderr: {}", said.trim()))
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workspace's target/ folder, made if missing (a build may put its
/// artifacts elsewhere with CARGO_TARGET_DIR).
pub(crate) fn target_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) async fn browser(driver: &Driver, profile: &Path, downloads: &Path) -> Client {
    browser_with(driver, profile, downloads, &[]).await
}

/// [`browser`] with further Chromium flags (`--ignore-certificate-errors`).
pub(crate) async fn browser_with(
    driver: &Driver,
    profile: &Path,
    downloads: &Path,
    extra: &[&str],
) -> Client {
    let mut caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1200,820",
            ],
            "prefs": {
                "download.default_directory": downloads.to_str().unwrap(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
                "safebrowsing.enabled": false,
            },
        },
    });
    if let Some(args) = caps["goog:chromeOptions"]["args"].as_array_mut() {
        args.extend(extra.iter().map(|a| serde_json::Value::from(*a)));
    }
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// Polls `check` (bounded in time) until it returns `Some`.
pub(crate) async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Reads UDP datagrams until one starts with `prefix`.
fn udp_until(udp: &UdpSocket, prefix: &str) -> String {
    let mut buf = [0u8; 2048];
    for _ in 0..50 {
        let n = udp.recv(&mut buf).expect("a datagram");
        let got = String::from_utf8_lossy(&buf[..n]).into_owned();
        if got.starts_with(prefix) {
            return got;
        }
    }
    panic!("no datagram starting with {prefix}");
}

fn irc_until(irc: &mut BufReader<TcpStream>, needle: &str) -> String {
    let mut line = String::new();
    for _ in 0..100 {
        line.clear();
        irc.read_line(&mut line).expect("an IRC line");
        if line.contains(needle) {
            return line;
        }
    }
    panic!("no IRC line with {needle}");
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_lists_downloads_uploads_and_chats_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let downloads = dir.path().join("downloads");
    let profile = dir.path().join("profile");
    for d in [&shared, &downloads, &profile] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::create_dir(shared.join("photos")).unwrap();
    std::fs::write(shared.join("notes.txt"), "bring snacks\n").unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(shared.join("data.bin"), &data).unwrap();

    let mut cmd = netkit(&up_args(shared.to_str().unwrap(), &["--upload"]));
    cmd.stdin(Stdio::piped());
    let mut server = Server::start_cmd(cmd);
    let addrs = up_addrs(&server);
    let find = |name: &str| {
        addrs
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} in {addrs:?}"))
            .1
    };
    let http = find("http");

    let driver = Driver::start();
    let c = browser(&driver, &profile, &downloads).await;
    c.goto(&format!("http://{http}/")).await.unwrap();

    // The page lists the files (folders first).
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.file[data-name='data.bin']"))
        .await
        .expect("the listing shows data.bin");
    let listed = text_of(&c, "#files tbody").await;
    for name in ["photos/", "data.bin", "notes.txt"] {
        assert!(listed.contains(name), "{listed}");
    }
    assert!(listed.find("photos/") < listed.find("data.bin"), "{listed}");

    // A click downloads a file, byte-exact.
    c.find(Locator::Css("a.file[data-name='data.bin']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let saved = downloads.join("data.bin");
    eventually("the download", || {
        let saved = saved.clone();
        let want = data.len();
        async move {
            let len = std::fs::metadata(&saved).ok()?.len() as usize;
            (len == want).then_some(())
        }
    })
    .await;
    assert!(
        std::fs::read(&saved).unwrap() == data,
        "downloaded bytes differ"
    );

    // An upload through the page's button appears on disk and to `files ls`.
    let local = dir.path().join("from-browser.txt");
    let upload: Vec<u8> = b"uploaded through Chromium\n".repeat(2000);
    std::fs::write(&local, &upload).unwrap();
    c.find(Locator::Css("#upload-input"))
        .await
        .unwrap()
        .send_keys(local.to_str().unwrap())
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.file[data-name='from-browser.txt']"))
        .await
        .expect("the uploaded file is listed");
    assert!(std::fs::read(shared.join("from-browser.txt")).unwrap() == upload);
    // Drag-and-drop: a drop event carrying a file uploads it the same way.
    c.execute(
        "const dt = new DataTransfer();
         dt.items.add(new File(['dropped on the page\\n'], 'dropped.txt'));
         for (const type of ['dragenter', 'dragover', 'drop']) {
           document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
         }",
        vec![],
    )
    .await
    .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.file[data-name='dropped.txt']"))
        .await
        .expect("the dropped file is listed");
    assert_eq!(
        std::fs::read_to_string(shared.join("dropped.txt")).unwrap(),
        "dropped on the page\n"
    );
    let out = netkit(&["files", "ls", &find("files").to_string()])
        .output()
        .unwrap();
    let ls = String::from_utf8_lossy(&out.stdout);
    assert!(ls.contains("from-browser.txt"), "{ls}");

    // The chat: a UDP member and an IRC member are in the room first.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    let chat = find("chat");
    udp.send_to(b"JOIN dana", chat).unwrap();
    udp_until(&udp, "OK ");
    // Its second datagram confirms the address; from then on it hears the room.
    udp.send_to(b"PING", chat).unwrap();
    udp_until(&udp, "PONG");
    let irc = TcpStream::connect(find("irc")).unwrap();
    irc.set_read_timeout(Some(WAIT)).unwrap();
    let mut irc_in = BufReader::new(irc.try_clone().unwrap());
    (&irc)
        .write_all(b"NICK ravi\r\nUSER ravi 0 * :Ravi\r\nJOIN #netkit\r\n")
        .unwrap();
    irc_until(&mut irc_in, " 366 ");

    c.find(Locator::Css("#chat-name"))
        .await
        .unwrap()
        .send_keys("mei")
        .await
        .unwrap();
    c.find(Locator::Css("#chat-join button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#chat-say:not([hidden])"))
        .await
        .expect("joined the room");
    udp_until(&udp, "JOINED mei");
    c.find(Locator::Css("#chat-text"))
        .await
        .unwrap()
        .send_keys("hello from the browser")
        .await
        .unwrap();
    c.find(Locator::Css("#chat-say button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(udp_until(&udp, "MSG "), "MSG mei hello from the browser");
    let line = irc_until(&mut irc_in, "PRIVMSG");
    assert!(
        line.starts_with(":mei!") && line.contains("PRIVMSG #netkit :hello from the browser"),
        "{line}"
    );

    // Theirs, and an operator's announcement, appear on the page.
    udp.send_to(b"SAY hi mei, dana here (udp)", chat).unwrap();
    (&irc)
        .write_all(b"PRIVMSG #netkit :and ravi on irc\r\n")
        .unwrap();
    let stdin = server.child.stdin.as_mut().unwrap();
    stdin.write_all(b"the room closes at six\n").unwrap();
    stdin.flush().unwrap();
    let log = eventually("messages on the page", || async {
        let log = text_of(&c, "#chat-log").await;
        (log.contains("dana here (udp)")
            && log.contains("and ravi on irc")
            && log.contains("the room closes at six"))
        .then_some(log)
    })
    .await;
    assert!(
        log.contains("danahi mei") || log.contains("dana hi mei"),
        "{log}"
    );
    let admin = text_of(&c, "#chat-log li.admin").await;
    assert!(
        admin.contains("the room closes at six"),
        "shown apart: {admin}"
    );
    let members = text_of(&c, "#chat-members").await;
    assert_eq!(members, "dana, mei, ravi");
    eventually("the stats strip", || async {
        let stats = text_of(&c, "#stats").await;
        stats.contains("requests").then_some(())
    })
    .await;

    c.set_window_size(1100, 640).await.unwrap();
    let shot = c.screenshot().await.unwrap();
    std::fs::write(target_dir().join("up-browser.png"), &shot).unwrap();
    c.set_window_size(390, 844).await.unwrap();
    let phone = c.screenshot().await.unwrap();
    std::fs::write(target_dir().join("up-browser-phone.png"), &phone).unwrap();

    // Closing the page leaves the room.
    c.close().await.unwrap();
    assert_eq!(udp_until(&udp, "LEFT "), "LEFT mei");
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}

/// A page someone uploaded to the share runs sandboxed, in an origin of its
/// own: its script runs, but can neither read the web page's settings and
/// counters nor join the chat in the visitor's name.
#[tokio::test(flavor = "current_thread")]
async fn an_uploaded_page_cannot_act_as_the_web_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    let profile = dir.path().join("profile");
    for d in [&shared, &profile] {
        std::fs::create_dir(d).unwrap();
    }
    let server = Server::start(&up_args(
        shared.to_str().unwrap(),
        &["--upload", "--no-tftp", "--no-files"],
    ));
    let http = up_addrs(&server)
        .into_iter()
        .find(|(n, _)| n == "http")
        .unwrap()
        .1;

    // Uploaded as anyone may (curl sends no Origin).
    let page = r#"<!doctype html><title>pending</title><script>
const read = (path) => fetch(path).then((r) => r.text()).then((t) => 'read ' + t.length, () => 'blocked');
const join = fetch('/_netkit/chat/join', { method: 'POST', body: 'mallory', mode: 'no-cors' }).catch(() => {});
Promise.all([read('/_netkit/settings'), read('/_netkit/stats'), join])
  .then(([settings, stats]) => { document.title = 'settings ' + settings + ', stats ' + stats; });
</script>"#;
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "PUT /evil.html HTTP/1.1\r\nHost: {http}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
        page.len()
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");

    let driver = Driver::start();
    let c = browser(&driver, &profile, dir.path()).await;
    c.goto(&format!("http://{http}/evil.html")).await.unwrap();
    let title = eventually("the page's script to finish", || async {
        let title = c.title().await.unwrap_or_default();
        title.starts_with("settings").then_some(title)
    })
    .await;
    assert_eq!(title, "settings blocked, stats blocked");
    c.close().await.unwrap();
    drop(driver);

    // Nobody joined the room in the visitor's name.
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET /_netkit/stats HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let body = reply.split("\r\n\r\n").nth(1).unwrap_or_default();
    let stats: serde_json::Value = serde_json::from_str(body).expect("stats JSON");
    assert_eq!(stats["chat_members"], 0, "{stats}");
    assert_eq!(server.terminate(), Some(0));
}
