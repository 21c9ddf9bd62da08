//! Table functions that read a whole table and return it transformed, in one partition.
//!
//! `sequential_design` (each chosen run depends on every admissible run), `tsne` and
//! `gam_predict` cannot work a batch at a time: they collect their input, transform it at once
//! on DataFusion's blocking pool, and stream the result back in batches of the session's size.
//! This module is that mechanism, written once; a function supplies only the transformation
//! ([`WholeTableTransform`]).
//!
//! Every input column is read whatever the projection, so that a result ordered by the rows' full
//! contents does not depend on the columns a query selects; the projection is applied to the
//! result.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{exec_datafusion_err, internal_err, plan_datafusion_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    execute_stream, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

/// What a whole-table function does to its input.
pub trait WholeTableTransform: fmt::Debug + Send + Sync + 'static {
    /// The execution plan's name in `EXPLAIN` (e.g. `HoldoutSplitExec`).
    fn exec_name(&self) -> &'static str;
    /// The parameters shown after the name in `EXPLAIN`.
    fn describe(&self) -> String;
    /// The result, every column of `full_schema`, from the whole input in one batch.
    fn transform(&self, input: &RecordBatch, full_schema: &SchemaRef) -> Result<RecordBatch>;
}

/// The table a whole-table function returns: `input` transformed by `transform`, with the
/// columns of `schema`.
#[derive(Debug)]
pub struct WholeTable<T> {
    input: Arc<dyn TableProvider>,
    transform: Arc<T>,
    schema: SchemaRef,
}

impl<T: WholeTableTransform> WholeTable<T> {
    pub fn new(input: Arc<dyn TableProvider>, transform: T, schema: SchemaRef) -> Self {
        Self {
            input,
            transform: Arc::new(transform),
            schema,
        }
    }
}

#[async_trait]
impl<T: WholeTableTransform> TableProvider for WholeTable<T> {
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
        let input = self.input.scan(state, None, &[], None).await?;
        Ok(Arc::new(WholeTableExec::try_new(
            input,
            self.transform.clone(),
            self.schema.clone(),
            projection.cloned(),
        )?))
    }
}

/// Reads its whole input, transforms it, and emits the result (one output partition).
#[derive(Debug)]
pub struct WholeTableExec<T> {
    input: Arc<dyn ExecutionPlan>,
    transform: Arc<T>,
    /// The output columns before the projection.
    full_schema: SchemaRef,
    projection: Option<Vec<usize>>,
    properties: Arc<PlanProperties>,
}

impl<T: WholeTableTransform> WholeTableExec<T> {
    fn try_new(
        input: Arc<dyn ExecutionPlan>,
        transform: Arc<T>,
        full_schema: SchemaRef,
        projection: Option<Vec<usize>>,
    ) -> Result<Self> {
        let properties =
            one_partition_properties(&full_schema, projection.as_ref(), EmissionType::Final)?;
        Ok(Self {
            input,
            transform,
            full_schema,
            projection,
            properties,
        })
    }
}

impl<T: WholeTableTransform> DisplayAs for WholeTableExec<T> {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.transform.exec_name(),
            self.transform.describe()
        )
    }
}

impl<T: WholeTableTransform> ExecutionPlan for WholeTableExec<T> {
    fn name(&self) -> &str {
        self.transform.exec_name()
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

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let name = self.transform.exec_name();
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|c| plan_datafusion_err!("{name} takes one input, got {}", c.len()))?;
        Ok(Arc::new(Self::try_new(
            input,
            self.transform.clone(),
            self.full_schema.clone(),
            self.projection.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let name = self.transform.exec_name();
        if partition != 0 {
            return internal_err!("{name} has one partition, asked for {partition}");
        }
        // Reads every input partition (coalesced).
        let input = execute_stream(self.input.clone(), context.clone())?;
        let input_schema = self.input.schema();
        let transform = self.transform.clone();
        let full_schema = self.full_schema.clone();
        let projection = self.projection.clone();
        let batch_size = context.session_config().batch_size().max(1);
        let batches = async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let batch = concat_batches(&input_schema, &batches)?;
            drop(batches);
            // The transformation is CPU work: keep it off the runtime's worker threads.
            let out = datafusion::common::runtime::SpawnedTask::spawn_blocking(move || {
                transform.transform(&batch, &full_schema)
            })
            .join()
            .await
            .map_err(|e| exec_datafusion_err!("{name}: {e}"))??;
            let out = match &projection {
                Some(p) => out.project(p)?,
                None => out,
            };
            let chunks: Vec<Result<RecordBatch>> = (0..out.num_rows())
                .step_by(batch_size)
                .map(|start| Ok(out.slice(start, batch_size.min(out.num_rows() - start))))
                .collect();
            Ok::<_, DataFusionError>(futures::stream::iter(chunks))
        };
        let stream = futures::stream::once(batches).try_flatten().boxed();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }
}

/// The properties of a bounded operator with one output partition and the columns of
/// `full_schema` picked by `projection` (all when `None`), as the table functions that see every
/// row before they finish (this module's, `holdout_split`'s) have.
pub(crate) fn one_partition_properties(
    full_schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
    emission: EmissionType,
) -> Result<Arc<PlanProperties>> {
    let schema = match projection {
        Some(p) => Arc::new(full_schema.project(p)?),
        None => full_schema.clone(),
    };
    Ok(Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(1),
        emission,
        Boundedness::Bounded,
    )))
}

/// The rows of `batches` (numbered 0.. across them) in an order of the contents of the columns
/// at `indices` ([`content_keys`]); rows with equal contents keep their relative order.
pub(crate) fn content_order(
    batches: &[datafusion::arrow::array::RecordBatch],
    indices: &[usize],
) -> Result<Vec<usize>> {
    let parts = batches
        .iter()
        .map(|b| b.project(indices))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let Some(first) = parts.first() else {
        return Ok(Vec::new());
    };
    let batch = datafusion::arrow::compute::concat_batches(&first.schema(), &parts)?;
    let mut order: Vec<usize> = (0..batch.num_rows()).collect();
    if let Some(keys) = content_keys(&batch)? {
        order.sort_by(|&a, &b| keys.row(a).cmp(&keys.row(b)));
    }
    Ok(order)
}

/// The rows of `batch` in a comparable form built from every column the row format supports,
/// so that whole-table functions can order rows by their full contents (and not depend on the
/// input order); `None` when no column is supported.
pub(crate) fn content_keys(batch: &RecordBatch) -> Result<Option<datafusion::arrow::row::Rows>> {
    use datafusion::arrow::array::ArrayRef;
    use datafusion::arrow::row::{RowConverter, SortField};
    let (fields, columns): (Vec<SortField>, Vec<ArrayRef>) = batch
        .columns()
        .iter()
        .map(|c| (SortField::new(c.data_type().clone()), c.clone()))
        .filter(|(f, _)| RowConverter::supports_fields(std::slice::from_ref(f)))
        .unzip();
    if columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(RowConverter::new(fields)?.convert_columns(&columns)?))
}
