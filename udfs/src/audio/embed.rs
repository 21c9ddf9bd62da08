//! `embed(encoder, audio [, sr])`: a clip's embedding by a named encoder, built in or trained.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{
    arg, check_sample_rate, opt, sample_rate, ArgSpec, Batch, Kind, OutKind, Params, Row,
    RowFunction, Value,
};
use super::deep::{message, AudioEncoder};
use super::kernels::mfcc::{MfccStatsVariant, MFCC_STATS_DIM};
use super::kernels::AudioError;
use super::mfcc_stats::encode;
use crate::model::{LoadedModel, ModelCatalog};

/// The built-in encoders: name, variant.
const BUILT_IN: [(&str, MfccStatsVariant); 2] = [
    ("mfcc", MfccStatsVariant::Study),
    ("mfcc_librosa", MfccStatsVariant::Librosa),
];

/// The sample rate assumed when a call gives none (the thesis' rate): `embed` with a built-in
/// encoder, `sdr`.
pub(crate) const DEFAULT_SR: f64 = 22_050.0;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "The embedding of a clip by an encoder: the entry point shared by every encoder. With a literal encoder name the result is an Arrow fixed-size list, fixed_size_list<float32, d> (d = 144 for the built-in encoders, the model's embedding length otherwise, looked up when the query is planned, so an unknown model is an error before anything runs); with names from a column, whose encoders may differ in length, it is a list<float32>. The distance and consistency functions take either. Built in: 'mfcc', the thesis' 144-d MFCC encoder in the study's variant (the same as mfcc_stats(audio, sr)), and 'mfcc_librosa' (mfcc_stats(audio, sr, 'librosa')). Any other name is a trained or loaded model that embeds audio (type vgg or torchscript): the rows of a batch are embedded together on the session's device (SET trustql.device), a clip as the mean of the embeddings of its consecutive crops. sr defaults to 22050 Hz for the built-in encoders and to the model's rate for models, which refuse clips at other rates. An unknown name is an error that lists the built-in encoders.",
    syntax_example = "embed(encoder, audio [, sr])",
    sql_example = r#"```sql
