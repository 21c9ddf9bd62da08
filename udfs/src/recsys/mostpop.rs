//! `mostpop`: the popularity baseline. Every user gets the same ranking, items ordered by how many
//! interactions they have in the training data.
//!
//! Score of (u, i) = the number of training rows with item i (with one row per (user, item) pair,
//! as in the shipped datasets, this is the number of users who interacted with i). The `value`
//! column, if present, is not used: popularity counts interactions, not plays or ratings. Users
//! and items absent from the training data score NULL. Rows with a NULL user or item are
//! dropped and counted.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::error::Result;
use serde::{Deserialize, Serialize};

use crate::model::{
    decode, encode, KeyColumn, KeyIndex, KeyKind, KeyRef, Model, ModelOptions, ModelType,
    OptionSpec, Recommender, TrainContext, Trained, TrainingData,
};

/// The `mostpop` model type.
#[derive(Debug)]
pub struct MostPopType;

/// A trained popularity model.
#[derive(Debug, Serialize, Deserialize)]
pub struct MostPop {
    users: KeyIndex,
    items: KeyIndex,
    /// Interaction count per item index.
    counts: Vec<u64>,
}

impl MostPop {
    /// Counts interactions per item from (user, item) id columns.
    pub fn fit(users: &[KeyColumn], items: &[KeyColumn]) -> (Self, usize) {
        let user_kind = users.first().map(KeyColumn::kind).unwrap_or(KeyKind::Int);
        let item_kind = items.first().map(KeyColumn::kind).unwrap_or(KeyKind::Int);
        let mut model = MostPop {
            users: KeyIndex::new(user_kind),
            items: KeyIndex::new(item_kind),
            counts: Vec::new(),
        };
        let mut dropped = 0;
        for (u, i) in users.iter().zip(items) {
            for row in 0..u.len() {
                let (Some(user), Some(item)) = (u.get(row), i.get(row)) else {
                    dropped += 1;
                    continue;
                };
                model.users.insert(user);
                let idx = model.items.insert(item) as usize;
                if idx == model.counts.len() {
                    model.counts.push(0);
                }
                model.counts[idx] += 1;
            }
        }
        (model, dropped)
    }
}

impl Model for MostPop {
    fn describe(&self) -> Vec<(String, String)> {
        let top = self
            .counts
            .iter()
            .enumerate()
            .max_by_key(|(_, c)| **c)
            .and_then(|(i, c)| self.items.key(i).map(|k| (k, c)));
        let mut out = vec![
            ("users".to_string(), self.users.len().to_string()),
            ("items".to_string(), self.items.len().to_string()),
            ("user ids".to_string(), self.users.kind().name().to_string()),
            ("item ids".to_string(), self.items.kind().name().to_string()),
        ];
        if let Some((key, count)) = top {
            let key = match key.as_ref() {
                KeyRef::Int(v) => v.to_string(),
                KeyRef::Text(s) => s.to_string(),
            };
            out.push((
                "most popular item".to_string(),
                format!("{key} ({count} interactions)"),
            ));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    fn as_recommender(&self) -> Option<&dyn Recommender> {
        Some(self)
    }
}

impl Recommender for MostPop {
    fn user_kind(&self) -> KeyKind {
        self.users.kind()
    }

    fn item_kind(&self) -> KeyKind {
        self.items.kind()
    }

    fn score(&self, user: KeyRef<'_>, item: KeyRef<'_>) -> Option<f64> {
        self.users.get(user)?;
        let i = self.items.get(item)? as usize;
        self.counts.get(i).map(|c| *c as f64)
    }
}

impl ModelType for MostPopType {
    fn name(&self) -> &'static str {
        "mostpop"
    }

    fn description(&self) -> &'static str {
        "popularity baseline: items ranked by their number of interactions, the same for every user"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[]
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let u = data.column("mostpop", "user")?;
        let i = data.column("mostpop", "item")?;
        let mut users = Vec::with_capacity(data.batches.len());
        let mut items = Vec::with_capacity(data.batches.len());
        for batch in &data.batches {
            ctx.control.check_cancelled()?;
            users.push(KeyColumn::try_new(batch.column(u), "column \"user\"")?);
            items.push(KeyColumn::try_new(batch.column(i), "column \"item\"")?);
        }
        let (model, dropped) = MostPop::fit(&users, &items);
        ctx.control.progress(&format!(
            "mostpop: counted {} interactions of {} users with {} items in {:.2} s",
            data.num_rows() - dropped,
            model.users.len(),
            model.items.len(),
            start.elapsed().as_secs_f64()
        ));
        let mut training = BTreeMap::new();
        training.insert(
            "rows used".to_string(),
            (data.num_rows() - dropped).to_string(),
        );
        training.insert(
            "rows dropped (NULL user or item)".to_string(),
            dropped.to_string(),
        );
        Ok(Trained {
            model: Box::new(model),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        Ok(Box::new(decode::<MostPop>("mostpop", bytes)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
    use std::sync::Arc;

    fn col(a: ArrayRef) -> KeyColumn {
        KeyColumn::try_new(&a, "t").unwrap()
    }

    #[test]
    fn counts_interactions_and_unknowns_are_none() {
        let users = col(Arc::new(Int32Array::from(vec![
            Some(1),
            Some(1),
            Some(2),
            Some(3),
            None,
        ])));
        let items = col(Arc::new(StringArray::from(vec!["a", "b", "a", "a", "b"])));
        let (m, dropped) = MostPop::fit(&[users], &[items]);
        assert_eq!(dropped, 1);
        assert_eq!(m.score(KeyRef::Int(2), KeyRef::Text("a")), Some(3.0));
        assert_eq!(m.score(KeyRef::Int(2), KeyRef::Text("b")), Some(1.0));
        assert_eq!(m.score(KeyRef::Int(9), KeyRef::Text("a")), None);
        assert_eq!(m.score(KeyRef::Int(1), KeyRef::Text("zzz")), None);
        let back: MostPop = decode("mostpop", &m.to_bytes().unwrap()).unwrap();
        assert_eq!(back.score(KeyRef::Int(3), KeyRef::Text("a")), Some(3.0));
    }
}
