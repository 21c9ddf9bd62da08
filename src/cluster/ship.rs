//! Sends the work of a statement to the cluster: a physical optimizer rule of the client's
//! session ([`ShipToCluster`]) replaces the part of each plan that reads tables with a
//! [`ClusterExec`], which submits that part to the Ballista scheduler and streams its result back.
//!
//! The client plans every statement itself, with everything a [`crate::Session`] has (model DDL,
//! table functions, in-memory tables, `trustql.*` settings); only the finished physical plan
//! travels, encoded with DataFusion's protobuf codec. Functions travel by name, and the scheduler
//! and executors resolve them in their own registries (`super::node`).
//!
//! Which part ships:
//! - a plan (or the input of a sink: `INSERT INTO`, `COPY ... TO`, which stay on the client and
//!   write where the client sees) ships whole when it reads a table and computes something over
//!   it, its protobuf encoding succeeds, and the encoding fits the gRPC message limit;
//! - otherwise the rule looks for such parts below operators that cannot travel (trustql's
//!   table-function scans such as `holdout_split`, `read_audio`, `recommend`), where the operator
//!   asks nothing of its input's partitioning; what remains runs on the client, and the session's
//!   progress output says which operator kept it there;
//! - a `UNION` runs on the client and its inputs ship one by one (Ballista 55 loses jobs whose
//!   union inputs differ, see `unsupported_by_ballista`);
//! - constant queries (`SELECT 1`, `VALUES`) and bare scans (`SELECT * FROM t`) run on the
//!   client.
//!
//! Ballista drops round-robin repartitions (they give no stage boundary), so the parallelism of a
//! shipped plan would be that of its scans: one task for a table held in memory. The rule turns
//! each round-robin repartition into a hash repartition on the row's columns (round robin promises
//! nothing about which rows go where, so the plan means the same); the hash shuffle spreads the
//! rows over `datafusion.execution.target_partitions` tasks.

use std::fmt;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, DataFusionError, Result};
use datafusion::config::ConfigOptions;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::placeholder_row::PlaceholderRowExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::union::{InterleaveExec, UnionExec};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, Distribution, ExecutionPlan,
    ExecutionPlanProperties, Partitioning, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::TryStreamExt;
use prost::Message;

use super::job::JobRequest;
use super::ClusterOptions;

/// The client's side of a cluster: the scheduler's address and this session's id there.
#[derive(Clone)]
pub struct ClusterClient {
    options: ClusterOptions,
    session_id: String,
    notice: Option<crate::ProgressFn>,
    /// A task context with the functions every node has (DataFusion's and trustql's library),
    /// to check that a plan will decode on the cluster before sending it.
    nodes: Arc<TaskContext>,
}

impl fmt::Debug for ClusterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterClient")
            .field("scheduler", &self.options.scheduler)
            .field("session_id", &self.session_id)
            .finish()
    }
}

impl ClusterClient {
    /// The client of the cluster at `options`; `model_dir` is the client's model store (the
    /// check of what the nodes can decode builds their functions over it, and loads no model).
    pub fn new(
        options: ClusterOptions,
        model_dir: &std::path::Path,
        notice: Option<crate::ProgressFn>,
    ) -> Result<Self> {
        let nodes = super::node::NodeLibrary::new(model_dir)?
            .state(super::node::node_config())?
            .task_ctx();
        Ok(Self {
            options,
            session_id: uuid::Uuid::new_v4().to_string(),
            notice,
            nodes,
        })
    }

    /// The scheduler's gRPC address (`http://host:port`).
    pub fn scheduler(&self) -> &str {
        &self.options.scheduler
    }

    fn notify(&self, line: &str) {
        if let Some(n) = &self.notice {
            n(line);
        }
    }
}

/// The physical optimizer rule that ships plans to the cluster (see the module docs). It runs
/// after all of DataFusion's rules.
#[derive(Debug)]
pub struct ShipToCluster {
    client: Arc<ClusterClient>,
}

impl ShipToCluster {
    pub fn new(client: ClusterClient) -> Self {
        Self {
            client: Arc::new(client),
        }
    }
}

