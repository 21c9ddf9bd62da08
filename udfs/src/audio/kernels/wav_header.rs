//! The header facts of a RIFF/WAVE stream, checked before symphonia reads it.
//!
//! symphonia 0.5 trusts several WAV header fields it should not: a sample rate of 0 panics when
//! it builds the track's time base, an extensible format with a sample width of 0 reaches an
//! `unreachable!()`, the ADPCM block arithmetic overflows on small block sizes, and an INFO list
//! whose chunk lengths exceed the file allocates them before finding out. [`check`] walks the
//! chunks the way symphonia's reader does (within the RIFF length, word-aligned) and refuses what
//! would reach those paths, or what a damaged file declares and does not hold:
//! - a `fmt ` chunk shorter than 16 bytes, an encoding other than PCM, IEEE float, A-law, µ-law
//!   or extensible (ADPCM needs a codec trustql does not build), 0 or more than 32 channels, a
//!   sample rate of 0 or above [`MAX_SAMPLE_RATE`], a sample width that is not 8, 16, 24, 32 or
//!   64 bits, a block size that is not channels × bytes per sample;
//! - a chunk longer than its RIFF container or than the bytes that follow it in the file (the
//!   `data` chunk included: a truncated file is refused, not decoded in part), except the
//!   streaming marker (RIFF and data lengths both 2³² − 1, as ffmpeg writes to a pipe), which
//!   reads to the end of the file;
//! - no `fmt ` chunk before the `data` chunk, or no `data` chunk;
//! - decoded samples (frames × channels as f32) beyond the session's memory limit.
//!
//! Streams that do not start with `RIFF....WAVE` are left to symphonia's probe.

use std::io::{Read, Seek, SeekFrom};

use super::error::{check_memory, AudioError};

/// The highest sample rate a WAV header may declare (16 × 192 kHz); higher ones are taken as
/// damage.
pub const MAX_SAMPLE_RATE: u32 = 3_072_000;
/// The most channels symphonia can map.
pub const MAX_CHANNELS: u16 = 32;

/// The facts of a `fmt ` chunk that sizing and decoding depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// The format tag (1 PCM, 3 IEEE float, 6 A-law, 7 µ-law, 0xFFFE extensible).
    pub tag: u16,
    /// Channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Bytes per frame.
    pub block_align: u16,
    /// Bits per (coded) sample.
    pub bits: u16,
}

/// Reads as many bytes as `buf` holds, or fewer at the end of the stream; the number read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize, AudioError> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(AudioError::BadHeader(format!("cannot be read ({e})"))),
        }
    }
    Ok(n)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// The facts of a `fmt ` chunk's first 16 bytes, checked.
pub fn parse_format(b: &[u8; 16]) -> Result<Format, AudioError> {
    let f = Format {
        tag: u16_at(b, 0),
        channels: u16_at(b, 2),
        sample_rate: u32_at(b, 4),
        block_align: u16_at(b, 12),
        bits: u16_at(b, 14),
    };
    match f.tag {
        1 | 3 | 6 | 7 | 0xFFFE => {}
        2 | 0x11 => {
            return Err(AudioError::BadHeader(format!(
                "the WAV file is ADPCM-encoded (format tag {:#06x}), which is not supported",
                f.tag
            )))
        }
        t => {
            return Err(AudioError::BadHeader(format!(
                "the WAV file has an unsupported encoding (format tag {t:#06x})"
            )))
        }
    }
    if f.channels == 0 || f.channels > MAX_CHANNELS {
        return Err(AudioError::BadHeader(format!(
            "the WAV header gives {} channels (1 to {MAX_CHANNELS} are possible)",
            f.channels
        )));
    }
    if f.sample_rate == 0 || f.sample_rate > MAX_SAMPLE_RATE {
        return Err(AudioError::BadHeader(format!(
            "the WAV header gives a sample rate of {} Hz (1 to {MAX_SAMPLE_RATE} Hz are possible)",
            f.sample_rate
        )));
    }
    if !matches!(f.bits, 8 | 16 | 24 | 32 | 64) {
        return Err(AudioError::BadHeader(format!(
            "the WAV header gives {} bits per sample (8, 16, 24, 32 or 64 are possible)",
            f.bits
        )));
    }
    let frame = u32::from(f.channels) * u32::from(f.bits / 8);
    if u32::from(f.block_align) != frame {
        return Err(AudioError::BadHeader(format!(
            "the WAV header gives {} bytes per frame, but {} channels of {}-bit samples take {frame}",
            f.block_align, f.channels, f.bits
        )));
    }
    Ok(f)
}

