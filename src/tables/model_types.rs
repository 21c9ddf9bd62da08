//! `model_types()`: every model type with its options, what they expect and their defaults, one
//! row per option (what `SHOW MODEL TYPES` prints), so the list can be filtered like a table.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use trustql_udfs::model::options::expected;

use crate::registry::ModelRegistry;

/// One row per (type, option); a type without options has one row with NULL option.
pub fn model_types_batch(registry: &ModelRegistry) -> Result<RecordBatch> {
    let mut cols: [Vec<Option<String>>; 5] = Default::default();
    for t in registry.types() {
        let mut push = |o: Option<&str>, e: Option<String>, d: Option<&str>, doc: &str| {
            cols[0].push(Some(t.name().to_string()));
            cols[1].push(o.map(str::to_string));
            cols[2].push(e);
            cols[3].push(d.map(str::to_string));
            cols[4].push(Some(doc.to_string()));
        };
        if t.options().is_empty() {
            push(None, None, None, t.description());
        }
        for spec in t.options() {
            push(
                Some(spec.name),
                Some(expected(spec)),
                spec.default,
                spec.doc,
            );
        }
    }
    let [a, b, c, d, e] = cols;
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("type", DataType::Utf8, false),
            Field::new("option", DataType::Utf8, true),
            Field::new("expects", DataType::Utf8, true),
            Field::new("default", DataType::Utf8, true),
            Field::new("description", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(a)) as ArrayRef,
            Arc::new(StringArray::from(b)),
            Arc::new(StringArray::from(c)),
            Arc::new(StringArray::from(d)),
            Arc::new(StringArray::from(e)),
        ],
    )?)
}

/// The `model_types()` table function.
#[derive(Debug)]
pub struct ModelTypesFunc {
    registry: Arc<ModelRegistry>,
}

impl ModelTypesFunc {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }
}

impl TableFunctionImpl for ModelTypesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("model_types() takes no arguments");
        }
        let batch = model_types_batch(&self.registry)?;
        Ok(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?))
    }
}
