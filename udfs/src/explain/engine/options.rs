//! The explainers' options: the `options` argument of the SQL functions, parsed and checked
//! once, with the memory estimate of LIME's perturbations.

use datafusion::error::Result;

use crate::explain::kernels::lime::{self, FeatureSelection};

/// Options of the explainers, validated once (the `options` argument of the SQL functions:
/// `'samples = 1000, kernel_width = 25, feature_selection = lasso_path, seed = 7'`).
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainOptions {
    /// LIME: perturbations per explanation, the instance included (lime's default 5000).
    pub samples: usize,
    /// LIME: kernel width σ of π = √exp(−d²/σ²) on cosine distance × 100 (lime's default 25).
    pub kernel_width: f64,
    /// LIME: how the at most ω features are chosen (lime's `auto` by default).
    pub selection: FeatureSelection,
    /// LIME: the ridge penalty α of the surrogate (lime's `Ridge(alpha=1)`; 0 = unpenalised
    /// weighted least squares).
    pub ridge_alpha: f64,
    /// Random and LIME: the seed.
    pub seed: u64,
    /// Not an option of the string: the session's memory limit in bytes
    /// (`trustql.memory_limit`), which the caller sets; LIME checks `samples` against it.
    pub memory_limit: u64,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            samples: lime::DEFAULT_SAMPLES,
            kernel_width: lime::DEFAULT_KERNEL_WIDTH,
            selection: FeatureSelection::Auto,
            ridge_alpha: lime::SURROGATE_ALPHA,
            seed: 42,
            memory_limit: crate::engine::memory::default_memory_limit(),
        }
    }
}

/// The option names [`ExplainOptions::parse`] accepts, with their meaning.
pub const OPTION_NAMES: [(&str, &str); 5] = [
    (
        "samples",
        "LIME perturbations per explanation, the instance included (5000)",
    ),
    (
        "kernel_width",
        "LIME kernel width σ on cosine distance × 100 (25)",
    ),
    (
        "feature_selection",
        "LIME feature selection: auto, forward_selection, highest_weights, lasso_path, none (auto)",
    ),
    (
        "ridge_alpha",
        "LIME surrogate's ridge penalty α (1, as lime)",
    ),
    ("seed", "seed of Random and LIME (42)"),
];

