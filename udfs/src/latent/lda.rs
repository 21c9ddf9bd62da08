//! The `lda` model type: latent Dirichlet allocation of a count or weight matrix, as
//! scikit-learn's `LatentDirichletAllocation(learning_method='batch')` (thesis §3.3.1).
//!
//! It exists because the thesis forms artist group factors by reducing each artist's bag of
//! audio words to 40 topics with scikit-learn's LDA; in SQL:
//!
//! ```sql
//! CREATE MODEL agf_topics OPTIONS (type = 'lda', k = 40, max_iter = 10, seed = 1)
//!   AS SELECT artist AS doc, codeword AS term, count AS weight FROM artist_words;
//! SELECT artist, topic_mixture('agf_topics', artist) FROM artists;
//! ```
//!
//! The rows are read by [`read_doc_term`] exactly as for `plsa` (NULL rows dropped and counted,
//! repeated cells summed, weights ≥ 0, `weight` optional). The fit is batch variational Bayes
//! ([`crate::latent::kernels::lda`]) with scikit-learn's options and defaults: `k`
//! (`n_components`, 10), `max_iter` (10), `doc_topic_prior` and `topic_word_prior` (1/k when
//! absent), `max_doc_update_iter` (100), `mean_change_tol` (1e-3), `evaluate_every` (-1: never)
//! and `perp_tol` (0.1), and `seed` (`random_state`). Progress is reported after every
//! iteration and Ctrl-C stops between iterations. The model keeps each training document's
//! normalised topic weights (scikit-learn's `transform`, read by `topic_mixture`) and λ
//! (`components_`) as f32, the bound and perplexity on the training set (`bound_` is the
//! perplexity) and the evaluations made during the fit; `model_info` shows them. Its
//! `iterations` are the EM iterations run: when `perp_tol` stops the fit, scikit-learn's
//! `n_iter_` is one less (it does not count the iteration that stopped it).

use std::time::Instant;

use datafusion::common::{exec_err, plan_err};
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::data::read_doc_term;
use super::kernels::lda::{fit, LdaOptions};
use super::kernels::sparse::Csr;
use super::kernels::LatentError;
use super::latent_err;
use super::topic_model::TopicModel;
use crate::engine::check_memory;
use crate::model::{
    decode, encode, KeyIndex, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext,
    Trained, TrainingData,
};

/// The `lda` model type.
#[derive(Debug)]
pub struct LdaType;

/// One evaluation of the fit: after `iteration` iterations, the bound and the perplexity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LdaEvaluation {
    pub iteration: usize,
    pub bound: f64,
    pub perplexity: f64,
}

/// A trained LDA model.
#[derive(Debug, Serialize, Deserialize)]
pub struct LdaModel {
    docs: KeyIndex,
    terms: KeyIndex,
    k: usize,
    /// Normalised γ, documents × k, row-major (scikit-learn's `transform`).
    doc_topics: Vec<f32>,
    /// λ, terms × k, row-major (scikit-learn's `components_`, transposed).
    components: Vec<f32>,
    doc_topic_prior: f64,
    topic_word_prior: f64,
    iterations: usize,
    evaluations: Vec<LdaEvaluation>,
    stopped_on_perp_tol: bool,
    bound: f64,
    perplexity: f64,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "k",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000,
        },
        default: Some("10"),
        doc: "number of topics (scikit-learn's n_components; the thesis uses 40 for artist group factors)",
    },
    OptionSpec {
        name: "max_iter",
        kind: OptionKind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: Some("10"),
        doc: "EM iterations (passes over the corpus)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("1"),
        doc: "seed of the random initial topics and of the documents' random starts (scikit-learn's random_state)",
    },
    OptionSpec {
        name: "doc_topic_prior",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: None,
        doc: "α of the documents' Dirichlet prior over topics, in (0, 1]; absent: 1/k",
    },
    OptionSpec {
        name: "topic_word_prior",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: None,
        doc: "η of the topics' Dirichlet prior over terms, in (0, 1]; absent: 1/k",
    },
    OptionSpec {
        name: "max_doc_update_iter",
        kind: OptionKind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: Some("100"),
        doc: "most updates of a document's topic weights in each E-step",
    },
    OptionSpec {
        name: "mean_change_tol",
        kind: OptionKind::Float {
            min: 0.0,
            max: f64::INFINITY,
        },
        default: Some("1e-3"),
        doc: "a document's updates stop once its topic weights change by less than this on average",
    },
    OptionSpec {
        name: "evaluate_every",
        kind: OptionKind::Int {
            min: -1,
            max: 1_000_000,
        },
        default: Some("-1"),
        doc: "evaluate the bound and perplexity every this many iterations (and stop on perp_tol); 0 or -1: never",
    },
    OptionSpec {
        name: "perp_tol",
        kind: OptionKind::Float {
            min: 0.0,
            max: f64::INFINITY,
        },
        default: Some("0.1"),
        doc: "stop once an evaluated perplexity changes by less than this (only with evaluate_every > 0)",
    },
];

