//! The `plsa` model type: topic proportions of a count or weight matrix (thesis §2.2.3).
//!
//! It exists so that a learning source such as `tag`, `taste`, `lyrics` or `artist` is reduced
//! to k = 50 topic proportions in SQL:
//!
//! ```sql
//! CREATE MODEL z_tag OPTIONS (type = 'plsa', k = 50, iterations = 100, seed = 1)
//!   AS SELECT track AS doc, tag AS term, count AS weight FROM tags;
//! SELECT track, topic_mixture('z_tag', track) FROM tracks;
//! ```
//!
//! The rows are read by [`read_doc_term`] (NULL rows dropped and counted, repeated cells summed,
//! weights ≥ 0, `weight` optional); `tfidf = true` weights the matrix as scikit-learn's
//! `TfidfTransformer()` first ([`Csr::tfidf`]; the thesis applies TF-IDF to lyrics). The fit is
//! pLSA by EM ([`crate::latent::kernels::plsa`]): `iterations` steps (100 by default, as the
//! authors' code), or fewer when `tolerance` is given and a step changes the log-likelihood by
//! less than that fraction. Progress is reported every 10 steps and Ctrl-C stops between steps.
//! The model keeps P(z|d) of every training document and P(w|z) of every term (as f32), the
//! log-likelihood trace and the number of steps; `model_info` shows them.

use std::time::Instant;

use datafusion::common::exec_err;
use datafusion::error::{DataFusionError, Result};
use serde::{Deserialize, Serialize};

use super::data::read_doc_term;
use super::kernels::plsa::{fit, PlsaOptions};
use super::kernels::sparse::Csr;
use super::kernels::LatentError;
use super::latent_err;
use super::topic_model::TopicModel;
use crate::engine::check_memory;
use crate::model::{
    decode, encode, KeyIndex, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext,
    Trained, TrainingData,
};

/// The `plsa` model type.
#[derive(Debug)]
pub struct PlsaType;

/// A trained pLSA model.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlsaModel {
    docs: KeyIndex,
    terms: KeyIndex,
    k: usize,
    /// P(z|d), documents × k, row-major.
    doc_topics: Vec<f32>,
    /// P(w|z), terms × k, row-major (column z is topic z's distribution over terms).
    term_topics: Vec<f32>,
    /// The log-likelihood of the initial parameters and after each EM step.
    log_likelihood: Vec<f64>,
    converged: bool,
    tfidf: bool,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        name: "k",
        kind: OptionKind::Int {
            min: 1,
            max: 10_000,
        },
        default: Some("50"),
        doc: "number of topics (the thesis uses 50 for every learning source)",
    },
    OptionSpec {
        name: "iterations",
        kind: OptionKind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: Some("100"),
        doc: "EM steps (the authors' code runs 100)",
    },
    OptionSpec {
        name: "seed",
        kind: OptionKind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: Some("1"),
        doc: "seed of the random initial P(z|d) and P(w|z)",
    },
    OptionSpec {
        name: "tfidf",
        kind: OptionKind::Bool,
        default: Some("false"),
        doc: "weight the matrix by TF-IDF first, as scikit-learn's TfidfTransformer() (smooth idf = ln((1+D)/(1+df)) + 1, rows scaled to unit L2 norm); the thesis does this for lyrics",
    },
    OptionSpec {
        name: "tolerance",
        kind: OptionKind::Float { min: 0.0, max: 1.0 },
        default: None,
        doc: "stop early once a step changes the log-likelihood by less than this fraction of it; absent: always run all iterations",
    },
];

/// The fitting settings of `plsa` (spec [`OPTIONS`], which holds every default).
impl TryFrom<&ModelOptions> for PlsaOptions {
    type Error = DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        Ok(PlsaOptions {
            k: options.value("k")?,
            iterations: options.value("iterations")?,
            tolerance: options.optional("tolerance")?,
            seed: options.value("seed")?,
        })
    }
}

/// Progress lines every this many EM steps (and after the last).
const PROGRESS_EVERY: usize = 10;

/// The bytes a fit of `x` with k topics holds at its peak: the matrix and its transpose, two
/// sets of f64 parameters, per-document sums and the f32 copies the model keeps.
fn memory_needed(x: &Csr, k: usize) -> f64 {
    let (d, w, nnz, k) = (
        x.n_rows() as f64,
        x.n_cols() as f64,
        x.nnz() as f64,
        k as f64,
    );
    2.0 * nnz * 12.0 + (d + w) * 8.0 * 2.0 + 2.0 * (d + w) * k * 8.0 + (d + w) * k * 4.0
}

