//! `sequential_design(table, runs, seed [, factors [, alias_factors]])`: thesis Algorithm 2 as a
//! table function, so that the next runs of an experiment are a query over its admissible runs
//! and the same seed reproduces the same run order anywhere.
//!
//! The table function resolves the named table while planning and returns a provider whose scan
//! wraps the table's own scan in a [`DesignExec`]: at execution time it reads the whole table
//! (every admissible run competes at every step), turns each factor column into level indices,
//! runs [`super::kernels::sequential_design`] and emits the chosen runs in order. The same
//! machinery serves `design_aliasing` (the alias matrix of the design), which differs only in
//! its output.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

use super::kernels;
use crate::common::adapters::resolve_table;
use crate::common::args::{seed_literal, string_literal};
use crate::whole_table::{content_keys, WholeTable, WholeTableTransform};

const NAME: &str = "sequential_design";

#[user_doc(
    doc_section(label = "Statistical Functions"),
    description = "Thesis Algorithm 2 (§2.4.3), sequential generation of experimental runs \
(table function): from a table of admissible runs, whose factor columns hold the factors' levels \
(each distinct non-NULL value is a level, of any orderable type), it repeatedly adds to the \
design the run that minimises the design's unbalance, then, among those, its maximum absolute \
aliasing between main effects, breaking the remaining ties at random with a seeded generator. \
The result has one row per chosen run, in the order chosen: run_order (1, 2, ...), every column \
of the table, and the unbalance and max_aliasing of the design right after adding that run. \
Unbalance of a factor: max − min over its levels of the number of design runs at that level, \
leaving out levels that are exhausted (no run left to choose has them; thesis footnote 7), 0 \
when fewer than two levels are left; unbalance of the design: the maximum over the factors. \
Main effects are effect (sum-to-zero) coded: a factor with k levels, ordered ascending by value, \
has k − 1 contrast columns, one per level after the first, +1 at that level, −1 at the first \
level and 0 elsewhere (a two-level factor is the usual ±1 column, +1 at its larger value). The \
alias of two contrast columns is their Pearson correlation over the design runs, 0 when either \
column is constant over them (in particular with fewer than two runs); max_aliasing is the \
largest absolute alias between columns of two different aliased factors (ties within 1e-12 are \
ties). The step picks P[k] with k uniform in [0, |P|) from xoshiro256++ seeded through \
SplitMix64 (one draw per step), P listed in the canonical order of the runs: ascending by their \
factor levels, factor by factor, then by all their columns; the result therefore does not depend \
on the order of the table's rows, and the first k runs are the same whatever the number of runs \
asked for. The table is a registered table or view, named like a table in SQL; runs is a \
positive integer, or NULL for all admissible runs (fewer rows when the table runs out); every \
factor needs at least two levels and no NULL. design_aliasing gives the alias matrix of the \
same design.",
    syntax_example = "sequential_design(table, runs, seed [, factors [, alias_factors]])",
    sql_example = r#"```sql
