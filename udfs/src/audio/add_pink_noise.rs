//! `add_pink_noise(audio, snr_db, seed)`: a clip with pink noise at a signal-to-noise ratio.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_finite_param, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::kernels::noise::add_pink_noise;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip mixed with seeded pink noise (power spectrum ∝ 1/f, −3 dB per octave; white Gaussian noise shaped in the frequency domain, as the colorednoise package the study used) at snr_db: the clip scaled to RMS 1, the noise to RMS 10^(−snr_db/20), the sum peak-normalised to 1 (the study's mixing). A silent clip is an error.",
    syntax_example = "add_pink_noise(audio, snr_db, seed)",
    sql_example = r#"```sql
> SELECT round(max(abs(x)), 3) AS peak FROM (SELECT unnest(add_pink_noise(a, 10, 42)) AS x FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050)));
+------+
| peak |
+------+
| 1.0  |
+------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(
        name = "snr_db",
        description = "Signal-to-noise ratio in dB (the study: −15 to 30)."
    ),
    argument(
        name = "seed",
        description = "Seed of the noise (an integer; the same seed gives the same noise)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct AddPinkNoise;

static DOC: AddPinkNoise = AddPinkNoise;

impl RowFunction for AddPinkNoise {
    const NAME: &'static str = "add_pink_noise";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("snr_db", Kind::Float),
        arg("seed", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_finite_param(p, 1, "snr_db")
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let snr = row.req_float(1)?;
        let seed = row.req_int(2)? as u64;
        Ok(Value::Samples(add_pink_noise(row.audio(0)?, snr, seed)?))
    }
}
