//! The data every recommender keeps: its ids, the interaction matrix R and the item-tag matrix T.
//!
//! It exists because every model type needs the same things from the rows of `CREATE MODEL ... AS`
//! and from its `tags` table: dense indices for user, item and tag ids of any integer or text
//! type, R (users × items, to exclude already-seen items from recommendations and to give
//! explainers a user's history) and T (items × tags, the tag vector T_i of each item). Reading
//! those rows, with their NULL and error rules, is written once here.
//!
//! Rules: rows with a NULL user, item or value are dropped and counted; repeated (user, item)
//! pairs are summed; a missing `value` column means every interaction counts 1; values must be
//! finite and non-negative. Tag rows whose item is not in the interactions are not used (counted),
//! because an item without interactions cannot be recommended to anybody; `score_tags` scores such
//! items from their tags instead. Rows are read in an order of their contents, so a model does
//! not depend on the order in which DataFusion delivers them.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float32Type};
use datafusion::common::{exec_datafusion_err, exec_err, plan_datafusion_err, plan_err};
use datafusion::error::Result;
use serde::{Deserialize, Serialize};

use super::kernels::sparse::Csr;
use crate::model::{KeyColumn, KeyIndex, KeyKind, TaskControl, TrainingData};

/// The (batch, row) positions of `batches` in an order of the contents of the named columns
/// that exist ([`crate::whole_table::content_order`]).
fn content_order(batches: &[RecordBatch], columns: &[&str]) -> Result<Vec<(usize, usize)>> {
    let positions: Vec<(usize, usize)> = batches
        .iter()
        .enumerate()
        .flat_map(|(b, batch)| (0..batch.num_rows()).map(move |r| (b, r)))
        .collect();
    let Some(first) = batches.first() else {
        return Ok(positions);
    };
    let schema = first.schema();
    let indices: Vec<usize> = columns
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    let order = crate::whole_table::content_order(batches, &indices)?;
    Ok(order.into_iter().map(|k| positions[k]).collect())
}

/// Ids, interactions and tags of a trained recommender.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecData {
    pub users: KeyIndex,
    pub items: KeyIndex,
    /// Tag ids; empty when the model was trained without a `tags` table.
    pub tags: KeyIndex,
    /// Interactions, users × items (the `value` column, summed over repeated pairs).
    pub r: Csr,
    /// Tag weights, items × tags.
    pub t: Csr,
}

/// Whether a model type needs the `tags` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tags {
    Required,
    Optional,
}

fn numeric(array: &ArrayRef, what: &str) -> Result<ArrayRef> {
    let t = array.data_type();
    if !(t.is_numeric() || t == &DataType::Null) {
        return plan_err!("{what} must be numeric, got {t}");
    }
    Ok(cast(array, &DataType::Float32)?)
}

fn optional_column(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    batch
        .schema()
        .index_of(name)
        .ok()
        .map(|i| batch.column(i).clone())
}

fn required_column(
    model_type: &str,
    batch: &RecordBatch,
    name: &str,
    table: &str,
) -> Result<ArrayRef> {
    optional_column(batch, name).ok_or_else(|| {
        let have: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name()))
            .collect();
        plan_datafusion_err!(
            "model type '{model_type}' needs a column named \"{name}\" in {table}; it has {}",
            have.join(", ")
        )
    })
}

/// Triplets read from batches: (row key index, column key index, value).
struct Triplets {
    rows: Vec<u32>,
    cols: Vec<u32>,
    vals: Vec<f32>,
    dropped: usize,
}

