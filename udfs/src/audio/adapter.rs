//! The Arrow side of the audio functions, written once.
//!
//! Almost every audio function works one row at a time: it takes a clip (`list<float32>`), a
//! sequence of frames (`list<list<float32>>`) or plain numbers and text, and returns a clip, a
//! sequence of frames, a vector or a number. This module turns such a row function
//! ([`RowFunction`]) into a DataFusion scalar function ([`RowUdf`]): it checks and coerces the
//! argument types at planning time (any numeric list becomes `list<float32>`), validates literal
//! parameters at planning time, runs the rows of a batch in parallel (rayon), passes NULLs
//! through (a NULL argument gives a NULL result) and names the function and the row in every
//! error.

use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, Float32Array, Float64Array, Int64Array,
    ListArray, StringArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float32Type};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use rayon::prelude::*;

use super::kernels::frames::Frames;
use super::kernels::AudioError;
use super::rates::SAMPLE_RATES;
use crate::common::adapters::columnar;
use crate::engine::memory::memory_limit;
use crate::model::ModelCatalog;

/// What an argument is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A clip: `list<float32>` (any numeric list is accepted and cast).
    Audio,
    /// A sequence of frames: `list<list<float32>>`, every frame the same length.
    Frames,
    /// A number, as f64.
    Float,
    /// An integer, as i64.
    Int,
    /// Text.
    Text,
}

/// One argument of a row function.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    /// Its name in error messages.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Whether a call must give it (optional arguments come last).
    pub required: bool,
}

/// A required argument.
pub const fn arg(name: &'static str, kind: Kind) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: true,
    }
}

/// An optional argument.
pub const fn opt(name: &'static str, kind: Kind) -> ArgSpec {
    ArgSpec {
        name,
        kind,
        required: false,
    }
}

/// What a row function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutKind {
    /// A clip, `list<float32>`.
    Audio,
    /// A sequence of frames, `list<list<float32>>`.
    Frames,
    /// A vector (an embedding): `fixed_size_list<float32, n>` when [`RowFunction::vector_len`]
    /// knows its length `n` at planning time, `list<float32>` otherwise.
    Vector,
    /// A number, `float64`.
    Float,
}

/// One row's result.
#[derive(Clone, Debug)]
pub enum Value {
    /// A clip or a vector.
    Samples(Vec<f32>),
    /// Frames.
    Frames(Frames),
    /// A number.
    Float(f64),
    /// No value (SQL NULL): a result that is undefined for this row.
    Null,
}

/// Scalar parameters of one call: literals at planning time (absent when not literal) or one
/// row's values at execution time.
pub trait Params {
    /// Argument `i` as a number, when given and not NULL.
    fn float(&self, i: usize) -> Option<f64>;
    /// Argument `i` as an integer, when given and not NULL.
    fn int(&self, i: usize) -> Option<i64>;
    /// Argument `i` as text, when given and not NULL.
    fn text(&self, i: usize) -> Option<&str>;
}

/// A function of one row.
pub trait RowFunction: Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// Its SQL name.
    const NAME: &'static str;
    /// Its arguments, required ones first.
    const ARGS: &'static [ArgSpec];
    /// What it returns.
    const OUT: OutKind;
    /// Whether it has side effects (writes files), so that it is never evaluated while planning.
    const SIDE_EFFECTS: bool = false;
    /// Its documentation (from `#[user_doc]`).
    fn doc() -> Option<&'static Documentation>;
    /// Checks the scalar parameters that are known (literals at planning time, every one at run
    /// time); the message names the problem.
    fn validate(_p: &dyn Params) -> std::result::Result<(), AudioError> {
        Ok(())
    }
    /// For a function returning a [`OutKind::Vector`]: its length when the literal parameters
    /// (and the session's models, through `catalog`) fix it at planning time, so that the result
    /// is a `fixed_size_list<float32, n>`; `None` (the default) returns `list<float32>`. Every
    /// row's vector must then have that length, or the call is an error.
    fn vector_len(
        _p: &dyn Params,
        _catalog: Option<&Arc<dyn ModelCatalog>>,
    ) -> std::result::Result<Option<usize>, AudioError> {
        Ok(None)
    }
    /// The result for one row whose arguments are all non-NULL.
    fn compute(row: &Row<'_>) -> std::result::Result<Value, AudioError>;
    /// The results of a whole batch at once, for work that batches (a network's forward pass):
    /// one value per row of `batch.rows`, in order. `None` (the default) computes row by row.
    fn compute_batch(_batch: &Batch<'_>) -> Option<std::result::Result<Vec<Value>, AudioError>> {
        None
    }
}

