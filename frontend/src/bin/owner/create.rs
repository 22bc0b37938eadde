//! "New counter" (`/new`, mounted by the app's `components::create::CreateCounter`): an optional name, title and capacity; the server answers with the
//! counter's keys, which this device keeps, and the page goes to the counter, where its owner
//! key makes it the owner view.

use shared::owned::{MAX_CAPACITY, MAX_TITLE_LEN};
use shared::{CounterName, CreateRequest, Role};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::{api, keys, web};

/// The request the form's fields make, or what is wrong with them in words. Empty fields are
/// left out: the server picks an unguessable name, and a counter needs no title or capacity.
pub fn request_from(name: &str, title: &str, capacity: &str) -> Result<CreateRequest, String> {
    let (name, title, capacity) = (name.trim(), title.trim(), capacity.trim());
    if !name.is_empty() && name.parse::<CounterName>().is_err() {
        return Err(format!(
            "“{name}” cannot be a counter name: use 1 to 64 letters, digits, “-” or “_”, or \
             leave it empty for a random one."
        ));
    }
    if title.chars().count() > MAX_TITLE_LEN {
        return Err(format!("A title is at most {MAX_TITLE_LEN} characters."));
    }
    let capacity = match capacity {
        "" => None,
        text => match text.parse::<u64>() {
            Ok(capacity) if (1..=MAX_CAPACITY).contains(&capacity) => Some(capacity),
            _ => {
                return Err(format!(
                    "The capacity is a whole number from 1 to {MAX_CAPACITY}, or empty for none."
                ));
            }
        },
    };
    let request = CreateRequest {
        name: (!name.is_empty()).then(|| name.to_owned()),
        title: (!title.is_empty()).then(|| title.to_owned()),
        capacity,
    };
    // The same checks the server makes, so the form never sends what it would refuse.
    request
        .clone()
        .validate()
        .map(|_| request)
        .map_err(|err| format!("That cannot be sent: {}.", err.message))
}

/// The form.
#[function_component]
pub fn CreateCounter() -> Html {
    let name = use_node_ref();
    let title = use_node_ref();
    let capacity = use_node_ref();
    let problem = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let onsubmit = {
        let (name, title, capacity) = (name.clone(), title.clone(), capacity.clone());
        let (problem, busy) = (problem.clone(), busy.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if *busy {
                return;
            }
            let value = |field: &NodeRef| {
                field
                    .cast::<HtmlInputElement>()
                    .map(|input| input.value())
                    .unwrap_or_default()
            };
            let request = match request_from(&value(&name), &value(&title), &value(&capacity)) {
                Ok(request) => request,
                Err(words) => return problem.set(Some(words)),
            };
            problem.set(None);
            busy.set(true);
            let (problem, busy) = (problem.clone(), busy.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::create(&request).await {
                    Ok(created) => {
                        // The keys are shown once: kept on this device before anything else.
                        keys::remember(&created.name, Role::Owner, &created.owner_key);
                        keys::remember(&created.name, Role::Staff, &created.staff_key);
                        web::navigate_to(&format!("/c/{}", created.name));
                    }
                    Err(err) => {
                        problem.set(Some(err.words()));
                        busy.set(false);
                    }
                }
            });
        })
    };
    let oninput = {
        let problem = problem.clone();
        Callback::from(move |_: InputEvent| problem.set(None))
    };
    html! {
            <main class="create">
                <h1>{ "New counter" }</h1>
                <p class="help">
                    { "You become its owner: you get a link for staff who count, a link for a \
                       display screen, and your own owner link. Every field is optional." }
                </p>
                <form class="create-form" {onsubmit} novalidate=true>
                    <label for="new-name">{ "Name (in the link)" }</label>
                    <input id="new-name" ref={name} data-testid="new-name" type="text"
                        placeholder="e.g. main-entrance; empty: a random name"
                        autocomplete="off" autocapitalize="none" spellcheck="false"
                        maxlength="64" oninput={oninput.clone()} />
                    <label for="new-title">{ "Title (shown on every screen)" }</label>
                    <input id="new-title" ref={title} data-testid="new-title" type="text"
                        placeholder="e.g. Main entrance" maxlength={MAX_TITLE_LEN.to_string()}
                        oninput={oninput.clone()} />
                    <label for="new-capacity">{ "Capacity (people who fit)" }</label>
                    <input id="new-capacity" ref={capacity} data-testid="new-capacity"
                        type="number" inputmode="numeric" min="1" placeholder="none"
                        {oninput} />
                    <p class={classes!("help", problem.is_some().then_some("error"))}
                        data-testid="create-problem"
                        role={problem.is_some().then_some("alert")}>
                        { (*problem).clone().unwrap_or_default() }
                    </p>
                    <button type="submit" data-testid="create" disabled={*busy}>
                        { if *busy { "Creating…" } else { "Create counter" } }
                    </button>
                </form>
                <p class="help"><a href="/">{ "Back to the shared counter" }</a></p>
            </main>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out() {
        assert_eq!(request_from(" ", "", ""), Ok(CreateRequest::default()));
        assert_eq!(
            request_from(" door-2 ", " Main entrance ", " 200 "),
            Ok(CreateRequest {
                name: Some("door-2".into()),
                title: Some("Main entrance".into()),
                capacity: Some(200),
            })
        );
    }

    #[test]
    fn bad_fields_are_explained() {
        assert!(
            request_from("not a name", "", "")
                .unwrap_err()
                .contains("cannot be a counter name")
        );
        assert!(
            request_from("", &"t".repeat(101), "")
                .unwrap_err()
                .contains("at most 100")
        );
        for capacity in ["0", "-3", "2.5", "many", "1000000001"] {
            assert!(
                request_from("", "", capacity)
                    .unwrap_err()
                    .contains("whole number"),
                "{capacity}"
            );
        }
        assert!(
            request_from("", "tab\there", "")
                .unwrap_err()
                .contains("printable")
        );
    }
}
