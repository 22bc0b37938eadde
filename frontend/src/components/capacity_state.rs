use yew::prelude::*;

use crate::state::Capacity;

#[derive(PartialEq, Properties)]
pub struct CapacityStateProps {
    /// Where the number stands against the capacity.
    pub state: Capacity,
    /// The value shown and the capacity, for the words ("180 of 200"); `None` without a
    /// capacity.
    pub of: Option<(i64, u64)>,
    /// Draws a bar filled to the value (the display page); else one line of words.
    #[prop_or_default]
    pub bar: bool,
}

/// How full the counter is, in colour **and** words ("Nearly full", "Full"), so it reads
/// without colour too. It never refuses a press: people who are inside are inside. Its
/// `data-state` (`none`, `normal`, `warn`, `full`) is what tests read; without a capacity it
/// is an empty element.
#[function_component]
pub fn CapacityState(props: &CapacityStateProps) -> Html {
    let state = props.state.as_str();
    let fill = use_node_ref();
    // Whole percent steps: the bar's width changes once a percent, not on every press.
    let percent = props.of.map_or(0, |(value, capacity)| {
        (value.max(0) as f64 / capacity as f64 * 100.0).clamp(0.0, 100.0) as u32
    });
    {
        let fill = fill.clone();
        use_effect_with((percent, props.of.is_some()), move |(percent, _)| {
            crate::web::set_style(&fill, "width", &format!("{percent}%"));
        });
    }
    let Some((value, capacity)) = props.of else {
        return html! { <div class="capacity" data-testid="capacity" data-state={state} hidden=true /> };
    };
    let words = match props.state {
        Capacity::Full => "Full",
        Capacity::Warn => "Nearly full",
        Capacity::Normal | Capacity::None => "Room",
    };
    let amount = format!("{value} of {capacity}");
    html! {
        <div class={classes!("capacity", props.bar.then_some("capacity-bar"))}
            data-testid="capacity" data-state={state} role="status">
            <span class="capacity-words">{ words }</span>
            <span class="capacity-amount">{ amount }</span>
            if props.bar {
                <span class="bar-track" aria-hidden="true">
                    <span class="bar-fill" ref={fill} />
                </span>
            }
        </div>
    }
}