impl RecData {
    /// Reads the `AS` query's `user`, `item` and optional `value` columns and, when given, the
    /// `tags` table's `item`, `tag` and optional `weight` columns. Returns the data and facts for
    /// the model file.
    pub fn from_training(
        model_type: &str,
        data: &TrainingData,
        tags: Tags,
        control: &TaskControl<'_>,
    ) -> Result<(RecData, BTreeMap<String, String>)> {
        data.column(model_type, "user")?;
        data.column(model_type, "item")?;
        if data.num_rows() == 0 {
            return plan_err!(
                "model type '{model_type}': the AS query returned no rows; there is nothing to train on"
            );
        }
        let mut users: Option<KeyIndex> = None;
        let mut items: Option<KeyIndex> = None;
        let mut tr = Triplets {
            rows: Vec::new(),
            cols: Vec::new(),
            vals: Vec::new(),
            dropped: 0,
        };
        // Rows are read in an order of their contents, so that ids get the same indices (and
        // repeated pairs are summed in the same order) however DataFusion delivered the rows:
        // a model depends on the AS query's rows, not on partitions or threads.
        let mut columns = Vec::with_capacity(data.batches.len());
        for batch in &data.batches {
            let u = KeyColumn::try_new(
                &required_column(model_type, batch, "user", "the AS query")?,
                "column \"user\"",
            )?;
            let i = KeyColumn::try_new(
                &required_column(model_type, batch, "item", "the AS query")?,
                "column \"item\"",
            )?;
            let v = optional_column(batch, "value")
                .map(|a| numeric(&a, "column \"value\""))
                .transpose()?;
            columns.push((u, i, v));
        }
        for (n, (b, row)) in content_order(&data.batches, &["user", "item", "value"])?
            .into_iter()
            .enumerate()
        {
            if n % 65_536 == 0 {
                control.check_cancelled()?;
            }
            let (u, i, v) = &columns[b];
            let users = users.get_or_insert_with(|| KeyIndex::new(u.kind()));
            let items = items.get_or_insert_with(|| KeyIndex::new(i.kind()));
            let v = v.as_ref().map(|a| a.as_primitive::<Float32Type>());
            let (Some(uk), Some(ik)) = (u.get(row), i.get(row)) else {
                tr.dropped += 1;
                continue;
            };
            let value = match v {
                Some(v) if v.is_null(row) => {
                    tr.dropped += 1;
                    continue;
                }
                Some(v) => v.value(row),
                None => 1.0,
            };
            if !value.is_finite() || value < 0.0 {
                return exec_err!(
                    "model type '{model_type}': column \"value\" must be finite and \
                     non-negative, got {value}"
                );
            }
            tr.rows.push(users.insert(uk));
            tr.cols.push(items.insert(ik));
            tr.vals.push(value);
        }
        let users = users.unwrap_or_else(|| KeyIndex::new(KeyKind::Int));
        let items = items.unwrap_or_else(|| KeyIndex::new(KeyKind::Int));
        if users.is_empty() {
            return plan_err!(
                "model type '{model_type}': every row of the AS query has a NULL user, item or \
                 value; there is nothing to train on"
            );
        }
        let r = Csr::from_triplets(users.len(), items.len(), &tr.rows, &tr.cols, &tr.vals)
            .map_err(|e| exec_datafusion_err!("interaction matrix: {e}"))?;
        let mut facts = BTreeMap::new();
        facts.insert("rows used".to_string(), tr.rows.len().to_string());
        facts.insert(
            "rows dropped (NULL user, item or value)".to_string(),
            tr.dropped.to_string(),
        );
        facts.insert(
            "repeated (user, item) rows summed".to_string(),
            (tr.rows.len() - r.nnz()).to_string(),
        );

        let (tag_index, t) = match data.tables.get("tags") {
            Some(batches) => {
                let (index, t, used, unknown, dropped) =
                    Self::read_tags(model_type, batches, &items, control)?;
                facts.insert("tag rows used".to_string(), used.to_string());
                facts.insert(
                    "tag rows of items without interactions (not used)".to_string(),
                    unknown.to_string(),
                );
                facts.insert(
                    "tag rows dropped (NULL item, tag or weight)".to_string(),
                    dropped.to_string(),
                );
                (index, t)
            }
            None if tags == Tags::Required => {
                return plan_err!(
                    "model type '{model_type}' needs item tags: add OPTIONS (tags = 'table') \
                     naming a table or view with columns (item, tag, weight)"
                )
            }
            None => {
                let index = KeyIndex::new(KeyKind::Int);
                let t = Csr::from_triplets(items.len(), 0, &[], &[], &[])
                    .map_err(|e| exec_datafusion_err!("tag matrix: {e}"))?;
                (index, t)
            }
        };
        Ok((
            RecData {
                users,
                items,
                tags: tag_index,
                r,
                t,
            },
            facts,
        ))
    }

