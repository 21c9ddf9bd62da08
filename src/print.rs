//! Printing query results in the CLI's output formats.
//!
//! All formats print list values as `[a, b, ...]` inside a cell (Arrow's display format); CSV
//! has a header row and quotes cells that need it; JSON is one array of objects, NDJSON one object
//! per line, with lists as JSON arrays and structs as objects.
//!
//! Tables may be fitted to a width (the terminal's, by default, when the output is a terminal;
//! see [`MaxWidth`]), as duckdb's CLI does, instead of wrapping every line: a table that fits
//! is printed unchanged; otherwise the widest columns are cut to the same width, their values
//! ending in `…`, and when even that does not fit (no column narrower than
//! [`MIN_FITTED_WIDTH`]), columns from the middle are left out, shown as one `…` column, and a
//! note under the table names them. CSV, JSON, NDJSON and Markdown are never cut.

use std::io::{IsTerminal, Write};
use std::str::FromStr;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches_with_options;
use datafusion::error::{DataFusionError, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    NdJson,
    Markdown,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "ndjson" => Ok(Format::NdJson),
            "markdown" | "md" => Ok(Format::Markdown),
            _ => Err(format!(
                "unknown format '{s}': expected table, csv, json, ndjson or markdown"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::NdJson => "ndjson",
            Format::Markdown => "markdown",
        })
    }
}

fn io(e: std::io::Error) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

/// Keeps the first `max` rows of `batches`.
fn limit(batches: &[RecordBatch], max: Option<usize>) -> Vec<RecordBatch> {
    let Some(mut left) = max else {
        return batches.to_vec();
    };
    let mut out = Vec::new();
    for b in batches {
        if left == 0 {
            break;
        }
        let n = b.num_rows().min(left);
        out.push(b.slice(0, n));
        left -= n;
    }
    out
}

/// Prints `batches` (with `schema`, used when there are no rows) in `format`, at most `max_rows`
/// rows, at full width; returns the number of rows printed.
pub fn print_batches(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    max_rows: Option<usize>,
) -> Result<usize> {
    print_batches_within(out, schema, batches, format, max_rows, None)
}

/// Prints like [`print_batches`], fitting a table into `max_width` columns (`None`: no limit).
pub fn print_batches_within(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    max_rows: Option<usize>,
    max_width: Option<usize>,
) -> Result<usize> {
    let total: usize = batches.iter().map(|b| b.num_rows()).sum();
    let shown = limit(batches, max_rows);
    let shown_rows: usize = shown.iter().map(|b| b.num_rows()).sum();
    if schema.fields().is_empty() {
        return Ok(0);
    }
    match format {
        Format::Table => {
            let opts = FormatOptions::default().with_null("NULL");
            let text = if shown.is_empty() {
                let empty = RecordBatch::new_empty(schema.clone());
                pretty_format_batches_with_options(&[empty], &opts)?
            } else {
                pretty_format_batches_with_options(&shown, &opts)?
            }
            .to_string();
            // The first line is the top border, as wide as the table.
            let width = text.lines().next().map_or(0, display_width);
            match max_width {
                Some(max) if width > max => {
                    let header: Vec<String> =
                        schema.fields().iter().map(|f| f.name().clone()).collect();
                    let mut rows = Vec::new();
                    for b in &shown {
                        rows.extend(cell_strings(b, "NULL")?);
                    }
                    let layout = fit_columns(&natural_widths(&header, &rows), max);
                    write!(out, "{}", render_table(&header, &rows, &layout)).map_err(io)?;
                    if let Some(note) = hidden_note(&header, &layout) {
                        writeln!(out, "{note}").map_err(io)?;
                    }
                }
                _ => writeln!(out, "{text}").map_err(io)?,
            }
            if shown_rows < total {
                writeln!(out, "({shown_rows} of {total} rows shown; see --maxrows)").map_err(io)?;
            }
        }
        Format::Csv => write_delimited(out, schema, &shown)?,
        Format::Markdown => write_markdown(out, schema, &shown)?,
        Format::Json => {
            let rows = json_rows(&shown)?;
            let text = serde_json::to_string(&rows)
                .map_err(|e| DataFusionError::Execution(e.to_string()))?;
            writeln!(out, "{text}").map_err(io)?;
        }
        Format::NdJson => {
            for row in json_rows(&shown)? {
                let text = serde_json::to_string(&row)
                    .map_err(|e| DataFusionError::Execution(e.to_string()))?;
                writeln!(out, "{text}").map_err(io)?;
            }
        }
    }
    Ok(shown_rows)
}

