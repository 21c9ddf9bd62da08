//! Statistics for analysing experiments.
//!
//! The thesis analyses every experiment with hierarchical linear models and plans its runs with
//! sequential designs; this module brings both into SQL so that the analysis of an experiment is
//! a query over its results table:
//!
//! - [`lmm`]: linear mixed models in lme4's formula language (model type `lmer`), with their
//!   inference (fixed effects, variance components, R², estimated marginal means, emmeans' joint
//!   tests, bootstrap);
//! - [`gam`]: generalised additive models in mgcv's formula language (model type `gam`,
//!   [`gam_model`]), read by the same table functions plus `smooth_terms` and `gam_predict`;
//! - [`design`]: thesis Algorithm 2, sequential experimental designs (`sequential_design`,
//!   `design_aliasing`);
//! - [`tsne`]: 2-D t-SNE maps of embeddings (`tsne`);
//! - the SQL side of the mixed models: the `lmer` model type ([`lmer`]) and one table function
//!   per file (`fixed_effects`, `variance_components`, `random_effects`, `model_fit`, `emmeans`,
//!   `emmeans_pairs`, `joint_tests`, `smooth_terms`, `gam_predict`, `bootstrap_ci`).

pub mod bootstrap_ci;
pub mod design;
pub mod emmeans;
pub mod emmeans_pairs;
pub mod fixed_effects;
pub mod gam;
pub mod gam_model;
pub mod gam_predict;
pub mod joint_tests;
pub mod lmer;
pub mod lmm;
pub mod model_fit;
pub mod random_effects;
pub mod smooth_terms;
mod table_args;
pub mod tsne;
pub mod variance_components;

use crate::library::Library;

/// Adds the `lmer` model type, the functions that read its fits, the sequential designs and
/// t-SNE.
pub fn register(lib: &mut Library) {
    lib.model_type(lmer::LmerType);
    lib.model_type(gam_model::GamType);
    let catalog = lib.catalog();
    lib.table(
        "joint_tests",
        joint_tests::JointTestsFunc::new(catalog.clone()),
        joint_tests::JointTestsDoc.documentation(),
    );
    lib.table(
        "smooth_terms",
        smooth_terms::SmoothTermsFunc::new(catalog.clone()),
        smooth_terms::SmoothTermsDoc.documentation(),
    );
    lib.table(
        "gam_predict",
        gam_predict::GamPredictFunc::new(catalog.clone()),
        gam_predict::GamPredictDoc.documentation(),
    );
    lib.table(
        "fixed_effects",
        fixed_effects::FixedEffectsFunc::new(catalog.clone()),
        fixed_effects::FixedEffectsDoc.documentation(),
    );
    lib.table(
        "variance_components",
        variance_components::VarianceComponentsFunc::new(catalog.clone()),
        variance_components::VarianceComponentsDoc.documentation(),
    );
    lib.table(
        "random_effects",
        random_effects::RandomEffectsFunc::new(catalog.clone()),
        random_effects::RandomEffectsDoc.documentation(),
    );
    lib.table(
        "model_fit",
        model_fit::ModelFitFunc::new(catalog.clone()),
        model_fit::ModelFitDoc.documentation(),
    );
    lib.table(
        "emmeans",
        emmeans::EmmeansFunc::new(catalog.clone()),
        emmeans::EmmeansDoc.documentation(),
    );
    lib.table(
        "emmeans_pairs",
        emmeans_pairs::EmmeansPairsFunc::new(catalog.clone()),
        emmeans_pairs::EmmeansPairsDoc.documentation(),
    );
    lib.table(
        "bootstrap_ci",
        bootstrap_ci::BootstrapCiFunc::new(catalog),
        bootstrap_ci::BootstrapCiDoc.documentation(),
    );
    design::register(lib);
    lib.table(
        "tsne",
        tsne::function::TsneFunc,
        tsne::function::TsneFunc.documentation(),
    );
}
