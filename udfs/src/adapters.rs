//! Helpers shared by the UDF adapters of every domain (the Arrow side of the functions).

use datafusion::arrow::array::ArrayRef;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;

/// Returns `out` as a scalar when every argument was a scalar, else as an array, so that a
/// function called on literals folds to a literal.
pub fn columnar(out: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            out.as_ref(),
            0,
        )?))
    } else {
        Ok(ColumnarValue::Array(out))
    }
}
