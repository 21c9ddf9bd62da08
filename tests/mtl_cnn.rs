//! The `mtl_cnn` model type through SQL (thesis ch. 2): training on a small synthetic set of
//! tone "tracks" lowers the loss, the stored model reloads identically, the same seed gives the
//! same model (CPU), and Ctrl-C stops training with the last checkpoint kept in the store.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Float32Type;
use trustql::{Session, SessionOptions};

fn session(dir: &std::path::Path) -> Session {
    Session::with_options(SessionOptions {
        model_dir: dir.to_path_buf(),
        progress: None,
        status: None,
    })
    .unwrap()
}

/// Eight 1.2 s tracks: two tones each, low ones (tracks 1–4) and high ones (5–8), stereo with
/// the right channel quieter; `tag` tells low from high, `bpm` is missing for odd tracks.
const TRACKS: &str = "CREATE TABLE tracks AS \
    SELECT t AS track, \
      make_array(array_agg(CAST(0.5 * sin(2 * pi() * f * i / 22050.0) + 0.2 * sin(2 * pi() * 2.7 * f * i / 22050.0) AS REAL) ORDER BY i), \
                 array_agg(CAST(0.3 * sin(2 * pi() * f * i / 22050.0) AS REAL) ORDER BY i)) AS audio, \
      CASE WHEN t <= 4 THEN make_array(0.9, 0.05, 0.05) ELSE make_array(0.05, 0.05, 0.9) END AS tag, \
      CASE WHEN t % 2 = 0 THEN make_array(0.5, 0.5) END AS bpm \
    FROM (SELECT value AS t, CASE WHEN value <= 4 THEN 110.0 * value ELSE 900.0 * value END AS f FROM generate_series(1, 8)) \
    CROSS JOIN (SELECT value AS i FROM generate_series(0, 26999)) \
    GROUP BY t, f";

const REPRESENT: &str = "SELECT track, represent('rep', audio) FROM tracks ORDER BY track";

fn vectors(batches: &[RecordBatch]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for b in batches {
        let list = b.column(1).as_list::<i32>();
        for r in 0..list.len() {
            out.push(
                list.value(r)
                    .as_primitive::<Float32Type>()
                    .values()
                    .to_vec(),
            );
        }
    }
    out
}

/// A training fact of `DESCRIBE MODEL`.
fn fact(batches: &[RecordBatch], name: &str) -> String {
    for b in batches {
        let (k, v) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        for r in 0..b.num_rows() {
            if k.value(r) == name {
                return v.value(r).to_string();
            }
        }
    }
    panic!("no fact {name}");
}

fn create(name: &str, strategy: &str, extra: &str, seed: u64) -> String {
    format!(
        "CREATE OR REPLACE MODEL {name} OPTIONS (type = 'mtl_cnn', strategy = '{strategy}', {extra}, \
         width = 0.125, crop_frames = 64, batch_size = 4, seed = {seed}) \
         AS SELECT track, audio, tag, bpm FROM tracks"
    )
}

#[tokio::test]
async fn mtl_cnn_learns_reloads_and_repeats_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = session(dir.path());
    a.execute(TRACKS).await.unwrap();
    // One source: the KL loss falls over a seeded run.
    a.execute(&create(
        "tagger",
        "ss_r",
        "sources = 'tag', epochs = 8, iterations_per_epoch = 6, lr = 0.003",
        3,
    ))
    .await
    .unwrap();
    let d = a.execute("DESCRIBE MODEL tagger").await.unwrap();
    let l: Vec<f64> = fact(&d, "training: loss by epoch")
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(l.len(), 8);
    assert!((l[6] + l[7]) / 2.0 < (l[0] + l[1]) / 2.0, "losses {l:?}");
    assert_eq!(fact(&d, "training: tracks: tag"), "8");

    // Three sources branching at conv4: bpm is drawn only from the tracks that have it.
    a.execute(&create(
        "rep",
        "ms_cr",
        "branch_at = 4, sources = 'self,tag,bpm', epochs = 2",
        5,
    ))
    .await
    .unwrap();
    let d = a.execute("DESCRIBE MODEL rep").await.unwrap();
    assert_eq!(fact(&d, "training: tracks: bpm"), "4");
    assert_eq!(fact(&d, "training: iterations per epoch"), "6");
    assert_eq!(fact(&d, "representation"), "192 float32");
    let before = vectors(&a.execute(REPRESENT).await.unwrap());
    assert_eq!(before.len(), 8);
    assert!(before
        .iter()
        .all(|v| v.len() == 192 && v.iter().all(|x| x.is_finite())));
    assert_ne!(before[0], before[7]);

    // A new session reads the file and represents identically.
    let b = session(dir.path());
    b.execute(TRACKS).await.unwrap();
    assert_eq!(vectors(&b.execute(REPRESENT).await.unwrap()), before);

    // The same seed trains the same model (CPU); another seed another one.
    for (seed, same) in [(5, true), (6, false)] {
        b.execute(&create(
            "rep",
            "ms_cr",
            "branch_at = 4, sources = 'self,tag,bpm', epochs = 2",
            seed,
        ))
        .await
        .unwrap();
        let again = vectors(&b.execute(REPRESENT).await.unwrap());
        assert_eq!(again == before, same, "seed {seed}");
    }

    // embed gives represent's vector for a mono clip.
    let e = b
        .execute("SELECT bool_and(embed('rep', audio[1]) = represent('rep', audio[1])) FROM tracks")
        .await
        .unwrap();
    assert!(e[0].column(0).as_boolean().value(0));
}

