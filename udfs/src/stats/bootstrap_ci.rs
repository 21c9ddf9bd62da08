//! `bootstrap_ci(model, n, seed)`: parametric-bootstrap confidence intervals of a mixed model's
//! parameters.

use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray, UInt64Array};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::exec_err;
use datafusion::error::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::lmer::{lmm_err, mixed_model, with_fit};
use super::lmm::LmmError;
use super::table_args::{column, table, Usage};
use crate::model::ModelCatalog;

const USAGE: Usage = Usage {
    name: "bootstrap_ci",
    usage: "bootstrap_ci('model', n, seed)",
};

#[user_doc(
    doc_section(label = "Statistics Functions"),
    description = "Parametric-bootstrap 95 % percentile intervals of a mixed model's parameters \
(as lme4's confint(method = 'boot')): n responses are simulated from the fitted model (fixed \
effects plus random effects and residuals drawn with the fitted variances, seeded), the model is \
refitted to each, and the 2.5 % and 97.5 % quantiles of each parameter over the refits are the \
interval. Parameters: the fixed effects by term, the SDs of the random terms and their \
correlations, and sigma. Columns: parameter, estimate (the fit's value), ci_lower, ci_upper, \
replicates (refits that succeeded). Progress is printed; Ctrl-C stops it.",
    syntax_example = "bootstrap_ci('model', n, seed)",
    sql_example = r#"```sql
> SELECT parameter, replicates FROM bootstrap_ci('sleep_fit', 20, 1) WHERE parameter = 'sigma';
+-----------+------------+
| parameter | replicates |
+-----------+------------+
| sigma     | 20         |
+-----------+------------+
```"#,
    argument(
        name = "model",
        description = "Name of a model of type 'lmer' (a string literal)."
    ),
    argument(
        name = "n",
        description = "Number of bootstrap samples (an integer literal, 1 to 100,000)."
    ),
    argument(
        name = "seed",
        description = "Seed of the simulation (an integer literal)."
    )
)]
#[derive(Debug, Default)]
pub struct BootstrapCiDoc;

impl BootstrapCiDoc {
    pub fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Progress lines about this often.
const PROGRESS_SECONDS: f64 = 2.0;

/// The `bootstrap_ci` table function.
#[derive(Debug)]
pub struct BootstrapCiFunc {
    catalog: Arc<dyn ModelCatalog>,
}

impl BootstrapCiFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self { catalog }
    }
}

impl TableFunctionImpl for BootstrapCiFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        USAGE.arity(exprs, 3, 3)?;
        let name = USAGE.text(exprs, 0, "model")?;
        let n = USAGE.int(exprs, 1, "n", 1, 100_000)? as usize;
        let seed = USAGE.int(exprs, 2, "seed", i64::MIN, i64::MAX)? as u64;
        let model = mixed_model(self.catalog.as_ref(), &name, USAGE.name)?;
        // The statement's cancellation, taken once (see ModelCatalog::cancel_token).
        let token = self.catalog.cancel_token();
        with_fit(&model, |fit| {
            let start = Instant::now();
            let mut last = 0.0;
            let mut cancelled = false;
            let mut control = |done: usize, total: usize| -> std::result::Result<(), LmmError> {
                if token.is_cancelled() {
                    cancelled = true;
                    return Err(LmmError::new("cancelled by the user"));
                }
                let t = start.elapsed().as_secs_f64();
                if t - last >= PROGRESS_SECONDS || done == total {
                    last = t;
                    self.catalog.progress(&format!(
                        "bootstrap_ci({name}): {done}/{total} refits in {t:.1} s"
                    ));
                }
                Ok(())
            };
            let rows = match fit.bootstrap(n, seed, &mut control) {
                Ok(rows) => rows,
                Err(_) if cancelled => return exec_err!("cancelled by the user"),
                Err(e) => return Err(lmm_err(e)),
            };
            let num = |g: fn(&super::lmm::BootstrapInterval) -> f64| -> ArrayRef {
                Arc::new(Float64Array::from_iter_values(rows.iter().map(g)))
            };
            table(vec![
                column(
                    "parameter",
                    Arc::new(StringArray::from_iter_values(
                        rows.iter().map(|r| &r.parameter),
                    )),
                    false,
                ),
                column("estimate", num(|r| r.estimate), false),
                column("ci_lower", num(|r| r.lower), false),
                column("ci_upper", num(|r| r.upper), false),
                column(
                    "replicates",
                    Arc::new(UInt64Array::from_iter_values(
                        rows.iter().map(|r| r.replicates as u64),
                    )),
                    false,
                ),
            ])
        })
    }
}
