//! The font module exists so that the SVG and PNG back-ends and the layout
//! all use one embedded font (DejaVu Sans) and one set of metrics: text is
//! measured exactly as it is later rasterised, so labels can be placed
//! without overlaps.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont};

/// DejaVu Sans (see `fonts/LICENSE-DejaVu`).
static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The CSS font-family written into SVG output.
pub(crate) const FONT_FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

/// Width of an average glyph relative to the font size, used only if the
/// embedded font cannot be parsed.
const FALLBACK_ADVANCE: f64 = 0.6;

/// The embedded font, parsed once; `None` only if the bytes are corrupt.
pub(crate) fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// The ab_glyph scale whose em size equals `size` pixels (the meaning of
/// `font-size` in SVG).
pub(crate) fn px_scale(f: &FontRef<'_>, size: f64) -> PxScale {
    let upem = f.units_per_em().unwrap_or(2048.0);
    PxScale::from((size as f32) * f.height_unscaled() / upem)
}

/// Glyphs of `text` with their horizontal offsets from the text origin,
/// including kerning, at font size `size`.
pub(crate) fn layout_glyphs(f: &FontRef<'_>, text: &str, size: f64) -> Vec<(GlyphId, f32)> {
    let scaled = f.as_scaled(px_scale(f, size));
    let mut x = 0.0f32;
    let mut prev: Option<GlyphId> = None;
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        out.push((id, x));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    out
}

/// Advance width of `text` in pixels at font size `size`.
pub(crate) fn text_width(text: &str, size: f64) -> f64 {
    match font() {
        Some(f) => {
            let scaled = f.as_scaled(px_scale(f, size));
            let glyphs = layout_glyphs(f, text, size);
            glyphs
                .last()
                .map_or(0.0, |(id, x)| f64::from(x + scaled.h_advance(*id)))
        }
        None => text.chars().count() as f64 * size * FALLBACK_ADVANCE,
    }
}

/// Height of capital letters above the baseline, used to centre text
/// vertically (DejaVu Sans: 0.73 em).
pub(crate) fn cap_height(size: f64) -> f64 {
    0.73 * size
}

/// Depth of descenders below the baseline (DejaVu Sans: 0.24 em).
pub(crate) fn descent(size: f64) -> f64 {
    0.24 * size
}

/// `text` shortened with an ellipsis so that it is at most `max_width`
/// pixels wide at font size `size`.
pub(crate) fn truncate(text: &str, size: f64, max_width: f64) -> String {
    if text_width(text, size) <= max_width {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 0 {
        keep -= 1;
        let candidate: String = chars[..keep].iter().collect::<String>() + "…";
        if text_width(&candidate, size) <= max_width {
            return candidate;
        }
    }
    "…".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_parses_and_measures() {
        assert!(font().is_some());
        let w = text_width("Hello", 10.0);
        assert!(w > 20.0 && w < 40.0, "{w}");
        assert!(text_width("WWW", 10.0) > text_width("iii", 10.0));
        let t = truncate("a very long label indeed", 10.0, 50.0);
        assert!(t.ends_with('…') && text_width(&t, 10.0) <= 50.0);
    }
}
