//! A strict reader of Standard MIDI Files (SMF), so that scores can be rendered to audio inside
//! the engine (`render_midi`) without trusting a file's bytes: every malformed file is an error
//! that names the problem and the byte offset where it was found, never a panic or a silent
//! guess.
//!
//! What it reads (the SMF 1.0 specification):
//! - the header chunk `MThd` (length at least 6; extra header bytes are skipped): format 0 (one
//!   track) or 1 (simultaneous tracks); format 2 (independent sequences) is refused. The division
//!   is metrical (ticks per quarter note) or SMPTE time code (frames per second × ticks per
//!   frame);
//! - track chunks `MTrk`, as many as the header announces; chunks of other types are skipped, as
//!   the specification asks. Each event is a variable-length delta time (at most 4 bytes) and a
//!   MIDI channel message (note off/on, key pressure, control change, program change, channel
//!   pressure, pitch bend), with running status, a SysEx event (`F0`/`F7`, skipped) or a meta
//!   event (`FF`: set tempo is kept, end of track checked, the others skipped). Meta and SysEx
//!   events cancel running status. Every track must end with exactly one End of Track event;
//!   System Common and Real-Time status bytes (`F1`–`F6`, `F8`–`FE`) have no place in a file.
//!
//! [`TempoMap`] turns ticks into seconds: for a metrical division, the tempo in force (set tempo
//! meta events from every track; 500 000 µs per quarter note, i.e. 120 bpm, until the first) or
//! a constant tempo that overrides the file's; for SMPTE division, `1 / (fps · ticks per frame)`
//! seconds per tick (29 means 29.97 fps, drop frame). Both divide by a tempo scale.

/// A MIDI file that cannot be read, with what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MidiError {
    /// The bytes break the SMF rules at `offset`.
    #[error("malformed MIDI file at byte {offset}: {problem}")]
    Malformed {
        /// The byte offset (0-based) of the problem.
        offset: usize,
        /// What is wrong.
        problem: String,
    },
    /// A valid file of a kind this reader does not render.
    #[error("unsupported MIDI file: {0}")]
    Unsupported(String),
}

fn malformed(offset: usize, problem: impl Into<String>) -> MidiError {
    MidiError::Malformed {
        offset,
        problem: problem.into(),
    }
}

/// How the file counts time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Division {
    /// Ticks per quarter note (1..=32767).
    Metrical(u16),
    /// SMPTE time code: frames per second (24, 25, 29 = 29.97 drop frame, 30) and ticks per
    /// frame.
    Timecode {
        /// Frames per second as written (29 stands for 30000/1001).
        fps: u8,
        /// Ticks per frame (at least 1).
        ticks_per_frame: u8,
    },
}

/// What happens at an event (channels are 0-based, data values 0..=127).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Note off (`8n`), with its release velocity.
    NoteOff {
        /// Channel.
        channel: u8,
        /// Key.
        key: u8,
        /// Release velocity.
        velocity: u8,
    },
    /// Note on (`9n`); velocity 0 is a note off by convention, and is kept as written.
    NoteOn {
        /// Channel.
        channel: u8,
        /// Key.
        key: u8,
        /// Velocity.
        velocity: u8,
    },
    /// Polyphonic key pressure (`An`).
    KeyPressure {
        /// Channel.
        channel: u8,
        /// Key.
        key: u8,
        /// Pressure.
        pressure: u8,
    },
    /// Control change (`Bn`), channel mode messages included.
    Control {
        /// Channel.
        channel: u8,
        /// Controller number.
        controller: u8,
        /// Value.
        value: u8,
    },
    /// Program change (`Cn`).
    Program {
        /// Channel.
        channel: u8,
        /// Program (0-based GM program).
        program: u8,
    },
    /// Channel pressure (`Dn`).
    ChannelPressure {
        /// Channel.
        channel: u8,
        /// Pressure.
        pressure: u8,
    },
    /// Pitch bend (`En`): 14 bits, 8192 is no bend.
    PitchBend {
        /// Channel.
        channel: u8,
        /// Bend, 0..=16383.
        value: u16,
    },
    /// Set tempo meta event: microseconds per quarter note (1..=16 777 215).
    Tempo(u32),
    /// End of track meta event.
    EndOfTrack,
}

