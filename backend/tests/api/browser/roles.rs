//! Version 2 in the browser: owned counters seen as a viewer, as staff (a link with the staff
//! key in its fragment) and on the display page, on two replicas over one Redis; a name that
//! does not exist, a counter deleted under an open page, and an installed app that opens
//! where its person works. The owner's view and the "New counter" form are tested with them.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::screenshots::LAYOUT_PROBLEMS;
use super::{
    Driver, browser_turn, by_testid, click, notice, press_key, text_of, wait_for_count,
    wait_for_status,
};
use crate::helpers::owned::{self, request};
use crate::helpers::{Replica, eventually, workspace_root};

/// Waits until the page's role badge says `role`.
async fn wait_for_role(page: &Client, role: &str) {
    eventually(&format!("the page to show the role {role}"), || async {
        (attr_of(page, "role", "data-role").await.as_deref() == Some(role)).then_some(())
    })
    .await;
}

/// Attribute `name` of the element with `data-testid="{id}"`, if both are there.
async fn attr_of(page: &Client, id: &str, name: &str) -> Option<String> {
    let element = page.find(Locator::Css(&by_testid(id))).await.ok()?;
    element.attr(name).await.ok()?
}

/// Whether an element with `data-testid="{id}"` is on the page now.
async fn present(page: &Client, id: &str) -> bool {
    page.execute(
        "return document.querySelector(arguments[0]) !== null;",
        vec![json!(by_testid(id))],
    )
    .await
    .expect("query the page")
        == json!(true)
}

/// Waits until the capacity element says `state`, and returns its words (in lower case:
/// the style sheet shows them in capitals).
async fn wait_for_capacity(page: &Client, state: &str) -> String {
    eventually(&format!("the capacity to be {state}"), || async {
        if attr_of(page, "capacity", "data-state").await.as_deref() != Some(state) {
            return None;
        }
        text_of(page, "capacity")
            .await
            .map(|text| text.to_lowercase())
    })
    .await
}

/// The computed colour of the capacity element's background.
async fn capacity_colour(page: &Client) -> String {
    page.execute(
        "return getComputedStyle(document.querySelector('[data-testid=capacity]')).backgroundColor;",
        vec![],
    )
    .await
    .expect("read the colour")
    .as_str()
    .expect("a colour")
    .to_owned()
}

/// The value the service holds for `name`.
async fn value_of(replica: &Replica, name: &str) -> i64 {
    replica.state(name).await.value
}

