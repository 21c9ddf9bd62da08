//! trustql: machine-learning trustworthiness experiments written as SQL, on Apache DataFusion.
//!
//! This crate is the engine around the function library [`trustql_udfs`]: the [`Session`]
//! (DataFusion context, `trustql.*` settings, model registry and model DDL), figures from queries
//! ([`plot`]), the model store, the CLI and the REPL. Embed it in a Rust program with
//!
//! ```no_run
//! # async fn run() -> datafusion::error::Result<()> {
//! let session = trustql::Session::new()?;
//! let batches = session.execute("SELECT tau_ap([3, 2, 1], [3, 1, 2])").await?;
//! # Ok(()) }
//! ```
//!
//! or register the functions on your own DataFusion context with [`register_functions`].

#[cfg(feature = "cluster")]
pub mod cluster;
pub mod interrupt;
pub mod plot;
pub mod print;
pub mod registry;
pub mod repl;
pub mod script;
pub mod session;
pub mod sql;
pub mod status;
pub mod store;
pub mod tables;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::context::SessionContext;

pub use session::{ProgressFn, Session, SessionOptions};
pub use trustql_udfs;

/// The default model store, relative to the working directory.
pub const DEFAULT_MODEL_DIR: &str = ".trustql/models";

/// Registers every trustql function on an existing DataFusion context; functions such as
/// `score` find models in the store at `model_dir`. The model DDL (`CREATE MODEL`, ...) is
/// statement-level and needs a [`Session`]. For `SET trustql.device`, build the context from
/// [`trustql_udfs::engine::config::session_config`].
pub fn register_functions(ctx: &SessionContext, model_dir: impl Into<PathBuf>) -> Result<()> {
    let registry = Arc::new(registry::ModelRegistry::new(model_dir, Vec::new()));
    session::install_library(ctx, &registry).map(|_| ())
}
