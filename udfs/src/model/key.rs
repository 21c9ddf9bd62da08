//! User and item ids: any integer or text column.
//!
//! Models map the ids they were trained on to dense indices with a [`KeyIndex`]; ids arrive from
//! Arrow as a [`KeyColumn`] (all integer types widened to i64, all string types read as `&str`).

use datafusion::common::plan_err;
use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::error::Result;
use serde::{Deserialize, Serialize};

/// Whether ids are integers or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyKind {
    Int,
    Text,
}

impl KeyKind {
    /// The kind of ids a column of this type holds; `None` for types that cannot be ids.
    pub fn of(data_type: &DataType) -> Option<KeyKind> {
        match data_type {
            t if t.is_integer() => Some(KeyKind::Int),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(KeyKind::Text),
            DataType::Dictionary(_, v) => KeyKind::of(v),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Int => "integer",
            KeyKind::Text => "text",
        }
    }
}

/// A borrowed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyRef<'a> {
    Int(i64),
    Text(&'a str),
}

/// A column of ids read from Arrow.
#[derive(Debug)]
pub enum KeyColumn {
    Int(Int64Array),
    Text(ArrayRef),
}

impl KeyColumn {
    /// Reads `array` as ids; `what` names the argument or column in errors.
    pub fn try_new(array: &ArrayRef, what: &str) -> Result<Self> {
        match KeyKind::of(array.data_type()) {
            Some(KeyKind::Int) => {
                let a = cast(array, &DataType::Int64)?;
                Ok(KeyColumn::Int(a.as_primitive::<Int64Type>().clone()))
            }
            Some(KeyKind::Text) => Ok(KeyColumn::Text(cast(array, &DataType::Utf8)?)),
            None if array.data_type() == &DataType::Null => {
                Ok(KeyColumn::Int(Int64Array::new_null(array.len())))
            }
            None => plan_err!(
                "{what} must be an integer or text id, got {}",
                array.data_type()
            ),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match self {
            KeyColumn::Int(_) => KeyKind::Int,
            KeyColumn::Text(_) => KeyKind::Text,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            KeyColumn::Int(a) => a.len(),
            KeyColumn::Text(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id in row `i`, `None` when NULL.
    pub fn get(&self, i: usize) -> Option<KeyRef<'_>> {
        match self {
            KeyColumn::Int(a) => a.is_valid(i).then(|| KeyRef::Int(a.value(i))),
            KeyColumn::Text(a) => {
                let s = a.as_string::<i32>();
                s.is_valid(i).then(|| KeyRef::Text(s.value(i)))
            }
        }
    }
}

/// A stored id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    /// The id as text (integers in decimal).
    pub fn display(&self) -> String {
        match self {
            Key::Int(v) => v.to_string(),
            Key::Text(s) => s.clone(),
        }
    }

    pub fn as_ref(&self) -> KeyRef<'_> {
        match self {
            Key::Int(v) => KeyRef::Int(*v),
            Key::Text(s) => KeyRef::Text(s),
        }
    }
}

impl From<KeyRef<'_>> for Key {
    fn from(k: KeyRef<'_>) -> Self {
        match k {
            KeyRef::Int(v) => Key::Int(v),
            KeyRef::Text(s) => Key::Text(s.to_string()),
        }
    }
}

/// Dense indices 0..n for the ids a model was trained on, in first-seen order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "KeyIndexData", into = "KeyIndexData")]
pub struct KeyIndex {
    kind: KeyKind,
    keys: Vec<Key>,
    ints: HashMap<i64, u32>,
    texts: HashMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct KeyIndexData {
    kind: KeyKind,
    keys: Vec<Key>,
}

impl From<KeyIndexData> for KeyIndex {
    fn from(d: KeyIndexData) -> Self {
        let mut index = KeyIndex::new(d.kind);
        for k in &d.keys {
            index.insert(k.as_ref());
        }
        index
    }
}

impl From<KeyIndex> for KeyIndexData {
    fn from(i: KeyIndex) -> Self {
        KeyIndexData {
            kind: i.kind,
            keys: i.keys,
        }
    }
}

impl KeyIndex {
    pub fn new(kind: KeyKind) -> Self {
        Self {
            kind,
            keys: Vec::new(),
            ints: HashMap::new(),
            texts: HashMap::new(),
        }
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key at index `i`.
    pub fn key(&self, i: usize) -> Option<&Key> {
        self.keys.get(i)
    }

    /// The index of `key`, adding it when new.
    pub fn insert(&mut self, key: KeyRef<'_>) -> u32 {
        if let Some(i) = self.get(key) {
            return i;
        }
        let i = self.keys.len() as u32;
        match key {
            KeyRef::Int(v) => {
                self.ints.insert(v, i);
            }
            KeyRef::Text(s) => {
                self.texts.insert(s.to_string(), i);
            }
        }
        self.keys.push(key.into());
        i
    }

    /// The index of `key`, `None` when the model never saw it.
    pub fn get(&self, key: KeyRef<'_>) -> Option<u32> {
        match key {
            KeyRef::Int(v) => self.ints.get(&v).copied(),
            KeyRef::Text(s) => self.texts.get(s).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn integer_and_text_columns() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(7), None, Some(-1)]));
        let c = KeyColumn::try_new(&ints, "user").unwrap();
        assert_eq!(c.kind(), KeyKind::Int);
        assert_eq!(c.get(0), Some(KeyRef::Int(7)));
        assert_eq!(c.get(1), None);
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
        let c = KeyColumn::try_new(&texts, "item").unwrap();
        assert_eq!(c.get(0), Some(KeyRef::Text("a")));
        assert_eq!(c.get(1), None);
        let floats: ArrayRef = Arc::new(datafusion::arrow::array::Float64Array::from(vec![1.0]));
        let err = KeyColumn::try_new(&floats, "item").unwrap_err().to_string();
        assert!(err.contains("item must be an integer or text id"), "{err}");
    }

    #[test]
    fn index_round_trips_through_bincode() {
        let mut idx = KeyIndex::new(KeyKind::Text);
        assert_eq!(idx.insert(KeyRef::Text("x")), 0);
        assert_eq!(idx.insert(KeyRef::Text("y")), 1);
        assert_eq!(idx.insert(KeyRef::Text("x")), 0);
        let bytes = bincode::serialize(&idx).unwrap();
        let back: KeyIndex = bincode::deserialize(&bytes).unwrap();
        assert_eq!(back.get(KeyRef::Text("y")), Some(1));
        assert_eq!(back.get(KeyRef::Text("z")), None);
        assert_eq!(back.len(), 2);
    }
}
