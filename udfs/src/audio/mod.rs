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
pub mod frame_deltas;
pub mod frame_stats;
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
pub mod render_midi;
pub mod represent;
pub mod represent_segments;
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

use crate::library::Library;
use adapter::RowUdf;
use consistency_agg::ConsistencyUdaf;

/// Adds the audio model types (`vgg`, `torchscript`) and functions.
pub fn register(lib: &mut Library) {
    let catalog = lib.catalog();
    lib.model_type(deep::vgg::VggType)
        .model_type(deep::torchscript::TorchScriptType)
        .model_type(deep::mtl::MtlCnnType::new(catalog.clone()))
        .model_type(deep::mtl::AgfCnnType::new(catalog.clone()));
    lib.scalar(RowUdf::<resample::Resample>::new(catalog.clone()));
    lib.scalar(RowUdf::<crop::Crop>::new(catalog.clone()));
    lib.scalar(RowUdf::<to_mono::ToMono>::new(catalog.clone()));
    lib.scalar(RowUdf::<write_wav::WriteWav>::new(catalog.clone()));
    lib.scalar(RowUdf::<add_pink_noise::AddPinkNoise>::new(catalog.clone()));
    lib.scalar(RowUdf::<mix_noise::MixNoise>::new(catalog.clone()));
    lib.scalar(RowUdf::<pitch_shift::PitchShift>::new(catalog.clone()));
    lib.scalar(RowUdf::<tempo_shift::TempoShift>::new(catalog.clone()));
    lib.scalar(RowUdf::<mp3_roundtrip::Mp3Roundtrip>::new(catalog.clone()));
    lib.scalar(RowUdf::<transform_audio::TransformAudio>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<loudness_lufs::LoudnessLufs>::new(catalog.clone()));
    lib.scalar(RowUdf::<match_loudness::MatchLoudness>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<stft_db::StftDb>::new(catalog.clone()));
    lib.scalar(RowUdf::<melspectrogram::Melspectrogram>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<mfcc::Mfcc>::new(catalog.clone()));
    lib.scalar(RowUdf::<mfcc_stats::MfccStats>::new(catalog.clone()));
    lib.scalar(RowUdf::<frame_deltas::FrameDeltas>::new(catalog.clone()));
    lib.scalar(RowUdf::<frame_stats::FrameStats>::new(catalog.clone()));
    lib.scalar(RowUdf::<embed::Embed>::new(catalog.clone()));
    lib.scalar(represent::Represent::new(catalog.clone()));
    lib.scalar(represent_segments::RepresentSegments::new(catalog.clone()));
    lib.scalar(render_midi::RenderMidi::new(catalog.clone()));
    lib.scalar(predict::Predict::new(catalog.clone()));
    lib.scalar(RowUdf::<reconstruction_error::ReconstructionError>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<separate::Separate>::new(catalog.clone()));
    lib.scalar(RowUdf::<export_torchscript::ExportTorchscript>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<dtw::Dtw>::new(catalog.clone()));
    lib.scalar(RowUdf::<simple_distance::SimpleDistance>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<sdr::Sdr>::new(catalog.clone()));
    lib.scalar(RowUdf::<euclidean_distance::EuclideanDistance>::new(
        catalog.clone(),
    ));
    lib.scalar(RowUdf::<cosine_distance::CosineDistance>::new(
        catalog.clone(),
    ));
    lib.aggregate(ConsistencyUdaf::<within_consistency::WithinConsistency>::default());
    lib.aggregate(ConsistencyUdaf::<between_consistency::BetweenConsistency>::default());
    lib.table(
        read_audio::NAME,
        read_audio::ReadAudioFunc,
        read_audio::ReadAudioFunc.documentation(),
    );
}
