//! Table-function calls that DataFusion can tell apart.
//!
//! This module exists because of how DataFusion 55 plans a table function: the SQL planner names
//! the scan of every call `f()`, whatever its arguments, and a logical `TableScan` compares equal
//! to another by name, projection and filters, never by the provider behind it. Two calls of one
//! function with different arguments in one query are then the same plan to the optimizer, which
//! may compute one and reuse it for the other: `(SELECT count(*) FROM read_audio('a/*.wav'))`
//! and `(SELECT count(*) FROM read_audio('b/*.wav'))` in one statement gave the same count, and
//! `x = y` over such subqueries simplified to true.
//!
//! [`named_calls`] wraps a table function so that each call's provider inlines (through
//! [`TableProvider::get_logical_plan`], which DataFusion's plan builder honours) into a scan
//! named after the call itself, arguments included: `read_audio(Utf8("a/*.wav"))`. Calls with
//! different arguments are different plans; identical calls are still one, which is right for
//! functions that depend only on their arguments. Column references keep working because the
//! builder aliases the inlined plan back to `f()`.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::provider_as_source;
use datafusion::error::Result;
use datafusion::logical_expr::{
    Expr, LogicalPlan, TableProviderFilterPushDown, TableScanBuilder, TableType,
};
use datafusion::physical_plan::ExecutionPlan;

/// `function` (registered as `name`) with each call's scan named by the call.
pub fn named_calls(name: &str, function: Arc<dyn TableFunctionImpl>) -> Arc<dyn TableFunctionImpl> {
    Arc::new(NamedCalls {
        name: name.to_string(),
        function,
    })
}

#[derive(Debug)]
struct NamedCalls {
    name: String,
    function: Arc<dyn TableFunctionImpl>,
}

/// The name of a call's scan: the function's name and its arguments as DataFusion prints them.
fn call_name(name: &str, args: &[Expr]) -> String {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    format!("{name}({})", args.join(", "))
}

impl TableFunctionImpl for NamedCalls {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = call_name(&self.name, args.exprs());
        let provider = self.function.call_with_args(args)?;
        let plan = LogicalPlan::TableScan(
            TableScanBuilder::new(name, provider_as_source(provider.clone())).build()?,
        );
        Ok(Arc::new(CallScan { provider, plan }))
    }
}

/// One call's table: the function's own provider, planned as a scan named by the call.
#[derive(Debug)]
struct CallScan {
    provider: Arc<dyn TableProvider>,
    plan: LogicalPlan,
}

#[async_trait]
impl TableProvider for CallScan {
    fn schema(&self) -> SchemaRef {
        self.provider.schema()
    }

    fn table_type(&self) -> TableType {
        self.provider.table_type()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        Some(Cow::Borrowed(&self.plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.provider.supports_filters_pushdown(filters)
    }

    /// Reached only if a planner scans this table without inlining its plan.
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.provider.scan(state, projection, filters, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::ScalarValue;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    /// `numbers(n)`: the table 1..=n, as a plain (unwrapped) table function.
    #[derive(Debug)]
    struct Numbers;

    impl TableFunctionImpl for Numbers {
        fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
            let n = match args.exprs().first() {
                Some(Expr::Literal(ScalarValue::Int64(Some(n)), _)) => *n,
                _ => return datafusion::common::plan_err!("numbers(n) takes an integer"),
            };
            let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(1..=n))],
            )?;
            Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
        }
    }

    async fn counts(ctx: &SessionContext, sql: &str) -> Vec<i64> {
        let batches = ctx
            .sql(sql)
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let mut out = Vec::new();
        for b in &batches {
            for c in b.columns() {
                let c = c
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("an integer column");
                out.extend(c.values().iter().copied());
            }
        }
        out
    }

    const TWO_CALLS: &str =
        "SELECT (SELECT count(*) FROM numbers(2)) AS a, (SELECT count(*) FROM numbers(5)) AS b";

    /// The failure this module exists for, shown on DataFusion's own planning: unwrapped, the
    /// second call of scalar subqueries is answered with the first call's table, while joins and
    /// unions of two calls were right (each scan is planned from its own provider). Should a
    /// DataFusion upgrade fix the first, this test says so.
    #[tokio::test]
    async fn unwrapped_calls_are_confused() {
        let ctx = SessionContext::new();
        ctx.register_udtf("numbers", Arc::new(Numbers));
        assert_eq!(counts(&ctx, TWO_CALLS).await, vec![2, 2]);
        assert_eq!(
            counts(
                &ctx,
                "SELECT count(*) FROM numbers(4) a CROSS JOIN numbers(3) b"
            )
            .await,
            vec![12]
        );
        assert_eq!(
            counts(
                &ctx,
                "SELECT sum(v) FROM numbers(3) UNION ALL SELECT sum(v) FROM numbers(4)"
            )
            .await
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
            [6, 10].into()
        );
    }

    #[tokio::test]
    async fn named_calls_are_told_apart() {
        let ctx = SessionContext::new();
        ctx.register_udtf("numbers", named_calls("numbers", Arc::new(Numbers)));
        assert_eq!(counts(&ctx, TWO_CALLS).await, vec![2, 5]);
        // Columns are still reached, bare and through aliases, and
        // filters and joins still work.
        assert_eq!(
            counts(
                &ctx,
                "SELECT count(*) FROM numbers(4) a JOIN numbers(3) t ON a.v = t.v WHERE t.v > 1"
            )
            .await,
            vec![2]
        );
        assert_eq!(
            counts(&ctx, "SELECT sum(v) FROM numbers(3) UNION ALL SELECT sum(numbers.v) FROM numbers(4) numbers")
                .await
                .into_iter()
                .collect::<std::collections::BTreeSet<_>>(),
            [6, 10].into()
        );
    }

    #[test]
    fn the_scan_is_named_by_the_call() {
        let args = [
            Expr::Literal(ScalarValue::Utf8(Some("a/*.wav".into())), None),
            Expr::Literal(ScalarValue::Int64(Some(3)), None),
        ];
        assert_eq!(
            call_name("read_audio", &args),
            "read_audio(Utf8(\"a/*.wav\"), Int64(3))"
        );
    }
}
