//! `factors(model, 'user' | 'item' | 'tag')`: a model's latent factors as a table (id, factors).
//!
//! It exists so that embeddings learnt by a recommender can be inspected, joined and compared in
//! SQL (nearest neighbours, t-SNE maps) like any other column.

use std::sync::Arc;

use datafusion::arrow::array::{Float32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion_macros::user_doc;

use datafusion::arrow::array::{Array, FixedSizeListArray};

use super::recommend::key_array;
use super::recommender::Entity;
use super::recommender::Recommender;
use super::recommender_model;
use crate::model::ModelCatalog;

/// The documentation of `factors` (table functions have no documentation hook in DataFusion).
#[user_doc(
    doc_section(label = "Recommender Functions"),
    description = "The latent factors of a recommender model as a table: one row per user, item \
or tag id with its factor vector (a fixed-size list of floats). iNN: user factors Q = R Û, item \
factors Û, tag factors V Σ⁻¹; uNN: Ûᵁ, Ûᵁᵀ R (per item), Vᵁ Σᵁ⁻¹; FM: the pairwise-interaction \
vectors; NCF: user, item and tag embeddings; WRMF: user and item factors. MostPop and Random \
have none (an error).",
    syntax_example = "factors(model, 'user' | 'item' | 'tag')",
    sql_example = r#"```sql
> CREATE MODEL w2 OPTIONS (type = 'wrmf', dim = 2, iterations = 3)
  AS SELECT * FROM (VALUES (1, 10), (2, 10), (2, 20)) AS t("user", item);
> SELECT item, array_length(factors) AS dim FROM factors('w2', 'item') ORDER BY item;
+------+-----+
| item | dim |
+------+-----+
| 10   | 2   |
| 20   | 2   |
+------+-----+
```"#,
    argument(
        name = "model",
        description = "Name of a recommender model (a string literal)."
    ),
    argument(
        name = "entity",
        description = "'user', 'item' or 'tag' (a string literal)."
    )
)]
#[derive(Debug, Default)]
pub struct FactorsDoc;

impl FactorsDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The `factors` table function.
#[derive(Debug)]
pub struct FactorsFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl FactorsFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

fn text_arg(args: &[Expr], i: usize, what: &str) -> Result<String> {
    match args.get(i) {
        Some(Expr::Literal(ScalarValue::Utf8(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::Utf8View(Some(s)), _))
        | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)) => Ok(s.clone()),
        _ => plan_err!("factors(model, 'user' | 'item' | 'tag'): {what} must be a string literal"),
    }
}

impl TableFunctionImpl for FactorsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() != 2 {
            return plan_err!(
                "factors(model, 'user' | 'item' | 'tag') takes 2 arguments, got {}",
                exprs.len()
            );
        }
        let name = text_arg(exprs, 0, "the model")?;
        let which = text_arg(exprs, 1, "the entity")?.to_lowercase();
        let model = recommender_model(self.catalog.as_ref(), &name, "factors")?;
        let Some(rec) = model.model.capability::<dyn Recommender>() else {
            return plan_err!("model '{name}' is not a recommender");
        };
        let all = rec.factors();
        if all.is_empty() {
            return plan_err!(
                "model '{name}' (type '{}') has no latent factors",
                model.model_type
            );
        }
        let Some(f) = all.iter().find(|f| f.entity.name() == which) else {
            let have: Vec<&str> = all.iter().map(|f| f.entity.name()).collect();
            return plan_err!(
                "model '{name}' has no '{which}' factors; it has: {}",
                have.join(", ")
            );
        };
        let data = rec.data();
        let index = match f.entity {
            Entity::User => &data.users,
            Entity::Item => &data.items,
            Entity::Tag => &data.tags,
        };
        let rows: Vec<u32> = (0..index.len() as u32).collect();
        let ids = key_array(index, &rows);
        let values = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float32, false)),
            f.k as i32,
            Arc::new(Float32Array::from(f.values.clone())),
            None,
        )?;
        let schema = Arc::new(Schema::new(vec![
            Field::new(f.entity.name(), ids.data_type().clone(), false),
            Field::new("factors", values.data_type().clone(), false),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![ids, Arc::new(values)])?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
