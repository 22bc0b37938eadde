use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct NoticeProps {
    /// The server's last refusal, in words for people.
    pub error: Option<AttrValue>,
    /// Presses the server has not confirmed yet.
    pub unsettled: u64,
    /// Whether a socket is open: while it is, unsettled presses are settled within
    /// milliseconds and mentioning them would only flicker.
    pub live: bool,
}

/// One line under the buttons: a refusal if there was one, else how many presses still wait
/// for the network. The line keeps its height when empty so the buttons never jump under a
/// finger.
#[function_component]
pub fn Notice(props: &NoticeProps) -> Html {
    if let Some(error) = &props.error {
        return html! { <p class="notice error" role="alert">{ error.clone() }</p> };
    }
    let text = match props.unsettled {
        0 => String::new(),
        _ if props.live => String::new(),
        1 => "1 press waits to be sent".to_owned(),
        n => format!("{n} presses wait to be sent"),
    };
    html! { <p class="notice">{ text }</p> }
}
