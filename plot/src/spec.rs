//! The spec exists so that a plot request is one plain value (kind, column
//! roles, axis options, size) that the SQL layer can fill from user input and
//! that [`crate::layout`] can validate in one place.

use std::fmt;
use std::str::FromStr;

use crate::PlotError;

/// The kind of mark drawn for the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One circle per row.
    Scatter,
    /// Per colour group and pane, points sorted by x and joined.
    Line,
    /// Box-and-whisker summary per x category and colour group.
    Box,
    /// Bar of the mean y per x category and colour group.
    Bar,
    /// Per row, a point with a vertical `lower..upper` interval.
    ErrorBar,
}

impl Kind {
    /// The lower-case name accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Kind::Scatter => "scatter",
            Kind::Line => "line",
            Kind::Box => "box",
            Kind::Bar => "bar",
            Kind::ErrorBar => "errorbar",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = PlotError;

    /// Parses `scatter`, `line`, `box`, `bar` or `errorbar`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scatter" => Ok(Kind::Scatter),
            "line" => Ok(Kind::Line),
            "box" => Ok(Kind::Box),
            "bar" => Ok(Kind::Bar),
            "errorbar" => Ok(Kind::ErrorBar),
            _ => Err(PlotError::UnknownKind(s.to_string())),
        }
    }
}

/// What to plot and how; build with [`PlotSpec::new`] and set fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    /// Mark kind.
    pub kind: Kind,
    /// Column on the horizontal axis (numeric or text).
    pub x: String,
    /// Column on the vertical axis (numeric).
    pub y: String,
    /// Column whose distinct values get distinct colours and legend entries.
    pub color: Option<String>,
    /// Column whose distinct values form the rows of the facet grid.
    pub facet_row: Option<String>,
    /// Column whose distinct values form the columns of the facet grid.
    pub facet_col: Option<String>,
    /// Lower end of the interval (required for, and only allowed with, `ErrorBar`).
    pub lower: Option<String>,
    /// Upper end of the interval (required for, and only allowed with, `ErrorBar`).
    pub upper: Option<String>,
    /// Free x scales per facet column (ggplot's `scales = "free_x"`): each
    /// column of the facet grid gets its own x range and ticks, computed from
    /// the panes of that column; panes in one column share them. On a
    /// categorical axis each column shows only its own categories.
    pub free_x: bool,
    /// Free y scales per facet row (ggplot's `scales = "free_y"`): each row
    /// of the facet grid gets its own y range and ticks, computed from the
    /// panes of that row; panes in one row share them.
    pub free_y: bool,
    /// Log10 horizontal axis (numeric x only).
    pub log_x: bool,
    /// Log10 vertical axis.
    pub log_y: bool,
    /// Draw a least-squares line per colour group per pane (scatter and line
    /// with numeric x). The fit is done in axis space: on log10 values of a
    /// log axis, so it is always a straight line on the figure.
    pub fit: bool,
    /// Figure title at the top.
    pub title: Option<String>,
    /// Horizontal axis title (defaults to the x column name).
    pub x_label: Option<String>,
    /// Vertical axis title (defaults to the y column name).
    pub y_label: Option<String>,
    /// Figure width in pixels (default: from the number of facet columns).
    pub width: Option<u32>,
    /// Figure height in pixels (default: from the number of facet rows).
    pub height: Option<u32>,
    /// Point radius in pixels (default 2.5).
    pub point_size: Option<f64>,
    /// Opacity of points, boxes and bars in `0..=1` (default 0.8 for
    /// scatter, 1 otherwise).
    pub alpha: Option<f64>,
}

impl PlotSpec {
    /// A spec with the given kind and axes and every option at its default.
    pub fn new(kind: Kind, x: &str, y: &str) -> Self {
        PlotSpec {
            kind,
            x: x.to_string(),
            y: y.to_string(),
            color: None,
            facet_row: None,
            facet_col: None,
            lower: None,
            upper: None,
            free_x: false,
            free_y: false,
            log_x: false,
            log_y: false,
            fit: false,
            title: None,
            x_label: None,
            y_label: None,
            width: None,
            height: None,
            point_size: None,
            alpha: None,
        }
    }
}
