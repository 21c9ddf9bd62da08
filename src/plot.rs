//! Figures from queries: analysts read the thesis' results as figures, so a query's result can be
//! drawn without leaving trustql, from scripts, the REPL and the library alike:
//!
//! ```sql
//! COPY (SELECT omega, fidelity, explainer FROM results) TO 'figures/fidelity.svg'
//!   (FORMAT plot, kind 'scatter', x 'omega', y 'fidelity', color 'explainer', fit true);
//! ```
//!
//! `COPY source TO 'path' (FORMAT plot, option value, ...)` (or `STORED AS PLOT OPTIONS (...)`)
//! runs the source (a parenthesised query or a table name), lays the result out with
//! [`trustql_plot`] and writes the figure atomically: SVG for a `.svg` path, PNG for `.png`. The
//! statement's result is one row describing the figure (path, kind, panes, marks, legend
//! entries, skipped rows); rows skipped for NULL or NaN values are also reported as a warning.
//! In the REPL, `\plot 'path' (option value, ...)` draws the last result the same way.
//!
//! Options: `kind` (scatter, line, box, bar, errorbar), `x`, `y` (column names; required),
//! `color`, `facet_row`, `facet_col`, `lower`, `upper` (errorbar interval), `log_x`, `log_y`,
//! `fit`, `free_x`, `free_y` (booleans; free scales give each facet column its own x axis and
//! each facet row its own y axis, as ggplot's `facet_grid(scales = ...)`), `title`, `x_label`, `y_label` (axis titles default to the column names),
//! `width`, `height` (pixels), `point_size`, `alpha`, and `scale` (PNG pixels per figure pixel,
//! default 2). Numeric columns are numbers; text, boolean and date/time columns are categories.

use datafusion::common::exec_datafusion_err;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};
use trustql_plot::{layout, Column, Figure, Kind, PlotSpec, Table};

use crate::sql::{tokenize, LineIndex};

/// The option names `FORMAT plot` knows.
const OPTIONS: [&str; 22] = [
    "format",
    "kind",
    "x",
    "y",
    "color",
    "facet_row",
    "facet_col",
    "lower",
    "upper",
    "log_x",
    "log_y",
    "fit",
    "free_x",
    "free_y",
    "title",
    "x_label",
    "y_label",
    "width",
    "height",
    "point_size",
    "alpha",
    "scale",
];

/// Default PNG pixels per figure pixel (sharp on high-density screens and in print).
const DEFAULT_SCALE: f64 = 2.0;

/// An option value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Text(String),
    Number(f64),
}

impl OptionValue {
    fn describe(&self) -> String {
        match self {
            OptionValue::Text(s) => format!("'{s}'"),
            OptionValue::Number(v) => v.to_string(),
        }
    }
}

/// `COPY ... TO 'path' (FORMAT plot, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotStatement {
    /// The query whose result is drawn (a table name becomes `SELECT * FROM name`).
    pub query: String,
    pub path: PathBuf,
    pub options: Vec<(String, OptionValue)>,
}

