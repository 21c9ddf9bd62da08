//! The aggregate adapter shared by `ndiv(item)` and `ediv(item)`: both count how often each item
//! occurs among the recommendation rows of a group and pass the counts to a kernel, so they share
//! one accumulator whose state (the items and their counts) merges across partitions.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, ListArray, StringArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::model::{KeyColumn, KeyKind, KeyRef};

/// One diversity measure over item counts: its name, kernel and documentation.
pub trait Diversity: Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static {
    const NAME: &'static str;
    /// The measure of the counts of the distinct items (NULL when undefined).
    fn compute(counts: &[u64]) -> Option<f64>;
    fn documentation() -> Option<&'static Documentation>;
}

/// `name(item)` over the recommendation rows of a group.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ItemCountAggregate<D: Diversity> {
    signature: Signature,
    _d: PhantomData<D>,
}

impl<D: Diversity> ItemCountAggregate<D> {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            _d: PhantomData,
        }
    }
}

impl<D: Diversity> Default for ItemCountAggregate<D> {
    fn default() -> Self {
        Self::new()
    }
}

fn id_type(kind: KeyKind) -> DataType {
    match kind {
        KeyKind::Int => DataType::Int64,
        KeyKind::Text => DataType::Utf8,
    }
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

impl<D: Diversity> AggregateUDFImpl for ItemCountAggregate<D> {
    fn name(&self) -> &str {
        D::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [item] = arg_types else {
            return plan_err!(
                "{}(item) takes one argument, the recommended item, got {} arguments",
                D::NAME,
                arg_types.len()
            );
        };
        match KeyKind::of(item) {
            Some(kind) => Ok(vec![id_type(kind)]),
            None if item == &DataType::Null => Ok(vec![DataType::Int64]),
            None => plan_err!(
                "{}(item) takes integer or text item ids, got {item}",
                D::NAME
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let kind = args
            .expr_fields
            .first()
            .and_then(|f| KeyKind::of(f.data_type()))
            .unwrap_or(KeyKind::Int);
        Ok(Box::new(CountAccumulator::<D>::new(kind)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let kind = args
            .input_fields
            .first()
            .and_then(|f| KeyKind::of(f.data_type()))
            .unwrap_or(KeyKind::Int);
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[items]", args.name),
                list_of(id_type(kind)),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[counts]", args.name),
                list_of(DataType::UInt64),
                true,
            )),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        D::documentation()
    }
}

/// The number of rows of each distinct non-NULL item of a group.
#[derive(Debug)]
struct CountAccumulator<D> {
    kind: KeyKind,
    ints: HashMap<i64, u64>,
    texts: HashMap<String, u64>,
    text_bytes: usize,
    _d: PhantomData<D>,
}

impl<D: Diversity> CountAccumulator<D> {
    fn new(kind: KeyKind) -> Self {
        Self {
            kind,
            ints: HashMap::new(),
            texts: HashMap::new(),
            text_bytes: 0,
            _d: PhantomData,
        }
    }

    fn add(&mut self, item: KeyRef<'_>, count: u64) {
        match item {
            KeyRef::Int(v) => *self.ints.entry(v).or_insert(0) += count,
            KeyRef::Text(s) => match self.texts.get_mut(s) {
                Some(c) => *c += count,
                None => {
                    self.text_bytes += s.len();
                    self.texts.insert(s.to_string(), count);
                }
            },
        }
    }
}

/// A one-row list scalar holding `values`.
fn single_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

impl<D: Diversity> Accumulator for CountAccumulator<D> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(array) = values.first() else {
            return exec_err!("{}: missing the item argument", D::NAME);
        };
        let items = KeyColumn::try_new(array, &format!("{}: the item", D::NAME))?;
        for i in 0..items.len() {
            if let Some(item) = items.get(i) {
                self.add(item, 1);
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(items), Some(counts)) = (
            states.first().and_then(|s| s.as_list_opt::<i32>()),
            states.get(1).and_then(|s| s.as_list_opt::<i32>()),
        ) else {
            return exec_err!("{}: unexpected intermediate state", D::NAME);
        };
        let ids = KeyColumn::try_new(items.values(), &format!("{}: the item", D::NAME))?;
        let Some(ns) = counts.values().as_primitive_opt::<UInt64Type>() else {
            return exec_err!("{}: unexpected intermediate counts", D::NAME);
        };
        let (item_offsets, count_offsets) = (items.value_offsets(), counts.value_offsets());
        for row in 0..items.len() {
            if items.is_null(row) || counts.is_null(row) {
                continue;
            }
            let (a, b) = (item_offsets[row] as usize, item_offsets[row + 1] as usize);
            let c = count_offsets[row] as usize;
            if count_offsets[row + 1] as usize - c != b - a {
                return exec_err!(
                    "{}: intermediate items and counts differ in length",
                    D::NAME
                );
            }
            for (i, j) in (a..b).zip(c..) {
                if let Some(item) = ids.get(i) {
                    self.add(item, ns.value(j));
                }
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (items, counts): (ArrayRef, UInt64Array) = match self.kind {
            KeyKind::Int => {
                let (k, v): (Vec<i64>, Vec<u64>) = self.ints.iter().map(|(k, v)| (*k, *v)).unzip();
                (Arc::new(Int64Array::from(k)), UInt64Array::from(v))
            }
            KeyKind::Text => {
                let (k, v): (Vec<&str>, Vec<u64>) =
                    self.texts.iter().map(|(k, v)| (k.as_str(), *v)).unzip();
                (Arc::new(StringArray::from(k)), UInt64Array::from(v))
            }
        };
        Ok(vec![single_list(items), single_list(Arc::new(counts))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let counts: Vec<u64> = self
            .ints
            .values()
            .chain(self.texts.values())
            .copied()
            .collect();
        Ok(ScalarValue::Float64(D::compute(&counts)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.ints.capacity() * 2 * std::mem::size_of::<u64>()
            + self.texts.capacity() * (std::mem::size_of::<String>() + std::mem::size_of::<u64>())
            + self.text_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recsys::eval::{ediv::Ediv, ndiv::Ndiv};

    fn merged<D: Diversity>(kind: KeyKind, a: ArrayRef, b: ArrayRef) -> Result<Option<f64>> {
        let mut left = CountAccumulator::<D>::new(kind);
        let mut right = CountAccumulator::<D>::new(kind);
        left.update_batch(&[a])?;
        right.update_batch(&[b])?;
        let state = right
            .state()?
            .iter()
            .map(|s| s.to_array())
            .collect::<Result<Vec<_>>>()?;
        left.merge_batch(&state)?;
        match left.evaluate()? {
            ScalarValue::Float64(v) => Ok(v),
            other => exec_err!("unexpected result {other}"),
        }
    }

    // Items 1, 1, 2 | 1, NULL, 3 → counts 3, 1, 1 (N = 5): eDiv = −(0.6 ln 0.6 + 2 · 0.2 ln 0.2)
    // = 0.30649537426 + 0.64377516497 = 0.95027053923; nDiv = eDiv / ln 5 = 0.59043628331.
    const EDIV_311: f64 = 0.950_270_539_233;
    const NDIV_311: f64 = 0.590_436_283_31;

    #[test]
    fn merged_integer_states_count_every_row() -> Result<()> {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let e = merged::<Ediv>(KeyKind::Int, a.clone(), b.clone())?.unwrap_or(f64::NAN);
        let n = merged::<Ndiv>(KeyKind::Int, a, b)?.unwrap_or(f64::NAN);
        assert!((e - EDIV_311).abs() < 1e-11, "{e}");
        assert!((n - NDIV_311).abs() < 1e-10, "{n}");
        Ok(())
    }

    #[test]
    fn merged_text_states_count_every_row() -> Result<()> {
        let a: ArrayRef = Arc::new(StringArray::from(vec!["x", "x", "y"]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None, Some("z")]));
        let e = merged::<Ediv>(KeyKind::Text, a, b)?.unwrap_or(f64::NAN);
        assert!((e - EDIV_311).abs() < 1e-11, "{e}");
        Ok(())
    }

    #[test]
    fn empty_state_merges_to_nothing() -> Result<()> {
        let a: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
        assert_eq!(merged::<Ediv>(KeyKind::Int, a.clone(), a)?, None);
        Ok(())
    }
}
