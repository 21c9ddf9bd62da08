//! `frame_stats(frames [, ddof])`: a clip-level descriptor from frame-level features.
//!
//! It exists to summarise a sequence of frames (mel bands, MFCCs, their deltas) by the mean and
//! standard deviation over time of each dimension, the song-level statistics that descriptor
//! sets such as Essentia's (thesis ch. 3, feature set e) are made of; concatenated with other
//! such vectors and quantile-normalised (`quantile_normal`), they form one track's descriptor.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, opt, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::mfcc::mean_std;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The mean over time of each dimension of a sequence of frames, then the standard deviation of each (with ddof degrees of freedom removed, 0 by default as NumPy's), as one list<float32> of 2 × dim values. It needs more frames than ddof.",
    syntax_example = "frame_stats(frames [, ddof])",
    sql_example = r#"```sql
> SELECT frame_stats([[1.0, 0.0], [3.0, 1.0]]) AS s;
+----------------------+
| s                    |
+----------------------+
| [2.0, 0.5, 1.0, 0.5] |
+----------------------+
```"#,
    argument(
        name = "frames",
        description = "A list of frames, each a list of values of the same length."
    ),
    argument(
        name = "ddof",
        description = "Optional delta degrees of freedom of the standard deviation: 0 (default) or 1."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct FrameStats;

static DOC: FrameStats = FrameStats;

fn ddof(p: &dyn Params) -> Result<usize, AudioError> {
    match p.int(1) {
        None => Ok(0),
        Some(d @ 0..=1) => Ok(d as usize),
        Some(d) => Err(AudioError::BadParameter(format!(
            "ddof must be 0 or 1, got {d}"
        ))),
    }
}

impl RowFunction for FrameStats {
    const NAME: &'static str = "frame_stats";
    const ARGS: &'static [ArgSpec] = &[arg("frames", Kind::Frames), opt("ddof", Kind::Int)];
    const OUT: OutKind = OutKind::Vector;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        ddof(p).map(|_| ())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let frames = row.frames(0)?;
        let ddof = ddof(row)?;
        if frames.dim == 0 {
            return Err(AudioError::BadInput(
                "the frames have no values".to_string(),
            ));
        }
        if frames.n_frames <= ddof {
            return Err(AudioError::BadInput(format!(
                "frame_stats with ddof {ddof} needs more than {ddof} frames, got {}",
                frames.n_frames
            )));
        }
        let (mean, std) = mean_std(&frames, 0, ddof);
        Ok(Value::Samples(
            mean.iter().chain(&std).map(|&v| v as f32).collect(),
        ))
    }
}
