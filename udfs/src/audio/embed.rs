//! `embed(encoder, audio [, sr])`: a clip's embedding by a named encoder.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, opt, sample_rate, ArgSpec, Kind, OutKind, Params, Row, RowFunction,
    Value,
};
use super::kernels::mfcc::MfccStatsVariant;
use super::mfcc_stats::encode;

/// The built-in encoders: name, variant.
const BUILT_IN: [(&str, MfccStatsVariant); 2] = [
    ("mfcc", MfccStatsVariant::Study),
    ("mfcc_librosa", MfccStatsVariant::Librosa),
];

/// The sample rate `embed` assumes when the call gives none (the thesis' rate).
const DEFAULT_SR: f64 = 22_050.0;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The embedding of a clip by an encoder, as a list of float32: the entry point shared by every encoder. Built in: 'mfcc', the thesis' 144-d MFCC encoder in the study's variant (the same as mfcc_stats(audio, sr)), and 'mfcc_librosa' (mfcc_stats(audio, sr, 'librosa')). sr defaults to 22050 Hz, the rate the thesis' encoders expect. An unknown encoder is an error that lists the known ones.",
    syntax_example = "embed(encoder, audio [, sr])",
    sql_example = r#"```sql
> SELECT cardinality(embed('mfcc', array_repeat(0.5, 22050))) AS dim;
+-----+
| dim |
+-----+
| 144 |
+-----+
```"#,
    argument(
        name = "encoder",
        description = "The encoder's name: 'mfcc' or 'mfcc_librosa'."
    ),
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(name = "sr", description = "Its sample rate in Hz (default 22050).")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Embed;

static DOC: Embed = Embed;

fn encoder(name: &str) -> Result<MfccStatsVariant, String> {
    BUILT_IN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            format!("unknown encoder '{name}' (known: {})", known.join(", "))
        })
}

impl RowFunction for Embed {
    const NAME: &'static str = "embed";
    const ARGS: &'static [ArgSpec] = &[
        arg("encoder", Kind::Text),
        arg("audio", Kind::Audio),
        opt("sr", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Vector;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), String> {
        if let Some(name) = p.text(0) {
            encoder(name)?;
        }
        check_sample_rate(p, 2)
    }

    fn compute(row: &Row<'_>) -> Result<Value, String> {
        let v = encoder(row.text(0).unwrap_or_default())?;
        let sr = sample_rate(row.float(2).unwrap_or(DEFAULT_SR))?;
        Ok(Value::Samples(encode(row.audio(1)?, sr, v)?))
    }
}
