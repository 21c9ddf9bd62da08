//! Scores to audio: a sequencer that turns a parsed MIDI file ([`super::midi`]) into timed
//! synthesiser messages, with the rendering parameters applied to the event stream, and a
//! renderer that plays them on `rustysynth`'s SoundFont synthesiser. It exists so that the
//! thesis' rendered-score experiments (stems, tempo and transposition variants of the same
//! notes) are a query, reproducible bit for bit, instead of a call to an external synthesiser.
//!
//! **Parts.** A part is a (track, channel) pair of the file that plays at least one note, on a
//! melodic channel (every channel but 10, the General MIDI percussion channel). Parts are
//! numbered by track, then channel, and each gets a synthesiser channel of its own (0..=15
//! without 9, so at most 15 parts), so that two tracks on the same MIDI channel can take
//! different programs and pans. Channel messages of a (track, channel) pair that plays no note
//! (a set-up track) go to every part on that MIDI channel. Percussion (channel 10) plays on the
//! synthesiser's percussion channel as written: no transposition, program or pan option.
//!
//! **Options** ([`RenderOptions`]), applied to the events, never to the bytes:
//! - `tempo` replaces the file's tempo map by one tempo (bpm = quarter notes per minute);
//!   `tempo_scale` multiplies the tempo (2 plays twice as fast);
//! - `transpose` adds semitones to every melodic note (an error names a note pushed outside
//!   0..=127);
//! - `programs` sets part i's GM program (0-based) at time 0 and drops the part's own program
//!   changes; the last value serves the parts after it. Without it, the file's program changes
//!   play (the synthesiser starts every channel on program 0);
//! - `pan` (−1 left .. 1 right) sets part i's pan (CC 10 and 42, 14 bits) at time 0 and drops
//!   the part's own pan changes; the last value serves the parts after it. Without it, a part
//!   keeps its file's pan changes; a part with none is centred for mono output, and spread
//!   evenly for stereo (part i of n at −1 + (2i + 1)/n: one part centred, two at ∓0.5). Mono
//!   output is the mean of left and right, and the synthesiser pans with an equal-power law
//!   (cos, sin), so a part panned away from the centre loses up to 3 dB in the mono mean: the
//!   mono default keeps the file's balance;
//! - `velocity_scale` multiplies note-on velocities (rounded, kept within 1..=127);
//! - `gain` is the synthesiser's master volume (rustysynth's default 0.5); nothing is clipped;
//! - `effects` turns on rustysynth's reverb and chorus (off by default: a dry render, as
//!   `fluidsynth -R 0 -C 0` made the clips in `shared/data/audio/rendered`).
//!
//! **Timing.** Tick t sounds at sample `round(seconds(t) · sr)`. The render lasts until the last
//! note ends (a note never released ends at its track's End of Track) plus `tail` seconds of
//! release, at most `max_seconds`; messages after the end are dropped. rustysynth computes its
//! voices in blocks of [`BLOCK`] samples and a message takes effect at a block boundary, so each
//! message is applied at the boundary nearest its sample: timing is exact to ±[`BLOCK`]/2
//! samples (±0.09 ms at 44.1 kHz). Messages at the same sample keep the file's order (by tick,
//! then track, then position in the track).
//!
//! **Determinism.** The synthesiser has no randomness and runs on one thread per render, so the
//! same bytes, options, SoundFont and sample rate give the same bits; renders of different rows
//! may run in parallel.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::midi::{EventKind, MidiError, Smf, TempoMap};
use super::AudioError;

/// Samples per synthesiser block: the timing resolution of messages (rustysynth's smallest).
pub const BLOCK: usize = 8;
/// Voices that may sound at once (rustysynth's largest).
pub const POLYPHONY: usize = 256;
/// Synthesiser channels available to melodic parts (16 less the percussion channel).
pub const MAX_PARTS: usize = 15;
/// The GM percussion channel (0-based).
const DRUMS: u8 = 9;
/// Sample rates the synthesiser accepts, in Hz.
pub const SYNTH_RATES: std::ops::RangeInclusive<u32> = 16_000..=192_000;

impl From<MidiError> for AudioError {
    fn from(e: MidiError) -> AudioError {
        match e {
            MidiError::Malformed { .. } => AudioError::Undecodable {
                name: "midi".to_string(),
                reason: e.to_string(),
            },
            MidiError::Unsupported(_) => AudioError::BadInput(e.to_string()),
        }
    }
}