> SELECT cardinality(embed('mfcc', array_repeat(0.5, 22050))) AS dim;
+-----+
| dim |
+-----+
| 144 |
+-----+
```"#,
    argument(
        name = "encoder",
        description = "The encoder's name: 'mfcc', 'mfcc_librosa' or a model's."
    ),
    argument(name = "audio", description = "The clip: a list of samples."),
    argument(
        name = "sr",
        description = "Its sample rate in Hz (default 22050, or the model's)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct Embed;

static DOC: Embed = Embed;

/// The built-in encoder called `name`, if it is one.
fn built_in(name: &str) -> Option<MfccStatsVariant> {
    BUILT_IN
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// Whether `name` is a built-in encoder's.
pub(crate) fn is_built_in(name: &str) -> bool {
    built_in(name).is_some()
}

fn built_in_names() -> String {
    BUILT_IN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl RowFunction for Embed {
    const NAME: &'static str = "embed";
    const ARGS: &'static [ArgSpec] = &[
        arg("encoder", Kind::Text),
        arg("audio", Kind::Audio),
        opt("sr", Kind::Float),
    ];
    const OUT: OutKind = OutKind::Vector;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 2)
    }

    /// A literal encoder's embeddings have its length: 144 for the built-in ones, the model's
    /// otherwise (looked up now, so an unknown model is an error before the query runs). With
    /// encoder names from a column, whose encoders may differ in length, the result is a
    /// variable-length list.
    fn vector_len(
        p: &dyn Params,
        catalog: Option<&Arc<dyn ModelCatalog>>,
    ) -> Result<Option<usize>, AudioError> {
        let Some(name) = p.text(0) else {
            return Ok(None);
        };
        if built_in(name).is_some() {
            return Ok(Some(MFCC_STATS_DIM));
        }
        let loaded = load_encoder(catalog, name)?;
        Ok(loaded
            .model
            .capability::<dyn AudioEncoder>()
            .map(|e| e.dim()))
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let name = row.text(0).unwrap_or_default();
        let Some(v) = built_in(name) else {
            return Err(AudioError::BadParameter(format!(
                "unknown encoder '{name}' (built in: {}; models need a session)",
                built_in_names()
            )));
        };
        let sr = sample_rate(row.float(2).unwrap_or(DEFAULT_SR))?;
        Ok(Value::Samples(encode(row.audio(1)?, sr, v)?))
    }

    /// Built-in encoders go row by row; models embed all their rows of the batch together.
    fn compute_batch(batch: &Batch<'_>) -> Option<Result<Vec<Value>, AudioError>> {
        let names: Vec<&str> = batch
            .rows
            .iter()
            .map(|&i| batch.row(i).text_in_batch(0).unwrap_or_default())
            .collect();
        if names.iter().all(|n| built_in(n).is_some()) {
            return None;
        }
        Some(embed_with_models(batch, &names))
    }
}

/// The embeddings of `batch.rows`, whose encoder names are `names`.
fn embed_with_models(batch: &Batch<'_>, names: &[&str]) -> Result<Vec<Value>, AudioError> {
    let mut out: Vec<Option<Value>> = vec![None; names.len()];
    let mut by_model: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, (&i, &name)) in batch.rows.iter().zip(names).enumerate() {
        if built_in(name).is_some() {
            out[k] = Some(Embed::compute(&batch.row(i))?);
        } else {
            by_model.entry(name).or_default().push(k);
        }
    }
    run_models(batch, by_model, &mut out, |e, clips, device| {
        Ok(e.embed(clips, device)?
            .into_iter()
            .map(Value::Samples)
            .collect())
    })?;
    out.into_iter()
        .map(|v| v.ok_or_else(|| AudioError::Internal("a row was not embedded".to_string())))
        .collect()
}

/// `work` on the rows of `batch` grouped by model (argument 0); a built-in encoder's name is an
/// error saying it `refusal` (e.g. "separates no source").
fn model_rows(
    batch: &Batch<'_>,
    refusal: &str,
    work: impl Fn(&dyn AudioEncoder, &[&[f32]], tch::Device) -> datafusion::error::Result<Vec<Value>>,
) -> Result<Vec<Value>, AudioError> {
    let mut by_model: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, &i) in batch.rows.iter().enumerate() {
        let name = batch.row(i).text_in_batch(0).unwrap_or_default();
        if is_built_in(name) {
            return Err(AudioError::BadParameter(format!(
                "the built-in encoder '{name}' {refusal}"
            )));
        }
        by_model.entry(name).or_default().push(k);
    }
    let mut out = vec![None; batch.rows.len()];
    run_models(batch, by_model, &mut out, work)?;
    out.into_iter()
        .map(|v| v.ok_or_else(|| AudioError::Internal("a row was not computed".to_string())))
        .collect()
}

/// A function of a model and a clip that runs on the models' batched path (`predict`,
/// `separate`, `reconstruction_error`): its arguments are (model, clip [, sr]), the sample rate is
/// checked against the model's, the rows of a batch are grouped by model, and a built-in encoder
/// is refused. Implementing it makes the function a [`RowFunction`].
pub(crate) trait ModelClipFunction:
    std::fmt::Debug + Default + PartialEq + Eq + std::hash::Hash + Send + Sync + 'static
{
    /// Its SQL name.
    const NAME: &'static str;
    /// The clip argument's name in errors ("audio", "mixture").
    const CLIP: &'static str;
    /// What it returns.
    const OUT: OutKind;
    /// How a built-in encoder is refused ("predicts no classes").
    const REFUSAL: &'static str;
    /// Its documentation (from `#[user_doc]`).
    fn doc() -> Option<&'static Documentation>;
    /// One value per clip of `clips`, computed together by `encoder` on `device`.
    fn work(
        encoder: &dyn AudioEncoder,
        clips: &[&[f32]],
        device: tch::Device,
    ) -> datafusion::error::Result<Vec<Value>>;
}

