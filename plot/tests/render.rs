//! Output tests: SVG structure (classes, groups, escaping) and PNG validity
//! (signature, IHDR size, non-blank plotting area).

mod common;

use common::{count, faceted, num, table, text};
use trustql_plot::{layout, Kind, PlotSpec};

#[test]
fn svg_has_panes_marks_and_legend_entries() {
    let t = faceted(4);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    s.color = Some("engine".into());
    s.facet_row = Some("dataset".into());
    s.facet_col = Some("threads".into());
    s.fit = true;
    s.title = Some("Fits".into());
    let svg = layout(&t, &s).unwrap().to_svg();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(count(&svg, r#"class="pane""#), 6);
    assert!(svg.contains(r#"<g class="pane" data-row="1" data-col="2">"#));
    assert_eq!(count(&svg, r#"class="point""#), 2 * 3 * 3 * 4);
    assert_eq!(count(&svg, r#"class="fit""#), 6 * 3);
    assert_eq!(count(&svg, r#"<g class="legend-entry">"#), 3);
    assert_eq!(count(&svg, r#"class="strip""#), 3 + 2);
    assert!(svg.contains(">dataset = lastfm</text>") && svg.contains(">threads = 16</text>"));
    assert!(svg.contains(r#"font-family="DejaVu Sans, Verdana, sans-serif""#));
}

#[test]
fn svg_mark_classes_per_kind() {
    let t = table(vec![
        ("c", text(&["a", "a", "b", "b", "c"])),
        ("v", num(&[1.0, 2.0, 3.0, 4.0, 5.0])),
        ("lo", num(&[0.5, 1.5, 2.5, 3.5, 4.5])),
        ("hi", num(&[1.5, 2.5, 3.5, 4.5, 5.5])),
    ]);
    let svg = |kind: Kind| {
        let mut s = PlotSpec::new(kind, "c", "v");
        if kind == Kind::ErrorBar {
            (s.lower, s.upper) = (Some("lo".into()), Some("hi".into()));
        }
        layout(&t, &s).unwrap().to_svg()
    };
    assert_eq!(count(&svg(Kind::Box), r#"<g class="box">"#), 3);
    assert_eq!(count(&svg(Kind::Bar), r#"class="bar""#), 3);
    assert_eq!(count(&svg(Kind::ErrorBar), r#"<g class="errorbar">"#), 5);
    let line = svg(Kind::Line);
    assert_eq!(count(&line, r#"class="line""#), 1);
    assert_eq!(count(&line, r#"class="marker""#), 5);
}

#[test]
fn svg_escapes_text() {
    let t = table(vec![
        ("x", num(&[1.0, 2.0])),
        ("y<&>", num(&[1.0, 2.0])),
        ("g", text(&["a&b", "<c>"])),
    ]);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y<&>");
    s.color = Some("g".into());
    s.title = Some(r#"Title "quoted" & 'single'"#.into());
    let svg = layout(&t, &s).unwrap().to_svg();
    assert!(svg.contains("y&lt;&amp;&gt;"));
    assert!(svg.contains("a&amp;b") && svg.contains("&lt;c&gt;"));
    assert!(svg.contains("Title &quot;quoted&quot; &amp; &apos;single&apos;"));
    assert!(!svg.contains("<c>") && !svg.contains("a&b"));
}

fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
    (be(16), be(20))
}

#[test]
fn png_decodes_with_the_figure_size_and_is_not_blank() {
    let t = faceted(3);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    s.color = Some("engine".into());
    s.facet_col = Some("dataset".into());
    s.width = Some(700);
    s.height = Some(400);
    let fig = layout(&t, &s).unwrap();
    assert_eq!(fig.size(), (700, 400));
    let png = fig.to_png().unwrap();
    assert_eq!(png_size(&png), (700, 400));
    let pixmap = tiny_skia::Pixmap::decode_png(&png).unwrap();
    let [x, y, w, h] = fig.pane_rect(0).unwrap();
    let mut inked = 0;
    for py in (y as u32 + 2)..((y + h) as u32 - 2) {
        for px in (x as u32 + 2)..((x + w) as u32 - 2) {
            let c = pixmap.pixel(px, py).unwrap();
            if c.red() < 200 || c.green() < 200 || c.blue() < 200 {
                inked += 1;
            }
        }
    }
    assert!(inked > 50, "only {inked} dark pixels in the first pane");
    // Corner of the figure is white background.
    let corner = pixmap.pixel(1, 1).unwrap();
    assert_eq!(
        (corner.red(), corner.green(), corner.blue(), corner.alpha()),
        (255, 255, 255, 255)
    );

    let png2 = fig.to_png_scaled(2.0).unwrap();
    assert_eq!(png_size(&png2), (1400, 800));
    assert!(fig.to_png_scaled(0.0).is_err());
}

#[test]
fn too_small_a_figure_is_an_error() {
    let t = faceted(1);
    let mut s = PlotSpec::new(Kind::Scatter, "x", "y");
    s.facet_col = Some("threads".into());
    s.width = Some(150);
    let err = layout(&t, &s).unwrap_err().to_string();
    assert!(err.contains("too small"), "{err}");
}