impl EventKind {
    /// The channel of a channel message.
    pub fn channel(&self) -> Option<u8> {
        match *self {
            EventKind::NoteOff { channel, .. }
            | EventKind::NoteOn { channel, .. }
            | EventKind::KeyPressure { channel, .. }
            | EventKind::Control { channel, .. }
            | EventKind::Program { channel, .. }
            | EventKind::ChannelPressure { channel, .. }
            | EventKind::PitchBend { channel, .. } => Some(channel),
            EventKind::Tempo(_) | EventKind::EndOfTrack => None,
        }
    }
}

/// One event of a track at its absolute time in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Ticks since the start of the track.
    pub tick: u64,
    /// What happens.
    pub kind: EventKind,
}

/// One track: its events in file order (ticks never decrease), the last one End of Track.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Track {
    /// The events kept (SysEx and meta events other than tempo and end of track are skipped).
    pub events: Vec<Event>,
}

impl Track {
    /// The tick of its End of Track event.
    pub fn end_tick(&self) -> u64 {
        self.events.last().map_or(0, |e| e.tick)
    }
}

/// A parsed Standard MIDI File.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smf {
    /// 0 or 1.
    pub format: u16,
    /// How time is counted.
    pub division: Division,
    /// The tracks, in file order.
    pub tracks: Vec<Track>,
}

/// A cursor over the file's bytes that reports offsets in its errors.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MidiError> {
        match self.bytes.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if self.pos.checked_add(n).is_some() => {
                self.pos += n;
                Ok(s)
            }
            _ => Err(malformed(
                self.pos,
                format!(
                    "the file ends inside {what} ({n} bytes needed, {} left)",
                    self.bytes.len().saturating_sub(self.pos)
                ),
            )),
        }
    }

    fn byte(&mut self, what: &str) -> Result<u8, MidiError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, MidiError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, MidiError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A variable-length quantity: at most 4 bytes, 7 bits each, the last without bit 7.
    fn vlq(&mut self, what: &str) -> Result<u32, MidiError> {
        let start = self.pos;
        let mut value = 0u32;
        for _ in 0..4 {
            let b = self.byte(what)?;
            value = (value << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed(
            start,
            format!("{what} is a variable-length quantity longer than 4 bytes"),
        ))
    }

    /// A data byte (bit 7 clear) of a channel message.
    fn data(&mut self, what: &str) -> Result<u8, MidiError> {
        let at = self.pos;
        let b = self.byte(what)?;
        if b & 0x80 != 0 {
            return Err(malformed(
                at,
                format!("{what} must be a data byte (below 0x80), got 0x{b:02X}"),
            ));
        }
        Ok(b)
    }
}

