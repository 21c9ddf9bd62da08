//! `export_torchscript(model, path)`: writes a trained audio encoder as a TorchScript file.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::adapter::{arg, ArgSpec, Batch, Kind, OutKind, Row, RowFunction, Value};
use super::deep::message;
use super::kernels::AudioError;
use crate::audio::deep::AudioEncoder;

#[user_doc(
    doc_section(label = "Audio Functions"),
    description = "Writes a trained audio encoder (a vgg model) as a TorchScript module, atomically, so that PyTorch or a torchscript model can use it: forward takes [batch, 1, crop, 512] dB STFT frames as a torchscript model with input 'stft_db' gives them (not standardised: the module standardises with the model's statistics) and returns [batch, 256] embeddings. Returns the file's size in bytes.",
    syntax_example = "export_torchscript(model, path)",
    sql_example = r#"```sql
> SELECT export_torchscript('enc', '/tmp/enc.pt') > 0 AS written;
+---------+
| written |
+---------+
| true    |
+---------+
```"#,
    argument(name = "model", description = "The encoder model's name."),
    argument(
        name = "path",
        description = "The file to write (replaced if it exists)."
    )
)]
#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct ExportTorchscript;

static DOC: ExportTorchscript = ExportTorchscript;

impl RowFunction for ExportTorchscript {
    const NAME: &'static str = "export_torchscript";
    const ARGS: &'static [ArgSpec] = &[arg("model", Kind::Text), arg("path", Kind::Text)];
    const OUT: OutKind = OutKind::Float;
    const SIDE_EFFECTS: bool = true;

    fn doc() -> Option<&'static Documentation> {
        DOC.doc()
    }

    fn compute(_row: &Row<'_>) -> Result<Value, AudioError> {
        Err(AudioError::Model(
            "needs a session's model store".to_string(),
        ))
    }

    fn compute_batch(batch: &Batch<'_>) -> Option<Result<Vec<Value>, AudioError>> {
        Some(batch.rows.iter().map(|&i| export(batch, i)).collect())
    }
}

fn export(batch: &Batch<'_>, i: usize) -> Result<Value, AudioError> {
    let row = batch.row(i);
    let (name, path) = (
        row.text_in_batch(0).unwrap_or_default(),
        row.text_in_batch(1).unwrap_or_default(),
    );
    let catalog = batch
        .catalog
        .ok_or_else(|| AudioError::Model("needs a session's model store".to_string()))?;
    let loaded = catalog
        .model(name)
        .map_err(|e| AudioError::Model(message(e)))?;
    let encoder = loaded
        .model
        .capability::<dyn AudioEncoder>()
        .ok_or_else(|| {
            AudioError::Model(format!(
                "model '{name}' (type '{}') is not an audio encoder",
                loaded.model_type
            ))
        })?;
    let bytes = encoder
        .export_torchscript(std::path::Path::new(path))
        .map_err(|e| AudioError::Model(format!("model '{name}': {}", message(e))))?;
    Ok(Value::Float(bytes as f64))
}
