//! Reading and writing audio files, and real MP3 round trips, because the audio experiments start
//! from files (WAV, FLAC, OGG/Vorbis, MP3), write perturbed clips back for listening, and include
//! MP3 compression as one of the study's transformations (thesis §4.2.2, SPEC §7).
//!
//! Definitions and conventions:
//! - **Decoding** ([`decode_file`], [`decode_bytes`]) uses symphonia 0.5 (WAV/PCM, FLAC,
//!   OGG/Vorbis, MP3) with gapless mode on: an MP3 carrying a LAME/Xing "Info" tag loses its
//!   encoder delay and padding (LAME's delay + 529 samples of decoder delay at the start, the
//!   padding at the end), so it decodes to exactly the samples that were encoded. Samples are f32
//!   in symphonia's conversion (16-bit PCM `x / 32768`), **interleaved** (frame after frame, each
//!   frame one sample per channel). A packet that fails to decode (a corrupt frame) is skipped and
//!   counted in [`Decoded::skipped_packets`]; a file whose every packet fails, or that yields no
//!   samples, is an error. Errors name the file (or `<bytes>` for [`decode_bytes`]) and say whether
//!   it is missing, unreadable, of an unsupported or unrecognised format, undecodable or empty;
//!   those about its content read `could not decode <file>: ...`.
//! - **Damage** never panics: the facts of a WAV header that symphonia trusts (sample rate,
//!   channels, sample width, block size, chunk lengths) are checked first
//!   ([`super::wav_header`]), and a panic inside symphonia on any other damage is caught and
//!   becomes the error `could not decode <file>: the decoder failed on damaged data (...)`.
//!   Decoded samples are counted against a memory limit (the session's `trustql.memory_limit`
//!   in `read_audio`): a WAV header that declares too many is refused before decoding, other
//!   formats stop once their samples pass it.
//! - **Mono** ([`to_mono`]) is the plain average of the channels of each frame.
//! - **Writing** ([`write_wav`]) makes a mono RIFF WAV of **32-bit IEEE float** samples (hound):
//!   lossless for f32 clips and clip-safe, because a sample beyond ±1 (a gained clip) is stored as
//!   it is instead of wrapping or saturating (a player will clip it on playback; a reader gets it
//!   back exactly). The file is written atomically: to a temporary file in the same folder, synced,
//!   then renamed over the target.
//! - **MP3 round trips** ([`mp3_roundtrip`]) encode with LAME 3.100 (the `mp3lame-encoder` crate,
//!   which builds the bundled LAME; LGPL) in CBR, mono, at LAME's default quality 3 (the quality
//!   the study got through ffmpeg's `libmp3lame`), with the output sample rate forced to the
//!   input's (LAME would otherwise resample low bitrates down), and decode with symphonia. The
//!   output is sample-aligned with the input and exactly as long: when LAME's "Info" tag fits in
//!   a frame (from 64 kb/s at 22.05 kHz) it is written into the first frame and symphonia's
//!   gapless mode cuts the delay and padding it records; below that LAME writes no tag, and the
//!   decoded stream is cut by the fixed codec delay, LAME's 576 samples plus the decoder's 529
//!   (the same amounts the tag records and symphonia applies), then to the input's length. The
//!   tests check the length for several sizes and a cross-correlation peak at lag 0 on music, on
//!   both paths.
//! - **Bitrates**: those of the `mp3lame-encoder` API, 8, 16, 24, 32, 40, 48, 64, 80, 96, 112,
//!   128, 160, 192, 224, 256, 320 kb/s ([`MP3_BITRATES_KBPS`]; the MPEG bitrates 56 and 144 are
//!   not offered). MPEG-2/2.5 (16, 22.05, 24 kHz; 8, 11.025, 12 kHz) allows 8…160 kb/s and MPEG-1
//!   (32, 44.1, 48 kHz) 32…320 kb/s. For 192…320 kb/s at 16, 22.05 or 24 kHz (SPEC §7: CBR up to
//!   320 kb/s at 22,050 Hz) the clip is upsampled ×2 to the MPEG-1 rate, encoded and decoded
//!   there, and downsampled ×2. The ×2 resampler is a zero-phase half-band windowed-sinc filter
//!   (255 taps at the doubled rate, 129 of them non-zero; Kaiser window, β = 9) with zeros beyond
//!   the clip's ends; upsampling keeps the original samples exactly. Measured up and down at
//!   22.05 kHz: flat within 0.001 dB to 10.5 kHz (95 % of the Nyquist frequency), −0.3 dB at
//!   10.7 kHz, −6 dB at 11 kHz; images and aliases from 11.6 kHz up are below −95 dB. (LAME
//!   itself rounds a CBR bitrate to the nearest one its MPEG version allows, so the study's
//!   ffmpeg calls at 22.05 kHz most likely produced 160 kb/s for its 192 kb/s level.) Every other sample rate
//!   or bitrate is an error that lists the allowed bitrates. Input samples are expected in
//!   [−1, 1] (LAME's float input scale).

use std::io::{Cursor, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{check_memory, AudioError};
use super::resample::bessel_i0;
use crate::engine::memory::default_memory_limit;
use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushGap, MonoPcm, Quality, VbrMode};
use symphonia::core::audio::{AudioBufferRef, SampleBuffer};
use symphonia::core::codecs::{Decoder, DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_VORBIS};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// A decoded audio stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// Samples per second (per channel).
    pub sample_rate: u32,
    /// Number of channels.
    pub channels: usize,
    /// The samples, interleaved: frame `t`, channel `c` at `samples[t * channels + c]`.
    pub samples: Vec<f32>,
    /// Packets that failed to decode and were skipped (0 for an intact file).
    pub skipped_packets: usize,
}

impl Decoded {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels.max(1)
    }

    /// The stream mixed down to mono ([`to_mono`]; no copy when it is mono already).
    pub fn into_mono(self) -> Result<Vec<f32>, AudioError> {
        if self.channels == 1 {
            return Ok(self.samples);
        }
        to_mono(&self.samples, self.channels)
    }
}