/// What [`RowFunction::compute_batch`] sees: the batch's arguments, the session's model
/// catalog and its tensor device.
pub struct Batch<'a> {
    columns: &'a [Column],
    specs: &'static [ArgSpec],
    /// The rows whose arguments are all non-NULL.
    pub rows: Vec<usize>,
    /// The session's catalog (absent outside a session).
    pub catalog: Option<&'a Arc<dyn ModelCatalog>>,
    config: &'a datafusion::config::ConfigOptions,
    memory_limit: u64,
}

impl<'a> Batch<'a> {
    /// Row `index` of the batch.
    pub fn row(&self, index: usize) -> Row<'a> {
        Row {
            columns: self.columns,
            specs: self.specs,
            index,
            memory_limit: self.memory_limit,
        }
    }

    /// The session's memory limit in bytes (`trustql.memory_limit`).
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// The session's tensor device (`SET trustql.device`).
    pub fn device(&self) -> std::result::Result<tch::Device, AudioError> {
        crate::engine::config::resolve_device(crate::engine::config::device_setting(self.config))
            .map_err(|e| AudioError::BadParameter(e.to_string()))
    }
}

/// The list type of a clip.
pub fn audio_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)))
}

/// The list type of a sequence of frames.
pub fn frames_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(audio_type(), true)))
}

/// The type of a vector of `n` values known at planning time.
pub fn fixed_vector_type(n: usize) -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        n as i32,
    )
}

fn out_type(kind: OutKind) -> DataType {
    match kind {
        OutKind::Audio | OutKind::Vector => audio_type(),
        OutKind::Frames => frames_type(),
        OutKind::Float => DataType::Float64,
    }
}

fn numeric_list(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type())
        }
        _ => None,
    }
}

fn coerce_one(function: &str, spec: &ArgSpec, t: &DataType) -> Result<DataType> {
    let ok = match spec.kind {
        Kind::Audio => match t {
            DataType::Null => true,
            t => numeric_list(t).is_some_and(|c| c.is_numeric() || c == &DataType::Null),
        },
        Kind::Frames => match t {
            DataType::Null => true,
            t => numeric_list(t)
                .and_then(numeric_list)
                .is_some_and(|c| c.is_numeric()),
        },
        Kind::Float => t.is_numeric() || t == &DataType::Null,
        Kind::Int => t.is_integer() || t == &DataType::Null,
        Kind::Text => matches!(
            t,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
        ),
    };
    if !ok {
        let want = match spec.kind {
            Kind::Audio => "a clip (a list of numbers)",
            Kind::Frames => "a list of frames (a list of lists of numbers)",
            Kind::Float => "a number",
            Kind::Int => "an integer",
            Kind::Text => "text",
        };
        return plan_err!(
            "{function}: argument '{}' must be {want}, got {t}",
            spec.name
        );
    }
    Ok(match spec.kind {
        Kind::Audio => audio_type(),
        Kind::Frames => frames_type(),
        Kind::Float => DataType::Float64,
        Kind::Int => DataType::Int64,
        Kind::Text => DataType::Utf8,
    })
}

