//! The aggregate machinery shared by `within_consistency` and `between_consistency`.
//!
//! Distance consistency (thesis eq. 4.9–4.12) is a property of a whole (transform, magnitude)
//! cell: whether each transformed point is closer to its own original than to every other
//! original needs all of the point's distances at once. In SQL the natural input is a table of
//! distances, one row per (transformed point, candidate original), grouped by the cell; these
//! aggregates collect a group's rows, arrange them into the point × original matrix the kernels
//! of [`super::kernels::consistency`] take, check that it is complete (every point has exactly
//! one distance to every candidate, its own original among them) and return the measure with a
//! seeded bootstrap 95 % interval as a struct.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, ListArray, StringArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;

use super::kernels::consistency::{Bootstrap, DEFAULT_RESAMPLES};
use super::kernels::AudioError;

/// The most bootstrap resamples a call may ask for (each keeps one f64, and each costs a pass
/// over the points).
pub const MAX_RESAMPLES: u64 = 10_000_000;

/// The seed of the bootstrap when a call gives none.
pub const DEFAULT_SEED: u64 = 42;

/// A group's distances arranged as matrices: `dist[k]` is the k-th distance column as an
/// n_points × n_candidates row-major matrix; `own[p]` the candidate index of point p's original.
#[derive(Debug)]
pub struct Cell {
    /// Number of candidate originals.
    pub n_candidates: usize,
    /// Each point's own original, as a candidate index.
    pub own: Vec<usize>,
    /// One matrix per distance argument.
    pub dist: Vec<Vec<f64>>,
}

/// One consistency aggregate.
pub trait Measure: Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// SQL name.
    const NAME: &'static str;
    /// Names of its distance arguments (one or two).
    const DISTANCES: &'static [&'static str];
    /// Its documentation.
    fn doc() -> Option<&'static Documentation>;
    /// The fields of the result struct.
    fn fields() -> Fields;
    /// The result struct's values for a complete cell.
    fn evaluate(cell: &Cell, bootstrap: &Bootstrap) -> std::result::Result<Vec<f64>, AudioError>;
}

/// `Measure` as a DataFusion aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ConsistencyUdaf<M: Measure> {
    signature: Signature,
    _m: PhantomData<M>,
}

impl<M: Measure> Default for ConsistencyUdaf<M> {
    fn default() -> Self {
        ConsistencyUdaf {
            signature: Signature::user_defined(Volatility::Immutable),
            _m: PhantomData,
        }
    }
}

fn usage<M: Measure>() -> String {
    format!(
        "{}(point, original, candidate, {} [, resamples [, seed]])",
        M::NAME,
        M::DISTANCES.join(", ")
    )
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// The non-negative integer literal argument `i`, if given.
fn literal_count(args: &AccumulatorArgs, i: usize, name: &str, what: &str) -> Result<Option<u64>> {
    let Some(expr) = args.exprs.get(i) else {
        return Ok(None);
    };
    let Some(lit) = expr.downcast_ref::<Literal>() else {
        return plan_err!("{name}: {what} must be an integer literal");
    };
    let v = lit.value();
    if v.is_null() || !v.data_type().is_integer() {
        return plan_err!("{name}: {what} must be an integer literal, got {v}");
    }
    match v.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(Some(x)) if x >= 0 => Ok(Some(x as u64)),
        other => plan_err!("{name}: {what} must not be negative, got {other}"),
    }
}

