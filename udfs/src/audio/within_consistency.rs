//! `within_consistency(point, original, candidate, distance [, resamples [, seed]])`: C^W of
//! thesis eq. 4.10 over a table of distances.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::consistency_agg::{Cell, Measure};
use super::kernels::consistency::{deltas, within_ci, Bootstrap};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Within-space distance consistency C^W (thesis eq. 4.9–4.10) of a (transform, magnitude) cell: over rows (point, original, candidate, distance), one per transformed point and candidate original, the share of points strictly closer to their own original than to every other candidate (a tie counts as inconsistent). Candidates are originals only. Returns a struct {value, ci_lower, ci_upper, points}: the estimate, a 95 % percentile-bootstrap interval over the points (resamples, default 1000; seed, default 42) and the number of points. Rows with a NULL are skipped; a point without a distance to some candidate, or whose original is not a candidate, is an error.",
    syntax_example = "within_consistency(point, original, candidate, distance [, resamples [, seed]])",
    sql_example = r#"```sql
> SELECT within_consistency(point, original, candidate, d, 200, 7)['value'] AS cw
  FROM (VALUES ('a1', 'a', 'a', 0.1), ('a1', 'a', 'b', 0.9), ('b1', 'b', 'a', 0.2), ('b1', 'b', 'b', 0.5))
    AS t(point, original, candidate, d);
+-----+
| cw  |
+-----+
| 0.5 |
+-----+
```"#,
    argument(
        name = "point",
        description = "Id of the transformed point (text or number)."
    ),
    argument(
        name = "original",
        description = "Id of the point's own original, one of the candidates."
    ),
    argument(
        name = "candidate",
        description = "Id of the original this row's distance is to."
    ),
    argument(
        name = "distance",
        description = "Distance from the point to the candidate (finite, non-negative)."
    ),
    argument(
        name = "resamples",
        description = "Bootstrap replicates (integer literal, default 1000; 0 gives NULL limits)."
    ),
    argument(
        name = "seed",
        description = "Seed of the bootstrap (integer literal, default 42)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct WithinConsistency;

static DOC: WithinConsistency = WithinConsistency;

impl Measure for WithinConsistency {
    const NAME: &'static str = "within_consistency";
    const DISTANCES: &'static [&'static str] = &["distance"];

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn fields() -> Fields {
        Fields::from(vec![
            Arc::new(Field::new("value", DataType::Float64, true)),
            Arc::new(Field::new("ci_lower", DataType::Float64, true)),
            Arc::new(Field::new("ci_upper", DataType::Float64, true)),
            Arc::new(Field::new("points", DataType::Int64, true)),
        ])
    }

    fn evaluate(cell: &Cell, bootstrap: &Bootstrap) -> Result<Vec<f64>, AudioError> {
        let d = deltas(&cell.dist[0], cell.n_candidates, &cell.own)?;
        let ci = within_ci(&d, bootstrap)?;
        Ok(vec![ci.estimate, ci.lower, ci.upper, cell.own.len() as f64])
    }
}