fn syntax(args: &[ArgSpec]) -> String {
    let required: Vec<&str> = args.iter().filter(|a| a.required).map(|a| a.name).collect();
    let optional: Vec<&str> = args
        .iter()
        .filter(|a| !a.required)
        .map(|a| a.name)
        .collect();
    let mut s = required.join(", ");
    for o in optional {
        s.push_str(&format!(" [, {o}"));
    }
    s.push_str(&"]".repeat(args.iter().filter(|a| !a.required).count()));
    s
}

/// Literal parameters at planning time.
struct Literals<'a>(&'a [Option<&'a ScalarValue>]);

impl Params for Literals<'_> {
    fn float(&self, i: usize) -> Option<f64> {
        match self.0.get(i).copied().flatten()? {
            v if v.is_null() => None,
            v => v.cast_to(&DataType::Float64).ok().and_then(|v| match v {
                ScalarValue::Float64(x) => x,
                _ => None,
            }),
        }
    }

    fn int(&self, i: usize) -> Option<i64> {
        match self.0.get(i).copied().flatten()? {
            v if v.is_null() || !v.data_type().is_integer() => None,
            v => v.cast_to(&DataType::Int64).ok().and_then(|v| match v {
                ScalarValue::Int64(x) => x,
                _ => None,
            }),
        }
    }

    fn text(&self, i: usize) -> Option<&str> {
        match self.0.get(i).copied().flatten()? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)) => Some(s.as_str()),
            _ => None,
        }
    }
}

/// One argument column, cast to its kind's type.
enum Column {
    List(ListArray),
    Float(Float64Array),
    Int(Int64Array),
    Text(StringArray),
}

impl Column {
    fn is_null(&self, row: usize) -> bool {
        match self {
            Column::List(a) => a.is_null(row),
            Column::Float(a) => a.is_null(row),
            Column::Int(a) => a.is_null(row),
            Column::Text(a) => a.is_null(row),
        }
    }
}

/// The arguments of one row, all non-NULL.
pub struct Row<'a> {
    columns: &'a [Column],
    specs: &'static [ArgSpec],
    /// The row's index in its batch.
    pub index: usize,
    memory_limit: u64,
}

