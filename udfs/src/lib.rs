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
//! - [`model`]: the model abstraction shared by every model type (options, ids, persistence
//!   payloads, the catalog that functions look models up in);
//! - [`common`]: what every domain shares (the seeded generator, tensor helpers, argument
//!   checks, Arrow adapter helpers);
//! - [`engine`]: session-level settings (`trustql.device`) and `trustql_device()`;
//! - [`call_scan`]: table-function calls named by their arguments, so that DataFusion tells
//!   two calls of one function apart.
//!
//! Numeric kernels take slices and never import Arrow; the UDF adapters beside them convert
//! Arrow arrays to kernel inputs and back and pass NULLs through.

pub mod audio;
pub mod call_scan;
pub mod common;
pub mod engine;
pub mod explain;
pub mod model;
pub mod ranking;
pub mod recsys;
pub mod stats;
pub mod whole_table;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF};

pub use engine::config::{DeviceSetting, TrustqlOptions};
pub use model::{LoadedModel, ModelCatalog, ModelType};

/// Every scalar function of the library. Functions that look up models hold `catalog`.
pub fn scalar_functions(catalog: Arc<dyn ModelCatalog>) -> Vec<Arc<ScalarUDF>> {
    let mut udfs = vec![Arc::new(ScalarUDF::from(
        engine::trustql_device::TrustqlDeviceFunc::new(),
    ))];
    udfs.extend(ranking::scalar_functions());
    udfs.extend(recsys::scalar_functions(catalog.clone()));
    udfs.extend(explain::scalar_functions(catalog.clone()));
    udfs.extend(audio::scalar_functions(catalog));
    udfs
}

/// Every aggregate function of the library.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let mut udafs = ranking::aggregate_functions();
    udafs.extend(recsys::aggregate_functions());
    udafs.extend(audio::aggregate_functions());
    udafs
}

/// Every table function of the library, by name. Functions that look up models hold `catalog`.
pub fn table_functions(
    catalog: Arc<dyn ModelCatalog>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    let mut udtfs = recsys::table_functions(catalog.clone());
    udtfs.extend(stats::table_functions(catalog));
    udtfs.extend(audio::table_functions());
    udtfs
        .into_iter()
        .map(|(name, f)| (name, call_scan::named_calls(name, f)))
        .collect()
}

/// Every model type known to this build (what `CREATE MODEL ... OPTIONS (type = ...)` accepts).
pub fn model_types() -> Vec<Arc<dyn ModelType>> {
    let mut types = recsys::model_types();
    types.extend(stats::model_types());
    types.push(Arc::new(audio::deep::vgg::VggType));
    types.push(Arc::new(audio::deep::torchscript::TorchScriptType));
    types
}

/// The documentation of every table function, by name (DataFusion's table functions carry none,
/// so `\h` and the docs test read it here).
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    let mut docs = recsys::table_function_docs();
    docs.extend(stats::table_function_docs());
    docs.extend(audio::table_function_docs());
    docs
}

/// Registers all trustql functions on `ctx`.
///
/// `SET trustql.device = ...` additionally needs the [`TrustqlOptions`] config extension on the
/// context's `SessionConfig` (see [`engine::config::session_config`]); without it the device
/// functions fall back to automatic device selection.
pub fn register_all(ctx: &SessionContext, catalog: Arc<dyn ModelCatalog>) -> Result<()> {
    for udf in scalar_functions(catalog.clone()) {
        ctx.register_udf(udf.as_ref().clone());
    }
    for udaf in aggregate_functions() {
        ctx.register_udaf(udaf.as_ref().clone());
    }
    for (name, udtf) in table_functions(catalog) {
        ctx.register_udtf(name, udtf);
    }
    Ok(())
}
