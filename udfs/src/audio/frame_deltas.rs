//! `frame_deltas(frames [, width [, order]])`: how a sequence of frame features changes over
//! time.
//!
//! It exists for thesis ch. 3's feature set d (§3.3.1, "time-deltas of MFCCs (first-order
//! differences between subsequent frames)"), whose frames are clustered into a dictionary of
//! audio words; with a window it gives librosa's Savitzky–Golay deltas instead. Both kernels are
//! the ones `mfcc_stats` uses ([`super::kernels::mfcc::delta_diff`],
//! [`super::kernels::mfcc::delta_savgol`]).

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, opt, ArgSpec, Kind, OutKind, Params, Row, RowFunction, Value};
use super::kernels::mfcc::{delta_diff, delta_savgol};
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Time deltas of a sequence of frames (such as mfcc's). Without width: first differences x[t+1] − x[t], one frame fewer (thesis ch. 3's ΔMFCCs). With width (odd, at least 3): librosa.feature.delta(frames, width, order) along time, the order-th derivative of a local least-squares polynomial (Savitzky–Golay, mode 'interp'), as many frames as given; order defaults to 1. Too few frames for the window, or fewer than 2 frames for differences, is an error.",
    syntax_example = "frame_deltas(frames [, width [, order]])",
    sql_example = r#"```sql
> SELECT frame_deltas([[1.0, 0.0], [3.0, 1.0], [4.0, 1.5]]) AS d;
+--------------------------+
| d                        |
+--------------------------+
| [[2.0, 1.0], [1.0, 0.5]] |
+--------------------------+
```"#,
    argument(
        name = "frames",
        description = "A list of frames, each a list of values of the same length."
    ),
    argument(
        name = "width",
        description = "Optional odd window length (at least 3) for Savitzky–Golay deltas; omit it for first differences."
    ),
    argument(
        name = "order",
        description = "Optional derivative order with a window, 1 (default) to width − 1."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct FrameDeltas;

static DOC: FrameDeltas = FrameDeltas;

/// The window and order of a call: `None` for first differences.
fn window(p: &dyn Params) -> Result<Option<(usize, usize)>, AudioError> {
    let Some(width) = p.int(1) else {
        return match p.int(2) {
            Some(_) => Err(AudioError::BadParameter(
                "order needs a width (first differences have no order)".to_string(),
            )),
            None => Ok(None),
        };
    };
    let order = p.int(2).unwrap_or(1);
    if width < 3 || width % 2 == 0 {
        return Err(AudioError::BadParameter(format!(
            "width must be odd and at least 3, got {width}"
        )));
    }
    if order < 1 || order >= width {
        return Err(AudioError::BadParameter(format!(
            "order must be between 1 and {} for a width of {width}, got {order}",
            width - 1
        )));
    }
    Ok(Some((width as usize, order as usize)))
}

impl RowFunction for FrameDeltas {
    const NAME: &'static str = "frame_deltas";
    const ARGS: &'static [ArgSpec] = &[
        arg("frames", Kind::Frames),
        opt("width", Kind::Int),
        opt("order", Kind::Int),
    ];
    const OUT: OutKind = OutKind::Frames;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        window(p).map(|_| ())
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let frames = row.frames(0)?;
        let deltas = match window(row)? {
            None => delta_diff(&frames)?,
            Some((width, order)) => delta_savgol(&frames, width, order)?,
        };
        Ok(Value::Frames(deltas))
    }
}
