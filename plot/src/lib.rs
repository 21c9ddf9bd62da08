//! trustql-plot exists so that analysts can turn a query result table into
//! a publication-quality figure without leaving the engine: a small,
//! dependency-light take on ggplot's `facet_grid` that lays out scatter,
//! line, box, bar and error-bar plots with nice ticks, facet strips and a
//! legend, and renders them to SVG and PNG from one drawing routine.
//!
//! ```
//! use trustql_plot::{layout, Column, Kind, PlotSpec, Table};
//!
//! let mut t = Table::new();
//! t.push("n", Column::Num(vec![Some(1.0), Some(2.0), Some(3.0)])).unwrap();
//! t.push("ms", Column::Num(vec![Some(10.0), Some(19.0), Some(31.0)])).unwrap();
//! let fig = layout(&t, &PlotSpec::new(Kind::Scatter, "n", "ms")).unwrap();
//! assert_eq!(fig.panes()[0].marks, 3);
//! assert!(fig.to_svg().contains(r#"class="point""#));
//! ```
//!
//! Conventions:
//! - Text x columns (and every x column of box and bar plots) are
//!   categorical; text categories keep their order of first appearance,
//!   numeric ones are sorted ascending.
//! - Colour and facet groups: numbers sorted ascending, text in order of
//!   first appearance.
//! - Rows with NULL, NaN or infinite values in any plotted column, or
//!   non-positive values on a log axis, are skipped and reported by
//!   [`Figure::skipped`].
//! - Statistics (box quartiles, fits) are computed in axis space, i.e. on
//!   log10 values of a log axis; bar heights are means of the data values.
//! - Facet scales follow `facet_grid`: by default every pane shares one x
//!   and one y axis. With [`PlotSpec::free_x`] each facet column gets its own
//!   x range and ticks, computed from that column's panes (`scales =
//!   "free_x"`); on a categorical axis a column shows only the categories
//!   present in it, and boxes, bars and error bars are dodged per column.
//!   With [`PlotSpec::free_y`] each facet row gets its own y range and ticks
//!   (`"free_y"`); set both for `"free"`. Panes of one column (row) still
//!   share their x (y) axis, so x tick labels stay under the bottom row and
//!   y tick labels left of the first column. [`Figure::x_axis_of_col`],
//!   [`Figure::y_axis_of_row`] and each [`Pane`]'s ranges report the axes
//!   actually used; [`Figure::x_axis`] and [`Figure::y_axis`] are those of
//!   the first column and row.

mod canvas;
mod error;
mod figure;
mod font;
mod geometry;
mod marks;
mod prepare;
mod raster;
mod render;
mod scale;
mod spec;
pub mod stats;
mod svg;
mod table;
pub mod ticks;

pub use canvas::{group_color, Rgba};
pub use error::PlotError;
pub use figure::{layout, Axis, Figure, LegendEntry, Pane};
pub use marks::Mark;
pub use prepare::{SkipReason, Skipped};
pub use scale::Scale;
pub use spec::{Kind, PlotSpec};
pub use table::{Column, Table};

impl Figure {
    /// Renders the figure as an SVG document.
    pub fn to_svg(&self) -> String {
        let (w, h) = self.geo.size;
        let mut canvas = svg::SvgCanvas::new(w, h);
        render::render(self, &mut canvas);
        canvas.finish()
    }

    /// Renders the figure as a PNG image at its pixel size.
    pub fn to_png(&self) -> Result<Vec<u8>, PlotError> {
        self.to_png_scaled(1.0)
    }

    /// Renders the figure as a PNG image with `scale` device pixels per
    /// figure pixel (2.0 for high-DPI screens and print), between 0.1 and 10.
    pub fn to_png_scaled(&self, scale: f64) -> Result<Vec<u8>, PlotError> {
        if !(0.1..=10.0).contains(&scale) {
            return Err(PlotError::InvalidSpec(format!(
                "PNG scale must be between 0.1 and 10, got {scale}"
            )));
        }
        let (w, h) = self.geo.size;
        let mut canvas = raster::RasterCanvas::new(w, h, scale)?;
        render::render(self, &mut canvas);
        canvas.encode()
    }
}
