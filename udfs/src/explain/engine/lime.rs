//! LIME: the perturbations of many rows scored in shared forward passes ([`super::batch`]), then
//! one surrogate fitted per row and ω ([`crate::explain::kernels::lime`]).

use datafusion::error::Result;
use rayon::prelude::*;
use tch::Device;

use super::batch::{FlatRows, FORWARD_ROWS};
use super::options::ExplainOptions;
use super::{canonical_sum, kernel_err, row_seed, truncate, Explanation};
use crate::common::rng::Rng;
use crate::explain::kernels::lime;
use crate::recsys::recommender::{Cancel, Recommender};

/// LIME explanations (eq. 5.19–5.20), as `lime`'s text explainer over the item's tags: the
/// perturbations of many rows are scored in shared forward passes, then each surrogate is
/// fitted. A perturbed tag vector keeps the weights of the tags it keeps.
pub fn explain_lime(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omega: usize,
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Explanation>> {
    let omegas = vec![vec![omega]; rows.len()];
    let out = explain_lime_each(rec, device, rows, &omegas, opts, cancelled)?;
    Ok(out.into_iter().flatten().collect())
}

/// LIME explanations of each row at each of its complexities `omegas[row]`: the perturbations
/// and their scores do not depend on ω (they are seeded by the row alone), so they are made and
/// scored once per row, and only the surrogate is fitted once per ω.
pub fn explain_lime_each(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<Explanation>>> {
    Ok(lime_each(rec, device, rows, omegas, opts, cancelled)?
        .into_iter()
        .map(|per_omega| per_omega.into_iter().map(|(e, _)| e).collect())
        .collect())
}
/// [`explain_lime_each`], each explanation with its rebuilt score ĝ_i: the sum of the
/// surrogate's coefficients of the tags the explanation keeps, undivided (θ_t · T_i,t with
/// θ_t = c_t / T_i,t is c_t up to rounding, and rounding would make items whose surrogates agree
/// exactly differ by an ulp). Summed in a canonical order, so equal coefficients give equal ĝ.
pub(super) fn lime_each(
    rec: &dyn Recommender,
    device: Device,
    rows: &[(u32, u32)],
    omegas: &[Vec<usize>],
    opts: &ExplainOptions,
    cancelled: Cancel<'_>,
) -> Result<Vec<Vec<(Explanation, f64)>>> {
    let data = rec.data();
    let mut out: Vec<Vec<(Explanation, f64)>> = Vec::with_capacity(rows.len());
    // Rows are processed in groups whose perturbations fill about FORWARD_ROWS rows.
    let per_group = (FORWARD_ROWS / opts.samples.max(1)).max(1);
    let features = rows
        .iter()
        .map(|&(_, i)| data.t.row(i as usize).0.len())
        .max()
        .unwrap_or(0);
    if features > 0 {
        opts.check_lime_memory(per_group.min(rows.len()), features)?;
    }
    for (group, group_omegas) in rows.chunks(per_group).zip(omegas.chunks(per_group)) {
        cancelled()?;
        // Each row's perturbations (and, where the model has a closed form for scaled tag
        // vectors, its explanations) are independent of the other rows': made in parallel, each
        // from its own seed, so the results do not depend on the threads.
        let prepared: Vec<Row> = group
            .par_iter()
            .zip(group_omegas)
            .map(|(&(u, i), row_omegas)| -> Result<Row> {
                cancelled()?;
                let (tags, weights) = data.t.row(i as usize);
                if tags.is_empty() {
                    return Ok(Row::Done(vec![(Vec::new(), 0.0); row_omegas.len()]));
                }
                let mut rng = Rng::new(row_seed(opts.seed, u, i));
                let z =
                    lime::perturbations(tags.len(), opts.samples, &mut rng).map_err(kernel_err)?;
                let x = z.to_rows();
                match rec.scaled_tag_scores(device, u, i, tags, weights, &x, cancelled)? {
                    Some(y) => Ok(Row::Done(explain_row(
                        &z, &x, &y, tags, weights, row_omegas, opts,
                    )?)),
                    None => Ok(Row::Pending(z, x)),
                }
            })
            .collect::<Result<_>>()?;
        // The other rows' perturbations are scored together in shared forward passes.
        let mut batch = FlatRows::default();
        let mut offsets = Vec::with_capacity(group.len());
        for (&(u, i), row) in group.iter().zip(&prepared) {
            offsets.push(batch.len());
            let Row::Pending(z, _) = row else {
                continue;
            };
            let (tags, weights) = data.t.row(i as usize);
            for k in 0..z.samples() {
                if k % 65_536 == 65_535 {
                    cancelled()?;
                }
                let kept = tags
                    .iter()
                    .zip(weights)
                    .zip(z.row(k))
                    .filter(|(_, &on)| on)
                    .map(|((&t, &w), _)| (t, w));
                batch.push(u, i, kept);
            }
        }
        let labels = batch.score(rec, device, cancelled)?;
        drop(batch);
        let explained: Vec<Vec<(Explanation, f64)>> = group
            .par_iter()
            .zip(prepared)
            .zip(group_omegas)
            .zip(offsets)
            .map(|(((&(_, i), row), row_omegas), at)| match row {
                Row::Done(done) => Ok(done),
                Row::Pending(z, x) => {
                    cancelled()?;
                    let y = &labels[at..at + z.samples()];
                    let (tags, weights) = data.t.row(i as usize);
                    explain_row(&z, &x, y, tags, weights, row_omegas, opts)
                }
            })
            .collect::<Result<_>>()?;
        out.extend(explained);
        crate::common::progress::advance(group.len() as u64);
    }
    Ok(out)
}

/// A row of a group in [`lime_each`]: explained, or waiting for its perturbations' scores.
enum Row {
    Done(Vec<(Explanation, f64)>),
    Pending(lime::Perturbations, Vec<f64>),
}

/// One row's explanations at each of `omegas` from its perturbations `z` (as row-major data, `x`) and
/// their scores `y`, each with its rebuilt score ĝ (see [`lime_each`]).
fn explain_row(
    z: &lime::Perturbations,
    x: &[f64],
    y: &[f64],
    tags: &[u32],
    weights: &[f32],
    omegas: &[usize],
    opts: &ExplainOptions,
) -> Result<Vec<(Explanation, f64)>> {
    let w =
        lime::kernel_weights(&lime::cosine_distances(z), opts.kernel_width).map_err(kernel_err)?;
    let explanations = lime::explain_each_omega_rows(
        x,
        tags.len(),
        y,
        &w,
        omegas,
        opts.selection,
        opts.ridge_alpha,
    )
    .map_err(kernel_err)?;
    let mut per_omega = Vec::with_capacity(omegas.len());
    for (e, &omega) in explanations.iter().zip(omegas) {
        // The surrogate's coefficient is the effect of the whole tag (switching it from its
        // weight to 0); per unit of weight, like the other explainers, it is divided by the
        // weight, so that θ · T_i rebuilds the surrogate's score.
        let whole: Vec<(u32, f64)> = e
            .coefficients
            .iter()
            .filter(|&&(f, _)| weights[f] > 0.0)
            .map(|&(f, c)| (tags[f], c))
            .collect();
        let per_unit: Vec<(u32, f64)> = e
            .coefficients
            .iter()
            .filter(|&&(f, _)| weights[f] > 0.0)
            .map(|&(f, c)| (tags[f], c / weights[f] as f64))
            .collect();
        let kept = truncate(per_unit, omega);
        // ĝ from the undivided coefficients of the tags the explanation keeps.
        let g = canonical_sum(
            kept.iter()
                .filter_map(|&(t, _)| whole.iter().find(|&&(wt, _)| wt == t).map(|&(_, c)| c))
                .collect(),
        );
        per_omega.push((kept, g));
    }
    Ok(per_omega)
}
