//! `ndcg(recommended, relevant, k)`: the accuracy of one user's ranked recommendations against
//! the user's held-out items, so that mean nDCG@k of a recommender is `avg(ndcg(...))`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::kernels;
use crate::common::adapters::columnar;
use crate::model::{KeyColumn, KeyKind, KeyRef};

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "Normalised discounted cumulative gain nDCG@k of one ranked list of recommended \
items against the user's relevant (held-out) items, with binary relevance: \
DCG@k = Σ_{r=1..min(k, n)} rel_r / log2(r + 1) over the first k recommended items (rel_r = 1 when \
the item at rank r is relevant), divided by the ideal DCG over min(k, number of distinct relevant \
items) ranks; the result lies in [0, 1]. An item repeated in the recommended list counts only at \
its first occurrence (later copies keep their rank but gain nothing); a NULL entry in the \
recommended list takes its rank and is never relevant; NULL entries of the relevant list are \
ignored, and repeated relevant items count once. NULL when the relevant list is NULL or empty \
(nDCG is undefined), when the recommended list is NULL, or when k is NULL. A k beyond the length \
of the list cuts nothing; k ≤ 0 is an error. Ids are integers or text (the same kind in both \
lists); any list type is accepted. Build the lists with array_agg, ordering the recommendations \
by rank.",
    syntax_example = "ndcg(recommended, relevant, k)",
    sql_example = r#"```sql
> SELECT ndcg([1, 2, 3], [3], 3) AS ndcg;
+------+
| ndcg |
+------+
| 0.5  |
+------+
> CREATE TABLE recs AS SELECT * FROM (VALUES (1, 10, 1), (1, 20, 2), (1, 30, 3), (2, 10, 1), (2, 40, 2)) AS t("user", item, rank);
> CREATE TABLE test AS SELECT * FROM (VALUES (1, 30), (2, 10), (2, 50)) AS t("user", item);
> SELECT round(avg(ndcg(rec, rel, 10)), 4) AS mean_ndcg FROM (SELECT "user", array_agg(item ORDER BY rank) AS rec FROM recs GROUP BY "user") r JOIN (SELECT "user", array_agg(item) AS rel FROM test GROUP BY "user") t USING ("user");
+-----------+
| mean_ndcg |
+-----------+
| 0.5566    |
+-----------+
```"#,
    argument(
        name = "recommended",
        description = "List of recommended item ids in rank order (rank 1 first)."
    ),
    argument(
        name = "relevant",
        description = "List of the user's relevant (held-out) item ids, in any order."
    ),
    argument(
        name = "k",
        description = "Cut-off: how many top recommendations are scored (a positive integer)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NdcgFunc {
    signature: Signature,
}

impl NdcgFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for NdcgFunc {
    fn default() -> Self {
        Self::new()
    }
}

/// The id kind held by a list argument; `None` when it is untyped (NULL, or a list of NULLs).
fn list_kind(t: &DataType, what: &str) -> Result<Option<KeyKind>> {
    match t {
        DataType::Null => Ok(None),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            match KeyKind::of(f.data_type()) {
                Some(kind) => Ok(Some(kind)),
                None if f.data_type() == &DataType::Null => Ok(None),
                None => plan_err!(
                    "ndcg: {what} must be a list of integer or text item ids, got a list of {}",
                    f.data_type()
                ),
            }
        }
        t => plan_err!(
            "ndcg: {what} must be a list of item ids, got {t}; build it with array_agg(item ORDER BY rank)"
        ),
    }
}

fn id_list(kind: KeyKind) -> DataType {
    let element = match kind {
        KeyKind::Int => DataType::Int64,
        KeyKind::Text => DataType::Utf8,
    };
    DataType::List(Arc::new(Field::new_list_field(element, true)))
}

/// A literal k, when it is one.
fn literal_k(value: &ScalarValue) -> Result<Option<i64>> {
    if value.is_null() {
        return Ok(None);
    }
    match value.cast_to(&DataType::Int64)? {
        ScalarValue::Int64(k) => Ok(k),
        _ => Ok(None),
    }
}

impl ScalarUDFImpl for NdcgFunc {
    fn name(&self) -> &str {
        "ndcg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [recommended, relevant, k] = arg_types else {
            return plan_err!(
                "ndcg(recommended, relevant, k) takes 3 arguments, got {}",
                arg_types.len()
            );
        };
        let kind = match (
            list_kind(recommended, "recommended")?,
            list_kind(relevant, "relevant")?,
        ) {
            (Some(a), Some(b)) if a != b => {
                return plan_err!(
                    "ndcg: recommended holds {} ids but relevant holds {} ids; both lists must hold the same kind of id",
                    a.name(),
                    b.name()
                )
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => KeyKind::Int,
        };
        if !(k.is_integer() || k == &DataType::Null) {
            return plan_err!("ndcg: k must be a positive integer, got {k}");
        }
        Ok(vec![id_list(kind), id_list(kind), DataType::Int64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // A literal k is checked while planning.
        if let Some(Some(value)) = args.scalar_arguments.get(2) {
            if let Some(k) = literal_k(value)? {
                if k <= 0 {
                    return plan_err!("ndcg: k must be a positive integer, got {k}");
                }
            }
        }
        Ok(Arc::new(Field::new(self.name(), DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (Some(recommended), Some(relevant), Some(ks)) = (
            arrays[0].as_list_opt::<i32>(),
            arrays[1].as_list_opt::<i32>(),
            arrays[2].as_primitive_opt::<Int64Type>(),
        ) else {
            return exec_err!("ndcg: expected two lists and an integer k");
        };
        let rec_ids = KeyColumn::try_new(recommended.values(), "ndcg: recommended item")?;
        let rel_ids = KeyColumn::try_new(relevant.values(), "ndcg: relevant item")?;
        let (rec_offsets, rel_offsets) = (recommended.value_offsets(), relevant.value_offsets());
        let mut out = Float64Builder::with_capacity(recommended.len());
        let mut rec: Vec<Option<KeyRef<'_>>> = Vec::new();
        let mut rel: Vec<KeyRef<'_>> = Vec::new();
        for row in 0..recommended.len() {
            if recommended.is_null(row) || relevant.is_null(row) || ks.is_null(row) {
                out.append_null();
                continue;
            }
            let k = ks.value(row);
            if k <= 0 {
                return exec_err!("ndcg: k must be a positive integer, got {k}");
            }
            rec.clear();
            rec.extend(
                (rec_offsets[row] as usize..rec_offsets[row + 1] as usize).map(|i| rec_ids.get(i)),
            );
            rel.clear();
            rel.extend(
                (rel_offsets[row] as usize..rel_offsets[row + 1] as usize)
                    .filter_map(|i| rel_ids.get(i)),
            );
            let k = usize::try_from(k).unwrap_or(usize::MAX);
            out.append_option(kernels::ndcg(&rec, &rel, k));
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
