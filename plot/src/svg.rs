//! The SVG back-end exists to produce a text figure that is scalable,
//! diffable and structurally testable: panes, marks and legend entries are
//! groups and elements with classes.

use std::fmt::Write;

use crate::canvas::{Anchor, Canvas, Paint, Pt, Rgba, Stroke, TextStyle};
use crate::font::FONT_FAMILY;

/// Accumulates SVG markup.
pub(crate) struct SvgCanvas {
    out: String,
}

impl SvgCanvas {
    /// Starts a document of the given pixel size.
    pub fn new(width: f64, height: f64) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT_FAMILY}">"#,
            w = num(width),
            h = num(height),
        );
        out.push('\n');
        SvgCanvas { out }
    }

    /// Closes the document and returns it.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }

    fn class_attr(class: &str) -> String {
        if class.is_empty() {
            String::new()
        } else {
            format!(r#" class="{}""#, escape(class))
        }
    }
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(v: f64) -> String {
    let s = format!("{:.2}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" || s.is_empty() {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Escapes the XML special characters.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn color_attrs(name: &str, c: Rgba) -> String {
    if c.a >= 1.0 {
        format!(r#" {name}="{}""#, c.to_hex())
    } else {
        format!(
            r#" {name}="{}" {name}-opacity="{}""#,
            c.to_hex(),
            num_alpha(c.a)
        )
    }
}

fn num_alpha(a: f64) -> String {
    let s = format!("{:.3}", a);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn stroke_attrs(s: Stroke) -> String {
    format!(
        r#"{} stroke-width="{}""#,
        color_attrs("stroke", s.color),
        num(s.width)
    )
}

fn paint_attrs(p: Paint) -> String {
    let fill = p
        .fill
        .map_or_else(|| r#" fill="none""#.to_string(), |c| color_attrs("fill", c));
    fill + &p.stroke.map_or_else(String::new, stroke_attrs)
}

impl Canvas for SvgCanvas {
    fn group_start(&mut self, class: &str, attrs: &[(&str, String)]) {
        let extra: String = attrs
            .iter()
            .map(|(k, v)| format!(r#" {}="{}""#, escape(k), escape(v)))
            .collect();
        let _ = writeln!(self.out, "<g{}{}>", Self::class_attr(class), extra);
    }

    fn group_end(&mut self) {
        self.out.push_str("</g>\n");
    }

    fn line(&mut self, a: Pt, b: Pt, stroke: Stroke, class: &str) {
        let _ = writeln!(
            self.out,
            r#"<line{} x1="{}" y1="{}" x2="{}" y2="{}"{}/>"#,
            Self::class_attr(class),
            num(a.0),
            num(a.1),
            num(b.0),
            num(b.1),
            stroke_attrs(stroke)
        );
    }

    fn polyline(&mut self, pts: &[Pt], stroke: Stroke, class: &str) {
        let points: Vec<String> = pts
            .iter()
            .map(|p| format!("{},{}", num(p.0), num(p.1)))
            .collect();
        let _ = writeln!(
            self.out,
            r#"<polyline{} points="{}" fill="none" stroke-linejoin="round"{}/>"#,
            Self::class_attr(class),
            points.join(" "),
            stroke_attrs(stroke)
        );
    }

    fn rect(&mut self, at: Pt, size: Pt, paint: Paint, class: &str) {
        let _ = writeln!(
            self.out,
            r#"<rect{} x="{}" y="{}" width="{}" height="{}"{}/>"#,
            Self::class_attr(class),
            num(at.0),
            num(at.1),
            num(size.0.max(0.0)),
            num(size.1.max(0.0)),
            paint_attrs(paint)
        );
    }

    fn circle(&mut self, c: Pt, r: f64, paint: Paint, class: &str) {
        let _ = writeln!(
            self.out,
            r#"<circle{} cx="{}" cy="{}" r="{}"{}/>"#,
            Self::class_attr(class),
            num(c.0),
            num(c.1),
            num(r),
            paint_attrs(paint)
        );
    }

    fn text(&mut self, at: Pt, text: &str, style: TextStyle, class: &str) {
        let anchor = match style.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        };
        let rotate = if style.angle == 0.0 {
            String::new()
        } else {
            format!(
                r#" transform="rotate({} {} {})""#,
                num(style.angle),
                num(at.0),
                num(at.1)
            )
        };
        let _ = writeln!(
            self.out,
            r#"<text{} x="{}" y="{}" font-size="{}" text-anchor="{anchor}"{}{}>{}</text>"#,
            Self::class_attr(class),
            num(at.0),
            num(at.1),
            num(style.size),
            color_attrs("fill", style.color),
            rotate,
            escape(text)
        );
    }
}
