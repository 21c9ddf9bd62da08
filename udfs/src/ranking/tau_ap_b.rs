//! `tau_ap_b(x, y)` on two lists and `tau_ap_b_agg(x, y)` over rows.

use datafusion_macros::user_doc;

use super::kernels;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "τ_AP,b (Urbano & Marrero 2017): a symmetric τ_AP that allows ties in both lists (tied items are treated as sharing a rank); without ties it is the mean of tau_ap(x, y) and tau_ap(y, x). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: each of its two one-way terms averages over the items outside the top tie group of one list, and there are none (0/0). Any other ties give a value. Over rows, use the aggregate tau_ap_b_agg(x, y).",
    syntax_example = "tau_ap_b(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap_b([4, 3, 2, 1], [4, 3, 1, 2]), 4) AS tau_ap_b;
+----------+
| tau_ap_b |
+----------+
| 0.7778   |
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
pub struct TauApBList;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Aggregate form of tau_ap_b: the coefficient between the x and y values of the rows of each group (each row one item). τ_AP,b (Urbano & Marrero 2017): a symmetric τ_AP that allows ties in both lists (tied items are treated as sharing a rank); without ties it is the mean of tau_ap(x, y) and tau_ap(y, x). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL for fewer than 2 pairs, and when every value of x or every value of y is tied: each of its two one-way terms averages over the items outside the top tie group of one list, and there are none (0/0). Any other ties give a value.",
    syntax_example = "tau_ap_b_agg(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap_b_agg(x, y), 4) AS tau_ap_b_agg FROM (VALUES (4, 4), (3, 3), (2, 1), (1, 2)) AS t(x, y);
+--------------+
| tau_ap_b_agg |
+--------------+
| 0.7778       |
+--------------+
```"#,
    argument(
        name = "x",
        description = "Reference score of the row's item (higher = better rank)."
    ),
    argument(name = "y", description = "Estimated score of the row's item.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TauApBAgg;

crate::rank_coefficient!(TauApB, "tau_ap_b", kernels::tau_ap_b, TauApBList, TauApBAgg);
