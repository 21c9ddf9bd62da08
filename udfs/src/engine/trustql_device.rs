//! `trustql_device()`: which tensor device this session computes on.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use super::config::{device_name, device_setting, resolve_device};

#[user_doc(
    doc_section(label = "trustql Functions"),
    description = "Returns the tensor device this session computes on: 'cuda' when libtorch sees a GPU \
(or 'cuda:N'), else 'cpu'. `SET trustql.device = 'cpu'` overrides the automatic choice.",
    syntax_example = "trustql_device()",
    sql_example = r#"```sql
> SET trustql.device = 'cpu';
> SELECT trustql_device();
+------------------+
| trustql_device() |
+------------------+
| cpu              |
+------------------+
```"#
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TrustqlDeviceFunc {
    signature: Signature,
}

impl Default for TrustqlDeviceFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl TrustqlDeviceFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::nullary(Volatility::Stable),
        }
    }
}

impl ScalarUDFImpl for TrustqlDeviceFunc {
    fn name(&self) -> &str {
        "trustql_device"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let device = resolve_device(device_setting(&args.config_options))?;
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(device_name(
            device,
        )))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
