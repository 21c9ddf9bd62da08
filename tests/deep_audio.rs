//! The `vgg` audio encoders through SQL: a model saved in the store and reloaded by a new
//! session embeds identically; training on a seeded run lowers the loss; the same seed gives the
//! same model on the CPU.

mod common;

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

fn clips_sql() -> String {
    format!(
        "CREATE TABLE clips AS SELECT regexp_replace(path, '^.*/', '') AS f, samples, \
         CASE WHEN path LIKE '%bwv1%' THEN 'low' ELSE 'high' END AS label \
         FROM read_audio('{}/data/audio/rendered/*_mix.wav')",
        common::shared().display()
    )
}

/// The embeddings of every clip, in file order: `embed` with a literal model name gives Arrow
/// fixed-size lists of the model's length.
fn embeddings(batches: &[RecordBatch]) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    for b in batches {
        let list = b.column(1).as_fixed_size_list();
        for r in 0..list.len() {
            let v = list.value(r);
            out.push(v.as_primitive::<Float32Type>().values().to_vec());
        }
    }
    out
}

/// The losses recorded per epoch in the model's training facts.
fn losses(batches: &[RecordBatch]) -> Vec<f64> {
    for b in batches {
        let (k, v) = (
            b.column(0).as_string::<i32>(),
            b.column(1).as_string::<i32>(),
        );
        for r in 0..b.num_rows() {
            if k.value(r) == "training: loss by epoch" {
                return v.value(r).split(' ').map(|x| x.parse().unwrap()).collect();
            }
        }
    }
    panic!("no loss history in DESCRIBE MODEL");
}

const EMBED: &str = "SELECT f, embed('enc', samples) FROM clips ORDER BY f";

#[tokio::test]
async fn vgg_models_reload_identically_learn_and_repeat_with_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = session(dir.path());
    a.execute(&clips_sql()).await.unwrap();
    a.execute(
        "CREATE MODEL enc OPTIONS (type = 'vgg', task = 'instrument', epochs = 6, crop = 64, \
         crops_per_clip = 2, batch_size = 6, seed = 7) AS SELECT samples AS audio, label FROM clips",
    )
    .await
    .unwrap();
    let before = embeddings(&a.execute(EMBED).await.unwrap());
    assert_eq!(before.len(), 12);
    assert!(before
        .iter()
        .all(|e| e.len() == 256 && e.iter().all(|v| v.is_finite())));
    // Different clips, different embeddings.
    assert_ne!(before[0], before[1]);

    // The loss falls over a seeded run (first epoch against the mean of the last two).
    let l = losses(&a.execute("DESCRIBE MODEL enc").await.unwrap());
    assert_eq!(l.len(), 6);
    let late = (l[4] + l[5]) / 2.0;
    assert!(late < l[0], "losses {l:?}");

    // A new session reads the file and embeds identically.
    let b = session(dir.path());
    b.execute(&clips_sql()).await.unwrap();
    let after = embeddings(&b.execute(EMBED).await.unwrap());
    assert_eq!(before, after);

    // The same seed trains the same model (CPU); another seed another one.
    for (seed, same) in [(7, true), (8, false)] {
        b.execute(&format!(
            "CREATE OR REPLACE MODEL enc OPTIONS (type = 'vgg', task = 'instrument', epochs = 6, \
             crop = 64, crops_per_clip = 2, batch_size = 6, seed = {seed}) \
             AS SELECT samples AS audio, label FROM clips"
        ))
        .await
        .unwrap();
        let again = embeddings(&b.execute(EMBED).await.unwrap());
        assert_eq!(again == before, same, "seed {seed}");
    }
}

/// A TorchScript module built here with tch (per crop: the mean and the largest sample), used
/// with `input = 'waveform'`: crops are consecutive, the remainder is left out, and a clip's
/// embedding is the mean over its crops.
#[tokio::test]
async fn torchscript_waveform_models_follow_the_documented_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.pt");
    let x = tch::Tensor::zeros([2, 4], (tch::Kind::Float, tch::Device::Cpu));
    let module = tch::CModule::create_by_tracing("Stats", "forward", &[x], &mut |inputs| {
        let mean = inputs[0].mean_dim(1, true, tch::Kind::Float);
        let max = inputs[0].amax(1, true);
        vec![tch::Tensor::cat(&[mean, max], 1)]
    })
    .unwrap();
    module.save(&path).unwrap();

    let s = session(dir.path());
    s.execute(&format!(
        "CREATE MODEL st OPTIONS (type = 'torchscript', path = '{}', input = 'waveform', \
         crop = 4, sample_rate = 8000) AS SELECT 1 AS x",
        path.display()
    ))
    .await
    .unwrap();
    // Crops [1 2 3 4] and [5 6 7 8]; 9 and 10 are left out.
    let out = s
        .execute(
            "SELECT 'a', embed('st', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) UNION ALL \
             SELECT 'b', embed('st', [0, 0, 0, -4], 8000)",
        )
        .await
        .unwrap();
    let mut e = embeddings(&out);
    e.sort_by(|a, b| a[1].total_cmp(&b[1]));
    assert_eq!(e, vec![vec![-1.0, 0.0], vec![4.5, 6.0]]);
    let err = s
        .execute("SELECT embed('st', [1, 2, 3])")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("3 samples, shorter than one crop of 4"),
        "{err}"
    );
    let err = s
        .execute("SELECT embed('st', [1, 2, 3, 4], 22050)")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("embeds 8000 Hz audio"), "{err}");
}

/// Checkpoints go to the model store during training; Ctrl-C (the cancel flag) stops training
/// cleanly and the last checkpoint stays usable under the model's name.
#[tokio::test]
async fn training_checkpoints_and_stops_cleanly() {
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
            // The user presses Ctrl-C once the first checkpoint is saved.
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
    s.execute(&clips_sql()).await.unwrap();
    let err = s
        .execute(
            "CREATE MODEL enc OPTIONS (type = 'vgg', task = 'autoencoder', epochs = 4, crop = 64, \
             crops_per_clip = 1, batch_size = 4, checkpoint_every = 1) AS SELECT samples AS audio FROM clips",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cancelled"), "{err}");
    assert!(
        err.contains("the checkpoint of epoch 1 of 4 is kept as model 'enc'"),
        "{err}"
    );
    let lines = lines.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l == "checkpoint saved as 'enc' (epoch 1 of 4)"),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("epoch 3/4")),
        "{lines:?}"
    );
    // A new session finds the checkpoint and embeds with it.
    let b = session(dir.path());
    b.execute(&clips_sql()).await.unwrap();
    let info = b
        .execute("SELECT value FROM model_info('enc') WHERE property = 'training: checkpoint'")
        .await
        .unwrap();
    assert_eq!(
        info[0].column(0).as_string::<i32>().value(0),
        "epoch 1 of 4"
    );
    let e = embeddings(&b.execute(EMBED).await.unwrap());
    assert_eq!(e.len(), 12);
}
