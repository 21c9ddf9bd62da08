//! `model_info(name)`: one model's properties, options and training facts as (property, value)
//! rows (what `DESCRIBE MODEL name` prints).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::MemTable;
use datafusion::error::Result;

use super::string_arg;
use crate::registry::ModelRegistry;

/// The description of model `name` as a batch of (property, value).
pub fn model_info_batch(registry: &ModelRegistry, name: &str) -> Result<RecordBatch> {
    let (header, loaded) = registry.load(name)?;
    let mut rows: Vec<(String, String)> = vec![
        ("name".into(), header.name.clone()),
        ("type".into(), header.model_type.clone()),
        (
            "created (unix seconds)".into(),
            header.created_unix.to_string(),
        ),
        ("trustql version".into(), header.trustql_version.clone()),
        (
            "file format".into(),
            crate::store::FORMAT_VERSION.to_string(),
        ),
        ("payload bytes".into(), header.payload_len.to_string()),
    ];
    rows.extend(
        header
            .options
            .iter()
            .map(|(k, v)| (format!("option {k}"), v.to_string())),
    );
    rows.extend(
        header
            .training
            .iter()
            .map(|(k, v)| (format!("training: {k}"), v.clone())),
    );
    rows.extend(loaded.model.describe());
    let (props, values): (Vec<String>, Vec<String>) = rows.into_iter().unzip();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("property", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from(props)) as ArrayRef,
            Arc::new(StringArray::from(values)),
        ],
    )?)
}

/// The `model_info(name)` table function.
#[derive(Debug)]
pub struct ModelInfoFunc {
    registry: Arc<ModelRegistry>,
}

impl ModelInfoFunc {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }
}

impl TableFunctionImpl for ModelInfoFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if args.exprs().len() != 1 {
            return plan_err!("model_info(name) takes one argument, the model name");
        }
        let name = string_arg("model_info", args.exprs(), 0, "the model name")?;
        let batch = model_info_batch(&self.registry, &name)?;
        Ok(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?))
    }
}
