//! `between_consistency(point, original, candidate, audio_distance, latent_distance [, resamples
//! [, seed]])`: C^B_ρ and C^B_acc of thesis eq. 4.11–4.12 over a table of distances.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::consistency_agg::{Cell, Measure};
use super::kernels::consistency::{between_accuracy_ci, between_spearman_ci, deltas, Bootstrap};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Between-space distance consistency (thesis eq. 4.11–4.12) of a (transform, magnitude) cell, from rows (point, original, candidate, audio_distance, latent_distance), one per transformed point and candidate original (originals only): rho = C^B_ρ, Spearman's rank correlation between the two spaces' distances from every point to every candidate (its own original included, as SPEC §7 and the study's code; the thesis' text leaves it out), and accuracy = C^B_acc, the share of points whose within-space verdict (closer to its own original than to every other, eq. 4.9) is the same in both spaces. Returns a struct {rho, rho_lower, rho_upper, accuracy, accuracy_lower, accuracy_upper, points} with 95 % percentile-bootstrap intervals over the points (resamples, default 1000; seed, default 42).",
    syntax_example = "between_consistency(point, original, candidate, audio_distance, latent_distance [, resamples [, seed]])",
    sql_example = r#"```sql
> SELECT c['rho'] AS rho, c['accuracy'] AS accuracy FROM (
    SELECT between_consistency(point, original, candidate, da, dl, 200, 7) AS c
    FROM (VALUES ('a1', 'a', 'a', 0.1, 1.0), ('a1', 'a', 'b', 0.9, 3.0),
                 ('b1', 'b', 'a', 0.2, 2.0), ('b1', 'b', 'b', 0.5, 1.5))
      AS t(point, original, candidate, da, dl));
+-----+----------+
| rho | accuracy |
+-----+----------+
| 0.8 | 0.5      |
+-----+----------+
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
        description = "Id of the original this row's distances are to."
    ),
    argument(
        name = "audio_distance",
        description = "Distance in audio space (e.g. dtw of MFCC frames)."
    ),
    argument(
        name = "latent_distance",
        description = "Distance in the embedding space (e.g. euclidean_distance of embeddings)."
    ),
    argument(
        name = "resamples",
        description = "Bootstrap replicates (integer literal, default 1000)."
    ),
    argument(
        name = "seed",
        description = "Seed of the bootstrap (integer literal, default 42)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct BetweenConsistency;

static DOC: BetweenConsistency = BetweenConsistency;

impl Measure for BetweenConsistency {
    const NAME: &'static str = "between_consistency";
    const DISTANCES: &'static [&'static str] = &["audio_distance", "latent_distance"];

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn fields() -> Fields {
        let f = |name: &str| Arc::new(Field::new(name, DataType::Float64, true));
        Fields::from(vec![
            f("rho"),
            f("rho_lower"),
            f("rho_upper"),
            f("accuracy"),
            f("accuracy_lower"),
            f("accuracy_upper"),
            Arc::new(Field::new("points", DataType::Int64, true)),
        ])
    }

    fn evaluate(cell: &Cell, bootstrap: &Bootstrap) -> Result<Vec<f64>, AudioError> {
        let (audio, latent) = (&cell.dist[0], &cell.dist[1]);
        let rho = between_spearman_ci(audio, latent, cell.n_candidates, bootstrap)?;
        let da = deltas(audio, cell.n_candidates, &cell.own)?;
        let dl = deltas(latent, cell.n_candidates, &cell.own)?;
        let acc = between_accuracy_ci(&da, &dl, bootstrap)?;
        Ok(vec![
            rho.estimate,
            rho.lower,
            rho.upper,
            acc.estimate,
            acc.lower,
            acc.upper,
            cell.own.len() as f64,
        ])
    }
}
