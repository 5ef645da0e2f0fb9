//! `netkit up`'s page with accounts, in headless Chromium: an anonymous
//! visitor sees "anonymous", a "Log in" link and only the public folder; a
//! read-only user, logged in through the login route (credentials in the
//! URL, as a user would type them at the browser's prompt), sees their name,
//! every folder and no upload or delete button; a user who may write sees
//! both, and uploading and deleting through the page work.

use crate::common;
use crate::up_browser::{browser, eventually, text_of, Driver, WAIT};

use common::{up_addrs, up_args, Server};
use fantoccini::{Client, Locator};

/// Waits until the page has shown who is logged in and listed the folder.
async fn shown_as(c: &Client, who: &str) {
    eventually(&format!("the page to show {who}"), || async {
        (text_of(c, "#who-user").await == who).then_some(())
    })
    .await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.dir[data-name='pub']"))
        .await
        .expect("the listing shows pub/");
}

async fn count(c: &Client, css: &str) -> usize {
    c.find_all(Locator::Css(css))
        .await
        .map_or(0, |all| all.len())
}

#[tokio::test(flavor = "current_thread")]
async fn the_page_shows_who_is_logged_in_and_hides_what_they_may_not_use() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    for sub in ["pub", "team"] {
        std::fs::create_dir_all(shared.join(sub)).unwrap();
    }
    std::fs::write(shared.join("pub/p.txt"), "public\n").unwrap();
    std::fs::write(shared.join("team/t.txt"), "team\n").unwrap();
    std::fs::write(shared.join("notes.txt"), "notes\n").unwrap();
    let args = up_args(
        shared.to_str().unwrap(),
        &[
            "--upload",
            "--overwrite",
            "--no-files",
            "--no-tftp",
            "--auth",
            "alice:wonderland@/:rw",
            "--auth",
            "bob:builder@/",
            "--auth",
            "@/pub",
        ],
    );
    let server = Server::start(&args);
    let http = up_addrs(&server)
        .into_iter()
        .find(|(n, _)| n == "http")
        .unwrap()
        .1;
    let driver = Driver::start();

    // Anonymous: the public folder only, no buttons, a way to log in.
    let profile = dir.path().join("anonymous");
    let c = browser(&driver, &profile, dir.path()).await;
    c.goto(&format!("http://{http}/")).await.unwrap();
    shown_as(&c, "anonymous").await;
    let login = c
        .find(Locator::Css("a#login"))
        .await
        .expect("a Log in link");
    let href = login.attr("href").await.unwrap().unwrap_or_default();
    assert!(href.starts_with("/_netkit/login?to="), "{href}");
    let listed = text_of(&c, "#files tbody").await;
    assert!(
        !listed.contains("team") && !listed.contains("notes.txt"),
        "{listed}"
    );
    assert_eq!(count(&c, "#upload-button:not([hidden])").await, 0);
    c.close().await.unwrap();

    // bob reads everything and may write nothing: no upload, no delete.
    let profile = dir.path().join("bob");
    let c = browser(&driver, &profile, dir.path()).await;
    c.goto(&format!("http://bob:builder@{http}/_netkit/login?to=%2F"))
        .await
        .unwrap();
    shown_as(&c, "bob").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.file[data-name='notes.txt']"))
        .await
        .expect("bob sees notes.txt");
    assert_eq!(count(&c, "a#login").await, 0);
    assert_eq!(count(&c, "#upload-button:not([hidden])").await, 0);
    assert_eq!(count(&c, "button.delete").await, 0);
    c.close().await.unwrap();

    // alice may write: the buttons are there, and they work.
    let profile = dir.path().join("alice");
    let c = browser(&driver, &profile, dir.path()).await;
    c.goto(&format!(
        "http://alice:wonderland@{http}/_netkit/login?to=%2F"
    ))
    .await
    .unwrap();
    shown_as(&c, "alice").await;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("#upload-button:not([hidden])"))
        .await
        .expect("alice has the upload button");
    assert!(count(&c, "button.delete").await >= 1);
    let local = dir.path().join("from-alice.txt");
    std::fs::write(&local, "written by alice\n").unwrap();
    c.find(Locator::Css("#upload-input"))
        .await
        .unwrap()
        .send_keys(local.to_str().unwrap())
        .await
        .unwrap();
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css("a.file[data-name='from-alice.txt']"))
        .await
        .expect("the upload is listed");
    assert_eq!(
        std::fs::read_to_string(shared.join("from-alice.txt")).unwrap(),
        "written by alice\n"
    );
    c.find(Locator::Css("button.delete[title='Delete notes.txt']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.accept_alert().await.unwrap();
    eventually("notes.txt to be deleted", || async {
        (!shared.join("notes.txt").exists()).then_some(())
    })
    .await;
    c.close().await.unwrap();
    drop(driver);
    assert_eq!(server.terminate(), Some(0));
}
