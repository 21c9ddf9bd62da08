//! `tau_ap(x, y)` on two lists and `tau_ap_agg(x, y)` over rows.

use datafusion_macros::user_doc;

use super::kernels;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "AP rank correlation τ_AP (Yilmaz, Aslam & Robertson 2008): a top-weighted Kendall-like correlation of the estimate y against the reference x (higher value = better rank; positions are taken from y, so it is asymmetric). Ties are not defined for τ_AP: a tie in either list is an error (use tau_ap_a or tau_ap_b). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL only for fewer than 2 pairs: otherwise the value is always defined (its denominators n − 1 and the positions i − 1 are never 0), and a list whose values are all tied is an error like any tie. Over rows, use the aggregate tau_ap_agg(x, y).",
    syntax_example = "tau_ap(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap([4, 3, 2, 1], [4, 3, 1, 2]), 4) AS tau_ap;
+--------+
| tau_ap |
+--------+
| 0.7778 |
+--------+
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
pub struct TauApList;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Aggregate form of tau_ap: the coefficient between the x and y values of the rows of each group (each row one item). AP rank correlation τ_AP (Yilmaz, Aslam & Robertson 2008): a top-weighted Kendall-like correlation of the estimate y against the reference x (higher value = better rank; positions are taken from y, so it is asymmetric). Ties are not defined for τ_AP: a tie in either list is an error (use tau_ap_a or tau_ap_b). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL only for fewer than 2 pairs: otherwise the value is always defined (its denominators n − 1 and the positions i − 1 are never 0), and a list whose values are all tied is an error like any tie.",
    syntax_example = "tau_ap_agg(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap_agg(x, y), 4) AS tau_ap_agg FROM (VALUES (4, 4), (3, 3), (2, 1), (1, 2)) AS t(x, y);
+------------+
| tau_ap_agg |
+------------+
| 0.7778     |
+------------+
```"#,
    argument(
        name = "x",
        description = "Reference score of the row's item (higher = better rank)."
    ),
    argument(name = "y", description = "Estimated score of the row's item.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TauApAgg;

crate::rank_coefficient!(TauAp, "tau_ap", kernels::tau_ap, TauApList, TauApAgg);
