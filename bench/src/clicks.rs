//! Benchmark 5, click latency in browsers: K pages of one counter over the two replicas, one
//! of them clicked; per click, where the time goes until every other page shows the new
//! number, and the same change made by plain WebSocket clients in the same run (the floor).
//!
//! Method. Each page is its own headless Chromium (its own WebDriver session, browser process
//! and renderer), not a tab of one browser: a browser shows one tab and throttles the hidden
//! ones, and tabs of one site may share a renderer process and its main thread, so a page
//! would wait for another's work. The flags below also stop the throttling of pages that are
//! not focused. Page `i` opens `/c/{counter}` on replica `i mod 2`; page 0 is clicked.
//!
//! A probe injected before the app ([`page_log`]) records in each page, on one clock shared
//! by all: the click, the app's `send`, each state frame's arrival and each new number on
//! screen. The click is real input: a mouse press and release on the increment button's centre
//! through DevTools (`Input.dispatchMouseEvent`), which the browser delivers as it would a
//! mouse's. After each click the bench waits [`PAUSE`] without touching the pages, then polls
//! them until every other page shows the new number (at most [`SHOW_TIMEOUT`]); the records
//! are read once at the end, so nothing but the app runs in the pages while a click travels.
//! The first [`WARM_UP_CLICKS`] clicks are made the same way and forgotten.
//!
//! Each K runs twice, or three times: with pages of the app, with the plain page
//! ([`plain_page`]), the least a page can do, so that the browser's own cost per page is
//! measured beside the app's, and, when Node.js is installed, with the socket.io page on two
//! socket.io servers over the same Redis ([`socketio`]), the idiomatic design the app is to be
//! never behind. The floor is the app's in every column: the socket.io page's ratio to it says
//! how far socket.io's path is from this server's.
//!
//! Per K it reports, p50 and p95: click → send (clicking page), send → state frame (first
//! other page, and every other page), frame → number written (every other page), click →
//! last page shows it, the floor ([`floor`]) and the ratio of click → last page to the floor;
//! and the CPU time all browsers and the replicas spent from each click until the pause after
//! it was over (the input through DevTools included, the polling after it not), from `/proc`.
//! "Shows" is the number in the DOM as a `MutationObserver` sees it; painting is not counted.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::chromium::{Browser, ChromeDriver};
use crate::floor;
use crate::harness::Bench;
use crate::latency::Percentiles;
use crate::page_log::{self, PageLog};
use crate::plain_page;
use crate::socketio;
use crate::usage;

/// Flags beside the usual headless ones: no throttling of timers or of renderers of pages
/// that are not focused or are hidden, and a phone-sized window.
const UNTHROTTLED: [&str; 4] = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--window-size=390,844",
];
/// The quiet time after a click before the pages are asked whether they show it, and between
/// clicks: long enough for a click to reach every page untouched by the bench's polling.
const PAUSE: Duration = Duration::from_millis(200);
/// How long after a click every page must show it before the run is abandoned.
const SHOW_TIMEOUT: Duration = Duration::from_secs(5);
/// Clicks made before the measured ones, on every kind of page, and not counted: the first
/// clicks after a server starts run its code cold (the socket.io servers' JavaScript is
/// interpreted until V8 compiles it), which a server that has been up a while does not.
const WARM_UP_CLICKS: usize = 5;
/// How many pauses' worth of idle browsers are measured, for their CPU time without clicks.
const IDLE_WINDOWS: u32 = 10;
/// How long a page may take to load and go live.
const LIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one K may take in all; every step inside is bounded too.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Which page the browsers open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Page {
    /// The app, as users get it.
    App,
    /// The plain page: a text node and a socket, the browser's floor.
    Plain,
    /// The plain page with a socket.io client, on the socket.io servers.
    SocketIo,
}