> CREATE TABLE runs AS SELECT a, b, c FROM (VALUES (-1), (1)) AS ta(a) CROSS JOIN (VALUES ('x'), ('y')) AS tb(b) CROSS JOIN (VALUES (1), (2), (3)) AS tc(c);
> SELECT run_order, unbalance FROM sequential_design('runs', 4, 42) ORDER BY run_order;
+-----------+-----------+
| run_order | unbalance |
+-----------+-----------+
| 1         | 1         |
| 2         | 1         |
| 3         | 1         |
| 4         | 1         |
+-----------+-----------+
```"#,
    argument(
        name = "table",
        description = "Name of a registered table or view of admissible runs (a string literal)."
    ),
    argument(
        name = "runs",
        description = "Number of runs to choose (a positive integer), or NULL for all."
    ),
    argument(
        name = "seed",
        description = "Integer seed of the tie-breaking generator (any 64-bit integer)."
    ),
    argument(
        name = "factors",
        description = "Comma-separated factor columns (default '*', every column); other \
columns are carried along in the result."
    ),
    argument(
        name = "alias_factors",
        description = "Comma-separated factors whose main effects enter the aliasing (default \
'*', every factor; '' for none): a factor derived from others, such as a count of them, is \
aliased with them by construction and can be left out here while still being balanced."
    )
)]
#[derive(Debug, Default)]
pub struct SequentialDesignFunc;

impl SequentialDesignFunc {
    /// The documentation of `sequential_design` (table functions have no documentation hook in
    /// DataFusion, so it is exposed here).
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

impl TableFunctionImpl for SequentialDesignFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        plan_design(Output::Runs, args)
    }
}

/// What a design table function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// The chosen runs, in order (`sequential_design`).
    Runs,
    /// The alias matrix of the design (`design_aliasing`).
    Aliasing,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Output::Runs => NAME,
            Output::Aliasing => "design_aliasing",
        }
    }

    fn usage(self) -> String {
        format!(
            "{}(table, runs, seed [, factors [, alias_factors]])",
            self.name()
        )
    }
}

/// What a design needs besides the data.
#[derive(Debug, Clone)]
struct DesignSpec {
    output: Output,
    table: String,
    /// `None`: every admissible run.
    runs: Option<usize>,
    seed: u64,
    /// Column indices of the factors, in the order given.
    factors: Vec<usize>,
    /// Whether each factor enters the aliasing.
    aliased: Vec<bool>,
}

fn string_arg(output: Output, args: &[Expr], i: usize, what: &str) -> Result<String> {
    string_literal(output.name(), args, i, what, &output.usage())
}

fn runs_arg(output: Output, arg: &Expr) -> Result<Option<usize>> {
    let name = output.name();
    let Expr::Literal(value, _) = arg else {
        return plan_err!(
            "{name}: runs must be a positive integer literal or NULL (all runs), got {arg}"
        );
    };
    if value.is_null() {
        return Ok(None);
    }
    if !value.data_type().is_integer() {
        return plan_err!(
            "{name}: runs must be a positive integer or NULL (all runs), got {value} ({})",
            value.data_type()
        );
    }
    let n = match value {
        // An unsigned value beyond i64 does not cast; it is positive all the same.
        ScalarValue::UInt64(Some(n)) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
        _ => match value.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(n)) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => None,
        },
    };
    match n {
        Some(n) if n > 0 => Ok(Some(n)),
        _ => plan_err!("{name}: runs must be a positive integer or NULL (all runs), got {value}"),
    }
}

/// The names of a comma-separated list ('' gives none).
fn name_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Plans a `sequential_design` or `design_aliasing` call.
pub(super) fn plan_design(
    output: Output,
    args: TableFunctionArgs,
) -> Result<Arc<dyn TableProvider>> {
    let name = output.name();
    let exprs = args.exprs();
    if !(3..=5).contains(&exprs.len()) {
        return plan_err!(
            "{} takes 3 to 5 arguments, got {}",
            output.usage(),
            exprs.len()
        );
    }
    let table = string_arg(output, exprs, 0, "table")?;
    let runs = runs_arg(output, &exprs[1])?;
    let seed = seed_literal(name, &exprs[2])?;
    let factor_list = match exprs.get(3) {
        Some(_) => string_arg(output, exprs, 3, "factors")?,
        None => "*".to_string(),
    };
    let alias_list = match exprs.get(4) {
        Some(_) => string_arg(output, exprs, 4, "alias_factors")?,
        None => "*".to_string(),
    };
    let input = resolve_table(args.session(), output.name(), &table)?;
    let input_schema = input.schema();
    let columns: Vec<&str> = input_schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let factor_names: Vec<String> = if factor_list.trim() == "*" {
        columns.iter().map(|c| c.to_string()).collect()
    } else {
        name_list(&factor_list)
    };
    if factor_names.is_empty() {
        return plan_err!("{name}: no factors given; name at least one column of '{table}'");
    }
    let mut factors = Vec::with_capacity(factor_names.len());
    for factor in &factor_names {
        let Some(index) = columns.iter().position(|c| c == factor) else {
            return plan_err!(
                "{name}: table '{table}' has no column '{factor}' (its columns: {})",
                columns.join(", ")
            );
        };
        if factors.contains(&index) {
            return plan_err!("{name}: factor '{factor}' is named twice");
        }
        let field = SortField::new(input_schema.field(index).data_type().clone());
        if !RowConverter::supports_fields(std::slice::from_ref(&field)) {
            return plan_err!(
                "{name}: factor '{factor}' has type {}, whose values cannot be compared",
                input_schema.field(index).data_type()
            );
        }
        factors.push(index);
    }
    let alias_names: Vec<String> = if alias_list.trim() == "*" {
        factor_names.clone()
    } else {
        name_list(&alias_list)
    };
    let mut aliased = vec![false; factors.len()];
    for factor in &alias_names {
        let Some(f) = factor_names.iter().position(|n| n == factor) else {
            return plan_err!(
                "{name}: alias factor '{factor}' is not one of the factors ({})",
                factor_names.join(", ")
            );
        };
        aliased[f] = true;
    }
    let fields: Vec<Arc<Field>> = match output {
        Output::Runs => {
            for extra in ["run_order", "unbalance", "max_aliasing"] {
                if columns.contains(&extra) {
                    return plan_err!(
                        "{name}: table '{table}' already has a column named {extra}; rename it in a view first"
                    );
                }
            }
            let mut fields = vec![Arc::new(Field::new("run_order", DataType::Int64, false))];
            fields.extend(input_schema.fields().iter().cloned());
            fields.push(Arc::new(Field::new("unbalance", DataType::Int64, false)));
            fields.push(Arc::new(Field::new(
                "max_aliasing",
                DataType::Float64,
                false,
            )));
            fields
        }
        Output::Aliasing => ["factor_a", "level_a", "factor_b", "level_b"]
            .into_iter()
            .map(|n| Arc::new(Field::new(n, DataType::Utf8, false)))
            .chain([Arc::new(Field::new("alias", DataType::Float64, false))])
            .collect(),
    };
    let spec = DesignSpec {
        output,
        table,
        runs,
        seed,
        factors,
        aliased,
    };
    Ok(Arc::new(WholeTable::new(
        input,
        spec,
        Arc::new(Schema::new(fields)),
    )))
}

impl WholeTableTransform for DesignSpec {
    fn exec_name(&self) -> &'static str {
        "DesignExec"
    }

    fn describe(&self) -> String {
        let runs = match self.runs {
            Some(n) => n.to_string(),
            None => "all".to_string(),
        };
        format!(
            "output={:?}, table={}, runs={runs}, seed={}",
            self.output, self.table, self.seed
        )
    }

    fn transform(&self, input: &RecordBatch, full_schema: &SchemaRef) -> Result<RecordBatch> {
        design(input, self, full_schema)
    }
}

/// A factor column as level indices, with the levels' values as text, ascending by value.
struct Levels {
    of_row: Vec<usize>,
    labels: Vec<String>,
}

fn levels(spec: &DesignSpec, column: &ArrayRef, factor: &str) -> Result<Levels> {
    let name = spec.output.name();
    if column.null_count() > 0 {
        return exec_err!(
            "{name}: factor '{factor}' of table '{}' has NULL values; a level must be a value",
            spec.table
        );
    }
    let converter = RowConverter::new(vec![SortField::new(column.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(column))?;
    let mut order: Vec<usize> = (0..column.len()).collect();
    order.sort_by(|&a, &b| rows.row(a).cmp(&rows.row(b)));
    let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
    let mut of_row = vec![0; column.len()];
    let mut labels: Vec<String> = Vec::new();
    let mut previous: Option<usize> = None;
    for &i in &order {
        if previous.is_none_or(|p| rows.row(p) != rows.row(i)) {
            labels.push(formatter.value(i).to_string());
        }
        of_row[i] = labels.len() - 1;
        previous = Some(i);
    }
    if labels.len() < 2 {
        return exec_err!(
            "{name}: factor '{factor}' has a single level ({}) among the admissible runs of '{}'; a factor needs at least two levels (leave it out of the factors)",
            labels.first().map_or("", String::as_str),
            spec.table
        );
    }
    Ok(Levels { of_row, labels })
}

/// Runs Algorithm 2 over the admissible runs in `batch` and builds the output.
fn design(batch: &RecordBatch, spec: &DesignSpec, full_schema: &SchemaRef) -> Result<RecordBatch> {
    let name = spec.output.name();
    let m = batch.num_rows();
    if m == 0 {
        return exec_err!(
            "{name}: table '{}' has no rows, so no admissible runs",
            spec.table
        );
    }
    let schema = batch.schema();
    let factor_names: Vec<&str> = spec
        .factors
        .iter()
        .map(|&c| schema.field(c).name().as_str())
        .collect();
    let factors: Vec<Levels> = spec
        .factors
        .iter()
        .zip(&factor_names)
        .map(|(&c, factor)| levels(spec, batch.column(c), factor))
        .collect::<Result<_>>()?;
    // The canonical order of the runs: by factor levels, then by every column.
    let encoded = content_keys(batch)?;
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| {
        factors
            .iter()
            .map(|f| f.of_row[a].cmp(&f.of_row[b]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| match &encoded {
                Some(rows) => rows.row(a).cmp(&rows.row(b)),
                None => std::cmp::Ordering::Equal,
            })
    });
    let runs: Vec<Vec<usize>> = order
        .iter()
        .map(|&i| factors.iter().map(|f| f.of_row[i]).collect())
        .collect();
    let level_counts: Vec<usize> = factors.iter().map(|f| f.labels.len()).collect();
    let n_runs = spec.runs.unwrap_or(m);
    let result = kernels::sequential_design(&level_counts, &spec.aliased, &runs, n_runs, spec.seed)
        .or_else(|e| exec_err!("{name}: {e}"))?;
    let columns: Vec<ArrayRef> = match spec.output {
        Output::Runs => {
            let rows: Vec<u32> = result
                .steps
                .iter()
                .map(|s| u32::try_from(order[s.run]))
                .collect::<std::result::Result<_, _>>()
                .or_else(|_| exec_err!("{name}: too many admissible runs"))?;
            let indices = UInt32Array::from(rows);
            let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
                (1..=result.steps.len()).map(|k| k as i64),
            ))];
            for column in batch.columns() {
                columns.push(take(column.as_ref(), &indices, None)?);
            }
            columns.push(Arc::new(Int64Array::from_iter_values(
                result.steps.iter().map(|s| s.unbalance as i64),
            )));
            columns.push(Arc::new(Float64Array::from_iter_values(
                result.steps.iter().map(|s| s.max_aliasing),
            )));
            columns
        }
        Output::Aliasing => {
            let a = &result.aliases;
            let text = |f: &dyn Fn(&kernels::Alias) -> String| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(a.iter().map(f)))
            };
            vec![
                text(&|x| factor_names[x.factor_a].to_string()),
                text(&|x| factors[x.factor_a].labels[x.level_a].clone()),
                text(&|x| factor_names[x.factor_b].to_string()),
                text(&|x| factors[x.factor_b].labels[x.level_b].clone()),
                Arc::new(Float64Array::from_iter_values(a.iter().map(|x| x.alias))),
            ]
        }
    };
    Ok(RecordBatch::try_new(full_schema.clone(), columns)?)
}
