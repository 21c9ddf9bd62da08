//! The one list of what the function library offers: model types and SQL functions, with their
//! documentation.
//!
//! It exists so that registration, documentation (`\h`, `SHOW FUNCTIONS`) and the docs test are
//! all derived from one list, and so that every domain, and every program that extends trustql,
//! contributes the same way: a domain's `register(&mut Library)` adds its model types and
//! functions; [`crate::library`] collects every domain; a session registers the result. A
//! table function cannot be added without its documentation (DataFusion's table functions
//! carry none), and [`Library::check`] refuses an undocumented function and a name used twice,
//! so a mistake shows when the library is built, in every test, and not in front of a user.
//! The kinds are DataFusion's: scalar, aggregate and window functions (`lib.scalar`,
//! `lib.aggregate`, `lib.window`) and table functions (`lib.table`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    AggregateUDF, AggregateUDFImpl, Documentation, ScalarUDF, ScalarUDFImpl, WindowUDF,
    WindowUDFImpl,
};

use crate::model::{ModelCatalog, ModelType};

/// What kind of SQL function an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FunctionKind {
    Scalar,
    Aggregate,
    /// Called with an `OVER (...)` clause: a value per row, from the rows of its window.
    Window,
    Table,
}

impl FunctionKind {
    pub fn name(self) -> &'static str {
        match self {
            FunctionKind::Scalar => "scalar",
            FunctionKind::Aggregate => "aggregate",
            FunctionKind::Window => "window",
            FunctionKind::Table => "table",
        }
    }
}

/// A table function with its name and documentation.
#[derive(Debug, Clone)]
pub struct TableFunction {
    pub name: String,
    pub function: Arc<dyn TableFunctionImpl>,
    /// `None` only for a function added without documentation, which [`Library::check`]
    /// refuses.
    pub documentation: Option<Documentation>,
}

/// Model types and SQL functions, collected from the domains (see the module docs).
#[derive(Debug, Clone)]
pub struct Library {
    catalog: Arc<dyn ModelCatalog>,
    model_types: Vec<Arc<dyn ModelType>>,
    scalars: Vec<Arc<ScalarUDF>>,
    aggregates: Vec<Arc<AggregateUDF>>,
    windows: Vec<Arc<WindowUDF>>,
    tables: Vec<TableFunction>,
}

