//! Where the owner module's views go. The module (`frontend/src/bin/owner/`, built to
//! `owner.js` + `owner_bg.wasm`) is fetched only on `/new` and when a page's role is owner,
//! so visitors, staff and displays never download it.

use shared::CounterName;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

#[wasm_bindgen(inline_js = r#"
let module;
function ready() {
  module ??= import("/owner.js")
    .then(async (owner) => {
      await owner.default({ module_or_path: "/owner_bg.wasm" });
      return owner;
    })
    .catch((error) => {
      module = undefined;
      throw error;
    });
  return module;
}
export function mount_owner(root, name, key) {
  return ready().then((owner) => owner.mount(root, name, key));
}
export function mount_create(root) {
  return ready().then((owner) => owner.mount_create(root));
}
export function unmount_view() {
  if (module) module.then((owner) => owner.unmount()).catch(() => {});
}
"#)]
extern "C" {
    /// Loads the owner module (once per page) and shows the owner view of `name` in `root`.
    fn mount_owner(root: &web_sys::Element, name: &str, key: &str) -> js_sys::Promise;
    /// Loads the owner module (once per page) and shows the "New counter" form in `root`.
    fn mount_create(root: &web_sys::Element) -> js_sys::Promise;
    /// Removes the view the module shows.
    fn unmount_view();
}

#[derive(PartialEq, Properties)]
pub struct OwnerPanelProps {
    pub name: CounterName,
    pub owner_key: String,
}

/// The owner view of a counter, for a page whose role is owner.
#[function_component]
pub fn OwnerPanel(props: &OwnerPanelProps) -> Html {
    let (name, key) = (props.name.clone(), props.owner_key.clone());
    html! {
        <ModuleView
            what="owner view"
            deps={format!("{name} {key}")}
            mount={Callback::from(move |root: web_sys::Element| {
                mount_owner(&root, name.as_str(), &key)
            })}
        />
    }
}

#[derive(PartialEq, Properties)]
pub struct ModuleViewProps {
    /// What is loading, in words ("owner view").
    pub what: &'static str,
    /// The view is mounted again when this changes.
    pub deps: String,
    /// Mounts the view into the element given; resolves once it shows.
    pub mount: Callback<web_sys::Element, js_sys::Promise>,
}

/// An element the owner module renders into, with what is said while it loads or if it
/// cannot (offline: the module is not kept for offline use).
#[function_component]
pub fn ModuleView(props: &ModuleViewProps) -> Html {
    let root = use_node_ref();
    // `None` while loading, then whether it worked.
    let loaded = use_state(|| None::<bool>);
    {
        let (root, loaded, mount) = (root.clone(), loaded.clone(), props.mount.clone());
        use_effect_with(props.deps.clone(), move |_| {
            if let Some(element) = root.cast::<web_sys::Element>() {
                let promise = mount.emit(element);
                wasm_bindgen_futures::spawn_local(async move {
                    loaded.set(Some(JsFuture::from(promise).await.is_ok()));
                });
            }
            unmount_view
        });
    }
    let note = match *loaded {
        None => {
            html! { <p class="help module-loading">{ format!("Loading the {}…", props.what) }</p> }
        }
        Some(true) => html! {},
        Some(false) => html! {
            <p class="help error" role="alert">
                { format!("The {} could not be loaded: check the connection and reload the page.", props.what) }
            </p>
        },
    };
    html! {
        <>
            { note }
            // The module renders in here; this app never renders children into it.
            <div class="module-root" ref={root}></div>
        </>
    }
}

/// Mounts the "New counter" form (for `components::create`).
pub fn mount_create_form(root: web_sys::Element) -> js_sys::Promise {
    mount_create(&root)
}