/// How wide tables may be printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxWidth {
    /// No limit.
    #[default]
    Unlimited,
    /// At most this many terminal columns.
    Columns(usize),
    /// The terminal's width when standard output is a terminal; no limit otherwise (a file or
    /// a pipe gets the whole table).
    Terminal,
}

impl MaxWidth {
    /// `n` columns, or no limit for 0.
    pub fn from_columns(n: usize) -> Self {
        if n == 0 {
            MaxWidth::Unlimited
        } else {
            MaxWidth::Columns(n)
        }
    }

    /// The limit now, in terminal columns (`None`: no limit).
    pub fn columns(self) -> Option<usize> {
        match self {
            MaxWidth::Unlimited => None,
            MaxWidth::Columns(n) => Some(n),
            MaxWidth::Terminal => {
                if std::io::stdout().is_terminal() {
                    terminal_width()
                } else {
                    None
                }
            }
        }
    }
}

impl FromStr for MaxWidth {
    type Err = String;

    /// `auto` (the terminal's width) or a number of columns (0 = no limit).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(MaxWidth::Terminal);
        }
        s.parse::<usize>().map(MaxWidth::from_columns).map_err(|_| {
            format!("expected a number of columns (0 = no limit) or 'auto', got '{s}'")
        })
    }
}

impl std::fmt::Display for MaxWidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaxWidth::Unlimited => f.write_str("0 (no limit)"),
            MaxWidth::Columns(n) => write!(f, "{n}"),
            MaxWidth::Terminal => match self.columns() {
                Some(n) => write!(f, "auto (the terminal's {n} columns)"),
                None => f.write_str("auto (no limit: the output is not a terminal)"),
            },
        }
    }
}

/// The width of the terminal on standard output, as the terminal reports it, or else
/// `$COLUMNS`.
pub fn terminal_width() -> Option<usize> {
    #[cfg(unix)]
    {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct it is given, which lives
        // through the call; on a descriptor that is not a terminal it fails and writes nothing.
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col > 0 {
            return Some(usize::from(size.ws_col));
        }
    }
    std::env::var("COLUMNS")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|&n| n > 0)
}

/// The terminal columns a character takes: none for control and combining characters, two for
/// East Asian wide and fullwidth characters and emoji (Unicode's UAX #11, by ranges that cover
/// the common scripts), one otherwise.
pub fn char_width(c: char) -> usize {
    let u = u32::from(c);
    let zero = u < 0x20
        || (0x7f..=0x9f).contains(&u)
        || matches!(u,
            0x0300..=0x036f | 0x0483..=0x0489 | 0x0591..=0x05bd | 0x0610..=0x061a
            | 0x064b..=0x065f | 0x0e31 | 0x0e34..=0x0e3a | 0x0e47..=0x0e4e | 0x1ab0..=0x1aff
            | 0x1dc0..=0x1dff | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x2064
            | 0x20d0..=0x20ff | 0xfe00..=0xfe0f | 0xfe20..=0xfe2f | 0xfeff | 0xe0100..=0xe01ef);
    if zero {
        return 0;
    }
    let wide = matches!(u,
        0x1100..=0x115f | 0x231a..=0x231b | 0x2329..=0x232a | 0x23e9..=0x23ec | 0x23f0
        | 0x23f3 | 0x25fd..=0x25fe | 0x2614..=0x2615 | 0x2648..=0x2653 | 0x267f | 0x2693
        | 0x26a1 | 0x26aa..=0x26ab | 0x26bd..=0x26be | 0x26c4..=0x26c5 | 0x26ce | 0x26d4
        | 0x26ea | 0x26f2..=0x26f3 | 0x26f5 | 0x26fa | 0x26fd | 0x2705 | 0x270a..=0x270b
        | 0x2728 | 0x274c | 0x274e | 0x2753..=0x2755 | 0x2757 | 0x2795..=0x2797 | 0x27b0
        | 0x27bf | 0x2b1b..=0x2b1c | 0x2b50 | 0x2b55 | 0x2e80..=0x303e | 0x3041..=0x33ff
        | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xa000..=0xa4cf | 0xa960..=0xa97f
        | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xfe10..=0xfe19 | 0xfe30..=0xfe6f
        | 0xff00..=0xff60 | 0xffe0..=0xffe6 | 0x16fe0..=0x18aff | 0x1b000..=0x1b2ff | 0x1f004
        | 0x1f0cf | 0x1f18e | 0x1f191..=0x1f19a | 0x1f200..=0x1f2ff | 0x1f300..=0x1f64f
        | 0x1f680..=0x1f6ff | 0x1f7e0..=0x1f7eb | 0x1f900..=0x1f9ff | 0x1fa70..=0x1faff
        | 0x20000..=0x2fffd | 0x30000..=0x3fffd);
    if wide {
        2
    } else {
        1
    }
}

