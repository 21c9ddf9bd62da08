//! Reading the training rows of the latent factor models.
//!
//! It exists because every topic model (pLSA, LDA) reads the same (doc, term, weight)
//! rows with the same rules, the mixture models a column of values, and k-means a column of
//! vectors ([`read_vectors`], whose rules are in its documentation); the rules of the
//! (doc, term, weight) rows are written once here:
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

/// The vectors of a `vector` column as one dense row-major matrix, in the precision they came
/// in: `f32` for lists of Float32, `f64` for lists of any other number type.
#[derive(Debug, Clone, PartialEq)]
pub enum DenseRows {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// The non-NULL vectors of the `AS` query ([`read_vectors`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Vectors {
    /// n × d values, rows in increasing order of their contents.
    pub rows: DenseRows,
    pub n: usize,
    pub d: usize,
    /// NULL vectors, dropped.
    pub dropped: usize,
}

pub use crate::common::adapters::is_number_list as is_vector_type;

/// The length of each row of a list column (`None` for NULL), without copying its values.
fn list_lengths(a: &dyn Array) -> Vec<Option<usize>> {
    let valid = |i: usize| a.is_valid(i);
    match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            (0..l.len())
                .map(|i| valid(i).then(|| (o[i + 1] - o[i]) as usize))
                .collect()
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            (0..l.len())
                .map(|i| valid(i).then(|| (o[i + 1] - o[i]) as usize))
                .collect()
        }
        DataType::FixedSizeList(_, n) => (0..a.len())
            .map(|i| valid(i).then_some(*n as usize))
            .collect(),
        _ => vec![None; a.len()],
    }
}

/// Copies the non-NULL rows of list column `a` (cast to a list of `T`) into `out`, checking
/// that no value is NULL or not finite.
fn copy_rows<T>(model_type: &str, a: &dyn Array, out: &mut Vec<T::Native>) -> Result<()>
where
    T: datafusion::arrow::datatypes::ArrowPrimitiveType,
    T::Native: num_traits::Float + std::fmt::Display,
{
    let list_type = DataType::List(std::sync::Arc::new(
        datafusion::arrow::datatypes::Field::new_list_field(T::DATA_TYPE, true),
    ));
    let cast_list = cast(a, &list_type)?;
    let list = cast_list.as_list::<i32>();
    let values = list.values().as_primitive::<T>();
    let offsets = list.value_offsets();
    for i in 0..list.len() {
        if list.is_null(i) {
            continue;
        }
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        if values.null_count() > 0 && (start..end).any(|j| values.is_null(j)) {
            return exec_err!(
                "model type '{model_type}': column \"vector\" holds a vector with a NULL value; \
                 every value of a vector must be a number"
            );
        }
        let row = &values.values()[start..end];
        if let Some(v) = row.iter().find(|v| !num_traits::Float::is_finite(**v)) {
            return exec_err!(
                "model type '{model_type}': column \"vector\" must hold finite values, got {v}"
            );
        }
        out.extend_from_slice(row);
    }
    Ok(())
}