/// The statement as a plot, or `None` when it is not a `COPY` to `FORMAT plot` (DataFusion runs
/// it). Errors name malformed option lists.
pub fn parse_copy(sql: &str) -> Result<Option<PlotStatement>> {
    let all = tokenize(sql)?;
    let tokens: Vec<&TokenWithSpan> = all
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .collect();
    if !tokens.first().is_some_and(|t| is_word(&t.token, "copy")) {
        return Ok(None);
    }
    let index = LineIndex::new(sql);
    // The source: a parenthesised query, or a (possibly qualified) table name.
    let mut i = 1;
    let query = if matches!(tokens.get(1).map(|t| &t.token), Some(Token::LParen)) {
        let close =
            matching_paren(&tokens, 1).ok_or_else(|| plan("COPY: unbalanced parentheses"))?;
        let (a, b) = (
            index.offset(tokens[1].span.end),
            index.offset(tokens[close].span.start),
        );
        i = close + 1;
        sql[a..b].trim().to_string()
    } else {
        let start = i;
        while i < tokens.len() && !is_word(&tokens[i].token, "to") {
            i += 1;
        }
        if i == start || i >= tokens.len() {
            return Ok(None);
        }
        let (a, b) = (
            index.offset(tokens[start].span.start),
            index.offset(tokens[i - 1].span.end),
        );
        format!("SELECT * FROM {}", &sql[a..b])
    };
    if !tokens.get(i).is_some_and(|t| is_word(&t.token, "to")) {
        return Ok(None);
    }
    let Some(Token::SingleQuotedString(path)) = tokens.get(i + 1).map(|t| &t.token) else {
        return Ok(None);
    };
    i += 2;
    let mut stored_plot = false;
    if tokens.get(i).is_some_and(|t| is_word(&t.token, "stored"))
        && tokens.get(i + 1).is_some_and(|t| is_word(&t.token, "as"))
    {
        stored_plot = tokens.get(i + 2).is_some_and(|t| is_word(&t.token, "plot"));
        if !stored_plot {
            return Ok(None);
        }
        i += 3;
    }
    if tokens.get(i).is_some_and(|t| is_word(&t.token, "options")) {
        i += 1;
    }
    let options = match tokens.get(i).map(|t| &t.token) {
        Some(Token::LParen) => parse_options(&tokens[i..])?,
        None => Vec::new(),
        Some(_) => return Ok(None),
    };
    let format = options
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.clone());
    let is_plot = match &format {
        Some(OptionValue::Text(f)) => f.eq_ignore_ascii_case("plot"),
        _ => false,
    };
    if !(is_plot || stored_plot) {
        return Ok(None);
    }
    Ok(Some(PlotStatement {
        query,
        path: PathBuf::from(path),
        options,
    }))
}

/// Parses `(key value, key value, ...)` from `tokens` (which start at the `(`).
pub fn parse_options(tokens: &[&TokenWithSpan]) -> Result<Vec<(String, OptionValue)>> {
    let mut out = Vec::new();
    let mut i = 1;
    let at =
        |t: &TokenWithSpan| format!("line {} column {}", t.span.start.line, t.span.start.column);
    loop {
        let Some(tok) = tokens.get(i) else {
            return Err(plan("plot options: missing ')'"));
        };
        if matches!(tok.token, Token::RParen) && out.is_empty() {
            break;
        }
        let key = match &tok.token {
            Token::Word(w) => w.value.to_ascii_lowercase(),
            Token::SingleQuotedString(s) => s.to_ascii_lowercase(),
            other => {
                return Err(plan(format!(
                    "plot options: expected an option name at {}, got {other}",
                    at(tok)
                )))
            }
        };
        i += 1;
        if tokens.get(i).is_some_and(|t| matches!(t.token, Token::Eq)) {
            i += 1;
        }
        let negative = tokens
            .get(i)
            .is_some_and(|t| matches!(t.token, Token::Minus));
        if negative {
            i += 1;
        }
        let Some(vt) = tokens.get(i) else {
            return Err(plan(format!("plot options: option {key} has no value")));
        };
        let value = match &vt.token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => {
                OptionValue::Text(s.clone())
            }
            Token::Number(n, _) => {
                let v: f64 = n.parse().map_err(|_| {
                    plan(format!("plot options: option {key}: '{n}' is not a number"))
                })?;
                OptionValue::Number(if negative { -v } else { v })
            }
            Token::Word(w) => OptionValue::Text(w.value.clone()),
            other => {
                return Err(plan(format!(
                    "plot options: option {key} has no value at {}, got {other}",
                    at(vt)
                )))
            }
        };
        out.push((key, value));
        i += 1;
        match tokens.get(i).map(|t| &t.token) {
            Some(Token::Comma) => i += 1,
            Some(Token::RParen) => break,
            Some(other) => {
                return Err(plan(format!(
                    "plot options: expected ',' or ')' at {}, got {other}",
                    at(tokens[i])
                )))
            }
            None => return Err(plan("plot options: missing ')'")),
        }
    }
    Ok(out)
}

fn is_word(t: &Token, word: &str) -> bool {
    matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case(word) && w.quote_style.is_none())
}

fn matching_paren(tokens: &[&TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in tokens.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(k);
                }
            }
            _ => {}
        }
    }
    None
}