impl ModelType for PlsaType {
    fn name(&self) -> &'static str {
        "plsa"
    }

    fn description(&self) -> &'static str {
        "probabilistic latent semantic analysis of (doc, term, weight) rows by EM: topic proportions P(z|doc) (Hofmann 1999)"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let start = Instant::now();
        let options = PlsaOptions::try_from(ctx.options)?;
        let tfidf: bool = ctx.options.value("tfidf")?;
        let input = read_doc_term("plsa", data, tfidf, &ctx.control)?;
        let x = &input.matrix;
        check_memory(
            &format!(
                "plsa with k = {} on {} documents × {} terms",
                options.k,
                x.n_rows(),
                x.n_cols()
            ),
            memory_needed(x, options.k),
            ctx.memory_limit,
        )?;
        ctx.control.progress(&format!(
            "plsa: {} documents × {} terms, {} non-zero cells, k = {}",
            x.n_rows(),
            x.n_cols(),
            x.nnz(),
            options.k
        ));
        let total = options.iterations;
        let mut on_step = |t: usize, l: f64| -> std::result::Result<(), LatentError> {
            if ctx.control.is_cancelled() {
                return Err(LatentError::Cancelled);
            }
            if t % PROGRESS_EVERY == 0 || t == total {
                ctx.control.progress(&format!(
                    "plsa: EM step {t}/{total}  log-likelihood {l:.6e}  {:.1} s",
                    start.elapsed().as_secs_f64()
                ));
            }
            Ok(())
        };
        let result = fit(x, &options, &mut on_step).map_err(|e| latent_err("plsa", e))?;
        let mut training = input.facts;
        training.insert("documents".to_string(), x.n_rows().to_string());
        training.insert("terms".to_string(), x.n_cols().to_string());
        training.insert("EM steps".to_string(), result.steps.to_string());
        training.insert(
            "stopped on tolerance".to_string(),
            result.converged.to_string(),
        );
        let trace: Vec<String> = result
            .log_likelihood
            .iter()
            .map(|l| format!("{l:.9e}"))
            .collect();
        training.insert("log-likelihood per step".to_string(), trace.join(", "));
        training.insert(
            "training seconds".to_string(),
            format!("{:.3}", start.elapsed().as_secs_f64()),
        );
        let p = result.params;
        Ok(Trained {
            model: Box::new(PlsaModel {
                docs: input.docs,
                terms: input.terms,
                k: options.k,
                doc_topics: p.doc_topics.iter().map(|&v| v as f32).collect(),
                term_topics: p.term_topics.iter().map(|&v| v as f32).collect(),
                log_likelihood: result.log_likelihood,
                converged: result.converged,
                tfidf,
            }),
            training,
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let model = decode::<PlsaModel>("plsa", bytes)?;
        if model.k == 0
            || model.doc_topics.len() != model.docs.len() * model.k
            || model.term_topics.len() != model.terms.len() * model.k
        {
            return exec_err!("the stored 'plsa' model is damaged: its sizes do not agree");
        }
        Ok(Box::new(model))
    }
}

impl PlsaModel {
    /// P(w|z) of term index `w` for every topic.
    pub fn term_topics(&self, w: usize) -> Option<&[f32]> {
        self.term_topics.get(w * self.k..(w + 1) * self.k)
    }

    /// The terms the model was trained on.
    pub fn terms(&self) -> &KeyIndex {
        &self.terms
    }

    /// The log-likelihood of the initial parameters and after each EM step.
    pub fn log_likelihood(&self) -> &[f64] {
        &self.log_likelihood
    }
}

impl Model for PlsaModel {
    fn describe(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("documents".to_string(), self.docs.len().to_string()),
            ("terms".to_string(), self.terms.len().to_string()),
            ("topics".to_string(), self.k.to_string()),
            ("tfidf".to_string(), self.tfidf.to_string()),
            (
                "EM steps".to_string(),
                self.log_likelihood.len().saturating_sub(1).to_string(),
            ),
        ];
        if let Some(l) = self.log_likelihood.last() {
            out.push(("final log-likelihood".to_string(), format!("{l:.9e}")));
        }
        out
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        encode(self)
    }

    crate::capabilities!(dyn TopicModel);
}

impl TopicModel for PlsaModel {
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
        let model = PlsaModel {
            docs,
            terms,
            k: 2,
            doc_topics: vec![0.25, 0.75, 1.0, 0.0],
            term_topics: vec![1.0, 1.0],
            log_likelihood: vec![-3.0, -2.0],
            converged: false,
            tfidf: true,
        };
        let bytes = model.to_bytes().unwrap();
        let back = PlsaType.load(&ModelOptions::default(), &bytes).unwrap();
        let topics = back.capability::<dyn TopicModel>().unwrap();
        assert_eq!(topics.topics(), 2);
        let b = topics.documents().get(KeyRef::Text("b")).unwrap() as usize;
        assert_eq!(topics.mixture(b), Some(&[1.0f32, 0.0][..]));
        assert_eq!(topics.mixture(2), None);
        let back = back.downcast_ref::<PlsaModel>().unwrap();
        assert_eq!(back.log_likelihood(), &[-3.0, -2.0]);
        assert_eq!(back.term_topics(0), Some(&[1.0f32, 1.0][..]));
        // Sizes that do not agree, or bytes cut short, are errors, not panics.
        let damaged = PlsaModel {
            doc_topics: vec![0.5],
            ..decode::<PlsaModel>("plsa", &bytes).unwrap()
        };
        let e = PlsaType
            .load(&ModelOptions::default(), &damaged.to_bytes().unwrap())
            .unwrap_err();
        assert!(e.to_string().contains("damaged"), "{e}");
        assert!(PlsaType
            .load(&ModelOptions::default(), &bytes[..bytes.len() / 2])
            .is_err());
    }
}
