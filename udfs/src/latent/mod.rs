//! Latent factor models: learning sources reduced to k latent factors.
//!
//! The thesis (ch. 2, §2.2.3, Table 2.1) trains its multi-source networks against
//! k = 50-dimensional probability vectors rather than raw labels: every count or weight matrix
//! (tags, taste profiles, lyrics, artist tags, CDR genres) becomes the topic proportions P(z|d)
//! of a pLSA model, and every scalar (BPM, year) the posterior over the components of a Gaussian
//! mixture. This domain brings both into SQL, as model types and the functions that read them:
//!
//! - the `plsa` model type ([`plsa`]) on (doc, term, weight) rows, the `lda` model type
//!   ([`lda`], latent Dirichlet allocation as scikit-learn's, which the thesis uses for artist
//!   group factors in ch. 3, §3.3.1) on the same rows, and `topic_mixture(model, doc)`
//!   ([`topic_mixture`]), which reads either through the [`topic_model::TopicModel`] capability;
//! - the `gmm` model type ([`gmm`]) on a column of values, and `gmm_posterior(model, value)`
//!   ([`gmm_posterior`]);
//! - the `kmeans` model type ([`kmeans`]) on a column of vectors, a dictionary of k "audio
//!   words" (thesis ch. 3), and `kmeans_assign(model, vector)` ([`kmeans_assign`]), which reads
//!   any model with the [`codebook::Codebook`] capability;
//! - the window function `quantile_normal(value) OVER (PARTITION BY dim)`
//!   ([`quantile_normal`]), which maps each dimension of a descriptor vector to N(0, 1) as
//!   scikit-learn's `QuantileTransformer` does, before a dictionary is learnt (thesis ch. 3,
//!   §3.3.1, feature set e);
//! - the maths on slices in [`kernels`] (sparse matrices and TF-IDF, pLSA by EM, LDA by batch
//!   variational Bayes, 1-D Gaussian mixtures by EM, quantile normalisation, k-means); reading
//!   the training rows in [`data`].

pub mod codebook;
pub mod data;
pub mod gmm;
pub mod gmm_posterior;
pub mod kernels;
pub mod kmeans;
pub mod kmeans_assign;
pub mod lda;
pub mod plsa;
pub mod quantile_normal;
pub mod topic_mixture;
pub mod topic_model;

use datafusion::error::DataFusionError;

use crate::library::Library;
use kernels::LatentError;

/// Adds the `plsa`, `lda`, `gmm` and `kmeans` model types, the functions that read them, and
/// `quantile_normal`.
pub fn register(lib: &mut Library) {
    lib.model_type(plsa::PlsaType);
    lib.model_type(lda::LdaType);
    lib.model_type(gmm::GmmType);
    lib.model_type(kmeans::KMeansType);
    let catalog = lib.catalog();
    lib.scalar(topic_mixture::TopicMixtureFunc::new(catalog.clone()));
    lib.scalar(gmm_posterior::GmmPosteriorFunc::new(catalog.clone()));
    lib.scalar(kmeans_assign::KMeansAssignFunc::new(catalog));
    lib.window(quantile_normal::QuantileNormalFunc::new());
}

/// A kernel error of model type (or function) `what` as a DataFusion error: cancellation as
/// the session words it, data problems as execution errors naming `what`.
pub(crate) fn latent_err(what: &str, e: LatentError) -> DataFusionError {
    match e {
        LatentError::Cancelled => DataFusionError::Execution("cancelled by the user".to_string()),
        e => DataFusionError::Execution(format!("{what}: {e}")),
    }
}
