use gloo_timers::callback::Timeout;
use yew::prelude::*;

use crate::web::{self, Shared};

/// How long the "Link copied" confirmation stays, in milliseconds.
const CONFIRMATION_MS: u32 = 2_500;

#[derive(PartialEq, Properties)]
pub struct ShareButtonProps {
    /// The title handed to the share sheet.
    pub title: AttrValue,
}

/// Shares the page's link: the system share sheet on phones, the clipboard elsewhere, with a
/// visible (and announced) confirmation.
#[function_component]
pub fn ShareButton(props: &ShareButtonProps) -> Html {
    let outcome = use_state(|| None::<Shared>);
    let timer = use_mut_ref(|| None::<Timeout>);
    let onclick = {
        let outcome = outcome.clone();
        let title = props.title.clone();
        Callback::from(move |_: MouseEvent| {
            let outcome = outcome.clone();
            let title = title.clone();
            let timer = timer.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let result = web::share(&title, &web::location_href()).await;
                if result == Shared::Sheet {
                    return;
                }
                outcome.set(Some(result));
                let clear = outcome.clone();
                *timer.borrow_mut() = Some(Timeout::new(CONFIRMATION_MS, move || clear.set(None)));
            });
        })
    };
    let (label, note) = match *outcome {
        Some(Shared::Copied) => ("Link copied", "Link copied to the clipboard".to_owned()),
        Some(Shared::Unavailable) => (
            "Copy the address",
            format!("Copy this link: {}", web::location_href()),
        ),
        _ => ("Share", String::new()),
    };
    html! {
        <div class="share">
            <button type="button" class="share-button" {onclick} data-testid="share">
                <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                    <path d="M12 3v12M7 8l5-5 5 5M5 13v6a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-6"
                        fill="none" stroke="currentColor" stroke-width="2"
                        stroke-linecap="round" stroke-linejoin="round" />
                </svg>
                <span>{ label }</span>
            </button>
            <p class="visually-hidden" role="status">{ note }</p>
        </div>
    }
}
