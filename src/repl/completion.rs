//! Tab completion in the REPL: backslash commands, SQL keywords, and the tables, columns,
//! functions and models of the session, whose names are refreshed after every statement.

use std::sync::{Arc, RwLock};

use rustyline::completion::{Completer, Pair};
use rustyline::hint::Hinter;
use rustyline::Context;

use super::{commands, ReplHelper};
use crate::session::Session;

/// Names the completer offers, refreshed after every statement.
#[derive(Debug, Default)]
pub(super) struct Names {
    pub(super) tables: Vec<String>,
    pub(super) columns: Vec<String>,
    pub(super) functions: Vec<String>,
    pub(super) models: Vec<String>,
}

impl Names {
    /// The names the session holds now.
    pub(super) fn of(session: &Session, runtime: &tokio::runtime::Runtime) -> Names {
        let ctx = session.context();
        let state = ctx.state();
        let mut fresh = Names::default();
        fresh
            .functions
            .extend(state.scalar_functions().keys().cloned());
        fresh
            .functions
            .extend(state.aggregate_functions().keys().cloned());
        fresh
            .functions
            .extend(state.window_functions().keys().cloned());
        for catalog_name in ctx.catalog_names() {
            let Some(catalog) = ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                if schema_name == "information_schema" {
                    continue;
                }
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for table in schema.table_names() {
                    if let Ok(Some(provider)) = runtime.block_on(schema.table(&table)) {
                        fresh
                            .columns
                            .extend(provider.schema().fields().iter().map(|f| f.name().clone()));
                    }
                    fresh.tables.push(table);
                }
            }
        }
        if let Ok((models, _)) = session.registry().list() {
            fresh.models = models.into_iter().map(|(h, _)| h.name).collect();
        }
        fresh.columns.sort();
        fresh.columns.dedup();
        fresh
    }

    /// Replaces the names in `shared` with the session's.
    pub(super) fn refresh(
        shared: &Arc<RwLock<Names>>,
        session: &Session,
        runtime: &tokio::runtime::Runtime,
    ) {
        let fresh = Names::of(session, runtime);
        if let Ok(mut n) = shared.write() {
            *n = fresh;
        }
    }
}

/// Where the word that ends at `pos` starts.
pub(super) fn word_start(line: &str, pos: usize) -> usize {
    line[..pos]
        .char_indices()
        .rev()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || *c == '\\'))
        .map(|(i, c)| i + c.len_utf8())
        .unwrap_or(0)
}

impl ReplHelper {
    /// What may complete `prefix`, the word at `start` of `line`.
    pub(super) fn candidates(&self, line: &str, start: usize, prefix: &str) -> Vec<Pair> {
        let lower = prefix.to_lowercase();
        let mut out: Vec<String> = Vec::new();
        if prefix.starts_with('\\') {
            out.extend(commands::names().map(str::to_string));
        } else if line.trim_start().starts_with("\\h") {
            if let Ok(n) = self.names.read() {
                out.extend(n.functions.iter().cloned());
            }
        } else if start > 0 && line[..start].ends_with('\'') {
            // Inside a string: model names, as in score('<TAB>
            if let Ok(n) = self.names.read() {
                out.extend(n.models.iter().cloned());
            }
        } else {
            if let Ok(n) = self.names.read() {
                out.extend(n.tables.iter().cloned());
                out.extend(n.columns.iter().cloned());
                out.extend(n.functions.iter().cloned());
            }
            let upper = prefix.chars().next().is_some_and(char::is_uppercase);
            out.extend(self.keywords.iter().map(|k| {
                if upper {
                    k.to_string()
                } else {
                    k.to_lowercase()
                }
            }));
        }
        let mut matched: Vec<String> = out
            .into_iter()
            .filter(|c| c.to_lowercase().starts_with(&lower) && c.len() >= prefix.len())
            .collect();
        matched.sort();
        matched.dedup();
        matched
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect()
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = word_start(line, pos);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((pos, Vec::new()));
        }
        Ok((start, self.candidates(line, start, prefix)))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;

    fn helper() -> ReplHelper {
        let names = Names {
            tables: vec!["plays".into()],
            columns: vec!["user_id".into(), "item_id".into()],
            functions: vec!["tau_ap".into(), "tau_ap_a".into(), "score".into()],
            models: vec!["pop".into()],
        };
        ReplHelper {
            names: Arc::new(RwLock::new(names)),
            keywords: ALL_KEYWORDS.to_vec(),
            color: true,
        }
    }

    fn complete(line: &str) -> Vec<String> {
        let h = helper();
        let start = word_start(line, line.len());
        h.candidates(line, start, &line[start..])
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn completes_keywords_tables_columns_functions_models_and_commands() {
        assert!(complete("SEL").contains(&"SELECT".to_string()));
        assert!(complete("sel").contains(&"select".to_string()));
        // Tables complete beside the keywords that share the prefix (PLACING, PLAIN, PLAN, ...).
        let from = complete("select * from pla");
        assert!(
            from.contains(&"plays".to_string()) && from.contains(&"plan".to_string()),
            "{from:?}"
        );
        assert!(complete("select user_").contains(&"user_id".to_string()));
        assert_eq!(complete("select tau_ap"), vec!["tau_ap", "tau_ap_a"]);
        assert_eq!(complete("select score('po"), vec!["pop"]);
        assert_eq!(complete("\\mo"), vec!["\\models"]);
        assert_eq!(complete("\\h tau_ap_"), vec!["tau_ap_a"]);
    }

    #[test]
    fn completes_the_new_commands() {
        assert_eq!(complete("\\max"), vec!["\\maxrows", "\\maxwidth"]);
        assert_eq!(complete("\\inc"), vec!["\\include"]);
        assert_eq!(complete("\\un"), vec!["\\unset"]);
    }
}