impl Page {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Page::App => "app",
            Page::Plain => "plain page",
            Page::SocketIo => "socket.io",
        }
    }

    /// The page's path on a replica for `counter`.
    fn path(self, counter: &str) -> String {
        match self {
            Page::App => format!("/c/{counter}"),
            Page::Plain => plain_page::path(counter),
            Page::SocketIo => socketio::path(counter),
        }
    }
}

/// The servers a kind of page is opened on, one per replica.
struct Site {
    /// The base URL of each replica, `http://ADDR`.
    replicas: Vec<String>,
    /// Their processes, for CPU accounting.
    pids: Vec<Option<u32>>,
}

impl Site {
    fn of(bench: &Bench, socketio: Option<&socketio::Servers>, page: Page) -> Result<Site> {
        Ok(match page {
            Page::App | Page::Plain => Site {
                replicas: bench.replicas.iter().map(|r| r.http_url("")).collect(),
                pids: bench.system_pids().replicas,
            },
            Page::SocketIo => {
                let servers = socketio.context("no socket.io servers")?;
                Site {
                    replicas: (0..servers.len())
                        .map(|i| servers.http_url(i, ""))
                        .collect(),
                    pids: servers.pids(),
                }
            }
        })
    }
}

/// One K of the click benchmark, with one kind of page.
#[derive(Debug, Serialize)]
pub struct ClickResult {
    /// Pages open on the counter (K), spread over the replicas; one of them is clicked.
    pub pages: usize,
    /// The app, the plain page or the socket.io page.
    pub page: Page,
    /// Clicks made.
    pub clicks: usize,
    /// Clicks some page has no record of: left out of every figure below.
    pub incomplete: usize,
    /// Click → the clicking page's `send`.
    pub click_to_send: Percentiles,
    /// `send` → the first other page's state frame: network and server, as clients see them.
    pub send_to_first_message: Percentiles,
    /// `send` → each other page's state frame.
    pub send_to_message: Percentiles,
    /// Each other page's state frame → its number written.
    pub message_to_shown: Percentiles,
    /// Click → the last other page shows the number: the figure the target is set on.
    pub click_to_last_shown: Percentiles,
    /// Send → the last plain WebSocket subscriber has the state, same run, same pacing.
    pub floor: Percentiles,
    /// `click_to_last_shown` over `floor`, at p50.
    pub ratio_p50: f64,
    /// `click_to_last_shown` over `floor`, at p95.
    pub ratio_p95: f64,
    /// CPU time of all the browsers' processes per click, in milliseconds: with the pages'
    /// work shared out over the cores, what makes K pages slower than two.
    pub browser_cpu_ms_per_click: f64,
    /// CPU time of the replicas (for the socket.io page, its servers) per click, in
    /// milliseconds.
    pub replica_cpu_ms_per_click: f64,
    /// CPU time of all the browsers over as long without a click, in milliseconds: the part
    /// of `browser_cpu_ms_per_click` the click did not cause.
    pub browser_idle_cpu_ms: f64,
    /// The largest difference between two pages' clocks, by [`page_log::CLOCK_OFFSET`]: the
    /// cross-page figures are good to about this much.
    pub clock_spread_ms: f64,
}