/// The terminal columns a line of text takes.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Cells are not cut narrower than this to make a table fit: columns are left out instead.
pub const MIN_FITTED_WIDTH: usize = 8;

/// The columns a fitted table shows, and how wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// (column index, width of its cells) of each column shown, in order.
    pub shown: Vec<(usize, usize)>,
    /// When columns are left out: how many shown columns come before the `…` column.
    pub gap: Option<usize>,
    /// The columns left out, in order.
    pub hidden: Vec<usize>,
}

impl Layout {
    /// The width of the printed table, borders included.
    pub fn width(&self) -> usize {
        let gap = usize::from(self.gap.is_some());
        self.shown.iter().map(|&(_, w)| w).sum::<usize>() + gap + frame(self.shown.len() + gap)
    }
}

/// The columns borders and padding take in a table of `n` columns: `| ` and ` ` around every
/// cell, and the last `|`.
fn frame(n: usize) -> usize {
    3 * n + 1
}

/// The largest width such that `widths`, each cut to it, sum to at most `budget` (the widest
/// width when they fit uncut).
fn water_level(widths: &[usize], budget: usize) -> usize {
    let mut sorted = widths.to_vec();
    sorted.sort_unstable();
    let mut left = budget;
    for (i, &w) in sorted.iter().enumerate() {
        let rest = sorted.len() - i;
        if w * rest > left {
            return left / rest;
        }
        left -= w;
    }
    sorted.last().copied().unwrap_or(0)
}

/// Chooses which columns to show, and how wide, so that a table whose columns need `natural`
/// widths (the widest cell or header of each) fits into `max` columns (see the module
/// documentation). Every column is at least one wide, and at least one column is shown, so a
/// very small `max` may still be exceeded.
pub fn fit_columns(natural: &[usize], max: usize) -> Layout {
    let n = natural.len();
    let all = |cap: usize| Layout {
        shown: natural
            .iter()
            .enumerate()
            .map(|(i, &w)| (i, w.min(cap).max(1)))
            .collect(),
        gap: None,
        hidden: Vec::new(),
    };
    if natural.iter().sum::<usize>() + frame(n) <= max {
        return all(usize::MAX);
    }
    let level = water_level(natural, max.saturating_sub(frame(n)));
    if level >= MIN_FITTED_WIDTH || n <= 1 {
        return all(level);
    }
    // Leave out middle columns: keep columns from the left and right ends in turn (first, last,
    // second, ...) while they fit at the smallest width, with one `…` column between them.
    let narrow = |i: usize| natural[i].min(MIN_FITTED_WIDTH);
    let need = |left: usize, right: usize| {
        (0..left).chain(n - right..n).map(narrow).sum::<usize>() + 1 + frame(left + right + 1)
    };
    let (mut left, mut right) = (0, 0);
    let (mut left_open, mut right_open) = (true, true);
    while left_open || right_open {
        if left_open {
            if left + right < n - 1 && need(left + 1, right) <= max {
                left += 1;
            } else {
                left_open = false;
            }
        }
        if right_open {
            if left + right < n - 1 && need(left, right + 1) <= max {
                right += 1;
            } else {
                right_open = false;
            }
        }
    }
    if left + right == 0 {
        left = 1;
    }
    let kept: Vec<usize> = (0..left).chain(n - right..n).collect();
    let widths: Vec<usize> = kept.iter().map(|&i| natural[i]).collect();
    let cap = water_level(&widths, max.saturating_sub(1 + frame(kept.len() + 1)));
    Layout {
        shown: kept
            .iter()
            .map(|&i| (i, natural[i].min(cap).max(1)))
            .collect(),
        gap: Some(left),
        hidden: (left..n - right).collect(),
    }
}

