//! `mix_noise(audio, noise, snr_db, seed)`: a clip mixed with a noise recording at a signal-to-noise ratio.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_finite_param, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::kernels::noise::mix_at_snr;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The clip mixed with a noise recording at snr_db (the thesis' environmental noise): a noise shorter than the clip is tiled (the whole recording repeated, from its start), a longer one cropped at an offset drawn from seed; the clip is scaled to RMS 1, the noise window to RMS 10^(−snr_db/20), and the sum peak-normalised to 1 (the study's mixing). A silent clip or noise window is an error. Both must have the same sample rate.",
    syntax_example = "mix_noise(audio, noise, snr_db, seed)",
    sql_example = r#"```sql
> SELECT round(max(abs(x)), 3) AS peak FROM (SELECT unnest(mix_noise(a, [0.1, -0.2, 0.3], 0, 7)) AS x FROM (SELECT array_agg(CAST(0.1 * sin(value * 0.2849517) AS FLOAT)) AS a FROM generate_series(1, 22050)));
+------+
| peak |
+------+
| 1.0  |
+------+
```"#,
    argument(name = "audio", description = "The clip."),
    argument(
        name = "noise",
        description = "The noise recording, at the clip's sample rate."
    ),
    argument(name = "snr_db", description = "Signal-to-noise ratio in dB."),
    argument(
        name = "seed",
        description = "Seed of the crop offset of a longer noise."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct MixNoise;

static DOC: MixNoise = MixNoise;

impl RowFunction for MixNoise {
    const NAME: &'static str = "mix_noise";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("noise", Kind::Audio),
        arg("snr_db", Kind::Float),
        arg("seed", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Audio;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_finite_param(p, 2, "snr_db")
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let snr = row.req_float(2)?;
        let seed = row.req_int(3)? as u64;
        Ok(Value::Samples(mix_at_snr(
            row.audio(0)?,
            row.audio(1)?,
            snr,
            seed,
        )?))
    }
}