/// `rows` (n rows of `d` values) in increasing lexicographic order of their values
/// (`total_cmp`, so equal rows are the same bits and the result depends only on the multiset
/// of rows).
fn sort_rows<T: num_traits::Float + Copy>(
    rows: Vec<T>,
    d: usize,
    cmp: fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    let n = rows.len() / d;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| {
        let (x, y) = (&rows[a * d..(a + 1) * d], &rows[b * d..(b + 1) * d]);
        x.iter()
            .zip(y)
            .map(|(p, q)| cmp(p, q))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out = Vec::with_capacity(rows.len());
    for i in order {
        out.extend_from_slice(&rows[i * d..(i + 1) * d]);
    }
    out
}

/// Reads column `vector` of the `AS` query: a list (List, LargeList or FixedSizeList) of
/// numbers per row, as one dense matrix.
///
/// - A column of another type is a planning error; so is a query whose vectors are all NULL.
/// - NULL vectors are dropped and counted. A NULL or non-finite value inside a vector is an
///   execution error, as are vectors of different lengths (the error counts the vectors of
///   each length) and empty vectors.
/// - `check(n, d, bytes)` is called with the number of vectors, their length and the bytes of
///   one value before the matrix is allocated (for the memory limit).
/// - Lists of Float32 stay `f32`; other numbers are read as `f64`.
/// - **Order.** The rows are sorted by their values, so a model depends on the vectors and not
///   on the order in which DataFusion delivered them.
pub fn read_vectors(
    model_type: &str,
    data: &TrainingData,
    check: &dyn Fn(usize, usize, usize) -> Result<()>,
    control: &TaskControl<'_>,
) -> Result<Vectors> {
    let index = data.column(model_type, "vector")?;
    let t = data.schema.field(index).data_type().clone();
    if !is_vector_type(&t) {
        return plan_err!(
            "model type '{model_type}': column \"vector\" must be a list of numbers (List, \
             LargeList or FixedSizeList of Float32 or Float64), got {t}"
        );
    }
    let float32 = matches!(&t, DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) if f.data_type() == &DataType::Float32);
    let mut lengths: BTreeMap<usize, usize> = BTreeMap::new();
    let mut dropped = 0;
    for batch in &data.batches {
        for l in list_lengths(batch.column(index).as_ref()) {
            match l {
                None => dropped += 1,
                Some(l) => *lengths.entry(l).or_insert(0) += 1,
            }
        }
    }
    let n: usize = lengths.values().sum();
    let Some((&d, _)) = lengths.iter().next() else {
        return plan_err!(
            "model type '{model_type}': the AS query returned no non-NULL vector; there is \
             nothing to train on"
        );
    };
    if lengths.len() > 1 {
        let mut by_count: Vec<(usize, usize)> = lengths.iter().map(|(&l, &c)| (c, l)).collect();
        by_count.sort_by(|a, b| b.cmp(a));
        let parts: Vec<String> = by_count
            .iter()
            .map(|(c, l)| format!("{c} of length {l}"))
            .collect();
        return exec_err!(
            "model type '{model_type}': the vectors of column \"vector\" must all have the \
             same length; the {n} non-NULL vectors are {}",
            parts.join(", ")
        );
    }
    if d == 0 {
        return exec_err!(
            "model type '{model_type}': the vectors of column \"vector\" are empty; they need \
             at least one value"
        );
    }
    check(n, d, if float32 { 4 } else { 8 })?;
    control.check_cancelled()?;
    let rows = if float32 {
        let mut out = Vec::with_capacity(n * d);
        for batch in &data.batches {
            copy_rows::<datafusion::arrow::datatypes::Float32Type>(
                model_type,
                batch.column(index).as_ref(),
                &mut out,
            )?;
        }
        DenseRows::F32(sort_rows(out, d, f32::total_cmp))
    } else {
        let mut out = Vec::with_capacity(n * d);
        for batch in &data.batches {
            copy_rows::<Float64Type>(model_type, batch.column(index).as_ref(), &mut out)?;
        }
        DenseRows::F64(sort_rows(out, d, f64::total_cmp))
    };
    Ok(Vectors {
        rows,
        n,
        d,
        dropped,
    })
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

    /// A `vector` column of the given rows (List<Float64>), cut into batches of `cut` rows.
    fn vectors(rows: &[Option<Vec<f64>>], cut: usize) -> TrainingData {
        use datafusion::arrow::array::ListArray;
        let field = Field::new(
            "vector",
            DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
            true,
        );
        let schema = Arc::new(Schema::new(vec![field]));
        let batches = rows
            .chunks(cut)
            .map(|part| {
                let list =
                    ListArray::from_iter_primitive::<Float64Type, _, _>(part.iter().map(|r| {
                        r.as_ref()
                            .map(|v| v.iter().map(|&x| Some(x)).collect::<Vec<_>>())
                    }));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(list)]).unwrap()
            })
            .collect();
        TrainingData {
            schema,
            batches,
            tables: Default::default(),
        }
    }

    fn read_v(data: &TrainingData) -> Result<Vectors> {
        let cancel = AtomicBool::new(false);
        let progress = |_: &str| {};
        read_vectors(
            "kmeans",
            data,
            &|_, _, _| Ok(()),
            &TaskControl::new(&progress, &cancel),
        )
    }

    #[test]
    fn vectors_are_read_sorted_with_nulls_dropped() {
        let rows = vec![
            Some(vec![3.0, 1.0]),
            None,
            Some(vec![-0.0, 2.0]),
            Some(vec![1.0, 5.0]),
            Some(vec![0.0, 2.0]),
            None,
            Some(vec![1.0, -5.0]),
        ];
        let first = read_v(&vectors(&rows, 7)).unwrap();
        assert_eq!((first.n, first.d, first.dropped), (5, 2, 2));
        let want = vec![-0.0, 2.0, 0.0, 2.0, 1.0, -5.0, 1.0, 5.0, 3.0, 1.0];
        match &first.rows {
            DenseRows::F64(v) => {
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(v), bits(&want));
            }
            other => panic!("{other:?}"),
        }
        let mut reversed = rows.clone();
        reversed.reverse();
        for (order, cut) in [(&reversed, 2), (&rows, 1), (&rows, 3)] {
            assert_eq!(read_v(&vectors(order, cut)).unwrap(), first);
        }
    }

    #[test]
    fn vectors_of_other_lengths_and_bad_values_are_errors() {
        let ragged = vec![
            Some(vec![1.0, 2.0, 3.0]),
            Some(vec![1.0, 2.0]),
            Some(vec![4.0, 5.0, 6.0]),
            None,
        ];
        let e = read_v(&vectors(&ragged, 2)).unwrap_err().to_string();
        assert!(
            e.contains("must all have the same length; the 3 non-NULL vectors are 2 of length 3, 1 of length 2"),
            "{e}"
        );
        let e = read_v(&vectors(&[Some(vec![]), Some(vec![])], 2))
            .unwrap_err()
            .to_string();
        assert!(e.contains("are empty"), "{e}");
        let e = read_v(&vectors(&[Some(vec![1.0, f64::NAN])], 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("must hold finite values, got NaN"), "{e}");
        let e = read_v(&vectors(&[None, None], 1)).unwrap_err().to_string();
        assert!(e.contains("no non-NULL vector"), "{e}");
        // The memory check sees the shape before the matrix is built, and can refuse it.
        let cancel = AtomicBool::new(false);
        let progress = |_: &str| {};
        let e = read_vectors(
            "kmeans",
            &vectors(&vec![Some(vec![1.0, 2.0]); 3], 2),
            &|n, d, bytes| {
                assert_eq!((n, d, bytes), (3, 2, 8));
                datafusion::common::exec_err!("too big")
            },
            &TaskControl::new(&progress, &cancel),
        )
        .unwrap_err();
        assert!(e.to_string().contains("too big"), "{e}");
    }

    #[test]
    fn vector_columns_of_every_list_kind_are_read() {
        use datafusion::arrow::array::{
            FixedSizeListArray, Float32Array, Int64Array, LargeListArray,
        };
        use datafusion::arrow::datatypes::Int64Type;
        let one = |array: Arc<dyn Array>| {
            let schema = Arc::new(Schema::new(vec![Field::new(
                "vector",
                array.data_type().clone(),
                true,
            )]));
            TrainingData {
                schema: schema.clone(),
                batches: vec![RecordBatch::try_new(schema, vec![array]).unwrap()],
                tables: Default::default(),
            }
        };
        let fixed = FixedSizeListArray::try_new(
            Arc::new(Field::new_list_field(DataType::Float32, true)),
            2,
            Arc::new(Float32Array::from(vec![2.0, 1.0, 0.5, 0.25])),
            None,
        )
        .unwrap();
        let v = read_v(&one(Arc::new(fixed))).unwrap();
        assert_eq!(v.rows, DenseRows::F32(vec![0.5, 0.25, 2.0, 1.0]));
        let large = LargeListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(3), Some(4)]),
            None,
        ]);
        let v = read_v(&one(Arc::new(large))).unwrap();
        assert_eq!((v.rows, v.dropped), (DenseRows::F64(vec![3.0, 4.0]), 1));
        let e = read_v(&one(Arc::new(Int64Array::from(vec![1]))))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("column \"vector\" must be a list of numbers"),
            "{e}"
        );
        let with_null =
            LargeListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(3), None])]);
        let e = read_v(&one(Arc::new(with_null))).unwrap_err().to_string();
        assert!(e.contains("holds a vector with a NULL value"), "{e}");
    }
}