/// Measures each K of the plan with each kind of page: the socket.io page only when its
/// servers are given.
pub async fn run(
    bench: &mut Bench,
    socketio: Option<&socketio::Servers>,
) -> Result<Vec<ClickResult>> {
    let driver = ChromeDriver::start().await?;
    let mut kinds = vec![Page::App, Page::Plain];
    kinds.extend(socketio.map(|_| Page::SocketIo));
    let mut results = Vec::new();
    for pages in bench.plan.click_pages.clone() {
        for &page in &kinds {
            let site = Site::of(bench, socketio, page)?;
            eprintln!(
                "clicks: {pages} pages ({}) over {} replicas, {} clicks",
                page.label(),
                site.replicas.len(),
                bench.plan.clicks
            );
            let mut browsers = Vec::with_capacity(pages);
            let outcome = tokio::time::timeout(
                RUN_TIMEOUT,
                measure(bench, &driver, pages, page, &site, &mut browsers),
            )
            .await;
            for browser in browsers {
                browser.close().await;
            }
            let result = outcome
                .map_err(|_| anyhow::anyhow!("took longer than {RUN_TIMEOUT:?}"))
                .and_then(|outcome| outcome)
                .with_context(|| format!("{pages} pages ({})", page.label()))?;
            eprintln!(
                "    click → last page p50 {:.1} ms, p95 {:.1} ms; floor p50 {:.1} ms ({:.1}×)",
                result.click_to_last_shown.p50_ms,
                result.click_to_last_shown.p95_ms,
                result.floor.p50_ms,
                result.ratio_p50
            );
            results.push(result);
        }
    }
    Ok(results)
}

/// Opens `pages` pages into `browsers` (so that the caller closes them whatever happens),
/// clicks, and measures the floor.
async fn measure(
    bench: &mut Bench,
    driver: &ChromeDriver,
    pages: usize,
    page: Page,
    site: &Site,
    browsers: &mut Vec<Browser>,
) -> Result<ClickResult> {
    if pages < 2 {
        bail!("the click benchmark needs a page to click and one to watch");
    }
    let counter = format!("bench-clicks-{pages}-{page:?}").to_lowercase();
    let mut first_value = None;
    for index in 0..pages {
        let replica = &site.replicas[index % site.replicas.len()];
        browsers.push(driver.browser(&UNTHROTTLED).await?);
        let url = format!("{replica}{}", page.path(&counter));
        let value = open(&browsers[index], &url).await?;
        first_value.get_or_insert(value);
    }
    // Every page that opened sent every other a presence frame; let them settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut first_value = first_value.context("no page")?;
    let clock_spread_ms = clock_spread(browsers).await?;

    let (clicker, others) = browsers.split_first().context("no page")?;
    let centre = clicker
        .client
        .execute(page_log::INCREMENT_CENTRE, Vec::new())
        .await?;
    let (x, y) = (centre[0].as_f64(), centre[1].as_f64());
    let (Some(x), Some(y)) = (x, y) else {
        bail!("no increment button: {centre}");
    };
    let browser_pids: Vec<Option<u32>> =
        browsers.iter().flat_map(Browser::pids).map(Some).collect();
    let replica_pids = &site.pids;
    for value in (first_value + 1..).take(WARM_UP_CLICKS) {
        click(clicker, x, y).await?;
        tokio::time::sleep(PAUSE).await;
        wait_until_shown(others, value).await?;
    }
    first_value += WARM_UP_CLICKS as i64;
    for browser in browsers.iter() {
        browser.client.execute(page_log::FORGET, Vec::new()).await?;
    }
    let idle_before = cpu_ticks(&browser_pids);
    tokio::time::sleep(PAUSE * IDLE_WINDOWS).await;
    let idle_ticks = cpu_ticks(&browser_pids).saturating_sub(idle_before);
    // CPU is counted from just before each click until the pause after it is over, so the
    // polling that follows is left out.
    let (mut browser_ticks, mut replica_ticks) = (0, 0);
    for (value, _) in (first_value + 1..).zip(0..bench.plan.clicks) {
        let before = (cpu_ticks(&browser_pids), cpu_ticks(replica_pids));
        click(clicker, x, y).await?;
        tokio::time::sleep(PAUSE).await;
        browser_ticks += cpu_ticks(&browser_pids).saturating_sub(before.0);
        replica_ticks += cpu_ticks(replica_pids).saturating_sub(before.1);
        wait_until_shown(others, value).await?;
    }
    let clicks = bench.plan.clicks;
    let ticks_per_second = bench.ticks_per_second;
    let ms_per_click = |ticks: u64| ticks as f64 / ticks_per_second * 1000.0 / clicks.max(1) as f64;

    let clicker_log = read_log(clicker).await?;
    let mut other_logs = Vec::with_capacity(others.len());
    for page in others {
        other_logs.push(read_log(page).await?);
    }
    let timings = page_log::timings(&clicker_log, &other_logs, first_value);

    let floor = floor::measure(bench, &format!("{counter}-floor"), clicks, PAUSE)
        .await
        .context("the floor")?;
    let floor = Percentiles::of(&floor);
    let click_to_last_shown = Percentiles::of(&timings.click_to_last_shown);
    Ok(ClickResult {
        pages,
        page,
        clicks,
        incomplete: timings.incomplete,
        click_to_send: Percentiles::of(&timings.click_to_send),
        send_to_first_message: Percentiles::of(&timings.send_to_first_message),
        send_to_message: Percentiles::of(&timings.send_to_message),
        message_to_shown: Percentiles::of(&timings.message_to_shown),
        ratio_p50: click_to_last_shown.p50_ms / floor.p50_ms,
        ratio_p95: click_to_last_shown.p95_ms / floor.p95_ms,
        click_to_last_shown,
        floor,
        browser_cpu_ms_per_click: ms_per_click(browser_ticks),
        browser_idle_cpu_ms: idle_ticks as f64 / ticks_per_second * 1000.0
            / f64::from(IDLE_WINDOWS),
        replica_cpu_ms_per_click: ms_per_click(replica_ticks),
        clock_spread_ms,
    })
}

