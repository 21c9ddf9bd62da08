//! `spearman(x, y)` on two lists and `spearman_agg(x, y)` over rows.

use datafusion_macros::user_doc;

use super::kernels;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Spearman's rank correlation ρ: the Pearson correlation of the ranks of x and y, tied values sharing their mean rank. Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: that list's ranks then have zero variance, the denominator (0/0). Any other ties give a value. Over rows, use the aggregate spearman_agg(x, y).",
    syntax_example = "spearman(x, y)",
    sql_example = r#"```sql
> SELECT round(spearman([1, 2, 3, 4], [1, 2, 4, 3]), 4) AS spearman;
+----------+
| spearman |
+----------+
| 0.8      |
+----------+
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
pub struct SpearmanList;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Aggregate form of spearman: the coefficient between the x and y values of the rows of each group (each row one item). Spearman's rank correlation ρ: the Pearson correlation of the ranks of x and y, tied values sharing their mean rank. Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: that list's ranks then have zero variance, the denominator (0/0). Any other ties give a value.",
    syntax_example = "spearman_agg(x, y)",
    sql_example = r#"```sql
> SELECT round(spearman_agg(x, y), 4) AS spearman_agg FROM (VALUES (1, 1), (2, 2), (3, 4), (4, 3)) AS t(x, y);
+--------------+
| spearman_agg |
+--------------+
| 0.8          |
+--------------+
```"#,
    argument(
        name = "x",
        description = "Reference score of the row's item (higher = better rank)."
    ),
    argument(name = "y", description = "Estimated score of the row's item.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct SpearmanAgg;

crate::rank_coefficient!(
    Spearman,
    "spearman",
    kernels::spearman,
    SpearmanList,
    SpearmanAgg
);
