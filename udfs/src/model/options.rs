//! Model options: declared once per model type, validated once into a checked map.
//!
//! `CREATE MODEL m OPTIONS (dim = 64, lr = 0.001, tags = 'item_tags')` gives raw values; each model
//! type declares its options as [`OptionSpec`]s (kind, range, default, doc), and
//! [`ModelOptions::validate`] checks every value against them, fills in defaults and reports the
//! first problem by name. Model types then read typed values that are known to be valid.
//!
//! Each model type declares its options once, as a `&'static [OptionSpec]`, and reads them into
//! one typed parameter struct (`impl TryFrom<&ModelOptions> for XxxParams`) with
//! [`ModelOptions::value`] and [`ModelOptions::optional`]. A default is written only in the spec:
//! `SHOW MODEL TYPES` shows it, [`ModelOptions::validate`] fills it in, and `value` reads it, so
//! there is no second default to drift (an option read with `value` that has no default is a bug
//! in the spec and is reported as one).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Why `OPTIONS (...)` were refused, or a validated value could not be read as a Rust type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown option '{name}' for model type '{model_type}' (valid options: {valid})")]
    Unknown {
        name: String,
        model_type: String,
        valid: String,
    },
    #[error("option '{0}' is given twice")]
    GivenTwice(String),
    #[error("option '{name}' expects {expected}, got {got}")]
    Expected {
        name: String,
        expected: String,
        got: String,
    },
    #[error("internal error: bad default for '{name}': {reason}")]
    BadDefault {
        name: String,
        reason: Box<OptionError>,
    },
    /// A validated value read as a Rust type its spec's kind does not give.
    #[error("expected {expected}, got {got}")]
    WrongType { expected: String, got: String },
}

/// Refused options are planning errors (`CREATE MODEL` fails before any work).
impl From<OptionError> for datafusion::error::DataFusionError {
    fn from(e: OptionError) -> Self {
        datafusion::error::DataFusionError::Plan(e.to_string())
    }
}

/// What values an option takes.
#[derive(Debug, Clone, Copy)]
pub enum OptionKind {
    /// An integer in `[min, max]`.
    Int {
        min: i64,
        max: i64,
    },
    /// A finite number in `[min, max]`.
    Float {
        min: f64,
        max: f64,
    },
    Bool,
    /// Free text.
    Text,
    /// One of a fixed set of words (case-insensitive; stored lower-case).
    Choice(&'static [&'static str]),
    /// The name of a table or view the model type reads at training time.
    Table,
}

/// One option of a model type.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    /// The default as it would be written in OPTIONS; `None` means the option is optional and
    /// absent unless given.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// A value as written in `OPTIONS (...)`, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawOptionValue {
    /// A quoted string.
    Text(String),
    /// A number literal, as written.
    Number(String),
    Bool(bool),
    /// A bare word.
    Word(String),
}

impl fmt::Display for RawOptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawOptionValue::Text(s) => write!(f, "'{s}'"),
            RawOptionValue::Number(s) | RawOptionValue::Word(s) => write!(f, "{s}"),
            RawOptionValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A validated option value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OptionValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionValue::Int(v) => write!(f, "{v}"),
            OptionValue::Float(v) => write!(f, "{v}"),
            OptionValue::Bool(v) => write!(f, "{v}"),
            OptionValue::Text(v) => write!(f, "{v}"),
        }
    }
}

/// Validated options of one model: every declared option with a default is present.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelOptions {
    values: BTreeMap<String, OptionValue>,
}

impl ModelOptions {
    /// Checks `raw` (option names as written, lower-cased by the caller) against `specs`.
    /// Errors name the model type, the option and what was expected.
    pub fn validate(
        model_type: &str,
        specs: &[OptionSpec],
        raw: &[(String, RawOptionValue)],
    ) -> Result<Self, OptionError> {
        let mut values = BTreeMap::new();
        for (name, value) in raw {
            let Some(spec) = specs.iter().find(|s| s.name == name) else {
                let valid: Vec<&str> = specs.iter().map(|s| s.name).collect();
                return Err(OptionError::Unknown {
                    name: name.clone(),
                    model_type: model_type.to_string(),
                    valid: if valid.is_empty() {
                        "none besides type".to_string()
                    } else {
                        valid.join(", ")
                    },
                });
            };
            if values.contains_key(name) {
                return Err(OptionError::GivenTwice(name.clone()));
            }
            values.insert(name.clone(), check(spec, value)?);
        }
        for spec in specs {
            if values.contains_key(spec.name) {
                continue;
            }
            if let Some(default) = spec.default {
                let raw = match spec.kind {
                    OptionKind::Int { .. } | OptionKind::Float { .. } => {
                        RawOptionValue::Number(default.to_string())
                    }
                    _ => RawOptionValue::Text(default.to_string()),
                };
                let value = check(spec, &raw).map_err(|e| OptionError::BadDefault {
                    name: spec.name.to_string(),
                    reason: Box::new(e),
                })?;
                values.insert(spec.name.to_string(), value);
            }
        }
        Ok(Self { values })
    }

