//! Arrow adapters shared by the rank-correlation functions: a list-pair scalar function and an
//! aggregate over (x, y) rows, both generic over a [`Coefficient`].

use std::fmt::Debug;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, GenericListArray, ListArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl,
    Signature, Volatility,
};

use super::kernels::RankResult;
use crate::common::adapters::columnar;

/// One rank-correlation coefficient: its kernel and the documentation of its two SQL forms.
pub trait Coefficient: Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static {
    /// Name of the list form (`tau_ap`); the aggregate is named `<NAME>_agg`.
    const NAME: &'static str;
    /// Name of the aggregate form.
    const AGG_NAME: &'static str;
    /// The kernel: x is the reference list, y the estimate.
    fn compute(x: &[f64], y: &[f64]) -> RankResult;
    fn list_doc() -> Option<&'static Documentation>;
    fn agg_doc() -> Option<&'static Documentation>;
}

fn list_of_f64() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)))
}

fn is_numeric_or_null(t: &DataType) -> bool {
    t.is_numeric() || t == &DataType::Null
}

/// Declares a coefficient: its marker type, the [`Coefficient`] impl binding its kernel, and the
/// documentation structs (annotated with `#[user_doc]` beside the invocation) of its two forms.
#[macro_export]
macro_rules! rank_coefficient {
    ($ty:ident, $name:literal, $kernel:path, $list_doc:ident, $agg_doc:ident) => {
        static LIST_DOC: $list_doc = $list_doc;
        static AGG_DOC: $agg_doc = $agg_doc;

        #[doc = concat!("The `", $name, "` coefficient.")]
        #[derive(Debug, Default, PartialEq, Eq, Hash)]
        pub struct $ty;

        impl $crate::ranking::adapter::Coefficient for $ty {
            const NAME: &'static str = $name;
            const AGG_NAME: &'static str = concat!($name, "_agg");

            fn compute(x: &[f64], y: &[f64]) -> $crate::ranking::kernels::RankResult {
                $kernel(x, y)
            }

            fn list_doc() -> Option<&'static datafusion::logical_expr::Documentation> {
                LIST_DOC.doc()
            }

            fn agg_doc() -> Option<&'static datafusion::logical_expr::Documentation> {
                AGG_DOC.doc()
            }
        }
    };
}

/// `name(x, y)` on two lists of numbers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RankScalar<C: Coefficient> {
    signature: Signature,
    _c: PhantomData<C>,
}

impl<C: Coefficient> RankScalar<C> {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            _c: PhantomData,
        }
    }
}

