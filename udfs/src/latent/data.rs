//! Reading the training rows of the latent factor models.
//!
//! It exists because every topic model (pLSA, LDA) reads the same (doc, term, weight)
//! rows with the same rules, and the mixture models a column of values; the rules are written
//! once here:
//!
//! - **Columns.** `doc` and `term` are integer or text ids (each independently); `weight` is
//!   numeric and optional (without it every row weighs 1, e.g. a bag of tags). A missing column
//!   or a column of another type is a planning error naming it.
//! - **NULLs.** Rows with a NULL doc, term or weight are dropped and counted (training facts),
//!   as the recommenders do.
//! - **Weights** must be finite and ≥ 0 (an execution error names the row's doc and term).
//!   Repeated (doc, term) rows are summed. Cells of weight 0 are not stored, and a document or
//!   term whose weights are all 0 is not part of the model (counted): `topic_mixture` gives NULL
//!   for it, as for a document the model never saw.
//! - **Order.** Rows are taken in an order of their contents, and documents and terms are
//!   numbered in increasing order of their ids, so a model depends on the rows, not on the order
//!   in which DataFusion delivered them.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result;

use super::kernels::sparse::Csr;
use super::latent_err;
use crate::model::key::Key;
use crate::model::{KeyColumn, KeyIndex, KeyKind, KeyRef, TaskControl, TrainingData};

/// A document-term matrix with the ids of its rows and columns.
#[derive(Debug)]
pub struct DocTerm {
    /// The documents, numbered in increasing order of their ids.
    pub docs: KeyIndex,
    /// The terms, numbered in increasing order of their ids.
    pub terms: KeyIndex,
    /// Weights, documents × terms, with no empty row or column.
    pub matrix: Csr,
    /// Facts for the model file (rows used, dropped, ...).
    pub facts: BTreeMap<String, String>,
}

/// The position of each row in (batch, row) form, in the order of `ranks` (row → rank).
fn ordered_positions(batches: &[RecordBatch], ranks: &[usize]) -> Vec<(usize, usize)> {
    let mut out = vec![(0, 0); ranks.len()];
    let mut row = 0;
    for (b, batch) in batches.iter().enumerate() {
        for r in 0..batch.num_rows() {
            if let Some(&rank) = ranks.get(row) {
                out[rank] = (b, r);
            }
            row += 1;
        }
    }
    out
}

/// An id for error messages: text quoted, integers bare.
fn show(k: KeyRef<'_>) -> String {
    match k {
        KeyRef::Int(v) => v.to_string(),
        KeyRef::Text(s) => format!("'{s}'"),
    }
}

