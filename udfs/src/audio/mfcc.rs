//! `mfcc(audio, sr, n_mfcc [, options])`: per-frame MFCCs of a clip.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, opt, sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value,
};
use super::feature_options::check_feature_memory;
use super::kernels::mfcc::MfccPlan;
use super::kernels::AudioError;
use super::melspectrogram::{librosa_params, MFCC_PLANS};

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Mel-frequency cepstral coefficients of a clip, one list of n_mfcc coefficients per frame (c0 kept), as librosa.feature.mfcc with its defaults: the mel power spectrogram of melspectrogram (n_fft 2048, hop 512, periodic Hann, centred with zero padding, 128 Slaney bands), in dB (10·log10, floored at the clip's maximum minus 80 dB), then an orthonormal DCT-II over the bands. This is the thesis' audio-space representation for DTW and SiMPle (25 coefficients). Other parameters are named options: n_fft, hop, window (hann | hann_symmetric), center, pad (constant | reflect), n_mels, fmin, fmax, top_db, precision (f32 | f64). Computed in float32 up to the mel bands, 1.5 times as fast as float64 (precision = f64); the two differ by about 1e-4 on MFCCs, as librosa's float32 and float64 paths do.",
    syntax_example = "mfcc(audio, sr, n_mfcc [, options])",
    sql_example = r#"```sql
> SELECT array_length(m) AS frames, cardinality(m[1]) AS coefficients FROM (SELECT mfcc(array_repeat(0.5, 22050), 22050, 25) AS m);
+--------+--------------+
| frames | coefficients |
+--------+--------------+
| 44     | 25           |
+--------+--------------+
```"#,
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(name = "sr", description = "Its sample rate in Hz."),
    argument(
        name = "n_mfcc",
        description = "Coefficients per frame, c0 included (1 to n_mels)."
    ),
    argument(
        name = "options",
        description = "Optional constant string of name = value pairs, e.g. 'n_fft = 1024, hop = 256'."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Mfcc;

static DOC: Mfcc = Mfcc;

impl RowFunction for Mfcc {
    const NAME: &'static str = "mfcc";
    const ARGS: &'static [ArgSpec] = &[
        arg("audio", Kind::Audio),
        arg("sr", Kind::Float),
        arg("n_mfcc", Kind::Int),
        opt("options", Kind::Text),
    ];
    const OUT: OutKind = OutKind::Frames;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        if let Some(sr) = p.float(1) {
            sample_rate(sr)?;
        }
        let params = librosa_params(p, 3, 1)?;
        match p.int(2) {
            Some(n) if n < 1 || n as usize > params.mel.n_mels => {
                Err(AudioError::BadParameter(format!(
                    "n_mfcc must be between 1 and n_mels ({}), got {n}",
                    params.mel.n_mels
                )))
            }
            _ => Ok(()),
        }
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let sr = row.sample_rate(1)?;
        let n_mfcc = row.req_int(2)?;
        let params = librosa_params(row, 3, n_mfcc.max(1) as usize)?;
        let audio = row.audio(0)?;
        // The mel frames are kept beside the coefficients.
        check_feature_memory(
            &params.stft,
            params.mel.n_mels,
            params.n_mfcc,
            ("n_mels", params.mel.n_mels + params.n_mfcc),
            audio.len(),
            row.memory_limit(),
        )?;
        let plan = MFCC_PLANS.get(&(sr, params), || MfccPlan::new(sr, &params))?;
        Ok(Value::Frames(plan.mfcc(audio)?))
    }
}
