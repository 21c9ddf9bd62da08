//! Data preparation exists so that all row filtering happens in one place:
//! it resolves the spec's columns, drops rows that cannot be drawn (NULL,
//! NaN/infinite, non-positive on a log axis) while counting why, and turns
//! the remaining rows into axis-space numbers and group indices.

use std::collections::HashMap;
use std::fmt;

use crate::ticks::format_number;
use crate::{Column, Kind, PlotError, PlotSpec, Table};

/// Why rows were left out of a figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The value was NULL.
    Null,
    /// The value was NaN or infinite.
    NonFinite,
    /// The value was zero or negative on a log axis.
    NonPositiveOnLogAxis,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Null => "NULL",
            SkipReason::NonFinite => "NaN or infinite",
            SkipReason::NonPositiveOnLogAxis => "not positive on a log axis",
        })
    }
}

/// Rows skipped because of one column and one reason. Each skipped row is
/// counted once, against the first offending column in the order x, y,
/// lower, upper, color, facet_row, facet_col.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The column whose value caused the skip.
    pub column: String,
    /// Why.
    pub reason: SkipReason,
    /// How many rows.
    pub rows: usize,
}

/// Distinct values of a grouping column and each kept row's group.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Levels {
    pub name: String,
    pub labels: Vec<String>,
    pub index: Vec<usize>,
}

/// The kept rows in axis space (log10 applied, categories as indices).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub x: Vec<f64>,
    pub x_categories: Option<Vec<String>>,
    pub y: Vec<f64>,
    pub y_raw: Vec<f64>,
    pub log_y: bool,
    pub interval: Option<(Vec<f64>, Vec<f64>)>,
    pub color: Option<Levels>,
    pub facet_row: Option<Levels>,
    pub facet_col: Option<Levels>,
    pub skipped: Vec<Skipped>,
}

/// One column playing one role in the spec.
struct Role<'a> {
    name: &'a str,
    col: &'a Column,
    log: bool,
}

/// Checks the spec against the table and prepares the rows to draw.
pub(crate) fn prepare(table: &Table, spec: &PlotSpec) -> Result<Prepared, PlotError> {
    validate_options(spec)?;
    let x_col = table.column(&spec.x)?;
    let y_col = numeric(table, &spec.y, "y")?;
    let interval = match (&spec.lower, &spec.upper) {
        (Some(l), Some(u)) => Some((numeric(table, l, "lower")?, numeric(table, u, "upper")?)),
        _ => None,
    };
    let optional = |name: &Option<String>| name.as_deref().map(|n| table.column(n)).transpose();
    let (color, frow, fcol) = (
        optional(&spec.color)?,
        optional(&spec.facet_row)?,
        optional(&spec.facet_col)?,
    );
    let categorical =
        matches!(x_col, Column::Text(_)) || matches!(spec.kind, Kind::Box | Kind::Bar);
    if categorical && spec.log_x {
        return Err(PlotError::InvalidSpec(format!(
            "log_x needs a numeric x axis, but x `{}` is categorical for a {} plot",
            spec.x, spec.kind
        )));
    }
    if categorical && spec.fit {
        return Err(PlotError::InvalidSpec(format!(
            "fit needs a numeric x column, but `{}` is {}",
            spec.x,
            x_col.type_name()
        )));
    }

    let mut roles = vec![Role {
        name: &spec.x,
        col: x_col,
        log: spec.log_x,
    }];
    roles.push(Role {
        name: &spec.y,
        col: y_col,
        log: spec.log_y,
    });
    if let (Some((l, u)), Some(ln), Some(un)) = (interval, &spec.lower, &spec.upper) {
        roles.push(Role {
            name: ln,
            col: l,
            log: spec.log_y,
        });
        roles.push(Role {
            name: un,
            col: u,
            log: spec.log_y,
        });
    }
    for (name, col) in [
        (&spec.color, color),
        (&spec.facet_row, frow),
        (&spec.facet_col, fcol),
    ] {
        if let (Some(name), Some(col)) = (name, col) {
            roles.push(Role {
                name,
                col,
                log: false,
            });
        }
    }
    let (kept, skipped) = filter_rows(table.len(), &roles);
    if kept.is_empty() {
        return Err(nothing_to_plot(table.len(), &skipped));
    }

    let axis_values = |col: &Column, log: bool| -> Vec<f64> {
        kept.iter()
            .map(|&i| {
                let v = num_at(col, i);
                if log {
                    v.log10()
                } else {
                    v
                }
            })
            .collect()
    };
    let (x, x_categories) = if categorical {
        let lv = levels(&spec.x, x_col, &kept);
        (
            lv.index.iter().map(|&i| i as f64).collect(),
            Some(lv.labels),
        )
    } else {
        (axis_values(x_col, spec.log_x), None)
    };
    let group = |name: &Option<String>, col: Option<&Column>| match (name, col) {
        (Some(n), Some(c)) => Some(levels(n, c, &kept)),
        _ => None,
    };
    Ok(Prepared {
        x,
        x_categories,
        y: axis_values(y_col, spec.log_y),
        y_raw: axis_values(y_col, false),
        log_y: spec.log_y,
        interval: interval.map(|(l, u)| (axis_values(l, spec.log_y), axis_values(u, spec.log_y))),
        color: group(&spec.color, color),
        facet_row: group(&spec.facet_row, frow),
        facet_col: group(&spec.facet_col, fcol),
        skipped,
    })
}

