//! Today's ins, outs and peak as two SVG charts drawn in the page: per hour (bars for ins
//! and outs, a line for the peak) and per label (a bar pair per door or person).

use yew::prelude::*;

use crate::today::{Flow, Today};

/// The hourly chart's plot area, in SVG units.
const PLOT_LEFT: f64 = 28.0;
const PLOT_WIDTH: f64 = 312.0;
const PLOT_HEIGHT: f64 = 120.0;
const PLOT_TOP: f64 = 8.0;
/// The label chart: where bars start, their longest length and one row's height.
const LABEL_BARS_LEFT: f64 = 110.0;
const LABEL_BARS_WIDTH: f64 = 190.0;
const LABEL_ROW: f64 = 26.0;

/// The day's two charts and their totals in words.
pub fn history_chart(today: &Today) -> Html {
    let summary = match today.peak {
        Some(peak) => format!(
            "Today: {} in, {} out, peak {peak}.",
            today.total.ins, today.total.outs
        ),
        None => "Nothing counted today yet.".to_owned(),
    };
    html! {
        <div class="history-chart" data-testid="history-chart">
            <p class="chart-summary" data-testid="today-summary">{ summary }</p>
            { hourly(today) }
            { per_label(today) }
            <p class="chart-legend" aria-hidden="true">
                <span class="key key-in"></span>{ " in " }
                <span class="key key-out"></span>{ " out " }
                <span class="key key-peak"></span>{ " peak" }
            </p>
        </div>
    }
}

/// Bars of ins and outs per hour, on one scale; the peak as a line on its own scale.
fn hourly(today: &Today) -> Html {
    let most = today
        .hours
        .iter()
        .map(|hour| hour.flow.ins.max(hour.flow.outs))
        .max()
        .unwrap_or(0);
    let highest_peak = today.peak.unwrap_or(0).max(1);
    let slot = PLOT_WIDTH / today.hours.len().max(1) as f64;
    let base = PLOT_TOP + PLOT_HEIGHT;
    let bars = today.hours.iter().enumerate().map(|(index, hour)| {
        let x = PLOT_LEFT + index as f64 * slot;
        let tip = format!(
            "{index}:00–{}:00: {} in, {} out{}",
            index + 1,
            hour.flow.ins,
            hour.flow.outs,
            hour.peak.map(|p| format!(", peak {p}")).unwrap_or_default()
        );
        let bar = |kind: &'static str, amount: u64, offset: f64| {
            let height = bar_length(amount, most, PLOT_HEIGHT);
            html! {
                <rect class={format!("bar-{kind}")} data-kind={kind} data-hour={index.to_string()}
                    data-value={amount.to_string()}
                    x={fmt(x + offset)} y={fmt(base - height)} width={fmt(slot * 0.4)} height={fmt(height)}>
                    <title>{ tip.clone() }</title>
                </rect>
            }
        };
        html! {
            <g>
                { (hour.flow != Flow::default()).then(|| html! {
                    <>{ bar("in", hour.flow.ins, slot * 0.1) }{ bar("out", hour.flow.outs, slot * 0.5) }</>
                }) }
                { (index % 3 == 0).then(|| html! {
                    <text class="axis" x={fmt(x + slot / 2.0)} y={fmt(base + 12.0)} text-anchor="middle">
                        { index.to_string() }
                    </text>
                }) }
            </g>
        }
    });
    // Clamped to zero: a negative value (more out than in) sits on the axis.
    let peak_points: Vec<String> = today
        .hours
        .iter()
        .enumerate()
        .filter_map(|(index, hour)| {
            let peak = hour.peak?.max(0) as u64;
            let x = PLOT_LEFT + (index as f64 + 0.5) * slot;
            let y = base - bar_length(peak, highest_peak as u64, PLOT_HEIGHT);
            Some(format!("{},{}", fmt(x), fmt(y)))
        })
        .collect();
    html! {
        <svg class="chart chart-hours" viewBox="0 0 344 148" role="img"
            aria-label="Ins, outs and peak per hour today">
            <line class="axis-line" x1={fmt(PLOT_LEFT)} x2={fmt(PLOT_LEFT + PLOT_WIDTH)}
                y1={fmt(base)} y2={fmt(base)} />
            <text class="axis" x="0" y={fmt(PLOT_TOP + 8.0)}>{ most.to_string() }</text>
            { for bars }
            { (!peak_points.is_empty()).then(|| html! {
                <polyline class="peak-line" data-testid="peak-line" points={peak_points.join(" ")} fill="none" />
            }) }
        </svg>
    }
}

