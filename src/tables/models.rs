//! `models()`: the models of the model store, one row each (what `SHOW MODELS` prints).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::plan_err;
use datafusion::datasource::MemTable;
use datafusion::error::Result;

use crate::registry::ModelRegistry;

/// The listing as a batch (name, type, created, options, path), and the store files that could
/// not be read.
pub fn models_batch(registry: &ModelRegistry) -> Result<(RecordBatch, Vec<String>)> {
    let (models, problems) = registry.list()?;
    let options: Vec<String> = models
        .iter()
        .map(|(h, _)| {
            h.options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let tz: Arc<str> = Arc::from("UTC");
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new(
                "created",
                DataType::Timestamp(TimeUnit::Second, Some(tz.clone())),
                false,
            ),
            Field::new("options", DataType::Utf8, false),
            Field::new("path", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|(h, _)| h.name.as_str()),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|(h, _)| h.model_type.as_str()),
            )),
            Arc::new(
                TimestampSecondArray::from_iter_values(
                    models.iter().map(|(h, _)| h.created_unix as i64),
                )
                .with_timezone(tz),
            ),
            Arc::new(StringArray::from(options)),
            Arc::new(StringArray::from_iter_values(
                models.iter().map(|(_, p)| p.display().to_string()),
            )),
        ],
    )?;
    Ok((batch, problems))
}

/// The `models()` table function.
#[derive(Debug)]
pub struct ModelsFunc {
    registry: Arc<ModelRegistry>,
}

impl ModelsFunc {
    pub fn new(registry: Arc<ModelRegistry>) -> Self {
        Self { registry }
    }
}

impl TableFunctionImpl for ModelsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        if !args.exprs().is_empty() {
            return plan_err!("models() takes no arguments");
        }
        let (batch, _) = models_batch(&self.registry)?;
        Ok(Arc::new(MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?))
    }
}