impl<'a> Row<'a> {
    /// Argument `i` as text, when given and not NULL, borrowed from the batch.
    pub fn text_in_batch(&self, i: usize) -> Option<&'a str> {
        match self.columns.get(i)? {
            Column::Text(a) => Some(a.value(self.index)),
            _ => None,
        }
    }

    /// The session's memory limit in bytes (`trustql.memory_limit`).
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// An error when `need` bytes (an estimate) exceed the session's memory limit; `what` names
    /// the argument and its value (see [`crate::engine::memory::check_memory`]).
    pub fn check_memory(&self, what: &str, need: f64) -> std::result::Result<(), AudioError> {
        super::kernels::error::check_memory(what, need, self.memory_limit)
    }

    /// Whether the call gave argument `i`.
    pub fn has(&self, i: usize) -> bool {
        i < self.columns.len()
    }

    fn list(&self, i: usize) -> std::result::Result<&'a ListArray, AudioError> {
        match self.columns.get(i) {
            Some(Column::List(a)) => Ok(a),
            _ => Err(AudioError::BadInput(format!(
                "argument {} is not a list",
                self.name(i)
            ))),
        }
    }

    fn name(&self, i: usize) -> &'static str {
        self.specs.get(i).map_or("?", |s| s.name)
    }

    /// Argument `i` as a clip: its samples, without copying.
    pub fn audio(&self, i: usize) -> std::result::Result<&'a [f32], AudioError> {
        let list = self.list(i)?;
        let offsets = list.value_offsets();
        let (start, end) = (
            offsets[self.index] as usize,
            offsets[self.index + 1] as usize,
        );
        let values = list.values().as_primitive::<Float32Type>();
        if values.null_count() > 0 && (start..end).any(|k| values.is_null(k)) {
            return Err(AudioError::BadInput(format!(
                "{} has NULL samples",
                self.name(i)
            )));
        }
        Ok(&values.values()[start..end])
    }

    /// Argument `i` as frames (copied to f64); every frame must have the same length.
    pub fn frames(&self, i: usize) -> std::result::Result<Frames, AudioError> {
        let outer = self.list(i)?;
        let offsets = outer.value_offsets();
        let (start, end) = (
            offsets[self.index] as usize,
            offsets[self.index + 1] as usize,
        );
        let inner = outer.values().as_list::<i32>();
        let inner_offsets = inner.value_offsets();
        let values = inner.values().as_primitive::<Float32Type>();
        let n_frames = end - start;
        let dim = if n_frames == 0 {
            0
        } else {
            (inner_offsets[start + 1] - inner_offsets[start]) as usize
        };
        let mut data = Vec::with_capacity(n_frames * dim);
        for f in start..end {
            if inner.is_null(f) {
                return Err(AudioError::BadInput(format!(
                    "{}: frame {} is NULL",
                    self.name(i),
                    f - start
                )));
            }
            let (a, b) = (inner_offsets[f] as usize, inner_offsets[f + 1] as usize);
            if b - a != dim {
                return Err(AudioError::BadInput(format!(
                    "{}: frame {} has {} values but frame 0 has {dim}",
                    self.name(i),
                    f - start,
                    b - a
                )));
            }
            if values.null_count() > 0 && (a..b).any(|k| values.is_null(k)) {
                return Err(AudioError::BadInput(format!(
                    "{}: frame {} has NULL values",
                    self.name(i),
                    f - start
                )));
            }
            data.extend(values.values()[a..b].iter().map(|&v| v as f64));
        }
        Frames::new(n_frames, dim, data)
    }

    /// Argument `i` as a vector of f64 (a list of numbers, copied).
    pub fn vector(&self, i: usize) -> std::result::Result<Vec<f64>, AudioError> {
        Ok(self.audio(i)?.iter().map(|&v| f64::from(v)).collect())
    }

    /// Argument `i` as a sample rate in Hz (see [`sample_rate`]).
    pub fn sample_rate(&self, i: usize) -> std::result::Result<u32, AudioError> {
        sample_rate(self.req_float(i)?)
    }

    /// Argument `i` as a number; an error when it is not given.
    pub fn req_float(&self, i: usize) -> std::result::Result<f64, AudioError> {
        self.float(i).ok_or_else(|| {
            AudioError::BadParameter(format!("argument {} is missing", self.name(i)))
        })
    }

    /// Argument `i` as an integer; an error when it is not given.
    pub fn req_int(&self, i: usize) -> std::result::Result<i64, AudioError> {
        self.int(i).ok_or_else(|| {
            AudioError::BadParameter(format!("argument {} is missing", self.name(i)))
        })
    }
}

impl Params for Row<'_> {
    fn float(&self, i: usize) -> Option<f64> {
        match self.columns.get(i)? {
            Column::Float(a) => Some(a.value(self.index)),
            Column::Int(a) => Some(a.value(self.index) as f64),
            _ => None,
        }
    }

    fn int(&self, i: usize) -> Option<i64> {
        match self.columns.get(i)? {
            Column::Int(a) => Some(a.value(self.index)),
            _ => None,
        }
    }

    fn text(&self, i: usize) -> Option<&str> {
        self.text_in_batch(i)
    }
}

/// A [`RowFunction`] as a DataFusion scalar function. With a catalog, it stops when the user
/// cancels the statement (between rows) and reports how many rows it has done every few seconds
/// of work.
pub struct RowUdf<F: RowFunction> {
    signature: Signature,
    catalog: Option<Arc<dyn ModelCatalog>>,
    /// Rows done since the last progress line, and when that window started.
    window: std::sync::Mutex<Option<(std::time::Instant, usize)>>,
    _f: PhantomData<F>,
}

impl<F: RowFunction> Debug for RowUdf<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowUdf").field("name", &F::NAME).finish()
    }
}

