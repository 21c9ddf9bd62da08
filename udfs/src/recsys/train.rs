//! Pieces of training shared by the recommender model types: running the numeric kernels with
//! progress and Ctrl-C, converting their errors, reading common options.

use datafusion::common::exec_datafusion_err;
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};
use nalgebra::DMatrix;

use super::kernels::svd::{truncated_svd, LinearOperator, Svd, SvdOptions};
use super::kernels::KernelError;
use crate::model::{ModelOptions, TaskControl};

/// A kernel error as a DataFusion error (`Cancelled` reads like every other cancellation).
pub fn kernel_err(model_type: &str, e: KernelError) -> DataFusionError {
    match e {
        KernelError::Cancelled => DataFusionError::Execution("cancelled by the user".to_string()),
        KernelError::Callback(msg) => DataFusionError::Execution(msg),
        other => exec_datafusion_err!("{model_type}: {other}"),
    }
}

/// A callback error for the kernels: cancellation stays cancellation.
pub fn callback_err(e: DataFusionError) -> KernelError {
    let msg = e.to_string();
    if msg.contains("cancelled by the user") {
        KernelError::Cancelled
    } else {
        KernelError::Callback(msg)
    }
}

/// Truncated SVD of `op` with progress lines every 10 iterations and Ctrl-C between iterations.
pub fn svd_with_progress(
    model_type: &str,
    op: &dyn LinearOperator,
    opts: &SvdOptions,
    control: &TaskControl<'_>,
) -> Result<Svd> {
    let start = Instant::now();
    let mut progress = |it: usize, change: f64| -> std::result::Result<(), KernelError> {
        control.check_cancelled().map_err(callback_err)?;
        if it % 10 == 0 {
            control.progress(&format!(
                "{model_type}: SVD iteration {it}/{}  change {change:.2e}  {:.1} s",
                opts.max_iter,
                start.elapsed().as_secs_f64()
            ));
        }
        Ok(())
    };
    let svd = truncated_svd(op, opts, &mut progress).map_err(|e| kernel_err(model_type, e))?;
    control.progress(&format!(
        "{model_type}: rank-{} SVD of a {}×{} matrix in {} iterations ({}), {:.1} s",
        svd.s.len(),
        op.nrows(),
        op.ncols(),
        svd.iterations,
        if svd.converged {
            "converged"
        } else {
            "iteration limit reached"
        },
        start.elapsed().as_secs_f64()
    ));
    Ok(svd)
}

/// Estimates of the largest buffers training holds at once, checked against the session's
/// memory limit (`trustql.memory_limit`) before anything is allocated, so that a large option
/// (dim, hidden, batch_size × negatives, ...) is an error naming it instead of an allocation
/// failure that aborts the process. Counts are f64 so that products of large options cannot
/// overflow.
pub mod memory {
    use datafusion::error::Result;

    use crate::model::ModelOptions;
    use crate::recsys::data::RecData;

    /// The options named in the error, with their values (those given or the defaults).
    fn named(options: &ModelOptions, names: &[&str]) -> Result<String> {
        Ok(names
            .iter()
            .map(|&n| Ok(format!("{n} = {}", options.value::<i64>(n)?)))
            .collect::<Result<Vec<_>>>()?
            .join(", "))
    }

    /// SVD models (inn, unn): the randomised SVD's bases and the factor matrices, about six
    /// (rows + columns) × (dim + svd_oversample) f64 matrices over users, items and tags.
    pub fn check_svd(
        label: &str,
        data: &RecData,
        options: &ModelOptions,
        limit: u64,
    ) -> Result<()> {
        let rank = (options.value::<i64>("dim")? + options.value::<i64>("svd_oversample")?) as f64;
        let entities = (data.n_users() + data.n_items() + data.n_tags()) as f64;
        crate::engine::check_memory(
            &format!(
                "{label}: options {}",
                named(options, &["dim", "svd_oversample"])?
            ),
            6.0 * entities * rank * 8.0,
            limit,
        )
    }