impl<C: Coefficient> Default for RankScalar<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Coefficient> ScalarUDFImpl for RankScalar<C> {
    fn name(&self) -> &str {
        C::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "{}(x, y) takes two lists, got {} argument(s)",
                C::NAME,
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .map(|t| match t {
                DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _)
                    if is_numeric_or_null(f.data_type()) =>
                {
                    Ok(list_of_f64())
                }
                DataType::Null => Ok(list_of_f64()),
                t if t.is_numeric() => plan_err!(
                    "{}(x, y) takes two lists of numbers, got {t}; over rows use the aggregate {}(x, y)",
                    C::NAME,
                    C::AGG_NAME
                ),
                t => plan_err!("{}(x, y) takes two lists of numbers, got {t}", C::NAME),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (Some(xs), Some(ys)) = (
            arrays[0].as_list_opt::<i32>(),
            arrays[1].as_list_opt::<i32>(),
        ) else {
            return exec_err!("{}: arguments must be lists", C::NAME);
        };
        columnar(compute_rows::<C>(xs, ys)?, all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        C::list_doc()
    }
}

fn compute_rows<C: Coefficient>(xs: &ListArray, ys: &ListArray) -> Result<ArrayRef> {
    let mut out = Float64Builder::with_capacity(xs.len());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for row in 0..xs.len() {
        if xs.is_null(row) || ys.is_null(row) {
            out.append_null();
            continue;
        }
        let (xv, yv) = (xs.value(row), ys.value(row));
        let (xv, yv) = (
            xv.as_primitive::<Float64Type>(),
            yv.as_primitive::<Float64Type>(),
        );
        if xv.len() != yv.len() {
            return exec_err!(
                "{}: the lists differ in length ({} and {})",
                C::NAME,
                xv.len(),
                yv.len()
            );
        }
        x.clear();
        y.clear();
        for i in 0..xv.len() {
            if xv.is_valid(i) && yv.is_valid(i) {
                x.push(xv.value(i));
                y.push(yv.value(i));
            }
        }
        match C::compute(&x, &y) {
            Ok(v) => out.append_option(v),
            Err(e) => return exec_err!("{}: {e}", C::NAME),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `name_agg(x, y)` over rows.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RankAggregate<C: Coefficient> {
    signature: Signature,
    _c: PhantomData<C>,
}

impl<C: Coefficient> RankAggregate<C> {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
            _c: PhantomData,
        }
    }
}

impl<C: Coefficient> Default for RankAggregate<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Coefficient> AggregateUDFImpl for RankAggregate<C> {
    fn name(&self) -> &str {
        C::AGG_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "{}(x, y) takes two numeric columns, got {} argument(s)",
                C::AGG_NAME,
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .map(|t| {
                if is_numeric_or_null(t) {
                    Ok(DataType::Float64)
                } else if matches!(
                    t,
                    DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                ) {
                    plan_err!(
                        "{}(x, y) aggregates numeric columns, got {t}; for two lists use {}(x, y)",
                        C::AGG_NAME,
                        C::NAME
                    )
                } else {
                    plan_err!("{}(x, y) takes numeric columns, got {t}", C::AGG_NAME)
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PairAccumulator::<C>::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}[x]", args.name), list_of_f64(), true)),
            Arc::new(Field::new(format!("{}[y]", args.name), list_of_f64(), true)),
        ])
    }

    fn documentation(&self) -> Option<&Documentation> {
        C::agg_doc()
    }
}

/// Collects the non-NULL (x, y) pairs of a group.
#[derive(Debug)]
struct PairAccumulator<C> {
    x: Vec<f64>,
    y: Vec<f64>,
    _c: PhantomData<C>,
}

impl<C> Default for PairAccumulator<C> {
    fn default() -> Self {
        Self {
            x: Vec::new(),
            y: Vec::new(),
            _c: PhantomData,
        }
    }
}

impl<C: Coefficient> PairAccumulator<C> {
    fn push_pairs(&mut self, xs: &Float64Array, ys: &Float64Array) {
        for i in 0..xs.len() {
            if xs.is_valid(i) && ys.is_valid(i) {
                self.x.push(xs.value(i));
                self.y.push(ys.value(i));
            }
        }
    }
}

fn to_list(values: &[f64]) -> ScalarValue {
    let list = GenericListArray::<i32>::from_iter_primitive::<Float64Type, _, _>([Some(
        values.iter().copied().map(Some).collect::<Vec<_>>(),
    )]);
    ScalarValue::List(Arc::new(list))
}

impl<C: Coefficient> Accumulator for PairAccumulator<C> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(xs), Some(ys)) = (
            values[0].as_primitive_opt::<Float64Type>(),
            values[1].as_primitive_opt::<Float64Type>(),
        ) else {
            return exec_err!("{}: arguments must be numbers", C::AGG_NAME);
        };
        self.push_pairs(xs, ys);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(xs), Some(ys)) = (
            states[0].as_list_opt::<i32>(),
            states[1].as_list_opt::<i32>(),
        ) else {
            return exec_err!("{}: unexpected intermediate state", C::AGG_NAME);
        };
        for row in 0..xs.len() {
            if xs.is_null(row) || ys.is_null(row) {
                continue;
            }
            let (xv, yv) = (xs.value(row), ys.value(row));
            self.push_pairs(xv.as_primitive(), yv.as_primitive());
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![to_list(&self.x), to_list(&self.y)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match C::compute(&self.x, &self.y) {
            Ok(v) => Ok(ScalarValue::Float64(v)),
            Err(e) => exec_err!("{}: {e}", C::AGG_NAME),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + 8 * (self.x.capacity() + self.y.capacity())
    }
}
