//! The `vgg` model file: the networks' variables as plain values with the task, crop, sample
//! rate, classes and input standardisation ([`State`]), encoded by the model store's codec.

use datafusion::error::Result;
use serde::{Deserialize, Serialize};

use super::inference::VggModel;
use super::network::Nets;
use super::{Task, TYPE};
use crate::audio::deep::input::Standardizer;
use crate::audio::deep::variables::{self, Variable};
use crate::model::{decode, encode};

impl Nets {
    /// Every variable (weights and batch-norm statistics) by name, in name order.
    pub(super) fn export(&self) -> Result<Vec<Variable>> {
        variables::export(&self.vs)
    }

    /// Loads exported variables; an error when a name or shape does not match.
    pub(super) fn import(&mut self, vars: &[Variable]) -> Result<()> {
        variables::import(&self.vs, vars, TYPE)
    }
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