/// One row per label: its ins and outs as two bars on one scale.
fn per_label(today: &Today) -> Html {
    if today.labels.is_empty() {
        return html! {};
    }
    let most = today
        .labels
        .iter()
        .map(|label| label.flow.ins.max(label.flow.outs))
        .max()
        .unwrap_or(0);
    let height = today.labels.len() as f64 * LABEL_ROW + 4.0;
    let rows = today.labels.iter().enumerate().map(|(index, label)| {
        let y = 4.0 + index as f64 * LABEL_ROW;
        let name = if label.label.is_empty() {
            "(no label)".to_owned()
        } else {
            label.label.clone()
        };
        let bar = |kind: &'static str, amount: u64, offset: f64| {
            let length = bar_length(amount, most, LABEL_BARS_WIDTH);
            html! {
                <rect class={format!("bar-{kind}")} data-kind={kind} data-label={label.label.clone()}
                    data-value={amount.to_string()}
                    x={fmt(LABEL_BARS_LEFT)} y={fmt(y + offset)} width={fmt(length)} height="9">
                    <title>{ format!("{name}: {amount} {kind}") }</title>
                </rect>
            }
        };
        html! {
            <g>
                <text class="label-name" x="0" y={fmt(y + 14.0)}>{ shorten(&name, 16) }</text>
                { bar("in", label.flow.ins, 1.0) }
                { bar("out", label.flow.outs, 11.0) }
                <text class="axis" x={fmt(LABEL_BARS_LEFT + LABEL_BARS_WIDTH + 4.0)} y={fmt(y + 14.0)}>
                    { format!("+{} −{}", label.flow.ins, label.flow.outs) }
                </text>
            </g>
        }
    });
    html! {
        <svg class="chart chart-labels" viewBox={format!("0 0 344 {}", fmt(height))} role="img"
            aria-label="Ins and outs per label today">
            { for rows }
        </svg>
    }
}

/// The length of a bar for `amount` when `most` fills `full`; a non-zero amount is never
/// thinner than one unit, so it stays visible.
pub fn bar_length(amount: u64, most: u64, full: f64) -> f64 {
    if amount == 0 || most == 0 {
        return 0.0;
    }
    (amount as f64 / most as f64 * full).max(1.0)
}

/// A coordinate with at most one decimal, to keep the SVG short. Formatted as integers:
/// Rust's float formatting would add about 10 KB to the app's download.
fn fmt(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let sign = if tenths < 0 { "-" } else { "" };
    let (whole, tenth) = (tenths.unsigned_abs() / 10, tenths.unsigned_abs() % 10);
    if tenth == 0 {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{tenth}")
    }
}

/// `text` cut to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_stay_visible() {
        assert_eq!(bar_length(0, 10, 120.0), 0.0);
        assert_eq!(bar_length(10, 10, 120.0), 120.0);
        assert_eq!(bar_length(5, 10, 120.0), 60.0);
        assert_eq!(bar_length(1, 1000, 120.0), 1.0);
        assert_eq!(bar_length(3, 0, 120.0), 0.0);
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(fmt(12.0), "12");
        assert_eq!(fmt(12.345), "12.3");
        assert_eq!(fmt(0.96), "1");
        assert_eq!(fmt(-0.5), "-0.5");
        assert_eq!(shorten("north door", 16), "north door");
        assert_eq!(shorten("a very long label text", 8), "a very …");
    }
}
