//! Statistics for analysing experiments.
//!
//! The thesis analyses every experiment with hierarchical linear models and plans its runs with
//! sequential designs; this module brings both into SQL so that the analysis of an experiment is
//! a query over its results table:
//!
//! - [`lmm`]: linear mixed models in lme4's formula language (model type `lmer`), with their
//!   inference (fixed effects, variance components, R², estimated marginal means, bootstrap);
//! - [`design`]: thesis Algorithm 2, sequential experimental designs (`sequential_design`,
//!   `design_aliasing`);
//! - [`tsne`]: 2-D t-SNE maps of embeddings (`tsne`);
//! - the SQL side of the mixed models: the `lmer` model type ([`lmer`]) and one table function
//!   per file (`fixed_effects`, `variance_components`, `random_effects`, `model_fit`, `emmeans`,
//!   `emmeans_pairs`, `bootstrap_ci`).

pub mod bootstrap_ci;
pub mod design;
pub mod emmeans;
pub mod emmeans_pairs;
pub mod fixed_effects;
pub mod lmer;
pub mod lmm;
pub mod model_fit;
pub mod random_effects;
mod table_args;
pub mod tsne;
pub mod variance_components;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::Documentation;

use crate::model::{ModelCatalog, ModelType};

/// The statistical model types (`lmer`).
pub fn model_types() -> Vec<Arc<dyn ModelType>> {
    vec![Arc::new(lmer::LmerType)]
}

/// Every statistics table function, by name. The mixed-model functions look models up in
/// `catalog`.
pub fn table_functions(
    catalog: Arc<dyn ModelCatalog>,
) -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    let mut udtfs: Vec<(&'static str, Arc<dyn TableFunctionImpl>)> = vec![
        (
            "fixed_effects",
            Arc::new(fixed_effects::FixedEffectsFunc::new(catalog.clone())),
        ),
        (
            "variance_components",
            Arc::new(variance_components::VarianceComponentsFunc::new(
                catalog.clone(),
            )),
        ),
        (
            "random_effects",
            Arc::new(random_effects::RandomEffectsFunc::new(catalog.clone())),
        ),
        (
            "model_fit",
            Arc::new(model_fit::ModelFitFunc::new(catalog.clone())),
        ),
        (
            "emmeans",
            Arc::new(emmeans::EmmeansFunc::new(catalog.clone())),
        ),
        (
            "emmeans_pairs",
            Arc::new(emmeans_pairs::EmmeansPairsFunc::new(catalog.clone())),
        ),
        (
            "bootstrap_ci",
            Arc::new(bootstrap_ci::BootstrapCiFunc::new(catalog)),
        ),
    ];
    udtfs.extend(design::table_functions());
    udtfs.push(("tsne", Arc::new(tsne::function::TsneFunc)));
    udtfs
}

/// The documentation of the statistics table functions, by name.
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    static FIXED: fixed_effects::FixedEffectsDoc = fixed_effects::FixedEffectsDoc;
    static VARCOMP: variance_components::VarianceComponentsDoc =
        variance_components::VarianceComponentsDoc;
    static RANEF: random_effects::RandomEffectsDoc = random_effects::RandomEffectsDoc;
    static FIT: model_fit::ModelFitDoc = model_fit::ModelFitDoc;
    static EMM: emmeans::EmmeansDoc = emmeans::EmmeansDoc;
    static PAIRS: emmeans_pairs::EmmeansPairsDoc = emmeans_pairs::EmmeansPairsDoc;
    static BOOT: bootstrap_ci::BootstrapCiDoc = bootstrap_ci::BootstrapCiDoc;
    let mut docs: Vec<(&'static str, &'static Documentation)> = Vec::new();
    docs.extend(FIXED.documentation().map(|d| ("fixed_effects", d)));
    docs.extend(VARCOMP.documentation().map(|d| ("variance_components", d)));
    docs.extend(RANEF.documentation().map(|d| ("random_effects", d)));
    docs.extend(FIT.documentation().map(|d| ("model_fit", d)));
    docs.extend(EMM.documentation().map(|d| ("emmeans", d)));
    docs.extend(PAIRS.documentation().map(|d| ("emmeans_pairs", d)));
    docs.extend(BOOT.documentation().map(|d| ("bootstrap_ci", d)));
    docs.extend(design::table_function_docs());
    static TSNE: tsne::function::TsneFunc = tsne::function::TsneFunc;
    docs.extend(TSNE.documentation().map(|d| ("tsne", d)));
    docs
}
