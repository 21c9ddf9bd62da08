//! The raster back-end exists to produce PNG figures (for terminals,
//! notebooks and documents that cannot show SVG) by drawing the same
//! primitives with tiny-skia, anti-aliased, and text with ab_glyph using
//! the embedded font.

use ab_glyph::{point, Font};
use tiny_skia::{
    FillRule, FilterQuality, LineCap, LineJoin, PathBuilder, Pixmap, PixmapPaint, Shader, Transform,
};

use crate::canvas::{Anchor, Canvas, Paint, Pt, Rgba, Stroke, TextStyle};
use crate::font::{font, layout_glyphs, px_scale, text_width};
use crate::PlotError;

/// A tiny-skia pixmap drawn at `scale` device pixels per figure pixel.
pub(crate) struct RasterCanvas {
    pixmap: Pixmap,
    scale: f64,
}

impl RasterCanvas {
    /// A transparent pixmap for a `width` x `height` figure at `scale`.
    pub fn new(width: f64, height: f64, scale: f64) -> Result<Self, PlotError> {
        let w = (width * scale).round().max(1.0) as u32;
        let h = (height * scale).round().max(1.0) as u32;
        let pixmap = Pixmap::new(w, h)
            .ok_or_else(|| PlotError::Png(format!("cannot allocate a {w}x{h} pixmap")))?;
        Ok(RasterCanvas { pixmap, scale })
    }

    /// Encodes the pixmap as PNG.
    pub fn encode(&self) -> Result<Vec<u8>, PlotError> {
        self.pixmap
            .encode_png()
            .map_err(|e| PlotError::Png(e.to_string()))
    }

    fn paint(color: Rgba) -> tiny_skia::Paint<'static> {
        let mut p = tiny_skia::Paint {
            shader: Shader::SolidColor(tiny_skia::Color::from_rgba8(
                color.r,
                color.g,
                color.b,
                (color.a * 255.0).round() as u8,
            )),
            ..tiny_skia::Paint::default()
        };
        p.anti_alias = true;
        p
    }

    fn sk_stroke(&self, width: f64, cap: LineCap) -> tiny_skia::Stroke {
        tiny_skia::Stroke {
            width: (width * self.scale) as f32,
            line_cap: cap,
            line_join: LineJoin::Round,
            ..tiny_skia::Stroke::default()
        }
    }

    fn stroke_path(&mut self, path: Option<tiny_skia::Path>, s: Stroke, cap: LineCap) {
        if let Some(path) = path {
            let stroke = self.sk_stroke(s.width, cap);
            self.pixmap.stroke_path(
                &path,
                &Self::paint(s.color),
                &stroke,
                Transform::identity(),
                None,
            );
        }
    }

    fn fill_path(&mut self, path: &tiny_skia::Path, color: Rgba) {
        self.pixmap.fill_path(
            path,
            &Self::paint(color),
            FillRule::Winding,
            Transform::identity(),
            None,
        );
    }

    /// Device coordinate; for crisp hairlines, a stroke of odd device width
    /// is centred on a pixel centre.
    fn snap(&self, v: f64, width: f64) -> f32 {
        let d = v * self.scale;
        let w = (width * self.scale).round() as i64;
        if w % 2 == 1 {
            (d.floor() + 0.5) as f32
        } else {
            d.round() as f32
        }
    }

    fn dev(&self, p: Pt) -> (f32, f32) {
        ((p.0 * self.scale) as f32, (p.1 * self.scale) as f32)
    }
}

impl Canvas for RasterCanvas {
    fn group_start(&mut self, _class: &str, _attrs: &[(&str, String)]) {}

    fn group_end(&mut self) {}

    fn line(&mut self, a: Pt, b: Pt, stroke: Stroke, _class: &str) {
        let (mut a2, mut b2) = (self.dev(a), self.dev(b));
        if a.0 == b.0 {
            a2.0 = self.snap(a.0, stroke.width);
            b2.0 = a2.0;
        }
        if a.1 == b.1 {
            a2.1 = self.snap(a.1, stroke.width);
            b2.1 = a2.1;
        }
        let mut pb = PathBuilder::new();
        pb.move_to(a2.0, a2.1);
        pb.line_to(b2.0, b2.1);
        self.stroke_path(pb.finish(), stroke, LineCap::Butt);
    }

    fn polyline(&mut self, pts: &[Pt], stroke: Stroke, _class: &str) {
        let mut pb = PathBuilder::new();
        for (i, p) in pts.iter().enumerate() {
            let (x, y) = self.dev(*p);
            if i == 0 {
                pb.move_to(x, y);
            } else {
                pb.line_to(x, y);
            }
        }
        self.stroke_path(pb.finish(), stroke, LineCap::Round);
    }

    fn rect(&mut self, at: Pt, size: Pt, paint: Paint, _class: &str) {
        let (x0, y0) = self.dev(at);
        let (x1, y1) = self.dev((at.0 + size.0, at.1 + size.1));
        if let Some(fill) = paint.fill {
            if let Some(r) =
                tiny_skia::Rect::from_ltrb(x0, y0, x1.max(x0 + 0.01), y1.max(y0 + 0.01))
            {
                self.fill_path(&PathBuilder::from_rect(r), fill);
            }
        }
        if let Some(s) = paint.stroke {
            let (l, t) = (self.snap(at.0, s.width), self.snap(at.1, s.width));
            let (r, b) = (
                self.snap(at.0 + size.0, s.width),
                self.snap(at.1 + size.1, s.width),
            );
            if let Some(rect) = tiny_skia::Rect::from_ltrb(l, t, r.max(l + 0.01), b.max(t + 0.01)) {
                self.stroke_path(Some(PathBuilder::from_rect(rect)), s, LineCap::Square);
            }
        }
    }

