use shared::Role;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct RoleBadgeProps {
    pub role: Role,
}

/// What this page may do, in one word: `data-role` is what tests read.
#[function_component]
pub fn RoleBadge(props: &RoleBadgeProps) -> Html {
    let (attr, words) = match props.role {
        Role::Viewer => ("viewer", "Viewing"),
        Role::Staff => ("staff", "Counting"),
        Role::Owner => ("owner", "Owner"),
    };
    html! {
        <p class="role" data-testid="role" data-role={attr}>{ words }</p>
    }
}