/// Checkpoints go to the model store during training; Ctrl-C (the cancel flag) stops training
/// between iterations and the last checkpoint stays usable under the model's name.
#[tokio::test]
async fn mtl_cnn_checkpoints_and_stops_cleanly() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let flag: Arc<Mutex<Option<Arc<AtomicBool>>>> = Arc::new(Mutex::new(None));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let (f, l) = (flag.clone(), lines.clone());
    let s = Session::with_options(SessionOptions {
        model_dir: dir.path().to_path_buf(),
        progress: Some(Arc::new(move |line: &str| {
            l.lock().unwrap().push(line.to_string());
            if line.starts_with("checkpoint saved") {
                if let Some(c) = f.lock().unwrap().as_ref() {
                    c.store(true, Ordering::SeqCst);
                }
            }
        })),
        status: None,
    })
    .unwrap();
    *flag.lock().unwrap() = Some(s.cancel_flag());
    s.execute(TRACKS).await.unwrap();
    let err = s
        .execute(&create(
            "rep",
            "ms_sr_fc",
            "sources = 'self,tag', epochs = 4, iterations_per_epoch = 2, checkpoint_every = 1",
            1,
        ))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cancelled"), "{err}");
    assert!(
        err.contains("the checkpoint of epoch 1 of 4 is kept as model 'rep'"),
        "{err}"
    );
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines.iter().any(|l| l.starts_with("epoch 1/4  loss ")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("epoch 3/4")),
        "{lines:?}"
    );
    // A new session finds the checkpoint and represents with it.
    let b = session(dir.path());
    b.execute(TRACKS).await.unwrap();
    let info = b
        .execute("SELECT value FROM model_info('rep') WHERE property = 'training: checkpoint'")
        .await
        .unwrap();
    assert_eq!(
        info[0].column(0).as_string::<i32>().value(0),
        "epoch 1 of 4"
    );
    let v = vectors(&b.execute(REPRESENT).await.unwrap());
    assert!(v.iter().all(|v| v.len() == 64));
}

/// `agf_cnn` (thesis ch. 3, Table 3.2) on the same tracks: a genre task (one-hot, low tones
/// against high) learns, the same seed gives the same segment features, another seed others.
#[tokio::test]
async fn agf_cnn_learns_and_repeats_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = session(dir.path());
    a.execute(TRACKS).await.unwrap();
    let create = |seed: u64| {
        format!(
            "CREATE OR REPLACE MODEL agf OPTIONS (type = 'agf_cnn', tasks = 'genre, tag', \
             epochs = 8, iterations_per_epoch = 6, batch_size = 4, width = 0.125, lr = 0.003, seed = {seed}) \
             AS SELECT track, audio, CASE WHEN track <= 4 THEN [1.0, 0.0] ELSE [0.0, 1.0] END AS genre, tag \
             FROM tracks"
        )
    };
    a.execute(&create(2)).await.unwrap();
    let d = a.execute("DESCRIBE MODEL agf").await.unwrap();
    let l: Vec<f64> = fact(&d, "training: loss by epoch")
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(l.len(), 8);
    assert!((l[6] + l[7]) / 2.0 < (l[0] + l[1]) / 2.0, "losses {l:?}");
    let segments =
        "SELECT track, flatten(represent_segments('agf', audio)) FROM tracks ORDER BY track";
    let before = vectors(&a.execute(segments).await.unwrap());
    assert_eq!(before.len(), 8);
    // 27,000 samples are 53 frames at hop 512: one segment of two 32-value blocks.
    assert!(before
        .iter()
        .all(|v| v.len() == 64 && v.iter().all(|x| x.is_finite())));
    let b = session(dir.path());
    b.execute(TRACKS).await.unwrap();
    assert_eq!(vectors(&b.execute(segments).await.unwrap()), before);
    for (seed, same) in [(2, true), (3, false)] {
        b.execute(&create(seed)).await.unwrap();
        assert_eq!(
            vectors(&b.execute(segments).await.unwrap()) == before,
            same,
            "seed {seed}"
        );
    }
}