    /// All options, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &OptionValue)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get(&self, name: &str) -> Option<&OptionValue> {
        self.values.get(name)
    }

    /// An integer option (validated, so present when it has a default).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(OptionValue::Int(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(OptionValue::Float(v)) => Some(*v),
            Some(OptionValue::Int(v)) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(OptionValue::Bool(v)) => Some(*v),
            _ => None,
        }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(OptionValue::Text(v)) => Some(v),
            _ => None,
        }
    }
}

impl ModelOptions {
    /// Option `name` as `T`. Options read this way have a default in their spec, so after
    /// [`ModelOptions::validate`] they are present.
    pub fn value<T: FromOptionValue>(&self, name: &str) -> datafusion::error::Result<T> {
        match self.optional(name)? {
            Some(v) => Ok(v),
            None => Err(datafusion::error::DataFusionError::Internal(format!(
                "option '{name}' has no value: it needs a default in its model type's spec, or \
                 must be read with `optional`"
            ))),
        }
    }

    /// Option `name` as `T`, or `None` when it was not given and has no default.
    pub fn optional<T: FromOptionValue>(&self, name: &str) -> datafusion::error::Result<Option<T>> {
        self.values
            .get(name)
            .map(|v| T::from_value(v))
            .transpose()
            .map_err(|e| {
                datafusion::error::DataFusionError::Internal(format!("option '{name}': {e}"))
            })
    }
}

/// A Rust type that a validated option value converts to ([`ModelOptions::value`]).
pub trait FromOptionValue: Sized {
    /// The value as `Self`, or what went wrong (a spec whose kind does not match the type).
    fn from_value(value: &OptionValue) -> Result<Self, OptionError>;
}

macro_rules! integer_option {
    ($($t:ty),*) => {$(
        impl FromOptionValue for $t {
            fn from_value(value: &OptionValue) -> Result<Self, OptionError> {
                match value {
                    OptionValue::Int(v) => <$t>::try_from(*v)
                        .map_err(|_| wrong(concat!("an integer that fits ", stringify!($t)), value)),
                    other => Err(wrong("an integer", other)),
                }
            }
        }
    )*};
}
integer_option!(i64, u64, usize, u32);

impl FromOptionValue for f64 {
    fn from_value(value: &OptionValue) -> Result<Self, OptionError> {
        match value {
            OptionValue::Float(v) => Ok(*v),
            OptionValue::Int(v) => Ok(*v as f64),
            other => Err(wrong("a number", other)),
        }
    }
}

impl FromOptionValue for f32 {
    fn from_value(value: &OptionValue) -> Result<Self, OptionError> {
        f64::from_value(value).map(|v| v as f32)
    }
}

impl FromOptionValue for bool {
    fn from_value(value: &OptionValue) -> Result<Self, OptionError> {
        match value {
            OptionValue::Bool(v) => Ok(*v),
            other => Err(wrong("true or false", other)),
        }
    }
}

impl FromOptionValue for String {
    fn from_value(value: &OptionValue) -> Result<Self, OptionError> {
        match value {
            OptionValue::Text(v) => Ok(v.clone()),
            other => Err(wrong("text", other)),
        }
    }
}