/// Loads `url` with the probe in place and waits until the page is live; returns the value
/// it shows.
async fn open(browser: &Browser, url: &str) -> Result<i64> {
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": page_log::PROBE}),
        )
        .await?;
    browser.client.goto(url).await?;
    let started = tokio::time::Instant::now();
    while started.elapsed() < LIVE_TIMEOUT {
        let value = browser
            .client
            .execute(page_log::LIVE_VALUE, Vec::new())
            .await?;
        if let Some(value) = value.as_i64() {
            return Ok(value);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} was not live within {LIVE_TIMEOUT:?}")
}

/// The largest difference between the pages' clocks.
async fn clock_spread(browsers: &[Browser]) -> Result<f64> {
    let mut offsets = Vec::with_capacity(browsers.len());
    for browser in browsers {
        let offset = browser
            .client
            .execute(page_log::CLOCK_OFFSET, Vec::new())
            .await?;
        offsets.push(
            offset
                .as_f64()
                .context("the clock offset is not a number")?,
        );
    }
    let highest = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lowest = offsets.iter().copied().fold(f64::INFINITY, f64::min);
    Ok(highest - lowest)
}

/// A left mouse button pressed and released at (x, y) of the page.
async fn click(browser: &Browser, x: f64, y: f64) -> Result<()> {
    for kind in ["mousePressed", "mouseReleased"] {
        browser
            .cdp(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            )
            .await?;
    }
    Ok(())
}

/// Waits until every page in `pages` shows `value`.
async fn wait_until_shown(pages: &[Browser], value: i64) -> Result<()> {
    let started = tokio::time::Instant::now();
    for (index, page) in pages.iter().enumerate() {
        while page
            .client
            .execute(page_log::HAS_SHOWN, vec![Value::from(value)])
            .await?
            != Value::Bool(true)
        {
            if started.elapsed() > SHOW_TIMEOUT {
                bail!(
                    "page {} did not show {value} within {SHOW_TIMEOUT:?} of the click",
                    index + 2
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// User and system time of `pids` together, in clock ticks.
fn cpu_ticks(pids: &[Option<u32>]) -> u64 {
    pids.iter().map(|&pid| usage::sample(pid).cpu_ticks).sum()
}

async fn read_log(browser: &Browser) -> Result<PageLog> {
    let log = browser.client.execute(page_log::READ, Vec::new()).await?;
    serde_json::from_value(log).context("the page's records did not parse")
}