/// How to render a score (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    /// A tempo in bpm replacing the file's; `None` keeps the file's (120 bpm if it has none).
    pub tempo: Option<f64>,
    /// Multiplies the tempo (> 0).
    pub tempo_scale: f64,
    /// Semitones added to melodic notes.
    pub transpose: i32,
    /// GM program per part (0..=127); empty keeps the file's.
    pub programs: Vec<u8>,
    /// Pan per part (−1..=1); empty keeps the file's, else the default.
    pub pan: Vec<f64>,
    /// Multiplies note-on velocities (> 0).
    pub velocity_scale: f64,
    /// The synthesiser's master volume (≥ 0).
    pub gain: f64,
    /// The longest render, in seconds (> 0).
    pub max_seconds: f64,
    /// Seconds rendered after the last note ends (≥ 0).
    pub tail: f64,
    /// Reverb and chorus.
    pub effects: bool,
    /// 1 (mono, the mean of left and right) or 2 (left, right).
    pub channels: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            tempo: None,
            tempo_scale: 1.0,
            transpose: 0,
            programs: Vec::new(),
            pan: Vec::new(),
            velocity_scale: 1.0,
            gain: 0.5,
            max_seconds: 600.0,
            tail: 1.0,
            effects: false,
            channels: 1,
        }
    }
}

/// One synthesiser message (rustysynth's `process_midi_message`) at a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// When, in samples from the start.
    pub sample: u64,
    /// Synthesiser channel, 0..=15.
    pub channel: u8,
    /// Status without channel: 0x80, 0x90, 0xA0, 0xB0, 0xC0, 0xD0 or 0xE0.
    pub command: u8,
    /// First data byte.
    pub data1: u8,
    /// Second data byte (0 when the message has one).
    pub data2: u8,
}

/// A score ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    /// The messages, by sample (the file's order within a sample).
    pub messages: Vec<Message>,
    /// Length of the render, in samples.
    pub n_samples: usize,
    /// Number of melodic parts.
    pub parts: usize,
    /// Seconds from the start to the end of the last note.
    pub notes_end: f64,
}

/// A part's synthesiser channel: parts take 0..=15 in order, skipping the percussion channel.
fn synth_channel(part: usize) -> u8 {
    if part < DRUMS as usize {
        part as u8
    } else {
        part as u8 + 1
    }
}

/// A pan in −1..=1 as the 14-bit MIDI value (0 = left, 8192 = centre, 16383 = right).
pub fn pan_value(pan: f64) -> u16 {
    ((pan.clamp(-1.0, 1.0) + 1.0) / 2.0 * 16383.0).round() as u16
}

/// The default pan of part `i` of `n` in stereo: evenly spread, −1 + (2i + 1)/n.
pub fn spread_pan(i: usize, n: usize) -> f64 {
    -1.0 + (2 * i + 1) as f64 / n.max(1) as f64
}

/// Where an event of (track, MIDI channel) goes.
enum Route {
    /// The percussion channel, as written.
    Drums,
    /// One part.
    Part(usize),
    /// A set-up pair: every part on its MIDI channel.
    Parts(Vec<usize>),
}