/// Checks the header facts of a RIFF/WAVE stream of `len` bytes (see the module docs); other
/// streams pass. Leaves `r` at its start. Errors say what is wrong, without naming the stream.
pub fn check<R: Read + Seek>(r: &mut R, len: u64, memory_limit: u64) -> Result<(), AudioError> {
    let result = walk(r, len, memory_limit);
    r.seek(SeekFrom::Start(0))
        .map_err(|e| AudioError::BadHeader(format!("cannot be read ({e})")))?;
    result
}

fn walk<R: Read + Seek>(r: &mut R, len: u64, memory_limit: u64) -> Result<(), AudioError> {
    r.seek(SeekFrom::Start(0))
        .map_err(|e| AudioError::BadHeader(format!("cannot be read ({e})")))?;
    let mut head = [0u8; 12];
    if read_up_to(r, &mut head)? < 12 || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(());
    }
    // As symphonia: the chunks lie within the RIFF length, counted from after the form type.
    let riff_len = u64::from(u32_at(&head, 4));
    let mut consumed: u64 = 0;
    let mut pos: u64 = 12;
    let mut format: Option<Format> = None;
    loop {
        if consumed % 2 == 1 {
            consumed += 1;
            pos += 1;
        }
        if consumed + 8 > riff_len {
            return Err(AudioError::BadHeader(
                "the WAV file has no data chunk".to_string(),
            ));
        }
        r.seek(SeekFrom::Start(pos))
            .map_err(|e| AudioError::BadHeader(format!("cannot be read ({e})")))?;
        let mut chunk = [0u8; 8];
        if read_up_to(r, &mut chunk)? < 8 {
            return Err(AudioError::BadHeader(format!(
                "the WAV file is truncated: it ends at byte {len}, inside its chunk headers"
            )));
        }
        let tag = String::from_utf8_lossy(&chunk[0..4]).into_owned();
        let chunk_len = u32_at(&chunk, 4);
        consumed += 8;
        pos += 8;
        let streaming = riff_len == u64::from(u32::MAX) && chunk_len == u32::MAX;
        let chunk_len = u64::from(chunk_len);
        if riff_len - consumed < chunk_len && !streaming {
            return Err(AudioError::BadHeader(format!(
                "the WAV chunk '{tag}' declares {chunk_len} bytes, more than its RIFF container \
                 holds ({} bytes)",
                riff_len - consumed
            )));
        }
        let available = len.saturating_sub(pos);
        if chunk_len > available && !(streaming && &chunk[0..4] == b"data") {
            return Err(AudioError::BadHeader(format!(
                "the WAV file is truncated or its header damaged: chunk '{tag}' declares \
                 {chunk_len} bytes, but only {available} follow"
            )));
        }
        match &chunk[0..4] {
            b"fmt " => {
                if chunk_len < 16 {
                    return Err(AudioError::BadHeader(format!(
                        "the WAV fmt chunk has {chunk_len} bytes, fewer than the 16 it needs"
                    )));
                }
                let mut b = [0u8; 16];
                if read_up_to(r, &mut b)? < 16 {
                    return Err(AudioError::BadHeader(
                        "the WAV file is truncated inside its fmt chunk".to_string(),
                    ));
                }
                format = Some(parse_format(&b)?);
            }
            b"data" => {
                let Some(f) = format else {
                    return Err(AudioError::BadHeader(
                        "the WAV file has no fmt chunk before its data".to_string(),
                    ));
                };
                let data_len = if streaming { available } else { chunk_len };
                let frames = data_len / u64::from(f.block_align);
                let need = frames as f64 * f64::from(f.channels) * 4.0;
                return check_memory(
                    &format!("its audio ({frames} frames × {} channels)", f.channels),
                    need,
                    memory_limit,
                );
            }
            _ => {}
        }
        consumed += chunk_len;
        pos += chunk_len;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// A 16-bit PCM WAV of `frames` frames of `channels` channels at `sr` Hz, written by hand
    /// (so that the tests do not depend on the writer that the decoder is checked against).
    pub(crate) fn wav(channels: u16, sr: u32, frames: usize) -> Vec<u8> {
        let data_len = frames * usize::from(channels) * 2;
        let mut b = Vec::new();
        b.extend(b"RIFF");
        b.extend(&((36 + data_len) as u32).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(&16u32.to_le_bytes());
        b.extend(&1u16.to_le_bytes());
        b.extend(&channels.to_le_bytes());
        b.extend(&sr.to_le_bytes());
        b.extend(&(sr * u32::from(channels) * 2).to_le_bytes());
        b.extend(&(channels * 2).to_le_bytes());
        b.extend(&16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(&(data_len as u32).to_le_bytes());
        for i in 0..frames * usize::from(channels) {
            b.extend(&((i as i16).wrapping_mul(97)).to_le_bytes());
        }
        b
    }

    fn checked(bytes: &[u8]) -> Result<(), AudioError> {
        check(&mut Cursor::new(bytes), bytes.len() as u64, 1 << 30)
    }

    /// `bytes` with the little-endian `value` written at `at`.
    fn patched(mut bytes: Vec<u8>, at: usize, value: &[u8]) -> Vec<u8> {
        bytes[at..at + value.len()].copy_from_slice(value);
        bytes
    }

    #[test]
    fn an_intact_wav_and_other_formats_pass() {
        checked(&wav(2, 22050, 100)).expect("passes");
        checked(b"fLaC and then anything").expect("passes");
        checked(b"").expect("passes");
        checked(b"RIFF\x04\0\0\0AVI ").expect("passes");
    }

    #[test]
    fn damaged_headers_are_named() {
        let ok = wav(1, 22050, 100);
        for (bytes, needle) in [
            (
                patched(ok.clone(), 24, &0u32.to_le_bytes()),
                "sample rate of 0 Hz",
            ),
            (
                patched(ok.clone(), 24, &u32::MAX.to_le_bytes()),
                "sample rate of 4294967295 Hz",
            ),
            (
                patched(ok.clone(), 22, &0u16.to_le_bytes()),
                "gives 0 channels",
            ),
            (
                patched(ok.clone(), 22, &33u16.to_le_bytes()),
                "gives 33 channels",
            ),
            (
                patched(ok.clone(), 34, &0u16.to_le_bytes()),
                "0 bits per sample",
            ),
            (
                patched(ok.clone(), 32, &7u16.to_le_bytes()),
                "7 bytes per frame",
            ),
            (patched(ok.clone(), 20, &2u16.to_le_bytes()), "ADPCM"),
            (
                patched(ok.clone(), 20, &0x55u16.to_le_bytes()),
                "unsupported encoding",
            ),
            (
                patched(ok.clone(), 16, &8u32.to_le_bytes()),
                "fewer than the 16",
            ),
            (
                patched(ok.clone(), 40, &0x7fff_fff0u32.to_le_bytes()),
                "more than its RIFF container",
            ),
            (ok[..ok.len() - 10].to_vec(), "only 190 follow"),
            (ok[..30].to_vec(), "truncated"),
            (ok[..40].to_vec(), "truncated"),
            (
                patched(ok.clone(), 12, b"junk"),
                "no fmt chunk before its data",
            ),
            (patched(ok.clone(), 36, b"junk"), "no data chunk"),
        ] {
            let e = checked(&bytes).expect_err(needle).to_string();
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn streamed_lengths_read_to_the_end() {
        let ok = wav(1, 8000, 50);
        let streamed = patched(
            patched(ok, 4, &u32::MAX.to_le_bytes()),
            40,
            &u32::MAX.to_le_bytes(),
        );
        checked(&streamed).expect("passes");
    }

    #[test]
    fn decoded_size_is_checked_against_the_limit() {
        let ok = wav(2, 22050, 1000);
        // 1000 frames × 2 channels × 4 bytes = 8000 bytes decoded.
        assert!(check(&mut Cursor::new(&ok), ok.len() as u64, 8000).is_ok());
        let e = check(&mut Cursor::new(&ok), ok.len() as u64, 7999)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("its audio (1000 frames × 2 channels) needs about 7.8 KiB")
                && e.contains("trustql.memory_limit"),
            "{e}"
        );
    }

    #[test]
    fn the_reader_is_left_at_the_start() {
        let ok = wav(1, 22050, 10);
        let mut c = Cursor::new(&ok);
        check(&mut c, ok.len() as u64, 1 << 30).unwrap();
        assert_eq!(c.position(), 0);
        let bad = patched(ok, 24, &0u32.to_le_bytes());
        let mut c = Cursor::new(&bad);
        assert!(check(&mut c, bad.len() as u64, 1 << 30).is_err());
        assert_eq!(c.position(), 0);
    }
}
