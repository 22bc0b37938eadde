use shared::CounterName;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::route::path_of;
use crate::web;

/// "Open or create a counter": a name field that goes to `/c/{name}`. Any valid name works;
/// a counter starts at 0 the first time it is used.
#[function_component]
pub fn OpenCounter() -> Html {
    let input = use_node_ref();
    let problem = use_state(|| None::<String>);
    let onsubmit = {
        let input = input.clone();
        let problem = problem.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(field) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let raw = field.value();
            match raw.trim().parse::<CounterName>() {
                Ok(name) => web::navigate_to(&path_of(&name)),
                Err(_) => problem.set(Some(format!(
                    "“{}” cannot be a counter name: use 1 to 64 letters, digits, “-” or “_”.",
                    raw.trim()
                ))),
            }
        })
    };
    let oninput = {
        let problem = problem.clone();
        Callback::from(move |_: InputEvent| problem.set(None))
    };
    html! {
        <form class="open-counter" {onsubmit} novalidate=true>
            <label for="counter-name-input">{ "Open or create a counter" }</label>
            <div class="open-row">
                <input
                    id="counter-name-input"
                    ref={input}
                    type="text"
                    name="name"
                    placeholder="e.g. door-2"
                    autocomplete="off"
                    autocapitalize="none"
                    spellcheck="false"
                    maxlength="64"
                    aria-invalid={problem.is_some().to_string()}
                    aria-describedby="counter-name-help"
                    {oninput}
                />
                <button type="submit">{ "Open" }</button>
            </div>
            <p id="counter-name-help" class={classes!("help", problem.is_some().then_some("error"))}
                role={problem.is_some().then_some("alert")}>
                { (*problem).clone().unwrap_or_else(|| "Letters, digits, “-” and “_”; anyone with the name sees the same number.".to_owned()) }
            </p>
        </form>
    }
}
