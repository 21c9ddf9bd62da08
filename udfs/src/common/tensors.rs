//! Tensor helpers shared by every domain that computes with libtorch (recommenders, explainers,
//! audio encoders): conversions between slices and tensors, the one mapping of libtorch errors,
//! parameters cached per device and row normalisation.
//!
//! It exists so that a domain that needs a tensor does not import another domain for it.

use datafusion::common::exec_datafusion_err;
use std::sync::Mutex;

use datafusion::error::{DataFusionError, Result};
use tch::{Device, Kind, Tensor};

/// Turns a libtorch error into a DataFusion one.
pub fn torch_err(e: tch::TchError) -> DataFusionError {
    exec_datafusion_err!("tensor computation failed: {e}")
}

/// A `[rows, cols]` tensor of `kind` on `device` from row-major `f32` values.
pub fn matrix_f32(values: &[f32], rows: usize, cols: usize, kind: Kind, device: Device) -> Tensor {
    Tensor::from_slice(values)
        .view([rows as i64, cols as i64])
        .to_kind(kind)
        .to_device(device)
}

/// A `[rows, cols]` tensor of `kind` on `device` from row-major `f64` values.
pub fn matrix_f64(values: &[f64], rows: usize, cols: usize, kind: Kind, device: Device) -> Tensor {
    Tensor::from_slice(values)
        .view([rows as i64, cols as i64])
        .to_kind(kind)
        .to_device(device)
}

/// An index tensor on `device`.
pub fn index(values: &[u32], device: Device) -> Tensor {
    let v: Vec<i64> = values.iter().map(|&x| x as i64).collect();
    Tensor::from_slice(&v).to_device(device)
}

/// The values of a tensor as `f64` (moved to the CPU).
pub fn to_f64_vec(t: &Tensor) -> Result<Vec<f64>> {
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Double)
        .contiguous()
        .view([-1]);
    Vec::<f64>::try_from(&t).map_err(torch_err)
}

/// The values of a tensor as `f32` (moved to the CPU).
pub fn to_f32_vec(t: &Tensor) -> Result<Vec<f32>> {
    let t = t
        .detach()
        .to_device(Device::Cpu)
        .to_kind(Kind::Float)
        .contiguous()
        .view([-1]);
    Vec::<f32>::try_from(&t).map_err(torch_err)
}

/// A model's parameters as tensors, built once per device and shared by every call.
///
/// Tensors are not `Sync`, so they sit behind a mutex; callers take cheap shallow clones (which
/// share storage) and compute outside the lock. Parameters are never modified after they are
/// built.
#[derive(Default)]
pub struct DeviceTensors {
    cache: Mutex<Vec<(Device, Vec<Tensor>)>>,
}

impl std::fmt::Debug for DeviceTensors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceTensors")
    }
}

impl DeviceTensors {
    /// The `N` tensors for `device`, built by `build` the first time.
    pub fn get<const N: usize>(
        &self,
        device: Device,
        build: impl FnOnce(Device) -> Result<Vec<Tensor>>,
    ) -> Result<[Tensor; N]> {
        let ts = self.get_vec(device, build)?;
        let n = ts.len();
        ts.try_into().map_err(|_| {
            DataFusionError::Internal(format!("model has {n} parameter tensors, expected {N}"))
        })
    }

    /// The tensors for `device`, built by `build` the first time.
    pub fn get_vec(
        &self,
        device: Device,
        build: impl FnOnce(Device) -> Result<Vec<Tensor>>,
    ) -> Result<Vec<Tensor>> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| DataFusionError::Execution("model tensor cache poisoned".to_string()))?;
        if let Some((_, ts)) = cache.iter().find(|(d, _)| *d == device) {
            return Ok(ts.iter().map(|t| t.shallow_clone()).collect());
        }
        let ts = tch::no_grad(|| build(device))?;
        let out = ts.iter().map(|t| t.shallow_clone()).collect();
        cache.push((device, ts));
        Ok(out)
    }
}

/// Row-wise unit normalisation x / sqrt(‖x‖² + 1e-30): a zero row stays zero and has a finite
/// (zero) gradient, other rows are unit vectors to within rounding.
pub fn unit_rows(x: &Tensor) -> Tensor {
    let norm = (x.square().sum_dim_intlist(1, true, x.kind()) + 1e-30).sqrt();
    x / norm
}