fn plan(message: impl Into<String>) -> DataFusionError {
    DataFusionError::Plan(message.into())
}

/// A checked plot request: the layout spec, the output format and the PNG scale.
#[derive(Debug, Clone)]
pub struct PlotRequest {
    pub spec: PlotSpec,
    pub format: ImageFormat,
    pub scale: f64,
}

/// The image formats written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

impl PlotRequest {
    /// Validates `options` for a figure written to `path` (its extension picks the format).
    pub fn new(path: &Path, options: &[(String, OptionValue)]) -> Result<PlotRequest> {
        let format = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("svg") => ImageFormat::Svg,
            Some("png") => ImageFormat::Png,
            _ => {
                return Err(plan(format!(
                    "plot: the file '{}' must end in .svg or .png (the format is chosen by the extension)",
                    path.display()
                )))
            }
        };
        for (k, _) in options {
            if !OPTIONS.contains(&k.as_str()) {
                return Err(plan(format!(
                    "plot: unknown option '{k}' (options: {})",
                    OPTIONS.join(", ")
                )));
            }
        }
        let get = |key: &str| options.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v);
        let text = |key: &str| -> Result<Option<String>> {
            match get(key) {
                None => Ok(None),
                Some(OptionValue::Text(s)) => Ok(Some(s.clone())),
                Some(v) => Err(plan(format!(
                    "plot: option {key} must be text (a column name or a label), got {}",
                    v.describe()
                ))),
            }
        };
        let flag = |key: &str| -> Result<bool> {
            match get(key) {
                None => Ok(false),
                Some(OptionValue::Text(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
                Some(OptionValue::Text(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
                Some(v) => Err(plan(format!(
                    "plot: option {key} must be true or false, got {}",
                    v.describe()
                ))),
            }
        };
        let number = |key: &str| -> Result<Option<f64>> {
            match get(key) {
                None => Ok(None),
                Some(OptionValue::Number(v)) if v.is_finite() && *v > 0.0 => Ok(Some(*v)),
                Some(v) => Err(plan(format!(
                    "plot: option {key} must be a positive number, got {}",
                    v.describe()
                ))),
            }
        };
        let pixels = |key: &str| -> Result<Option<u32>> {
            match number(key)? {
                None => Ok(None),
                Some(v) if v.fract() == 0.0 && v <= 20_000.0 => Ok(Some(v as u32)),
                Some(v) => Err(plan(format!(
                    "plot: option {key} must be a whole number of pixels up to 20000, got {v}"
                ))),
            }
        };
        let kind: Kind = match text("kind")? {
            Some(k) => k
                .parse()
                .map_err(|e: trustql_plot::PlotError| plan(format!("plot: {e}")))?,
            None => {
                return Err(plan(
                    "plot: missing option kind (scatter, line, box, bar or errorbar)",
                ))
            }
        };
        let (Some(x), Some(y)) = (text("x")?, text("y")?) else {
            return Err(plan("plot: options x and y (column names) are required"));
        };
        let mut spec = PlotSpec::new(kind, &x, &y);
        spec.color = text("color")?;
        spec.facet_row = text("facet_row")?;
        spec.facet_col = text("facet_col")?;
        spec.lower = text("lower")?;
        spec.upper = text("upper")?;
        spec.log_x = flag("log_x")?;
        spec.log_y = flag("log_y")?;
        spec.fit = flag("fit")?;
        spec.free_x = flag("free_x")?;
        spec.free_y = flag("free_y")?;
        spec.title = text("title")?;
        spec.x_label = text("x_label")?;
        spec.y_label = text("y_label")?;
        spec.width = pixels("width")?;
        spec.height = pixels("height")?;
        spec.point_size = number("point_size")?;
        spec.alpha = number("alpha")?;
        let scale = number("scale")?.unwrap_or(DEFAULT_SCALE);
        Ok(PlotRequest {
            spec,
            format,
            scale,
        })
    }

    /// The columns the figure reads.
    fn columns(&self) -> Vec<&str> {
        let s = &self.spec;
        let mut out = vec![s.x.as_str(), s.y.as_str()];
        for c in [&s.color, &s.facet_row, &s.facet_col, &s.lower, &s.upper]
            .into_iter()
            .flatten()
        {
            out.push(c.as_str());
        }
        out
    }
}

/// The plotting table of a query result: numeric columns as numbers, text-like ones as text.
/// Columns of other types (lists, structs) are left out, and an error names one the request
/// reads.
fn table(schema: &Schema, batches: &[RecordBatch], request: &PlotRequest) -> Result<Table> {
    let mut t = Table::new();
    for (i, field) in schema.fields().iter().enumerate() {
        let arrays: Vec<&ArrayRef> = batches.iter().map(|b| b.column(i)).collect();
        let column = match field.data_type() {
            d if d.is_numeric() => {
                let mut v = Vec::new();
                for a in arrays {
                    let a = cast(a, &DataType::Float64)?;
                    v.extend(a.as_primitive::<Float64Type>().iter());
                }
                Column::Num(v)
            }
            d if cast_to_text(d) => {
                let mut v = Vec::new();
                for a in arrays {
                    let a = cast(a, &DataType::Utf8)?;
                    v.extend(a.as_string::<i32>().iter().map(|s| s.map(str::to_string)));
                }
                Column::Text(v)
            }
            other => {
                if request.columns().contains(&field.name().as_str()) {
                    return Err(plan(format!(
                        "plot: column '{}' has type {other}, which cannot be plotted (numbers and text can)",
                        field.name()
                    )));
                }
                continue;
            }
        };
        t.push(field.name(), column)
            .map_err(|e| plan(format!("plot: {e}")))?;
    }
    Ok(t)
}

fn cast_to_text(d: &DataType) -> bool {
    matches!(
        d,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Boolean
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
            | DataType::Dictionary(_, _)
    )
}

/// What a drawn figure holds: the statement's result and the warning about skipped rows.
#[derive(Debug, Clone)]
pub struct Drawn {
    pub figure: Figure,
    pub path: PathBuf,
}

impl Drawn {
    /// The warning about skipped rows, if any were skipped.
    pub fn warning(&self) -> Option<String> {
        let skipped = self.figure.skipped();
        if skipped.is_empty() {
            return None;
        }
        let total: usize = skipped.iter().map(|s| s.rows).sum();
        let parts: Vec<String> = skipped
            .iter()
            .map(|s| format!("{} {} in {}", s.rows, s.reason, s.column))
            .collect();
        Some(format!(
            "plot '{}': skipped {total} row(s): {}",
            self.path.display(),
            parts.join(", ")
        ))
    }

    /// One row: path, kind, panes, marks, legend_entries, skipped_rows.
    pub fn batch(&self) -> Result<RecordBatch> {
        let f = &self.figure;
        let marks: usize = f.panes().iter().map(|p| p.marks).sum();
        let skipped: usize = f.skipped().iter().map(|s| s.rows).sum();
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("path", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("panes", DataType::UInt64, false),
            Field::new("marks", DataType::UInt64, false),
            Field::new("legend_entries", DataType::UInt64, false),
            Field::new("skipped_rows", DataType::UInt64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.path.display().to_string()])),
            Arc::new(StringArray::from(vec![f.kind().name()])),
            Arc::new(UInt64Array::from(vec![f.panes().len() as u64])),
            Arc::new(UInt64Array::from(vec![marks as u64])),
            Arc::new(UInt64Array::from(vec![f.legend().len() as u64])),
            Arc::new(UInt64Array::from(vec![skipped as u64])),
        ];
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// Lays out `batches` by `options` and writes the figure to `path` atomically (the parent
/// folder is created when missing). A PNG's pixels are checked against `memory_limit` (bytes)
/// before they are allocated.
pub fn draw(
    schema: &Schema,
    batches: &[RecordBatch],
    path: &Path,
    options: &[(String, OptionValue)],
    memory_limit: u64,
) -> Result<Drawn> {
    let request = PlotRequest::new(path, options)?;
    let table = table(schema, batches, &request)?;
    let figure = layout(&table, &request.spec).map_err(|e| plan(format!("plot: {e}")))?;
    if request.format == ImageFormat::Png {
        let (w, h) = figure.size();
        let scale = request.scale;
        // The RGBA pixmap, and about as much again while it is encoded.
        let pixels = (f64::from(w) * scale).round() * (f64::from(h) * scale).round();
        trustql_udfs::engine::check_memory(
            &format!("plot: width {w} × height {h} at scale {scale} ({pixels} PNG pixels)"),
            pixels * 4.0 * 2.0,
            memory_limit,
        )?;
    }
    let bytes = match request.format {
        ImageFormat::Svg => figure.to_svg().into_bytes(),
        ImageFormat::Png => figure
            .to_png_scaled(request.scale)
            .map_err(|e| exec_datafusion_err!("plot: {e}"))?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| exec_datafusion_err!("plot: cannot create '{}': {e}", dir.display()))?;
    }
    trustql_udfs::audio::kernels::codec::write_atomically(path, &bytes)
        .map_err(|e| exec_datafusion_err!("plot: {e}"))?;
    Ok(Drawn {
        figure,
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_statements_are_recognised() {
        let p = parse_copy(
            "COPY (SELECT a, b FROM t WHERE (a > 1)) TO 'f.svg' (FORMAT plot, kind 'scatter', x 'a', y 'b', log_x true, width 800)",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.query, "SELECT a, b FROM t WHERE (a > 1)");
        assert_eq!(p.path, PathBuf::from("f.svg"));
        assert_eq!(p.options.len(), 6);
        assert_eq!(
            p.options[4],
            ("log_x".to_string(), OptionValue::Text("true".into()))
        );
        assert_eq!(
            p.options[5],
            ("width".to_string(), OptionValue::Number(800.0))
        );
        let t = parse_copy(
            "copy results to 'x.png' stored as plot options ('kind' 'bar', 'x' 'a', 'y' 'b')",
        )
        .unwrap()
        .unwrap();
        assert_eq!(t.query, "SELECT * FROM results");
        // Other COPY statements are DataFusion's.
        assert_eq!(
            parse_copy("COPY t TO 'x.parquet' STORED AS PARQUET").unwrap(),
            None
        );
        assert_eq!(
            parse_copy("COPY (SELECT 1) TO 'x.csv' (FORMAT csv)").unwrap(),
            None
        );
        assert_eq!(parse_copy("SELECT 1").unwrap(), None);
        let e = parse_copy("COPY t TO 'x.svg' (FORMAT plot, kind)").unwrap_err();
        assert!(e.to_string().contains("option kind has no value"), "{e}");
        let e = parse_copy("COPY t TO 'x.svg' (FORMAT plot kind 'x')").unwrap_err();
        assert!(e.to_string().contains("expected ',' or ')'"), "{e}");
    }

    #[test]
    fn requests_are_checked() {
        let o = |pairs: &[(&str, OptionValue)]| -> Vec<(String, OptionValue)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        let t = |s: &str| OptionValue::Text(s.to_string());
        let base = o(&[("kind", t("line")), ("x", t("a")), ("y", t("b"))]);
        assert!(PlotRequest::new(Path::new("f.svg"), &base).is_ok());
        let e = PlotRequest::new(Path::new("f.pdf"), &base).unwrap_err();
        assert!(e.to_string().contains(".svg or .png"));
        let mut bad = base.clone();
        bad.push(("colour".to_string(), t("c")));
        let e = PlotRequest::new(Path::new("f.svg"), &bad).unwrap_err();
        assert!(e.to_string().contains("unknown option 'colour'"));
        let bad = o(&[("kind", t("pie")), ("x", t("a")), ("y", t("b"))]);
        let e = PlotRequest::new(Path::new("f.svg"), &bad).unwrap_err();
        assert!(e.to_string().contains("unknown plot kind"), "{e}");
        let mut bad = base.clone();
        bad.push(("log_y".to_string(), OptionValue::Number(1.0)));
        let e = PlotRequest::new(Path::new("f.svg"), &bad).unwrap_err();
        assert!(e.to_string().contains("log_y must be true or false"));
        let e = PlotRequest::new(Path::new("f.svg"), &base[..2]).unwrap_err();
        assert!(e.to_string().contains("x and y"));
    }
}
