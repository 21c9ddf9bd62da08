//! `render_midi(midi, sr [, options [, performance]])`: Standard MIDI File bytes to audio, in
//! the engine.
//!
//! The thesis' rendered-score experiments need the same notes as audio under controlled
//! variations (tempo, transposition, instruments, stems): this function makes a render a
//! deterministic expression of a query instead of a call to an external synthesiser. The SMF
//! reader is [`super::kernels::midi`], the sequencer and renderer [`super::kernels::synth`] (on
//! `rustysynth`); this file is the Arrow side: arguments, the options string (parsed once per
//! call, errors that name the option), the result type (mono `list<float32>` or, with
//! `channels = 2`, `list<list<float32>>`, decided at planning from the literal options), the
//! per-row `performance` options (tempo, instruments, pan... of each clip, over the constant
//! ones; they cannot change the channels or the SoundFont, which hold for the whole call), the
//! memory check, a SoundFont cache shared by every call, and rows rendered in parallel (each row
//! on one thread, so bits never depend on the thread count).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;
use rayon::prelude::*;
use rustysynth::SoundFont;

use super::adapter::{
    audio_type, frames_type, nested_array, sample_rate_in, samples_array, PlanCache,
};
use super::feature_options::{flag, for_each_option};
use super::kernels::error::check_memory;
use super::kernels::synth::{self, RenderOptions, SYNTH_RATES};
use super::kernels::AudioError;
use crate::common::adapters::columnar;
use crate::engine::memory::memory_limit;
use crate::model::{CatalogRef, ModelCatalog};

/// The function's name.
pub const NAME: &str = "render_midi";
/// The SoundFont used unless the options name another (Debian's `timgm6mb-soundfont`).
pub const DEFAULT_SOUNDFONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

/// The options `render_midi` accepts, with their meaning.
pub const OPTION_NAMES: [(&str, &str); 12] = [
    (
        "tempo",
        "bpm (quarter notes per minute) replacing the file's tempo; default the file's, 120 without one",
    ),
    ("tempo_scale", "multiplies the tempo (2 = twice as fast)"),
    ("transpose", "semitones added to every non-drum note"),
    (
        "programs",
        "GM program (0-127) per part, space-separated; the last repeats",
    ),
    (
        "pan",
        "pan per part, -1 (left) to 1 (right), space-separated; the last repeats",
    ),
    ("velocity_scale", "multiplies note-on velocities"),
    ("gain", "the synthesiser's master volume (default 0.5)"),
    ("max_seconds", "the longest render (default 600)"),
    (
        "tail",
        "seconds rendered after the last note ends (default 1)",
    ),
    ("soundfont", "path of a SoundFont 2 file"),
    ("channels", "1 (mono: mean of left and right) or 2"),
    ("effects", "true: rustysynth's reverb and chorus (default false)"),
];

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Synthesises audio from the bytes of a Standard MIDI File (format 0 or 1) with a General MIDI SoundFont (default /usr/share/sounds/sf2/TimGM6mb.sf2, the bank the thesis' rendered clips used) on rustysynth, deterministically: the same bytes and options give the same bits. By default the result is mono, list<float32> at sr Hz (the mean of the synthesiser's left and right); with channels = 2 it is list<list<float32>>, left then right. The render lasts until the last note ends plus tail seconds (at most max_seconds). A part is a track and channel that plays notes (the drum channel 10 plays as written). Options are 'name = value' pairs separated by commas: tempo (bpm, replaces the file's tempo; default the file's, 120 without one), tempo_scale (multiplies the tempo), transpose (semitones, every non-drum note), programs (GM program 0-127 per part, space-separated, the last repeats; default the file's program changes), pan (-1 left .. 1 right per part, space-separated, the last repeats; default the file's, else centred in mono and spread evenly in stereo), velocity_scale (default 1), gain (master volume, default 0.5; nothing is clipped), max_seconds (default 600), tail (default 1.0), soundfont (path), channels (1 or 2), effects (true: reverb and chorus; default false, a dry render). Events take effect at the synthesiser's 8-sample block boundary nearest their time. A fourth argument, performance, gives each row its own options in the same form (a column, e.g. each clip's tempo, programs and pan), applied over the constant ones; it may set any option but channels and soundfont, which hold for the whole call. Malformed MIDI bytes are an error naming the problem and its byte offset; NULL midi, sr or performance gives NULL.",
    syntax_example = "render_midi(midi, sr [, options [, performance]])",
    sql_example = r#"```sql
