//! `represent(model, audio)`: a clip's representation by an `mtl_cnn` or `agf_cnn` model (thesis
//! §2.4.2), the feature the transfer experiments of chapter 2 learn from. The argument checks and
//! the batched evaluation are shared with `represent_segments` (chapter 3's per-segment
//! features), which differs only in what it returns.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float32Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use datafusion::arrow::buffer::NullBuffer;

use super::adapter::{nested_array, samples_array};
use super::deep::message;
use super::deep::mtl::MtlModel;
use crate::common::adapters::columnar;
use crate::common::args::model_name_type;
use crate::engine::config::{device_setting, resolve_device};
use crate::model::{CatalogRef, LoadedModel, ModelCatalog};

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The representation of a clip by an mtl_cnn or agf_cnn model (thesis ch. 2): the clip's non-overlapping slices of the model's crop length (216 frames = 2.5 s at 22050 Hz; the last partial slice is dropped) go through the network in evaluation mode, and per fc-feature block (one per source branch for ms_cr, one for ss_r and ms_sr_fc) the result holds the mean over the slices and then their population standard deviation; an mss_cr model gives its models' representations one after the other. The clip is mono (list<float32>) or its channels (list<list<float32>>), at 22050 Hz; a mono clip fills both channels of a stereo model. A clip shorter than one slice is an error naming the length needed. Rows of a batch are computed together on the session's device. Returns list<float32>; NULL audio gives NULL.",
    syntax_example = "represent(model, audio)",
    sql_example = r#"```sql
> CREATE MODEL rand OPTIONS (type = 'mtl_cnn', strategy = 'ss_r', sources = 'self', epochs = 0, width = 0.125, crop_frames = 64)
  AS SELECT * FROM (VALUES (1, array_repeat(0.1, 20000)), (2, array_repeat(-0.2, 20000))) AS t(track, audio);
