//! "New counter" (`/new`): the form lives in the owner module (`frontend/src/bin/owner/
//! create.rs`), loaded here; on success it keeps the counter's keys on this device
//! ([`crate::keys`]) and goes to `/c/{name}`, where the owner key makes the page the owner
//! view.

use yew::prelude::*;

use super::owner::{ModuleView, mount_create_form};

/// The "New counter" page's content. A function component without props, routed at `/new`.
#[function_component]
pub fn CreateCounter() -> Html {
    html! {
        <ModuleView what="form" deps="" mount={Callback::from(mount_create_form)} />
    }
}
