//! `euclidean_distance(a, b)`: euclidean distance between two vectors.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Kind, OutKind, Row, RowFunction, Value};
use super::kernels::distance::euclidean;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Euclidean distance between two vectors of the same length (e.g. two embeddings), computed in double precision.",
    syntax_example = "euclidean_distance(a, b)",
    sql_example = r#"```sql
> SELECT euclidean_distance([0.0, 3.0], [4.0, 0.0]) AS d;
+-----+
| d   |
+-----+
| 5.0 |
+-----+
```"#,
    argument(name = "a", description = "The first vector (a list of numbers)."),
    argument(name = "b", description = "The second vector, of the same length.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct EuclideanDistance;

static DOC: EuclideanDistance = EuclideanDistance;

impl RowFunction for EuclideanDistance {
    const NAME: &'static str = "euclidean_distance";
    const ARGS: &'static [ArgSpec] = &[arg("a", Kind::Audio), arg("b", Kind::Audio)];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let (a, b) = (row.vector(0)?, row.vector(1)?);
        Ok(Value::Float(euclidean(&a, &b)?))
    }
}
