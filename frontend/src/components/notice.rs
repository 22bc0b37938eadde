use yew::prelude::*;

use shared::ErrorCode;

use crate::state::{QUEUE_LIMIT, Refusal};

#[derive(PartialEq, Properties)]
pub struct NoticeProps {
    /// The server's last refusal, told here in words for people.
    pub error: Option<Refusal>,
    /// Whether the last press was refused because the offline queue is full.
    pub queue_full: bool,
    /// Presses dropped because they waited more than a day.
    pub expired: u64,
    /// Presses the server has not confirmed yet.
    pub unsettled: u64,
    /// Whether a socket is open: while it is, unsettled presses are settled within
    /// milliseconds and mentioning them would only flicker.
    pub live: bool,
    /// Whether the server refused this device's staff link (rotated): a `forbidden` is then
    /// told as that.
    #[prop_or_default]
    pub key_refused: bool,
}

/// One line between the number and the buttons: what went wrong, or where unsent presses
/// are. The line keeps its height when empty so the buttons never jump under a finger.
#[function_component]
pub fn Notice(props: &NoticeProps) -> Html {
    if let Some(error) = &props.error {
        return html! {
            <p class="notice error" role="alert">{ describe(error, props.key_refused) }</p>
        };
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

/// A refusal in words for the person who pressed; the server's own sentence is for developers
/// and is kept only for codes a press should never cause.
fn describe(refusal: &Refusal, key_refused: bool) -> String {
    match refusal.code {
        ErrorCode::Forbidden if key_refused => {
            "Your staff link no longer works; ask the owner for the new one.".into()
        }
        ErrorCode::Forbidden => {
            "This counter is owned: only staff with the staff link can change it.".into()
        }
        ErrorCode::Conflict => "That press was already undone.".into(),
        ErrorCode::NotFound => "That press can no longer be undone.".into(),
        ErrorCode::RateLimited => "Too many presses at once; sending them a little later.".into(),
        ErrorCode::Overflow => "The counter cannot go any further that way.".into(),
        ErrorCode::Unavailable => "The server cannot save presses right now; retrying.".into(),
        _ => format!("The server refused that: {}", refusal.message),
    }
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
    use super::*;

    #[test]
    fn an_overflow_is_told_in_words_for_people() {
        let refusal = Refusal {
            code: ErrorCode::Overflow,
            message: "too far".into(),
        };
        assert!(describe(&refusal, false).contains("cannot go any further"));
        let forbidden = Refusal {
            code: ErrorCode::Forbidden,
            message: "owned".into(),
        };
        assert!(describe(&forbidden, true).contains("staff link no longer works"));
        assert!(describe(&forbidden, false).contains("owned"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(super::separated(7), "7");
        assert_eq!(super::separated(1_000), "1,000");
        assert_eq!(super::separated(1_234_567), "1,234,567");
    }
}