/// Decodes an audio file (WAV, FLAC, OGG/Vorbis, MP3; the format is probed, the extension is a
/// hint) within the default memory limit; errors name the file.
pub fn decode_file(path: &Path) -> Result<Decoded, AudioError> {
    decode_file_within(path, default_memory_limit())
}

/// [`decode_file`], refusing a file whose decoded samples would need more than `memory_limit`
/// bytes. A damaged file is an error (`could not decode <path>: ...`), never a panic: WAV header
/// facts are checked before symphonia reads them ([`super::wav_header`]), and a panic inside
/// symphonia is caught and reported the same way.
pub fn decode_file_within(path: &Path, memory_limit: u64) -> Result<Decoded, AudioError> {
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(AudioError::Folder { name });
    }
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AudioError::NotFound { name: name.clone() },
        _ => AudioError::Open {
            name: name.clone(),
            source: e,
        },
    })?;
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    guarded(&name, || decode_source(file, &hint, &name, memory_limit))
}

/// Decodes audio held in memory within the default memory limit; `hint_extension` (such as
/// `"mp3"`, may be empty) helps the format probe. Errors name the source as `<bytes>`.
pub fn decode_bytes(bytes: &[u8], hint_extension: &str) -> Result<Decoded, AudioError> {
    decode_bytes_within(bytes, hint_extension, default_memory_limit())
}

/// [`decode_bytes`] within `memory_limit` bytes of decoded samples, damage-proof like
/// [`decode_file_within`].
pub fn decode_bytes_within(
    bytes: &[u8],
    hint_extension: &str,
    memory_limit: u64,
) -> Result<Decoded, AudioError> {
    guarded("<bytes>", || {
        decode_bytes_unguarded(bytes, hint_extension, memory_limit)
    })
}

/// The decoder itself, without the panic guard: what the property tests exercise.
fn decode_bytes_unguarded(
    bytes: &[u8],
    hint_extension: &str,
    memory_limit: u64,
) -> Result<Decoded, AudioError> {
    let mut hint = Hint::new();
    if !hint_extension.is_empty() {
        hint.with_extension(hint_extension);
    }
    decode_source(Cursor::new(bytes.to_vec()), &hint, "<bytes>", memory_limit)
}

/// Runs `decode`, turning a panic inside it (a decoder bug reached by damaged input) into the
/// error `could not decode <name>: ...`.
fn guarded(
    name: &str,
    decode: impl FnOnce() -> Result<Decoded, AudioError>,
) -> Result<Decoded, AudioError> {
    // The decoder's state is dropped with the panic, so nothing half-updated is seen again.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown reason".to_string());
        Err(AudioError::Undecodable {
            name: name.to_string(),
            reason: format!("the decoder failed on damaged data ({why})"),
        })
    })
}

/// Decodes the first audio track of `source`, interleaved, in gapless mode, after checking the
/// header facts of a WAV stream ([`super::wav_header::check`]); stops with an error once the
/// decoded samples exceed `memory_limit` bytes.
fn decode_source<S: MediaSource + 'static>(
    mut source: S,
    hint: &Hint,
    name: &str,
    memory_limit: u64,
) -> Result<Decoded, AudioError> {
    let len = source.byte_len().ok_or_else(|| AudioError::Undecodable {
        name: name.to_string(),
        reason: "its length is unknown".to_string(),
    })?;
    super::wav_header::check(&mut source, len, memory_limit)
        .map_err(|e| e.context(format!("could not decode {name}")))?;
    let stream = MediaSourceStream::new(Box::new(source), Default::default());
    let format_options = FormatOptions {
        enable_gapless: true,
        ..Default::default()
    };
    let mut format = symphonia::default::get_probe()
        .format(hint, stream, &format_options, &MetadataOptions::default())
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => AudioError::Undecodable {
                name: name.to_string(),
                reason: format!("unsupported or unrecognised audio format ({what})"),
            },
            other => AudioError::Undecodable {
                name: name.to_string(),
                reason: format!("not readable as audio ({other})"),
            },
        })?
        .format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| AudioError::Undecodable {
            name: name.to_string(),
            reason: "it has no audio track".to_string(),
        })?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let mut decoder = symphonia::default::get_codecs()
        .make(&params, &DecoderOptions::default())
        .map_err(|e| AudioError::Undecodable {
            name: name.to_string(),
            reason: format!("unsupported audio codec ({e})"),
        })?;
    let mut out = Decoded {
        sample_rate: params.sample_rate.unwrap_or(0),
        channels: params.channels.map_or(0, |c| c.count()),
        samples: Vec::new(),
        skipped_packets: 0,
    };
    let decoded_packets = read_packets(
        format.as_mut(),
        decoder.as_mut(),
        track_id,
        &mut out,
        name,
        memory_limit,
    )?;
    // symphonia 0.5 does not trim the end of an Ogg/Vorbis stream whose audio fits in one Ogg
    // page; the last granule position, which it reports as the frame count, is exact.
    if params.codec == CODEC_TYPE_VORBIS {
        if let Some(frames) = params.n_frames.and_then(|n| usize::try_from(n).ok()) {
            out.samples.truncate(frames.saturating_mul(out.channels));
        }
    }
    if decoded_packets == 0 && out.skipped_packets > 0 {
        return Err(AudioError::Undecodable {
            name: name.to_string(),
            reason: format!("all {} packets failed to decode", out.skipped_packets),
        });
    }
    if out.samples.is_empty() || out.sample_rate == 0 || out.channels == 0 {
        return Err(AudioError::Undecodable {
            name: name.to_string(),
            reason: "it contains no audio samples".to_string(),
        });
    }
    Ok(out)
}

