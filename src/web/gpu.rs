//! Choosing the compute backend: probing the WebGPU adapter, starting burn's wgpu runtime and
//! checking it against the CPU before training on it.

use std::cell::RefCell;

use burn::prelude::*;
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::protocol::{BackendKind, BackendPreference};
use crate::selftest::compare_devices;

/// Details of a WebGPU adapter, as far as the browser reveals them.
#[derive(Clone, Debug)]
pub struct AdapterInfo {
    /// Vendor, architecture and description, as far as the browser reveals them.
    pub description: String,
    /// True for a software adapter such as SwiftShader, far slower than burn's CPU backend.
    pub is_fallback: bool,
}

/// The chosen backend: its device (without autodiff), a label for the UI, and the reason when
/// it is not what the visitor asked for.
#[derive(Clone, Debug)]
pub struct Backend {
    pub kind: BackendKind,
    pub device: Device,
    pub adapter: String,
    pub note: Option<String>,
}

thread_local! {
    /// burn's wgpu runtime can be initialised once per thread; later choices reuse it.
    static WGPU_DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn text(target: &JsValue, key: &str) -> Option<String> {
    get(target, key)
        .as_string()
        .filter(|value| !value.is_empty())
}

/// Requests a WebGPU adapter from the browser. The error gives the reason when there is none.
pub async fn probe_adapter() -> Result<AdapterInfo, String> {
    let navigator = get(&js_sys::global(), "navigator");
    let gpu = get(&navigator, "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser does not expose WebGPU (no navigator.gpu)".into());
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
        .ok_or("navigator.gpu.requestAdapter is missing")?;
    let promise = request
        .call0(&gpu)
        .map_err(|error| format!("requestAdapter failed: {error:?}"))?;
    let adapter = JsFuture::from(js_sys::Promise::from(promise))
        .await
        .map_err(|error| format!("requestAdapter failed: {error:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("the browser has WebGPU but offered no adapter".into());
    }

    // `GPUAdapterInfo.isFallbackAdapter` is current; older browsers put it on the adapter.
    let info = get(&adapter, "info");
    let is_fallback = get(&info, "isFallbackAdapter").as_bool().unwrap_or(false)
        || get(&adapter, "isFallbackAdapter")
            .as_bool()
            .unwrap_or(false);
    let parts: Vec<String> = ["vendor", "architecture", "description"]
        .iter()
        .filter_map(|key| text(&info, key))
        .collect();
    let description = if parts.is_empty() {
        "unnamed adapter".to_string()
    } else {
        parts.join(" ")
    };
    Ok(AdapterInfo {
        description,
        is_fallback,
    })
}

use wasm_bindgen::JsCast;

/// Starts burn's wgpu runtime once and returns its device.
pub async fn wgpu_device() -> Result<Device, String> {
    if let Some(device) = WGPU_DEVICE.with(|cell| cell.borrow().clone()) {
        return Ok(device);
    }
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|error| format!("starting WebGPU failed: {error}"))?;
    WGPU_DEVICE.with(|cell| *cell.borrow_mut() = Some(device.clone()));
    Ok(device)
}

fn cpu(note: Option<String>) -> Backend {
    Backend {
        kind: BackendKind::Cpu,
        device: Device::flex(),
        adapter: "CPU (burn flex, single thread)".into(),
        note,
    }
}

/// Picks the backend for `preference`: WebGPU when an adapter exists (a hardware one unless the
/// visitor insisted on WebGPU) and passes the self-test against the CPU; else the CPU, with
/// the reason.
pub async fn choose_backend(preference: BackendPreference) -> Backend {
    if preference == BackendPreference::Cpu {
        return cpu(None);
    }
    let adapter = match probe_adapter().await {
        Ok(adapter) => adapter,
        Err(reason) => {
            return cpu(Some(format!(
                "WebGPU is unavailable: {reason}. Training runs on the CPU."
            )));
        }
    };
    if adapter.is_fallback && preference == BackendPreference::Auto {
        return cpu(Some(format!(
            "The only WebGPU adapter is a software fallback ({}), slower than the CPU backend, \
             so training runs on the CPU. Choose WebGPU to use it anyway.",
            adapter.description
        )));
    }

    let device = match wgpu_device().await {
        Ok(device) => device,
        Err(reason) => return cpu(Some(format!("{reason}. Training runs on the CPU."))),
    };
    let started = web_time::Instant::now();
    match compare_devices(&Device::flex(), &device).await {
        Ok(error) => {
            log::info!(
                "WebGPU self-test passed in {:.0} ms (worst relative error {error:.1e})",
                started.elapsed().as_secs_f64() * 1000.0
            );
            Backend {
                kind: BackendKind::WebGpu,
                device,
                adapter: format!("WebGPU: {}", adapter.description),
                note: adapter.is_fallback.then(|| {
                    "This WebGPU adapter is a software fallback: expect slow steps.".to_string()
                }),
            }
        }
        Err(reason) => {
            log::error!("WebGPU self-test failed: {reason}");
            cpu(Some(format!(
                "WebGPU on {} failed the start-up self-test ({reason}), so training runs on \
                 the CPU.",
                adapter.description
            )))
        }
    }
}
