//! The execution of `holdout_split` in bounded memory: a split needs every row of a user, but not
//! every row of the table.
//!
//! # Why this module exists
//!
//! A per-user split cannot mark a row before it has seen all of that user's rows. Collecting the
//! whole table (as the first version did) made a 60-million-row table need its whole size in
//! memory. Here the table is sorted by (user, order hash) with DataFusion's own sort, which
//! spills sorted runs to disk when the session's memory pool is limited
//! (`SET datafusion.runtime.memory_limit = '2GiB'`), and one streaming pass then marks each
//! user's rows as soon as the user's run ends, holding one user's rows at a time.
//!
//! The plan `holdout_split` scans to:
//!
//! ```text
//! HoldoutSplitExec     sorts its input by (user, hash) in one spilling SortExec it runs itself,
//!                      then marks each user's run; output in (user, hash) order
//!   ProjectionExec     every column of the table + the order hash (in parallel per partition)
//!     <the table's scan>
//! ```
//!
//! The sort runs inside the operator, over all partitions at once, rather than as a plan node:
//! the optimizer would turn a sort of coalesced partitions into one sort per partition and a
//! merge, and two sorters and a merge sharing DataFusion's greedy memory pool can starve each
//! other (the merge of one partition's spills fails while the other partition's sorter holds the
//! rest of the pool). One sorter reserves its merge memory up front and spills everything else.
//! Its spill count and bytes are the operator's metrics (`EXPLAIN ANALYZE`).
//!
//! The marks are those of the documented rule ([`super::kernels::split_hash`],
//! [`super::kernels::test_count`]); equal hashes within a user are ordered by the rows' full
//! contents, so that the result does not depend on the input's order or partitioning, or on how
//! the sort breaks ties. The tests below check the streaming result against a direct,
//! whole-table implementation of the rule on random tables, with and without spilling.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, UInt64Array};
use datafusion::arrow::compute::{concat_batches, SortOptions};
use datafusion::arrow::datatypes::{DataType, SchemaRef, UInt64Type};
use datafusion::arrow::row::Rows;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{exec_datafusion_err, internal_err, plan_datafusion_err};
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TableType,
    Volatility,
};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr, ScalarFunctionExpr};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::EmissionType;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

use super::kernels;
use crate::model::key::Key;
use crate::model::KeyColumn;
use crate::whole_table::{content_keys, one_partition_properties};

const NAME: &str = "holdout_split";
/// The name of the order-hash column between the projection and the marking pass.
const HASH_COLUMN: &str = "__holdout_split_hash";

/// What a split needs besides the data: the ratio, the seed, and the (name, index) of the user
/// and item columns in the table.
#[derive(Debug)]
pub(super) struct SplitSpec {
    pub ratio: f64,
    pub seed: u64,
    pub user: (String, usize),
    pub item: (String, usize),
}

/// The table `holdout_split` returns: `input` with the `test` column (`schema`).
#[derive(Debug)]
pub(super) struct HoldoutSplitTable {
    input: Arc<dyn TableProvider>,
    spec: Arc<SplitSpec>,
    schema: SchemaRef,
}

impl HoldoutSplitTable {
    pub fn new(input: Arc<dyn TableProvider>, spec: SplitSpec, schema: SchemaRef) -> Self {
        Self {
            input,
            spec: Arc::new(spec),
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for HoldoutSplitTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Every column is read whatever the projection: equal hashes are ordered by the rows'
        // full contents, so that the marks do not depend on the columns a query selects.
        let input = self.input.scan(state, None, &[], None).await?;
        let input_schema = input.schema();
        let hash = ScalarUDF::new_from_impl(SplitHashUdf {
            seed: self.spec.seed,
            signature: Signature::any(2, Volatility::Immutable),
        });
        let column = |name: &str, index: usize| -> Arc<dyn PhysicalExpr> {
            Arc::new(Column::new(name, index))
        };
        let (user, item) = (&self.spec.user, &self.spec.item);
        let hash_expr = ScalarFunctionExpr::try_new(
            Arc::new(hash),
            vec![column(&user.0, user.1), column(&item.0, item.1)],
            &input_schema,
            Arc::new(state.config_options().clone()),
        )?;
        let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = input_schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| (column(f.name(), i), f.name().clone()))
            .collect();
        exprs.push((Arc::new(hash_expr), HASH_COLUMN.to_string()));
        let with_hash: Arc<dyn ExecutionPlan> = Arc::new(ProjectionExec::try_new(exprs, input)?);
        Ok(Arc::new(HoldoutSplitExec::try_new(
            with_hash,
            self.spec.clone(),
            self.schema.clone(),
            projection.cloned(),
        )?))
    }
}