> SELECT cardinality(render_midi(m, 22050)) AS mono, array_length(render_midi(m, 22050, 'tempo = 60, channels = 2')) AS channels FROM (SELECT X'4D546864000000060000000100604D54726B0000000C009045646080450000FF2F00' AS m);
+-------+----------+
| mono  | channels |
+-------+----------+
| 33075 | 2        |
+-------+----------+
> SELECT p, cardinality(render_midi(m, 16000, 'tail = 0', p)) AS samples FROM (SELECT X'4D546864000000060000000100604D54726B0000000C009045646080450000FF2F00' AS m), (VALUES ('tempo = 60'), ('tempo = 120')) AS t(p) ORDER BY p;
+-------------+---------+
| p           | samples |
+-------------+---------+
| tempo = 120 | 8000    |
| tempo = 60  | 16000   |
+-------------+---------+
```"#,
    argument(
        name = "midi",
        description = "The bytes of a Standard MIDI File (binary)."
    ),
    argument(
        name = "sr",
        description = "The sample rate in Hz, a whole number from 16000 to 192000."
    ),
    argument(
        name = "options",
        description = "A constant string of 'name = value' pairs (see the description)."
    ),
    argument(
        name = "performance",
        description = "Text of 'name = value' pairs per row (a column or a constant), applied over the options; not channels or soundfont."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RenderMidi {
    signature: Signature,
    catalog: Option<CatalogRef>,
}

impl Default for RenderMidi {
    fn default() -> Self {
        RenderMidi {
            signature: Signature::user_defined(Volatility::Immutable),
            catalog: None,
        }
    }
}

impl RenderMidi {
    /// The function, stopping when the session's statement is cancelled.
    pub fn new(catalog: Arc<dyn ModelCatalog>) -> Self {
        RenderMidi {
            catalog: Some(CatalogRef(catalog)),
            ..Self::default()
        }
    }
}

/// Parsed options: the renderer's and the SoundFont's path.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiOptions {
    /// What the renderer takes.
    pub render: RenderOptions,
    /// The SoundFont.
    pub soundfont: PathBuf,
}

fn bad(name: &str, want: &str, value: &str) -> AudioError {
    AudioError::BadParameter(format!("option {name} must be {want}, got '{value}'"))
}

fn number_in(name: &str, value: &str, lo: f64, hi: f64, open_lo: bool) -> Result<f64, AudioError> {
    let want = if open_lo {
        format!("a number above {lo} and at most {hi}")
    } else {
        format!("a number from {lo} to {hi}")
    };
    value
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v <= hi && (*v > lo || (!open_lo && *v == lo)))
        .ok_or_else(|| bad(name, &want, value))
}

fn integer_in(name: &str, value: &str, lo: i64, hi: i64) -> Result<i64, AudioError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| bad(name, &format!("an integer from {lo} to {hi}"), value))
}

/// Parses `text` (`name = value` pairs separated by commas, the grammar of the feature
/// functions' options); errors name the option.
pub fn parse_options(text: &str) -> Result<MidiOptions, AudioError> {
    let mut o = MidiOptions {
        render: RenderOptions::default(),
        soundfont: PathBuf::from(DEFAULT_SOUNDFONT),
    };
    apply_options(&mut o, text, false)?;
    Ok(o)
}

/// The options of one row: `text` (a row's `performance`) applied over the call's `base`
/// options. `channels` and `soundfont` are refused: they hold for the whole call.
pub fn performance_options(base: &MidiOptions, text: &str) -> Result<MidiOptions, AudioError> {
    let mut o = base.clone();
    apply_options(&mut o, text, true)?;
    Ok(o)
}

/// Applies `text` to `o`; `per_row` refuses the options that must be the same for every row.
fn apply_options(o: &mut MidiOptions, text: &str, per_row: bool) -> Result<(), AudioError> {
    let r = &mut o.render;
    let soundfont = &mut o.soundfont;
    for_each_option(text, |name, value| {
        let value = value.trim();
        if per_row && (name == "channels" || name == "soundfont") {
            return Err(AudioError::BadParameter(format!(
                "option {name} cannot be set per row (in performance): it holds for the whole \
                 call, so give it in the constant options"
            )));
        }
        let list =
            |value: &str| -> Vec<String> { value.split_whitespace().map(str::to_string).collect() };
        match name {
            "tempo" => r.tempo = Some(number_in(name, value, 0.0, 1000.0, true)?),
            "tempo_scale" => r.tempo_scale = number_in(name, value, 0.0, 100.0, true)?,
            "transpose" => r.transpose = integer_in(name, value, -127, 127)? as i32,
            "programs" => {
                let values = list(value);
                if values.is_empty() {
                    return Err(bad(name, "one or more GM programs (0 to 127)", value));
                }
                r.programs = values
                    .iter()
                    .map(|v| integer_in(name, v, 0, 127).map(|p| p as u8))
                    .collect::<Result<_, _>>()?;
            }
            "pan" => {
                let values = list(value);
                if values.is_empty() {
                    return Err(bad(name, "one or more numbers from -1 to 1", value));
                }
                r.pan = values
                    .iter()
                    .map(|v| number_in(name, v, -1.0, 1.0, false))
                    .collect::<Result<_, _>>()?;
            }
            "velocity_scale" => r.velocity_scale = number_in(name, value, 0.0, 10.0, true)?,
            "gain" => r.gain = number_in(name, value, 0.0, 10.0, false)?,
            "max_seconds" => r.max_seconds = number_in(name, value, 0.0, 86400.0, true)?,
            "tail" => r.tail = number_in(name, value, 0.0, 60.0, false)?,
            "channels" => r.channels = integer_in(name, value, 1, 2)? as usize,
            "effects" => r.effects = flag(name, value)?,
            "soundfont" => {
                if value.is_empty() {
                    return Err(bad(name, "a path", value));
                }
                *soundfont = PathBuf::from(value);
            }
            _ => {
                let known: Vec<&str> = OPTION_NAMES.iter().map(|(n, _)| *n).collect();
                return Err(AudioError::BadParameter(format!(
                    "unknown option '{name}' (render_midi takes {})",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    })
}

/// A sample rate argument as a whole number of Hz the synthesiser accepts.
fn synth_rate(v: f64) -> Result<u32, AudioError> {
    let (lo, hi) = (*SYNTH_RATES.start(), *SYNTH_RATES.end());
    sample_rate_in(v, i64::from(lo), i64::from(hi))
}

/// The SoundFonts loaded so far, by path and the file's length and modification time (a file
/// replaced on disk is loaded again); the most recent few are kept.
type FontKey = (PathBuf, u64, Option<std::time::SystemTime>);
static FONTS: PlanCache<FontKey, SoundFont> = PlanCache::with_capacity(4);

/// The SoundFont at `path`, loaded once and shared (its memory checked against `limit`).
fn soundfont(path: &Path, limit: u64) -> Result<Arc<SoundFont>, AudioError> {
    let shown = path.display().to_string();
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            return Err(AudioError::BadParameter(format!(
                "soundfont {shown} is not a file"
            )))
        }
        Err(_) => {
            return Err(AudioError::BadParameter(format!(
                "soundfont {shown} does not exist"
            )))
        }
    };
    let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
    FONTS.get(&key, || {
        // The samples as 16-bit values plus the bytes read: about twice the file.
        check_memory(
            &format!("option 'soundfont' = {shown}"),
            2.0 * meta.len() as f64,
            limit,
        )?;
        let file = std::fs::File::open(path).map_err(|e| {
            AudioError::BadParameter(format!("soundfont {shown} cannot be opened: {e}"))
        })?;
        let mut reader = std::io::BufReader::new(file);
        let loaded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SoundFont::new(&mut reader)));
        match loaded {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(e)) => Err(AudioError::BadInput(format!(
                "soundfont {shown} is not a SoundFont 2 file: {e}"
            ))),
            Err(_) => Err(AudioError::BadInput(format!(
                "soundfont {shown} is not a SoundFont 2 file the synthesiser can read"
            ))),
        }
    })
}

/// Builds a `list<list<float32>>` column of stereo renders (left, right) or NULLs.
fn stereo_array(rows: Vec<Option<Vec<Vec<f32>>>>) -> ListArray {
    let nulls = NullBuffer::from_iter(rows.iter().map(Option::is_some));
    let outer = rows
        .iter()
        .map(|r| r.as_ref().map_or(0, Vec::len))
        .collect();
    let inner = rows.iter().flatten().flatten().map(Vec::len).collect();
    let values = rows.into_iter().flatten().flatten().flatten().collect();
    nested_array(nulls, outer, inner, values)
}

fn literal_text(v: Option<&ScalarValue>) -> Option<Option<&str>> {
    match v? {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => {
            Some(s.as_deref())
        }
        ScalarValue::Null => Some(None),
        _ => None,
    }
}

impl ScalarUDFImpl for RenderMidi {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(2..=4).contains(&arg_types.len()) {
            return plan_err!(
                "render_midi(midi, sr [, options [, performance]]) takes 2 to 4 argument(s), got {}",
                arg_types.len()
            );
        }
        let mut out = Vec::with_capacity(arg_types.len());
        for (i, t) in arg_types.iter().enumerate() {
            let (ok, target, want) = match i {
                0 => (
                    matches!(
                        t,
                        DataType::Binary
                            | DataType::LargeBinary
                            | DataType::BinaryView
                            | DataType::FixedSizeBinary(_)
                            | DataType::Null
                    ),
                    DataType::Binary,
                    ("midi", "binary (the bytes of a MIDI file)"),
                ),
                1 => (
                    t.is_numeric() || t == &DataType::Null,
                    DataType::Float64,
                    ("sr", "a number"),
                ),
                _ => (
                    matches!(
                        t,
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
                    ),
                    DataType::Utf8,
                    if i == 2 {
                        ("options", "text")
                    } else {
                        ("performance", "text")
                    },
                ),
            };
            if !ok {
                return plan_err!("{NAME}: argument '{}' must be {}, got {t}", want.0, want.1);
            }
            out.push(target);
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(audio_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let plan_error = |e: AudioError| plan_datafusion_err!("{NAME}: {e}");
        if let Some(Some(v)) = args.scalar_arguments.get(1) {
            if !v.is_null() {
                if let Ok(ScalarValue::Float64(Some(sr))) = v.cast_to(&DataType::Float64) {
                    synth_rate(sr).map_err(plan_error)?;
                }
            }
        }
        let mut channels = 1;
        if args.arg_fields.len() > 2 {
            match literal_text(args.scalar_arguments.get(2).copied().flatten()) {
                Some(Some(text)) => {
                    let o = parse_options(text).map_err(plan_error)?;
                    if !o.soundfont.is_file() {
                        return plan_err!(
                            "{NAME}: soundfont {} does not exist",
                            o.soundfont.display()
                        );
                    }
                    channels = o.render.channels;
                    if let Some(Some(text)) =
                        literal_text(args.scalar_arguments.get(3).copied().flatten())
                    {
                        performance_options(&o, text).map_err(plan_error)?;
                    }
                }
                Some(None) => {}
                None => {
                    return plan_err!(
                        "{NAME}: options must be a constant string (they decide the result type); options that vary by row go in the fourth argument, performance"
                    )
                }
            }
        }
        let t = if channels == 2 {
            frames_type()
        } else {
            audio_type()
        };
        Ok(Arc::new(Field::new(NAME, t, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let stereo = args.return_field.data_type() == &frames_type();
        let options = match args.args.get(2) {
            None => Some(parse_options("")),
            Some(ColumnarValue::Scalar(v)) => match literal_text(Some(v)) {
                Some(Some(text)) => Some(parse_options(text)),
                Some(None) => None,
                None => return exec_err!("{NAME}: options must be text"),
            },
            Some(ColumnarValue::Array(_)) => {
                return exec_err!(
                    "{NAME}: options must be a constant string (they decide the result type); options that vary by row go in the fourth argument, performance"
                )
            }
        };
        let options = match options.transpose() {
            Ok(o) => o,
            Err(e) => return exec_err!("{NAME}: {e}"),
        };
        if options
            .as_ref()
            .is_some_and(|o| (o.render.channels == 2) != stereo)
        {
            return exec_err!("internal: {NAME} was planned for another number of channels");
        }
        let midi = cast(&args.args[0].to_array(n)?, &DataType::Binary)?;
        let midi = midi.as_binary::<i32>();
        let sr = cast(&args.args[1].to_array(n)?, &DataType::Float64)?;
        let sr = sr.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let performance = match args.args.get(3) {
            Some(p) => Some(cast(&p.to_array(n)?, &DataType::Utf8)?),
            None => None,
        };
        let performance = performance.as_ref().map(|p| p.as_string::<i32>());
        let limit = memory_limit(&args.config_options);
        let live = |i: usize| {
            options.is_some()
                && midi.is_valid(i)
                && sr.is_valid(i)
                && performance.is_none_or(|p| p.is_valid(i))
        };
        let font = match &options {
            Some(o) if (0..n).any(live) => match soundfont(&o.soundfont, limit) {
                Ok(f) => Some(f),
                Err(e) => return exec_err!("{NAME}: {e}"),
            },
            _ => None,
        };
        let token = self.catalog.as_ref().map(|c| c.cancel_token());
        let cancelled = || token.as_ref().is_some_and(|t| t.is_cancelled());
        let rows: Vec<std::result::Result<Option<Vec<Vec<f32>>>, AudioError>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (Some(o), Some(font), true) = (&options, &font, live(i)) else {
                    return Ok(None);
                };
                if cancelled() {
                    return Err(AudioError::Cancelled);
                }
                let row_options;
                let o = match performance {
                    Some(p) => {
                        row_options = performance_options(o, p.value(i))?;
                        &row_options
                    }
                    None => o,
                };
                let rate = synth_rate(sr.value(i))?;
                let smf = super::kernels::midi::parse(midi.value(i))?;
                let seq = synth::sequence(&smf, &o.render, rate)?;
                check_memory(
                    &format!(
                        "a render of {:.1} s at {rate} Hz in {} channel(s) (option 'max_seconds' \
                         = {} caps it)",
                        seq.n_samples as f64 / f64::from(rate),
                        o.render.channels,
                        o.render.max_seconds
                    ),
                    synth::render_bytes(seq.n_samples, o.render.channels),
                    limit,
                )?;
                synth::render(&seq, font, rate, &o.render, &cancelled).map(Some)
            })
            .collect();
        let mut out = Vec::with_capacity(n);
        for (i, r) in rows.into_iter().enumerate() {
            match r {
                Ok(v) => out.push(v),
                Err(AudioError::Cancelled) => return exec_err!("{NAME}: cancelled by the user"),
                Err(e) => return exec_err!("{NAME}: row {} of the batch: {e}", i + 1),
            }
        }
        let array: ArrayRef = if stereo {
            Arc::new(stereo_array(out))
        } else {
            Arc::new(samples_array(
                out.into_iter()
                    .map(|r| r.and_then(|mut c| c.pop()))
                    .collect(),
            ))
        };
        columnar(array, all_scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_errors_name_the_option() {
        let o = parse_options(
            "tempo = 90, tempo_scale = 1.5, transpose = -12, programs = 40 41 42 32, \
             pan = -1 0.5, velocity_scale = 0.8, gain = 1, max_seconds = 30, tail = 0, \
             channels = 2, effects = true, soundfont = '/tmp/x.sf2'",
        )
        .unwrap();
        let r = &o.render;
        assert_eq!(r.tempo, Some(90.0));
        assert_eq!((r.tempo_scale, r.transpose), (1.5, -12));
        assert_eq!(r.programs, vec![40, 41, 42, 32]);
        assert_eq!(r.pan, vec![-1.0, 0.5]);
        assert_eq!(
            (r.velocity_scale, r.gain, r.max_seconds, r.tail),
            (0.8, 1.0, 30.0, 0.0)
        );
        assert_eq!((r.channels, r.effects), (2, true));
        assert_eq!(o.soundfont, PathBuf::from("/tmp/x.sf2"));
        assert_eq!(parse_options("").unwrap().render, RenderOptions::default());
        for (text, needle) in [
            ("speed = 2", "unknown option 'speed'"),
            ("tempo = 0", "option tempo must be a number above 0"),
            ("tempo = fast", "option tempo must be"),
            (
                "programs = 40 128",
                "option programs must be an integer from 0 to 127, got '128'",
            ),
            ("programs = ", "option programs must be one or more"),
            (
                "pan = -1.5",
                "option pan must be a number from -1 to 1, got '-1.5'",
            ),
            (
                "channels = 3",
                "option channels must be an integer from 1 to 2",
            ),
            ("effects = yes", "option effects must be true or false"),
            ("transpose = 1.5", "option transpose must be an integer"),
            ("tail", "is not of the form name = value"),
            ("max_seconds = inf", "option max_seconds must be"),
        ] {
            let e = parse_options(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let base = parse_options("channels = 2, tempo = 100, gain = 0.7").unwrap();
        let row = performance_options(&base, "tempo = 80, programs = 41").unwrap();
        assert_eq!(row.render.tempo, Some(80.0));
        assert_eq!(row.render.programs, vec![41]);
        assert_eq!((row.render.channels, row.render.gain), (2, 0.7));
        assert_eq!(performance_options(&base, "").unwrap(), base);
        for text in ["channels = 1", "soundfont = /tmp/x.sf2"] {
            let e = performance_options(&base, text).unwrap_err().to_string();
            assert!(e.contains("cannot be set per row"), "{text}: {e}");
        }
        assert!(synth_rate(22050.0).is_ok());
        assert!(synth_rate(8000.0).is_err() && synth_rate(22050.5).is_err());
    }

    #[test]
    fn stereo_columns_keep_channels_and_nulls() {
        let a = stereo_array(vec![
            Some(vec![vec![1.0, 2.0], vec![3.0, 4.0]]),
            None,
            Some(vec![vec![5.0], vec![6.0]]),
        ]);
        assert_eq!(a.data_type(), &frames_type());
        assert!(a.is_valid(0) && a.is_null(1) && a.is_valid(2));
        let row = a.value(2);
        let row = row.as_list::<i32>();
        assert_eq!(row.len(), 2);
        let right = row.value(1);
        assert_eq!(
            right
                .as_primitive::<datafusion::arrow::datatypes::Float32Type>()
                .values()
                .to_vec(),
            vec![6.0]
        );
    }
}