impl<F: RowFunction> PartialEq for RowUdf<F> {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl<F: RowFunction> Eq for RowUdf<F> {}

impl<F: RowFunction> Hash for RowUdf<F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        F::NAME.hash(state)
    }
}

/// How often a busy function reports the rows it has done.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl<F: RowFunction> Default for RowUdf<F> {
    fn default() -> Self {
        RowUdf {
            catalog: None,
            window: std::sync::Mutex::new(None),
            signature: Signature::user_defined(if F::SIDE_EFFECTS {
                Volatility::Volatile
            } else {
                Volatility::Immutable
            }),
            _f: PhantomData,
        }
    }
}

impl<F: RowFunction> RowUdf<F> {
    /// The function, ready to register, reporting progress and checking cancellation through
    /// `catalog` (the session's).
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        RowUdf::<F> {
            catalog: Some(catalog),
            ..Self::default()
        }
    }
}

fn to_column(array: &ArrayRef, kind: Kind) -> Result<Column> {
    let target = match kind {
        Kind::Audio => audio_type(),
        Kind::Frames => frames_type(),
        Kind::Float => DataType::Float64,
        Kind::Int => DataType::Int64,
        Kind::Text => DataType::Utf8,
    };
    let a = if array.data_type() == &target {
        array.clone()
    } else {
        cast(array, &target)?
    };
    Ok(match kind {
        Kind::Audio | Kind::Frames => Column::List(a.as_list::<i32>().clone()),
        Kind::Float => Column::Float(a.as_primitive().clone()),
        Kind::Int => Column::Int(a.as_primitive().clone()),
        Kind::Text => Column::Text(a.as_string::<i32>().clone()),
    })
}

/// Builds a `list<float32>` column from optional sample vectors.
pub fn samples_array(rows: Vec<Option<Vec<f32>>>) -> ListArray {
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    let lengths: Vec<usize> = rows
        .iter()
        .map(|r| r.as_ref().map_or(0, Vec::len))
        .collect();
    let values: Vec<f32> = rows.into_iter().flatten().flatten().collect();
    ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float32Array::from(values)),
        Some(nulls),
    )
}

/// Builds a `list<list<float32>>` column from optional frame sequences.
pub fn frames_array(rows: Vec<Option<Frames>>) -> ListArray {
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    let outer: Vec<usize> = rows
        .iter()
        .map(|r| r.as_ref().map_or(0, |f| f.n_frames))
        .collect();
    let mut inner = Vec::new();
    let mut values = Vec::new();
    for f in rows.iter().flatten() {
        inner.extend(std::iter::repeat_n(f.dim, f.n_frames));
        values.extend(f.data.iter().map(|&v| v as f32));
    }
    nested_array(nulls, outer, inner, values)
}

/// A `list<list<float32>>` column from its parts: which rows are valid (`nulls`), how many lists
/// each row holds (`outer`), the lengths of those lists (`inner`) and their values, list after
/// list.
pub fn nested_array(
    nulls: NullBuffer,
    outer: Vec<usize>,
    inner: Vec<usize>,
    values: Vec<f32>,
) -> ListArray {
    let inner = ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        OffsetBuffer::from_lengths(inner),
        Arc::new(Float32Array::from(values)),
        None,
    );
    ListArray::new(
        Arc::new(Field::new_list_field(audio_type(), true)),
        OffsetBuffer::from_lengths(outer),
        Arc::new(inner),
        Some(nulls),
    )
}

/// Builds a `fixed_size_list<float32, n>` column from optional vectors; a vector of another
/// length is an error naming its row (1-based).
pub fn fixed_vectors_array(
    rows: Vec<Option<Vec<f32>>>,
    n: usize,
) -> std::result::Result<FixedSizeListArray, AudioError> {
    let mut values = Vec::with_capacity(rows.len() * n);
    let mut valid = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        match r {
            Some(v) if v.len() == n => {
                values.extend(v);
                valid.push(true);
            }
            Some(v) => {
                return Err(AudioError::Model(format!(
                    "row {} gave {} values but the query was planned for {n} (was the model \
                     replaced while the query ran?)",
                    i + 1,
                    v.len()
                )))
            }
            None => {
                values.extend(std::iter::repeat_n(0.0, n));
                valid.push(false);
            }
        }
    }
    FixedSizeListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Float32, true)),
        n as i32,
        Arc::new(Float32Array::from(values)),
        Some(NullBuffer::from(valid)),
    )
    .map_err(|e| AudioError::BadInput(e.to_string()))
}

