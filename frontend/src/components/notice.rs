use yew::prelude::*;

use crate::state::QUEUE_LIMIT;

#[derive(PartialEq, Properties)]
pub struct NoticeProps {
    /// The server's last refusal, in words for people.
    pub error: Option<AttrValue>,
    /// Whether the last press was refused because the offline queue is full.
    pub queue_full: bool,
    /// Presses dropped because they waited more than a day.
    pub expired: u64,
    /// Presses the server has not confirmed yet.
    pub unsettled: u64,
    /// Whether a socket is open: while it is, unsettled presses are settled within
    /// milliseconds and mentioning them would only flicker.
    pub live: bool,
}

/// One line between the number and the buttons: what went wrong, or where unsent presses
/// are. The line keeps its height when empty so the buttons never jump under a finger.
#[function_component]
pub fn Notice(props: &NoticeProps) -> Html {
    if let Some(error) = &props.error {
        return html! { <p class="notice error" role="alert">{ error.clone() }</p> };
    }
    if props.queue_full {
        return html! {
            <p class="notice error" role="alert">
                { format!("{} presses are waiting — the most this device keeps. ", separated(QUEUE_LIMIT)) }
                { "Further presses count again once the connection is back." }
            </p>
        };
    }
    if props.expired > 0 {
        let presses = if props.expired == 1 {
            "press"
        } else {
            "presses"
        };
        return html! {
            <p class="notice error" role="alert">
                { format!("{} {presses} waited more than a day and were dropped.", separated(props.expired)) }
            </p>
        };
    }
    let text = match props.unsettled {
        0 => String::new(),
        _ if props.live => String::new(),
        1 => "1 press is saved on this device and is sent when the connection is back.".to_owned(),
        n => format!(
            "{} presses are saved on this device and are sent when the connection is back.",
            separated(n)
        ),
    };
    html! { <p class="notice">{ text }</p> }
}

/// `1000` as "1,000".
fn separated(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::separated(7), "7");
        assert_eq!(super::separated(1_000), "1,000");
        assert_eq!(super::separated(1_234_567), "1,234,567");
    }
}
