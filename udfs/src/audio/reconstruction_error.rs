//! `reconstruction_error(model, audio [, sr])`: how well an autoencoder reproduces a clip, the
//! autoencoder task's performance measure (thesis §4.4), on original and transformed clips.

use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{OutKind, Value};
use super::deep::AudioEncoder;
use super::embed::ModelClipFunction;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The reconstruction error of a clip by a vgg model trained for 'autoencoder' (the thesis' MSE): the mean squared difference between each of the clip's consecutive crops of standardised dB spectrogram (the model's input) and the model's reconstruction of it, averaged over the crops. Lower is better. The rows of a batch are computed together on the session's device. Models of the other tasks are an error.",
    syntax_example = "reconstruction_error(model, audio [, sr])",
    sql_example = r#"```sql
> SELECT reconstruction_error('ae', mix) > 0 AS positive FROM chorales LIMIT 1;
+----------+
| positive |
+----------+
| true     |
+----------+
```"#,
    argument(name = "model", description = "The autoencoder's name."),
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (default: the model's, which is required)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct ReconstructionError;

static DOC: ReconstructionError = ReconstructionError;

impl ModelClipFunction for ReconstructionError {
    const NAME: &'static str = "reconstruction_error";
    const CLIP: &'static str = "audio";
    const OUT: OutKind = OutKind::Float;
    const REFUSAL: &'static str = "reconstructs nothing";

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn work(e: &dyn AudioEncoder, clips: &[&[f32]], device: tch::Device) -> Result<Vec<Value>> {
        Ok(e.reconstruction_error(clips, device)?
            .into_iter()
            .map(Value::Float)
            .collect())
    }
}