/// Decodes every packet of the track into `out`, skipping (and counting) corrupt packets;
/// returns the number of packets decoded.
fn read_packets(
    format: &mut dyn FormatReader,
    decoder: &mut dyn Decoder,
    track_id: u32,
    out: &mut Decoded,
    name: &str,
    memory_limit: u64,
) -> Result<usize, AudioError> {
    let mut buffer: Option<SampleBuffer<f32>> = None;
    let mut decoded_packets = 0;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Ok(decoded_packets)
            }
            Err(SymphoniaError::ResetRequired) => {
                return Err(AudioError::Undecodable {
                    name: name.to_string(),
                    reason: "the stream changes its parameters midway".to_string(),
                })
            }
            Err(e) => {
                return Err(AudioError::Undecodable {
                    name: name.to_string(),
                    reason: format!("cannot be read ({e})"),
                })
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(audio) => {
                append_audio(audio, &mut buffer, out, name)?;
                // The samples so far (as the WAV header check counts them).
                let need = out.samples.len() as f64 * 4.0;
                if need > memory_limit as f64 {
                    let what = format!(
                        "could not decode {name}: its audio (more than {} frames × {} channels)",
                        out.frames(),
                        out.channels
                    );
                    check_memory(&what, need, memory_limit)?;
                }
            }
            Err(SymphoniaError::DecodeError(_)) => {
                out.skipped_packets += 1;
                continue;
            }
            Err(e) => {
                return Err(AudioError::Undecodable {
                    name: name.to_string(),
                    reason: e.to_string(),
                })
            }
        }
        decoded_packets += 1;
    }
}

/// Appends one decoded packet to `out`, interleaved as f32 (through a reused sample buffer).
fn append_audio(
    audio: AudioBufferRef<'_>,
    buffer: &mut Option<SampleBuffer<f32>>,
    out: &mut Decoded,
    name: &str,
) -> Result<(), AudioError> {
    let spec = *audio.spec();
    let channels = spec.channels.count();
    if out.samples.is_empty() {
        out.sample_rate = spec.rate;
        out.channels = channels;
    } else if (spec.rate, channels) != (out.sample_rate, out.channels) {
        return Err(AudioError::Undecodable {
            name: name.to_string(),
            reason: format!(
                "the stream changes from {} Hz × {} channels to {} Hz × {channels}",
                out.sample_rate, out.channels, spec.rate
            ),
        });
    }
    let needed = audio.capacity() * channels;
    let buf = match buffer {
        Some(buf) if buf.capacity() >= needed => buf,
        _ => buffer.insert(SampleBuffer::new(audio.capacity() as u64, spec)),
    };
    buf.copy_interleaved_ref(audio);
    out.samples.extend_from_slice(buf.samples());
    Ok(())
}

/// Interleaved samples of `channels` channels mixed to mono (the average of each frame).
pub fn to_mono(interleaved: &[f32], channels: usize) -> Result<Vec<f32>, AudioError> {
    if channels == 0 {
        return Err(AudioError::BadInput(
            "cannot mix 0 channels to mono".to_string(),
        ));
    }
    if interleaved.len() % channels != 0 {
        return Err(AudioError::BadInput(format!(
            "{} interleaved samples do not form whole frames of {channels} channels",
            interleaved.len()
        )));
    }
    let scale = 1.0 / channels as f32;
    Ok(interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() * scale)
        .collect())
}

/// Writes a mono clip as a 32-bit float WAV file, atomically (temporary file, then rename).
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), AudioError> {
    let name = path.display();
    if sample_rate == 0 {
        return Err(AudioError::BadParameter(format!(
            "{name}: the sample rate must be positive"
        )));
    }
    if samples.is_empty() {
        return Err(AudioError::BadInput(format!("{name}: no samples to write")));
    }
    if wav_bytes(samples.len()) > f64::from(u32::MAX) {
        return Err(AudioError::TooLarge(format!(
            "{name}: {} samples are too many for a WAV file (its sizes are 32-bit: at most {} \
             samples of 32 bits)",
            samples.len(),
            (u32::MAX - 44) / 4
        )));
    }
    super::check_finite(&name.to_string(), samples)?;
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut bytes = Cursor::new(Vec::with_capacity(64 + 4 * samples.len()));
    let wav_error =
        |e: hound::Error| AudioError::Encode(format!("{name}: cannot encode WAV ({e})"));
    let mut writer = hound::WavWriter::new(&mut bytes, spec).map_err(wav_error)?;
    for &s in samples {
        writer.write_sample(s).map_err(wav_error)?;
    }
    writer.finalize().map_err(wav_error)?;
    write_atomically(path, bytes.get_ref())
}

/// The size in bytes of the WAV file [`write_wav`] makes of `samples` samples (held in memory
/// before it is written).
pub fn wav_bytes(samples: usize) -> f64 {
    44.0 + 4.0 * samples as f64
}

/// Writes `bytes` to a new temporary file beside `path`, syncs it and renames it onto `path`.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), AudioError> {
    write_atomically_with(path, |temp| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(temp)?;
        f.write_all(bytes)
    })
}