/// Sequences `smf` for a render at `sr` Hz (see the module docs).
pub fn sequence(smf: &Smf, opts: &RenderOptions, sr: u32) -> Result<Sequence, AudioError> {
    let map = TempoMap::new(smf, opts.tempo, opts.tempo_scale)?;
    let sample_of = |tick: u64| (map.seconds(tick) * f64::from(sr)).round() as u64;

    // The parts, by track then channel.
    let mut pairs = BTreeSet::new();
    for (t, track) in smf.tracks.iter().enumerate() {
        for e in &track.events {
            if let EventKind::NoteOn {
                channel, velocity, ..
            } = e.kind
            {
                if velocity > 0 && channel != DRUMS {
                    pairs.insert((t, channel));
                }
            }
        }
    }
    let parts: Vec<(usize, u8)> = pairs.into_iter().collect();
    if parts.len() > MAX_PARTS {
        return Err(AudioError::BadInput(format!(
            "the file has {} melodic parts (track and channel pairs that play notes); the \
             synthesiser has channels for {MAX_PARTS}",
            parts.len()
        )));
    }
    let index: BTreeMap<(usize, u8), usize> =
        parts.iter().enumerate().map(|(i, &p)| (p, i)).collect();
    let route = |track: usize, channel: u8| -> Route {
        if channel == DRUMS {
            Route::Drums
        } else if let Some(&i) = index.get(&(track, channel)) {
            Route::Part(i)
        } else {
            Route::Parts(
                parts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.1 == channel)
                    .map(|(i, _)| i)
                    .collect(),
            )
        }
    };

    // Every event in playing order: by tick, then track, then position in the track.
    let mut events: Vec<(u64, usize, usize, EventKind)> = Vec::new();
    for (t, track) in smf.tracks.iter().enumerate() {
        for (k, e) in track.events.iter().enumerate() {
            events.push((e.tick, t, k, e.kind));
        }
    }
    events.sort_by_key(|&(tick, t, k, _)| (tick, t, k));

    // Which parts have pan changes of their own (their own pair's or a set-up pair's).
    let mut file_pan = vec![false; parts.len()];
    for &(_, t, _, kind) in &events {
        if let EventKind::Control {
            channel,
            controller: 10 | 42,
            ..
        } = kind
        {
            match route(t, channel) {
                Route::Part(i) => file_pan[i] = true,
                Route::Parts(list) => list.into_iter().for_each(|i| file_pan[i] = true),
                Route::Drums => {}
            }
        }
    }
    let set_pan: Vec<Option<f64>> = (0..parts.len())
        .map(|i| {
            if !opts.pan.is_empty() {
                opts.pan.get(i).or(opts.pan.last()).copied()
            } else if file_pan[i] {
                None
            } else if opts.channels == 2 {
                Some(spread_pan(i, parts.len()))
            } else {
                Some(0.0)
            }
        })
        .collect();

    let mut messages = Vec::new();
    for (i, pan) in set_pan.iter().enumerate() {
        let channel = synth_channel(i);
        if let Some(&program) = opts.programs.get(i).or(opts.programs.last()) {
            messages.push(Message {
                sample: 0,
                channel,
                command: 0xC0,
                data1: program,
                data2: 0,
            });
        }
        if let Some(pan) = pan {
            let v = pan_value(*pan);
            for (controller, value) in [(10, (v >> 7) as u8), (42, (v & 0x7f) as u8)] {
                messages.push(Message {
                    sample: 0,
                    channel,
                    command: 0xB0,
                    data1: controller,
                    data2: value,
                });
            }
        }
    }

    // Notes sounding per (track, MIDI channel, key), and when the last one ended.
    let mut sounding: BTreeMap<(usize, u8, u8), u32> = BTreeMap::new();
    let mut notes_end: Option<u64> = None;
    let transpose = |key: u8, tick: u64, t: usize| -> Result<u8, AudioError> {
        let moved = i32::from(key) + opts.transpose;
        u8::try_from(moved)
            .ok()
            .filter(|k| *k <= 127)
            .ok_or_else(|| {
                AudioError::BadInput(format!(
                    "transpose = {} moves key {key} (track {t}, tick {tick}) to {moved}, outside \
                 the MIDI range 0..127",
                    opts.transpose
                ))
            })
    };
    for &(tick, t, _, kind) in &events {
        let Some(channel) = kind.channel() else {
            continue;
        };
        let drums = channel == DRUMS;
        let targets: Vec<usize> = match route(t, channel) {
            Route::Drums => Vec::new(),
            Route::Part(i) => vec![i],
            Route::Parts(list) => list,
        };
        let (command, data1, data2) = match kind {
            EventKind::NoteOn { key, velocity, .. } if velocity > 0 => {
                *sounding.entry((t, channel, key)).or_insert(0) += 1;
                let v = (f64::from(velocity) * opts.velocity_scale)
                    .round()
                    .clamp(1.0, 127.0) as u8;
                let key = if drums { key } else { transpose(key, tick, t)? };
                (0x90, key, v)
            }
            EventKind::NoteOn { key, .. } | EventKind::NoteOff { key, .. } => {
                if let Some(n) = sounding.get_mut(&(t, channel, key)) {
                    if *n > 0 {
                        *n -= 1;
                        notes_end = Some(notes_end.map_or(tick, |e| e.max(tick)));
                    }
                }
                let key = if drums { key } else { transpose(key, tick, t)? };
                (0x80, key, 0)
            }
            EventKind::KeyPressure { key, pressure, .. } => {
                let key = if drums { key } else { transpose(key, tick, t)? };
                (0xA0, key, pressure)
            }
            EventKind::Control {
                controller, value, ..
            } => {
                if !drums && matches!(controller, 10 | 42) && !opts.pan.is_empty() {
                    continue;
                }
                (0xB0, controller, value)
            }
            EventKind::Program { program, .. } => {
                if !drums && !opts.programs.is_empty() {
                    continue;
                }
                (0xC0, program, 0)
            }
            EventKind::ChannelPressure { pressure, .. } => (0xD0, pressure, 0),
            EventKind::PitchBend { value, .. } => (0xE0, (value & 0x7f) as u8, (value >> 7) as u8),
            EventKind::Tempo(_) | EventKind::EndOfTrack => continue,
        };
        let sample = sample_of(tick);
        if drums {
            messages.push(Message {
                sample,
                channel: DRUMS,
                command,
                data1,
                data2,
            });
        }
        for i in targets {
            messages.push(Message {
                sample,
                channel: synth_channel(i),
                command,
                data1,
                data2,
            });
        }
    }
    // Notes never released end with their track.
    for (&(t, channel, key), &n) in &sounding {
        if n == 0 {
            continue;
        }
        let tick = smf.tracks[t].end_tick();
        notes_end = Some(notes_end.map_or(tick, |e| e.max(tick)));
        let key = if channel == DRUMS {
            key
        } else {
            transpose(key, tick, t)?
        };
        let channels: Vec<u8> = match route(t, channel) {
            Route::Drums => vec![DRUMS],
            Route::Part(i) => vec![synth_channel(i)],
            Route::Parts(list) => list.into_iter().map(synth_channel).collect(),
        };
        for ch in channels {
            messages.push(Message {
                sample: sample_of(tick),
                channel: ch,
                command: 0x80,
                data1: key,
                data2: 0,
            });
        }
    }
    // The stable sort keeps the file's order within a sample.
    messages.sort_by_key(|m| m.sample);
    let notes_end = notes_end.map_or(0.0, |tick| map.seconds(tick));
    let end = notes_end * f64::from(sr);
    let n = ((end.round() + (opts.tail * f64::from(sr)).round())
        .min((opts.max_seconds * f64::from(sr)).round()))
    .max(0.0) as usize;
    messages.retain(|m| m.sample < n as u64);
    Ok(Sequence {
        messages,
        n_samples: n,
        parts: parts.len(),
        notes_end,
    })
}