impl<M: Measure> AggregateUDFImpl for ConsistencyUdaf<M> {
    fn name(&self) -> &str {
        M::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = 3 + M::DISTANCES.len();
        if arg_types.len() < n || arg_types.len() > n + 2 {
            return plan_err!(
                "{} takes {n} to {} arguments, got {}; usage: {}",
                M::NAME,
                n + 2,
                arg_types.len(),
                usage::<M>()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i < 3 {
                    if matches!(
                        t,
                        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_)
                    ) {
                        return plan_err!(
                            "{}: point, original and candidate are ids (text or numbers), got {t}",
                            M::NAME
                        );
                    }
                    Ok(DataType::Utf8)
                } else if i < n {
                    if t.is_numeric() || t == &DataType::Null {
                        Ok(DataType::Float64)
                    } else {
                        plan_err!("{}: distances must be numbers, got {t}", M::NAME)
                    }
                } else if t.is_integer() {
                    Ok(DataType::Int64)
                } else {
                    plan_err!(
                        "{}: resamples and seed must be integers, got {t}; usage: {}",
                        M::NAME,
                        usage::<M>()
                    )
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(M::fields()))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let n = 3 + M::DISTANCES.len();
        let resamples = match literal_count(&args, n, M::NAME, "resamples")? {
            None => DEFAULT_RESAMPLES,
            Some(r) if (1..=MAX_RESAMPLES).contains(&r) => r as usize,
            Some(r) => {
                return plan_err!(
                    "{}: resamples must be between 1 and {MAX_RESAMPLES}, got {r}",
                    M::NAME
                )
            }
        };
        let seed = literal_count(&args, n + 1, M::NAME, "seed")?.unwrap_or(DEFAULT_SEED);
        Ok(Box::new(CellAccumulator::<M> {
            rows: Vec::new(),
            bootstrap: Bootstrap { resamples, seed },
            _m: PhantomData,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let mut fields = vec![
            Arc::new(Field::new(
                format!("{}[point]", args.name),
                list_of(DataType::Utf8),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[original]", args.name),
                list_of(DataType::Utf8),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[candidate]", args.name),
                list_of(DataType::Utf8),
                true,
            )),
        ];
        for d in M::DISTANCES {
            fields.push(Arc::new(Field::new(
                format!("{}[{d}]", args.name),
                list_of(DataType::Float64),
                true,
            )));
        }
        Ok(fields)
    }

    fn documentation(&self) -> Option<&Documentation> {
        M::doc()
    }
}

/// One row of a group: point, original, candidate, distances.
type CellRow = (String, String, String, Vec<f64>);

/// Collects a group's rows (rows with a NULL are skipped).
#[derive(Debug)]
struct CellAccumulator<M> {
    rows: Vec<CellRow>,
    bootstrap: Bootstrap,
    _m: PhantomData<M>,
}

impl<M: Measure> CellAccumulator<M> {
    fn push(&mut self, columns: &[ArrayRef]) -> Result<()> {
        let ids: Vec<ArrayRef> = columns[..3]
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<std::result::Result<_, _>>()?;
        let ids: Vec<&StringArray> = ids.iter().map(|c| c.as_string::<i32>()).collect();
        let dists: Vec<&Float64Array> = columns[3..3 + M::DISTANCES.len()]
            .iter()
            .map(|c| c.as_primitive::<Float64Type>())
            .collect();
        for r in 0..columns[0].len() {
            if ids.iter().any(|c| c.is_null(r)) || dists.iter().any(|c| c.is_null(r)) {
                continue;
            }
            let d: Vec<f64> = dists.iter().map(|c| c.value(r)).collect();
            if let Some(bad) = d.iter().find(|v| !v.is_finite() || **v < 0.0) {
                return exec_err!(
                    "{}: distance {bad} from point '{}' to candidate '{}' is not a finite non-negative number",
                    M::NAME,
                    ids[0].value(r),
                    ids[2].value(r)
                );
            }
            self.rows.push((
                ids[0].value(r).to_string(),
                ids[1].value(r).to_string(),
                ids[2].value(r).to_string(),
                d,
            ));
        }
        Ok(())
    }

    fn cell(&self) -> std::result::Result<Option<Cell>, AudioError> {
        if self.rows.is_empty() {
            return Ok(None);
        }
        let mut candidates: Vec<&str> = self.rows.iter().map(|r| r.2.as_str()).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut originals: BTreeMap<&str, &str> = BTreeMap::new();
        for (p, o, _, _) in &self.rows {
            if let Some(prev) = originals.insert(p, o) {
                if prev != o {
                    return Err(AudioError::BadInput(format!(
                        "point '{p}' has two originals, '{prev}' and '{o}'"
                    )));
                }
            }
        }
        let points: Vec<&str> = originals.keys().copied().collect();
        let position = |list: &[&str], id: &str| list.binary_search(&id).ok();
        let nc = candidates.len();
        let mut own = Vec::with_capacity(points.len());
        for p in &points {
            let o = originals[p];
            own.push(position(&candidates, o).ok_or_else(|| {
                AudioError::BadInput(format!(
                    "the original '{o}' of point '{p}' is not among the candidates"
                ))
            })?);
        }
        let mut dist = vec![vec![f64::NAN; points.len() * nc]; M::DISTANCES.len()];
        for (p, _, c, d) in &self.rows {
            let (Some(pi), Some(ci)) = (position(&points, p), position(&candidates, c)) else {
                return Err(AudioError::Internal(format!(
                    "unknown point '{p}' or candidate '{c}'"
                )));
            };
            for (k, v) in d.iter().enumerate() {
                let cell = &mut dist[k][pi * nc + ci];
                if !cell.is_nan() {
                    return Err(AudioError::BadInput(format!(
                        "point '{p}' has more than one distance to candidate '{c}'"
                    )));
                }
                *cell = *v;
            }
        }
        if let Some(at) = dist[0].iter().position(|v| v.is_nan()) {
            return Err(AudioError::BadInput(format!(
                "point '{}' has no distance to candidate '{}' (every point needs one to every candidate)",
                points[at / nc],
                candidates[at % nc]
            )));
        }
        Ok(Some(Cell {
            n_candidates: nc,
            own,
            dist,
        }))
    }
}

fn strings(values: impl Iterator<Item = String>) -> ScalarValue {
    let values: Vec<String> = values.collect();
    let n = values.len();
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Utf8, true)),
        OffsetBuffer::from_lengths([n]),
        Arc::new(StringArray::from(values)),
        None,
    )))
}