/// Lets `write` create a new temporary file beside `path` (a name of its own, never an existing
/// file), syncs it and renames it onto `path`; removes the temporary file on failure.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), AudioError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.display();
    let file_name = path
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or_else(|| AudioError::BadParameter(format!("{name}: not a file path")))?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = folder.join(format!(
        ".{file_name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write(&temp)
        .and_then(|()| std::fs::File::open(&temp)?.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    result.map_err(|e| {
        // Best effort: the temporary file may not exist (the error came before or from create).
        let _ = std::fs::remove_file(&temp);
        AudioError::Write {
            name: name.to_string(),
            source: e,
        }
    })
}

/// The bitrates, in kb/s, that [`mp3_roundtrip`] accepts at some sample rate.
pub const MP3_BITRATES_KBPS: [u32; 16] = [
    8, 16, 24, 32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];

/// The bitrates that MPEG Layer III allows at `sample_rate` itself (among [`MP3_BITRATES_KBPS`]);
/// empty for a rate that is not an MPEG rate.
fn native_bitrates(sample_rate: u32) -> &'static [u32] {
    match sample_rate {
        32_000 | 44_100 | 48_000 => &MP3_BITRATES_KBPS[3..],
        8_000 | 11_025 | 12_000 | 16_000 | 22_050 | 24_000 => &MP3_BITRATES_KBPS[..12],
        _ => &[],
    }
}

/// The rate a clip at `sample_rate` is encoded at for `kbps`: its own, or for MPEG-2 rates whose
/// bitrates stop below `kbps`, twice its own (an MPEG-1 rate); `None` when neither allows it.
fn route(sample_rate: u32, kbps: u32) -> Option<u32> {
    if native_bitrates(sample_rate).contains(&kbps) {
        return Some(sample_rate);
    }
    let doubled = sample_rate.saturating_mul(2);
    (matches!(sample_rate, 16_000 | 22_050 | 24_000) && native_bitrates(doubled).contains(&kbps))
        .then_some(doubled)
}

/// [`route`], or an error that lists what the sample rate allows.
fn encoding_rate(sample_rate: u32, kbps: u32) -> Result<u32, AudioError> {
    if let Some(rate) = route(sample_rate, kbps) {
        return Ok(rate);
    }
    let allowed = mp3_bitrates(sample_rate);
    if allowed.is_empty() {
        return Err(AudioError::BadParameter(format!(
            "MP3 cannot encode {sample_rate} Hz: resample to 8000, 11025, 12000, 16000, 22050, \
             24000, 32000, 44100 or 48000 Hz first"
        )));
    }
    Err(not_allowed(sample_rate, kbps, &allowed))
}

/// The error for a bitrate that `sample_rate` does not allow.
fn not_allowed(sample_rate: u32, kbps: u32, allowed: &[u32]) -> AudioError {
    AudioError::BadParameter(format!(
        "MP3 at {sample_rate} Hz cannot be {kbps} kb/s; allowed bitrates: {allowed:?} kb/s"
    ))
}

/// The bitrates (kb/s) that [`mp3_roundtrip`] accepts at `sample_rate` (empty when none).
pub fn mp3_bitrates(sample_rate: u32) -> Vec<u32> {
    MP3_BITRATES_KBPS
        .iter()
        .copied()
        .filter(|&kbps| route(sample_rate, kbps).is_some())
        .collect()
}

/// The `mp3lame-encoder` bitrate for `kbps`.
fn lame_bitrate(kbps: u32) -> Result<Bitrate, AudioError> {
    Ok(match kbps {
        8 => Bitrate::Kbps8,
        16 => Bitrate::Kbps16,
        24 => Bitrate::Kbps24,
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => {
            return Err(AudioError::BadParameter(format!(
                "{kbps} kb/s is not one of {MP3_BITRATES_KBPS:?}"
            )))
        }
    })
}

/// A mono CBR LAME encoder at `sample_rate` in and out, writing the LAME "Info" tag where it fits.
fn lame_encoder(sample_rate: u32, kbps: u32) -> Result<Encoder, AudioError> {
    let setting = |what: &'static str| {
        move |e: mp3lame_encoder::BuildError| {
            AudioError::Encode(format!("LAME rejected the {what}: {e}"))
        }
    };
    let mut builder = Builder::new()
        .ok_or_else(|| AudioError::Encode("LAME could not allocate an encoder".to_string()))?;
    builder
        .set_num_channels(1)
        .map_err(setting("channel count"))?;
    builder
        .set_sample_rate(sample_rate)
        .map_err(setting("input rate"))?;
    builder
        .set_output_sample_rate(NonZeroU32::new(sample_rate))
        .map_err(setting("output rate"))?;
    builder
        .set_brate(lame_bitrate(kbps)?)
        .map_err(setting("bitrate"))?;
    builder
        .set_mode(mp3lame_encoder::Mode::Mono)
        .map_err(setting("mode"))?;
    builder
        .set_vbr_mode(VbrMode::Off)
        .map_err(setting("CBR mode"))?;
    builder
        .set_quality(Quality::VeryNice)
        .map_err(setting("quality"))?;
    builder
        .set_to_write_vbr_tag(true)
        .map_err(setting("LAME tag"))?;
    builder.build().map_err(|e| {
        AudioError::Encode(format!(
            "LAME cannot encode {sample_rate} Hz at {kbps} kb/s: {e}"
        ))
    })
}

/// Samples between an input sample and its decoded copy in an MP3 without gapless information:
/// LAME 3.100's encoder delay (576) plus the decoder's 529 (the value symphonia also assumes when
/// it trims by a LAME tag).
const MP3_CODEC_DELAY: usize = 576 + 529;

/// An MP3 file (bytes) of the mono clip, CBR at `kbps`, encoded at `sample_rate` itself (which
/// must allow that bitrate: see the module docs). It carries a LAME "Info" tag with its delay and
/// padding when the tag fits in one frame (≥ 64 kb/s at 22.05 kHz); below that, LAME writes none.
pub fn mp3_encode(signal: &[f32], sample_rate: u32, kbps: u32) -> Result<Vec<u8>, AudioError> {
    encode_mp3(signal, sample_rate, kbps).map(|(bytes, _)| bytes)
}

/// [`mp3_encode`], and whether the stream carries the LAME tag.
fn encode_mp3(signal: &[f32], sample_rate: u32, kbps: u32) -> Result<(Vec<u8>, bool), AudioError> {
    if signal.is_empty() {
        return Err(AudioError::BadInput(
            "cannot encode an empty clip to MP3".to_string(),
        ));
    }
    super::check_finite("MP3 encoder input", signal)?;
    if !native_bitrates(sample_rate).contains(&kbps) {
        return Err(not_allowed(sample_rate, kbps, native_bitrates(sample_rate)));
    }
    let mut encoder = lame_encoder(sample_rate, kbps)?;
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(signal.len()));
    encoder
        .encode_to_vec(MonoPcm(signal), &mut out)
        .map_err(|e| AudioError::Encode(format!("LAME failed to encode: {e}")))?;
    out.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut out)
        .map_err(|e| AudioError::Encode(format!("LAME failed to flush: {e}")))?;
    // When LAME writes a tag, the first frame is its placeholder, filled in only now.
    let mut tag = Vec::with_capacity(encoder.lame_tag_size());
    if encoder.lame_tag_encode_to_vec(&mut tag).is_none() {
        return Ok((out, false));
    }
    out.get_mut(..tag.len())
        .ok_or_else(|| {
            AudioError::Encode("the MP3 stream is shorter than its Info tag".to_string())
        })?
        .copy_from_slice(&tag);
    Ok((out, true))
}

