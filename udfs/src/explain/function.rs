//! What the four `explain_*` SQL functions share: argument checking, grouping a batch of rows by
//! model, one batched explainer call per group, and the `list<struct<tag, weight>>` result.
//!
//! It exists so that each function's file holds only its documentation and name; the behaviour
//! (NULL rules, unknown ids, errors) is written once and is the same for every explainer.
//!
//! Rules: a NULL argument, an unknown user or an unknown item gives NULL; an item without tags
//! gives an empty list for the local explainers; ω must be ≥ 1 (error otherwise); the optional
//! options string is parsed by [`ExplainOptions::parse`] and must be constant. The tag field has
//! the type of the model's tag ids when the model argument is a literal; otherwise it is text.

use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{
    exec_datafusion_err, exec_err, plan_datafusion_err, plan_err, ScalarValue,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, Signature, Volatility,
};

use super::engine::{explain, ExplainOptions, Explanation, Method, PdpCache};
use crate::common::adapters::columnar;
use crate::common::adapters::Cache;
use crate::common::args::model_name_type;
use crate::common::progress::{self, Meter};
use crate::engine::config::{device_setting, resolve_device};
use crate::model::key::Key;
use crate::model::CatalogRef;
use crate::model::{KeyColumn, KeyKind, ModelCatalog};
use crate::recsys::recommender::Recommender;
use crate::recsys::{check_kinds, id_type, recommender_model};

/// The struct of one explanation entry, with the tag field of `tag_type`.
pub fn entry_fields(tag_type: DataType) -> Fields {
    Fields::from(vec![
        Field::new("tag", tag_type, true),
        Field::new("weight", DataType::Float64, true),
    ])
}

/// `list<struct<tag, weight>>`.
pub fn explanation_type(tag_type: DataType) -> DataType {
    DataType::List(Arc::new(Field::new(
        "item",
        DataType::Struct(entry_fields(tag_type)),
        true,
    )))
}

/// The SQL type of a model's tag ids.
pub fn tag_type(kind: KeyKind) -> DataType {
    match kind {
        KeyKind::Int => DataType::Int64,
        KeyKind::Text => DataType::Utf8,
    }
}

/// ω from an integer argument value: ≥ 1, or an error naming the function.
pub fn check_omega(function: &str, omega: i64) -> Result<usize> {
    if omega < 1 {
        return exec_err!(
            "{function}: omega (the number of tags an explanation keeps) must be ≥ 1, got {omega}"
        );
    }
    Ok(omega as usize)
}

/// The options argument, which must be a constant string.
pub fn options_argument(function: &str, arg: Option<&ColumnarValue>) -> Result<ExplainOptions> {
    match arg {
        None => Ok(ExplainOptions::default()),
        Some(ColumnarValue::Scalar(s)) => match s {
            ScalarValue::Utf8(Some(t))
            | ScalarValue::LargeUtf8(Some(t))
            | ScalarValue::Utf8View(Some(t)) => {
                ExplainOptions::parse(t).map_err(|e| exec_datafusion_err!("{function}: {e}"))
            }
            ScalarValue::Utf8(None) | ScalarValue::Null => Ok(ExplainOptions::default()),
            other => exec_err!(
                "{function}: options must be a string, got {}",
                other.data_type()
            ),
        },
        Some(ColumnarValue::Array(_)) => {
            exec_err!("{function}: options must be a constant string, not a column")
        }
    }
}

/// Coerces an optional trailing options argument to text.
pub fn options_type(function: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            Ok(DataType::Utf8)
        }
        other => plan_err!(
            "{function}: the options argument must be a string such as 'samples = 1000, seed = 7', got {other}"
        ),
    }
}

