//! Audio in SQL: decoding, perturbations, features, audio distances and distance consistency.
//!
//! The thesis' robustness study (ch. 4) asks whether an embedding of music keeps slightly
//! transformed clips near their originals. This module makes that experiment a query over a
//! table of clips: `read_audio` turns files into rows, the perturbation functions transform clips
//! the way the study did (pitch, tempo, noise, MP3, loudness matching), the feature functions
//! compute the audio-space representation (STFT, mel, MFCC) and the MFCC encoder, the distance
//! functions compare representations, and the consistency aggregates score a (transform,
//! magnitude) cell.
//!
//! Conventions: a clip is a `list<float32>` of mono samples in [-1, 1] with no sample rate
//! attached; functions that need the rate take it as an argument (`sr`, Hz). Sequences of frames
//! (spectrogram columns, MFCC vectors) are `list<list<float32>>`, one inner list per frame. NULL
//! arguments give NULL results. The numeric work lives in [`kernels`], which knows nothing of
//! Arrow; [`adapter`] is the Arrow side shared by the row functions, one SQL function per file.

pub mod adapter;
pub mod add_pink_noise;
pub mod between_consistency;
pub mod consistency_agg;
pub mod cosine_distance;
pub mod crop;
pub mod deep;
pub mod dtw;
pub mod embed;
pub mod euclidean_distance;
pub mod export_torchscript;
pub mod feature_options;
pub mod kernels;
pub mod loudness_lufs;
pub mod match_loudness;
pub mod melspectrogram;
pub mod mfcc;
pub mod mfcc_stats;
pub mod mix_noise;
pub mod mp3_roundtrip;
pub mod pitch_shift;
pub mod predict;
pub mod rates;
pub mod read_audio;
pub mod reconstruction_error;
pub mod resample;
pub mod sdr;
pub mod separate;
pub mod simple_distance;
pub mod stft_db;
pub mod tempo_shift;
pub mod to_mono;
pub mod transform_audio;
pub mod within_consistency;
pub mod write_wav;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF};

use crate::model::ModelCatalog;
use adapter::RowUdf;
use consistency_agg::ConsistencyUdaf;

/// Every audio scalar function; long batches report progress and check cancellation through
/// `catalog`.
pub fn scalar_functions(catalog: Arc<dyn ModelCatalog>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(RowUdf::<resample::Resample>::udf(catalog.clone())),
        Arc::new(RowUdf::<crop::Crop>::udf(catalog.clone())),
        Arc::new(RowUdf::<to_mono::ToMono>::udf(catalog.clone())),
        Arc::new(RowUdf::<write_wav::WriteWav>::udf(catalog.clone())),
        Arc::new(RowUdf::<add_pink_noise::AddPinkNoise>::udf(catalog.clone())),
        Arc::new(RowUdf::<mix_noise::MixNoise>::udf(catalog.clone())),
        Arc::new(RowUdf::<pitch_shift::PitchShift>::udf(catalog.clone())),
        Arc::new(RowUdf::<tempo_shift::TempoShift>::udf(catalog.clone())),
        Arc::new(RowUdf::<mp3_roundtrip::Mp3Roundtrip>::udf(catalog.clone())),
        Arc::new(RowUdf::<transform_audio::TransformAudio>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<loudness_lufs::LoudnessLufs>::udf(catalog.clone())),
        Arc::new(RowUdf::<match_loudness::MatchLoudness>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<stft_db::StftDb>::udf(catalog.clone())),
        Arc::new(RowUdf::<melspectrogram::Melspectrogram>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<mfcc::Mfcc>::udf(catalog.clone())),
        Arc::new(RowUdf::<mfcc_stats::MfccStats>::udf(catalog.clone())),
        Arc::new(RowUdf::<embed::Embed>::udf(catalog.clone())),
        Arc::new(RowUdf::<predict::Predict>::udf(catalog.clone())),
        Arc::new(RowUdf::<reconstruction_error::ReconstructionError>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<separate::Separate>::udf(catalog.clone())),
        Arc::new(RowUdf::<export_torchscript::ExportTorchscript>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<dtw::Dtw>::udf(catalog.clone())),
        Arc::new(RowUdf::<simple_distance::SimpleDistance>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<sdr::Sdr>::udf(catalog.clone())),
        Arc::new(RowUdf::<euclidean_distance::EuclideanDistance>::udf(
            catalog.clone(),
        )),
        Arc::new(RowUdf::<cosine_distance::CosineDistance>::udf(
            catalog.clone(),
        )),
    ]
}

/// Every audio aggregate function.
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::new_from_impl(ConsistencyUdaf::<
            within_consistency::WithinConsistency,
        >::default())),
        Arc::new(AggregateUDF::new_from_impl(ConsistencyUdaf::<
            between_consistency::BetweenConsistency,
        >::default())),
    ]
}

/// Every audio table function, by name.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![(read_audio::NAME, Arc::new(read_audio::ReadAudioFunc))]
}

/// The documentation of the audio table functions, by name.
pub fn table_function_docs() -> Vec<(&'static str, &'static Documentation)> {
    static READ: read_audio::ReadAudioFunc = read_audio::ReadAudioFunc;
    READ.documentation()
        .map(|d| (read_audio::NAME, d))
        .into_iter()
        .collect()
}