> SELECT cardinality(represent('rand', array_repeat(0.1, 22050))) AS dim;
+-----+
| dim |
+-----+
| 64  |
+-----+
```"#,
    argument(
        name = "model",
        description = "The name of an mtl_cnn or agf_cnn model."
    ),
    argument(
        name = "audio",
        description = "The clip: a list of samples, or a list of channels (lists of samples)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Represent {
    signature: Signature,
    catalog: CatalogRef,
}

impl Represent {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
        }
    }
}

fn mono() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)))
}

fn channels() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(mono(), true)))
}

fn list_child(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type())
        }
        _ => None,
    }
}

/// The model called `name`, checked to be an `mtl_cnn` or `agf_cnn` model (`f` names the
/// function in errors).
fn mtl_model(f: &str, catalog: &dyn ModelCatalog, name: &str) -> Result<Arc<LoadedModel>> {
    let loaded = catalog
        .model(name)
        .map_err(|e| DataFusionError::Plan(format!("{f}: {}", message(e))))?;
    if loaded.model.downcast_ref::<MtlModel>().is_none() {
        return plan_err!(
            "{f}: model '{name}' is a '{}' model, not an mtl_cnn or agf_cnn model",
            loaded.model_type
        );
    }
    Ok(loaded)
}

/// What a representing function returns per clip.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Output {
    /// `[mean ‖ std]` over the slices: list<float32>.
    Statistics,
    /// Every slice's features: list<list<float32>>.
    Segments,
}

impl Output {
    pub(super) fn data_type(self) -> DataType {
        match self {
            Output::Statistics => mono(),
            Output::Segments => channels(),
        }
    }
}

impl ScalarUDFImpl for Represent {
    fn name(&self) -> &str {
        "represent"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_args(self.name(), arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(Output::Statistics.data_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        return_field(self.name(), &self.catalog, args, Output::Statistics)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke(self.name(), &self.catalog, args, Output::Statistics)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The argument types of `f(model, audio)`.
pub(super) fn coerce_args(f: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    let [model, audio] = arg_types else {
        return plan_err!(
            "{f}(model, audio) takes 2 arguments, got {}",
            arg_types.len()
        );
    };
    let audio = match list_child(audio) {
        _ if audio == &DataType::Null => mono(),
        Some(c) if c.is_numeric() || c == &DataType::Null => mono(),
        Some(c) if list_child(c).is_some_and(|g| g.is_numeric() || g == &DataType::Null) => {
            channels()
        }
        _ => {
            return plan_err!(
                "{f}: the audio argument must be a clip (a list of numbers) or its \
                     channels (a list of lists of numbers), got {audio}"
            )
        }
    };
    Ok(vec![model_name_type(f, model)?, audio])
}

/// The result field of `f`, checking a literal model name while planning.
pub(super) fn return_field(
    f: &str,
    catalog: &CatalogRef,
    args: ReturnFieldArgs,
    output: Output,
) -> Result<FieldRef> {
    if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
        mtl_model(f, catalog.as_ref(), name)?;
    }
    Ok(Arc::new(Field::new(f, output.data_type(), true)))
}

/// Evaluates `f(model, audio)` on a batch: the rows of each model together, on the session's
/// device.
pub(super) fn invoke(
    f: &str,
    catalog: &CatalogRef,
    args: ScalarFunctionArgs,
    output: Output,
) -> Result<ColumnarValue> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let device = resolve_device(device_setting(&args.config_options))?;
    let token = catalog.cancel_token();
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let models = cast(&arrays[0], &DataType::Utf8)?;
    let models = models.as_string::<i32>();
    let audio: ArrayRef = if arrays[1].data_type() == &DataType::Null {
        cast(&arrays[1], &mono())?
    } else {
        arrays[1].clone()
    };
    let audio: &ListArray = audio.as_list::<i32>();
    let n = models.len();
    // The clips' channels, as arrays kept alive while their slices are used.
    let mut values: Vec<Option<Vec<ArrayRef>>> = Vec::with_capacity(n);
    for r in 0..n {
        if models.is_null(r) || audio.is_null(r) {
            values.push(None);
            continue;
        }
        let v = audio.value(r);
        let chans = match v.as_list_opt::<i32>() {
            Some(ch) => {
                if ch.is_empty() || ch.null_count() > 0 {
                    return exec_err!(
                        "{f}: row {}: the clip has no channels or a NULL channel",
                        r + 1
                    );
                }
                (0..ch.len()).map(|k| ch.value(k)).collect()
            }
            None => vec![v],
        };
        if chans.iter().any(|c| c.null_count() > 0) {
            return exec_err!("{f}: row {}: the clip has NULL samples", r + 1);
        }
        values.push(Some(chans));
    }
    let mut out: Vec<Option<Vec<Vec<f32>>>> = vec![None; n];
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (r, v) in values.iter().enumerate() {
        if v.is_none() {
            continue;
        }
        let name = models.value(r);
        match groups.iter_mut().find(|(m, _)| m == name) {
            Some((_, rows)) => rows.push(r),
            None => groups.push((name.to_string(), vec![r])),
        }
    }
    for (name, rows) in groups {
        let loaded = mtl_model(f, catalog.as_ref(), &name)
            .map_err(|e| DataFusionError::Execution(message(e)))?;
        let Some(model) = loaded.model.downcast_ref::<MtlModel>() else {
            return exec_err!("{f}: model '{name}' is not an mtl_cnn or agf_cnn model");
        };
        let clips: Vec<Vec<&[f32]>> = rows
            .iter()
            .map(|&r| {
                values[r]
                    .iter()
                    .flatten()
                    .map(|c| c.as_primitive::<Float32Type>().values().as_ref())
                    .collect()
            })
            .collect();
        let cancel = || token.check();
        let reps = match output {
            Output::Statistics => model
                .represent(&clips, device, &cancel)
                .map(|v| v.into_iter().map(|r| vec![r]).collect()),
            Output::Segments => model.segments(&clips, device, &cancel),
        }
        .map_err(|e| DataFusionError::Execution(format!("{f}: model '{name}': {}", message(e))))?;
        for (&r, rep) in rows.iter().zip(reps) {
            out[r] = Some(rep);
        }
    }
    let array = match output {
        Output::Statistics => samples_array(
            out.into_iter()
                .map(|r| r.and_then(|v| v.into_iter().next()))
                .collect(),
        ),
        Output::Segments => {
            let nulls = NullBuffer::from_iter(out.iter().map(Option::is_some));
            let outer = out.iter().map(|r| r.as_ref().map_or(0, Vec::len)).collect();
            let inner = out.iter().flatten().flatten().map(Vec::len).collect();
            let values = out.into_iter().flatten().flatten().flatten().collect();
            nested_array(nulls, outer, inner, values)
        }
    };
    columnar(Arc::new(array), all_scalar)
}