/// Appends an explanation's (tag id, weight) entries to a list builder.
fn append_explanation(
    out: &mut ListBuilder<StructBuilder>,
    rec: &dyn Recommender,
    e: &Explanation,
    int_tags: bool,
) -> Result<()> {
    let missing = || DataFusionError::Internal("explanation struct builder fields".to_string());
    let entries = out.values();
    for &(t, w) in e {
        let key = rec.data().tags.key(t as usize);
        if int_tags {
            let b = entries
                .field_builder::<Int64Builder>(0)
                .ok_or_else(missing)?;
            match key {
                Some(Key::Int(v)) => b.append_value(*v),
                _ => b.append_null(),
            }
        } else {
            let b = entries
                .field_builder::<StringBuilder>(0)
                .ok_or_else(missing)?;
            match key {
                Some(Key::Int(v)) => b.append_value(v.to_string()),
                Some(Key::Text(s)) => b.append_value(s),
                None => b.append_null(),
            }
        }
        entries
            .field_builder::<Float64Builder>(1)
            .ok_or_else(missing)?
            .append_value(w);
        entries.append(true);
    }
    out.append(true);
    Ok(())
}

/// The shared implementation of `explain_random`, `explain_pdp`, `explain_saliency` and
/// `explain_lime`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ExplainAdapter {
    pub method: Method,
    pub name: &'static str,
    pub signature: Signature,
    catalog: CatalogRef,
    pdp: Cache<PdpCache>,
}

impl ExplainAdapter {
    pub fn new(method: Method, name: &'static str, catalog: Arc<dyn ModelCatalog>) -> Self {
        ExplainAdapter {
            method,
            name,
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
            pdp: Cache::default(),
        }
    }

