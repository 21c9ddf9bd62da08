//! The table exists so that callers (the SQL engine, tests, examples) can hand
//! the plotter a result set without the plotter depending on Arrow: a list of
//! named, equally long columns of nullable numbers or strings.

use crate::PlotError;

/// One column of a [`Table`]; `None` is SQL NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numeric values (integers are passed as `f64`).
    Num(Vec<Option<f64>>),
    /// Text values.
    Text(Vec<Option<String>>),
}

impl Column {
    /// Number of rows in the column.
    pub fn len(&self) -> usize {
        match self {
            Column::Num(v) => v.len(),
            Column::Text(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A short name of the column's type, used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Column::Num(_) => "numeric",
            Column::Text(_) => "text",
        }
    }
}

/// Named columns of equal length, in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    columns: Vec<(String, Column)>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a column; fails if the name exists or the length differs from
    /// the columns already present.
    pub fn push(&mut self, name: &str, col: Column) -> Result<(), PlotError> {
        if self.columns.iter().any(|(n, _)| n == name) {
            return Err(PlotError::DuplicateColumn(name.to_string()));
        }
        if let Some((_, first)) = self.columns.first() {
            if first.len() != col.len() {
                return Err(PlotError::LengthMismatch {
                    name: name.to_string(),
                    len: col.len(),
                    expected: first.len(),
                });
            }
        }
        self.columns.push((name.to_string(), col));
        Ok(())
    }

    /// Number of rows (0 for a table without columns).
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column names in insertion order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|(n, _)| n.as_str())
    }

    /// Looks a column up by name; the error lists the available columns.
    pub fn column(&self, name: &str) -> Result<&Column, PlotError> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| PlotError::UnknownColumn {
                name: name.to_string(),
                available: self.names().collect::<Vec<_>>().join(", "),
            })
    }
}