/// A `localStorage` entry of the page.
async fn stored(page: &Client, entry: &str) -> Value {
    page.execute(
        "return localStorage.getItem(arguments[0]);",
        vec![json!(entry)],
    )
    .await
    .expect("read localStorage")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_watch_staff_count_undo_label_and_see_capacity_until_the_key_is_rotated() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(2, &[]).await;
    let (first, second) = (&cluster.replicas[0], &cluster.replicas[1]);
    let created = owned::create(
        first,
        json!({ "name": "door-2", "title": "North hall", "capacity": 4 }),
    )
    .await;

    let mut driver = Driver::start().await;
    let viewer = driver.browser().await;
    let staff = driver.browser().await;

    // A viewer (the plain link) sees the number live, no buttons, and how to count.
    viewer
        .goto(&second.url("/c/door-2"))
        .await
        .expect("open as a viewer");
    wait_for_role(&viewer, "viewer").await;
    wait_for_count(&viewer, 0).await;
    for button in ["increment", "decrement", "undo", "label"] {
        assert!(!present(&viewer, button).await, "a viewer has no {button}");
    }
    let owned_notice = text_of(&viewer, "owned-notice").await.expect("the notice");
    assert!(
        owned_notice.contains("owned") && owned_notice.contains("staff link"),
        "{owned_notice}"
    );
    assert!(
        text_of(&viewer, "count").await.is_some(),
        "the number is shown"
    );
    // Its keys do nothing either.
    press_key(&viewer, '+').await;

    // Staff open the staff link: the key is kept, the fragment leaves the address bar.
    let link = first.url(&format!("/c/door-2#staff={}", created.staff_key));
    staff.goto(&link).await.expect("open the staff link");
    wait_for_role(&staff, "staff").await;
    wait_for_status(&staff, "live").await;
    let address = staff.current_url().await.expect("the address");
    assert_eq!(address.fragment(), None, "{address}");
    assert_eq!(address.path(), "/c/door-2");
    assert_eq!(
        stored(&staff, "shared-counter:v2:key:door-2:staff").await,
        json!(created.staff_key)
    );
    assert_eq!(
        value_of(first, "door-2").await,
        0,
        "the viewer's key changed nothing"
    );
    assert_eq!(
        text_of(&staff, "count").await.as_deref(),
        Some("0"),
        "and its page showed nothing either"
    );
    let heading = staff
        .find(Locator::Css("#counter-name"))
        .await
        .expect("the heading")
        .text()
        .await
        .expect("its text");
    // (Shown in capitals by the style sheet.)
    assert_eq!(
        heading.to_lowercase(),
        "north hall",
        "the title from the meta frame"
    );

    // Capacity 4, nearly full at 3 (90 %): words and colour change on both screens.
    let room = wait_for_capacity(&staff, "normal").await;
    assert!(room.contains("0 of 4"), "{room}");
    let normal = capacity_colour(&staff).await;

    // Presses count on both replicas.
    click(&staff, "increment").await;
    click(&staff, "increment").await;
    wait_for_count(&viewer, 2).await;
    assert_eq!(value_of(second, "door-2").await, 2);

    // Undo takes back the last press, once.
    let undo = eventually("the undo button", || async {
        staff.find(Locator::Css(&by_testid("undo"))).await.ok()
    })
    .await;
    assert_eq!(
        undo.attr("aria-label").await.unwrap().as_deref(),
        Some("Undo the last press")
    );
    undo.click().await.expect("click undo");
    wait_for_count(&viewer, 1).await;
    wait_for_count(&staff, 1).await;
    eventually("the undo button to go once used", || async {
        (!present(&staff, "undo").await).then_some(())
    })
    .await;
    assert_eq!(value_of(first, "door-2").await, 1);
    // The window closes by itself after a press.
    click(&staff, "increment").await;
    wait_for_count(&viewer, 2).await;
    eventually("the undo button after a press", || async {
        present(&staff, "undo").await.then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert!(!present(&staff, "undo").await, "gone after its window");

    // A label for where they stand goes with each change and is kept on the device.
    let field = staff
        .find(Locator::Css(&by_testid("label")))
        .await
        .expect("the label field");
    field.send_keys("North door").await.expect("type a label");
    // Leaving the field commits it.
    staff
        .execute("document.activeElement.blur();", vec![])
        .await
        .expect("leave the field");
    click(&staff, "increment").await;
    wait_for_count(&viewer, 3).await;
    let warn = wait_for_capacity(&viewer, "warn").await;
    assert!(warn.contains("nearly full"), "{warn}");
    wait_for_capacity(&staff, "warn").await;
    let warn_colour = capacity_colour(&staff).await;
    assert_ne!(warn_colour, normal, "nearly full has its own colour");
    let history = request(
        first,
        "GET",
        "/api/counters/door-2/history",
        Some(&created.owner_key),
        None,
    )
    .await;
    assert_eq!(history.status, 200, "{}", history.body);
    let newest = &history.body["entries"][0];
    assert_eq!(
        (newest["kind"].as_str(), newest["label"].as_str()),
        (Some("increment"), Some("North door")),
        "{}",
        history.body
    );
    assert!(
        history.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["kind"] == json!("undo")),
        "the undo is in the history: {}",
        history.body
    );

    // Full at the capacity; a press past it still counts (people inside are inside).
    click(&staff, "increment").await;
    let full = wait_for_capacity(&viewer, "full").await;
    assert!(full.contains("full") && full.contains("4 of 4"), "{full}");
    wait_for_capacity(&staff, "full").await;
    assert_ne!(capacity_colour(&staff).await, warn_colour);
    click(&staff, "increment").await;
    wait_for_count(&viewer, 5).await;

    // A reload keeps the key and the label: still staff, no link needed.
    staff.refresh().await.expect("reload");
    wait_for_role(&staff, "staff").await;
    wait_for_status(&staff, "live").await;
    let label = staff
        .execute(
            "return document.querySelector('[data-testid=label]').value;",
            vec![],
        )
        .await
        .expect("the label field");
    assert_eq!(label, json!("North door"));

    // The owner rotates the staff key: the open staff page is told why and stops changing
    // the counter.
    let rotated = request(
        second,
        "POST",
        "/api/counters/door-2/keys/staff",
        Some(&created.owner_key),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    wait_for_role(&staff, "viewer").await;
    let told = eventually("the staff page to say why", || async {
        let text = text_of(&staff, "owned-notice").await?;
        text.contains("staff link no longer works").then_some(text)
    })
    .await;
    assert!(told.contains("ask the owner"), "{told}");
    assert!(
        !present(&staff, "increment").await,
        "no buttons that do nothing"
    );
    press_key(&staff, '+').await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        value_of(first, "door-2").await,
        5,
        "nothing changed after the rotation"
    );
    wait_for_count(&staff, 5).await;

    // The same after a reload: the old key is refused again, and said so.
    staff.refresh().await.expect("reload");
    wait_for_role(&staff, "viewer").await;
    eventually("the refusal after a reload", || async {
        text_of(&staff, "owned-notice")
            .await?
            .contains("no longer works")
            .then_some(())
    })
    .await;

    // The new staff link works at once.
    let new_key = rotated.body["key"].as_str().expect("the new key");
    staff
        .goto(&first.url(&format!("/c/door-2#staff={new_key}")))
        .await
        .expect("open the new link");
    wait_for_role(&staff, "staff").await;
    wait_for_status(&staff, "live").await;
    click(&staff, "decrement").await;
    wait_for_count(&viewer, 4).await;

    viewer.close().await.ok();
    staff.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_presses_of_a_rotated_key_are_settled_with_the_reason() {
    let _turn = browser_turn().await;
    let mut cluster = owned::redis(2, &[]).await;
    let created = owned::create(&cluster.replicas[0], json!({ "name": "door-5" })).await;
    let mut driver = Driver::start().await;
    let staff = driver.browser().await;
    staff
        .goto(&cluster.replicas[0].url(&format!("/c/door-5#staff={}", created.staff_key)))
        .await
        .expect("open the staff link");
    wait_for_role(&staff, "staff").await;
    wait_for_status(&staff, "live").await;

    // The server goes away; two presses wait on the device.
    cluster.replicas[0].kill9().await;
    wait_for_status(&staff, "reconnecting").await;
    click(&staff, "increment").await;
    click(&staff, "increment").await;
    wait_for_count(&staff, 2).await;

    // The owner rotates the key meanwhile (on the other replica), and the page's replica
    // comes back: the presses never count, and the page says why instead of retrying them
    // forever.
    let rotated = request(
        &cluster.replicas[1],
        "POST",
        "/api/counters/door-5/keys/staff",
        Some(&created.owner_key),
        None,
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    cluster.replicas[0].restart().await;
    wait_for_role(&staff, "viewer").await;
    wait_for_count(&staff, 0).await;
    let (text, alert) = notice(&staff).await;
    assert!(text.contains("no longer works") && alert, "{text}");
    assert_eq!(cluster.replicas[0].state("door-5").await.value, 0);
    let kept = staff
        .execute(
            "return JSON.parse(localStorage.getItem('shared-counter:v1:door-5')).ops.length;",
            vec![],
        )
        .await
        .expect("the queue");
    assert_eq!(kept, json!(0), "nothing kept to resend");
    staff.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_display_shows_the_number_big_without_buttons_and_says_when_it_is_not_live() {
    let _turn = browser_turn().await;
    let mut cluster = owned::redis(2, &[]).await;
    let created = owned::create(
        &cluster.replicas[0],
        json!({ "name": "entrance", "title": "Main entrance", "capacity": 10 }),
    )
    .await;
    let mut driver = Driver::start().await;
    let display = driver.browser().await;
    display
        .goto(&cluster.replicas[1].url("/c/entrance/display"))
        .await
        .expect("open the display");
    wait_for_status(&display, "live").await;
    wait_for_count(&display, 0).await;
    for button in ["increment", "decrement", "undo"] {
        assert!(
            !present(&display, button).await,
            "no {button} on the display"
        );
    }
    let buttons = display
        .execute("return document.querySelectorAll('button').length;", vec![])
        .await
        .unwrap();
    assert_eq!(buttons, json!(0), "no buttons at all");
    let title = text_of(&display, "count").await;
    assert_eq!(title.as_deref(), Some("0"));
    assert!(
        display
            .find(Locator::Css(".display-title"))
            .await
            .expect("the title")
            .text()
            .await
            .unwrap()
            .contains("Main entrance")
    );

    // Changes from staff elsewhere show live, with the capacity bar.
    for _ in 0..9 {
        owned::change(
            &cluster.replicas[0],
            "entrance",
            1,
            Some(&created.staff_key),
        )
        .await;
    }
    wait_for_count(&display, 9).await;
    let words = wait_for_capacity(&display, "warn").await;
    assert!(words.contains("nearly full"), "{words}");
    owned::change(
        &cluster.replicas[0],
        "entrance",
        1,
        Some(&created.staff_key),
    )
    .await;
    let words = wait_for_capacity(&display, "full").await;
    assert!(words.contains("full"), "{words}");
    let bar = display
        .execute(
            "return document.querySelector('[data-testid=capacity] .bar-fill').style.width;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(bar, json!("100%"));

    // As large as the screen allows: the number spans most of the width.
    let (number, screen) = serde_json::from_value::<(f64, f64)>(
        display
            .execute(
                "const box = document.querySelector('[data-testid=count]').getBoundingClientRect();\
                 return [box.width, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        number > screen * 0.4,
        "the number is {number}px of {screen}px"
    );
    assert!(
        !present(&display, "not-live").await,
        "no warning while live"
    );

    // The replica it watches dies: the screen says it is not live, and since when.
    cluster.replicas[1].kill9().await;
    let sign = eventually("the not-live sign", || async {
        text_of(&display, "not-live").await
    })
    .await;
    assert!(sign.contains("Not live since"), "{sign}");
    wait_for_count(&display, 10).await;
    display.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_deleted_counters_say_so_instead_of_reconnecting() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(1, &[]).await;
    let replica = &cluster.replicas[0];
    let mut driver = Driver::start().await;
    let page = driver.browser().await;

    page.goto(&replica.url("/c/nobody-here"))
        .await
        .expect("open an unknown name");
    let said = eventually("the no-such-counter page", || async {
        text_of(&page, "not-found").await
    })
    .await;
    assert!(said.contains("No such counter"), "{said}");
    let create = page
        .find(Locator::Css("[data-testid=not-found] a[href='/new']"))
        .await
        .expect("a link to create one");
    assert!(create.text().await.unwrap().contains("Create"));
    assert!(!present(&page, "increment").await);

    // A counter deleted under an open page: the page says it is gone.
    let created = owned::create(replica, json!({ "name": "short-lived" })).await;
    page.goto(&replica.url(&format!("/c/short-lived#owner={}", created.owner_key)))
        .await
        .expect("open as the owner");
    wait_for_role(&page, "owner").await;
    // The owner's page has the owner's panel (tested in full in `owner.rs`).
    eventually("the owner's panel", || async {
        present(&page, "owner-panel").await.then_some(())
    })
    .await;
    let deleted = request(
        replica,
        "DELETE",
        "/api/counters/short-lived",
        Some(&created.owner_key),
        None,
    )
    .await;
    assert!(deleted.status < 300, "{}", deleted.body);
    let said = eventually("the deleted page", || async {
        text_of(&page, "deleted").await
    })
    .await;
    assert!(said.contains("gone"), "{said}");

    // "New counter" on the app bar opens the form.
    page.goto(&replica.url("/"))
        .await
        .expect("open the shared counter");
    wait_for_status(&page, "live").await;
    click(&page, "new-counter").await;
    eventually("the New counter form", || async {
        present(&page, "create").await.then_some(())
    })
    .await;
    assert_eq!(page.current_url().await.unwrap().path(), "/new");
    page.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_app_opens_on_its_last_counter_and_view_with_its_key() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(1, &[]).await;
    let replica = &cluster.replicas[0];
    let created = owned::create(replica, json!({ "name": "door-4" })).await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;

    // Without a last place the app starts on the shared counter, as before.
    page.goto(&replica.url("/?start=app")).await.expect("start");
    wait_for_status(&page, "live").await;
    wait_for_role(&page, "staff").await;

    page.goto(&replica.url(&format!("/c/door-4#staff={}", created.staff_key)))
        .await
        .expect("open the staff link");
    wait_for_role(&page, "staff").await;
    // The manifest's start_url.
    let manifest = reqwest::get(replica.url("/manifest.webmanifest"))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let start = manifest["start_url"]
        .as_str()
        .expect("start_url")
        .to_owned();
    page.goto(&replica.url(&start))
        .await
        .expect("start the app");
    wait_for_role(&page, "staff").await;
    wait_for_status(&page, "live").await;
    let address = page.current_url().await.unwrap();
    assert_eq!(address.path(), "/c/door-4", "{address}");
    click(&page, "increment").await;
    eventually("the press to count", || async {
        (replica.state("door-4").await.value == 1).then_some(())
    })
    .await;

    // Last used as a display: it opens as the display.
    page.goto(&replica.url("/c/door-4/display"))
        .await
        .expect("open the display");
    wait_for_count(&page, 1).await;
    page.goto(&replica.url(&start))
        .await
        .expect("start the app");
    wait_for_count(&page, 1).await;
    assert_eq!(
        page.current_url().await.unwrap().path(),
        "/c/door-4/display"
    );
    assert!(!present(&page, "increment").await);
    page.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_screenshots_of_the_staff_and_display_views() {
    let _turn = browser_turn().await;
    let cluster = owned::redis(1, &[]).await;
    let replica = &cluster.replicas[0];
    let created = owned::create(
        replica,
        json!({ "name": "main-entrance", "title": "Main entrance", "capacity": 150 }),
    )
    .await;
    for _ in 0..4 {
        owned::change(replica, "main-entrance", 34, Some(&created.staff_key)).await;
    }
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    let folder = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    driver
        .cdp(
            &page,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 360, "height": 640, "deviceScaleFactor": 2, "mobile": true }),
        )
        .await;
    driver
        .cdp(
            &page,
            "Emulation.setEmulatedMedia",
            json!({ "features": [
                { "name": "prefers-color-scheme", "value": "light" },
                { "name": "prefers-reduced-motion", "value": "reduce" },
            ] }),
        )
        .await;
    let shots = [
        (
            format!("/c/main-entrance#staff={}", created.staff_key),
            "staff.png",
        ),
        ("/c/main-entrance/display".to_owned(), "display.png"),
    ];
    for (path, file) in shots {
        page.goto(&replica.url(&path)).await.expect("open");
        wait_for_status(&page, "live").await;
        wait_for_count(&page, 136).await;
        wait_for_capacity(&page, "warn").await;
        if file == "staff.png" {
            wait_for_role(&page, "staff").await;
            let field = page
                .find(Locator::Css(&by_testid("label")))
                .await
                .expect("label");
            field.send_keys("North door").await.unwrap();
            page.execute("document.activeElement.blur();", vec![])
                .await
                .unwrap();
        }
        let width = eventually("the phone viewport", || async {
            let width = page
                .execute(
                    "return [window.innerWidth, document.documentElement.scrollWidth];",
                    vec![],
                )
                .await
                .ok()?;
            (width[0] == json!(360)).then_some(width)
        })
        .await;
        assert_eq!(width[1], json!(360), "{file}: nothing wider than the phone");
        let layout = page.execute(LAYOUT_PROBLEMS, vec![]).await.unwrap();
        assert_eq!(layout, json!([]), "{file} at 360×640");
        let png = page.screenshot().await.expect("screenshot");
        std::fs::write(folder.join(file), png).expect("write the screenshot");
    }
    page.close().await.ok();
}
