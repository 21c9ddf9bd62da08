//! `fidelity(model, explainer, user, omega [, n_items [, options]])`: how well an explainer's
//! explanations of complexity ω rebuild a recommender's ranking for a user (thesis eq. 5.21).

use datafusion::common::{exec_datafusion_err, plan_datafusion_err};
use std::hash::Hash;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use super::engine::{fidelity_queries, CandidateCache, ExplainOptions, Method, PdpCache};
use super::function::{check_omega, options_argument, options_type};
use crate::common::adapters::columnar;
use crate::common::adapters::Cache;
use crate::common::args::model_name_type;
use crate::common::progress::{self, Meter};
use crate::engine::config::{device_setting, resolve_device};
use crate::model::CatalogRef;
use crate::model::{KeyColumn, ModelCatalog};
use crate::recsys::recommender::Recommender;
use crate::recsys::{id_type, recommender_model};

/// Candidate items per user when `n_items` is not given.
pub const DEFAULT_N_ITEMS: usize = 20;

#[user_doc(
    doc_section(label = "Explainer Functions"),
    description = "Fidelity of an explainer for a user at complexity omega (thesis eq. 5.21): \
the reference list is the recommender's scores f(u, i) of the user's top n_items unseen items \
(default 20; 'all' for every unseen item); each item's explanation (per item for random, \
saliency and lime; the user's for pdp), truncated to omega tags, rebuilds a score \
g_i = theta . T_i; fidelity is tau_AP,a(f, g), which handles the many ties of g. 1 = the \
explanations rank the items exactly as the model does, 0 = no better than chance, -1 = reversed. \
Candidates with equal f keep the order of the top list. NULL for NULL arguments, an unknown \
user, or fewer than 2 candidate items. The explainer is 'random', 'pdp', 'saliency' or 'lime'; options as for explain_lime.",
    syntax_example = "fidelity(model, explainer, user, omega [, n_items [, options]])",
    sql_example = r#"```sql
> CREATE VIEW tg AS SELECT * FROM (VALUES (10, 'rock', 1.0), (10, 'guitar', 2.0), (20, 'pop', 1.0),
  (20, 'guitar', 1.0), (30, 'rock', 1.0), (30, 'pop', 3.0), (40, 'jazz', 1.0)) AS t(item, tag, weight);
> CREATE MODEL nn OPTIONS (type = 'inn', dim = 2, tags = 'tg') AS SELECT * FROM (VALUES
  (1, 10), (1, 20), (2, 10), (2, 30), (3, 20), (3, 40), (4, 30)) AS t("user", item);
> SELECT fidelity('nn', 'saliency', 4, 2) BETWEEN -1 AND 1 AS in_range,
  fidelity('nn', 'lime', 99, 1) AS unknown_user;
