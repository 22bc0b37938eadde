//! Version 2's owner in a real Chromium, on two replicas of one Redis: creating a counter from
//! the "New counter" form, the owner view's three links with QR codes and copy buttons,
//! settings, reset, a new staff link, today's chart, the CSV download and delete, each seen
//! from other pages; and that no key ever reaches a request line, a Referer or a server log.

use std::path::Path;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::{Driver, browser_turn, by_testid, click, text_of, wait_for_count};
use crate::helpers::owned::{self, request};
use crate::helpers::{Cluster, eventually, workspace_root};

/// The three links of the owner view and the keys in them.
struct OwnerLinks {
    staff: String,
    display: String,
    owner: String,
}

impl OwnerLinks {
    fn staff_key(&self) -> &str {
        self.staff.split_once("#staff=").expect("a staff key").1
    }

    fn owner_key(&self) -> &str {
        self.owner.split_once("#owner=").expect("an owner key").1
    }
}

/// A browser whose every request Chromium logs (its "performance" log), so a test can read
/// the request lines and headers the page sent.
async fn logged_browser(driver: &mut Driver) -> Client {
    driver
        .browser_with(json!({ "goog:loggingPrefs": { "performance": "ALL" } }))
        .await
}

/// Every request line (URL without fragment) and Referer header `browser` sent since the
/// last call, HTTP and WebSocket alike.
async fn requests_sent(driver: &Driver, browser: &Client) -> Vec<String> {
    let session = browser.session_id().await.unwrap().expect("a session");
    let log: Value = driver
        .http
        .post(format!("{}/session/{session}/se/log", driver.url))
        .json(&json!({ "type": "performance" }))
        .send()
        .await
        .expect("chromedriver answers")
        .json()
        .await
        .expect("JSON log");
    let entries = log["value"].as_array().expect("log entries");
    let mut sent = Vec::new();
    for entry in entries {
        let Some(message) = entry["message"].as_str() else {
            continue;
        };
        let message: Value = serde_json::from_str(message).expect("a DevTools event");
        let params = &message["message"]["params"];
        match message["message"]["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                sent.extend(params["request"]["url"].as_str().map(str::to_owned));
                let headers = &params["request"]["headers"];
                sent.extend(headers["Referer"].as_str().map(|r| format!("Referer: {r}")));
            }
            Some("Network.webSocketCreated") => {
                sent.extend(params["url"].as_str().map(str::to_owned));
            }
            _ => {}
        }
    }
    sent
}

/// The element with `data-testid`, once it is on the page.
async fn wait_for(page: &Client, testid: &str) -> fantoccini::elements::Element {
    eventually(&format!("{testid} on the page"), || async {
        page.find(Locator::Css(&by_testid(testid))).await.ok()
    })
    .await
}

/// Types `text` into the field `testid`, replacing what it held.
async fn fill(page: &Client, testid: &str, text: &str) {
    let field = wait_for(page, testid).await;
    field.clear().await.expect("clear a field");
    field.send_keys(text).await.expect("type into a field");
}

/// Clicks `testid` once it is there (a staff page shows its buttons once the server has
/// accepted the key).
async fn press(page: &Client, testid: &str) {
    wait_for(page, testid).await;
    click(page, testid).await;
}

/// Clicks `testid`, then its `-confirm` answer.
async fn click_confirmed(page: &Client, testid: &str) {
    click(page, testid).await;
    wait_for(page, &format!("{testid}-confirm")).await;
    click(page, &format!("{testid}-confirm")).await;
}

/// Creates `name` from the form on `page` and waits for the owner view; returns its links.
async fn create_from_the_form(page: &Client, url: &str, name: &str) -> OwnerLinks {
    page.goto(url).await.expect("open /new");
    fill(page, "new-name", name).await;
    fill(page, "new-title", "Main entrance").await;
    fill(page, "new-capacity", "50").await;
    click(page, "create").await;
    let href = |testid: &'static str| async move {
        wait_for(page, testid)
            .await
            .attr("href")
            .await
            .unwrap()
            .expect("an href")
    };
    let links = OwnerLinks {
        staff: href("staff-link").await,
        display: href("display-link").await,
        owner: href("owner-link").await,
    };
    assert!(
        page.current_url().await.unwrap().path() == format!("/c/{name}"),
        "the form goes to the counter's page"
    );
    links
}