/// Reads a Standard MIDI File (see the module docs for what is accepted).
pub fn parse(bytes: &[u8]) -> Result<Smf, MidiError> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.get(0..4) != Some(b"MThd".as_slice()) {
        return Err(malformed(
            0,
            "not a Standard MIDI File: it does not start with the header chunk 'MThd'",
        ));
    }
    r.pos = 4;
    let header_len = r.u32("the header length")? as usize;
    if header_len < 6 {
        return Err(malformed(
            4,
            format!("the header chunk is {header_len} bytes long, at least 6 are needed"),
        ));
    }
    let header_start = r.pos;
    let format = r.u16("the header")?;
    let n_tracks = r.u16("the header")?;
    let division_raw = r.u16("the header")?;
    r.take(header_len - 6, "the header chunk")?;
    match format {
        0 | 1 => {}
        2 => {
            return Err(MidiError::Unsupported(
                "format 2 (independent sequences) cannot be rendered as one piece".to_string(),
            ))
        }
        other => {
            return Err(malformed(
                header_start,
                format!("unknown format {other} (0, 1 or 2)"),
            ))
        }
    }
    if format == 0 && n_tracks != 1 {
        return Err(malformed(
            header_start + 2,
            format!("a format 0 file has exactly one track, the header says {n_tracks}"),
        ));
    }
    let division = if division_raw & 0x8000 == 0 {
        if division_raw == 0 {
            return Err(malformed(
                header_start + 4,
                "the division is 0 ticks per quarter note",
            ));
        }
        Division::Metrical(division_raw)
    } else {
        let fps = ((division_raw >> 8) as u8 as i8).wrapping_neg() as u8;
        let ticks_per_frame = (division_raw & 0xff) as u8;
        if ![24, 25, 29, 30].contains(&fps) || ticks_per_frame == 0 {
            return Err(malformed(
                header_start + 4,
                format!(
                    "SMPTE division of {fps} frames per second and {ticks_per_frame} ticks per \
                     frame (24, 25, 29 or 30 fps and at least 1 tick)"
                ),
            ));
        }
        Division::Timecode {
            fps,
            ticks_per_frame,
        }
    };
    let mut tracks = Vec::with_capacity(usize::from(n_tracks).min(bytes.len() / 8));
    while tracks.len() < usize::from(n_tracks) {
        let chunk_start = r.pos;
        if r.pos >= bytes.len() {
            return Err(malformed(
                r.pos,
                format!(
                    "the header announces {n_tracks} tracks, the file ends after {}",
                    tracks.len()
                ),
            ));
        }
        let id = r.take(4, "a chunk header")?;
        let len = r.u32("a chunk header")? as usize;
        let body = r.take(len, "a chunk").map_err(|_| {
            malformed(
                chunk_start,
                format!(
                    "the chunk declares {len} bytes, only {} remain",
                    bytes.len() - chunk_start - 8
                ),
            )
        })?;
        if id == b"MTrk" {
            tracks.push(parse_track(body, chunk_start + 8, tracks.len())?);
        }
        // Chunks of other types are skipped (SMF 1.0: "alien" chunks).
    }
    Ok(Smf {
        format,
        division,
        tracks,
    })
}

/// Parses the body of track `index`, which starts at byte `base` of the file.
fn parse_track(body: &[u8], base: usize, index: usize) -> Result<Track, MidiError> {
    let mut r = Reader {
        bytes: body,
        pos: 0,
    };
    let at = |pos: usize| base + pos;
    let relocate = |e: MidiError| match e {
        MidiError::Malformed { offset, problem } => MidiError::Malformed {
            offset: base + offset,
            problem: format!("track {index}: {problem}"),
        },
        other => other,
    };
    let mut events = Vec::new();
    let mut tick = 0u64;
    let mut running: Option<u8> = None;
    loop {
        if r.pos >= body.len() {
            return Err(malformed(
                at(r.pos),
                format!("track {index} ends without an End of Track event"),
            ));
        }
        let delta = r.vlq("a delta time").map_err(relocate)?;
        tick += u64::from(delta);
        let status_at = r.pos;
        let first = r.byte("an event").map_err(relocate)?;
        let (status, running_data) = if first & 0x80 != 0 {
            (first, None)
        } else {
            match running {
                Some(s) => (s, Some(first)),
                None => {
                    return Err(malformed(
                        at(status_at),
                        format!(
                            "track {index}: data byte 0x{first:02X} where a status byte is \
                             needed (running status with no channel message before it)"
                        ),
                    ))
                }
            }
        };
        match status {
            0x80..=0xEF => {
                running = Some(status);
                let channel = status & 0x0f;
                let d1 = match running_data {
                    Some(d) => d,
                    None => r.data("the first data byte").map_err(relocate)?,
                };
                let kind = match status & 0xf0 {
                    0xC0 => EventKind::Program {
                        channel,
                        program: d1,
                    },
                    0xD0 => EventKind::ChannelPressure {
                        channel,
                        pressure: d1,
                    },
                    high => {
                        let d2 = r.data("the second data byte").map_err(relocate)?;
                        match high {
                            0x80 => EventKind::NoteOff {
                                channel,
                                key: d1,
                                velocity: d2,
                            },
                            0x90 => EventKind::NoteOn {
                                channel,
                                key: d1,
                                velocity: d2,
                            },
                            0xA0 => EventKind::KeyPressure {
                                channel,
                                key: d1,
                                pressure: d2,
                            },
                            0xB0 => EventKind::Control {
                                channel,
                                controller: d1,
                                value: d2,
                            },
                            _ => EventKind::PitchBend {
                                channel,
                                value: u16::from(d1) | (u16::from(d2) << 7),
                            },
                        }
                    }
                };
                events.push(Event { tick, kind });
            }
            0xF0 | 0xF7 => {
                running = None;
                let len = r.vlq("a SysEx length").map_err(relocate)? as usize;
                r.take(len, "a SysEx event").map_err(relocate)?;
            }
            0xFF => {
                running = None;
                let meta_type = r.byte("a meta event").map_err(relocate)?;
                let len = r.vlq("a meta event length").map_err(relocate)? as usize;
                let data = r.take(len, "a meta event").map_err(relocate)?;
                match meta_type {
                    0x51 => {
                        if len != 3 {
                            return Err(malformed(
                                at(status_at),
                                format!(
                                    "track {index}: a set tempo event has 3 data bytes, this one \
                                     {len}"
                                ),
                            ));
                        }
                        let us = u32::from_be_bytes([0, data[0], data[1], data[2]]);
                        if us == 0 {
                            return Err(malformed(
                                at(status_at),
                                format!("track {index}: a tempo of 0 µs per quarter note"),
                            ));
                        }
                        events.push(Event {
                            tick,
                            kind: EventKind::Tempo(us),
                        });
                    }
                    0x2F => {
                        if len != 0 {
                            return Err(malformed(
                                at(status_at),
                                format!(
                                    "track {index}: an End of Track event has no data, this one \
                                     {len} bytes"
                                ),
                            ));
                        }
                        if r.pos != body.len() {
                            return Err(malformed(
                                at(r.pos),
                                format!(
                                    "track {index}: {} bytes after its End of Track event",
                                    body.len() - r.pos
                                ),
                            ));
                        }
                        events.push(Event {
                            tick,
                            kind: EventKind::EndOfTrack,
                        });
                        return Ok(Track { events });
                    }
                    _ => {}
                }
            }
            other => {
                return Err(malformed(
                    at(status_at),
                    format!(
                        "track {index}: status byte 0x{other:02X} (System Common or Real-Time) \
                         has no place in a MIDI file"
                    ),
                ))
            }
        }
    }
}

