//! `stft_db(audio [, options])`: the dB-scaled magnitude STFT of a clip.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, opt, ArgSpec, Kind, OutKind, Params, PlanCache, Row, RowFunction, Value,
};
use super::feature_options::{check_feature_memory, FeatureParams};
use super::kernels::mel::MelParams;
use super::kernels::stft::{amplitude_to_db, StftParams, StftPlan};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The magnitude short-time Fourier transform of a clip in dB, one frame per list: 20·log10(max(|X|, 1e-5)), floored at the clip's maximum minus top_db (librosa's amplitude_to_db). Defaults are the thesis' input representation of the deep encoders: n_fft 1024, hop 256, periodic Hann window, frames centred with zero padding (librosa ≥ 0.9), top_db 80; each frame has n_fft/2 + 1 bins. Other parameters are named options: n_fft, hop, window (hann | hann_symmetric), center, pad (constant | reflect), top_db (a number or none), precision (f64, the default, or f32: a float32 FFT, up to 1e-3 dB off in bins 80 dB below the peak).",
    syntax_example = "stft_db(audio [, options])",
    sql_example = r#"```sql
> SELECT array_length(s) AS frames, cardinality(s[1]) AS bins FROM (SELECT stft_db(array_repeat(0.5, 2048)) AS s);
+--------+------+
| frames | bins |
+--------+------+
| 9      | 513  |
+--------+------+
```"#,
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(
        name = "options",
        description = "Optional constant string of name = value pairs, e.g. 'n_fft = 2048, hop = 512, window = hann_symmetric, pad = reflect, top_db = none'."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct StftDb;

static DOC: StftDb = StftDb;
static PLANS: PlanCache<StftParams, StftPlan> = PlanCache::new();

fn params(p: &dyn Params) -> Result<FeatureParams, AudioError> {
    let base = FeatureParams {
        stft: StftParams::librosa(1024, 256),
        mel: MelParams::default(),
        top_db: Some(80.0),
    };
    base.with_options(p.text(1).unwrap_or(""))
}

impl RowFunction for StftDb {
    const NAME: &'static str = "stft_db";
    const ARGS: &'static [ArgSpec] = &[arg("audio", Kind::Audio), opt("options", Kind::Text)];
    const OUT: OutKind = OutKind::Frames;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        params(p).map(|_| ())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let p = params(row)?;
        let audio = row.audio(0)?;
        check_feature_memory(
            &p.stft,
            0,
            0,
            ("n_fft", p.stft.n_bins()),
            audio.len(),
            row.memory_limit(),
        )?;
        let plan = PLANS.get(&p.stft, || StftPlan::new(p.stft))?;
        let mut s = plan.magnitude(audio)?;
        amplitude_to_db(&mut s, 1e-5, p.top_db, p.stft.precision)?;
        Ok(Value::Frames(s))
    }
}
