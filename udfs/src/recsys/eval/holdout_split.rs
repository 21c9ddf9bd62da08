//! `holdout_split(table, ratio, seed [, user_column [, item_column]])`: a deterministic per-user
//! train/test split of a table, so that a recommender experiment's held-out data is a query and
//! the same seed reproduces the same split anywhere.
//!
//! The table function checks its arguments and resolves the named table while planning; its
//! provider ([`super::holdout_exec`]) sorts the table by (user, order hash) with DataFusion's
//! spilling sort and marks each user's rows in one streaming pass, so that memory holds one user's
//! rows, not the table. The ordering hash and the count rule live in [`super::kernels`].

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

use super::holdout_exec::{HoldoutSplitTable, SplitSpec};
use crate::common::adapters::resolve_table;
use crate::common::args::{seed_literal, string_literal};
use crate::model::KeyKind;

const NAME: &str = "holdout_split";
const USAGE: &str = "holdout_split(table, ratio, seed [, user_column [, item_column]])";

#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "A deterministic per-user holdout split of a table (table function). The result \
has every column of the table plus a boolean column test. Rule: for each user, that user's n rows \
are ordered by a 64-bit hash of (seed, user id, item id), and the first t rows are test rows, where \
t = min(round(ratio · n), n − 1) with halves rounded up (round(0.5) = 1): every user keeps at \
least one training row, and a user with a single row is all training. The order depends only on \
the seed and the ids, not on the order, batching or partitioning of the input; rows with the same \
user and item (equal hashes) are ordered by their full contents, ascending, column by column. Rows whose user or item is NULL belong to no \
user: their test is NULL. The hash is FNV-1a (64-bit) started from the offset basis XOR \
SplitMix64(seed), fed with the user id and then the item id (an integer id of any width as the \
byte 0x01 and its 8 little-endian bytes as a 64-bit integer; a text id as the byte 0x02, its UTF-8 \
length as 8 little-endian bytes and its UTF-8 bytes), finished with SplitMix64; it uses no \
process-random state, so the same table, ratio and seed give the same split on every machine. \
The table is a registered table or view, named like a table in SQL (unquoted names fold to lower \
case); ratio must be in [0, 1); the user and item columns (default \"user\" and \"item\") hold \
integer or text ids, and the table must not already have a column named test. Memory: the \
table is sorted by (user, hash) with DataFusion's sort, which spills sorted runs to disk when the \
session's memory pool is limited (SET datafusion.runtime.memory_limit = '2GiB'), and each user's \
rows are marked in one streaming pass, so a split holds one user's rows at a time, not the whole \
table; the rows come out in that order.",
    syntax_example = "holdout_split(table, ratio, seed [, user_column [, item_column]])",
    sql_example = r#"```sql
> CREATE TABLE plays AS SELECT * FROM (VALUES (1, 10, 3), (1, 20, 1), (1, 30, 5), (1, 40, 2), (2, 10, 1), (3, 20, 4), (3, 30, 1)) AS t("user", item, value);
> SELECT "user", count(*) AS n, sum(CAST(test AS INT)) AS n_test FROM holdout_split('plays', 0.25, 42) GROUP BY "user" ORDER BY "user";
+------+---+--------+
| user | n | n_test |
+------+---+--------+
| 1    | 4 | 1      |
| 2    | 1 | 0      |
| 3    | 2 | 1      |
+------+---+--------+
```"#,
    argument(
        name = "table",
        description = "Name of a registered table or view (a string literal)."
    ),
    argument(
        name = "ratio",
        description = "Share of each user's rows held out for testing, in [0, 1)."
    ),
    argument(
        name = "seed",
        description = "Integer seed of the ordering hash (any 64-bit integer)."
    ),
    argument(
        name = "user_column",
        description = "Name of the user id column (default 'user')."
    ),
    argument(
        name = "item_column",
        description = "Name of the item id column (default 'item')."
    )
)]
#[derive(Debug, Default)]
pub struct HoldoutSplitFunc;

impl HoldoutSplitFunc {
    /// The documentation of `holdout_split` (table functions have no documentation hook in
    /// DataFusion, so it is exposed here).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn string_arg(args: &[Expr], i: usize, what: &str) -> Result<String> {
    string_literal(NAME, args, i, what, USAGE)
}

fn ratio_arg(arg: &Expr) -> Result<f64> {
    let Expr::Literal(value, _) = arg else {
        return plan_err!("{NAME}: ratio must be a number literal in [0, 1), got {arg}");
    };
    if value.is_null() {
        return plan_err!("{NAME}: ratio must be a number in [0, 1), got NULL");
    }
    if !value.data_type().is_numeric() {
        return plan_err!("{NAME}: ratio must be a number in [0, 1), got {value}");
    }
    let ratio = match value.cast_to(&DataType::Float64)? {
        ScalarValue::Float64(Some(r)) => r,
        other => return plan_err!("{NAME}: ratio must be a number in [0, 1), got {other}"),
    };
    if !(0.0..1.0).contains(&ratio) {
        return plan_err!("{NAME}: ratio must be in [0, 1), got {ratio}");
    }
    Ok(ratio)
}

fn id_column(schema: &Schema, table: &str, column: &str, role: &str) -> Result<(String, usize)> {
    let Ok(index) = schema.index_of(column) else {
        let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return plan_err!(
            "{NAME}: table '{table}' has no {role} column '{column}' (its columns: {}); name the {role} column in argument {}",
            have.join(", "),
            if role == "user" { 4 } else { 5 }
        );
    };
    let data_type = schema.field(index).data_type();
    if KeyKind::of(data_type).is_none() {
        return plan_err!(
            "{NAME}: the {role} column '{column}' must hold integer or text ids, got {data_type}"
        );
    }
    Ok((column.to_string(), index))
}

impl TableFunctionImpl for HoldoutSplitFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=5).contains(&exprs.len()) {
            return plan_err!("{USAGE} takes 3 to 5 arguments, got {}", exprs.len());
        }
        let table = string_arg(exprs, 0, "table")?;
        let ratio = ratio_arg(&exprs[1])?;
        let seed = seed_literal(NAME, &exprs[2])?;
        let user = match exprs.get(3) {
            Some(_) => string_arg(exprs, 3, "user_column")?,
            None => "user".to_string(),
        };
        let item = match exprs.get(4) {
            Some(_) => string_arg(exprs, 4, "item_column")?,
            None => "item".to_string(),
        };
        let input = resolve_table(args.session(), NAME, &table)?;
        let input_schema = input.schema();
        let spec = SplitSpec {
            ratio,
            seed,
            user: id_column(&input_schema, &table, &user, "user")?,
            item: id_column(&input_schema, &table, &item, "item")?,
        };
        if input_schema.index_of("test").is_ok() {
            return plan_err!(
                "{NAME}: table '{table}' already has a column named test; rename it in a view first"
            );
        }
        let mut fields: Vec<Arc<Field>> = input_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("test", DataType::Boolean, true)));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            input_schema.metadata().clone(),
        ));
        Ok(Arc::new(HoldoutSplitTable::new(input, spec, schema)))
    }
}