    fn read_tags(
        model_type: &str,
        batches: &[RecordBatch],
        items: &KeyIndex,
        control: &TaskControl<'_>,
    ) -> Result<(KeyIndex, Csr, usize, usize, usize)> {
        let mut tags: Option<KeyIndex> = None;
        let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        let (mut unknown, mut dropped) = (0usize, 0usize);
        let mut columns = Vec::with_capacity(batches.len());
        for batch in batches {
            let i = KeyColumn::try_new(
                &required_column(model_type, batch, "item", "the tags table")?,
                "tags table column \"item\"",
            )?;
            if i.kind() != items.kind() && !items.is_empty() {
                return plan_err!(
                    "model type '{model_type}': the tags table has {} item ids but the AS query \
                     has {} item ids",
                    i.kind().name(),
                    items.kind().name()
                );
            }
            let t = KeyColumn::try_new(
                &required_column(model_type, batch, "tag", "the tags table")?,
                "tags table column \"tag\"",
            )?;
            let w = optional_column(batch, "weight")
                .map(|a| numeric(&a, "tags table column \"weight\""))
                .transpose()?;
            columns.push((i, t, w));
        }
        // In content order, like the interactions (tag indices do not depend on row order).
        for (n, (b, row)) in content_order(batches, &["item", "tag", "weight"])?
            .into_iter()
            .enumerate()
        {
            if n % 65_536 == 0 {
                control.check_cancelled()?;
            }
            let (i, t, w) = &columns[b];
            let w = w.as_ref().map(|a| a.as_primitive::<Float32Type>());
            let tags = tags.get_or_insert_with(|| KeyIndex::new(t.kind()));
            let (Some(ik), Some(tk)) = (i.get(row), t.get(row)) else {
                dropped += 1;
                continue;
            };
            let weight = match w {
                Some(w) if w.is_null(row) => {
                    dropped += 1;
                    continue;
                }
                Some(w) => w.value(row),
                None => 1.0,
            };
            if !weight.is_finite() || weight < 0.0 {
                return exec_err!(
                    "model type '{model_type}': tag weights must be finite and \
                     non-negative, got {weight}"
                );
            }
            let Some(item) = items.get(ik) else {
                unknown += 1;
                continue;
            };
            rows.push(item);
            cols.push(tags.insert(tk));
            vals.push(weight);
        }
        let tags = tags.unwrap_or_else(|| KeyIndex::new(KeyKind::Int));
        if tags.is_empty() {
            return plan_err!(
                "model type '{model_type}': the tags table has no usable rows for the items of \
                 the AS query"
            );
        }
        let used = rows.len();
        let t = Csr::from_triplets(items.len(), tags.len(), &rows, &cols, &vals)
            .map_err(|e| exec_datafusion_err!("tag matrix: {e}"))?;
        Ok((tags, t, used, unknown, dropped))
    }

    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    pub fn n_tags(&self) -> usize {
        self.tags.len()
    }

    /// Number of interactions of each item (how many users interacted with it).
    pub fn item_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.n_items()];
        for &i in &self.r.indices {
            counts[i as usize] += 1;
        }
        counts
    }

    /// Facts for `DESCRIBE MODEL`.
    pub fn describe(&self) -> Vec<(String, String)> {
        vec![
            ("users".to_string(), self.n_users().to_string()),
            ("items".to_string(), self.n_items().to_string()),
            ("tags".to_string(), self.n_tags().to_string()),
            ("interactions".to_string(), self.r.nnz().to_string()),
            ("item-tag pairs".to_string(), self.t.nnz().to_string()),
            ("user ids".to_string(), self.users.kind().name().to_string()),
            ("item ids".to_string(), self.items.kind().name().to_string()),
        ]
    }
}