/// The widest line of each column's header and cells.
fn natural_widths(header: &[String], rows: &[Vec<String>]) -> Vec<usize> {
    let widest = |s: &str| s.split('\n').map(display_width).max().unwrap_or(0);
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| widest(c))
                .fold(widest(h), usize::max)
        })
        .collect()
}

/// `s` cut to `width` columns (ending in `…` when cut) and padded to exactly `width`.
pub fn fit_cell(s: &str, width: usize) -> String {
    let full = display_width(s);
    let mut out = String::with_capacity(s.len() + 3);
    let mut used = 0;
    if full <= width {
        out.push_str(s);
        used = full;
    } else if width > 0 {
        for c in s.chars() {
            let w = char_width(c);
            if used + w > width - 1 {
                break;
            }
            out.push(c);
            used += w;
        }
        out.push('…');
        used += 1;
    }
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// Draws a table in the style of Arrow's pretty printer with the columns of `layout`.
fn render_table(header: &[String], rows: &[Vec<String>], layout: &Layout) -> String {
    // The widths of the printed columns, `None` standing for the `…` column.
    let mut columns: Vec<Option<(usize, usize)>> = layout.shown.iter().copied().map(Some).collect();
    if let Some(gap) = layout.gap {
        columns.insert(gap.min(columns.len()), None);
    }
    let width_of = |c: &Option<(usize, usize)>| c.map_or(1, |(_, w)| w);
    let mut border = String::from("+");
    for c in &columns {
        border.push_str(&"-".repeat(width_of(c) + 2));
        border.push('+');
    }
    border.push('\n');
    let mut out = border.clone();
    let line = |cells: &[String], out: &mut String| {
        let lines: Vec<Vec<&str>> = columns
            .iter()
            .map(|c| match c {
                Some((i, _)) => cells
                    .get(*i)
                    .map_or_else(Vec::new, |s| s.split('\n').collect()),
                None => vec!["…"],
            })
            .collect();
        let height = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        for k in 0..height {
            out.push('|');
            for (c, cell) in columns.iter().zip(&lines) {
                out.push(' ');
                out.push_str(&fit_cell(cell.get(k).copied().unwrap_or(""), width_of(c)));
                out.push_str(" |");
            }
            out.push('\n');
        }
    };
    line(header, &mut out);
    out.push_str(&border);
    for row in rows {
        line(row, &mut out);
    }
    out.push_str(&border);
    out
}

/// The note under a table with columns left out.
fn hidden_note(header: &[String], layout: &Layout) -> Option<String> {
    const LISTED: usize = 10;
    let n = layout.hidden.len();
    if n == 0 {
        return None;
    }
    let mut names: Vec<&str> = layout
        .hidden
        .iter()
        .take(LISTED)
        .filter_map(|&i| header.get(i).map(String::as_str))
        .collect();
    if n > LISTED {
        names.push("…");
    }
    let columns = if n == 1 { "column" } else { "columns" };
    Some(format!(
        "({n} {columns} not shown: {}; \\maxwidth 0 or --maxwidth 0 shows every column)",
        names.join(", ")
    ))
}

fn cell_strings(batch: &RecordBatch, null: &str) -> Result<Vec<Vec<String>>> {
    let opts = FormatOptions::default().with_null(null);
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok((0..batch.num_rows())
        .map(|r| formatters.iter().map(|f| f.value(r).to_string()).collect())
        .collect())
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_delimited(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| csv_escape(f.name()))
        .collect();
    writeln!(out, "{}", header.join(",")).map_err(io)?;
    for b in batches {
        for row in cell_strings(b, "")? {
            let cells: Vec<String> = row.iter().map(|c| csv_escape(c)).collect();
            writeln!(out, "{}", cells.join(",")).map_err(io)?;
        }
    }
    Ok(())
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn write_markdown(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let header: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| md_escape(f.name()))
        .collect();
    writeln!(out, "| {} |", header.join(" | ")).map_err(io)?;
    let rule: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type().is_numeric() {
                "---:".to_string()
            } else {
                "---".to_string()
            }
        })
        .collect();
    writeln!(out, "|{}|", rule.join("|")).map_err(io)?;
    for b in batches {
        for row in cell_strings(b, "NULL")? {
            let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
            writeln!(out, "| {} |", cells.join(" | ")).map_err(io)?;
        }
    }
    Ok(())
}