/// (user, hash) ascending, NULLs first: the order in which [`HoldoutSplitExec`] reads its input.
fn split_ordering(spec: &SplitSpec, hash_index: usize) -> Result<LexOrdering> {
    let options = SortOptions {
        descending: false,
        nulls_first: true,
    };
    let user = PhysicalSortExpr::new(Arc::new(Column::new(&spec.user.0, spec.user.1)), options);
    let hash = PhysicalSortExpr::new(Arc::new(Column::new(HASH_COLUMN, hash_index)), options);
    LexOrdering::new([user, hash])
        .ok_or_else(|| plan_datafusion_err!("{NAME}: empty sort ordering"))
}

/// The order hash of (user, item) under a seed ([`kernels::split_hash`]); NULL where either id
/// is NULL. Internal to the plan of `holdout_split`, not registered as a SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SplitHashUdf {
    seed: u64,
    signature: Signature,
}

impl ScalarUDFImpl for SplitHashUdf {
    fn name(&self) -> &str {
        "holdout_split_hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [users, items] = arrays.as_slice() else {
            return internal_err!("holdout_split_hash takes two arguments");
        };
        let users = KeyColumn::try_new(users, "holdout_split: the user column")?;
        let items = KeyColumn::try_new(items, "holdout_split: the item column")?;
        let hashes: UInt64Array = (0..rows)
            .map(|row| match (users.get(row), items.get(row)) {
                (Some(user), Some(item)) => Some(kernels::split_hash(self.seed, user, item)),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(hashes)))
    }
}

