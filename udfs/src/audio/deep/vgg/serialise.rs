//! The `vgg` model file: the networks' variables as plain values with the task, crop, sample
//! rate, classes and input standardisation ([`State`]), encoded by the model store's codec.

use datafusion::common::exec_datafusion_err;
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::inference::VggModel;
use super::network::Nets;
use super::{Task, TYPE};
use crate::audio::deep::input::Standardizer;
use crate::common::tensors::{to_f32_vec, torch_err};
use crate::model::{decode, encode};

impl Nets {
    /// Every variable (weights and batch-norm statistics) by name, in name order.
    pub(super) fn export(&self) -> Result<Vec<Variable>> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
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

    /// Loads exported variables; an error when a name or shape does not match.
    pub(super) fn import(&mut self, vars: &[Variable]) -> Result<()> {
        let mine = self.vs.variables();
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
                if t.size() != v.shape {
                    return Err(corrupt(format!("variable {} has the wrong shape", v.name)));
                }
                let src = Tensor::from_slice(&v.values)
                    .view(v.shape.as_slice())
                    .to_device(t.device());
                let mut t = t.shallow_clone();
                t.f_copy_(&src).map_err(torch_err)?;
            }
            Ok(())
        })
    }
}

fn corrupt(why: String) -> DataFusionError {
    exec_datafusion_err!("the stored 'vgg' model is damaged: {why}")
}

/// A named variable as plain values.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Variable {
    pub(super) name: String,
    pub(super) shape: Vec<i64>,
    pub(super) values: Vec<f32>,
}

/// What the model file holds.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct State {
    pub(super) task: Task,
    pub(super) crop: usize,
    pub(super) sample_rate: u32,
    /// Tag or instrument names, in logit order (empty for the other tasks).
    pub(super) classes: Vec<String>,
    pub(super) standardizer: Standardizer,
    pub(super) variables: Vec<Variable>,
}

/// The model file of `state`.
pub(super) fn to_bytes(state: &State) -> Result<Vec<u8>> {
    encode(state)
}

/// The model stored in `bytes`.
pub(super) fn from_bytes(bytes: &[u8]) -> Result<VggModel> {
    let state: State = decode(TYPE, bytes)?;
    Ok(VggModel::from_state(state))
}
