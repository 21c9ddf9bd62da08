//! `mfcc_stats(audio, sr [, variant])`: the thesis' MFCC encoders, the 144-d one of the
//! robustness study (ch. 4) and the 120-d baseline of the transfer experiments (ch. 2).

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, opt, sample_rate, ArgSpec, Kind, OutKind, Params, PlanCache, Row, RowFunction, Value,
};
use super::kernels::mfcc::{MfccStatsPlan, MfccStatsVariant};
use super::kernels::stft::Precision;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The 144-d MFCC encoder of the thesis' robustness study (SPEC §7): MFCCs c1..c24 (c0 dropped) of a clip, their deltas and delta-deltas, and the mean and standard deviation over time of each, as one fixed_size_list<float32, 144>, computed in float32 up to the mel bands (as the study's torch code computed them) and in float64 after them. variant 'study' (default) is the study's code: STFT n_fft 1024, hop 256, symmetric Hann, reflect padding, 128 Slaney bands, dB with an 80 dB floor, orthonormal DCT-II, plain frame differences as deltas, layout [mean c, std c, mean Δ, std Δ, mean ΔΔ, std ΔΔ], std with ddof 1. variant 'librosa' is librosa's convention: librosa.feature.mfcc defaults (n_fft 2048, hop 512, periodic Hann, zero padding), Savitzky–Golay deltas of width 9, all means then all stds, ddof 0. variant 'choi' is the 120-d MFCC baseline of the thesis' chapter 2 (§2.4.2, following Choi et al. 2017 and their code): 20 MFCCs with c0 kept, librosa.feature.mfcc defaults, Δ and ΔΔ as plain frame differences, layout [mean c, std c, mean Δ, std Δ, mean ΔΔ, std ΔΔ], ddof 0, as fixed_size_list<float32, 120>; the variant must then be a constant. Also embed('mfcc', audio).",
    syntax_example = "mfcc_stats(audio, sr [, variant])",
    sql_example = r#"```sql
> SELECT cardinality(mfcc_stats(array_repeat(0.5, 22050), 22050)) AS dim;
+-----+
| dim |
+-----+
| 144 |
+-----+
```"#,
    argument(
        name = "audio",
        description = "The clip: a list of samples (at least 768 for 'study', 4096 for 'librosa', 1024 for 'choi')."
    ),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (the study used 22050)."
    ),
    argument(
        name = "variant",
        description = "'study' (default), 'librosa' or 'choi'."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct MfccStats;

static DOC: MfccStats = MfccStats;
static PLANS: PlanCache<(u32, MfccStatsVariant), MfccStatsPlan> = PlanCache::new();

/// The variant named by `text`.
pub(crate) fn variant(text: Option<&str>) -> Result<MfccStatsVariant, AudioError> {
    match text.map(str::to_ascii_lowercase).as_deref() {
        None | Some("study") => Ok(MfccStatsVariant::Study),
        Some("librosa") => Ok(MfccStatsVariant::Librosa),
        Some("choi") => Ok(MfccStatsVariant::Choi),
        Some(other) => Err(AudioError::BadParameter(format!(
            "variant must be 'study', 'librosa' or 'choi', got '{other}'"
        ))),
    }
}

/// The statistics of `audio` (144 values, 120 for 'choi') as float32.
pub(crate) fn encode(audio: &[f32], sr: u32, v: MfccStatsVariant) -> Result<Vec<f32>, AudioError> {
    let plan = PLANS.get(&(sr, v), || MfccStatsPlan::new(sr, v, Precision::F32))?;
    Ok(plan.stats(audio)?.into_iter().map(|x| x as f32).collect())
}

impl RowFunction for MfccStats {
    const NAME: &'static str = "mfcc_stats";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        opt("variant", Kind::Text),
    ];
    const OUT: OutKind = OutKind::Vector;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        if let Some(sr) = p.float(1) {
            sample_rate(sr)?;
        }
        variant(p.text(2)).map(|_| ())
    }

    /// The variant's length: `fixed_size_list<float32, 144>`, or 120 for 'choi' (a variant that
    /// is not a constant is planned as the default's 144).
    fn vector_len(
        p: &dyn Params,
        _catalog: Option<&std::sync::Arc<dyn crate::model::ModelCatalog>>,
    ) -> Result<Option<usize>, AudioError> {
        Ok(Some(variant(p.text(2))?.dim()))
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(1)?;
        let v = variant(row.text(2))?;
        Ok(Value::Samples(encode(row.audio(0)?, sr, v)?))
    }
}
