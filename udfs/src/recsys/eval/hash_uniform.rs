//! `hash_uniform(key, seed)`: a seeded pseudo-random number per id, so that an experiment can
//! draw a reproducible uniform sample of users (`ORDER BY hash_uniform("user", 7) LIMIT 1000`)
//! whatever the order, batching or partitioning of the rows. DataFusion's `random()` takes no
//! seed and differs on every run.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::kernels;
use crate::common::adapters::columnar;
use crate::model::{KeyColumn, KeyKind};

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "A uniform pseudo-random number in [0, 1) that depends only on an id and a \
seed, for seeded sampling: ORDER BY hash_uniform(\"user\", seed) LIMIT n is a uniform sample of n \
users without replacement, the same on every machine and whatever the order or partitioning of \
the rows, and a different seed gives an independent-looking sample. The number is the top 53 bits \
of a 64-bit hash times 2⁻⁵³: FNV-1a (64-bit) started from the offset basis XOR SplitMix64(seed), \
fed with the id (an integer id as the byte 0x01 and its 8 little-endian bytes as a 64-bit \
integer; a text id as the byte 0x02, its UTF-8 length as 8 little-endian bytes and its UTF-8 \
bytes), finished with SplitMix64, the construction of holdout_split's hash with the id alone. \
The id 7 and the text '7' are different ids. NULL when the id or the seed is NULL.",
    syntax_example = "hash_uniform(key, seed)",
    sql_example = r#"```sql
> SELECT hash_uniform(7, 42) = hash_uniform(7, 42) AS same, hash_uniform(7, 42) = hash_uniform(7, 43) AS other_seed, hash_uniform(7, 42) >= 0 AND hash_uniform(7, 42) < 1 AS in_range;
+------+------------+----------+
| same | other_seed | in_range |
+------+------------+----------+
| true | false      | true     |
+------+------------+----------+
> SELECT count(*) AS sampled FROM (SELECT u FROM generate_series(1, 1000) AS t(u) ORDER BY hash_uniform(u, 7), u LIMIT 100);
+---------+
| sampled |
+---------+
| 100     |
+---------+
```"#,
    argument(name = "key", description = "An integer or text id."),
    argument(
        name = "seed",
        description = "Integer seed (any 64-bit integer; its two's-complement bits are used)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashUniformFunc {
    signature: Signature,
}

impl HashUniformFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for HashUniformFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for HashUniformFunc {
    fn name(&self) -> &str {
        "hash_uniform"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [key, seed] = arg_types else {
            return plan_err!(
                "hash_uniform(key, seed) takes 2 arguments, got {}",
                arg_types.len()
            );
        };
        let key = match KeyKind::of(key) {
            Some(KeyKind::Int) => DataType::Int64,
            Some(KeyKind::Text) => DataType::Utf8,
            None if key == &DataType::Null => DataType::Int64,
            None => return plan_err!("hash_uniform: key must be an integer or text id, got {key}"),
        };
        if !(seed.is_integer() || seed == &DataType::Null) {
            return plan_err!("hash_uniform: seed must be an integer, got {seed}");
        }
        Ok(vec![key, DataType::Int64])
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
        let keys = KeyColumn::try_new(&arrays[0], "hash_uniform: key")?;
        let Some(seeds) = arrays[1].as_primitive_opt::<Int64Type>() else {
            return exec_err!("hash_uniform: seed must be an integer");
        };
        let mut out = Float64Builder::with_capacity(keys.len());
        for row in 0..keys.len() {
            match (keys.get(row), seeds.is_valid(row)) {
                (Some(key), true) => {
                    out.append_value(kernels::key_uniform(seeds.value(row) as u64, key))
                }
                _ => out.append_null(),
            }
        }
        columnar(Arc::new(out.finish()), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