fn wrong(expected: &str, got: &OptionValue) -> OptionError {
    OptionError::WrongType {
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

fn check(spec: &OptionSpec, raw: &RawOptionValue) -> Result<OptionValue, OptionError> {
    let name = spec.name;
    let text = match raw {
        RawOptionValue::Text(s) | RawOptionValue::Number(s) | RawOptionValue::Word(s) => s.trim(),
        RawOptionValue::Bool(b) => {
            return match spec.kind {
                OptionKind::Bool => Ok(OptionValue::Bool(*b)),
                _ => Err(OptionError::Expected {
                    name: name.to_string(),
                    expected: expected(spec),
                    got: raw.to_string(),
                }),
            }
        }
    };
    let bad = || OptionError::Expected {
        name: name.to_string(),
        expected: expected(spec),
        got: raw.to_string(),
    };
    match spec.kind {
        OptionKind::Int { min, max } => {
            let v: i64 = text.parse().map_err(|_| bad())?;
            if v < min || v > max {
                return Err(bad());
            }
            Ok(OptionValue::Int(v))
        }
        OptionKind::Float { min, max } => {
            let v: f64 = text.parse().map_err(|_| bad())?;
            if !v.is_finite() || v < min || v > max {
                return Err(bad());
            }
            Ok(OptionValue::Float(v))
        }
        OptionKind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "on" | "1" => Ok(OptionValue::Bool(true)),
            "false" | "off" | "0" => Ok(OptionValue::Bool(false)),
            _ => Err(bad()),
        },
        OptionKind::Text | OptionKind::Table => {
            if text.is_empty() {
                return Err(bad());
            }
            Ok(OptionValue::Text(text.to_string()))
        }
        OptionKind::Choice(choices) => {
            let lower = text.to_ascii_lowercase();
            if choices.contains(&lower.as_str()) {
                Ok(OptionValue::Text(lower))
            } else {
                Err(bad())
            }
        }
    }
}

/// "an integer from 1 to 1024", "one of 'a', 'b'", ...
pub fn expected(spec: &OptionSpec) -> String {
    match spec.kind {
        OptionKind::Int { min, max } => match (min, max) {
            (i64::MIN, i64::MAX) => "an integer".to_string(),
            (min, i64::MAX) => format!("an integer ≥ {min}"),
            (min, max) => format!("an integer from {min} to {max}"),
        },
        OptionKind::Float { min, max } => {
            if min == f64::NEG_INFINITY && max == f64::INFINITY {
                "a finite number".to_string()
            } else if max == f64::INFINITY {
                format!("a number ≥ {min}")
            } else {
                format!("a number from {min} to {max}")
            }
        }
        OptionKind::Bool => "true or false".to_string(),
        OptionKind::Text => "a non-empty string".to_string(),
        OptionKind::Table => "the name of a table or view".to_string(),
        OptionKind::Choice(c) => {
            let quoted: Vec<String> = c.iter().map(|s| format!("'{s}'")).collect();
            format!("one of {}", quoted.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec {
            name: "dim",
            kind: OptionKind::Int { min: 1, max: 4096 },
            default: Some("64"),
            doc: "latent dimension",
        },
        OptionSpec {
            name: "lr",
            kind: OptionKind::Float {
                min: 0.0,
                max: f64::INFINITY,
            },
            default: Some("0.001"),
            doc: "learning rate",
        },
        OptionSpec {
            name: "solver",
            kind: OptionKind::Choice(&["cg", "cholesky"]),
            default: Some("cg"),
            doc: "",
        },
        OptionSpec {
            name: "tags",
            kind: OptionKind::Table,
            default: None,
            doc: "",
        },
    ];

    fn raw(v: &[(&str, RawOptionValue)]) -> Vec<(String, RawOptionValue)> {
        v.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn defaults_are_filled_and_values_typed() {
        let o = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[
                ("dim", RawOptionValue::Number("32".into())),
                ("solver", RawOptionValue::Text("CHOLESKY".into())),
            ]),
        )
        .unwrap();
        assert_eq!(o.int("dim"), Some(32));
        assert_eq!(o.float("lr"), Some(0.001));
        assert_eq!(o.text("solver"), Some("cholesky"));
        assert_eq!(o.text("tags"), None);
    }

    #[test]
    fn typed_values_come_from_the_spec_defaults() {
        let o = ModelOptions::validate("t", SPECS, &[]).unwrap();
        assert_eq!(o.value::<usize>("dim").unwrap(), 64);
        assert_eq!(o.value::<f64>("lr").unwrap(), 0.001);
        assert_eq!(o.value::<String>("solver").unwrap(), "cg");
        assert_eq!(o.optional::<String>("tags").unwrap(), None);
        // No default: `value` reports the spec bug by name.
        let e = o.value::<String>("tags").unwrap_err().to_string();
        assert!(e.contains("option 'tags' has no value"), "{e}");
        // A spec kind that does not match the Rust type is reported, not converted.
        let e = o.value::<bool>("dim").unwrap_err().to_string();
        assert!(e.contains("option 'dim': expected true or false"), "{e}");
    }

    #[test]
    fn errors_name_the_problem() {
        let e = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[("dimm", RawOptionValue::Number("3".into()))]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown option 'dimm' for model type 't'") && e.contains("dim, lr"),
            "{e}"
        );
        let e = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[("dim", RawOptionValue::Number("0".into()))]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "option 'dim' expects an integer from 1 to 4096, got 0");
        let e = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[("dim", RawOptionValue::Text("abc".into()))]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "option 'dim' expects an integer from 1 to 4096, got 'abc'"
        );
        let e = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[("solver", RawOptionValue::Word("lu".into()))]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "option 'solver' expects one of 'cg', 'cholesky', got lu");
        let e = ModelOptions::validate("t", SPECS, &raw(&[("lr", RawOptionValue::Bool(true))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects a number ≥ 0"), "{e}");
        let e = ModelOptions::validate(
            "t",
            SPECS,
            &raw(&[
                ("dim", RawOptionValue::Number("3".into())),
                ("dim", RawOptionValue::Number("4".into())),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "option 'dim' is given twice");
    }
}