impl PhysicalOptimizerRule for ShipToCluster {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let limit = config
            .extensions
            .get::<ballista_core::config::BallistaConfig>()
            .cloned()
            .unwrap_or_default()
            .grpc_client_max_message_size();
        let mut kept = Vec::new();
        let plan = ship(plan, &self.client, limit, &mut kept)?;
        if !kept.is_empty() {
            kept.dedup();
            self.client
                .notify(&format!("runs on the client: {}", kept.join("; ")));
        }
        Ok(plan)
    }

    fn name(&self) -> &str {
        "ship_to_cluster"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with its largest parts that can travel replaced by [`ClusterExec`]s; the reasons the
/// rest stays on the client go to `kept`.
fn ship(
    plan: Arc<dyn ExecutionPlan>,
    client: &Arc<ClusterClient>,
    limit: usize,
    kept: &mut Vec<String>,
) -> Result<Arc<dyn ExecutionPlan>> {
    // A part already sent (a table function plans its input through the session, and so
    // through this rule, before the plan around it is).
    if plan.is::<ClusterExec>() {
        return Ok(plan);
    }
    if !plan.is::<DataSinkExec>() && computes_over_a_table(&plan) {
        match shippable(&plan, &client.nodes, limit)? {
            Ok((candidate, encoded)) => {
                return Ok(Arc::new(ClusterExec::new(
                    candidate,
                    client.clone(),
                    Some(encoded),
                )))
            }
            Err(reason) => kept.push(reason),
        }
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
    if children.is_empty() {
        return Ok(plan);
    }
    let required = plan.input_distribution_requirements();
    let mut changed = false;
    let mut new_children = Vec::with_capacity(children.len());
    for (i, child) in children.iter().enumerate() {
        // A shipped part returns one partition: only where the operator above asks nothing of
        // its input's partitioning.
        let free = matches!(
            required.child_distribution(i),
            None | Some(Distribution::UnspecifiedDistribution)
                | Some(Distribution::SinglePartition)
        );
        let new_child = if free {
            ship(child.clone(), client, limit, kept)?
        } else {
            child.clone()
        };
        changed |= !Arc::ptr_eq(&new_child, child);
        new_children.push(new_child);
    }
    if !changed {
        return Ok(plan);
    }
    let before = plan.output_partitioning().partition_count();
    let rebuilt = plan.clone().replace_children(
        new_children,
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?;
    // The operators above saw `before` partitions; they keep seeing that many, or nothing ships.
    if rebuilt.output_partitioning().partition_count() == before {
        Ok(rebuilt)
    } else {
        Ok(plan)
    }
}

/// Whether `plan` reads a table (has a leaf that produces rows: a file or memory scan, a table
/// function's scan) and does something more than read it.
fn computes_over_a_table(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if plan.children().is_empty() {
        return false;
    }
    let mut reads = false;
    let _ = plan.apply(|node| {
        if node.children().is_empty() && !node.is::<PlaceholderRowExec>() && !node.is::<EmptyExec>()
        {
            reads = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    reads
}

/// The plan to submit for `plan` (one output partition, round-robin repartitions made hash
/// ones), or why it cannot travel.
fn shippable(
    plan: &Arc<dyn ExecutionPlan>,
    nodes: &TaskContext,
    limit: usize,
) -> Result<Shippable> {
    if let Some(reason) = unsupported_by_ballista(plan) {
        return Ok(Err(reason));
    }
    let candidate = one_partition(hash_round_robin(plan.clone())?);
    let codec = ballista_core::serde::BallistaPhysicalExtensionCodec::default();
    let encoded = match PhysicalPlanNode::try_from_physical_plan(candidate.clone(), &codec) {
        Ok(node) => node,
        Err(e) => return Ok(Err(unencodable(&candidate, &e))),
    };
    // The scheduler decodes the plan against its own functions: one the nodes lack (a function
    // of a library added with `Session::extend`, or an internal one) would fail there.
    if let Err(e) = encoded.try_into_physical_plan(nodes, &codec) {
        let first_line = e.to_string();
        let first_line = first_line.lines().next().unwrap_or_default().to_string();
        return Ok(Err(format!(
            "{}: the cluster's nodes cannot read it ({first_line})",
            plan.name()
        )));
    }
    let bytes = encoded.encode_to_vec();
    let size = bytes.len();
    if size > limit {
        return Ok(Err(format!(
            "{}: {size} bytes encoded, over the {limit}-byte gRPC message limit \
             (a table held in memory travels inside the plan: write it to Parquet on storage \
             every node reads, or raise ballista.grpc_client_max_message_size on every node)",
            plan.name()
        )));
    }
    Ok(Ok((candidate, bytes)))
}

/// A plan the cluster can run with its encoding, or why it stays on the client.
type Shippable = std::result::Result<(Arc<dyn ExecutionPlan>, Vec<u8>), String>;

/// Why Ballista 55 cannot run `plan` although it encodes, if it cannot.
///
/// A union whose inputs are different plans makes its stage's tasks report metrics of different
/// shapes; the scheduler then fails to record their status and the job never ends (seen with
/// `SELECT x FROM t UNION ALL SELECT 7`). The inputs of a union ship one by one instead.
fn unsupported_by_ballista(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    let mut found = None;
    let _ = plan.apply(|node| {
        if node.is::<UnionExec>() || node.is::<InterleaveExec>() {
            found = Some(format!(
                "{}: a UNION, which Ballista 55 cannot run (its inputs go to the cluster one \
                 by one)",
                node.name()
            ));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Names the operator that has no protobuf encoding (the first one found without a children
/// that fail too), for the notice.
fn unencodable(plan: &Arc<dyn ExecutionPlan>, error: &DataFusionError) -> String {
    let codec = ballista_core::serde::BallistaPhysicalExtensionCodec::default();
    let mut culprit = plan.clone();
    loop {
        let failing = culprit
            .children()
            .into_iter()
            .find(|c| PhysicalPlanNode::try_from_physical_plan(Arc::clone(c), &codec).is_err());
        match failing {
            Some(c) => culprit = c.clone(),
            None => break,
        }
    }
    let first_line = error.to_string();
    let first_line = first_line.lines().next().unwrap_or_default().to_string();
    format!("{}: no protobuf encoding ({first_line})", culprit.name())
}

/// One output partition: a sort-preserving merge where the plan's partitions are ordered, a
/// coalesce otherwise.
fn one_partition(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if plan.output_partitioning().partition_count() <= 1 {
        return plan;
    }
    match plan.output_ordering() {
        Some(ordering) => Arc::new(SortPreservingMergeExec::new(ordering.clone(), plan)),
        None => Arc::new(CoalescePartitionsExec::new(plan)),
    }
}

/// `plan` with every round-robin repartition replaced by a hash repartition over the columns
/// whose type can be hashed (see the module docs). One with no such column, or that keeps order,
/// is left as it is (Ballista then runs it with the parallelism of its input).
fn hash_round_robin(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(repartition) = node.downcast_ref::<RepartitionExec>() else {
            return Ok(Transformed::no(node));
        };
        let Partitioning::RoundRobinBatch(n) = repartition.partitioning() else {
            return Ok(Transformed::no(node));
        };
        if repartition.preserve_order() {
            return Ok(Transformed::no(node));
        }
        let input = repartition.input().clone();
        let keys = hash_keys(&input.schema());
        if keys.is_empty() {
            return Ok(Transformed::no(node));
        }
        let hashed = RepartitionExec::try_new(input, Partitioning::Hash(keys, *n))?;
        Ok(Transformed::yes(Arc::new(hashed) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}

/// The columns of `schema` with a plain hashable type.
fn hash_keys(schema: &SchemaRef) -> Vec<Arc<dyn PhysicalExpr>> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let t = f.data_type();
            t.is_primitive()
                || matches!(
                    t,
                    DataType::Boolean
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Binary
                        | DataType::LargeBinary
                )
        })
        .map(|(i, f)| Arc::new(Column::new(f.name(), i)) as Arc<dyn PhysicalExpr>)
        .collect()
}

/// Runs its input on the cluster: submits the physical plan to the scheduler and streams the
/// job's result back (one partition).
#[derive(Debug)]
pub struct ClusterExec {
    input: Arc<dyn ExecutionPlan>,
    client: Arc<ClusterClient>,
    properties: Arc<PlanProperties>,
    /// `input` encoded, when the rule that made this node encoded it already (to check it).
    encoded: Option<Arc<Vec<u8>>>,
}

impl ClusterExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        client: Arc<ClusterClient>,
        encoded: Option<Vec<u8>>,
    ) -> Self {
        let input_properties = input.properties();
        let eq: EquivalenceProperties = input_properties.equivalence_properties().clone();
        let properties = PlanProperties::new(
            eq,
            Partitioning::UnknownPartitioning(1),
            input_properties.emission_type,
            input_properties.boundedness,
        );
        Self {
            input,
            client,
            properties: Arc::new(properties),
            encoded: encoded.map(Arc::new),
        }
    }
}

impl DisplayAs for ClusterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ClusterExec: scheduler={}", self.client.scheduler())
    }
}

impl ExecutionPlan for ClusterExec {
    fn name(&self) -> &str {
        "ClusterExec"
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

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Plan(format!("ClusterExec takes one input, got {}", c.len()))
        })?;
        Ok(Arc::new(Self::new(input, self.client.clone(), None)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("ClusterExec has one partition, asked for {partition}");
        }
        // The session's settings travel with the plan: `trustql.*` among them (every node's
        // config carries the trustql options, see `super::node`).
        let config = context.session_config().clone().upgrade_for_ballista();
        let ballista = config.ballista_config();
        let plan = match &self.encoded {
            Some(bytes) => bytes.as_ref().clone(),
            None => {
                let codec = ballista_core::serde::BallistaPhysicalExtensionCodec::default();
                PhysicalPlanNode::try_from_physical_plan(self.input.clone(), &codec)?
                    .encode_to_vec()
            }
        };
        let request = JobRequest {
            scheduler: self.client.options.scheduler.clone(),
            shown: self.client.options.shown.clone(),
            session_id: self.client.session_id.clone(),
            plan,
            config,
            ballista,
            notice: self.client.notice.clone(),
        };
        let stream = futures::stream::once(super::job::run(request)).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            stream,
        )))
    }
}
