//! The browser calls only the owner view makes: the page's origin for absolute links, the
//! local day for the chart, and saving a file.

use wasm_bindgen::{JsCast, JsValue};

/// The page's origin (`https://counter.example`), to make absolute links.
pub fn origin() -> String {
    web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default()
}

/// Local midnight of today, in milliseconds since the epoch.
pub fn local_day_start_ms() -> i64 {
    let date = js_sys::Date::new_0();
    date.set_hours(0);
    date.set_minutes(0);
    date.set_seconds(0);
    date.set_milliseconds(0);
    date.get_time() as i64
}

/// Saves `text` as a file called `filename` (a Blob URL clicked through a link with
/// `download`); `false` where the browser refuses.
pub fn download(filename: &str, mime: &str, text: &str) -> bool {
    let save = || -> Result<(), JsValue> {
        let document = web_sys::window()
            .and_then(|window| window.document())
            .ok_or(JsValue::NULL)?;
        let parts = js_sys::Array::of1(&JsValue::from_str(text));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
        link.set_href(&url);
        link.set_download(filename);
        link.click();
        // The download reads the URL after this task; it is let go a while later.
        gloo_timers::callback::Timeout::new(60_000, move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        })
        .forget();
        Ok(())
    };
    save().is_ok()
}
