//! `kendall_tau_b(x, y)` on two lists and `kendall_tau_b_agg(x, y)` over rows.

use datafusion_macros::user_doc;

use super::kernels;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Kendall's τ_b rank correlation with the usual correction for ties in either list, computed in O(n log n) (Knight's algorithm). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: the denominator sqrt((n0 − n1)(n0 − n2)) is then 0 (0/0). Any other ties give a value. Over rows, use the aggregate kendall_tau_b_agg(x, y).",
    syntax_example = "kendall_tau_b(x, y)",
    sql_example = r#"```sql
> SELECT round(kendall_tau_b([1, 2, 3, 4], [1, 2, 4, 3]), 4) AS kendall_tau_b;
+---------------+
| kendall_tau_b |
+---------------+
| 0.6667        |
+---------------+
```"#,
    argument(
        name = "x",
        description = "The reference list of scores (higher = better rank)."
    ),
    argument(
        name = "y",
        description = "The estimated list of scores, the same items in the same order."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct KendallTauBList;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Aggregate form of kendall_tau_b: the coefficient between the x and y values of the rows of each group (each row one item). Kendall's τ_b rank correlation with the usual correction for ties in either list, computed in O(n log n) (Knight's algorithm). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: the denominator sqrt((n0 − n1)(n0 − n2)) is then 0 (0/0). Any other ties give a value.",
    syntax_example = "kendall_tau_b_agg(x, y)",
    sql_example = r#"```sql
> SELECT round(kendall_tau_b_agg(x, y), 4) AS kendall_tau_b_agg FROM (VALUES (1, 1), (2, 2), (3, 4), (4, 3)) AS t(x, y);
+-------------------+
| kendall_tau_b_agg |
+-------------------+
| 0.6667            |
+-------------------+
```"#,
    argument(
        name = "x",
        description = "Reference score of the row's item (higher = better rank)."
    ),
    argument(name = "y", description = "Estimated score of the row's item.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct KendallTauBAgg;

crate::rank_coefficient!(
    KendallTauB,
    "kendall_tau_b",
    kernels::kendall_tau_b,
    KendallTauBList,
    KendallTauBAgg
);