impl<F: ModelClipFunction> RowFunction for F {
    const NAME: &'static str = <F as ModelClipFunction>::NAME;
    const ARGS: &'static [ArgSpec] = &[
        arg("model", Kind::Text),
        arg(F::CLIP, Kind::Audio),
        opt("sr", Kind::Float),
    ];
    const OUT: OutKind = <F as ModelClipFunction>::OUT;

    fn doc() -> Option<&'static Documentation> {
        <F as ModelClipFunction>::doc()
    }

    fn validate(p: &dyn Params) -> Result<(), AudioError> {
        check_sample_rate(p, 2)
    }

    fn compute(_row: &Row<'_>) -> Result<Value, AudioError> {
        Err(AudioError::Model(
            "needs a session's model store".to_string(),
        ))
    }

    fn compute_batch(batch: &Batch<'_>) -> Option<Result<Vec<Value>, AudioError>> {
        Some(model_rows(batch, F::REFUSAL, F::work))
    }
}

/// The model called `name` from `catalog`, checked to be an audio encoder; the errors list the
/// built-in encoders.
fn load_encoder(
    catalog: Option<&Arc<dyn ModelCatalog>>,
    name: &str,
) -> Result<Arc<LoadedModel>, AudioError> {
    let Some(catalog) = catalog else {
        return Err(AudioError::BadParameter(format!(
            "unknown encoder '{name}' (built in: {}; models need a session)",
            built_in_names()
        )));
    };
    let loaded = catalog.model(name).map_err(|e| {
        AudioError::Model(format!(
            "unknown encoder '{name}': not built in ({}) and not a model: {}",
            built_in_names(),
            message(e)
        ))
    })?;
    if loaded.model.capability::<dyn AudioEncoder>().is_none() {
        return Err(AudioError::Model(format!(
            "model '{name}' (type '{}') is not an audio encoder",
            loaded.model_type
        )));
    }
    Ok(loaded)
}

/// For each model name, `work(encoder, clips, device)` on the clips (argument 1, checked
/// against the optional sample rate in argument 2) of its rows `ks` (positions in
/// `batch.rows`), stored at those positions of `out`.
pub(crate) fn run_models(
    batch: &Batch<'_>,
    by_model: BTreeMap<&str, Vec<usize>>,
    out: &mut [Option<Value>],
    work: impl Fn(&dyn AudioEncoder, &[&[f32]], tch::Device) -> datafusion::error::Result<Vec<Value>>,
) -> Result<(), AudioError> {
    for (name, ks) in by_model {
        let loaded = load_encoder(batch.catalog, name)?;
        let Some(encoder) = loaded.model.capability::<dyn AudioEncoder>() else {
            return Err(AudioError::Model(format!(
                "model '{name}' is not an audio encoder"
            )));
        };
        let mut clips = Vec::with_capacity(ks.len());
        for &k in &ks {
            let row = batch.row(batch.rows[k]);
            if let Some(sr) = row.float(2) {
                let sr = sample_rate(sr)?;
                if sr != encoder.sample_rate() {
                    return Err(AudioError::BadInput(format!(
                        "model '{name}' embeds {} Hz audio, got a clip at {sr} Hz (resample it first)",
                        encoder.sample_rate()
                    )));
                }
            }
            clips.push(row.audio(1)?);
        }
        let device = batch.device()?;
        let results = work(encoder, &clips, device)
            .map_err(|e| AudioError::Model(format!("model '{name}': {}", message(e))))?;
        for (k, v) in ks.into_iter().zip(results) {
            out[k] = Some(v);
        }
    }
    Ok(())
}
