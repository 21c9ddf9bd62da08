//! Errors exist so that every way a plot request can be wrong (a missing
//! column, a text column where numbers are needed, nothing left to draw)
//! reaches the caller as a message an analyst can act on, never as a panic.

use thiserror::Error;

/// Everything that can go wrong while building or rendering a figure.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum PlotError {
    /// A spec names a column the table does not have.
    #[error("unknown column `{name}`; available columns: {available}")]
    UnknownColumn {
        /// The requested column name.
        name: String,
        /// Comma-separated list of the table's columns.
        available: String,
    },
    /// A column pushed into a table has a different length from the others.
    #[error("column `{name}` has {len} rows but the table has {expected}")]
    LengthMismatch {
        /// The offending column.
        name: String,
        /// Its length.
        len: usize,
        /// The table's length.
        expected: usize,
    },
    /// A column name was pushed twice.
    #[error("column `{0}` already exists in the table")]
    DuplicateColumn(String),
    /// A plot kind string was not recognised.
    #[error("unknown plot kind `{0}`; expected one of: scatter, line, box, bar, errorbar")]
    UnknownKind(String),
    /// A column that must be numeric is not.
    #[error("the {role} column `{name}` must be numeric but is {found}")]
    NotNumeric {
        /// Which role the column plays (x, y, lower, upper).
        role: &'static str,
        /// The column name.
        name: String,
        /// The column's actual type.
        found: &'static str,
    },
    /// The spec combines options that do not fit together.
    #[error("invalid plot spec: {0}")]
    InvalidSpec(String),
    /// Every row was skipped, so there is nothing to draw.
    #[error("nothing to plot: all {rows} rows were skipped ({reasons})")]
    NothingToPlot {
        /// Number of rows in the table.
        rows: usize,
        /// Human-readable summary of why rows were skipped.
        reasons: String,
    },
    /// The PNG back-end failed (pixmap allocation or encoding).
    #[error("PNG rendering failed: {0}")]
    Png(String),
}
