//! Embedding trustql in a Rust program, two ways:
//!
//! 1. open a `trustql::Session` (functions, settings, model DDL and model store included);
//! 2. register the trustql functions on a DataFusion `SessionContext` you already have.
//!
//! Run with `cargo run --example embed` from the repository root.

use datafusion::arrow::util::pretty::print_batches;
use datafusion::error::Result;
use datafusion::prelude::SessionContext;
use trustql::{Session, SessionOptions};

#[tokio::main]
async fn main() -> Result<()> {
    // 1. A trustql session with its own model store.
    let store = std::env::temp_dir().join("trustql-embed-example");
    let session = Session::with_options(SessionOptions {
        model_dir: store.clone(),
        progress: Some(std::sync::Arc::new(|line: &str| {
            eprintln!("progress: {line}")
        })),
        status: None,
    })?;
    session
        .execute(
            "CREATE OR REPLACE MODEL pop OPTIONS (type = 'mostpop') AS \
             SELECT * FROM (VALUES (1, 'a'), (2, 'a'), (2, 'b'), (3, 'c')) AS t(\"user\", item)",
        )
        .await?;
    let batches = session
        .execute(
            "SELECT item, score('pop', 1, item) AS popularity, \
                    tau_ap_a([3, 2, 1], [3, 1, 1]) AS tau_ap_a \
             FROM (VALUES ('a'), ('b'), ('c'), ('unknown')) AS t(item) ORDER BY item",
        )
        .await?;
    print_batches(&batches)?;

    // 2. Your own DataFusion context, with trustql's functions registered on it.
    let ctx = SessionContext::new();
    trustql::register_functions(&ctx, &store)?;
    let batches = ctx
        .sql("SELECT spearman_agg(x, y) AS rho, score('pop', 2, 'b') AS score FROM (VALUES (1, 2), (2, 1), (3, 3)) AS t(x, y)")
        .await?
        .collect()
        .await?;
    print_batches(&batches)?;
    Ok(())
}
