//! Pieces of training shared by the recommender model types: running the numeric kernels with
//! progress and Ctrl-C, converting their errors, reading common options.

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
        other => DataFusionError::Execution(format!("{model_type}: {other}")),
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

/// An integer option that has a default (validated earlier, so present).
pub fn int_option(options: &ModelOptions, name: &str, default: i64) -> i64 {
    options.int(name).unwrap_or(default)
}

/// A float option that has a default.
pub fn float_option(options: &ModelOptions, name: &str, default: f64) -> f64 {
    options.float(name).unwrap_or(default)
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

/// The options every SVD-based model shares, read into kernel options.
pub fn svd_options(options: &ModelOptions) -> SvdOptions {
    SvdOptions {
        rank: int_option(options, "dim", 64) as usize,
        oversample: int_option(options, "svd_oversample", 10) as usize,
        max_iter: int_option(options, "svd_iterations", 200) as usize,
        tol: float_option(options, "svd_tol", 1e-10),
        seed: int_option(options, "seed", 42) as u64,
    }
}
