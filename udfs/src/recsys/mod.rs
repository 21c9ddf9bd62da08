//! Recommenders: model types trained by `CREATE MODEL`, and the functions that use and evaluate
//! them (thesis §5.3.1, SPEC §5).
//!
//! Every recommender is a function f(u, i, t) of a user, an item and the item's tag vector,
//! evaluated in batches as a tensor computation on the session's device ([`recommender`]). Ids
//! are any integer or text column, and an id the model never saw scores NULL rather than failing,
//! because scoring usually runs over a join with held-out data that contains new users and items.

pub mod content_wrmf;
pub mod data;
pub mod eval;
pub mod factors;
pub mod fm;
pub mod goodbooks_synthetic;
pub mod inn;
pub mod kernels;
pub mod mainstreaminess;
pub mod mostpop;
pub mod ncf;
pub mod neural;
pub mod random;
pub mod recommend;
pub mod recommender;
pub mod score;
pub mod score_features;
pub mod score_tags;
pub mod synthetic;
pub mod tensors;
pub mod train;
pub mod unn;
pub mod wrmf;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;

use crate::library::Library;
use crate::model::{KeyColumn, KeyKind, LoadedModel, ModelCatalog};
use data::RecData;
use recommender::Recommender;

/// Adds the recommender model types and the functions that use and evaluate them.
pub fn register(lib: &mut Library) {
    lib.model_type(inn::InnType)
        .model_type(unn::UnnType)
        .model_type(fm::FmType)
        .model_type(ncf::NcfType)
        .model_type(wrmf::WrmfType)
        .model_type(content_wrmf::ContentWrmfType)
        .model_type(mostpop::MostPopType)
        .model_type(random::RandomType);
    let catalog = lib.catalog();
    lib.scalar(score::ScoreFunc::new(catalog.clone()))
        .scalar(score_tags::ScoreTagsFunc::new(catalog.clone()))
        .scalar(score_features::ScoreFeaturesFunc::new(catalog.clone()))
        .scalar(mainstreaminess::MainstreaminessFunc::new(catalog.clone()));
    lib.table(
        "recommend",
        recommend::RecommendFunc::new(catalog.clone()),
        recommend::RecommendDoc.documentation(),
    );
    lib.table(
        "factors",
        factors::FactorsFunc::new(catalog),
        factors::FactorsDoc.documentation(),
    );
    lib.table(
        "goodbooks_synthetic",
        goodbooks_synthetic::GoodbooksSyntheticFunc,
        goodbooks_synthetic::GoodbooksSyntheticFunc.documentation(),
    );
    eval::register(lib);
}

/// The model called `name`, checked to be a recommender; `function` names the caller in errors.
pub(crate) fn recommender_model(
    catalog: &dyn ModelCatalog,
    name: &str,
    function: &str,
) -> Result<Arc<LoadedModel>> {
    let model = catalog.model(name)?;
    if model.model.capability::<dyn Recommender>().is_none() {
        return plan_err!(
            "model '{}' is a '{}' model, not a recommender; {function}() needs a recommender",
            model.name,
            model.model_type
        );
    }
    Ok(model)
}

/// The type an id argument is coerced to (integers to Int64, text to Utf8).
pub(crate) fn id_type(function: &str, what: &str, t: &DataType) -> Result<DataType> {
    match KeyKind::of(t) {
        Some(KeyKind::Int) => Ok(DataType::Int64),
        Some(KeyKind::Text) => Ok(DataType::Utf8),
        None if t == &DataType::Null => Ok(DataType::Int64),
        None => plan_err!("{function}: the {what} id must be an integer or text, got {t}"),
    }
}

/// Checks that a user-id argument is of the kind the model was trained on (a NULL-typed
/// argument always passes), for functions that take a user but no item.
pub(crate) fn check_user_kind(
    function: &str,
    model: &str,
    data: &RecData,
    user_array: &ArrayRef,
    users: &KeyColumn,
) -> Result<()> {
    if user_array.data_type() != &DataType::Null && users.kind() != data.users.kind() {
        return exec_err!(
            "{function}: model '{model}' was trained on {} user ids, got {} ids",
            data.users.kind().name(),
            users.kind().name()
        );
    }
    Ok(())
}

/// Checks that id arguments are of the kinds the model was trained on (NULL-typed arguments
/// always pass).
pub(crate) fn check_kinds(
    function: &str,
    model: &str,
    data: &RecData,
    user_array: &ArrayRef,
    users: &KeyColumn,
    item_array: &ArrayRef,
    items: &KeyColumn,
) -> Result<()> {
    check_user_kind(function, model, data, user_array, users)?;
    if item_array.data_type() != &DataType::Null && items.kind() != data.items.kind() {
        return exec_err!(
            "{function}: model '{model}' was trained on {} item ids, got {} ids",
            data.items.kind().name(),
            items.kind().name()
        );
    }
    Ok(())
}