/// Sorts its input (the table's columns and the hash) by (user, hash) and marks the sorted rows:
/// each user's run is marked when the next user's first row (or the end) arrives.
#[derive(Debug)]
pub(super) struct HoldoutSplitExec {
    input: Arc<dyn ExecutionPlan>,
    spec: Arc<SplitSpec>,
    /// The table's columns and `test`, before the projection.
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl HoldoutSplitExec {
    fn try_new(
        input: Arc<dyn ExecutionPlan>,
        spec: Arc<SplitSpec>,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let properties =
            one_partition_properties(&full_schema, projection.as_ref(), EmissionType::Incremental)?;
        Ok(Self {
            input,
            spec,
            full_schema,
            projection,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The index of the hash column in the input (the table's columns come first).
    fn hash_index(&self) -> usize {
        self.full_schema.fields().len() - 1
    }
}

impl DisplayAs for HoldoutSplitExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let s = &self.spec;
        write!(
            f,
            "HoldoutSplitExec: ratio={}, seed={}, user={}, item={}",
            s.ratio, s.seed, s.user.0, s.item.0
        )
    }
}

impl ExecutionPlan for HoldoutSplitExec {
    fn name(&self) -> &str {
        "HoldoutSplitExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            plan_datafusion_err!("HoldoutSplitExec takes one input, got {}", c.len())
        })?;
        Ok(Arc::new(Self::try_new(
            input,
            self.spec.clone(),
            self.full_schema.clone(),
            self.projection.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("HoldoutSplitExec has one partition, asked for {partition}");
        }
        // One sorter over every input partition (see the module docs), run here.
        let input: Arc<dyn ExecutionPlan> = if self
            .input
            .properties()
            .output_partitioning()
            .partition_count()
            > 1
        {
            Arc::new(CoalescePartitionsExec::new(self.input.clone()))
        } else {
            self.input.clone()
        };
        let sort = Arc::new(SortExec::new(
            split_ordering(&self.spec, self.hash_index())?,
            input,
        ));
        let input = sort.execute(0, context)?;
        let spills = MetricBuilder::new(&self.metrics).spill_count(0);
        let spilled_bytes = MetricBuilder::new(&self.metrics).spilled_bytes(0);
        let sorted = move || {
            if let Some(m) = sort.metrics() {
                spills.add(m.spill_count().unwrap_or(0));
                spilled_bytes.add(m.spilled_bytes().unwrap_or(0));
            }
        };
        let marker = Marker {
            spec: self.spec.clone(),
            full_schema: self.full_schema.clone(),
            projection: self.projection.clone(),
            open: Vec::new(),
            open_user: None,
        };
        // Each item: the marked rows of the runs a batch ended, then those of the last run; the
        // stream ends after the first error.
        let stream = futures::stream::unfold(Some((input, marker, sorted)), |state| async move {
            let (mut input, mut marker, sorted) = state?;
            loop {
                match input.next().await {
                    Some(Ok(batch)) => match marker.push(batch) {
                        Ok(None) => {}
                        Ok(Some(out)) => return Some((Ok(out), Some((input, marker, sorted)))),
                        Err(e) => return Some((Err(e), None)),
                    },
                    Some(Err(e)) => return Some((Err(e), None)),
                    None => {
                        sorted();
                        return marker.finish().transpose().map(|out| (out, None));
                    }
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }
}

/// The state of the marking pass: the rows of the user whose run has not ended yet.
struct Marker {
    spec: Arc<SplitSpec>,
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    /// Slices of the input (table columns + hash) holding the open run's rows.
    open: Vec<RecordBatch>,
    /// The open run's user: `None` when no run is open, `Some(None)` for the NULL users.
    open_user: Option<Option<Key>>,
}

impl Marker {
    /// Takes the next sorted batch; returns the marked rows of the runs it ended.
    fn push(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(None);
        }
        let users = KeyColumn::try_new(
            batch.column(self.spec.user.1),
            "holdout_split: the user column",
        )?;
        // The first row of the batch's last run.
        let mut last_start = n - 1;
        while last_start > 0 && users.get(last_start - 1) == users.get(last_start) {
            last_start -= 1;
        }
        let continues = self
            .open_user
            .as_ref()
            .is_some_and(|u| u.as_ref().map(Key::as_ref) == users.get(0));
        if last_start == 0 && continues {
            self.open.push(batch);
            return Ok(None);
        }
        let mut closed = std::mem::take(&mut self.open);
        if last_start > 0 {
            closed.push(batch.slice(0, last_start));
        }
        self.open_user = Some(users.get(last_start).map(Key::from));
        self.open.push(batch.slice(last_start, n - last_start));
        self.mark(&closed)
    }

    /// The marked rows of the open run, at the end of the input.
    fn finish(&mut self) -> Result<Option<RecordBatch>> {
        let closed = std::mem::take(&mut self.open);
        self.open_user = None;
        self.mark(&closed)
    }

    /// `parts` hold whole runs of users, in (user, hash) order: their rows with the `test` column,
    /// projected.
    fn mark(&self, parts: &[RecordBatch]) -> Result<Option<RecordBatch>> {
        let Some(first) = parts.first() else {
            return Ok(None);
        };
        let rows = concat_batches(&first.schema(), parts)?;
        let n = rows.num_rows();
        if n == 0 {
            return Ok(None);
        }
        let hash_index = rows.num_columns() - 1;
        let table = rows.project(&(0..hash_index).collect::<Vec<_>>())?;
        let users = KeyColumn::try_new(
            rows.column(self.spec.user.1),
            "holdout_split: the user column",
        )?;
        let hashes = rows.column(hash_index).as_primitive::<UInt64Type>();
        let mut test: Vec<Option<bool>> = vec![None; n];
        // The rows' full contents, built at the first run with equal hashes.
        let mut keys: Option<Rows> = None;
        let mut start = 0;
        while start < n {
            let user = users.get(start);
            let mut end = start + 1;
            while end < n && users.get(end) == user {
                end += 1;
            }
            if user.is_some() {
                // Rows with a NULL item (a NULL hash) belong to no user and sort first; the rest
                // are in hash order, and equal hashes are ordered by the rows' full contents.
                let mut order: Vec<usize> = (start..end).filter(|&r| hashes.is_valid(r)).collect();
                if order
                    .windows(2)
                    .any(|w| hashes.value(w[0]) == hashes.value(w[1]))
                {
                    let k = match keys.take() {
                        Some(k) => k,
                        None => content_keys(&table)?.ok_or_else(|| {
                            exec_datafusion_err!(
                                "{NAME}: no column of the table can order duplicate rows"
                            )
                        })?,
                    };
                    order.sort_by(|&a, &b| {
                        hashes
                            .value(a)
                            .cmp(&hashes.value(b))
                            .then_with(|| k.row(a).cmp(&k.row(b)))
                    });
                    keys = Some(k);
                }
                let t = kernels::test_count(order.len(), self.spec.ratio);
                for (rank, &row) in order.iter().enumerate() {
                    test[row] = Some(rank < t);
                }
            }
            start = end;
        }
        let mut columns: Vec<ArrayRef> = table.columns().to_vec();
        columns.push(Arc::new(BooleanArray::from(test)));
        let out = RecordBatch::try_new(self.full_schema.clone(), columns)?;
        Ok(Some(match &self.projection {
            Some(p) => out.project(p)?,
            None => out,
        }))
    }
}

#[cfg(test)]
mod tests;
