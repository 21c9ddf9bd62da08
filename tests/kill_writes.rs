//! Interrupted writes leave no partial file under the final name: the `trustql` binary is killed
//! with SIGKILL while it writes (`COPY ... TO` CSV and Parquet, `write_wav`, a figure, a model in
//! the store), and the final path must then hold either nothing or a complete file.
//!
//! To hit the write itself rather than the work before it, the test watches the output folder
//! and kills the process as soon as a temporary file appears there (after 0 to a few
//! milliseconds). A run that finished before any temporary file was seen is retried; each writer
//! must have been killed mid-write at least once.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Writer {
    name: &'static str,
    /// Statements run by `trustql -c`; `{dir}` is the output folder.
    sql: &'static str,
    /// The final file, relative to the folder.
    file: &'static str,
    /// Whether a file found under the final name is complete.
    complete: fn(&Path) -> Result<(), String>,
}

const ROWS: usize = 400_000;

fn csv_complete(p: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(p).map_err(|e| e.to_string())?;
    let lines = text.lines().count();
    if lines == ROWS + 1 && text.ends_with('\n') {
        Ok(())
    } else {
        Err(format!("{lines} lines, expected {}", ROWS + 1))
    }
}

fn parquet_complete(p: &Path) -> Result<(), String> {
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    // A Parquet file starts and ends with "PAR1" (the footer is written last).
    if bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1") {
        Ok(())
    } else {
        Err(format!("{} bytes without a Parquet footer", bytes.len()))
    }
}

fn wav_complete(p: &Path) -> Result<(), String> {
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" {
        return Err("no RIFF header".into());
    }
    let riff = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    if riff + 8 == bytes.len() {
        Ok(())
    } else {
        Err(format!(
            "RIFF says {} bytes, file has {}",
            riff + 8,
            bytes.len()
        ))
    }
}

fn png_complete(p: &Path) -> Result<(), String> {
    let bytes = std::fs::read(p).map_err(|e| e.to_string())?;
    if bytes.starts_with(b"\x89PNG") && bytes.ends_with(b"IEND\xAE\x42\x60\x82") {
        Ok(())
    } else {
        Err(format!("{} bytes without the PNG end chunk", bytes.len()))
    }
}

fn model_complete(p: &Path) -> Result<(), String> {
    trustql::store::read_model(p)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn writers() -> Vec<Writer> {
    vec![
        Writer {
            name: "COPY TO csv",
            sql: "COPY (SELECT v, v * 2 AS w, repeat('x', 40) AS s FROM generate_series(1, 400000) AS t(v)) \
                  TO '{dir}/out.csv' STORED AS CSV",
            file: "out.csv",
            complete: csv_complete,
        },
        Writer {
            name: "COPY TO parquet",
            sql: "COPY (SELECT v, v * 2 AS w, repeat('x', 40) AS s FROM generate_series(1, 400000) AS t(v)) \
                  TO '{dir}/out.parquet' STORED AS PARQUET",
            file: "out.parquet",
            complete: parquet_complete,
        },
        Writer {
            name: "write_wav",
            sql: "SELECT write_wav('{dir}/a.wav', array_repeat(CAST(0.25 AS FLOAT), 8000000), 22050)",
            file: "a.wav",
            complete: wav_complete,
        },
        Writer {
            name: "figure",
            sql: "COPY (SELECT v % 997 AS x, v % 1013 AS y FROM generate_series(1, 2000) AS t(v)) \
                  TO '{dir}/f.png' (FORMAT plot, kind 'scatter', x 'x', y 'y', width 4000, height 4000, scale 2)",
            file: "f.png",
            complete: png_complete,
        },
        Writer {
            name: "model store",
            sql: "CREATE MODEL m OPTIONS (type = 'mostpop') AS \
                  SELECT v % 7 AS \"user\", v AS item, 1.0 AS value FROM generate_series(1, 1500000) AS t(v)",
            file: "m.tqm",
            complete: model_complete,
        },
    ]
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// Entries of `dir` other than `keep`.
fn others(dir: &Path, keep: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != keep)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `w` and kills it `delay` after a temporary file appears; `Some(temporaries)` when it
/// was killed mid-write, `None` when it finished first.
fn run_and_kill(w: &Writer, dir: &Path, delay: Duration) -> Option<Vec<String>> {
    let sql = w.sql.replace("{dir}", &dir.display().to_string());
    // The model store is the output folder itself.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustql"))
        .args(["-q", "--models"])
        .arg(dir)
        .args(["-c", &sql])
        .env_remove("LD_LIBRARY_PATH")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("trustql runs");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return None;
        }
        let temps = others(dir, w.file);
        if !temps.is_empty() {
            std::thread::sleep(delay);
            kill(child.id());
            let _ = child.wait();
            return Some(temps);
        }
        assert!(
            Instant::now() < deadline,
            "{}: no write within 300 s",
            w.name
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn sigkill_mid_write_leaves_no_partial_file() {
    for w in writers() {
        let mut killed_mid_write = 0;
        let mut finished = 0;
        for delay_ms in [0u64, 1, 3, 10, 30] {
            let tmp = tempfile::tempdir().unwrap();
            let dir: PathBuf = tmp.path().to_path_buf();
            match run_and_kill(&w, &dir, Duration::from_millis(delay_ms)) {
                Some(_) => killed_mid_write += 1,
                None => finished += 1,
            }
            let path = dir.join(w.file);
            if path.exists() {
                if let Err(e) = (w.complete)(&path) {
                    panic!(
                        "{}: killed {delay_ms} ms into the write, {} is partial: {e}",
                        w.name, w.file
                    );
                }
            }
        }
        assert!(
            killed_mid_write > 0,
            "{}: never killed while writing ({finished} runs finished first)",
            w.name
        );
    }
}

#[test]
fn completeness_checks_reject_partial_files() {
    // The checks above can fail: a truncated file of each kind is refused.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x");
    std::fs::write(&p, "v\n1\n2").unwrap();
    assert!(csv_complete(&p).is_err());
    std::fs::write(&p, b"PAR1abcdPAR").unwrap();
    assert!(parquet_complete(&p).is_err());
    std::fs::write(&p, b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
    assert!(wav_complete(&p).is_err());
    std::fs::write(&p, b"\x89PNG\r\n\x1a\nabc").unwrap();
    assert!(png_complete(&p).is_err());
    std::fs::write(&p, b"TRUSTQLM\x01\x00\x00\x00").unwrap();
    assert!(model_complete(&p).is_err());
}