fn json_rows(batches: &[RecordBatch]) -> Result<Vec<serde_json::Value>> {
    let mut rows = Vec::new();
    for b in batches {
        for r in 0..b.num_rows() {
            let mut obj = serde_json::Map::new();
            for (field, col) in b.schema().fields().iter().zip(b.columns()) {
                obj.insert(field.name().clone(), json_value(col, r)?);
            }
            rows.push(serde_json::Value::Object(obj));
        }
    }
    Ok(rows)
}

/// The JSON value of row `i` of `array`.
fn json_value(array: &ArrayRef, i: usize) -> Result<serde_json::Value> {
    use serde_json::Value;
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    let list_values = |values: ArrayRef| -> Result<Value> {
        (0..values.len())
            .map(|j| json_value(&values, j))
            .collect::<Result<Vec<_>>>()
            .map(Value::Array)
    };
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(i)),
        t if t.is_integer() || t.is_floating() => {
            let text = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?
                .value(i)
                .to_string();
            serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
        }
        DataType::List(_) => list_values(array.as_list::<i32>().value(i))?,
        DataType::LargeList(_) => list_values(array.as_list::<i64>().value(i))?,
        DataType::FixedSizeList(..) => list_values(array.as_fixed_size_list().value(i))?,
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut obj = serde_json::Map::new();
            for (f, c) in fields.iter().zip(s.columns()) {
                obj.insert(f.name().clone(), json_value(c, i)?);
            }
            Value::Object(obj)
        }
        _ => Value::String(
            ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?
                .value(i)
                .to_string(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int64Array, ListArray, StringArray};
    use datafusion::arrow::datatypes::{Field, Float64Type, Schema};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let list = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
            Some(vec![Some(1.5), Some(2.0)]),
            None,
        ]);
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("name", DataType::Utf8, true),
                Field::new("xs", list.data_type().clone(), true),
                Field::new("f", DataType::Float64, true),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec![Some("a,b"), None])),
                Arc::new(list),
                Arc::new(Float64Array::from(vec![Some(0.25), None])),
            ],
        )
        .unwrap()
    }

    fn render(format: Format, max: Option<usize>) -> String {
        let b = batch();
        let mut out = Vec::new();
        print_batches(&mut out, &b.schema(), std::slice::from_ref(&b), format, max).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_has_header_and_bracketed_lists() {
        assert_eq!(
            render(Format::Csv, None),
            "id,name,xs,f\n1,\"a,b\",\"[1.5, 2.0]\",0.25\n2,,,\n"
        );
    }

    #[test]
    fn json_and_ndjson() {
        assert_eq!(
            render(Format::Json, None),
            "[{\"id\":1,\"name\":\"a,b\",\"xs\":[1.5,2.0],\"f\":0.25},{\"id\":2,\"name\":null,\"xs\":null,\"f\":null}]\n"
        );
        assert_eq!(render(Format::NdJson, Some(1)).lines().count(), 1);
    }

    #[test]
    fn markdown_and_table() {
        let md = render(Format::Markdown, None);
        assert!(
            md.starts_with(
                "| id | name | xs | f |\n|---:|---|---|---:|\n| 1 | a,b | [1.5, 2.0] | 0.25 |"
            ),
            "{md}"
        );
        let t = render(Format::Table, Some(1));
        assert!(t.contains("| 1  | a,b  | [1.5, 2.0] | 0.25 |"), "{t}");
        assert!(t.contains("(1 of 2 rows shown; see --maxrows)"), "{t}");
    }

    #[test]
    fn character_widths() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("日本"), 4);
        assert_eq!(display_width("한글"), 4);
        assert_eq!(display_width("ｆｕｌｌ"), 8);
        assert_eq!(
            display_width("e\u{301}"),
            1,
            "a combining accent takes no column"
        );
        assert_eq!(display_width("😀"), 2);
        assert_eq!(display_width("a\tb"), 2, "control characters take none");
        assert_eq!(display_width("…"), 1);
        assert_eq!(display_width("Ünïcödé"), 7);
    }

    #[test]
    fn cells_are_cut_with_an_ellipsis_and_padded() {
        assert_eq!(fit_cell("abcd", 4), "abcd", "exact fit");
        assert_eq!(fit_cell("ab", 4), "ab  ");
        assert_eq!(fit_cell("abcde", 4), "abc…");
        assert_eq!(fit_cell("abcde", 1), "…");
        assert_eq!(fit_cell("abcde", 0), "");
        // A wide character that does not fit before the ellipsis leaves a space.
        assert_eq!(fit_cell("日本語", 4), "日… ");
        assert_eq!(fit_cell("日本語", 5), "日本…");
        assert_eq!(fit_cell("日本語", 6), "日本語");
        assert_eq!(fit_cell("ü", 3), "ü  ");
        for (s, w) in [
            ("日本語テキスト", 7),
            ("mixed 日本 text", 9),
            ("e\u{301}e\u{301}e", 2),
        ] {
            assert_eq!(display_width(&fit_cell(s, w)), w, "{s} in {w}");
        }
    }

    #[test]
    fn a_table_that_fits_keeps_every_column_whole() {
        let natural = [3, 4];
        let exact = 3 + 4 + frame(2);
        let layout = fit_columns(&natural, exact);
        assert_eq!(layout.shown, vec![(0, 3), (1, 4)]);
        assert_eq!(layout.gap, None);
        assert_eq!(layout.width(), exact);
    }

    #[test]
    fn wide_columns_are_cut_to_one_width() {
        // `\models`-like: name, type, created, options, path.
        let natural = [10, 7, 26, 60, 50];
        let layout = fit_columns(&natural, 80);
        assert_eq!(layout.gap, None);
        assert!(layout.hidden.is_empty());
        let widths: Vec<usize> = layout.shown.iter().map(|&(_, w)| w).collect();
        assert_eq!(widths, vec![10, 7, 15, 15, 15]);
        assert!(layout.width() <= 80);
        // One column too wide by one: only it is cut.
        let layout = fit_columns(&[20, 30], 20 + 30 + frame(2) - 1);
        assert_eq!(layout.shown, vec![(0, 20), (1, 29)]);
    }

    #[test]
    fn many_columns_leave_out_the_middle() {
        let natural = [10; 30];
        let layout = fit_columns(&natural, 80);
        let shown: Vec<usize> = layout.shown.iter().map(|&(i, _)| i).collect();
        assert_eq!(shown, vec![0, 1, 2, 27, 28, 29]);
        assert_eq!(layout.gap, Some(3));
        assert_eq!(layout.hidden, (3..27).collect::<Vec<_>>());
        assert!(layout.width() <= 80, "{}", layout.width());
        // Even a very narrow width shows one column.
        let layout = fit_columns(&[50, 50, 50], 5);
        assert_eq!(layout.shown.len(), 1);
        assert_eq!(layout.hidden, vec![1, 2]);
        // A single column is cut, never left out.
        let layout = fit_columns(&[200], 40);
        assert_eq!(layout.shown, vec![(0, 40 - frame(1))]);
    }

    #[test]
    fn fitted_layouts_never_exceed_the_width() {
        // A fixed pseudo-random sweep over column counts, widths and limits.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % m) as usize
        };
        for _ in 0..2000 {
            let n = 1 + next(25);
            let natural: Vec<usize> = (0..n).map(|_| 1 + next(60)).collect();
            let max = 20 + next(200);
            let layout = fit_columns(&natural, max);
            assert!(layout.width() <= max, "{natural:?} in {max}: {layout:?}");
            let mut all: Vec<usize> = layout.shown.iter().map(|&(i, _)| i).collect();
            assert!(all.windows(2).all(|w| w[0] < w[1]), "{layout:?}");
            all.extend(&layout.hidden);
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
            for &(i, w) in &layout.shown {
                assert!(w >= 1 && w <= natural[i], "{natural:?} {layout:?}");
            }
            assert_eq!(layout.gap.is_some(), !layout.hidden.is_empty());
        }
    }

    fn wide_batch() -> RecordBatch {
        let cols: Vec<(String, ArrayRef)> = (0..12)
            .map(|i| {
                let values: Vec<String> = (0..3)
                    .map(|r| format!("名前 {i}-{r} {}", "long value ".repeat(i % 4)))
                    .collect();
                (
                    format!("column_{i}"),
                    Arc::new(StringArray::from(values)) as ArrayRef,
                )
            })
            .collect();
        RecordBatch::try_from_iter(cols).unwrap()
    }

    fn render_within(b: &RecordBatch, format: Format, max: Option<usize>) -> String {
        let mut out = Vec::new();
        print_batches_within(
            &mut out,
            &b.schema(),
            std::slice::from_ref(b),
            format,
            None,
            max,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn wide_tables_fit_and_name_the_columns_left_out() {
        let b = wide_batch();
        let full = render_within(&b, Format::Table, None);
        assert!(full.lines().next().map_or(0, display_width) > 200, "{full}");
        let fitted = render_within(&b, Format::Table, Some(100));
        let lines: Vec<&str> = fitted.lines().collect();
        let table: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with(['+', '|']))
            .collect();
        assert_eq!(table.len(), 3 + 3 + 1, "{fitted}");
        for l in &table {
            assert_eq!(display_width(l), display_width(table[0]), "{fitted}");
            assert!(display_width(l) <= 100, "{fitted}");
        }
        assert!(fitted.contains(" … |"), "{fitted}");
        assert!(fitted.contains("| column_0 "), "{fitted}");
        // The last columns are kept, their headers cut like any cell.
        assert!(table[1].ends_with(" column_… |"), "{fitted}");
        let note = lines.last().copied().unwrap_or_default();
        assert_eq!(
            note,
            "(4 columns not shown: column_4, column_5, column_6, column_7; \\maxwidth 0 or \
             --maxwidth 0 shows every column)",
            "{fitted}"
        );
        // A limit the table fits in changes nothing, and other formats are never cut.
        assert_eq!(render_within(&b, Format::Table, Some(10_000)), full);
        for format in [Format::Csv, Format::Json, Format::NdJson, Format::Markdown] {
            assert_eq!(
                render_within(&b, format, Some(40)),
                render_within(&b, format, None),
                "{format}"
            );
        }
    }

    #[test]
    fn fitted_tables_are_drawn_like_arrows() {
        // With every column whole, the fitted drawing is Arrow's, so a table looks the same
        // whether or not it was fitted.
        let b = batch();
        let header: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let rows = cell_strings(&b, "NULL").unwrap();
        let natural = natural_widths(&header, &rows);
        let layout = fit_columns(&natural, usize::MAX);
        let arrow = pretty_format_batches_with_options(
            std::slice::from_ref(&b),
            &FormatOptions::default().with_null("NULL"),
        )
        .unwrap()
        .to_string();
        assert_eq!(render_table(&header, &rows, &layout), format!("{arrow}\n"));
        // Multi-line cells too.
        let lines = RecordBatch::try_from_iter([(
            "t",
            Arc::new(StringArray::from(vec!["one\ntwo", "x"])) as ArrayRef,
        )])
        .unwrap();
        let rows = cell_strings(&lines, "NULL").unwrap();
        let header = vec!["t".to_string()];
        let arrow = pretty_format_batches_with_options(
            std::slice::from_ref(&lines),
            &FormatOptions::default().with_null("NULL"),
        )
        .unwrap()
        .to_string();
        let layout = fit_columns(&natural_widths(&header, &rows), usize::MAX);
        assert_eq!(render_table(&header, &rows, &layout), format!("{arrow}\n"));
    }

    #[test]
    fn max_width_settings() {
        assert_eq!("auto".parse::<MaxWidth>(), Ok(MaxWidth::Terminal));
        assert_eq!("0".parse::<MaxWidth>(), Ok(MaxWidth::Unlimited));
        assert_eq!("120".parse::<MaxWidth>(), Ok(MaxWidth::Columns(120)));
        assert!("wide".parse::<MaxWidth>().unwrap_err().contains("'auto'"));
        assert_eq!(MaxWidth::Columns(7).columns(), Some(7));
        assert_eq!(MaxWidth::Unlimited.columns(), None);
    }

    #[test]
    fn format_names() {
        assert_eq!("MD".parse::<Format>(), Ok(Format::Markdown));
        assert!("xml"
            .parse::<Format>()
            .unwrap_err()
            .contains("unknown format 'xml'"));
    }
}
