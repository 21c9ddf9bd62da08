//! `cosine_distance(a, b)`: cosine distance between two vectors.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Kind, OutKind, Row, RowFunction, Value};
use super::kernels::distance::cosine;
use super::kernels::AudioError;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Cosine distance 1 − a·b / (‖a‖ ‖b‖) between two vectors of the same length (e.g. two embeddings), in [0, 2], computed in double precision; a zero vector is an error.",
    syntax_example = "cosine_distance(a, b)",
    sql_example = r#"```sql
> SELECT cosine_distance([1.0, 0.0], [0.0, 2.0]) AS d;
+-----+
| d   |
+-----+
| 1.0 |
+-----+
```"#,
    argument(name = "a", description = "The first vector (a list of numbers)."),
    argument(name = "b", description = "The second vector, of the same length.")
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct CosineDistance;

static DOC: CosineDistance = CosineDistance;

impl RowFunction for CosineDistance {
    const NAME: &'static str = "cosine_distance";
    const ARGS: &'static [ArgSpec] = &[arg("a", Kind::Audio), arg("b", Kind::Audio)];
    const OUT: OutKind = OutKind::Float;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn compute(row: &Row<'_>) -> Result<Value, AudioError> {
        let (a, b) = (row.vector(0)?, row.vector(1)?);
        Ok(Value::Float(cosine(&a, &b)?))
    }
}