/// Rejects option combinations that cannot be drawn.
fn validate_options(spec: &PlotSpec) -> Result<(), PlotError> {
    let has_interval = spec.lower.is_some() || spec.upper.is_some();
    let invalid = |m: String| Err(PlotError::InvalidSpec(m));
    if spec.kind == Kind::ErrorBar && (spec.lower.is_none() || spec.upper.is_none()) {
        return invalid("an errorbar plot needs both `lower` and `upper` columns".into());
    }
    if spec.kind != Kind::ErrorBar && has_interval {
        return invalid(format!(
            "`lower`/`upper` only apply to errorbar plots, not {}",
            spec.kind
        ));
    }
    if spec.fit && !matches!(spec.kind, Kind::Scatter | Kind::Line) {
        return invalid(format!(
            "fit applies to scatter and line plots, not {}",
            spec.kind
        ));
    }
    if let Some(a) = spec.alpha {
        if !(0.0..=1.0).contains(&a) {
            return invalid(format!("alpha must be between 0 and 1, got {a}"));
        }
    }
    if let Some(p) = spec.point_size {
        if !(p.is_finite() && p > 0.0) {
            return invalid(format!("point_size must be positive, got {p}"));
        }
    }
    Ok(())
}

/// Looks up a column that must be numeric.
fn numeric<'a>(table: &'a Table, name: &str, role: &'static str) -> Result<&'a Column, PlotError> {
    let col = table.column(name)?;
    match col {
        Column::Num(_) => Ok(col),
        Column::Text(_) => Err(PlotError::NotNumeric {
            role,
            name: name.to_string(),
            found: col.type_name(),
        }),
    }
}

/// Splits row indices into kept rows and per-column skip counts.
fn filter_rows(n: usize, roles: &[Role<'_>]) -> (Vec<usize>, Vec<Skipped>) {
    let mut kept = Vec::with_capacity(n);
    let mut skipped: Vec<Skipped> = Vec::new();
    for i in 0..n {
        let bad = roles
            .iter()
            .find_map(|r| check_cell(r.col, i, r.log).err().map(|why| (r.name, why)));
        match bad {
            None => kept.push(i),
            Some((column, reason)) => {
                match skipped
                    .iter_mut()
                    .find(|s| s.column == column && s.reason == reason)
                {
                    Some(s) => s.rows += 1,
                    None => skipped.push(Skipped {
                        column: column.to_string(),
                        reason,
                        rows: 1,
                    }),
                }
            }
        }
    }
    (kept, skipped)
}

fn check_cell(col: &Column, i: usize, log: bool) -> Result<(), SkipReason> {
    match col {
        Column::Num(v) => match v.get(i).copied().flatten() {
            None => Err(SkipReason::Null),
            Some(x) if !x.is_finite() => Err(SkipReason::NonFinite),
            Some(x) if log && x <= 0.0 => Err(SkipReason::NonPositiveOnLogAxis),
            Some(_) => Ok(()),
        },
        Column::Text(v) => match v.get(i) {
            Some(Some(_)) => Ok(()),
            _ => Err(SkipReason::Null),
        },
    }
}

/// The numeric value of a row already checked by [`check_cell`].
fn num_at(col: &Column, i: usize) -> f64 {
    match col {
        Column::Num(v) => v.get(i).copied().flatten().unwrap_or(f64::NAN),
        Column::Text(_) => f64::NAN,
    }
}

fn nothing_to_plot(rows: usize, skipped: &[Skipped]) -> PlotError {
    let reasons = skipped
        .iter()
        .map(|s| format!("{} in `{}`: {} rows", s.reason, s.column, s.rows))
        .collect::<Vec<_>>()
        .join("; ");
    PlotError::NothingToPlot {
        rows,
        reasons: if reasons.is_empty() {
            "the table is empty".into()
        } else {
            reasons
        },
    }
}

/// Distinct values of `col` over the kept rows: numbers sorted ascending and
/// formatted cleanly, text in order of first appearance.
fn levels(name: &str, col: &Column, kept: &[usize]) -> Levels {
    let (labels, index) = match col {
        Column::Num(_) => {
            // Adding 0.0 turns -0.0 into 0.0 so they form one group.
            let vals: Vec<f64> = kept.iter().map(|&i| num_at(col, i) + 0.0).collect();
            let mut distinct = vals.clone();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            let index = vals
                .iter()
                .map(|v| distinct.binary_search_by(|d| d.total_cmp(v)).unwrap_or(0))
                .collect();
            (distinct.into_iter().map(format_number).collect(), index)
        }
        Column::Text(v) => {
            let mut labels: Vec<String> = Vec::new();
            let mut seen: HashMap<&str, usize> = HashMap::new();
            let index = kept
                .iter()
                .map(|&i| {
                    let s = v.get(i).and_then(|s| s.as_deref()).unwrap_or("");
                    *seen.entry(s).or_insert_with(|| {
                        labels.push(s.to_string());
                        labels.len() - 1
                    })
                })
                .collect();
            (labels, index)
        }
    };
    Levels {
        name: name.to_string(),
        labels,
        index,
    }
}
