//! The trustql function library.
//!
//! This crate exists so that every trustql SQL function can be registered on *any* DataFusion
//! [`SessionContext`], not only on a `trustql::Session`: Rust programs that already run DataFusion
//! embed our functions with one call to [`register_all`]. It is organised by domain, one module
//! per domain and one SQL function per file:
//!
//! - [`ranking`]: rank correlation (τ_AP, τ_AP,a, τ_AP,b, Kendall's τ_b, Spearman's ρ);
//! - [`recsys`]: recommender model types and the functions that use them (`score`);
//! - [`explain`]: explainers of recommenders and their fidelity;
//! - [`audio`]: audio decoding, perturbations, features (MFCC), audio distances and distance
//!   consistency (thesis ch. 4);
//! - [`stats`]: linear mixed models (`lmer`) and sequential experimental designs;
//! - [`latent`]: latent factor models that reduce learning sources to k factors (`plsa`,
//!   `gmm`; thesis ch. 2);
//! - [`transfer`]: transfer evaluation (thesis ch. 2): the `mlp` model type trained on feature
//!   vectors, its predictions, and the metrics (accuracy, macro F1, log loss, R²);
//! - [`model`]: the model abstraction shared by every model type (options, ids, persistence
//!   payloads, the catalog that functions look models up in);
//! - [`common`]: what every domain shares (the seeded generator, tensor helpers, argument
//!   checks, Arrow adapter helpers);
//! - [`engine`]: session-level settings (`trustql.device`) and `trustql_device()`;
//! - [`call_scan`]: table-function calls named by their arguments, so that DataFusion tells
//!   two calls of one function apart.
//!
//! Every domain adds its model types and functions to a [`Library`] in one `register`
//! function; [`library`] collects them all, and registration, `\h` and the docs test read that
//! one list. Programs that extend trustql build a [`Library`] of their own the same way.
//!
//! Numeric kernels take slices and never import Arrow; the UDF adapters beside them convert
//! Arrow arrays to kernel inputs and back and pass NULLs through.

pub mod audio;
pub mod call_scan;
pub mod common;
pub mod engine;
pub mod explain;
pub mod latent;
pub mod library;
pub mod model;
pub mod ranking;
pub mod recsys;
pub mod stats;
pub mod transfer;
pub mod whole_table;

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::context::SessionContext;

pub use engine::config::{DeviceSetting, TrustqlOptions};
pub use library::Library;
pub use model::{LoadedModel, ModelCatalog, ModelType};

/// Every model type and function of the library, whose functions look models up in `catalog`:
/// each domain's `register`, in one list.
pub fn library(catalog: Arc<dyn ModelCatalog>) -> Library {
    let mut lib = Library::new(catalog);
    engine::register(&mut lib);
    ranking::register(&mut lib);
    recsys::register(&mut lib);
    explain::register(&mut lib);
    audio::register(&mut lib);
    stats::register(&mut lib);
    latent::register(&mut lib);
    transfer::register(&mut lib);
    lib
}

/// Every model type known to this build (what `CREATE MODEL ... OPTIONS (type = ...)` accepts),
/// from [`library`].
pub fn model_types() -> Vec<Arc<dyn ModelType>> {
    library(Arc::new(model::NoModels)).model_types().to_vec()
}

/// Registers all trustql functions on `ctx` (model types need a session's model registry; see
/// [`library`]).
///
/// `SET trustql.device = ...` additionally needs the [`TrustqlOptions`] config extension on the
/// context's `SessionConfig` (see [`engine::config::session_config`]); without it the device
/// functions fall back to automatic device selection.
pub fn register_all(ctx: &SessionContext, catalog: Arc<dyn ModelCatalog>) -> Result<()> {
    library(catalog).register(ctx)
}