    pub fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let f = self.name;
        if !(4..=5).contains(&arg_types.len()) {
            return plan_err!(
                "{f}(model, user, item, omega [, options]) takes 4 or 5 arguments, got {}",
                arg_types.len()
            );
        }
        let omega = &arg_types[3];
        if !(omega.is_integer() || omega == &DataType::Null) {
            return plan_err!("{f}: omega must be an integer, got {omega}");
        }
        let mut out = vec![
            model_name_type(f, &arg_types[0])?,
            id_type(f, "user", &arg_types[1])?,
            id_type(f, "item", &arg_types[2])?,
            DataType::Int64,
        ];
        if let Some(t) = arg_types.get(4) {
            out.push(options_type(f, t)?);
        }
        Ok(out)
    }

    pub fn return_field(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let mut tag = DataType::Utf8;
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            let model = recommender_model(self.catalog.as_ref(), name, self.name)?;
            if let Some(rec) = model.model.capability::<dyn Recommender>() {
                tag = tag_type(rec.data().tags.kind());
            }
        }
        if let Some(Some(ScalarValue::Utf8(Some(text)))) = args.scalar_arguments.get(4) {
            ExplainOptions::parse(text).map_err(|e| plan_datafusion_err!("{}: {e}", self.name))?;
        }
        if let Some(Some(ScalarValue::Int64(Some(omega)))) = args.scalar_arguments.get(3) {
            if *omega < 1 {
                return plan_err!(
                    "{}: omega (the number of tags an explanation keeps) must be ≥ 1, got {omega}",
                    self.name
                );
            }
        }
        Ok(Arc::new(Field::new(self.name, explanation_type(tag), true)))
    }

    pub fn invoke(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let f = self.name;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let device = resolve_device(device_setting(&args.config_options))?;
        // The statement's cancellation, taken once (see ModelCatalog::cancel_token).
        let token = self.catalog.cancel_token();
        let mut opts = options_argument(f, args.args.get(4))?;
        opts.memory_limit = crate::engine::memory_limit(&args.config_options);
        let int_tags = match args.return_field.data_type() {
            DataType::List(field) => match field.data_type() {
                DataType::Struct(fields) => fields
                    .first()
                    .is_some_and(|t| t.data_type() == &DataType::Int64),
                _ => false,
            },
            _ => false,
        };
        let tag_field_type = if int_tags {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[..4])?;
        let models = arrays[0].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[1], &format!("{f}: the user argument"))?;
        let items = KeyColumn::try_new(&arrays[2], &format!("{f}: the item argument"))?;
        let omegas = arrays[3].as_primitive::<Int64Type>();
        let n = models.len();
        let mut results: Vec<Option<(usize, Explanation)>> = vec![None; n];
        // Group rows by (model, ω): one batched explainer call per group.
        let mut groups: Vec<((String, i64), Vec<usize>)> = Vec::new();
        for row in 0..n {
            if models.is_null(row) || omegas.is_null(row) {
                continue;
            }
            let key = (models.value(row).to_string(), omegas.value(row));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((key, vec![row])),
            }
        }
        let mut loaded = Vec::new();
        for ((name, omega), rows) in groups {
            let started = std::time::Instant::now();
            let omega = check_omega(f, omega)?;
            let model = recommender_model(self.catalog.as_ref(), &name, f)?;
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            let data = rec.data();
            check_kinds(f, &name, data, &arrays[1], &users, &arrays[2], &items)?;
            let (mut pairs, mut at) = (Vec::new(), Vec::new());
            for row in rows {
                let (Some(u), Some(i)) = (users.get(row), items.get(row)) else {
                    continue;
                };
                if let (Some(u), Some(i)) = (data.users.get(u), data.items.get(i)) {
                    pairs.push((u, i));
                    at.push(row);
                }
            }
            let meter = Meter::start(
                self.catalog.status_sink(),
                format!("{f}({name})"),
                "rows",
                Some(pairs.len() as u64),
            );
            let _scope = progress::enter(meter.as_ref());
            self.pdp.bind(&model, rec);
            let explained = explain(
                rec,
                device,
                self.method,
                &pairs,
                omega,
                &opts,
                &self.pdp,
                &|| token.check(),
            )?;
            self.catalog.progress(&format!(
                "{f}({name}): {} rows in {:.1} s",
                at.len(),
                started.elapsed().as_secs_f64()
            ));
            let slot = loaded.len();
            for (row, e) in at.into_iter().zip(explained) {
                results[row] = Some((slot, e));
            }
            loaded.push(model);
        }
        let mut builder = ListBuilder::new(StructBuilder::from_fields(
            entry_fields(tag_field_type.clone()),
            0,
        ))
        .with_field(Arc::new(Field::new(
            "item",
            DataType::Struct(entry_fields(tag_field_type)),
            true,
        )));
        // Each model was checked to be a recommender above; look the capability up once.
        let recs = loaded
            .iter()
            .map(|m| {
                m.model
                    .capability::<dyn Recommender>()
                    .ok_or_else(|| DataFusionError::Internal("not a recommender".into()))
            })
            .collect::<Result<Vec<_>>>()?;
        for r in &results {
            match r {
                Some((slot, e)) => {
                    append_explanation(&mut builder, recs[*slot], e, int_tags)?;
                }
                None => builder.append_null(),
            }
        }
        let out: ArrayRef = Arc::new(builder.finish());
        columnar(out, all_scalar)
    }
}

/// Implements `ScalarUDFImpl` (and equality and hashing) for a struct wrapping an
/// [`ExplainAdapter`] in its field `0`, documented by `#[user_doc]`.
#[macro_export]
macro_rules! explain_udf_impl {
    ($ty:ident) => {
        impl datafusion::logical_expr::ScalarUDFImpl for $ty {
            fn name(&self) -> &str {
                self.0.name
            }

            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.0.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::error::Result<Vec<datafusion::arrow::datatypes::DataType>> {
                self.0.coerce_types(arg_types)
            }

            fn return_type(
                &self,
                _arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
                Ok($crate::explain::function::explanation_type(
                    datafusion::arrow::datatypes::DataType::Utf8,
                ))
            }

            fn return_field_from_args(
                &self,
                args: datafusion::logical_expr::ReturnFieldArgs,
            ) -> datafusion::error::Result<datafusion::arrow::datatypes::FieldRef> {
                self.0.return_field(args)
            }

            fn invoke_with_args(
                &self,
                args: datafusion::logical_expr::ScalarFunctionArgs,
            ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
                self.0.invoke(args)
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                self.doc()
            }
        }
    };
}
