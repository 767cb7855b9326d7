//! Downloads of the shipped assets with progress, from the page or the worker.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

/// Path of the MNIST asset relative to the page.
pub const MNIST_PATH: &str = "assets/mnist.bin.gz";

fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// Fetches `path` relative to the page and returns its bytes, calling `progress(loaded, total)`
/// as chunks arrive. Works in a window and in a worker.
pub async fn fetch_bytes(
    path: &str,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let global = js_sys::global();
    let fetch = Reflect::get(&global, &"fetch".into())
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
        .ok_or("this browser has no fetch()")?;
    let promise = fetch
        .call1(&global, &JsValue::from_str(path))
        .map_err(|error| format!("fetch {path} failed: {}", describe(error)))?;
    let response: Response = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(|error| format!("fetch {path} failed: {}", describe(error)))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{path} is missing: the server answered HTTP {}",
            response.status()
        ));
    }

    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|value| value.parse::<u64>().ok());
    let Some(body) = response.body() else {
        return Err(format!("{path} has an empty response body"));
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|error| format!("download of {path} failed: {}", describe(error)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(describe)?;
        bytes.extend_from_slice(&Uint8Array::new(&value).to_vec());
        progress(bytes.len() as u64, total);
    }
    Ok(bytes)
}
