//! `explain_pdp(model, user, item, omega [, options])`: the partial-dependence explainer (thesis eq. 5.16-5.17).

use std::sync::Arc;

use datafusion_macros::user_doc;

use super::engine::Method;
use super::function::ExplainAdapter;
use crate::model::ModelCatalog;

#[user_doc(
    doc_section(label = "Explainer Functions"),
    description = "The user-level partial-dependence explainer (thesis eq. 5.16-5.17, SPEC 6): the weight of tag t is the mean, over the items j of the user's training history, of f(u, j, T_j with t switched on) - f(u, j, T_j); a tag is switched on with weight 1, and an item that already has t contributes 0. One explanation per user over every tag of the model (the item argument only has to be known), truncated to the omega weights of largest magnitude. Returns a list of {tag, weight} sorted by decreasing |weight|; NULL for NULL arguments or an unknown user or item.",
    syntax_example = "explain_pdp(model, user, item, omega [, options])",
    sql_example = r#"```sql
> CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), (20, 'pop', 1.0),
  (20, 'guitar', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0), (40, 'jazz', 1.0)) AS t(item, tag, weight);
> CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM (VALUES
  (1, 10), (1, 20), (2, 10), (2, 30), (3, 20), (3, 40), (4, 30)) AS t("user", item);
> SELECT cardinality(explain_pdp('nn', 1, 30, 1)) AS one, cardinality(explain_pdp('nn', 1, 30, 2)) AS two,
  explain_pdp('nn', 1, 99, 1) AS unknown_item;
+-----+-----+--------------+
| one | two | unknown_item |
+-----+-----+--------------+
| 1   | 2   | NULL         |
+-----+-----+--------------+
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
pub struct ExplainPdpFunc(ExplainAdapter);

impl ExplainPdpFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self(ExplainAdapter::new(Method::Pdp, "explain_pdp", catalog))
    }
}

crate::explain_udf_impl!(ExplainPdpFunc);
