//! Screenshots of the app at a phone's and a laptop's size, light and dark, saved under
//! `target/screenshots/` for people to look at (the README shows one).

use serde_json::json;

use super::{Driver, browser_turn, wait_for_count, wait_for_status};
use crate::helpers::{Cluster, eventually, workspace_root};

/// What is wrong with the layout at the current size: content wider than the screen, or a
/// control smaller than a 48 px touch target.
pub(super) const LAYOUT_PROBLEMS: &str = "
    const problems = [];
    if (document.documentElement.scrollWidth > window.innerWidth) {
        problems.push(`page is ${document.documentElement.scrollWidth}px wide`);
    }
    for (const element of document.querySelectorAll('button, summary, a')) {
        const box = element.getBoundingClientRect();
        if (box.width < 48 || box.height < 48) {
            problems.push(`${element.outerHTML.slice(0, 60)} is ${box.width}x${box.height}`);
        }
    }
    return problems;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_at_phone_and_laptop_sizes_in_light_and_dark() {
    let _turn = browser_turn().await;
    let cluster = Cluster::embedded(&[]).await;
    cluster.replicas[0]
        .increment("main-entrance", 128, None)
        .await;
    let mut driver = Driver::start().await;
    let page = driver.browser().await;
    let other = driver.browser().await;
    let url = cluster.replicas[0].url("/c/main-entrance");
    other.goto(&url).await.expect("open a second page");
    page.goto(&url).await.expect("open page");
    wait_for_count(&page, 128).await;
    wait_for_status(&page, "live").await;
    eventually("presence to count both pages", || async {
        super::text_of(&page, "status")
            .await?
            .contains("2 here")
            .then_some(())
    })
    .await;

    let folder = workspace_root().join("target/screenshots");
    std::fs::create_dir_all(&folder).expect("create target/screenshots");
    for (width, height) in [(390, 844), (1280, 800), (320, 568), (1920, 1080)] {
        driver
            .cdp(
                &page,
                "Emulation.setDeviceMetricsOverride",
                json!({
                    "width": width,
                    "height": height,
                    "deviceScaleFactor": if width < 600 { 2 } else { 1 },
                    "mobile": width < 600,
                }),
            )
            .await;
        for scheme in ["light", "dark"] {
            driver
                .cdp(
                    &page,
                    "Emulation.setEmulatedMedia",
                    // Reduced motion turns the colour transitions off, so the shot never
                    // catches one halfway.
                    json!({ "features": [
                        { "name": "prefers-color-scheme", "value": scheme },
                        { "name": "prefers-reduced-motion", "value": "reduce" },
                    ] }),
                )
                .await;
            // The page must have re-rendered for the new size and scheme: wait until its
            // layout reports them.
            let probe = format!(
                "return window.innerWidth === {width} \
                 && matchMedia('(prefers-color-scheme: {scheme})').matches;"
            );
            eventually("the emulated viewport", || async {
                (page.execute(&probe, vec![]).await.ok()? == json!(true)).then_some(())
            })
            .await;
            let layout = page
                .execute(LAYOUT_PROBLEMS, vec![])
                .await
                .expect("measure the layout");
            assert_eq!(layout, json!([]), "at {width}×{height}");
            let png = page.screenshot().await.expect("screenshot");
            assert!(png.starts_with(b"\x89PNG"), "a PNG");
            let path = folder.join(format!("app-{width}x{height}-{scheme}.png"));
            std::fs::write(&path, png).expect("write screenshot");
        }
    }
    page.close().await.ok();
    other.close().await.ok();
}