/// The mono clip after MP3 compression at `kbps` (CBR) and decoding, aligned with the input and
/// exactly as long; see the module docs for the allowed rates and bitrates and the ×2 route.
pub fn mp3_roundtrip(signal: &[f32], sample_rate: u32, kbps: u32) -> Result<Vec<f32>, AudioError> {
    let rate = encoding_rate(sample_rate, kbps)?;
    let doubled = rate != sample_rate;
    let input = if doubled {
        upsample2(signal)
    } else {
        signal.to_vec()
    };
    let (bytes, tagged) = encode_mp3(&input, rate, kbps)?;
    let decoded = decode_bytes(&bytes, "mp3")?;
    // With the tag, symphonia has already cut the delay and the padding (gapless mode).
    let (skip, expected_len) = if tagged {
        (0, input.len())
    } else {
        (MP3_CODEC_DELAY, decoded.samples.len())
    };
    let aligned = decoded.samples.get(skip..skip + input.len()).filter(|_| {
        (
            decoded.sample_rate,
            decoded.channels,
            decoded.skipped_packets,
        ) == (rate, 1, 0)
            && decoded.samples.len() == expected_len
    });
    let Some(aligned) = aligned else {
        return Err(AudioError::Encode(format!(
            "MP3 round trip of {} samples at {rate} Hz came back as {} samples at {} Hz × {} \
             channels with {} bad packets",
            input.len(),
            decoded.samples.len(),
            decoded.sample_rate,
            decoded.channels,
            decoded.skipped_packets
        )));
    };
    Ok(if doubled {
        downsample2(aligned)
    } else {
        aligned.to_vec()
    })
}

/// Odd taps per side of the half-band filter (255 taps in all at the doubled rate).
const HALF_BAND_ODD_TAPS: usize = 64;
/// Kaiser window shape of the half-band filter (about −90 dB stopband).
const HALF_BAND_KAISER_BETA: f64 = 9.0;

/// The half-band low-pass `h` at the doubled rate, as its odd taps `h[1], h[3], …` (it is
/// symmetric, `h[0] = 1/2` and the other even taps are 0): `sin(πk/2)/(πk)` under a Kaiser window,
/// scaled so that the odd taps of both sides sum to 1/2 (unit gain at DC).
fn half_band_taps() -> Vec<f64> {
    let reach = (2 * HALF_BAND_ODD_TAPS) as f64;
    let taps: Vec<f64> = (0..HALF_BAND_ODD_TAPS)
        .map(|j| {
            let k = (2 * j + 1) as f64;
            let ideal = (std::f64::consts::FRAC_PI_2 * k).sin() / (std::f64::consts::PI * k);
            let x = k / reach;
            ideal * bessel_i0(HALF_BAND_KAISER_BETA * (1.0 - x * x).sqrt())
                / bessel_i0(HALF_BAND_KAISER_BETA)
        })
        .collect();
    let sum = 2.0 * taps.iter().sum::<f64>();
    taps.iter().map(|t| t * 0.5 / sum).collect()
}

/// `x` with `pad` zeros before and after it.
fn zero_padded(x: &[f32], pad: usize) -> Vec<f32> {
    let mut padded = vec![0.0; x.len() + 2 * pad];
    padded[pad..pad + x.len()].copy_from_slice(x);
    padded
}

/// `Σ_j taps[j] · (left_j + right_j)`: one output of a symmetric filter, given the samples moving
/// away from its centre on either side.
fn symmetric_dot<'a>(
    taps: &[f64],
    left: impl Iterator<Item = &'a f32>,
    right: impl Iterator<Item = &'a f32>,
) -> f64 {
    taps.iter()
        .zip(left.zip(right))
        .map(|(t, (&a, &b))| t * (f64::from(a) + f64::from(b)))
        .sum()
}

/// The clip at twice its rate: even outputs are the input samples, odd outputs the half-band
/// interpolation between them.
fn upsample2(x: &[f32]) -> Vec<f32> {
    let taps: Vec<f64> = half_band_taps().iter().map(|t| 2.0 * t).collect();
    let k = taps.len();
    let padded = zero_padded(x, k);
    let mut out = Vec::with_capacity(2 * x.len());
    // The window after sample m holds x[m−k+1 ..= m] then x[m+1 ..= m+k].
    for (&v, window) in x.iter().zip(padded.windows(2 * k).skip(1)) {
        let (left, right) = window.split_at(k);
        out.push(v);
        out.push(symmetric_dot(&taps, left.iter().rev(), right.iter()) as f32);
    }
    out
}

