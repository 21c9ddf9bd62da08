//! The variables of a libtorch network as plain values: what the model files of the trained
//! deep types (`vgg`, `mtl_cnn`) store, so that both write and check them the same way.

use datafusion::common::exec_datafusion_err;
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::Tensor;

use crate::common::tensors::{to_f32_vec, torch_err};

/// A named variable as plain values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Variable {
    pub(crate) name: String,
    pub(crate) shape: Vec<i64>,
    pub(crate) values: Vec<f32>,
}

/// Every variable of `vs` (weights and batch-norm statistics) by name, in name order.
pub(crate) fn export(vs: &VarStore) -> Result<Vec<Variable>> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars.into_iter()
        .map(|(name, t)| {
            Ok(Variable {
                shape: t.size(),
                values: to_f32_vec(&t)?,
                name,
            })
        })
        .collect()
}

/// Loads exported variables into `vs`; an error saying the stored `model_type` model is
/// damaged when a name, a shape or a number of values does not match.
pub(crate) fn import(vs: &VarStore, vars: &[Variable], model_type: &str) -> Result<()> {
    let corrupt =
        |why: String| exec_datafusion_err!("the stored '{model_type}' model is damaged: {why}");
    let mine = vs.variables();
    if mine.len() != vars.len() {
        return Err(corrupt(format!(
            "{} variables stored, the network has {}",
            vars.len(),
            mine.len()
        )));
    }
    tch::no_grad(|| {
        for v in vars {
            let Some(t) = mine.get(&v.name) else {
                return Err(corrupt(format!("unknown variable {}", v.name)));
            };
            if t.size() != v.shape || v.values.len() as i64 != v.shape.iter().product::<i64>() {
                return Err(corrupt(format!("variable {} has the wrong shape", v.name)));
            }
            let src = Tensor::from_slice(&v.values)
                .view(v.shape.as_slice())
                .to_device(t.device());
            let mut t = t.shallow_clone();
            t.f_copy_(&src).map_err(torch_err)?;
        }
        Ok::<(), DataFusionError>(())
    })
}
