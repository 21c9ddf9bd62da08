//! `ediv(item)`: entropy diversity of a recommender's top-p lists (thesis eq. 5.13), the
//! unnormalised companion of `ndiv`, for comparing groups of the same size N.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::item_counts::Diversity;
use super::kernels;

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "Entropy diversity eDiv (thesis eq. 5.13) of the recommendations in a group, one \
row per (user, recommended item): with N the number of rows whose item is not NULL and \
q_j = (rows with item j) / N, eDiv = −Σ_j q_j ln q_j (natural logarithm), between 0 (every row has \
the same item) and ln N (no item twice). NULL items are skipped; NULL when N = 0. Item ids are \
integers or text. Works with GROUP BY. ndiv(item) divides it by ln N.",
    syntax_example = "ediv(item)",
    sql_example = r#"```sql
> SELECT round(ediv(item), 4) AS ediv FROM (VALUES (1, 'a'), (1, 'b'), (2, 'a'), (2, 'c')) AS t("user", item);
+--------+
| ediv   |
+--------+
| 1.0397 |
+--------+
```"#,
    argument(
        name = "item",
        description = "The recommended item of the row (integer or text id)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Ediv;

static DOC: Ediv = Ediv;

impl Diversity for Ediv {
    const NAME: &'static str = "ediv";

    fn compute(counts: &[u64]) -> Option<f64> {
        kernels::ediv(counts)
    }

    fn documentation() -> Option<&'static Documentation> {
        DOC.doc()
    }
}