    fn circle(&mut self, c: Pt, r: f64, paint: Paint, _class: &str) {
        let (x, y) = self.dev(c);
        let path = PathBuilder::from_circle(x, y, (r * self.scale) as f32);
        if let (Some(fill), Some(p)) = (paint.fill, &path) {
            self.fill_path(p, fill);
        }
        if let Some(s) = paint.stroke {
            self.stroke_path(path, s, LineCap::Butt);
        }
    }

    fn text(&mut self, at: Pt, text: &str, style: TextStyle, _class: &str) {
        let Some(img) = TextImage::render(text, style.size * self.scale, style.color) else {
            return;
        };
        let shift = match style.anchor {
            Anchor::Start => 0.0,
            Anchor::Middle => img.width / 2.0,
            Anchor::End => img.width,
        };
        // Offset of the image's top-left corner from the anchor, unrotated.
        let (dx, dy) = (-(shift + img.pad), -(img.ascent + img.pad));
        let (x, y) = (at.0 * self.scale, at.1 * self.scale);
        let (iw, ih) = (
            f64::from(img.pixmap.width()),
            f64::from(img.pixmap.height()),
        );
        // Whole-pixel placement (and exact quarter turns) keep glyphs as
        // sharp as rasterised; other angles are resampled.
        if style.angle == 0.0 {
            self.blit(&img.pixmap, x + dx, y + dy);
        } else if style.angle == -90.0 {
            if let Some(p) = quarter_turn(&img.pixmap, false) {
                self.blit(&p, x + dy, y - (iw + dx));
            }
        } else if style.angle == 90.0 {
            if let Some(p) = quarter_turn(&img.pixmap, true) {
                self.blit(&p, x - (ih + dy), y + dx);
            }
        } else {
            let t = Transform::from_translate(x as f32, y as f32)
                .pre_rotate(style.angle as f32)
                .pre_translate(dx as f32, dy as f32);
            let paint = PixmapPaint {
                quality: FilterQuality::Bilinear,
                ..PixmapPaint::default()
            };
            self.pixmap
                .draw_pixmap(0, 0, img.pixmap.as_ref(), &paint, t, None);
        }
    }
}

impl RasterCanvas {
    /// Draws `src` with its top-left corner at the nearest whole pixel.
    fn blit(&mut self, src: &Pixmap, left: f64, top: f64) {
        let paint = PixmapPaint {
            quality: FilterQuality::Nearest,
            ..PixmapPaint::default()
        };
        let t = Transform::from_translate(left.round() as f32, top.round() as f32);
        self.pixmap.draw_pixmap(0, 0, src.as_ref(), &paint, t, None);
    }
}

/// `src` turned a quarter clockwise (`clockwise`) or counter-clockwise.
fn quarter_turn(src: &Pixmap, clockwise: bool) -> Option<Pixmap> {
    let (w, h) = (src.width() as usize, src.height() as usize);
    let mut dst = Pixmap::new(h as u32, w as u32)?;
    let from = src.data();
    let to = dst.data_mut();
    for v in 0..h {
        for u in 0..w {
            // Destination is h wide and w tall.
            let (dx, dy) = if clockwise {
                (h - 1 - v, u)
            } else {
                (v, w - 1 - u)
            };
            let (s, d) = ((v * w + u) * 4, (dy * h + dx) * 4);
            to[d..d + 4].copy_from_slice(&from[s..s + 4]);
        }
    }
    Some(dst)
}

/// One line of text rasterised into its own premultiplied pixmap, with the
/// baseline origin at `(pad, pad + ascent)`.
struct TextImage {
    pixmap: Pixmap,
    width: f64,
    ascent: f64,
    pad: f64,
}

impl TextImage {
    fn render(text: &str, size: f64, color: Rgba) -> Option<Self> {
        let f = font()?;
        let (pad, ascent, descent) = (2.0, size.ceil(), (size * 0.3).ceil());
        let width = text_width(text, size);
        let (w, h) = (
            (width + 2.0 * pad).ceil() as u32,
            (ascent + descent + 2.0 * pad) as u32,
        );
        let mut coverage = vec![0f32; (w * h) as usize];
        let scale = px_scale(f, size);
        for (id, gx) in layout_glyphs(f, text, size) {
            let glyph =
                id.with_scale_and_position(scale, point(pad as f32 + gx, (pad + ascent) as f32));
            if let Some(outlined) = f.outline_glyph(glyph) {
                let b = outlined.px_bounds();
                outlined.draw(|x, y, c| {
                    let (px, py) = (b.min.x as i64 + i64::from(x), b.min.y as i64 + i64::from(y));
                    if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                        let cell = &mut coverage[(py as u32 * w + px as u32) as usize];
                        *cell = (*cell + c).min(1.0);
                    }
                });
            }
        }
        let mut pixmap = Pixmap::new(w.max(1), h.max(1))?;
        for (px, cov) in pixmap.data_mut().chunks_exact_mut(4).zip(&coverage) {
            let a = (f64::from(*cov) * color.a * 255.0).round() as u32;
            let pre = |c: u8| ((u32::from(c) * a + 127) / 255) as u8;
            px.copy_from_slice(&[pre(color.r), pre(color.g), pre(color.b), a as u8]);
        }
        Some(TextImage {
            pixmap,
            width,
            ascent,
            pad,
        })
    }
}
