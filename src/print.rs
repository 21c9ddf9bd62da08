//! Printing query results in the CLI's output formats.
//!
//! All formats print list values as `[a, b, ...]` inside a cell (Arrow's display format); CSV
//! has a header row and quotes cells that need it; JSON is one array of objects, NDJSON one object
//! per line, with lists as JSON arrays and structs as objects.

use std::io::Write;
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
/// rows; returns the number of rows printed.
pub fn print_batches(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    max_rows: Option<usize>,
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
            };
            writeln!(out, "{text}").map_err(io)?;
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
    fn format_names() {
        assert_eq!("MD".parse::<Format>(), Ok(Format::Markdown));
        assert!("xml"
            .parse::<Format>()
            .unwrap_err()
            .contains("unknown format 'xml'"));
    }
}