fn numbers(values: impl Iterator<Item = f64>) -> ScalarValue {
    let values: Vec<f64> = values.collect();
    let n = values.len();
    ScalarValue::List(Arc::new(ListArray::new(
        Arc::new(Field::new_list_field(DataType::Float64, true)),
        OffsetBuffer::from_lengths([n]),
        Arc::new(Float64Array::from(values)),
        None,
    )))
}

impl<M: Measure> Accumulator for CellAccumulator<M> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.push(values)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        for row in 0..states[0].len() {
            if lists.iter().any(|l| l.is_null(row)) {
                continue;
            }
            let columns: Vec<ArrayRef> = lists.iter().map(|l| l.value(row)).collect();
            self.push(&columns)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut out = vec![
            strings(self.rows.iter().map(|r| r.0.clone())),
            strings(self.rows.iter().map(|r| r.1.clone())),
            strings(self.rows.iter().map(|r| r.2.clone())),
        ];
        for k in 0..M::DISTANCES.len() {
            out.push(numbers(self.rows.iter().map(|r| r.3[k])));
        }
        Ok(out)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = M::fields();
        let values = match self.cell() {
            Ok(Some(cell)) => match M::evaluate(&cell, &self.bootstrap) {
                Ok(v) => Some(v),
                Err(e) => return exec_err!("{}: {e}", M::NAME),
            },
            Ok(None) => None,
            Err(e) => return exec_err!("{}: {e}", M::NAME),
        };
        let arrays: Vec<ArrayRef> = fields
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                let v = values.as_ref().and_then(|v| v.get(i).copied());
                if f.data_type() == &DataType::Int64 {
                    Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                        v.map(|x| x as i64)
                    ]))
                } else {
                    Arc::new(Float64Array::from(vec![v]))
                }
            })
            .collect();
        let nulls = values
            .is_none()
            .then(|| datafusion::arrow::buffer::NullBuffer::new_null(1));
        Ok(ScalarValue::Struct(Arc::new(
            datafusion::arrow::array::StructArray::try_new(fields, arrays, nulls)?,
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .rows
                .iter()
                .map(|r| r.0.len() + r.1.len() + r.2.len() + 8 * r.3.len() + 96)
                .sum::<usize>()
    }
}