impl Library {
    /// An empty library whose functions look models up in `catalog`.
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        Self {
            catalog,
            model_types: Vec::new(),
            scalars: Vec::new(),
            aggregates: Vec::new(),
            windows: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// The catalog that functions added to this library look models up in.
    pub fn catalog(&self) -> Arc<dyn ModelCatalog> {
        self.catalog.clone()
    }

    /// Adds a model type (what `CREATE MODEL ... OPTIONS (type = '<name>')` accepts).
    pub fn model_type(&mut self, model_type: impl ModelType + 'static) -> &mut Self {
        self.model_types.push(Arc::new(model_type));
        self
    }

    /// Adds a scalar function (documented with `#[user_doc]`).
    pub fn scalar(&mut self, function: impl ScalarUDFImpl + 'static) -> &mut Self {
        self.scalars
            .push(Arc::new(ScalarUDF::new_from_impl(function)));
        self
    }

    /// Adds an aggregate function (documented with `#[user_doc]`).
    pub fn aggregate(&mut self, function: impl AggregateUDFImpl + 'static) -> &mut Self {
        self.aggregates
            .push(Arc::new(AggregateUDF::new_from_impl(function)));
        self
    }

    /// Adds a window function (documented with `#[user_doc]`): one called with an `OVER (...)`
    /// clause, such as `quantile_normal(x) OVER (PARTITION BY dim)`.
    pub fn window(&mut self, function: impl WindowUDFImpl + 'static) -> &mut Self {
        self.windows
            .push(Arc::new(WindowUDF::new_from_impl(function)));
        self
    }

    /// Adds a table function with its documentation (a `#[user_doc]` struct's `doc()`).
    /// `None` is accepted here so that the generated `Option` can be passed as it is, and
    /// refused by [`Library::check`].
    pub fn table(
        &mut self,
        name: &str,
        function: impl TableFunctionImpl + 'static,
        documentation: Option<&Documentation>,
    ) -> &mut Self {
        self.tables.push(TableFunction {
            name: name.to_string(),
            function: Arc::new(function),
            documentation: documentation.cloned(),
        });
        self
    }

    /// Adds everything of `other` (its catalog is not used).
    pub fn extend(&mut self, other: Library) -> &mut Self {
        self.model_types.extend(other.model_types);
        self.scalars.extend(other.scalars);
        self.aggregates.extend(other.aggregates);
        self.windows.extend(other.windows);
        self.tables.extend(other.tables);
        self
    }

    pub fn model_types(&self) -> &[Arc<dyn ModelType>] {
        &self.model_types
    }

    pub fn scalar_functions(&self) -> &[Arc<ScalarUDF>] {
        &self.scalars
    }

    pub fn aggregate_functions(&self) -> &[Arc<AggregateUDF>] {
        &self.aggregates
    }

    pub fn window_functions(&self) -> &[Arc<WindowUDF>] {
        &self.windows
    }

    pub fn table_functions(&self) -> &[TableFunction] {
        &self.tables
    }

    /// Every function: name, kind and documentation (`None` for an undocumented one, which
    /// [`Library::check`] refuses).
    pub fn functions(&self) -> Vec<(String, FunctionKind, Option<Documentation>)> {
        let scalars = self.scalars.iter().map(|f| {
            (
                f.name().to_string(),
                FunctionKind::Scalar,
                f.documentation().cloned(),
            )
        });
        let aggregates = self.aggregates.iter().map(|f| {
            (
                f.name().to_string(),
                FunctionKind::Aggregate,
                f.documentation().cloned(),
            )
        });
        let windows = self.windows.iter().map(|f| {
            (
                f.name().to_string(),
                FunctionKind::Window,
                f.documentation().cloned(),
            )
        });
        let tables = self
            .tables
            .iter()
            .map(|t| (t.name.clone(), FunctionKind::Table, t.documentation.clone()));
        scalars
            .chain(aggregates)
            .chain(windows)
            .chain(tables)
            .collect()
    }

    /// The documentation of the function called `name` (case-insensitive).
    pub fn documentation(&self, name: &str) -> Option<Documentation> {
        let name = name.to_ascii_lowercase();
        self.functions()
            .into_iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, _, doc)| doc)
    }

    /// Refuses a library in which two functions, or two model types, share a name, or a
    /// function has no documentation (description, syntax and an SQL example).
    pub fn check(&self) -> Result<()> {
        let mut seen: BTreeMap<String, FunctionKind> = BTreeMap::new();
        for (name, kind, doc) in self.functions() {
            if let Some(first) = seen.insert(name.clone(), kind) {
                return plan_err!(
                    "two functions are called '{name}' (a {} and a {} function); function names \
                     must be unique",
                    first.name(),
                    kind.name()
                );
            }
            let Some(doc) = doc else {
                return plan_err!(
                    "function '{name}' has no documentation; document it with #[user_doc] \
                     (description, syntax_example, sql_example)"
                );
            };
            if doc.syntax_example.is_empty() || doc.sql_example.is_none() {
                return plan_err!(
                    "function '{name}' has no syntax or SQL example in its documentation"
                );
            }
        }
        let mut types = BTreeMap::new();
        for t in &self.model_types {
            if types.insert(t.name(), ()).is_some() {
                return plan_err!(
                    "two model types are called '{}'; model type names must be unique",
                    t.name()
                );
            }
        }
        Ok(())
    }

    /// Registers every function on `ctx`, after [`Library::check`]. Model types are not
    /// functions: the session's model registry takes them ([`Library::model_types`]).
    pub fn register(&self, ctx: &SessionContext) -> Result<()> {
        self.check()?;
        for f in &self.scalars {
            ctx.register_udf(f.as_ref().clone());
        }
        for f in &self.aggregates {
            ctx.register_udaf(f.as_ref().clone());
        }
        for f in &self.windows {
            ctx.register_udwf(f.as_ref().clone());
        }
        for t in &self.tables {
            ctx.register_udtf(
                &t.name,
                crate::call_scan::named_calls(&t.name, t.function.clone()),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NoModels;

    fn trustql() -> Library {
        crate::library(Arc::new(NoModels))
    }

    #[test]
    fn the_library_is_documented_and_its_names_are_unique() {
        let lib = trustql();
        lib.check().unwrap();
        assert!(lib.functions().len() > 60);
        assert!(lib.model_types().len() >= 10);
        // A model type name is not a function name either (`SHOW MODEL TYPES` and `\h` would
        // answer differently for one word).
        for t in lib.model_types() {
            assert!(
                !lib.functions().iter().any(|(n, _, _)| n == t.name()),
                "model type '{}' has the name of a function",
                t.name()
            );
        }
    }

    /// trustql functions that replace DataFusion's function of the same name on purpose, and why.
    const REPLACES: &[(&str, &str)] = &[(
        "cosine_distance",
        "DataFusion's returns NULL for a zero vector; trustql's is an error (a distance of an \
         all-zero embedding is a broken encoder, not a missing value), as the consistency \
         measures of thesis ch. 4 need",
    )];

    #[test]
    fn no_function_shadows_a_datafusion_function_except_on_purpose() {
        let ctx = SessionContext::new();
        let state = ctx.state();
        let mut shadows = Vec::new();
        for (name, _, _) in trustql().functions() {
            if state.scalar_functions().contains_key(&name)
                || state.aggregate_functions().contains_key(&name)
                || state.window_functions().contains_key(&name)
                || state.table_functions().contains_key(&name)
            {
                shadows.push(name);
            }
        }
        let on_purpose: Vec<&str> = REPLACES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            shadows, on_purpose,
            "trustql functions that shadow a DataFusion function (add a deliberate one to REPLACES)"
        );
    }

    /// A window function without documentation.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Undocumented(datafusion::logical_expr::Signature);

    impl Default for Undocumented {
        fn default() -> Self {
            Self(datafusion::logical_expr::Signature::any(
                1,
                datafusion::logical_expr::Volatility::Immutable,
            ))
        }
    }

    impl WindowUDFImpl for Undocumented {
        fn name(&self) -> &str {
            "undocumented_window"
        }
        fn signature(&self) -> &datafusion::logical_expr::Signature {
            &self.0
        }
        fn partition_evaluator(
            &self,
            _args: datafusion::logical_expr::function::PartitionEvaluatorArgs,
        ) -> Result<Box<dyn datafusion::logical_expr::PartitionEvaluator>> {
            plan_err!("not called")
        }
        fn field(
            &self,
            args: datafusion::logical_expr::function::WindowUDFFieldArgs,
        ) -> Result<datafusion::arrow::datatypes::FieldRef> {
            Ok(Arc::new(datafusion::arrow::datatypes::Field::new(
                args.name(),
                datafusion::arrow::datatypes::DataType::Float64,
                true,
            )))
        }
    }

    #[test]
    fn window_functions_are_listed_registered_and_documented() {
        let lib = trustql();
        let windows: Vec<String> = lib
            .functions()
            .into_iter()
            .filter(|(_, kind, _)| *kind == FunctionKind::Window)
            .map(|(name, _, _)| name)
            .collect();
        assert_eq!(windows, ["quantile_normal"]);
        assert!(lib
            .documentation("QUANTILE_NORMAL")
            .is_some_and(|d| d.syntax_example.contains("OVER")));
        let ctx = SessionContext::new();
        lib.register(&ctx).unwrap();
        assert!(ctx
            .state()
            .window_functions()
            .contains_key("quantile_normal"));
    }

    #[test]
    fn refuses_a_name_used_twice_and_an_undocumented_function() {
        let mut lib = trustql();
        lib.extend(trustql());
        let e = lib.check().unwrap_err().to_string();
        assert!(e.contains("two functions are called"), "{e}");

        let mut lib = Library::new(Arc::new(NoModels));
        lib.table("undocumented", crate::stats::tsne::function::TsneFunc, None);
        let e = lib.check().unwrap_err().to_string();
        assert!(
            e.contains("function 'undocumented' has no documentation"),
            "{e}"
        );

        // A window function is held to the same rules.
        let mut lib = Library::new(Arc::new(NoModels));
        lib.window(Undocumented::default());
        let e = lib.check().unwrap_err().to_string();
        assert!(
            e.contains("function 'undocumented_window' has no documentation"),
            "{e}"
        );
        let mut lib = Library::new(Arc::new(NoModels));
        lib.window(crate::latent::quantile_normal::QuantileNormalFunc::new())
            .scalar(crate::latent::gmm_posterior::GmmPosteriorFunc::new(
                Arc::new(NoModels),
            ));
        lib.check().unwrap();
        lib.window(crate::latent::quantile_normal::QuantileNormalFunc::new());
        let e = lib.check().unwrap_err().to_string();
        assert!(
            e.contains(
                "two functions are called 'quantile_normal' (a window and a window function)"
            ),
            "{e}"
        );

        let mut lib = Library::new(Arc::new(NoModels));
        lib.model_type(crate::stats::lmer::LmerType)
            .model_type(crate::stats::lmer::LmerType);
        let e = lib.check().unwrap_err().to_string();
        assert!(e.contains("two model types are called 'lmer'"), "{e}");
    }
}