/// The column of `rows` as the planned type `target` (which only matters for vectors: fixed size
/// or not).
fn build(kind: OutKind, rows: Vec<Option<Value>>, target: &DataType) -> Result<ArrayRef> {
    Ok(match kind {
        OutKind::Audio | OutKind::Vector => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(match r {
                    None | Some(Value::Null) => None,
                    Some(Value::Samples(s)) => Some(s),
                    Some(other) => return exec_err!("internal: expected samples, got {other:?}"),
                });
            }
            match target {
                DataType::FixedSizeList(_, n) if kind == OutKind::Vector => {
                    match fixed_vectors_array(out, *n as usize) {
                        Ok(a) => Arc::new(a),
                        Err(e) => return exec_err!("{e}"),
                    }
                }
                _ => Arc::new(samples_array(out)),
            }
        }
        OutKind::Frames => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(match r {
                    None | Some(Value::Null) => None,
                    Some(Value::Frames(f)) => Some(f),
                    Some(other) => return exec_err!("internal: expected frames, got {other:?}"),
                });
            }
            Arc::new(frames_array(out))
        }
        OutKind::Float => {
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(match r {
                    None | Some(Value::Null) => None,
                    Some(Value::Float(v)) => Some(v),
                    Some(other) => return exec_err!("internal: expected a number, got {other:?}"),
                });
            }
            Arc::new(Float64Array::from(out))
        }
    })
}