/// Sets the staff label on a staff page, as leaving the field does.
async fn set_label(page: &Client, label: &str) {
    wait_for(page, "label").await;
    page.execute(
        "const field = document.querySelector('[data-testid=\"label\"]');\
         field.value = arguments[0];\
         field.dispatchEvent(new Event('change', { bubbles: true }));",
        vec![json!(label)],
    )
    .await
    .expect("set the label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counter_created_from_the_form_shows_three_links_with_qr_codes_and_leaks_no_key() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(2, &[]).await;
    let mut driver = Driver::start().await;
    let page = logged_browser(&mut driver).await;
    let staff = logged_browser(&mut driver).await;

    let links = create_from_the_form(&page, &cluster.replicas[0].url("/new"), "door-7").await;
    let base = cluster.replicas[0].url("/c/door-7");
    assert_eq!(links.display, format!("{base}/display"));
    assert!(
        links.staff.starts_with(&format!("{base}#staff=")),
        "{}",
        links.staff
    );
    assert!(
        links.owner.starts_with(&format!("{base}#owner=")),
        "{}",
        links.owner
    );
    // The keys are the server's: the owner's reads the history, the staff's counts.
    let history = request(
        &cluster.replicas[1],
        "GET",
        "/api/counters/door-7/history",
        Some(links.owner_key()),
        None,
    )
    .await;
    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(
        owned::change(&cluster.replicas[1], "door-7", 1, Some(links.staff_key()))
            .await
            .status,
        200
    );
    wait_for_count(&page, 1).await;

    // Each link sits beside its QR code (drawn in the page) and a copy button; the owner's
    // says to keep it private.
    let cards = page
        .execute(
            "return [...document.querySelectorAll('.link-card')].map(card => ({\
               link: card.dataset.link,\
               qr: card.querySelectorAll('svg[data-testid=\"qr\"] path').length,\
               modules: (card.querySelector('svg[data-testid=\"qr\"] path')?.getAttribute('d') || '').length,\
               copy: card.querySelectorAll('button[data-testid=\"copy\"]').length,\
               text: card.textContent,\
             }));",
            vec![],
        )
        .await
        .expect("read the link cards");
    let cards = cards.as_array().expect("cards");
    let ids: Vec<_> = cards
        .iter()
        .map(|card| card["link"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["staff-link", "display-link", "owner-link"]);
    for card in cards {
        assert_eq!(card["qr"], 1, "{card}");
        assert!(
            card["modules"].as_u64().unwrap() > 500,
            "a drawn code: {card}"
        );
        assert_eq!(card["copy"], 1, "{card}");
    }
    assert!(
        cards[2]["text"]
            .as_str()
            .unwrap()
            .contains("Keep this link private"),
        "{}",
        cards[2]
    );

    // Copy: with the clipboard allowed, the display link lands on it.
    let origin = cluster.replicas[0].url("");
    driver
        .cdp(
            &page,
            "Browser.grantPermissions",
            json!({
                "origin": origin.trim_end_matches('/'),
                "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"],
            }),
        )
        .await;
    page.find(Locator::Css(
        "[data-link=\"display-link\"] [data-testid=\"copy\"]",
    ))
    .await
    .expect("the display link's copy button")
    .click()
    .await
    .expect("click copy");
    eventually("the copy button to confirm", || async {
        let text = page
            .execute(
                "return document.querySelector('[data-link=\"display-link\"] [data-testid=\"copy\"]').textContent;",
                vec![],
            )
            .await
            .ok()?;
        (text == json!("Copied")).then_some(())
    })
    .await;
    let copied = page
        .execute_async(
            "navigator.clipboard.readText().then(arguments[0], () => arguments[0](null));",
            vec![],
        )
        .await
        .expect("read the clipboard");
    assert_eq!(copied, json!(links.display));

    // The staff link works on the other replica; the display link shows the number.
    staff.goto(&links.staff).await.expect("open the staff link");
    wait_for_count(&staff, 1).await;
    press(&staff, "increment").await;
    wait_for_count(&page, 2).await;
    staff
        .goto(&links.display)
        .await
        .expect("open the display link");
    wait_for_count(&staff, 2).await;

    // The form explains what it cannot send, and what the server refuses.
    page.goto(&cluster.replicas[1].url("/new"))
        .await
        .expect("open /new");
    fill(&page, "new-capacity", "0").await;
    click(&page, "create").await;
    let problem = eventually("the form to explain the capacity", || async {
        text_of(&page, "create-problem")
            .await
            .filter(|text| !text.is_empty())
    })
    .await;
    assert!(problem.contains("whole number from 1"), "{problem}");
    fill(&page, "new-capacity", "").await;
    fill(&page, "new-name", "door-7").await;
    click(&page, "create").await;
    let problem = eventually("the form to say the name is taken", || async {
        text_of(&page, "create-problem")
            .await
            .filter(|text| text.contains("taken"))
    })
    .await;
    assert!(problem.contains("choose another"), "{problem}");

    // No key in any request line or Referer of either browser, nor in either replica's log.
    let keys = [links.owner_key().to_owned(), links.staff_key().to_owned()];
    for (browser, rest) in [(&page, true), (&staff, false)] {
        let sent = requests_sent(&driver, browser).await;
        assert!(
            sent.iter().any(|line| line.contains("/ws/counters/door-7")),
            "the log holds the sockets: {sent:?}"
        );
        assert!(
            !rest || sent.iter().any(|line| line.contains("/api/counters")),
            "the log holds the REST calls: {sent:?}"
        );
        for line in &sent {
            for key in &keys {
                assert!(!line.contains(key.as_str()), "a key in a request: {line}");
            }
        }
    }
    for replica in &cluster.replicas {
        let logs = replica.logs();
        assert!(!logs.is_empty(), "the replica logs");
        for key in &keys {
            assert!(!logs.contains(key.as_str()), "a key in the server's log");
        }
    }
    page.close().await.ok();
    staff.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_sets_resets_rotates_and_deletes_and_every_page_follows() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(2, &[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    let staff = driver.browser().await;

    let links = create_from_the_form(&page, &cluster.replicas[0].url("/new"), "hall-3").await;
    let old_staff = links.staff.clone();
    staff.goto(&old_staff).await.expect("open the staff link");
    wait_for_count(&staff, 0).await;
    press(&staff, "increment").await;
    press(&staff, "increment").await;
    wait_for_count(&page, 2).await;

    // Settings reach every page (the `meta` frame): a capacity of 2 makes the staff page
    // say full.
    fill(&page, "settings-capacity", "2").await;
    fill(&page, "settings-title", "Hall three").await;
    click(&page, "settings-save").await;
    eventually("the staff page to say full", || async {
        let capacity = staff
            .find(Locator::Css(&by_testid("capacity")))
            .await
            .ok()?;
        (capacity.attr("data-state").await.ok()?.as_deref() == Some("full")).then_some(())
    })
    .await;
    // Read as written: the heading is shown in capitals.
    eventually("the staff page to show the title", || async {
        let heading = staff
            .execute(
                "return document.querySelector('#counter-name').textContent;",
                vec![],
            )
            .await
            .ok()?;
        (heading == json!("Hall three")).then_some(())
    })
    .await;

    // Reset asks first; then every page shows 0.
    click(&page, "reset").await;
    assert!(text_of(&page, "reset-confirm").await.is_some());
    assert_eq!(
        cluster.stored_value("hall-3").await,
        2,
        "nothing before the answer"
    );
    click(&page, "reset-confirm").await;
    wait_for_count(&page, 0).await;
    wait_for_count(&staff, 0).await;
    assert_eq!(cluster.stored_value("hall-3").await, 0);

    // A new staff link: the old one stops counting at once, the new one counts.
    click_confirmed(&page, "rotate-staff").await;
    let new_staff = eventually("a new staff link", || async {
        let href = page
            .find(Locator::Css(&by_testid("staff-link")))
            .await
            .ok()?
            .attr("href")
            .await
            .ok()??;
        (href != old_staff).then_some(href)
    })
    .await;
    let old_key = old_staff.split_once("#staff=").unwrap().1;
    let refused = owned::change(&cluster.replicas[1], "hall-3", 1, Some(old_key)).await;
    owned::refused(&refused, 401, "unauthorized");
    eventually("the old staff page to lose its buttons", || async {
        staff
            .find(Locator::Css(&by_testid("increment")))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert_eq!(cluster.stored_value("hall-3").await, 0);
    // The refused phone is sent the new link and opens it in the same tab; a phone that
    // never had the old one opens it too.
    staff
        .goto(&new_staff)
        .await
        .expect("open the new staff link");
    press(&staff, "increment").await;
    wait_for_count(&page, 1).await;
    let phone = driver.browser().await;
    phone
        .goto(&new_staff)
        .await
        .expect("open the new staff link");
    press(&phone, "increment").await;
    wait_for_count(&page, 2).await;
    wait_for_count(&staff, 2).await;

    // Delete asks first; then every open page says the counter is gone.
    click_confirmed(&page, "delete").await;
    wait_for(&page, "deleted").await;
    wait_for(&staff, "deleted").await;
    wait_for(&phone, "deleted").await;
    let gone = request(
        &cluster.replicas[1],
        "GET",
        "/api/counters/hall-3",
        None,
        None,
    )
    .await;
    owned::refused(&gone, 404, "not_found");
    page.close().await.ok();
    staff.close().await.ok();
    phone.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_shows_todays_presses_per_label_and_the_csv_downloads() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(2, &[]).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    let staff = driver.browser().await;

    let links = create_from_the_form(&page, &cluster.replicas[0].url("/new"), "gate-1").await;
    staff.goto(&links.staff).await.expect("open the staff link");
    wait_for_count(&staff, 0).await;
    set_label(&staff, "north door").await;
    press(&staff, "increment").await;
    wait_for_count(&page, 1).await;
    press(&staff, "increment").await;
    wait_for_count(&page, 2).await;
    set_label(&staff, "south door").await;
    press(&staff, "increment").await;
    wait_for_count(&page, 3).await;
    press(&staff, "decrement").await;
    wait_for_count(&page, 2).await;

    click(&page, "history-refresh").await;
    let bars = eventually("the chart's bars per label", || async {
        let bars = page
            .execute(
                "return [...document.querySelectorAll('[data-testid=\"history-chart\"] rect[data-label]')]\
                   .map(bar => `${bar.dataset.label} ${bar.dataset.kind} ${bar.dataset.value}`)\
                   .sort();",
                vec![],
            )
            .await
            .ok()?;
        (bars.as_array()?.len() == 4).then_some(bars)
    })
    .await;
    assert_eq!(
        bars,
        json!([
            "north door in 2",
            "north door out 0",
            "south door in 1",
            "south door out 1",
        ])
    );
    let summary = text_of(&page, "today-summary")
        .await
        .expect("the day's summary");
    assert_eq!(summary, "Today: 3 in, 1 out, peak 3.");
    // The hour's bars carry the same totals.
    let hourly = page
        .execute(
            "return [...document.querySelectorAll('[data-testid=\"history-chart\"] rect[data-hour]')]\
               .reduce((sum, bar) => sum + Number(bar.dataset.value), 0);",
            vec![],
        )
        .await
        .expect("hourly bars");
    assert_eq!(hourly, json!(4));

    // The CSV: downloaded by the page into a folder of ours, equal to what the server gives
    // the owner key.
    let downloads = tempfile::tempdir().expect("download folder");
    driver
        .cdp(
            &page,
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": downloads.path().to_str().unwrap() }),
        )
        .await;
    click(&page, "export-csv").await;
    let file = downloads.path().join("gate-1-history.csv");
    let downloaded = eventually("the CSV file", || async { read_whole(&file) }).await;
    let expected = request(
        &cluster.replicas[1],
        "GET",
        "/api/counters/gate-1/history.csv",
        Some(links.owner_key()),
        None,
    )
    .await;
    assert_eq!(Value::String(downloaded.clone()), expected.body);
    let lines: Vec<_> = downloaded.lines().collect();
    assert_eq!(lines[0], "at,kind,delta,value,version,op_id,label");
    assert_eq!(lines.len(), 5, "{downloaded}");
    assert!(lines[1].contains(",increment,1,1,") && lines[1].ends_with(",north door"));
    assert!(lines[4].contains(",decrement,-1,2,") && lines[4].ends_with(",south door"));
    page.close().await.ok();
    staff.close().await.ok();
}

/// The file's text once Chromium has finished writing it (it writes `*.crdownload` first).
fn read_whole(file: &Path) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    (!text.is_empty()).then_some(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_screenshots_of_the_form_and_the_owner_view() {
    let _turn = browser_turn().await;
    let cluster = Cluster::embedded(owned::V2).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    driver
        .cdp(
            &page,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 360, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
    let folder = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    page.goto(&cluster.replicas[0].url("/new"))
        .await
        .expect("open /new");
    fill(&page, "new-name", "main-entrance").await;
    fill(&page, "new-title", "Main entrance").await;
    fill(&page, "new-capacity", "200").await;
    let png = page.screenshot().await.expect("screenshot");
    std::fs::write(folder.join("create.png"), png).expect("write create.png");

    click(&page, "create").await;
    wait_for(&page, "staff-link").await;
    wait_for_count(&page, 0).await;
    page.execute(
        "document.querySelector('[data-testid=\"owner-panel\"]').scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll to the owner view");
    let overflow = page
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(overflow, json!(false), "the owner view fits a 360 px phone");
    let png = page.screenshot().await.expect("screenshot");
    std::fs::write(folder.join("owner.png"), png).expect("write owner.png");
    page.close().await.ok();
}
