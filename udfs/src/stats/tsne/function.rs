//! `tsne(table, column [, perplexity [, seed [, init [, iterations]]]])`: every row of a table
//! with the 2-D t-SNE coordinates of its embedding, so that maps like thesis Fig. 4.9 are a query
//! (and, with `COPY ... (FORMAT plot)`, a figure).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

use super::kernel::{tsne, Init, TsneParams};
use crate::common::adapters::resolve_table;
use crate::stats::table_args::Usage;
use crate::whole_table::{content_keys, WholeTable, WholeTableTransform};

const NAME: &str = "tsne";
const USAGE: &str = "tsne(table, column [, perplexity [, seed [, init [, iterations]]]])";

#[user_doc(
    doc_section(label = "Statistical Functions"),
    description = "Every row of a table with the 2-D t-SNE map of an embedding column (table function): the table's columns plus tsne_x and tsne_y. Exact t-SNE (van der Maaten & Hinton 2008) with scikit-learn's defaults for method='exact': Gaussian input affinities calibrated to the perplexity, early exaggeration 12 for 250 iterations, learning rate max(n / 48, 50), momentum 0.5 then 0.8, 1000 iterations unless the run converges earlier. init 'pca' (the default, as scikit-learn's) starts from the top two principal components scaled to standard deviation 1e-4 and is deterministic; 'random' starts from N(0, 1e-4²) points drawn from seed. Rows are processed in the order of their full contents, so the map does not depend on the table's row order; the same arguments give the same map. Rows whose embedding is NULL get NULL coordinates; every other embedding must have the same length and finite values; the perplexity must be below the number of embedded rows; at most 20,000 rows.",
    syntax_example = "tsne(table, column [, perplexity [, seed [, init [, iterations]]]])",
    sql_example = r#"```sql
