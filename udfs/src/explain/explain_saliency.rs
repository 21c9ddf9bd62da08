//! `explain_saliency(model, user, item, omega [, options])`: the Saliency explainer (thesis eq. 5.18).

use std::sync::Arc;

use datafusion_macros::user_doc;

use super::engine::Method;
use super::function::ExplainAdapter;
use crate::model::ModelCatalog;

#[user_doc(
    doc_section(label = "Explainer Functions"),
    description = "The Saliency explainer (thesis eq. 5.18): the weight of each of the item's own tags is the partial derivative of f(u, i, t) with respect to that tag's weight at t = T_i (autograd, one backward pass per batch); the omega weights of largest magnitude are kept. Models whose score does not depend on tags (wrmf, mostpop, random) give empty lists. Returns a list of {tag, weight} sorted by decreasing |weight|; NULL for NULL arguments or an unknown user or item.",
    syntax_example = "explain_saliency(model, user, item, omega [, options])",
    sql_example = r#"```sql
> CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), (20, 'pop', 1.0),
  (20, 'guitar', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0), (40, 'jazz', 1.0)) AS t(item, tag, weight);
> CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM (VALUES
  (1, 10), (1, 20), (2, 10), (2, 30), (3, 20), (3, 40), (4, 30)) AS t("user", item);
> SELECT cardinality(explain_saliency('nn', 1, 30, 1)) AS one, cardinality(explain_saliency('nn', 1, 30, 5)) AS up_to_five,
  explain_saliency('nn', 1, 99, 1) AS unknown_item;
+-----+------------+--------------+
| one | up_to_five | unknown_item |
+-----+------------+--------------+
| 1   | 2          | NULL         |
+-----+------------+--------------+
```"#,
    argument(
        name = "model",
        description = "Name of a recommender model (a string; may be a column)."
    ),
    argument(name = "user", description = "User id (integer or text)."),
    argument(name = "item", description = "Item id (integer or text)."),
    argument(
        name = "omega",
        description = "Complexity ω ≥ 1: the explanation keeps the ω tags of largest |weight|."
    ),
    argument(
        name = "options",
        description = "Optional constant string of name = value pairs: samples (LIME perturbations, 5000), kernel_width (LIME, 25), feature_selection (LIME: auto, forward_selection, highest_weights, lasso_path, none; auto), ridge_alpha (LIME surrogate penalty, 1), seed (Random and LIME, 42)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExplainSaliencyFunc(ExplainAdapter);

impl ExplainSaliencyFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self(ExplainAdapter::new(
            Method::Saliency,
            "explain_saliency",
            catalog,
        ))
    }
}

crate::explain_udf_impl!(ExplainSaliencyFunc);