/// Bytes a render of `n_samples` in `channels` needs while it runs: the synthesiser's left and
/// right buffers and the result's copy.
pub fn render_bytes(n_samples: usize, channels: usize) -> f64 {
    n_samples as f64 * (8.0 + 4.0 * channels as f64)
}

/// Renders `seq` on `font` at `sr` Hz: one buffer (the mean of left and right) for
/// `opts.channels == 1`, left and right for 2. `cancelled` is asked about once per second of
/// audio; a true answer stops the render with [`AudioError::Cancelled`].
pub fn render(
    seq: &Sequence,
    font: &Arc<SoundFont>,
    sr: u32,
    opts: &RenderOptions,
    cancelled: &(dyn Fn() -> bool + Sync),
) -> Result<Vec<Vec<f32>>, AudioError> {
    if !SYNTH_RATES.contains(&sr) {
        return Err(AudioError::BadParameter(format!(
            "the synthesiser renders at {} to {} Hz, got {sr}",
            SYNTH_RATES.start(),
            SYNTH_RATES.end()
        )));
    }
    let mut settings = SynthesizerSettings::new(sr as i32);
    settings.block_size = BLOCK;
    settings.maximum_polyphony = POLYPHONY;
    settings.enable_reverb_and_chorus = opts.effects;
    let n = seq.n_samples;
    // rustysynth may panic on a SoundFont it loaded but cannot play; that is an error here.
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<(Vec<f32>, Vec<f32>), AudioError> {
            let mut synth = Synthesizer::new(font, &settings)
                .map_err(|e| AudioError::BadParameter(format!("the synthesiser: {e}")))?;
            synth.set_master_volume(opts.gain as f32);
            let mut left = vec![0f32; n];
            let mut right = vec![0f32; n];
            let chunk = (sr as usize / BLOCK).max(1) * BLOCK;
            let mut done = 0usize;
            let mut render_to = |to: usize, synth: &mut Synthesizer| -> Result<(), AudioError> {
                while done < to {
                    if cancelled() {
                        return Err(AudioError::Cancelled);
                    }
                    let stop = to.min(done + chunk);
                    synth.render(&mut left[done..stop], &mut right[done..stop]);
                    done = stop;
                }
                Ok(())
            };
            for m in &seq.messages {
                // The block boundary nearest the message's sample (within the render).
                let at = ((m.sample as usize + BLOCK / 2) / BLOCK * BLOCK).min(n);
                render_to(at, &mut synth)?;
                synth.process_midi_message(
                    i32::from(m.channel),
                    i32::from(m.command),
                    i32::from(m.data1),
                    i32::from(m.data2),
                );
            }
            render_to(n, &mut synth)?;
            Ok((left, right))
        },
    ));
    let (mut left, right) = match run {
        Ok(result) => result?,
        Err(_) => {
            return Err(AudioError::BadInput(
                "the synthesiser failed on this SoundFont".to_string(),
            ))
        }
    };
    if opts.channels == 2 {
        return Ok(vec![left, right]);
    }
    for (l, r) in left.iter_mut().zip(&right) {
        *l = (*l + *r) * 0.5;
    }
    Ok(vec![left])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::kernels::midi::parse;
    use crate::audio::kernels::midi::tests::{smf_bytes, track};
    use std::sync::OnceLock;

    /// Debian's timgm6mb-soundfont, the General MIDI bank our rendered clips were made with.
    const FONT: &str = "/usr/share/sounds/sf2/TimGM6mb.sf2";

    fn font() -> Arc<SoundFont> {
        static F: OnceLock<Arc<SoundFont>> = OnceLock::new();
        F.get_or_init(|| {
            let mut file = std::fs::File::open(FONT)
                .unwrap_or_else(|e| panic!("{FONT} (apt-get install timgm6mb-soundfont): {e}"));
            Arc::new(SoundFont::new(&mut file).unwrap())
        })
        .clone()
    }

    /// One note: program `program`, key `key`, velocity 100, on at `on` ticks for `len` ticks
    /// (96 per quarter, the default 120 bpm: 192 ticks per second), on channel `channel`.
    fn one_note(program: u8, key: u8, on: u32, len: u32, channel: u8) -> Vec<u8> {
        let body = track(
            &[
                (0, &[0xC0 | channel, program]),
                (on, &[0x90 | channel, key, 100]),
                (len, &[0x80 | channel, key, 0]),
            ],
            0,
        );
        smf_bytes(0, 96, &[body])
    }

    /// Parses, sequences and renders MIDI bytes, as `render_midi` does for each row.
    fn render_midi(
        bytes: &[u8],
        font: &Arc<SoundFont>,
        sr: u32,
        opts: &RenderOptions,
    ) -> Result<Vec<Vec<f32>>, AudioError> {
        let seq = sequence(&parse(bytes)?, opts, sr)?;
        render(&seq, font, sr, opts, &|| false)
    }

    fn seq(bytes: &[u8], opts: &RenderOptions, sr: u32) -> Sequence {
        sequence(&parse(bytes).unwrap(), opts, sr).unwrap()
    }

    fn render_bytes_with(bytes: &[u8], opts: &RenderOptions, sr: u32) -> Vec<Vec<f32>> {
        render_midi(bytes, &font(), sr, opts).unwrap()
    }

    /// The frequency (1 Hz steps in `lo..hi`) where a plain DFT of `x` is largest.
    fn peak_frequency(x: &[f32], sr: u32, lo: usize, hi: usize) -> f64 {
        let mut best = (0.0, 0usize);
        for f in lo..hi {
            let w = 2.0 * std::f64::consts::PI * f as f64 / f64::from(sr);
            let (mut re, mut im) = (0.0, 0.0);
            for (n, &v) in x.iter().enumerate() {
                let (s, c) = (w * n as f64).sin_cos();
                re += f64::from(v) * c;
                im -= f64::from(v) * s;
            }
            let m = re * re + im * im;
            if m > best.0 {
                best = (m, f);
            }
        }
        best.1 as f64
    }

    fn energy(x: &[f32]) -> f64 {
        x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
    }

    #[test]
    fn sequencing_applies_the_options_to_the_events() {
        // Track 0: tempo only. Track 1: channel 0, program 5, pan CC, a note. Track 2: channel 0
        // too (another part), a note. Track 3: drums.
        let t0 = track(&[(0, &[0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20])], 0);
        let t1 = track(
            &[
                (0, &[0xC0, 5]),
                (0, &[0xB0, 10, 20]),
                (0, &[0x90, 60, 100]),
                (96, &[0x80, 60, 0]),
            ],
            0,
        );
        let t2 = track(&[(48, &[0x90, 64, 50]), (96, &[0x90, 64, 0])], 0);
        let t3 = track(&[(0, &[0x99, 36, 90]), (10, &[0x89, 36, 0])], 0);
        let bytes = smf_bytes(1, 96, &[t0, t1, t2, t3]);
        let sr = 22050;
        let plain = seq(&bytes, &RenderOptions::default(), sr);
        assert_eq!(plain.parts, 2);
        let on = |s: &Sequence, ch: u8| -> Vec<(u64, u8, u8)> {
            s.messages
                .iter()
                .filter(|m| m.channel == ch && m.command == 0x90)
                .map(|m| (m.sample, m.data1, m.data2))
                .collect()
        };
        // 96 ticks = one quarter at 120 bpm = 0.5 s.
        assert_eq!(on(&plain, 0), vec![(0, 60, 100)]);
        assert_eq!(on(&plain, 1), vec![(5513, 64, 50)]);
        assert_eq!(on(&plain, 9), vec![(0, 36, 90)]);
        // The last note ends at 144 ticks = 0.75 s; a 1 s tail follows.
        assert!((plain.notes_end - 0.75).abs() < 1e-12);
        assert_eq!(
            plain.n_samples,
            (0.75f64 * 22050.0).round() as usize + 22050
        );
        // Mono default: the part with its own pan keeps it, the other is centred.
        let pans = |s: &Sequence, ch: u8| -> Vec<u8> {
            s.messages
                .iter()
                .filter(|m| m.channel == ch && m.command == 0xB0 && m.data1 == 10)
                .map(|m| m.data2)
                .collect()
        };
        assert_eq!(pans(&plain, 0), vec![20]);
        assert_eq!(pans(&plain, 1), vec![64]);
        // Stereo default: the second of two parts at +0.5.
        let stereo = seq(
            &bytes,
            &RenderOptions {
                channels: 2,
                ..Default::default()
            },
            sr,
        );
        assert_eq!(pans(&stereo, 1), vec![(pan_value(0.5) >> 7) as u8]);
        // Options: transposition (not of drums), programs (the last repeats), pan, velocity.
        let opts = RenderOptions {
            transpose: -3,
            programs: vec![40],
            pan: vec![-1.0, 1.0],
            velocity_scale: 2.0,
            tempo: Some(60.0),
            ..Default::default()
        };
        let s = seq(&bytes, &opts, sr);
        assert_eq!(on(&s, 0), vec![(0, 57, 127)]);
        assert_eq!(on(&s, 1), vec![(11025, 61, 100)]);
        assert_eq!(on(&s, 9), vec![(0, 36, 127)]);
        let programs: Vec<(u8, u8)> = s
            .messages
            .iter()
            .filter(|m| m.command == 0xC0)
            .map(|m| (m.channel, m.data1))
            .collect();
        assert_eq!(programs, vec![(0, 40), (1, 40)]);
        assert_eq!(pans(&s, 0), vec![0]);
        assert_eq!(pans(&s, 1), vec![127]);
        assert!((s.notes_end - 1.5).abs() < 1e-12);
        // tempo_scale divides every time.
        let fast = seq(
            &bytes,
            &RenderOptions {
                tempo_scale: 2.0,
                ..Default::default()
            },
            sr,
        );
        assert!((fast.notes_end - 0.375).abs() < 1e-12);
        assert_eq!(on(&fast, 1), vec![(2756, 64, 50)]);
        // max_seconds caps the render and drops what follows.
        let short = seq(
            &bytes,
            &RenderOptions {
                max_seconds: 0.2,
                ..Default::default()
            },
            sr,
        );
        assert_eq!(short.n_samples, 4410);
        assert!(short.messages.iter().all(|m| m.sample < 4410));
        // A key pushed out of range is an error that names it.
        let e = sequence(
            &parse(&bytes).unwrap(),
            &RenderOptions {
                transpose: 70,
                ..Default::default()
            },
            sr,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("moves key 60 (track 1, tick 0) to 130"), "{e}");
    }

    #[test]
    fn setup_tracks_hanging_notes_and_too_many_parts() {
        // Track 0 sets program 20 on channel 2; track 1 plays on channel 2 and never releases.
        let t0 = track(&[(0, &[0xC2, 20])], 0);
        let t1 = track(&[(0, &[0x92, 70, 80])], 192);
        let s = seq(
            &smf_bytes(1, 96, &[t0, t1]),
            &RenderOptions::default(),
            22050,
        );
        assert_eq!(s.parts, 1);
        assert!(s
            .messages
            .iter()
            .any(|m| m.channel == 0 && m.command == 0xC0 && m.data1 == 20));
        let off: Vec<u64> = s
            .messages
            .iter()
            .filter(|m| m.command == 0x80)
            .map(|m| m.sample)
            .collect();
        assert_eq!(off, vec![22050]);
        assert!((s.notes_end - 1.0).abs() < 1e-12);
        // 16 melodic parts do not fit.
        let tracks: Vec<Vec<u8>> = (0..16u8)
            .map(|i| {
                track(
                    &[
                        (0, &[0x90 | (i % 9), 60, 100]),
                        (10, &[0x80 | (i % 9), 60, 0]),
                    ],
                    0,
                )
            })
            .collect();
        let e = sequence(
            &parse(&smf_bytes(1, 96, &tracks)).unwrap(),
            &RenderOptions::default(),
            22050,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("16 melodic parts"), "{e}");
        // A file without notes renders its tail alone.
        let s = seq(
            &smf_bytes(0, 96, &[track(&[], 500)]),
            &RenderOptions::default(),
            16000,
        );
        assert_eq!((s.n_samples, s.parts), (16000, 0));
    }

    #[test]
    fn a_note_starts_on_time_at_its_pitch() {
        let sr = 22050;
        // Flute (73), A4 = 440 Hz, on at 0.5 s (96 ticks) for 1 s.
        let bytes = one_note(73, 69, 96, 192, 0);
        let out = render_bytes_with(&bytes, &RenderOptions::default(), sr);
        assert_eq!(out.len(), 1);
        let x = &out[0];
        assert_eq!(x.len(), (1.5 * 22050.0) as usize + 22050);
        let first = x.iter().position(|v| *v != 0.0).unwrap();
        let onset = 11025.0;
        assert!(
            ((first as f64 - onset) / f64::from(sr)).abs() < 0.002,
            "first sound at {first}, the note at {onset}"
        );
        // The bulk of the energy is in the note, not before it.
        assert!(energy(&x[..first]) == 0.0 && energy(&x[11025..33075]) > 0.0);
        let f = peak_frequency(&x[13000..13000 + 8192], sr, 200, 1000);
        assert!((f - 440.0).abs() < 440.0 * 0.01, "peak at {f} Hz");
        // An octave up.
        let up = render_bytes_with(
            &bytes,
            &RenderOptions {
                transpose: 12,
                ..Default::default()
            },
            sr,
        );
        let f = peak_frequency(&up[0][13000..13000 + 8192], sr, 400, 2000);
        assert!(
            (f - 880.0).abs() < 880.0 * 0.01,
            "transposed peak at {f} Hz"
        );
    }

    #[test]
    fn tempo_scale_halves_the_duration() {
        let sr = 22050;
        let bytes = one_note(0, 60, 0, 384, 0); // 2 s at 120 bpm
        let opts = RenderOptions {
            tail: 0.5,
            ..Default::default()
        };
        let slow = render_bytes_with(&bytes, &opts, sr);
        let fast = render_bytes_with(
            &bytes,
            &RenderOptions {
                tempo_scale: 2.0,
                ..opts.clone()
            },
            sr,
        );
        assert_eq!(slow[0].len(), 2 * 22050 + 11025);
        assert_eq!(fast[0].len(), 22050 + 11025);
        // The fast render has released its note by 1.3 s: far less energy there than the slow
        // one, which is still holding its note.
        let window = 28665..30870;
        assert!(energy(&fast[0][window.clone()]) < 0.1 * energy(&slow[0][window]));
    }

    #[test]
    fn pan_left_is_left_and_mono_is_the_mean() {
        let sr = 22050;
        let bytes = one_note(0, 60, 0, 96, 0);
        let stereo = render_bytes_with(
            &bytes,
            &RenderOptions {
                channels: 2,
                pan: vec![-1.0],
                ..Default::default()
            },
            sr,
        );
        let (l, r) = (energy(&stereo[0]), energy(&stereo[1]));
        assert!(l > 0.0 && r / (l + r) < 0.01, "left {l}, right {r}");
        let right = render_bytes_with(
            &bytes,
            &RenderOptions {
                channels: 2,
                pan: vec![1.0],
                ..Default::default()
            },
            sr,
        );
        let (l, r) = (energy(&right[0]), energy(&right[1]));
        assert!(r > 0.0 && l / (l + r) < 0.01, "left {l}, right {r}");
        // Mono is the mean of left and right, bit for bit.
        let opts = RenderOptions {
            pan: vec![0.3],
            ..Default::default()
        };
        let mono = render_bytes_with(&bytes, &opts, sr);
        let both = render_bytes_with(
            &bytes,
            &RenderOptions {
                channels: 2,
                ..opts
            },
            sr,
        );
        let mean: Vec<f32> = both[0]
            .iter()
            .zip(&both[1])
            .map(|(a, b)| (a + b) * 0.5)
            .collect();
        assert_eq!(mono[0], mean);
    }

    #[test]
    fn renders_are_bit_identical_sequentially_and_in_parallel() {
        use rayon::prelude::*;
        let bytes = std::fs::read(
            crate::audio::kernels::testdata::shared().join("data/audio/rendered/midi/bwv281.mid"),
        )
        .unwrap();
        let opts = RenderOptions {
            max_seconds: 3.0,
            channels: 2,
            ..Default::default()
        };
        let a = render_bytes_with(&bytes, &opts, 22050);
        let b = render_bytes_with(&bytes, &opts, 22050);
        let bits =
            |x: &Vec<Vec<f32>>| -> Vec<u32> { x.iter().flatten().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&a), bits(&b));
        let parallel: Vec<Vec<Vec<f32>>> = (0..3)
            .into_par_iter()
            .map(|_| render_bytes_with(&bytes, &opts, 22050))
            .collect();
        for p in &parallel {
            assert_eq!(bits(p), bits(&a));
        }
        assert!(energy(&a[0]) > 0.0);
    }

    #[test]
    fn a_bach_chorale_lasts_as_long_as_its_notes() {
        // bwv269: the last note-off is at tick 6216 (PPQ 480) under one tempo of 789 474 µs per
        // quarter, i.e. 10.2236883 s (scanned by an independent Python reader of the file).
        let bytes = std::fs::read(
            crate::audio::kernels::testdata::shared().join("data/audio/rendered/midi/bwv269.mid"),
        )
        .unwrap();
        let sr = 22050;
        let s = seq(&bytes, &RenderOptions::default(), sr);
        assert_eq!(s.parts, 4);
        assert!((s.notes_end - 10.2236883).abs() < 1e-9, "{}", s.notes_end);
        let out = render_bytes_with(&bytes, &RenderOptions::default(), sr);
        let x = &out[0];
        assert_eq!(x.len(), 225432 + 22050);
        // Sound up to the last note, then the release dies away.
        let rms = |a: f64, b: f64| {
            let w = &x[(a * 22050.0) as usize..(b * 22050.0) as usize];
            (energy(w) / w.len() as f64).sqrt()
        };
        let during = rms(10.0, 10.2);
        assert!(during > 1e-3, "{during}");
        assert!(
            rms(11.0, 11.2236) < 0.05 * during,
            "{} vs {during}",
            rms(11.0, 11.2236)
        );
        // The same notes rendered by FluidSynth (shared/data/audio/rendered/bwv269_mix.wav):
        // the loudness envelopes (50 ms frames) rise and fall together.
        let wav = crate::audio::kernels::codec::decode_file(
            &crate::audio::kernels::testdata::shared().join("data/audio/rendered/bwv269_mix.wav"),
        )
        .unwrap();
        let reference = wav.samples;
        let hop = 1102;
        let env = |y: &[f32]| -> Vec<f64> {
            y.chunks_exact(hop)
                .take(200)
                .map(|c| (energy(c) / hop as f64).sqrt())
                .collect()
        };
        let corr = |a: &[f64], b: &[f64]| {
            let (ma, mb) = (
                a.iter().sum::<f64>() / a.len() as f64,
                b.iter().sum::<f64>() / b.len() as f64,
            );
            let cov: f64 = a.iter().zip(b).map(|(p, q)| (p - ma) * (q - mb)).sum();
            let va: f64 = a.iter().map(|p| (p - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|q| (q - mb).powi(2)).sum();
            cov / (va * vb).sqrt()
        };
        let ours = env(x);
        let theirs = env(&reference);
        let aligned = corr(&ours, &theirs);
        let shifted = corr(&ours[5..], &theirs[..theirs.len() - 5]);
        // Measured: 0.98 aligned, -0.18 shifted.
        assert!(
            aligned > 0.9 && aligned > shifted + 0.5,
            "aligned {aligned}, shifted by 0.25 s {shifted}"
        );
    }

    #[test]
    fn out_of_range_rates_are_errors() {
        let bytes = one_note(0, 60, 0, 10, 0);
        let e = render_midi(&bytes, &font(), 8000, &RenderOptions::default()).unwrap_err();
        assert!(e.to_string().contains("16000 to 192000"), "{e}");
    }
}
