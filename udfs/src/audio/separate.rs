//! `separate(model, mixture [, sr])`: the source a separation model extracts from a mixture, so
//! that its SDR on original and transformed mixtures (thesis Fig. 4.4) is a query.

use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{OutKind, Value};
use super::deep::AudioEncoder;
use super::embed::ModelClipFunction;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The source a vgg model trained for 'separation' extracts from a mixture, as audio of the mixture's length: every spectrogram frame gets the model's sigmoid mask (from the clip's consecutive crops, and one crop ending at the last frame for the remainder), the mixture's complex STFT (n_fft 1024, hop 256, periodic Hann, centred) is multiplied by it (the Nyquist bin by the mask of the bin below), and the result is inverted with the mixture's phase. The rows of a batch are computed together on the session's device. Models of the other tasks are an error.",
    syntax_example = "separate(model, mixture [, sr])",
    sql_example = r#"```sql
> SELECT cardinality(separate('vs', mix)) = cardinality(mix) AS same_length FROM chorales LIMIT 1;
+-------------+
| same_length |
+-------------+
| true        |
+-------------+
```"#,
    argument(name = "model", description = "The separation model's name."),
    argument(name = "mixture", description = "The mixture: a list of samples."),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (default: the model's, which is required)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Separate;

static DOC: Separate = Separate;

impl ModelClipFunction for Separate {
    const NAME: &'static str = "separate";
    const CLIP: &'static str = "mixture";
    const OUT: OutKind = OutKind::Audio;
    const REFUSAL: &'static str = "separates no source";

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn work(e: &dyn AudioEncoder, clips: &[&[f32]], device: tch::Device) -> Result<Vec<Value>> {
        Ok(e.separate(clips, device)?
            .into_iter()
            .map(Value::Samples)
            .collect())
    }
}