+----------+--------------+
| in_range | unknown_user |
+----------+--------------+
| true     | NULL         |
+----------+--------------+
```"#,
    argument(name = "model", description = "Name of a recommender model."),
    argument(
        name = "explainer",
        description = "'random', 'pdp', 'saliency' or 'lime' (a string; may be a column)."
    ),
    argument(name = "user", description = "User id (integer or text)."),
    argument(name = "omega", description = "Complexity ω ≥ 1."),
    argument(
        name = "n_items",
        description = "Candidate items: the user's top n (an integer ≥ 2, default 20) or 'all'."
    ),
    argument(
        name = "options",
        description = "Optional constant string of explainer options, as for explain_lime."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FidelityFunc {
    signature: Signature,
    catalog: CatalogRef,
    pdp: Cache<PdpCache>,
    candidates: Cache<CandidateCache>,
}

impl FidelityFunc {
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Stable),
            catalog: CatalogRef(catalog),
            pdp: Cache::default(),
            candidates: Cache::default(),
        }
    }
}

const NAME: &str = "fidelity";

/// `n_items` from its argument value: an integer ≥ 2 or 'all' (usize::MAX).
fn n_items_value(v: &ScalarValue) -> Result<Option<usize>> {
    match v {
        ScalarValue::Int64(None) | ScalarValue::Utf8(None) | ScalarValue::Null => Ok(None),
        ScalarValue::Int64(Some(n)) if *n >= 2 => Ok(Some(*n as usize)),
        ScalarValue::Int64(Some(n)) => {
            exec_err!("{NAME}: n_items must be at least 2 (or 'all'), got {n}")
        }
        ScalarValue::Utf8(Some(s)) if s.trim().eq_ignore_ascii_case("all") => Ok(Some(usize::MAX)),
        other => exec_err!("{NAME}: n_items must be an integer ≥ 2 or 'all', got {other}"),
    }
}

fn explainer(name: &str) -> Result<Method> {
    Method::parse(name).ok_or_else(|| {
        exec_datafusion_err!(
            "{NAME}: unknown explainer '{name}' (known: random, pdp, saliency, lime)"
        )
    })
}

impl ScalarUDFImpl for FidelityFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(4..=6).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME}(model, explainer, user, omega [, n_items [, options]]) takes 4 to 6 \
                 arguments, got {}",
                arg_types.len()
            );
        }
        let omega = &arg_types[3];
        if !(omega.is_integer() || omega == &DataType::Null) {
            return plan_err!("{NAME}: omega must be an integer, got {omega}");
        }
        let mut out = vec![
            model_name_type(NAME, &arg_types[0])?,
            model_name_type(NAME, &arg_types[1]).map_err(|_| {
                plan_datafusion_err!(
                    "{NAME}: the explainer must be a string ('random', 'pdp', 'saliency' or \
                     'lime'), got {}",
                    arg_types[1]
                )
            })?,
            id_type(NAME, "user", &arg_types[2])?,
            DataType::Int64,
        ];
        if let Some(t) = arg_types.get(4) {
            out.push(match t {
                t if t.is_integer() || t == &DataType::Null => DataType::Int64,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
                other => {
                    return plan_err!("{NAME}: n_items must be an integer or 'all', got {other}")
                }
            });
        }
        if let Some(t) = arg_types.get(5) {
            out.push(options_type(NAME, t)?);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if let Some(Some(ScalarValue::Utf8(Some(name)))) = args.scalar_arguments.first() {
            recommender_model(self.catalog.as_ref(), name, NAME)?;
        }
        if let Some(Some(ScalarValue::Utf8(Some(e)))) = args.scalar_arguments.get(1) {
            explainer(e).map_err(|e| {
                DataFusionError::Plan(e.to_string().replace("Execution error: ", ""))
            })?;
        }
        if let Some(Some(v)) = args.scalar_arguments.get(4) {
            n_items_value(v).map_err(|e| DataFusionError::Plan(e.to_string()))?;
        }
        if let Some(Some(ScalarValue::Utf8(Some(text)))) = args.scalar_arguments.get(5) {
            ExplainOptions::parse(text).map_err(|e| plan_datafusion_err!("{NAME}: {e}"))?;
        }
        Ok(Arc::new(Field::new(NAME, DataType::Float64, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let device = resolve_device(device_setting(&args.config_options))?;
        // The statement's cancellation, taken once (see ModelCatalog::cancel_token).
        let token = self.catalog.cancel_token();
        let mut opts = options_argument(NAME, args.args.get(5))?;
        opts.memory_limit = crate::engine::memory_limit(&args.config_options);
        let n_items = match args.args.get(4) {
            None => DEFAULT_N_ITEMS,
            Some(ColumnarValue::Scalar(v)) => n_items_value(v)?.unwrap_or(DEFAULT_N_ITEMS),
            Some(ColumnarValue::Array(_)) => {
                return exec_err!("{NAME}: n_items must be a constant, not a column")
            }
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[..4])?;
        let models = arrays[0].as_string::<i32>();
        let explainers = arrays[1].as_string::<i32>();
        let users = KeyColumn::try_new(&arrays[2], &format!("{NAME}: the user argument"))?;
        let omegas = arrays[3].as_primitive::<Int64Type>();
        let n = models.len();
        let mut out: Vec<Option<f64>> = vec![None; n];
        // Rows are grouped by (model, explainer), so that the rows of one user at several ωs share
        // the user's candidates and (for LIME) scored perturbations.
        let mut groups: Vec<((String, String), Vec<usize>)> = Vec::new();
        for row in 0..n {
            if models.is_null(row) || explainers.is_null(row) || omegas.is_null(row) {
                continue;
            }
            let key = (
                models.value(row).to_string(),
                explainers.value(row).to_string(),
            );
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rows)) => rows.push(row),
                None => groups.push((key, vec![row])),
            }
        }
        for ((name, method), rows) in groups {
            let started = std::time::Instant::now();
            let method = explainer(&method)?;
            let model = recommender_model(self.catalog.as_ref(), &name, NAME)?;
            let Some(rec) = model.model.capability::<dyn Recommender>() else {
                return exec_err!("model '{name}' is not a recommender");
            };
            let data = rec.data();
            if arrays[2].data_type() != &DataType::Null && users.kind() != data.users.kind() {
                return exec_err!(
                    "{NAME}: model '{name}' was trained on {} user ids, got {} ids",
                    data.users.kind().name(),
                    users.kind().name()
                );
            }
            let (mut queries, mut at) = (Vec::new(), Vec::new());
            for row in rows {
                let omega = check_omega(NAME, omegas.value(row))?;
                if let Some(u) = users.get(row).and_then(|u| data.users.get(u)) {
                    queries.push((u, omega));
                    at.push(row);
                }
            }
            // Counts candidate items; fidelity_queries sets the total.
            let meter = Meter::start(
                self.catalog.status_sink(),
                format!("fidelity({name}, {})", method.name()),
                "items",
                None,
            );
            let _scope = progress::enter(meter.as_ref());
            self.pdp.bind(&model, rec);
            let values = fidelity_queries(
                rec,
                device,
                method,
                &queries,
                n_items.min(data.n_items()),
                &opts,
                &self.pdp,
                Some((&self.candidates, &model)),
                &|| token.check(),
            )?;
            self.catalog.progress(&format!(
                "fidelity({name}, {}): {} rows in {:.1} s",
                method.name(),
                at.len(),
                started.elapsed().as_secs_f64()
            ));
            for (row, v) in at.into_iter().zip(values) {
                out[row] = v;
            }
        }
        columnar(Arc::new(Float64Array::from(out)), all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