/// Reads the `doc`, `term` and optional `weight` columns of the `AS` query into a
/// document-term matrix (rules in the module documentation), TF-IDF weighted when `tfidf`
/// ([`Csr::tfidf`]).
pub fn read_doc_term(
    model_type: &str,
    data: &TrainingData,
    tfidf: bool,
    control: &TaskControl<'_>,
) -> Result<DocTerm> {
    let doc_col = data.column(model_type, "doc")?;
    let term_col = data.column(model_type, "term")?;
    let weight_col = data.schema.index_of("weight").ok();
    for (index, name) in [(doc_col, "doc"), (term_col, "term")] {
        let t = data.schema.field(index).data_type();
        if KeyKind::of(t).is_none() && t != &DataType::Null {
            return plan_err!(
                "model type '{model_type}': column \"{name}\" must be an integer or text id, got {t}"
            );
        }
    }
    if let Some(w) = weight_col {
        let t = data.schema.field(w).data_type();
        if !(t.is_numeric() || t == &DataType::Null) {
            return plan_err!(
                "model type '{model_type}': column \"weight\" must be numeric, got {t}"
            );
        }
    }
    if data.num_rows() == 0 {
        return plan_err!(
            "model type '{model_type}': the AS query returned no rows; there is nothing to train on"
        );
    }
    // Every batch has the query's schema, whose types were checked above.
    let mut columns = Vec::with_capacity(data.batches.len());
    for batch in &data.batches {
        let d = KeyColumn::try_new(batch.column(doc_col), "column \"doc\"")?;
        let t = KeyColumn::try_new(batch.column(term_col), "column \"term\"")?;
        let w = weight_col
            .map(|i| cast(batch.column(i), &DataType::Float64))
            .transpose()?;
        columns.push((d, t, w));
    }
    let mut names = vec!["doc", "term"];
    if weight_col.is_some() {
        names.push("weight");
    }
    let ranks = data.content_ranks(model_type, &names)?;
    // First pass: the ids with a row, and the rows used, in content order.
    let mut docs: Option<KeyIndex> = None;
    let mut terms: Option<KeyIndex> = None;
    let (mut rows, mut cols, mut vals) = (Vec::new(), Vec::new(), Vec::new());
    let mut dropped = 0usize;
    for (n, &(b, row)) in ordered_positions(&data.batches, &ranks).iter().enumerate() {
        if n % 65_536 == 0 {
            control.check_cancelled()?;
        }
        let (d, t, w) = &columns[b];
        let (Some(dk), Some(tk)) = (d.get(row), t.get(row)) else {
            dropped += 1;
            continue;
        };
        let weight = match w {
            Some(w) => {
                let w = w.as_primitive::<Float64Type>();
                if w.is_null(row) {
                    dropped += 1;
                    continue;
                }
                w.value(row)
            }
            None => 1.0,
        };
        if !weight.is_finite() || weight < 0.0 {
            return exec_err!(
                "model type '{model_type}': column \"weight\" must be finite and non-negative, \
                 got {weight} (doc {}, term {})",
                show(dk),
                show(tk)
            );
        }
        let docs = docs.get_or_insert_with(|| KeyIndex::new(d.kind()));
        let terms = terms.get_or_insert_with(|| KeyIndex::new(t.kind()));
        rows.push(docs.insert(dk));
        cols.push(terms.insert(tk));
        vals.push(weight);
    }
    let (Some(docs), Some(terms)) = (docs, terms) else {
        return plan_err!(
            "model type '{model_type}': every row of the AS query has a NULL doc, term or \
             weight; there is nothing to train on"
        );
    };
    // Number the ids in increasing order, then build the matrix (repeated cells summed in
    // content order) and drop documents and terms without weight: the kept ones stay in
    // increasing order.
    let (docs_sorted, doc_of) = sorted(&docs);
    let (terms_sorted, term_of) = sorted(&terms);
    for r in &mut rows {
        *r = doc_of[*r as usize];
    }
    for c in &mut cols {
        *c = term_of[*c as usize];
    }
    let mut cells: Vec<u64> = rows
        .iter()
        .zip(&cols)
        .map(|(&r, &c)| (u64::from(r) << 32) | u64::from(c))
        .collect();
    cells.sort_unstable();
    cells.dedup();
    let raw = Csr::from_triplets(docs.len(), terms.len(), &rows, &cols, &vals)
        .map_err(|e| latent_err(model_type, e))?;
    let (mut matrix, kept_docs, kept_terms) = raw.compact();
    if matrix.nnz() == 0 {
        return plan_err!(
            "model type '{model_type}': every weight is 0; there is nothing to train on"
        );
    }
    let kept = |all: &[Key], kept: &[usize], kind: KeyKind| -> KeyIndex {
        let mut index = KeyIndex::new(kind);
        for &i in kept {
            if let Some(k) = all.get(i) {
                index.insert(k.as_ref());
            }
        }
        index
    };
    let doc_index = kept(&docs_sorted, &kept_docs, docs.kind());
    let term_index = kept(&terms_sorted, &kept_terms, terms.kind());
    if tfidf {
        matrix = matrix.tfidf();
    }
    let mut facts = BTreeMap::new();
    facts.insert("rows used".to_string(), rows.len().to_string());
    facts.insert(
        "rows dropped (NULL doc, term or weight)".to_string(),
        dropped.to_string(),
    );
    facts.insert(
        "repeated (doc, term) rows summed".to_string(),
        (rows.len() - cells.len()).to_string(),
    );
    facts.insert(
        "documents without weight (not in the model)".to_string(),
        (docs.len() - doc_index.len()).to_string(),
    );
    facts.insert(
        "terms without weight (not in the model)".to_string(),
        (terms.len() - term_index.len()).to_string(),
    );
    facts.insert("non-zero cells".to_string(), matrix.nnz().to_string());
    Ok(DocTerm {
        docs: doc_index,
        terms: term_index,
        matrix,
        facts,
    })
}

/// The keys of `index` in increasing order (integers by value, text by bytes), and for each
/// index of `index` its position in that order.
fn sorted(index: &KeyIndex) -> (Vec<Key>, Vec<u32>) {
    let mut order: Vec<usize> = (0..index.len()).collect();
    let key = |i: usize| index.key(i);
    order.sort_by(|&a, &b| match (key(a), key(b)) {
        (Some(Key::Int(x)), Some(Key::Int(y))) => x.cmp(y),
        (Some(Key::Text(x)), Some(Key::Text(y))) => x.cmp(y),
        _ => a.cmp(&b),
    });
    let mut position = vec![0u32; index.len()];
    for (p, &i) in order.iter().enumerate() {
        position[i] = p as u32;
    }
    (
        order.iter().filter_map(|&i| key(i).cloned()).collect(),
        position,
    )
}

