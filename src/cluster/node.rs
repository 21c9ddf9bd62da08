//! What a scheduler or executor session holds, so that plans that name trustql's functions and
//! settings mean the same on every node as on the client.
//!
//! Functions travel in plans by name and are looked up in the node's session, built here over
//! the node's model registry. Settings travel as key/value pairs, and Ballista drops a key that
//! its config cannot take with only a debug log: every node's config therefore starts from
//! [`node_config`], which carries the `trustql.*` options, so `SET trustql.memory_limit` and
//! `SET trustql.device` on the client reach the functions on every executor.

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use trustql_udfs::engine::config::session_config;
use trustql_udfs::{Library, TrustqlOptions};

use crate::registry::ModelRegistry;

/// A node's session config: trustql's (with the `trustql.*` options) with Ballista's settings.
pub fn node_config() -> SessionConfig {
    session_config().upgrade_for_ballista()
}

/// `config` with the `trustql.*` options, added (at their defaults) when missing.
pub fn with_trustql_options(config: SessionConfig) -> SessionConfig {
    if config
        .options()
        .extensions
        .get::<TrustqlOptions>()
        .is_some()
    {
        config
    } else {
        config.with_option_extension(TrustqlOptions::default())
    }
}

/// What every session of a node shares: the model registry over the node's store and the
/// function library over that registry (built once; each session registers the same functions).
#[derive(Clone, Debug)]
pub struct NodeLibrary {
    /// Its functions hold the node's model registry.
    library: Library,
}

impl NodeLibrary {
    /// The library of a node whose model store is `model_dir`. A node runs no statements, so
    /// its registry checks a cached model against the model's file at every lookup.
    pub fn new(model_dir: impl Into<PathBuf>) -> Result<Self> {
        let registry = Arc::new(ModelRegistry::new(model_dir, Vec::new()));
        let library = trustql_udfs::library(registry.clone());
        registry.add_types(library.model_types())?;
        Ok(Self { library })
    }

    /// A session state with every trustql function and `config`'s settings.
    pub fn state(&self, config: SessionConfig) -> Result<SessionState> {
        let state = SessionStateBuilder::new()
            .with_default_features()
            .with_config(with_trustql_options(config))
            .with_runtime_env(Arc::new(RuntimeEnvBuilder::new().build()?))
            .build();
        let ctx = SessionContext::new_with_state(state);
        self.library.register(&ctx)?;
        Ok(ctx.state())
    }

    /// The functions an executor resolves plans against: DataFusion's and trustql's.
    pub fn function_registry(&self) -> Result<BallistaFunctionRegistry> {
        Ok(BallistaFunctionRegistry::from(&self.state(node_config())?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::FunctionRegistry;

    #[test]
    fn settings_and_functions_reach_a_node() {
        // Ballista sets a session's settings on the producer's config; one it cannot take is
        // dropped. The node's config must take trustql's.
        let mut config = node_config();
        config
            .options_mut()
            .set("trustql.memory_limit", "1MiB")
            .unwrap();
        assert_eq!(
            trustql_udfs::engine::memory::memory_limit(config.options()),
            1 << 20
        );
        let dir = tempfile::tempdir().unwrap();
        let node = NodeLibrary::new(dir.path()).unwrap();
        // A scheduler builds a session per client session, over one library.
        node.state(node_config()).unwrap();
        let functions = node.function_registry().unwrap();
        for name in ["fidelity", "tau_ap", "score"] {
            assert!(functions.udf(name).is_ok(), "{name}");
        }
        assert!(functions.udf("abs").is_ok());
        assert!(functions.udaf("count").is_ok());
    }
}
