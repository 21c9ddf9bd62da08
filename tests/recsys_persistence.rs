//! Every recommender type, trained through SQL, saved in the model store and reloaded by a new
//! session (a fresh registry reading the file), gives identical scores and recommendations.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float64Type;
use trustql::{Session, SessionOptions};

const SETUP: &str = "CREATE TABLE plays AS SELECT * FROM (VALUES
  (1, 10, 3.0), (1, 11, 1.0), (1, 12, 2.0), (2, 10, 1.0), (2, 13, 5.0), (3, 11, 2.0),
  (3, 12, 1.0), (3, 14, 1.0), (4, 10, 2.0), (4, 14, 3.0), (5, 13, 1.0), (5, 12, 4.0))
  AS t(\"user\", item, value)";
const TAGS: &str = "CREATE TABLE tags AS SELECT * FROM (VALUES
  (10, 'rock', 2.0), (10, 'pop', 1.0), (11, 'jazz', 3.0), (12, 'rock', 1.0), (12, 'indie', 2.0),
  (13, 'pop', 1.0), (13, 'jazz', 1.0), (14, 'indie', 1.0), (14, 'metal', 2.0))
  AS t(item, tag, weight)";
const SCORES: &str =
    "SELECT u, i, score('m', u, i) AS s FROM (SELECT DISTINCT \"user\" AS u FROM plays), \
  (SELECT DISTINCT item AS i FROM plays) ORDER BY u, i";

fn session(dir: &std::path::Path) -> Session {
    Session::with_options(SessionOptions {
        model_dir: dir.to_path_buf(),
        progress: None,
        status: None,
    })
    .unwrap()
}

fn scores(batches: &[RecordBatch]) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for b in batches {
        let s = b.column(2).as_primitive::<Float64Type>();
        out.extend((0..s.len()).map(|i| s.is_valid(i).then(|| s.value(i))));
    }
    out
}

#[tokio::test]
async fn every_type_scores_identically_after_reload_in_a_new_session() {
    let types = [
        ("inn", "dim = 3, tags = 'tags'"),
        ("unn", "dim = 3, tags = 'tags'"),
        ("fm", "dim = 4, epochs = 3, tags = 'tags'"),
        ("ncf", "dim = 4, epochs = 3, hidden = 8, tags = 'tags'"),
        ("wrmf", "dim = 3, iterations = 5"),
        ("mostpop", "tags = 'tags'"),
        ("random", "seed = 3"),
    ];
    for (ty, options) in types {
        let dir = tempfile::tempdir().unwrap();
        let a = session(dir.path());
        a.execute(SETUP).await.unwrap();
        a.execute(TAGS).await.unwrap();
        a.execute(&format!(
            "CREATE MODEL m OPTIONS (type = '{ty}', {options}) AS SELECT * FROM plays"
        ))
        .await
        .unwrap();
        let before = scores(&a.execute(SCORES).await.unwrap());
        let recs_sql =
            "SELECT \"user\", item, rank, score FROM recommend('m', 2) ORDER BY \"user\", rank";
        let recs_before = a.execute(recs_sql).await.unwrap();
        assert!(
            before.iter().all(|s| s.is_some_and(f64::is_finite)),
            "{ty}: {before:?}"
        );

        let b = session(dir.path());
        b.execute(SETUP).await.unwrap();
        let after = scores(&b.execute(SCORES).await.unwrap());
        assert_eq!(before, after, "{ty}: scores differ after reload");
        let recs_after = b.execute(recs_sql).await.unwrap();
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&recs_before)
                .unwrap()
                .to_string(),
            datafusion::arrow::util::pretty::pretty_format_batches(&recs_after)
                .unwrap()
                .to_string(),
            "{ty}: recommendations differ after reload"
        );
    }
}