/// The values of column `value` of the `AS` query (NULLs dropped) and how many were NULL. A
/// non-numeric column is a planning error; NaN and infinity are execution errors.
pub fn read_values(model_type: &str, data: &TrainingData) -> Result<(Vec<f64>, usize)> {
    let index = data.column(model_type, "value")?;
    let t = data.schema.field(index).data_type();
    if !(t.is_numeric() || t == &DataType::Null) {
        return plan_err!("model type '{model_type}': column \"value\" must be numeric, got {t}");
    }
    let mut values = Vec::with_capacity(data.num_rows());
    let mut dropped = 0;
    for batch in &data.batches {
        let a = cast(batch.column(index), &DataType::Float64)?;
        for v in a.as_primitive::<Float64Type>().iter() {
            match v {
                None => dropped += 1,
                Some(v) if !v.is_finite() => {
                    return exec_err!(
                        "model type '{model_type}': column \"value\" must be finite, got {v}"
                    )
                }
                Some(v) => values.push(v),
            }
        }
    }
    Ok((values, dropped))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use datafusion::arrow::array::{Float64Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    use super::*;

    /// The (doc, term, weight) rows cut into batches of the sizes in `cuts` (cycled).
    fn training(rows: &[(i64, &str, f64)], cuts: &[usize]) -> TrainingData {
        let schema = Arc::new(Schema::new(vec![
            Field::new("doc", DataType::Int64, true),
            Field::new("term", DataType::Utf8, true),
            Field::new("weight", DataType::Float64, true),
        ]));
        let mut batches = Vec::new();
        let mut rest = rows;
        for &n in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (part, tail) = rest.split_at(n.min(rest.len()));
            batches.push(
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Int64Array::from_iter_values(part.iter().map(|r| r.0))),
                        Arc::new(StringArray::from_iter_values(part.iter().map(|r| r.1))),
                        Arc::new(Float64Array::from_iter_values(part.iter().map(|r| r.2))),
                    ],
                )
                .unwrap(),
            );
            rest = tail;
        }
        TrainingData {
            schema,
            batches,
            tables: Default::default(),
        }
    }

    fn read(data: &TrainingData) -> DocTerm {
        let cancel = AtomicBool::new(false);
        let progress = |_: &str| {};
        read_doc_term("plsa", data, false, &TaskControl::new(&progress, &cancel)).unwrap()
    }

    fn keys(index: &KeyIndex) -> Vec<Key> {
        (0..index.len())
            .filter_map(|i| index.key(i).cloned())
            .collect()
    }

    /// The module's *Order* rule: ids numbered in increasing order, and the matrix, ids and
    /// facts the same bits whatever the order of the rows and their cut into batches.
    #[test]
    fn the_matrix_depends_on_the_rows_not_their_order() {
        // Repeated cells whose sum rounds differently in different orders: 1e16 + 1 + 1 is 1e16
        // from the left and 1e16 + 2 from the right.
        let rows = vec![
            (3, "sax", 1.0),
            (1, "rock", 1e16),
            (2, "jazz", 0.5),
            (1, "rock", 1.0),
            (3, "jazz", 2.0),
            (1, "rock", 1.0),
            (2, "rock", 0.0),
        ];
        let first = read(&training(&rows, &[7]));
        assert_eq!(
            keys(&first.docs),
            vec![Key::Int(1), Key::Int(2), Key::Int(3)]
        );
        assert_eq!(
            keys(&first.terms),
            ["jazz", "rock", "sax"].map(|t| Key::Text(t.to_string()))
        );
        assert_eq!(first.facts["repeated (doc, term) rows summed"], "2");
        let mut reversed = rows.clone();
        reversed.reverse();
        let mut rotated = rows.clone();
        rotated.rotate_left(3);
        for (order, cuts) in [
            (&reversed, &[2, 1][..]),
            (&rotated, &[1][..]),
            (&rows, &[3]),
        ] {
            let other = read(&training(order, cuts));
            assert_eq!(keys(&other.docs), keys(&first.docs));
            assert_eq!(keys(&other.terms), keys(&first.terms));
            assert_eq!(other.matrix, first.matrix);
            assert_eq!(other.facts, first.facts);
        }
    }
}