> CREATE TABLE pts AS SELECT value AS id, [CAST(value % 3 AS DOUBLE) * 10 + value * 0.01, CAST(value % 3 AS DOUBLE)] AS e FROM generate_series(1, 30);
> SELECT count(*) AS n, count(tsne_x) AS mapped FROM tsne('pts', 'e', 5, 42);
+----+--------+
| n  | mapped |
+----+--------+
| 30 | 30     |
+----+--------+
```"#,
    argument(
        name = "table",
        description = "Name of a registered table or view (a string literal)."
    ),
    argument(
        name = "column",
        description = "Its embedding column: a list of numbers per row."
    ),
    argument(name = "perplexity", description = "Perplexity (default 30)."),
    argument(
        name = "seed",
        description = "Seed of the random initialisation (default 0)."
    ),
    argument(name = "init", description = "'pca' (default) or 'random'."),
    argument(
        name = "iterations",
        description = "Iterations, at least 250 (default 1000)."
    )
)]
#[derive(Debug, Default)]
pub struct TsneFunc;

impl TsneFunc {
    /// The documentation of `tsne` (table functions have no documentation hook in DataFusion).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// What a map needs besides the data.
#[derive(Debug, Clone)]
struct MapSpec {
    column: (String, usize),
    params: TsneParams,
}

/// The function's name and usage, for argument errors.
const ARGS: Usage = Usage {
    name: NAME,
    usage: USAGE,
};

/// The perplexity (argument 2, a number literal; default 30).
fn perplexity_arg(args: &[Expr]) -> Result<f64> {
    let Some(arg) = args.get(2) else {
        return Ok(30.0);
    };
    match arg {
        Expr::Literal(v, _) if !v.is_null() => match v.cast_to(&DataType::Float64) {
            Ok(ScalarValue::Float64(Some(p))) => Ok(p),
            _ => plan_err!("{NAME}: perplexity must be a number literal, got {arg}"),
        },
        _ => plan_err!("{NAME}: perplexity must be a number literal, got {arg}"),
    }
}

fn params(args: &[Expr]) -> Result<TsneParams> {
    let perplexity = perplexity_arg(args)?;
    // The seed's 64-bit two's-complement pattern: -1 and 18446744073709551615 are one seed.
    let seed = match args.get(3) {
        None => 0,
        Some(_) => ARGS.int(args, 3, "seed", i64::MIN, i64::MAX)? as u64,
    };
    let init = match args.get(4) {
        None => Init::Pca,
        Some(_) => match ARGS.text(args, 4, "init")?.to_ascii_lowercase().as_str() {
            "pca" => Init::Pca,
            "random" => Init::Random,
            other => return plan_err!("{NAME}: init must be 'pca' or 'random', got '{other}'"),
        },
    };
    let iterations = match args.get(5) {
        None => 1000,
        Some(_) => ARGS.int(args, 5, "iterations", 0, i64::MAX)? as usize,
    };
    match TsneParams::new(perplexity, iterations, None, seed) {
        Ok(p) => Ok(p.with_init(init)),
        Err(e) => plan_err!("{NAME}: {e}"),
    }
}

impl TableFunctionImpl for TsneFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        ARGS.arity(exprs, 2, 6)?;
        let table = ARGS.text(exprs, 0, "table")?;
        let column = ARGS.text(exprs, 1, "column")?;
        let params = params(exprs)?;
        let input = resolve_table(args.session(), NAME, &table)?;
        let input_schema = input.schema();
        let Ok(index) = input_schema.index_of(&column) else {
            let have: Vec<&str> = input_schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect();
            return plan_err!(
                "{NAME}: table '{table}' has no column '{column}' (its columns: {})",
                have.join(", ")
            );
        };
        let data_type = input_schema.field(index).data_type();
        let numeric_list = match data_type {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                f.data_type().is_numeric()
            }
            _ => false,
        };
        if !numeric_list {
            return plan_err!(
                "{NAME}: column '{column}' must be a list of numbers (an embedding), got {data_type}"
            );
        }
        for out in ["tsne_x", "tsne_y"] {
            if input_schema.index_of(out).is_ok() {
                return plan_err!(
                    "{NAME}: table '{table}' already has a column named {out}; rename it in a view first"
                );
            }
        }
        let mut fields: Vec<Arc<Field>> = input_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new("tsne_x", DataType::Float64, true)));
        fields.push(Arc::new(Field::new("tsne_y", DataType::Float64, true)));
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            input_schema.metadata().clone(),
        ));
        let spec = MapSpec {
            column: (column, index),
            params,
        };
        Ok(Arc::new(WholeTable::new(input, spec, schema)))
    }
}

impl WholeTableTransform for MapSpec {
    fn exec_name(&self) -> &'static str {
        "TsneExec"
    }

    fn describe(&self) -> String {
        let p = &self.params;
        format!(
            "column={}, perplexity={}, seed={}, init={:?}, iterations={}",
            self.column.0,
            p.perplexity(),
            p.seed(),
            p.init(),
            p.iterations()
        )
    }

    fn transform(&self, input: &RecordBatch, full_schema: &SchemaRef) -> Result<RecordBatch> {
        let (xs, ys) = self.map(input)?;
        let mut columns: Vec<ArrayRef> = input.columns().to_vec();
        columns.push(Arc::new(xs));
        columns.push(Arc::new(ys));
        Ok(RecordBatch::try_new(full_schema.clone(), columns)?)
    }
}

impl MapSpec {
    /// The coordinates of every row (NULL where the embedding is NULL).
    fn map(&self, batch: &RecordBatch) -> Result<(Float64Array, Float64Array)> {
        let (name, index) = (&self.column.0, self.column.1);
        let target = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        let list = cast(batch.column(index), &target)?;
        let list = list.as_list::<i32>();
        // Rows in the order of their full contents, so that the map does not depend on the
        // table's row order.
        let order = canonical_order(batch)?;
        let mut rows = Vec::new();
        let mut data = Vec::new();
        let mut dim = None;
        for &r in &order {
            if list.is_null(r) {
                continue;
            }
            let v = list.value(r);
            let v = v.as_primitive::<Float64Type>();
            if v.null_count() > 0 {
                return exec_err!(
                    "{NAME}: the embedding in column '{name}' of row {} has NULL values",
                    r + 1
                );
            }
            match dim {
                None => dim = Some(v.len()),
                Some(d) if d != v.len() => {
                    return exec_err!(
                        "{NAME}: the embeddings in column '{name}' must have the same length: {d} and {} (row {})",
                        v.len(),
                        r + 1
                    )
                }
                _ => {}
            }
            data.extend_from_slice(v.values());
            rows.push(r);
        }
        let n = rows.len();
        let d = dim.unwrap_or(0);
        let result = tsne(&data, n, d, &self.params, &mut |_, _| {})
            .or_else(|e| exec_err!("{NAME}: column '{name}': {e}"))?;
        let mut xs = vec![None; batch.num_rows()];
        let mut ys = vec![None; batch.num_rows()];
        let dims = self.params.dims();
        for (k, &r) in rows.iter().enumerate() {
            xs[r] = result.embedding.get(k * dims).copied();
            ys[r] = result.embedding.get(k * dims + 1).copied();
        }
        Ok((Float64Array::from(xs), Float64Array::from(ys)))
    }
}

/// Row indices sorted by the rows' contents (the columns the row format supports), ties by
/// position.
fn canonical_order(batch: &RecordBatch) -> Result<Vec<usize>> {
    let mut order: Vec<usize> = (0..batch.num_rows()).collect();
    if let Some(keys) = content_keys(batch)? {
        order.sort_by(|&a, &b| keys.row(a).cmp(&keys.row(b)).then(a.cmp(&b)));
    }
    Ok(order)
}