impl ExplainOptions {
    /// Parses `name = value` pairs separated by commas. Every problem is an error that names it
    /// and the option's position in the list (1-based): an empty entry, an entry that is not
    /// `name = value`, an unknown name, a bad value, or a name given twice (which value was meant
    /// is not clear). An empty or blank string gives the defaults.
    pub fn parse(text: &str) -> std::result::Result<ExplainOptions, String> {
        let mut out = ExplainOptions::default();
        if text.trim().is_empty() {
            return Ok(out);
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        for (k, raw) in text.split(',').enumerate() {
            let position = k + 1;
            let part = raw.trim();
            let at = format!("option {position} of '{}'", text.trim());
            if part.is_empty() {
                return Err(format!(
                    "{at} is empty (options are name = value pairs separated by commas)"
                ));
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("{at} ('{part}') is not of the form name = value"));
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name.is_empty() || value.is_empty() {
                return Err(format!("{at} ('{part}') is not of the form name = value"));
            }
            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                return Err(format!(
                    "{at}: '{name}' is given twice (options {first} and {position}); give it once"
                ));
            }
            seen.push((name.clone(), position));
            let value = value.trim_matches('\'').trim_matches('"');
            let bad = |msg: String| format!("{at}: {msg}");
            match name.as_str() {
                "samples" => {
                    out.samples =
                        value
                            .parse()
                            .ok()
                            .filter(|&n: &usize| n >= 2)
                            .ok_or_else(|| {
                                bad(format!("samples must be an integer ≥ 2, got '{value}'"))
                            })?
                }
                "kernel_width" => {
                    out.kernel_width = value
                        .parse()
                        .ok()
                        .filter(|&w: &f64| w.is_finite() && w > 0.0)
                        .ok_or_else(|| {
                            bad(format!(
                                "kernel_width must be a positive number, got '{value}'"
                            ))
                        })?
                }
                "feature_selection" => {
                    out.selection = value.parse().map_err(|_| {
                        bad(format!(
                            "feature_selection must be one of auto, forward_selection, \
                             highest_weights, lasso_path, none; got '{value}'"
                        ))
                    })?
                }
                "ridge_alpha" => {
                    out.ridge_alpha = value
                        .parse()
                        .ok()
                        .filter(|&a: &f64| a.is_finite() && a >= 0.0)
                        .ok_or_else(|| {
                            bad(format!("ridge_alpha must be a number ≥ 0, got '{value}'"))
                        })?
                }
                "seed" => {
                    out.seed = value.parse().map_err(|_| {
                        bad(format!(
                            "seed must be a non-negative integer, got '{value}'"
                        ))
                    })?
                }
                _ => {
                    let known: Vec<&str> = OPTION_NAMES.iter().map(|o| o.0).collect();
                    return Err(bad(format!(
                        "unknown option '{name}' (known: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(out)
    }

    /// An error when LIME's buffers for `rows` rows explained together, whose items have at
    /// most `features` tags, would exceed [`Self::memory_limit`]. Per row the perturbation
    /// matrix (a byte and an f64 per sample and feature, and the surrogate's weighted copy,
    /// row- and column-major) and the per-sample vectors (distances, kernel weights, labels),
    /// for each row being explained at once (one per thread, at most `rows`); for the rows
    /// scored together the flat sparse rows (20 bytes per kept tag, 8 per sample for the ids),
    /// their labels and the perturbations kept until then (a byte and an f64 per sample and
    /// feature).
    pub fn check_lime_memory(&self, rows: usize, features: usize) -> Result<()> {
        let (s, d, r) = (self.samples as f64, features as f64, rows as f64);
        let at_once = rayon::current_num_threads().clamp(1, rows.max(1)) as f64;
        let per_row = s * (25.0 * d + 40.0) * at_once;
        let scored_together = r * s * (29.0 * d + 24.0);
        crate::engine::check_memory(
            &format!("option 'samples' = {}", self.samples),
            per_row + scored_together,
            self.memory_limit,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_reject() {
        let o = ExplainOptions::parse(
            "samples = 100, kernel_width=10, feature_selection = 'lasso_path', seed=7",
        )
        .unwrap();
        assert_eq!(o.samples, 100);
        assert_eq!(o.kernel_width, 10.0);
        assert_eq!(o.selection, FeatureSelection::LassoPath);
        assert_eq!(o.seed, 7);
        assert_eq!(
            ExplainOptions::parse("").unwrap(),
            ExplainOptions::default()
        );
        for (bad, needle) in [
            ("samples = 1", "samples"),
            ("kernel_width = -2", "kernel_width"),
            ("feature_selection = best", "feature_selection"),
            ("seed = x", "seed"),
            ("depth = 3", "unknown option 'depth'"),
            ("samples", "name = value"),
        ] {
            let e = ExplainOptions::parse(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        // Every error names the option's position; a repeated name, an empty entry, a missing
        // name or value are errors too (a repeated seed used to keep one of the two silently).
        for (bad, message) in [
            (
                "seed=1,seed=2",
                "option 2 of 'seed=1,seed=2': 'seed' is given twice (options 1 and 2); give it once",
            ),
            (
                "samples = 10, SEED = 1, seed = 1",
                "option 3 of 'samples = 10, SEED = 1, seed = 1': 'seed' is given twice (options 2 and 3); give it once",
            ),
            (
                "seed = 1,, samples = 10",
                "option 2 of 'seed = 1,, samples = 10' is empty (options are name = value pairs separated by commas)",
            ),
            (
                "seed = 1,",
                "option 2 of 'seed = 1,' is empty (options are name = value pairs separated by commas)",
            ),
            ("= 3", "option 1 of '= 3' ('= 3') is not of the form name = value"),
            ("seed =", "option 1 of 'seed =' ('seed =') is not of the form name = value"),
            (
                "seed = 1, samples 10",
                "option 2 of 'seed = 1, samples 10' ('samples 10') is not of the form name = value",
            ),
            (
                "seed = 1, depth = 3",
                "option 2 of 'seed = 1, depth = 3': unknown option 'depth' (known: samples, kernel_width, feature_selection, ridge_alpha, seed)",
            ),
            (
                "samples = 2.5",
                "option 1 of 'samples = 2.5': samples must be an integer ≥ 2, got '2.5'",
            ),
        ] {
            assert_eq!(ExplainOptions::parse(bad).unwrap_err(), message, "{bad}");
        }
        // Blank strings are the defaults.
        assert_eq!(
            ExplainOptions::parse("  ").unwrap(),
            ExplainOptions::default()
        );
    }

    #[test]
    fn lime_memory_estimate_by_hand() {
        let opts = ExplainOptions {
            samples: 1000,
            memory_limit: 1 << 30,
            ..Default::default()
        };
        // 65 rows scored together, items of at most 10 tags, one row explained per thread:
        // threads · 1000 · (25·10 + 40) + 65 · 1000 · (29·10 + 24) = threads · 290,000 +
        // 20,410,000 bytes.
        assert!(opts.check_lime_memory(65, 10).is_ok());
        let threads = rayon::current_num_threads().clamp(1, 65);
        let need = threads as u64 * 290_000 + 20_410_000;
        let tight = ExplainOptions {
            memory_limit: need - 1,
            ..opts.clone()
        };
        let e = tight.check_lime_memory(65, 10).unwrap_err().to_string();
        let mib = format!("{:.1} MiB", need as f64 / (1 << 20) as f64);
        assert!(
            e.contains(&format!("option 'samples' = 1000 needs about {mib}")),
            "{e}"
        );
        let exact = ExplainOptions {
            memory_limit: need,
            ..opts
        };
        assert!(exact.check_lime_memory(65, 10).is_ok());
    }
}
