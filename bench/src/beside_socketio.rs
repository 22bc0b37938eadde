//! The app's click latency over socket.io's, per K, from the click results of one run: what
//! the report quotes, the results file keeps and the "never behind socket.io" target (issue
//! 11) judges. Both sides come from the same run, so the machine's load is the same for both.

use serde::Serialize;

use crate::clicks::{ClickResult, Page};

/// Click → last page shows it, the app beside socket.io, for one K.
#[derive(Debug, PartialEq, Serialize)]
pub struct BesideSocketIo {
    /// Pages open on the counter (K).
    pub pages: usize,
    /// The app's p50 and p95, in milliseconds.
    pub app_ms: (f64, f64),
    /// socket.io's p50 and p95, in milliseconds.
    pub socketio_ms: (f64, f64),
    /// The app's p50 over socket.io's: above 1, the app is behind.
    pub ratio_p50: f64,
    /// The app's p95 over socket.io's.
    pub ratio_p95: f64,
}

impl BesideSocketIo {
    /// Whether the app is not behind: its p50 and p95 both at most socket.io's.
    pub fn not_behind(&self) -> bool {
        self.app_ms.0 <= self.socketio_ms.0 && self.app_ms.1 <= self.socketio_ms.1
    }
}

/// One entry per K that has both an app and a socket.io run with samples, in the runs' order.
pub fn compare(runs: &[ClickResult]) -> Vec<BesideSocketIo> {
    let measured = |pages: usize, page: Page| {
        runs.iter()
            .find(|r| r.pages == pages && r.page == page && r.click_to_last_shown.samples > 0)
            .map(|r| (r.click_to_last_shown.p50_ms, r.click_to_last_shown.p95_ms))
    };
    runs.iter()
        .filter(|r| r.page == Page::App)
        .filter_map(|app| {
            let app_ms = measured(app.pages, Page::App)?;
            let socketio_ms = measured(app.pages, Page::SocketIo)?;
            Some(BesideSocketIo {
                pages: app.pages,
                app_ms,
                socketio_ms,
                ratio_p50: app_ms.0 / socketio_ms.0,
                ratio_p95: app_ms.1 / socketio_ms.1,
            })
        })
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::latency::Percentiles;

    /// A click result of `page` at K = `pages` whose click → last page is `ms` (p50, p95).
    pub fn run(pages: usize, page: Page, ms: (f64, f64)) -> ClickResult {
        ClickResult {
            pages,
            page,
            clicks: 50,
            incomplete: 0,
            click_to_send: Percentiles::default(),
            send_to_first_message: Percentiles::default(),
            send_to_message: Percentiles::default(),
            message_to_shown: Percentiles::default(),
            click_to_last_shown: Percentiles {
                samples: 50,
                p50_ms: ms.0,
                p95_ms: ms.1,
                max_ms: ms.1,
            },
            floor: Percentiles::default(),
            ratio_p50: 0.0,
            ratio_p95: 0.0,
            browser_cpu_ms_per_click: 0.0,
            replica_cpu_ms_per_click: 0.0,
            browser_idle_cpu_ms: 0.0,
            clock_spread_ms: 0.0,
        }
    }

    #[test]
    fn each_k_is_compared_with_socketio_of_the_same_k() {
        let runs = [
            run(2, Page::App, (10.0, 20.0)),
            run(2, Page::Plain, (5.0, 8.0)),
            run(2, Page::SocketIo, (8.0, 25.0)),
            run(8, Page::App, (12.0, 18.0)),
            run(8, Page::SocketIo, (16.0, 24.0)),
        ];
        let compared = compare(&runs);
        assert_eq!(compared.len(), 2);
        assert_eq!(compared[0].pages, 2);
        assert_eq!((compared[0].ratio_p50, compared[0].ratio_p95), (1.25, 0.8));
        // Behind at the median, though ahead at p95: behind.
        assert!(!compared[0].not_behind());
        assert_eq!((compared[1].ratio_p50, compared[1].ratio_p95), (0.75, 0.75));
        assert!(compared[1].not_behind());
    }

    #[test]
    fn no_socketio_run_no_comparison() {
        let runs = [
            run(2, Page::App, (10.0, 20.0)),
            run(2, Page::Plain, (5.0, 8.0)),
        ];
        assert!(compare(&runs).is_empty());
        let mut empty = run(2, Page::SocketIo, (0.0, 0.0));
        empty.click_to_last_shown.samples = 0;
        assert!(compare(&[run(2, Page::App, (10.0, 20.0)), empty]).is_empty());
    }
}