/// The clip at half its rate: the half-band filter evaluated at every other sample.
fn downsample2(x: &[f32]) -> Vec<f32> {
    let taps = half_band_taps();
    let k = taps.len();
    let padded = zero_padded(x, 2 * k);
    // Window m holds x[2m−2k+1 ..= 2m+2k−1], centred on x[2m]; only odd offsets have taps.
    padded
        .windows(4 * k - 1)
        .skip(1)
        .step_by(2)
        .take(x.len().div_ceil(2))
        .map(|window| {
            let (left, centre_right) = window.split_at(2 * k - 1);
            let (centre, right) = centre_right.split_first().unwrap_or((&0.0, &[]));
            let odd = symmetric_dot(&taps, left.iter().rev().step_by(2), right.iter().step_by(2));
            (0.5 * f64::from(*centre) + odd) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::testdata::{npy, reference_audio, shared};
    use crate::audio::kernels::wav_header::tests::wav;

    fn music(seconds: f64) -> Vec<f32> {
        let path = shared().join("data/audio/music/asc_frontiers_015s.wav");
        let mut x = decode_file(&path).unwrap().samples;
        x.truncate((22050.0 * seconds) as usize);
        x
    }

    fn tone(sr: f64, n: usize, freq: f64, amp: f64) -> Vec<f64> {
        (0..n)
            .map(|i| amp * (std::f64::consts::TAU * freq * i as f64 / sr).sin())
            .collect()
    }

    fn snr_db(reference: &[f32], test: &[f32]) -> f64 {
        let (mut s, mut e) = (0.0, 0.0);
        for (&r, &t) in reference.iter().zip(test) {
            s += f64::from(r) * f64::from(r);
            e += (f64::from(r) - f64::from(t)).powi(2);
        }
        10.0 * (s / e).log10()
    }

    /// The lag in `-max..=max` maximising `Σ a[i] b[i + lag]`.
    fn best_lag(a: &[f32], b: &[f32], max: isize) -> isize {
        let score = |lag: isize| -> f64 {
            (0..a.len() as isize)
                .filter_map(|i| {
                    Some(
                        f64::from(a[i as usize])
                            * f64::from(*b.get(usize::try_from(i + lag).ok()?)?),
                    )
                })
                .sum()
        };
        (-max..=max)
            .max_by(|&p, &q| score(p).total_cmp(&score(q)))
            .unwrap()
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("trustql_codec_{tag}_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn decodes_wav_exactly() {
        let d = decode_file(&reference_audio("signal.wav")).unwrap();
        assert_eq!(
            (d.sample_rate, d.channels, d.skipped_packets),
            (22050, 1, 0)
        );
        let expected = npy("signal_f64.npy").data;
        assert_eq!(d.samples.len(), expected.len());
        for (a, b) in d.samples.iter().zip(&expected) {
            assert_eq!(f64::from(*a), *b);
        }
    }

    #[test]
    fn decodes_stereo_flac_and_ogg_interleaved() {
        let left = tone(22050.0, 11025, 440.0, 0.5);
        let right = tone(22050.0, 11025, 660.0, 0.25);
        let flac = include_bytes!("../../../tests/data/audio/codec_stereo_tone.flac");
        let d = decode_bytes(flac, "flac").unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (22050, 2, 11025));
        for t in 0..11025 {
            assert!((f64::from(d.samples[2 * t]) - left[t]).abs() < 1e-4);
            assert!((f64::from(d.samples[2 * t + 1]) - right[t]).abs() < 1e-4);
        }
        let mono = d.clone().into_mono().unwrap();
        assert_eq!(mono.len(), 11025);
        for t in 0..11025 {
            assert!((f64::from(mono[t]) - (left[t] + right[t]) / 2.0).abs() < 1e-4);
        }
        // Vorbis is lossy: each channel must still be its own tone, far above the coding noise.
        let ogg = include_bytes!("../../../tests/data/audio/codec_stereo_tone.ogg");
        let d = decode_bytes(ogg, "ogg").unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (22050, 2, 11025));
        for (c, expected) in [&left, &right].into_iter().enumerate() {
            let channel: Vec<f32> = d.samples.iter().skip(c).step_by(2).copied().collect();
            let reference: Vec<f32> = expected.iter().map(|&v| v as f32).collect();
            let snr = snr_db(&reference, &channel);
            assert!(snr > 20.0, "channel {c}: {snr} dB");
        }
    }

    #[test]
    fn gapless_mp3_from_another_encoder() {
        // Written by libsndfile through LAME, with its Info tag: 22050 samples exactly.
        let mp3 = include_bytes!("../../../tests/data/audio/codec_mono_tone.mp3");
        let d = decode_bytes(mp3, "mp3").unwrap();
        assert_eq!(
            (d.sample_rate, d.channels, d.skipped_packets),
            (22050, 1, 0)
        );
        assert_eq!(d.samples.len(), 22050);
        let reference: Vec<f32> = tone(22050.0, 22050, 440.0, 0.5)
            .iter()
            .map(|&v| v as f32)
            .collect();
        assert_eq!(best_lag(&reference, &d.samples, 60), 0);
        assert!(snr_db(&reference, &d.samples) > 20.0);
    }

    #[test]
    fn to_mono_averages_frames() {
        assert_eq!(to_mono(&[1.0, 3.0, 2.0, 4.0], 2).unwrap(), vec![2.0, 3.0]);
        assert_eq!(to_mono(&[1.0, 2.0, 6.0], 3).unwrap(), vec![3.0]);
        assert!(to_mono(&[1.0, 2.0, 3.0], 2).is_err());
        assert!(to_mono(&[1.0], 0).is_err());
    }

    #[test]
    fn decoding_errors_name_the_file() {
        let dir = temp_dir("errors");
        let missing = dir.join("missing.wav");
        let e = decode_file(&missing).unwrap_err().to_string();
        assert!(
            e.contains("missing.wav") && e.contains("does not exist"),
            "{e}"
        );
        let garbage = dir.join("garbage.mp3");
        std::fs::write(&garbage, b"this is not audio at all, just some text").unwrap();
        let e = decode_file(&garbage).unwrap_err().to_string();
        assert!(e.contains("garbage.mp3"), "{e}");
        let e = decode_file(&dir).unwrap_err().to_string();
        assert!(e.contains("is a folder"), "{e}");
        let e = decode_bytes(&[0u8; 3], "").unwrap_err().to_string();
        assert!(e.contains("<bytes>"), "{e}");
        let empty = dir.join("empty.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 22050,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        hound::WavWriter::create(&empty, spec)
            .unwrap()
            .finalize()
            .unwrap();
        let e = decode_file(&empty).unwrap_err().to_string();
        assert!(
            e.contains("empty.wav") && e.contains("no audio samples"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The WAV header fields at their byte offsets in [`wav`]'s files.
    const SAMPLE_RATE_AT: usize = 24;
    const CHANNELS_AT: usize = 22;
    const DATA_LEN_AT: usize = 40;

    fn with(mut bytes: Vec<u8>, at: usize, value: &[u8]) -> Vec<u8> {
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    }

    #[test]
    fn a_hand_made_wav_decodes() {
        // The bytes the damaged files below start from decode, so their errors are the damage's.
        let d = decode_bytes_unguarded(&wav(2, 8000, 300), "", 1 << 30).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (8000, 2, 300));
        assert_eq!(d.samples[1], 97.0 / 32768.0);
    }

    #[test]
    fn damaged_wav_files_are_errors_naming_them() {
        let dir = temp_dir("damaged");
        let ok = wav(1, 22050, 1000);
        let mut garbage = vec![0u8; 3000];
        let mut state = 12345u64;
        for b in &mut garbage {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *b = (state >> 56) as u8;
        }
        for (file, bytes, needle) in [
            (
                "sr0.wav",
                with(ok.clone(), SAMPLE_RATE_AT, &0u32.to_le_bytes()),
                "sample rate of 0 Hz",
            ),
            (
                "sr_absurd.wav",
                with(ok.clone(), SAMPLE_RATE_AT, &4_000_000_000u32.to_le_bytes()),
                "sample rate of 4000000000 Hz",
            ),
            (
                "ch0.wav",
                with(ok.clone(), CHANNELS_AT, &0u16.to_le_bytes()),
                "gives 0 channels",
            ),
            ("truncated.wav", ok[..1000].to_vec(), "truncated"),
            (
                "huge_data.wav",
                with(ok.clone(), DATA_LEN_AT, &0x7fff_0000u32.to_le_bytes()),
                "declares 2147418112 bytes",
            ),
        ] {
            let path = dir.join(file);
            std::fs::write(&path, &bytes).unwrap();
            let e = decode_file(&path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("could not decode {}: ", path.display()))
                    && e.contains(needle),
                "{file}: {e}"
            );
            // The kernel refuses it by itself, without the panic guard.
            let e = decode_bytes_unguarded(&bytes, "wav", 1 << 30)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{file}: {e}");
        }
        let path = dir.join("garbage.wav");
        std::fs::write(&path, &garbage).unwrap();
        let e = decode_file(&path).unwrap_err().to_string();
        assert!(e.contains("garbage.wav"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn decoding_stops_at_the_memory_limit() {
        // 1000 frames × 2 channels decode to 8000 bytes of f32.
        let bytes = wav(2, 22050, 1000);
        assert!(decode_bytes_within(&bytes, "", 8000).is_ok());
        let e = decode_bytes_within(&bytes, "", 7999)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("could not decode <bytes>: its audio (1000 frames × 2 channels) needs"),
            "{e}"
        );
        // Formats without a header check are stopped while decoding.
        let flac = include_bytes!("../../../tests/data/audio/codec_stereo_tone.flac");
        let e = decode_bytes_within(flac, "flac", 20_000)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("could not decode <bytes>: its audio (more than")
                && e.contains("trustql.memory_limit"),
            "{e}"
        );
    }

    #[test]
    fn a_panicking_decoder_becomes_an_error() {
        let e = guarded("x.wav", || panic!("TimeBase cannot have 0 denominator"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "could not decode x.wav: the decoder failed on damaged data (TimeBase cannot have 0 \
             denominator)"
        );
        let e = guarded("y.mp3", || panic!("{}", String::from("owned")))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("(owned)"), "{e}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Any bytes, under any format hint: the kernel itself (no panic guard) returns a value
        /// or an error that says something.
        #[test]
        fn random_bytes_never_panic(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4096),
            hint in proptest::sample::select(vec!["", "wav", "mp3", "flac", "ogg"]),
        ) {
            if let Err(e) = decode_bytes_unguarded(&bytes, hint, 1 << 30) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }

        /// Random bytes behind a RIFF/WAVE header reach the WAV chunk walk.
        #[test]
        fn random_wav_chunks_never_panic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            riff_len in proptest::prelude::any::<u32>(),
        ) {
            let mut bytes = b"RIFF".to_vec();
            bytes.extend(riff_len.to_le_bytes());
            bytes.extend(b"WAVE");
            bytes.extend(body);
            if let Err(e) = decode_bytes_unguarded(&bytes, "wav", 1 << 30) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }

        /// A valid WAV with bytes changed and its end cut: the kernel never panics.
        #[test]
        fn damaged_wavs_never_panic(
            channels in 1u16..4,
            frames in 1usize..300,
            flips in proptest::collection::vec(
                (0usize..2000, proptest::prelude::any::<u8>()), 1..8),
            keep in 0.0f64..=1.0,
        ) {
            let mut bytes = wav(channels, 22050, frames);
            for (at, value) in flips {
                // Mostly the 44-byte header, where the facts are.
                let at = if at < 1000 { at % 44 } else { at % bytes.len() };
                bytes[at] = value;
            }
            bytes.truncate((bytes.len() as f64 * keep) as usize);
            if let Err(e) = decode_bytes_unguarded(&bytes, "wav", 1 << 30) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }

        /// FLAC, Ogg/Vorbis and MP3 files with bytes changed and their end cut: no panic gets out
        /// of the public decoder (symphonia's own checks, and the guard for what they miss).
        #[test]
        fn damaged_compressed_files_never_panic(
            which in 0usize..3,
            flips in proptest::collection::vec(
                (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..16),
            keep in 0.0f64..=1.0,
        ) {
            let (original, hint): (&[u8], &str) = match which {
                0 => (include_bytes!("../../../tests/data/audio/codec_stereo_tone.flac"), "flac"),
                1 => (include_bytes!("../../../tests/data/audio/codec_stereo_tone.ogg"), "ogg"),
                _ => (include_bytes!("../../../tests/data/audio/codec_mono_tone.mp3"), "mp3"),
            };
            let mut bytes = original.to_vec();
            for (at, value) in flips {
                // Half of the changes in the first 256 bytes, where the stream headers are.
                let at = if at % 2 == 0 { at % 256 } else { at % bytes.len() };
                bytes[at] = value;
            }
            bytes.truncate((bytes.len() as f64 * keep) as usize);
            if let Err(e) = decode_bytes_within(&bytes, hint, 1 << 30) {
                proptest::prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn wav_writing_is_lossless_and_atomic() {
        let dir = temp_dir("write");
        let path = dir.join("clip.wav");
        let mut clip: Vec<f32> = music(0.5);
        clip[10] = 1.75; // beyond full scale: kept, not clipped or wrapped
        clip[11] = -3.0;
        write_wav(&path, &clip, 22050).unwrap();
        let spec = hound::WavReader::open(&path).unwrap().spec();
        assert_eq!(
            (spec.bits_per_sample, spec.sample_format),
            (32, hound::SampleFormat::Float)
        );
        let d = decode_file(&path).unwrap();
        assert_eq!((d.sample_rate, d.channels), (22050, 1));
        assert_eq!(d.samples, clip);
        // Overwriting replaces the file; no temporary file is left behind.
        write_wav(&path, &clip[..100], 16000).unwrap();
        let d = decode_file(&path).unwrap();
        assert_eq!((d.sample_rate, d.samples.len()), (16000, 100));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("clip.wav")]);
        let e = write_wav(&dir.join("no/such/folder/x.wav"), &clip, 22050)
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.wav"), "{e}");
        assert!(write_wav(&dir, &clip, 22050).is_err());
        assert!(write_wav(&path, &[f32::NAN], 22050)
            .unwrap_err()
            .to_string()
            .contains("sample 0"));
        assert!(write_wav(&path, &[], 22050).is_err());
        assert!(write_wav(&path, &clip, 0).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn half_band_resampler_is_band_limited_and_zero_phase() {
        let n = 4000;
        let edge = 200;
        for freq in [100.0, 1000.0, 5000.0, 9000.0] {
            let x: Vec<f32> = tone(22050.0, n, freq, 0.8)
                .iter()
                .map(|&v| v as f32)
                .collect();
            let up = upsample2(&x);
            let exact = tone(44100.0, 2 * n, freq, 0.8);
            assert_eq!(up.len(), 2 * n);
            for i in 2 * edge..2 * (n - edge) {
                assert!(
                    (f64::from(up[i]) - exact[i]).abs() < 1e-4,
                    "{freq} Hz at {i}"
                );
            }
            let high: Vec<f32> = exact.iter().map(|&v| v as f32).collect();
            let down = downsample2(&high);
            assert_eq!(down.len(), n);
            for i in edge..n - edge {
                assert!(
                    (f64::from(down[i]) - f64::from(x[i])).abs() < 1e-4,
                    "{freq} Hz at {i}"
                );
            }
        }
        // Above the original Nyquist frequency nothing comes through (no aliasing).
        let high: Vec<f32> = tone(44100.0, 2 * n, 15000.0, 0.8)
            .iter()
            .map(|&v| v as f32)
            .collect();
        let down = downsample2(&high);
        assert!(down[edge..n - edge].iter().all(|v| v.abs() < 1e-4));
        // Even outputs of the upsampler are the input itself.
        let x = music(0.2);
        let up = upsample2(&x);
        assert!(x.iter().zip(up.iter().step_by(2)).all(|(a, b)| a == b));
    }

    #[test]
    fn mp3_keeps_length_and_alignment() {
        let x = music(3.0);
        for n in [1, 500, 1152, 4097, 33333] {
            for kbps in [8, 128, 320] {
                let y = mp3_roundtrip(&x[..n], 22050, kbps).unwrap();
                assert_eq!(y.len(), n, "{n} samples at {kbps} kb/s");
            }
        }
        // 8 and 32 kb/s carry no LAME tag (cut by the codec delay), 128 and 320 do (the latter
        // through the doubled rate).
        for kbps in [8, 32, 128, 320] {
            let y = mp3_roundtrip(&x, 22050, kbps).unwrap();
            assert_eq!(best_lag(&x, &y, 100), 0, "{kbps} kb/s");
        }
        let y = mp3_roundtrip(&x, 44100, 64).unwrap();
        assert_eq!(y.len(), x.len());
        assert_eq!(best_lag(&x, &y, 100), 0);
    }

    #[test]
    fn mp3_quality_rises_with_bitrate() {
        let x = music(5.0);
        let snr: Vec<f64> = [8, 32, 128, 320]
            .iter()
            .map(|&kbps| snr_db(&x, &mp3_roundtrip(&x, 22050, kbps).unwrap()))
            .collect();
        assert!(snr[0] < snr[1] && snr[1] < snr[2], "SNR {snr:?}");
        assert!(snr[2] > 10.0 && snr[3] > 10.0, "SNR {snr:?}");
        // The same clip, encoded by us, is a valid MP3 with its length in the Info tag.
        let bytes = mp3_encode(&x, 22050, 64).unwrap();
        assert_eq!(decode_bytes(&bytes, "").unwrap().samples.len(), x.len());
    }

    #[test]
    fn mp3_rejects_what_it_cannot_encode() {
        let x = music(0.5);
        let e = mp3_roundtrip(&x, 22050, 100).unwrap_err().to_string();
        assert!(e.contains("allowed bitrates") && e.contains("320"), "{e}");
        let e = mp3_roundtrip(&x, 44100, 8).unwrap_err().to_string();
        assert!(e.contains("allowed bitrates") && !e.contains("[8,"), "{e}");
        let e = mp3_roundtrip(&x, 12345, 128).unwrap_err().to_string();
        assert!(e.contains("12345 Hz"), "{e}");
        assert!(mp3_roundtrip(&[], 22050, 128).is_err());
        assert!(mp3_roundtrip(&[0.1, f32::NAN], 22050, 128).is_err());
        assert_eq!(mp3_bitrates(22050), MP3_BITRATES_KBPS.to_vec());
        assert_eq!(mp3_bitrates(11025), MP3_BITRATES_KBPS[..12].to_vec());
        assert!(mp3_bitrates(12345).is_empty());
    }
}