/// The fitting settings of `lda` (spec [`OPTIONS`], which holds every default).
impl TryFrom<&ModelOptions> for LdaOptions {
    type Error = DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        let k: usize = options.value("k")?;
        let mut priors = [None, None];
        for (slot, name) in priors
            .iter_mut()
            .zip(["doc_topic_prior", "topic_word_prior"])
        {
            let value: Option<f64> = options.optional(name)?;
            if value == Some(0.0) {
                return plan_err!("option '{name}' must be greater than 0, got 0");
            }
            *slot = value;
        }
        let evaluate_every: i64 = options.value("evaluate_every")?;
        Ok(LdaOptions {
            k,
            max_iter: options.value("max_iter")?,
            doc_topic_prior: priors[0],
            topic_word_prior: priors[1],
            max_doc_update_iter: options.value("max_doc_update_iter")?,
            mean_change_tol: options.value("mean_change_tol")?,
            evaluate_every: usize::try_from(evaluate_every).unwrap_or(0),
            perp_tol: options.value("perp_tol")?,
            seed: options.value("seed")?,
        })
    }
}

/// The bytes a fit of `x` with k topics holds at its peak: the matrix, its transpose and the
/// cells' positions, one ratio per cell, four term × k arrays (λ, Eβ, the next λ, E[log β] of
/// the bound), three document × k arrays (γ, Eθ, the evaluation's γ) and the f32 copies the
/// model keeps.
fn memory_needed(x: &Csr, k: usize) -> f64 {
    let (d, w, nnz, k) = (
        x.n_rows() as f64,
        x.n_cols() as f64,
        x.nnz() as f64,
        k as f64,
    );
    2.0 * nnz * 12.0
        + nnz * 16.0
        + (d + w) * 8.0 * 2.0
        + 4.0 * w * k * 8.0
        + 3.0 * d * k * 8.0
        + (d + w) * k * 4.0
}

