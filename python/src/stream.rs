//! Arrow C stream PyCapsules (the Arrow PyCapsule interface): results leave as one, tables
//! arrive as one. Either way only pointers to Arrow buffers change hands: no value is copied
//! and no per-row Python object is made.

use std::ptr::NonNull;

use datafusion::arrow::array::RecordBatchReader;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ffi_stream::{ArrowArrayStreamReader, FFI_ArrowArrayStream};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchIterator};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// The capsule name the interface prescribes.
const STREAM: &std::ffi::CStr = c"arrow_array_stream";

/// A capsule holding a stream over `batches` (which share their buffers with the caller's).
pub fn export<'py>(
    py: Python<'py>,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyCapsule>> {
    let reader = RecordBatchIterator::new(batches.into_iter().map(Ok), schema);
    let stream = FFI_ArrowArrayStream::new(Box::new(reader));
    PyCapsule::new_with_value(py, stream, STREAM)
}

/// Reads the stream of a capsule made by `obj.__arrow_c_stream__()` to its end. The stream is
/// moved out of the capsule (it may be consumed once, as the interface says).
pub fn import(capsule: &Bound<'_, PyCapsule>) -> PyResult<(SchemaRef, Vec<RecordBatch>)> {
    let pointer: NonNull<FFI_ArrowArrayStream> = capsule.pointer_checked(Some(STREAM))?.cast();
    // SAFETY: a capsule named "arrow_array_stream" holds an ArrowArrayStream (the interface's
    // contract); from_raw moves it out and leaves a released stream in its place.
    let reader = unsafe { ArrowArrayStreamReader::from_raw(pointer.as_ptr()) }
        .map_err(|e| PyValueError::new_err(format!("not a readable Arrow stream: {e}")))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("the Arrow stream failed: {e}")))?;
    Ok((schema, batches))
}
