use shared::MAX_LABEL_LEN;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(PartialEq, Properties)]
pub struct LabelFieldProps {
    /// The label kept on this device for this counter.
    pub label: Option<AttrValue>,
    /// Told the new label when the field is left or submitted (`None` when blank).
    pub onchange: Callback<Option<String>>,
}

/// Where this person stands ("North door"), sent with every press and kept on the device.
#[function_component]
pub fn LabelField(props: &LabelFieldProps) -> Html {
    let onchange = props.onchange.reform(|event: Event| {
        let field: HtmlInputElement = event.target_unchecked_into();
        let label = field
            .value()
            .trim()
            .chars()
            .take(MAX_LABEL_LEN)
            .collect::<String>();
        (!label.is_empty()).then_some(label)
    });
    html! {
        <div class="label-field">
            <label for="place-label">{ "Where you count (optional)" }</label>
            <input id="place-label" type="text" data-testid="label"
                maxlength={MAX_LABEL_LEN.to_string()}
                placeholder="e.g. North door"
                autocomplete="off"
                value={props.label.clone().unwrap_or_default()}
                {onchange} />
        </div>
    }
}