/// Default tempo of a metrical file before its first set tempo event: 120 bpm.
pub const DEFAULT_US_PER_QUARTER: u32 = 500_000;

/// Ticks to seconds for one file (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TempoMap {
    /// `(start tick, seconds at that tick, seconds per tick)`, by increasing tick, the first at 0.
    segments: Vec<(u64, f64, f64)>,
}

impl TempoMap {
    /// The map of `smf`: its own tempo changes, or the constant tempo `override_bpm` (beats =
    /// quarter notes per minute) instead; every duration is divided by `scale`. An error for a
    /// non-positive or non-finite tempo or scale, and for a tempo override on an SMPTE-timed
    /// file (which has no tempo).
    pub fn new(smf: &Smf, override_bpm: Option<f64>, scale: f64) -> Result<TempoMap, MidiError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(MidiError::Unsupported(format!(
                "tempo scale must be positive, got {scale}"
            )));
        }
        let ppq = match smf.division {
            Division::Timecode {
                fps,
                ticks_per_frame,
            } => {
                if override_bpm.is_some() {
                    return Err(MidiError::Unsupported(
                        "the file counts time in SMPTE frames, which has no tempo to override \
                         (use tempo_scale)"
                            .to_string(),
                    ));
                }
                let fps = if fps == 29 {
                    30000.0 / 1001.0
                } else {
                    fps as f64
                };
                let per_tick = 1.0 / (fps * f64::from(ticks_per_frame)) / scale;
                return Ok(TempoMap {
                    segments: vec![(0, 0.0, per_tick)],
                });
            }
            Division::Metrical(ppq) => f64::from(ppq),
        };
        let per_tick = |us_per_quarter: f64| us_per_quarter / 1e6 / ppq / scale;
        if let Some(bpm) = override_bpm {
            if !(bpm.is_finite() && bpm > 0.0) {
                return Err(MidiError::Unsupported(format!(
                    "tempo must be positive, got {bpm}"
                )));
            }
            return Ok(TempoMap {
                segments: vec![(0, 0.0, per_tick(60e6 / bpm))],
            });
        }
        let mut changes: Vec<(u64, usize, u32)> = Vec::new();
        for (t, track) in smf.tracks.iter().enumerate() {
            for e in &track.events {
                if let EventKind::Tempo(us) = e.kind {
                    changes.push((e.tick, t, us));
                }
            }
        }
        // By tick, then track order; at one tick, the last change wins.
        changes.sort_by_key(|&(tick, track, _)| (tick, track));
        let mut segments = vec![(0u64, 0.0f64, per_tick(f64::from(DEFAULT_US_PER_QUARTER)))];
        for (tick, _, us) in changes {
            let &(start, seconds, rate) = segments.last().unwrap_or(&(0, 0.0, 0.0));
            let new = (
                tick,
                seconds + (tick - start) as f64 * rate,
                per_tick(f64::from(us)),
            );
            match segments.last_mut() {
                Some(last) if last.0 == tick => *last = new,
                _ => segments.push(new),
            }
        }
        Ok(TempoMap { segments })
    }

    /// Seconds from the start of the piece to `tick`.
    pub fn seconds(&self, tick: u64) -> f64 {
        let i = self.segments.partition_point(|s| s.0 <= tick);
        let (start, seconds, rate) = self.segments[i.saturating_sub(1)];
        seconds + (tick - start) as f64 * rate
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A variable-length quantity, written independently of the reader.
    pub(crate) fn vlq(mut v: u32) -> Vec<u8> {
        let mut out = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            out.insert(0, 0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        out
    }

    /// A whole file from raw track bodies (each must carry its own End of Track).
    pub(crate) fn smf_bytes(format: u16, division: u16, tracks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = b"MThd".to_vec();
        out.extend(6u32.to_be_bytes());
        out.extend(format.to_be_bytes());
        out.extend((tracks.len() as u16).to_be_bytes());
        out.extend(division.to_be_bytes());
        for t in tracks {
            out.extend(b"MTrk");
            out.extend((t.len() as u32).to_be_bytes());
            out.extend(t);
        }
        out
    }

    /// A track body from `(delta, bytes)` events, ended by End of Track after `end_delta`.
    pub(crate) fn track(events: &[(u32, &[u8])], end_delta: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for (delta, bytes) in events {
            out.extend(vlq(*delta));
            out.extend(*bytes);
        }
        out.extend(vlq(end_delta));
        out.extend([0xFF, 0x2F, 0x00]);
        out
    }

    fn kinds(t: &Track) -> Vec<(u64, EventKind)> {
        t.events.iter().map(|e| (e.tick, e.kind)).collect()
    }

    #[test]
    fn variable_length_quantities_round_trip() {
        for v in [
            0,
            1,
            0x7f,
            0x80,
            0x2000,
            0x3fff,
            0x4000,
            0x1f_ffff,
            0x20_0000,
            0x0fff_ffff,
        ] {
            let bytes = vlq(v);
            let mut r = Reader {
                bytes: &bytes,
                pos: 0,
            };
            assert_eq!(r.vlq("x").unwrap(), v);
            assert_eq!(r.pos, bytes.len());
        }
        // The specification's examples.
        assert_eq!(vlq(0x40), vec![0x40]);
        assert_eq!(vlq(0x2000), vec![0xC0, 0x00]);
        assert_eq!(vlq(0x0FFF_FFFF), vec![0xFF, 0xFF, 0xFF, 0x7F]);
        let five = [0x81, 0x80, 0x80, 0x80, 0x00];
        let e = Reader {
            bytes: &five,
            pos: 0,
        }
        .vlq("a delta time")
        .unwrap_err();
        assert!(e.to_string().contains("longer than 4 bytes"), "{e}");
    }

    #[test]
    fn format_0_with_running_status() {
        // Note on C4, then (running status) note on E4 and two "note offs" as velocity-0 note
        // ons, a program change, a controller, pitch bend and a pressure.
        let body = track(
            &[
                (0, &[0xC0, 40]),
                (0, &[0xB0, 7, 100]),
                (0, &[0x90, 60, 100]),
                (0, &[64, 90]),
                (96, &[60, 0]),
                (0, &[64, 0]),
                (10, &[0xE0, 0x00, 0x40]),
                (0, &[0x7f, 0x7f]),
                (5, &[0xD0, 33]),
                (0, &[34]),
            ],
            20,
        );
        let smf = parse(&smf_bytes(0, 96, &[body])).unwrap();
        assert_eq!(smf.format, 0);
        assert_eq!(smf.division, Division::Metrical(96));
        let ch = 0;
        assert_eq!(
            kinds(&smf.tracks[0]),
            vec![
                (
                    0,
                    EventKind::Program {
                        channel: ch,
                        program: 40
                    }
                ),
                (
                    0,
                    EventKind::Control {
                        channel: ch,
                        controller: 7,
                        value: 100
                    }
                ),
                (
                    0,
                    EventKind::NoteOn {
                        channel: ch,
                        key: 60,
                        velocity: 100
                    }
                ),
                (
                    0,
                    EventKind::NoteOn {
                        channel: ch,
                        key: 64,
                        velocity: 90
                    }
                ),
                (
                    96,
                    EventKind::NoteOn {
                        channel: ch,
                        key: 60,
                        velocity: 0
                    }
                ),
                (
                    96,
                    EventKind::NoteOn {
                        channel: ch,
                        key: 64,
                        velocity: 0
                    }
                ),
                (
                    106,
                    EventKind::PitchBend {
                        channel: ch,
                        value: 8192
                    }
                ),
                (
                    106,
                    EventKind::PitchBend {
                        channel: ch,
                        value: 16383
                    }
                ),
                (
                    111,
                    EventKind::ChannelPressure {
                        channel: ch,
                        pressure: 33
                    }
                ),
                (
                    111,
                    EventKind::ChannelPressure {
                        channel: ch,
                        pressure: 34
                    }
                ),
                (131, EventKind::EndOfTrack),
            ]
        );
        assert_eq!(smf.tracks[0].end_tick(), 131);
    }

    #[test]
    fn format_1_tempo_changes_and_skipped_events() {
        // Track 0: tempo 120 bpm, then 60 bpm at tick 480, a text event and a SysEx; track 1
        // (with an alien chunk before it): one note on channel 3.
        let t0 = track(
            &[
                (0, &[0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20]),
                (0, &[0xFF, 0x01, 0x03, b'a', b'b', b'c']),
                (0, &[0xF0, 0x03, 0x7E, 0x7F, 0xF7]),
                (480, &[0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40]),
            ],
            0,
        );
        let t1 = track(&[(0, &[0x93, 67, 80]), (960, &[0x83, 67, 64])], 0);
        let mut bytes = smf_bytes(1, 480, std::slice::from_ref(&t0));
        bytes.extend(b"XFIH");
        bytes.extend(3u32.to_be_bytes());
        bytes.extend([1, 2, 3]);
        bytes.extend(b"MTrk");
        bytes.extend((t1.len() as u32).to_be_bytes());
        bytes.extend(&t1);
        bytes[11] = 2; // two tracks
        let smf = parse(&bytes).unwrap();
        assert_eq!(smf.tracks.len(), 2);
        assert_eq!(
            kinds(&smf.tracks[0]),
            vec![
                (0, EventKind::Tempo(500_000)),
                (480, EventKind::Tempo(1_000_000)),
                (480, EventKind::EndOfTrack),
            ]
        );
        assert_eq!(
            kinds(&smf.tracks[1]),
            vec![
                (
                    0,
                    EventKind::NoteOn {
                        channel: 3,
                        key: 67,
                        velocity: 80
                    }
                ),
                (
                    960,
                    EventKind::NoteOff {
                        channel: 3,
                        key: 67,
                        velocity: 64
                    }
                ),
                (960, EventKind::EndOfTrack),
            ]
        );
        // 480 ticks at 120 bpm (0.5 s), then 480 at 60 bpm (1 s).
        let map = TempoMap::new(&smf, None, 1.0).unwrap();
        for (tick, s) in [(0, 0.0), (240, 0.25), (480, 0.5), (720, 1.0), (960, 1.5)] {
            assert!(
                (map.seconds(tick) - s).abs() < 1e-12,
                "{tick}: {}",
                map.seconds(tick)
            );
        }
        // An override ignores the file's changes; the scale divides every duration.
        let map = TempoMap::new(&smf, Some(90.0), 1.0).unwrap();
        assert!((map.seconds(960) - 2.0 * 60.0 / 90.0).abs() < 1e-12);
        let map = TempoMap::new(&smf, None, 2.0).unwrap();
        assert!((map.seconds(960) - 0.75).abs() < 1e-12);
        assert!(TempoMap::new(&smf, Some(0.0), 1.0).is_err());
        assert!(TempoMap::new(&smf, None, -1.0).is_err());
    }

    #[test]
    fn tempo_map_matches_a_brute_force_sum() {
        // Random tempo changes in two tracks: seconds(t) against a tick-by-tick sum.
        let mut rng = crate::common::rng::Rng::new(3);
        let mut t0 = Vec::new();
        let mut t1 = Vec::new();
        let mut changes = Vec::new();
        for track_index in 0..2 {
            let mut tick = 0u32;
            for _ in 0..6 {
                let delta = (rng.next_f64() * 300.0) as u32;
                tick += delta;
                let us = 200_000 + (rng.next_f64() * 800_000.0) as u32;
                let b = us.to_be_bytes();
                let ev = vec![0xFF, 0x51, 0x03, b[1], b[2], b[3]];
                let target = if track_index == 0 { &mut t0 } else { &mut t1 };
                target.push((delta, ev));
                changes.push((tick, track_index, us));
            }
        }
        let as_track = |evs: &Vec<(u32, Vec<u8>)>| {
            let refs: Vec<(u32, &[u8])> = evs.iter().map(|(d, b)| (*d, b.as_slice())).collect();
            track(&refs, 0)
        };
        let smf = parse(&smf_bytes(1, 192, &[as_track(&t0), as_track(&t1)])).unwrap();
        let map = TempoMap::new(&smf, None, 1.5).unwrap();
        changes.sort_by_key(|&(tick, track, _)| (tick, track));
        let tempo_at = |tick: u32| {
            changes
                .iter()
                .rfind(|c| c.0 <= tick)
                .map_or(500_000, |c| c.2)
        };
        let mut seconds = 0.0;
        for tick in 0..2000u32 {
            assert!(
                (map.seconds(u64::from(tick)) - seconds).abs() < 1e-9,
                "tick {tick}"
            );
            seconds += f64::from(tempo_at(tick)) / 1e6 / 192.0 / 1.5;
        }
    }

    #[test]
    fn smpte_division() {
        // 25 fps × 40 ticks per frame: 1000 ticks per second.
        let division = (((-25i8) as u8 as u16) << 8) | 40;
        let body = track(&[(0, &[0x90, 60, 100]), (500, &[0x80, 60, 0])], 0);
        let smf = parse(&smf_bytes(0, division, &[body])).unwrap();
        assert_eq!(
            smf.division,
            Division::Timecode {
                fps: 25,
                ticks_per_frame: 40
            }
        );
        let map = TempoMap::new(&smf, None, 1.0).unwrap();
        assert!((map.seconds(500) - 0.5).abs() < 1e-12);
        let e = TempoMap::new(&smf, Some(100.0), 1.0).unwrap_err();
        assert!(e.to_string().contains("SMPTE"), "{e}");
    }

    fn error_of(bytes: &[u8]) -> String {
        parse(bytes).unwrap_err().to_string()
    }

    #[test]
    fn malformed_files_name_the_problem_and_the_offset() {
        let good = smf_bytes(
            0,
            96,
            &[track(&[(0, &[0x90, 60, 100]), (96, &[0x80, 60, 0])], 0)],
        );
        assert!(parse(&good).is_ok());
        // Not MIDI at all.
        let e = error_of(b"RIFF....WAVE");
        assert!(e.contains("byte 0") && e.contains("MThd"), "{e}");
        assert!(error_of(&[]).contains("MThd"));
        // A header cut short.
        let e = error_of(&good[..10]);
        assert!(
            e.contains("byte 10") && e.contains("ends inside the header"),
            "{e}"
        );
        // Header length below 6.
        let mut b = good.clone();
        b[7] = 5;
        assert!(error_of(&b).contains("at least 6"));
        // Format 2 and unknown formats.
        let mut b = good.clone();
        b[9] = 2;
        assert!(error_of(&b).contains("format 2"), "{}", error_of(&b));
        b[9] = 7;
        assert!(
            error_of(&b).contains("byte 8: unknown format 7"),
            "{}",
            error_of(&b)
        );
        // Format 0 with two tracks.
        let mut b = good.clone();
        b[11] = 2;
        assert!(error_of(&b).contains("exactly one track"));
        // Format 1 announcing more tracks than there are.
        let mut b = good.clone();
        b[9] = 1;
        b[11] = 2;
        let e = error_of(&b);
        assert!(
            e.contains(&format!("byte {}", good.len())) && e.contains("2 tracks"),
            "{e}"
        );
        // Division 0.
        let mut b = good.clone();
        b[12] = 0;
        b[13] = 0;
        assert!(error_of(&b).contains("byte 12: the division is 0"));
        // A chunk longer than the file.
        let mut b = good.clone();
        b[21] += 5;
        let e = error_of(&b);
        assert!(e.contains("byte 14") && e.contains("declares"), "{e}");
        // The track: body starts at byte 22.
        let bad = |events: &[(u32, &[u8])]| error_of(&smf_bytes(0, 96, &[track(events, 0)]));
        // Running status with no status before it.
        let e = bad(&[(0, &[60, 100])]);
        assert!(e.contains("byte 23") && e.contains("running status"), "{e}");
        // A status byte where a data byte belongs.
        let e = bad(&[(0, &[0x90, 60, 0x85])]);
        assert!(e.contains("byte 25") && e.contains("data byte"), "{e}");
        // System Real-Time in a file.
        let e = bad(&[(0, &[0xF8])]);
        assert!(e.contains("byte 23") && e.contains("0xF8"), "{e}");
        // A meta event after which running status is cancelled.
        let e = bad(&[
            (0, &[0x90, 60, 100]),
            (0, &[0xFF, 0x01, 0x00]),
            (0, &[61, 100]),
        ]);
        assert!(e.contains("running status"), "{e}");
        // A set tempo event of the wrong length, and a tempo of 0.
        let e = bad(&[(0, &[0xFF, 0x51, 0x02, 0x07, 0xA1])]);
        assert!(e.contains("byte 23") && e.contains("3 data bytes"), "{e}");
        let e = bad(&[(0, &[0xFF, 0x51, 0x03, 0, 0, 0])]);
        assert!(e.contains("tempo of 0"), "{e}");
        // A track without End of Track, and bytes after it.
        let no_end = [0x00, 0x90, 60, 100];
        let mut b = smf_bytes(0, 96, &[no_end.to_vec()]);
        assert!(
            error_of(&b).contains("byte 26") && error_of(&b).contains("without an End of Track")
        );
        b = smf_bytes(
            0,
            96,
            &[[track(&[], 0), vec![0x00, 0x90, 60, 100]].concat()],
        );
        assert!(
            error_of(&b).contains("4 bytes after its End of Track"),
            "{}",
            error_of(&b)
        );
        // An event cut by the end of the track chunk.
        let cut = [0x00, 0x90, 60];
        let e = error_of(&smf_bytes(0, 96, &[cut.to_vec()]));
        assert!(
            e.contains("byte 25") && e.contains("track 0") && e.contains("ends inside"),
            "{e}"
        );
        // A SysEx longer than the track.
        let e = error_of(&smf_bytes(0, 96, &[vec![0x00, 0xF0, 0x20, 0x01]]));
        assert!(e.contains("SysEx"), "{e}");
        // Bad SMPTE rate.
        let e = error_of(&smf_bytes(0, 0xE028, &[track(&[], 0)]));
        assert!(e.contains("SMPTE"), "{e}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = crate::common::rng::Rng::new(9);
        let good = smf_bytes(
            1,
            96,
            &[
                track(&[(0, &[0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20])], 0),
                track(&[(0, &[0xC1, 5]), (0, &[0x91, 60, 100]), (96, &[60, 0])], 0),
            ],
        );
        for _ in 0..3000 {
            let mut b = good.clone();
            for _ in 0..(1 + (rng.next_f64() * 4.0) as usize) {
                let i = (rng.next_f64() * b.len() as f64) as usize % b.len();
                b[i] = (rng.next_f64() * 256.0) as u8;
            }
            let cut = (rng.next_f64() * (b.len() + 1) as f64) as usize;
            let _ = parse(&b[..cut.min(b.len())]);
            let _ = parse(&b);
        }
    }
}
