//! The canvas abstraction exists so that a figure is drawn by one piece of
//! code (`render`) into either back-end (SVG text or a tiny-skia pixmap):
//! both outputs then always show the same thing.

/// An sRGB colour with opacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgba {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
    /// Opacity in `0..=1`.
    pub a: f64,
}

impl Rgba {
    /// An opaque colour from `0xRRGGBB`.
    pub const fn hex(rgb: u32) -> Self {
        Rgba {
            r: (rgb >> 16) as u8,
            g: (rgb >> 8) as u8,
            b: rgb as u8,
            a: 1.0,
        }
    }

    /// The same colour with opacity `a`.
    pub fn with_alpha(self, a: f64) -> Self {
        Rgba {
            a: a.clamp(0.0, 1.0),
            ..self
        }
    }

    /// `#rrggbb` notation.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

/// A point in pixels.
pub(crate) type Pt = (f64, f64);

/// A line style.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stroke {
    pub color: Rgba,
    pub width: f64,
}

impl Stroke {
    pub fn new(color: Rgba, width: f64) -> Self {
        Stroke { color, width }
    }
}

/// Fill and outline of a closed shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Paint {
    pub fill: Option<Rgba>,
    pub stroke: Option<Stroke>,
}

/// Horizontal alignment of text relative to its anchor point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Anchor {
    Start,
    Middle,
    End,
}

/// How text is drawn; the anchor point is on the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TextStyle {
    pub size: f64,
    pub color: Rgba,
    pub anchor: Anchor,
    /// Clockwise rotation in degrees about the anchor point (SVG convention).
    pub angle: f64,
}

/// A drawing surface; `class` names the element for SVG consumers and is
/// ignored by raster back-ends.
pub(crate) trait Canvas {
    /// Opens a group with a class and extra `data-` style attributes.
    fn group_start(&mut self, class: &str, attrs: &[(&str, String)]);
    /// Closes the innermost group.
    fn group_end(&mut self);
    /// A straight segment.
    fn line(&mut self, a: Pt, b: Pt, stroke: Stroke, class: &str);
    /// An open polyline.
    fn polyline(&mut self, pts: &[Pt], stroke: Stroke, class: &str);
    /// An axis-aligned rectangle with top-left corner `at`.
    fn rect(&mut self, at: Pt, size: Pt, paint: Paint, class: &str);
    /// A circle.
    fn circle(&mut self, c: Pt, r: f64, paint: Paint, class: &str);
    /// Text whose baseline anchor is `at`.
    fn text(&mut self, at: Pt, text: &str, style: TextStyle, class: &str);
}

/// Okabe–Ito colour-blind-safe palette, with yellow moved late as it is
/// hard to see on white.
const OKABE_ITO: [u32; 8] = [
    0x0072B2, 0xE69F00, 0x009E73, 0xD55E00, 0x56B4E9, 0xCC79A7, 0xF0E442, 0x000000,
];

/// Matplotlib's tab10, used when there are more groups than Okabe–Ito has.
const TAB10: [u32; 10] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22,
    0x17becf,
];

/// Colour of group `i` out of `n`: Okabe–Ito for up to eight groups, tab10
/// beyond (cycling after ten).
pub fn group_color(i: usize, n: usize) -> Rgba {
    if n <= OKABE_ITO.len() {
        Rgba::hex(OKABE_ITO[i % OKABE_ITO.len()])
    } else {
        Rgba::hex(TAB10[i % TAB10.len()])
    }
}
