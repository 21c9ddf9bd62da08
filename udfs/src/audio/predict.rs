//! `predict(model, audio [, sr])`: class probabilities of a clip by a classifying audio model,
//! so that task performance on original and transformed clips (thesis Fig. 4.4) is a query.

use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{OutKind, Value};
use super::deep::AudioEncoder;
use super::embed::ModelClipFunction;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The class probabilities of a clip by a vgg model trained for 'instrument' (softmax over the instruments) or 'autotag' (a sigmoid per tag), as a list of float32 in the order of the model's classes (model_info(model), property 'classes'): each of the clip's consecutive crops is classified and the probabilities are averaged over the crops. The rows of a batch are computed together on the session's device. Models of the other tasks are an error.",
    syntax_example = "predict(model, audio [, sr])",
    sql_example = r#"```sql
> SELECT cardinality(predict('enc', mix)) AS classes FROM chorales LIMIT 1;
+---------+
| classes |
+---------+
| 4       |
+---------+
```"#,
    argument(name = "model", description = "The model's name."),
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (default: the model's, which is required)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Predict;

static DOC: Predict = Predict;

impl ModelClipFunction for Predict {
    const NAME: &'static str = "predict";
    const CLIP: &'static str = "audio";
    const OUT: OutKind = OutKind::Vector;
    const REFUSAL: &'static str = "predicts no classes";

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn work(e: &dyn AudioEncoder, clips: &[&[f32]], device: tch::Device) -> Result<Vec<Value>> {
        Ok(e.predict(clips, device)?
            .into_iter()
            .map(Value::Samples)
            .collect())
    }
}
