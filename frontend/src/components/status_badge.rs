use yew::prelude::*;

use crate::state::Status;

#[derive(PartialEq, Properties)]
pub struct StatusBadgeProps {
    /// The state of the link to the server.
    pub status: Status,
    /// How many people watch the counter, when the server has said.
    pub online: Option<u64>,
    /// Presses not confirmed by the server yet.
    pub pending: u64,
}

/// The connection indicator. Its `data-state` is what tests read; the words are for people,
/// and `role="status"` has screen readers announce a change without stealing focus.
#[function_component]
pub fn StatusBadge(props: &StatusBadgeProps) -> Html {
    let mut text = match (props.status, props.online) {
        (Status::Live, Some(1)) => "Live · only you here".to_owned(),
        (Status::Live, Some(online)) => format!("Live · {online} here"),
        (Status::Live, None) => "Live".to_owned(),
        (Status::Reconnecting, _) => "Reconnecting…".to_owned(),
        (Status::Offline, _) => "Offline".to_owned(),
    };
    if props.status != Status::Live && props.pending > 0 {
        text.push_str(&format!(" · {} to send", props.pending));
    }
    html! {
        <p class="status" role="status" data-testid="status" data-state={props.status.as_str()}>
            { text }
        </p>
    }
}