impl ModelType for LdaType {
    fn name(&self) -> &'static str {
        "lda"
    }

    fn description(&self) -> &'static str {
        "latent Dirichlet allocation of (doc, term, weight) rows by batch variational Bayes, as scikit-learn's LatentDirichletAllocation: topic proportions of each doc (Blei, Ng & Jordan 2003)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let options = LdaOptions::try_from(ctx.options)?;
        let input = read_doc_term("lda", data, false, &ctx.control)?;
        let x = &input.matrix;
        check_memory(
            &format!(
                "lda with k = {} on {} documents × {} terms",
                options.k,
                x.n_rows(),
                x.n_cols()
            ),
            memory_needed(x, options.k),
            ctx.memory_limit,
        )?;
        ctx.control.progress(&format!(
            "lda: {} documents × {} terms, {} non-zero cells, k = {}",
            x.n_rows(),
            x.n_cols(),
            x.nnz(),
            options.k
        ));
        let total = options.max_iter;
        let mut on_iteration = |t: usize, p: Option<f64>| -> std::result::Result<(), LatentError> {
            if ctx.control.is_cancelled() {
                return Err(LatentError::Cancelled);
            }
            let perplexity = p
                .map(|p| format!("  perplexity {p:.6}"))
                .unwrap_or_default();
            ctx.control.progress(&format!(
                "lda: iteration {t}/{total}{perplexity}  {:.1} s",
                start.elapsed().as_secs_f64()
            ));
            Ok(())
        };
        let result = fit(x, &options, &mut on_iteration).map_err(|e| latent_err("lda", e))?;
        let mut doc_topics = Vec::with_capacity(result.doc_topics.len());
        for d in 0..x.n_rows() {
            match result.mixture(d) {
                Some(m) => doc_topics.extend(m.iter().map(|&v| v as f32)),
                None => return exec_err!("lda: the fit lost document {d}"),
            }
        }
        let mut training = input.facts;
        training.insert("documents".to_string(), x.n_rows().to_string());
        training.insert("terms".to_string(), x.n_cols().to_string());
        training.insert("iterations".to_string(), result.iterations.to_string());
        training.insert(
            "stopped on perp_tol".to_string(),
            result.stopped_on_perp_tol.to_string(),
        );
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        let evaluations: Vec<LdaEvaluation> = result
            .evaluations
            .iter()
            .map(|e| LdaEvaluation {
                iteration: e.iteration,
                bound: e.bound,
                perplexity: e.perplexity,
            })
            .collect();
        Ok(Trained {
            model: Box::new(LdaModel {
                docs: input.docs,
                terms: input.terms,
                k: options.k,
                doc_topics,
                components: result.components.iter().map(|&v| v as f32).collect(),
                doc_topic_prior: result.doc_topic_prior,
                topic_word_prior: result.topic_word_prior,
                iterations: result.iterations,
                evaluations,
                stopped_on_perp_tol: result.stopped_on_perp_tol,
                bound: result.bound,
                perplexity: result.perplexity,
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = decode::<LdaModel>("lda", bytes)?;
        if model.k == 0
            || model.doc_topics.len() != model.docs.len() * model.k
            || model.components.len() != model.terms.len() * model.k
        {
            return exec_err!("the stored 'lda' model is damaged: its sizes do not agree");
        }
        Ok(Box::new(model))
    }
}

impl LdaModel {
    /// λ_zw (scikit-learn's `components_[z, w]`) of term index `w` for every topic.
    pub fn components(&self, w: usize) -> Option<&[f32]> {
        self.components.get(w * self.k..(w + 1) * self.k)
    }

    /// The terms the model was trained on.
    pub fn terms(&self) -> &KeyIndex {
        &self.terms
    }

    /// The evaluations made during the fit (`evaluate_every`).
    pub fn evaluations(&self) -> &[LdaEvaluation] {
        &self.evaluations
    }

    /// The variational bound and the perplexity of the final model on its training set.
    pub fn bound_and_perplexity(&self) -> (f64, f64) {
        (self.bound, self.perplexity)
    }
}

/// `values` joined by ", ".
fn joined(values: impl Iterator<Item = String>) -> String {
    values.collect::<Vec<_>>().join(", ")
}

impl Model for LdaModel {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("documents".to_string(), self.docs.len().to_string()),
            ("terms".to_string(), self.terms.len().to_string()),
            ("topics".to_string(), self.k.to_string()),
            ("iterations".to_string(), self.iterations.to_string()),
            (
                "doc_topic_prior".to_string(),
                format!("{}", self.doc_topic_prior),
            ),
            (
                "topic_word_prior".to_string(),
                format!("{}", self.topic_word_prior),
            ),
            ("bound".to_string(), format!("{:.9e}", self.bound)),
            ("perplexity".to_string(), format!("{:.9e}", self.perplexity)),
        ];
        if !self.evaluations.is_empty() {
            out.push((
                "evaluated at iterations".to_string(),
                joined(self.evaluations.iter().map(|e| e.iteration.to_string())),
            ));
            out.push((
                "bound per evaluation".to_string(),
                joined(self.evaluations.iter().map(|e| format!("{:.9e}", e.bound))),
            ));
            out.push((
                "perplexity per evaluation".to_string(),
                joined(
                    self.evaluations
                        .iter()
                        .map(|e| format!("{:.9e}", e.perplexity)),
                ),
            ));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn TopicModel);
}

impl TopicModel for LdaModel {
    fn topics(&self) -> usize {
        self.k
    }

    fn documents(&self) -> &KeyIndex {
        &self.docs
    }

    fn mixture(&self, d: usize) -> Option<&[f32]> {
        self.doc_topics.get(d * self.k..(d + 1) * self.k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KeyRef;

    #[test]
    fn a_stored_model_loads_back_and_damage_is_refused() {
        let mut docs = KeyIndex::new(crate::model::KeyKind::Text);
        docs.insert(KeyRef::Text("a"));
        docs.insert(KeyRef::Text("b"));
        let mut terms = KeyIndex::new(crate::model::KeyKind::Int);
        terms.insert(KeyRef::Int(7));
        let model = LdaModel {
            docs,
            terms,
            k: 2,
            doc_topics: vec![0.25, 0.75, 1.0, 0.0],
            components: vec![3.0, 0.5],
            doc_topic_prior: 0.5,
            topic_word_prior: 0.5,
            iterations: 4,
            evaluations: vec![LdaEvaluation {
                iteration: 2,
                bound: -10.0,
                perplexity: 3.5,
            }],
            stopped_on_perp_tol: false,
            bound: -9.0,
            perplexity: 3.0,
        };
        let bytes = model.to_bytes().unwrap();
        let back = LdaType.load(&ModelOptions::default(), &bytes).unwrap();
        let topics = back.capability::<dyn TopicModel>().unwrap();
        assert_eq!(topics.topics(), 2);
        let b = topics.documents().get(KeyRef::Text("b")).unwrap() as usize;
        assert_eq!(topics.mixture(b), Some(&[1.0f32, 0.0][..]));
        assert_eq!(topics.mixture(2), None);
        let described = back.describe();
        let get = |name: &str| {
            described
                .iter()
                .find(|(p, _)| p == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("perplexity per evaluation").as_deref(),
            Some("3.500000000e0")
        );
        assert_eq!(get("iterations").as_deref(), Some("4"));
        let back = back.downcast_ref::<LdaModel>().unwrap();
        assert_eq!(back.components(0), Some(&[3.0f32, 0.5][..]));
        assert_eq!(back.bound_and_perplexity(), (-9.0, 3.0));
        let damaged = LdaModel {
            components: vec![0.5],
            ..decode::<LdaModel>("lda", &bytes).unwrap()
        };
        let e = LdaType
            .load(&ModelOptions::default(), &damaged.to_bytes().unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert!(LdaType
            .load(&ModelOptions::default(), &bytes[..bytes.len() / 2])
            .is_err());
    }
}