impl<F: RowFunction> ScalarUDFImpl for RowUdf<F> {
    fn name(&self) -> &str {
        F::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let required = F::ARGS.iter().filter(|a| a.required).count();
        if arg_types.len() < required || arg_types.len() > F::ARGS.len() {
            return plan_err!(
                "{}({}) takes {}{} argument(s), got {}",
                F::NAME,
                syntax(F::ARGS),
                required,
                if F::ARGS.len() > required {
                    format!(" to {}", F::ARGS.len())
                } else {
                    String::new()
                },
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(F::ARGS)
            .map(|(t, spec)| coerce_one(F::NAME, spec, t))
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(out_type(F::OUT))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let literals = Literals(args.scalar_arguments);
        let plan_error = |e: AudioError| plan_datafusion_err!("{}: {e}", F::NAME);
        F::validate(&literals).map_err(plan_error)?;
        let t = match F::vector_len(&literals, self.catalog.as_ref()).map_err(plan_error)? {
            Some(n) if F::OUT == OutKind::Vector => fixed_vector_type(n),
            _ => out_type(F::OUT),
        };
        Ok(Arc::new(Field::new(F::NAME, t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let n = args.number_rows;
        let target = args.return_field.data_type().clone();
        let columns = args
            .args
            .iter()
            .zip(F::ARGS)
            .map(|(a, spec)| to_column(&a.to_array(n)?, spec.kind))
            .collect::<Result<Vec<_>>>()?;
        let started = std::time::Instant::now();
        let memory_limit = memory_limit(&args.config_options);
        // The statement's cancellation, taken once (see ModelCatalog::cancel_token).
        let token = self.catalog.as_ref().map(|c| c.cancel_token());
        let cancelled = || token.as_ref().is_some_and(|t| t.is_cancelled());
        let batch = Batch {
            columns: &columns,
            specs: F::ARGS,
            rows: (0..n)
                .filter(|&i| !columns.iter().any(|c| c.is_null(i)))
                .collect(),
            catalog: self.catalog.as_ref(),
            config: &args.config_options,
            memory_limit,
        };
        if let Some(result) = F::compute_batch(&batch) {
            if cancelled() {
                return exec_err!("{}: cancelled by the user", F::NAME);
            }
            let values = match result {
                Ok(v) if v.len() == batch.rows.len() => v,
                Ok(v) => {
                    return exec_err!(
                        "internal: {} gave {} values for {} rows",
                        F::NAME,
                        v.len(),
                        batch.rows.len()
                    )
                }
                Err(e) => return exec_err!("{}: {e}", F::NAME),
            };
            let mut rows: Vec<Option<Value>> = vec![None; n];
            for (&i, v) in batch.rows.iter().zip(values) {
                rows[i] = Some(v);
            }
            return columnar(build(F::OUT, rows, &target)?, all_scalar);
        }
        let results: Vec<std::result::Result<Option<Value>, AudioError>> = (0..n)
            .into_par_iter()
            .map(|index| {
                if cancelled() {
                    return Err(AudioError::Cancelled);
                }
                if columns.iter().any(|c| c.is_null(index)) {
                    return Ok(None);
                }
                let row = Row {
                    columns: &columns,
                    specs: F::ARGS,
                    index,
                    memory_limit,
                };
                F::validate(&row)?;
                F::compute(&row).map(Some)
            })
            .collect();
        if cancelled() {
            return exec_err!("{}: cancelled by the user", F::NAME);
        }
        if let (Some(catalog), Ok(mut window)) = (&self.catalog, self.window.lock()) {
            // A busy window is reported within REPORT_EVERY; one much older is left over from
            // earlier, idle work, and starts again.
            if window.is_some_and(|(since, _)| started.duration_since(since) > 4 * REPORT_EVERY) {
                *window = None;
            }
            let (since, rows) = window.get_or_insert((started, 0));
            *rows += n;
            let elapsed = since.elapsed();
            if elapsed >= REPORT_EVERY {
                catalog.progress(&format!(
                    "{}: {rows} rows in the last {:.1} s",
                    F::NAME,
                    elapsed.as_secs_f64()
                ));
                *window = None;
            }
        }
        let mut rows = Vec::with_capacity(n);
        for (index, r) in results.into_iter().enumerate() {
            match r {
                Ok(v) => rows.push(v),
                Err(e) => return exec_err!("{}: row {} of the batch: {e}", F::NAME, index + 1),
            }
        }
        columnar(build(F::OUT, rows, &target)?, all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        F::doc()
    }
}

/// A small cache of computation plans (FFT plans, filter banks, SoundFonts) keyed by their
/// parameters, so that rows with the same parameters share one plan; it keeps the most recent
/// few (8 unless [`PlanCache::with_capacity`] says otherwise).
pub struct PlanCache<K, V> {
    entries: std::sync::Mutex<Vec<(K, Arc<V>)>>,
    capacity: usize,
}

impl<K: PartialEq + Clone, V> Default for PlanCache<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: PartialEq + Clone, V> PlanCache<K, V> {
    /// An empty cache keeping 8 plans.
    pub const fn new() -> Self {
        Self::with_capacity(8)
    }

    /// An empty cache keeping `capacity` plans (at least one).
    pub const fn with_capacity(capacity: usize) -> Self {
        PlanCache {
            entries: std::sync::Mutex::new(Vec::new()),
            capacity,
        }
    }

    /// The plan for `key`, made by `make` when it is not cached.
    pub fn get(
        &self,
        key: &K,
        make: impl FnOnce() -> std::result::Result<V, AudioError>,
    ) -> std::result::Result<Arc<V>, AudioError> {
        if let Ok(entries) = self.entries.lock() {
            if let Some((_, v)) = entries.iter().find(|(k, _)| k == key) {
                return Ok(v.clone());
            }
        }
        let v = Arc::new(make()?);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity.max(1) {
                entries.remove(0);
            }
            entries.push((key.clone(), v.clone()));
        }
        Ok(v)
    }
}

/// A sample rate argument as a whole number of Hz within [`SAMPLE_RATES`].
pub fn sample_rate(v: f64) -> std::result::Result<u32, AudioError> {
    sample_rate_in(v, *SAMPLE_RATES.start(), *SAMPLE_RATES.end())
}

/// A sample rate argument as a whole number of Hz within `lo..=hi` (a function whose kernel
/// takes fewer rates than [`SAMPLE_RATES`], such as `render_midi`).
pub fn sample_rate_in(v: f64, lo: i64, hi: i64) -> std::result::Result<u32, AudioError> {
    if v.fract() == 0.0 && (lo as f64..=hi as f64).contains(&v) {
        Ok(v as u32)
    } else {
        Err(AudioError::BadParameter(format!(
            "sample rate must be a whole number of Hz between {lo} and {hi}, got {v}"
        )))
    }
}

/// Checks argument `i` as a finite number when it is known; `name` names it in the error.
pub fn check_finite_param(
    p: &dyn Params,
    i: usize,
    name: &str,
) -> std::result::Result<(), AudioError> {
    match p.float(i) {
        Some(v) if !v.is_finite() => Err(AudioError::BadParameter(format!(
            "{name} must be a finite number, got {v}"
        ))),
        _ => Ok(()),
    }
}

/// Checks argument `i` as a number within `lo..=hi` when it is known; `name` names it in the
/// error (NaN is outside every range).
pub fn check_range_param(
    p: &dyn Params,
    i: usize,
    name: &str,
    lo: f64,
    hi: f64,
) -> std::result::Result<(), AudioError> {
    match p.float(i) {
        Some(v) if !(lo..=hi).contains(&v) => Err(AudioError::BadParameter(format!(
            "{name} must be between {lo} and {hi}, got {v}"
        ))),
        _ => Ok(()),
    }
}

/// Checks argument `i` as a sample rate when it is known (see [`sample_rate`]).
pub fn check_sample_rate(p: &dyn Params, i: usize) -> std::result::Result<(), AudioError> {
    match p.float(i) {
        Some(sr) => sample_rate(sr).map(|_| ()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vectors_keep_values_and_nulls() {
        let a = fixed_vectors_array(vec![Some(vec![1.0, 2.0]), None, Some(vec![3.0, 4.0])], 2)
            .expect("built");
        assert_eq!(a.data_type(), &fixed_vector_type(2));
        assert_eq!(a.len(), 3);
        assert!(a.is_valid(0) && a.is_null(1) && a.is_valid(2));
        let row = |i: usize| a.value(i).as_primitive::<Float32Type>().values().to_vec();
        assert_eq!(row(0), vec![1.0, 2.0]);
        assert_eq!(row(2), vec![3.0, 4.0]);
    }

    #[test]
    fn a_vector_of_another_length_names_its_row() {
        let e = fixed_vectors_array(vec![Some(vec![1.0, 2.0]), Some(vec![1.0])], 2)
            .expect_err("lengths differ")
            .to_string();
        assert!(
            e.contains("row 2 gave 1 values but the query was planned for 2"),
            "{e}"
        );
    }

    #[test]
    fn vectors_follow_the_planned_type() {
        let rows = || vec![Some(Value::Samples(vec![0.5; 3])), Some(Value::Null)];
        let fixed = build(OutKind::Vector, rows(), &fixed_vector_type(3)).expect("fixed");
        assert_eq!(fixed.data_type(), &fixed_vector_type(3));
        assert!(fixed.is_null(1));
        let var = build(OutKind::Vector, rows(), &audio_type()).expect("variable");
        assert_eq!(var.data_type(), &audio_type());
        // Clips are never fixed-size, whatever the planned type says.
        let clip = build(OutKind::Audio, rows(), &fixed_vector_type(3)).expect("clip");
        assert_eq!(clip.data_type(), &audio_type());
    }
}
