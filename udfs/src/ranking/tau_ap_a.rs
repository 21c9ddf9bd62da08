//! `tau_ap_a(x, y)` on two lists and `tau_ap_a_agg(x, y)` over rows.

use datafusion_macros::user_doc;

use super::kernels;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "τ_AP,a (Urbano & Marrero 2017): τ_AP allowing ties in the estimate y, equal to the expected τ_AP over every random ordering of the tied items; the fidelity measure of the thesis. A tie in the reference x is an error (use tau_ap_b). Computed in O(n log n). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL only for fewer than 2 pairs: no denominator can be 0, so an estimate whose values are all tied is defined and gives 0 (every order of the items is equally likely, and the expected τ_AP of a random order is 0, as in ircor's tauAP_a); a reference whose values are all tied is an error like any tie in x. Over rows, use the aggregate tau_ap_a_agg(x, y).",
    syntax_example = "tau_ap_a(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap_a([4, 3, 2, 1], [4, 3, 3, 1]), 4) AS tau_ap_a;
+----------+
| tau_ap_a |
+----------+
| 0.8333   |
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
pub struct TauApAList;

#[user_doc(
    doc_section(label = "Rank Correlation Functions"),
    description = "Aggregate form of tau_ap_a: the coefficient between the x and y values of the rows of each group (each row one item). τ_AP,a (Urbano & Marrero 2017): τ_AP allowing ties in the estimate y, equal to the expected τ_AP over every random ordering of the tied items; the fidelity measure of the thesis. A tie in the reference x is an error (use tau_ap_b). Computed in O(n log n). Pairs with a NULL are skipped; lists of different length and NaN are errors. NULL only for fewer than 2 pairs: no denominator can be 0, so an estimate whose values are all tied is defined and gives 0 (every order of the items is equally likely, and the expected τ_AP of a random order is 0, as in ircor's tauAP_a); a reference whose values are all tied is an error like any tie in x.",
    syntax_example = "tau_ap_a_agg(x, y)",
    sql_example = r#"```sql
> SELECT round(tau_ap_a_agg(x, y), 4) AS tau_ap_a_agg FROM (VALUES (4, 4), (3, 3), (2, 3), (1, 1)) AS t(x, y);
+--------------+
| tau_ap_a_agg |
+--------------+
| 0.8333       |
+--------------+
```"#,
    argument(
        name = "x",
        description = "Reference score of the row's item (higher = better rank)."
    ),
    argument(name = "y", description = "Estimated score of the row's item.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct TauApAAgg;

crate::rank_coefficient!(TauApA, "tau_ap_a", kernels::tau_ap_a, TauApAList, TauApAAgg);
