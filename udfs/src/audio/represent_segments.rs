//! `represent_segments(model, audio)`: a clip's features segment by segment, for thesis ch. 3's
//! transfer, which trains its genre classifier on 1 s segments and averages the segments'
//! predictions per track (§3.3.2, *Transfer method*). `represent` gives the mean and standard
//! deviation over the same segments instead; both share their implementation in
//! [`super::represent`].

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::represent::{coerce_args, invoke, return_field, Output};
use crate::model::{CatalogRef, ModelCatalog};

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The features of every segment of a clip by an agf_cnn (or mtl_cnn) model (thesis ch. 3): the clip's non-overlapping segments of the model's crop length (43 frames = 1 s at hop 512 for agf_cnn; the last partial segment is dropped) go through the network in evaluation mode, and each segment gives the concatenation of every task's dense-layer output (one 256-value block per task network or branch; a model made with option models gives its models' blocks one after the other). Returns list<list<float32>>, one list per segment in time order; NULL audio gives NULL. The clip is mono (list<float32>) or its channels (list<list<float32>>, averaged), at 22050 Hz; a clip shorter than one segment is an error naming the length needed. Unnest the result to train a classifier per segment, as the thesis does.",
    syntax_example = "represent_segments(model, audio)",
    sql_example = r#"```sql
> CREATE MODEL agf_rand OPTIONS (type = 'agf_cnn', tasks = 'g, m', epochs = 0, width = 0.125)
  AS SELECT * FROM (VALUES (1, array_repeat(0.1, 30000), [1.0, 0.0], [0.5, 0.5]),
                           (2, array_repeat(-0.2, 30000), [0.0, 1.0], [0.2, 0.8])) AS t(track, audio, g, m);
> SELECT array_length(represent_segments('agf_rand', array_repeat(0.1, 66150))) AS segments,
         cardinality(represent_segments('agf_rand', array_repeat(0.1, 66150))[1]) AS dim;
+----------+-----+
| segments | dim |
+----------+-----+
| 3        | 64  |
+----------+-----+
```"#,
    argument(
        name = "model",
        description = "The name of an agf_cnn or mtl_cnn model."
    ),
    argument(
        name = "audio",
        description = "The clip: a list of samples, or a list of channels (lists of samples)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RepresentSegments {
    signature: Signature,
    catalog: CatalogRef,
}

impl RepresentSegments {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

impl ScalarUDFImpl for RepresentSegments {
    fn name(&self) -> &str {
        "represent_segments"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(self.name(), arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(Output::Segments.data_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        return_field(self.name(), &self.catalog, args, Output::Segments)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke(self.name(), &self.catalog, args, Output::Segments)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