    /// ALS (wrmf, and the initialisation of fm and ncf): user, item (and tag) factors in f64,
    /// three copies (factors, the other side's Gram products, the result), and two dim² matrices
    /// per thread (the Gram matrix of the row being solved and its factorisation).
    pub fn check_als(label: &str, data: &RecData, dim: usize, limit: u64) -> Result<()> {
        let k = dim as f64;
        let entities = (data.n_users() + data.n_items() + data.n_tags()) as f64;
        crate::engine::check_memory(
            &format!("{label}: option dim = {dim}"),
            3.0 * entities * k * 8.0 + 2.0 * rayon::current_num_threads() as f64 * k * k * 8.0,
            limit,
        )
    }

    /// Negative-sampling training (fm, ncf): the parameters in f32 four times over (values,
    /// gradients, Adam's two moments), and per batch row (batch_size × (1 + negatives) rows)
    /// the forward activations kept for the backward pass (about 8 × dim, plus 3 × hidden for
    /// NCF's MLP, f32, twice) and the row's sparse tags.
    pub fn check_neural(
        label: &str,
        data: &RecData,
        options: &ModelOptions,
        hidden: usize,
        limit: u64,
    ) -> Result<()> {
        let dim = options.value::<f64>("dim")?;
        let batch = options.value::<f64>("batch_size")?;
        let negatives = options.value::<f64>("negatives")?;
        let rows = batch.min(data.r.nnz().max(1) as f64) * (1.0 + negatives);
        let entities = (data.n_users() + data.n_items() + data.n_tags()) as f64;
        let h = hidden as f64;
        let params = 4.0 * 4.0 * (entities * (dim + 1.0) + 2.0 * dim * h + h);
        let tags_per_item = data.t.nnz() as f64 / data.n_items().max(1) as f64;
        let per_row = 2.0 * 4.0 * (8.0 * dim + 3.0 * h) + 20.0 * tags_per_item + 16.0;
        let mut names = vec!["dim", "batch_size", "negatives"];
        if hidden > 0 {
            names.push("hidden");
        }
        crate::engine::check_memory(
            &format!("{label}: options {}", named(options, &names)?),
            params + rows * per_row,
            limit,
        )
    }
}

/// Row-major values of a matrix.
pub fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    m.transpose().as_slice().to_vec()
}

/// Rows scaled to unit L2 norm (zero rows stay zero).
pub fn unit_rows(m: &DMatrix<f64>) -> DMatrix<f64> {
    let mut out = m.clone();
    for mut row in out.row_iter_mut() {
        let n = row.norm();
        if n > 0.0 {
            row /= n;
        }
    }
    out
}

/// V Σ⁻¹: maps a tag vector to the latent space of the SVD (t V Σ⁻¹ = U_i when t = row i).
pub fn tag_projection(svd: &Svd) -> DMatrix<f64> {
    let mut w = svd.v.clone();
    for (j, mut col) in w.column_iter_mut().enumerate() {
        col /= svd.s[j];
    }
    w
}

/// The options every SVD-based model shares (`inn`, `unn`; spec [`super::inn::SVD_OPTIONS`]),
/// read into the kernel's settings.
impl TryFrom<&ModelOptions> for SvdOptions {
    type Error = datafusion::error::DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<SvdOptions> {
        Ok(SvdOptions {
            rank: options.value("dim")?,
            oversample: options.value("svd_oversample")?,
            max_iter: options.value("svd_iterations")?,
            tol: options.value("svd_tol")?,
            seed: options.value("seed")?,
        })
    }
}

/// The rows `weights[j] · w[tags[j]]` of a row-major `? × k` matrix `w` (a `tags.len() × k`
/// matrix, row-major): an item's tags in a latent space, each at its weight, for the closed forms
/// of LIME's scaled tag vectors. `None` when a tag is out of range or the lengths differ.
pub fn scaled_tag_rows(w: &[f64], k: usize, tags: &[u32], weights: &[f32]) -> Option<Vec<f64>> {
    if tags.len() != weights.len() {
        return None;
    }
    let mut out = Vec::with_capacity(tags.len() * k);
    for (&t, &x) in tags.iter().zip(weights) {
        let t = t as usize;
        let row = w.get(t * k..(t + 1) * k)?;
        out.extend(row.iter().map(|v| v * x as f64));
    }
    Some(out)
}
