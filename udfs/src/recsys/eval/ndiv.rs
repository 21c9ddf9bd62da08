//! `ndiv(item)`: normalised entropy diversity of a recommender's top-p lists (thesis eq. 5.14),
//! the diversity column of the accuracy/diversity table, as an aggregate over recommendation rows.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::item_counts::Diversity;
use super::kernels;

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "Normalised entropy diversity nDiv (thesis eq. 5.13–5.14) of the recommendations \
in a group, one row per (user, recommended item): with N the number of rows whose item is not NULL \
and q_j = (rows with item j) / N, eDiv = −Σ_j q_j ln q_j and nDiv = eDiv / ln N, in [0, 1] \
(1 when no item is recommended twice, 0 when every row has the same item). When every user's \
top-p list is complete and holds no item twice, N = p·|U'| and q_j is the share of users whose \
list has item j, as in the thesis. NULL items are skipped; NULL when N ≤ 1. Item ids are integers \
or text. Works with GROUP BY (e.g. one value per recommender); the unnormalised entropy is \
ediv(item).",
    syntax_example = "ndiv(item)",
    sql_example = r#"```sql
> SELECT round(ndiv(item), 4) AS ndiv FROM (VALUES (1, 10), (1, 20), (2, 10), (2, 30)) AS t("user", item);
+------+
| ndiv |
+------+
| 0.75 |
+------+
```"#,
    argument(
        name = "item",
        description = "The recommended item of the row (integer or text id)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Ndiv;

static DOC: Ndiv = Ndiv;

impl Diversity for Ndiv {
    const NAME: &'static str = "ndiv";

    fn compute(counts: &[u64]) -> Option<f64> {
        kernels::ndiv(counts)
    }

    fn documentation() -> Option<&'static Documentation> {
        DOC.doc()
    }
}
