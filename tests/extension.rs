//! A program extends trustql from outside the crate, through the public API only: a model type
//! with a capability of its own and a scalar function that uses it, exactly as
//! `docs/ARCHITECTURE.md` walks through ("Add a model type", "Add a scalar function"). The test
//! is that file's three steps for each, done in one file:
//!
//! 1. the model (`impl Model`, declaring its capability with `capabilities!`) and its type
//!    (`impl ModelType`, options declared once in an `OptionSpec` list, read into a typed
//!    parameter struct);
//! 2. the function (`impl ScalarUDFImpl`, holding a `CatalogRef`, resolving a literal model
//!    name while planning and asking the model for the capability);
//! 3. registration (`Library::new(session.catalog())`, `model_type`, `scalar`,
//!    `Session::extend`).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, plan_err, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use trustql::trustql_udfs::capabilities;
use trustql::trustql_udfs::model::{
    CatalogRef, Model, ModelOptions, ModelType, OptionKind, OptionSpec, TrainContext, Trained,
    TrainingData,
};
use trustql::trustql_udfs::Library;
use trustql::{Session, SessionOptions};

// ---- Step 1: the model type ---------------------------------------------------------------

/// The toy capability: a model that predicts one number.
pub trait Constant: Send + Sync {
    fn constant(&self) -> f64;
}

/// A model that predicts `scale` × the mean of the `value` column of its training rows.
#[derive(Debug)]
struct MeanModel {
    prediction: f64,
}

impl Model for MeanModel {
    fn describe(&self) -> Vec<(String, String)> {
        vec![("prediction".to_string(), self.prediction.to_string())]
    }

    fn to_bytes(&self) -> Result<Vec<u8>> {
        Ok(self.prediction.to_le_bytes().to_vec())
    }

    capabilities!(dyn Constant);
}

impl Constant for MeanModel {
    fn constant(&self) -> f64 {
        self.prediction
    }
}

/// The options of `toy_mean`, declared once: defaults, ranges and docs.
const OPTIONS: &[OptionSpec] = &[OptionSpec {
    name: "scale",
    kind: OptionKind::Float {
        min: 0.0,
        max: 1000.0,
    },
    default: Some("1"),
    doc: "factor applied to the mean",
}];

/// The typed parameters of `toy_mean`, read from validated options.
struct MeanParams {
    scale: f64,
}

impl TryFrom<&ModelOptions> for MeanParams {
    type Error = datafusion::error::DataFusionError;

    fn try_from(options: &ModelOptions) -> Result<Self> {
        Ok(MeanParams {
            scale: options.value("scale")?,
        })
    }
}

struct MeanType;

impl ModelType for MeanType {
    fn name(&self) -> &'static str {
        "toy_mean"
    }

    fn description(&self) -> &'static str {
        "predicts scale × the mean of the value column"
    }

    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }

    fn train(&self, data: &TrainingData, ctx: &TrainContext<'_>) -> Result<Trained> {
        let params = MeanParams::try_from(ctx.options)?;
        let column = data.column("toy_mean", "value")?;
        let (mut sum, mut n) = (0.0, 0usize);
        for batch in &data.batches {
            let values =
                datafusion::arrow::compute::cast(batch.column(column), &DataType::Float64)?;
            let values = values.as_primitive::<Float64Type>();
            for v in values.iter().flatten() {
                sum += v;
                n += 1;
            }
        }
        if n == 0 {
            return plan_err!("toy_mean needs at least one value");
        }
        Ok(Trained {
            model: Box::new(MeanModel {
                prediction: params.scale * sum / n as f64,
            }),
            training: BTreeMap::from([("rows".to_string(), n.to_string())]),
        })
    }

    fn load(&self, _options: &ModelOptions, bytes: &[u8]) -> Result<Box<dyn Model>> {
        let Ok(bytes) = <[u8; 8]>::try_from(bytes) else {
            return exec_err!("a toy_mean model is 8 bytes, got {}", bytes.len());
        };
        Ok(Box::new(MeanModel {
            prediction: f64::from_le_bytes(bytes),
        }))
    }
}

// ---- Step 2: the function -----------------------------------------------------------------

/// `toy_predict(model)`: what a model with the `Constant` capability predicts.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToyPredict {
    signature: Signature,
    catalog: CatalogRef,
}

impl ToyPredict {
    fn new(catalog: CatalogRef) -> Self {
        Self {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Stable),
            catalog,
        }
    }

    /// What model `name` predicts, or an error naming the problem.
    fn predict(&self, name: &str) -> Result<f64> {
        let model = self.catalog.model(name)?;
        match model.model.capability::<dyn Constant>() {
            Some(c) => Ok(c.constant()),
            None => plan_err!(
                "toy_predict: model '{name}' is a '{}' model, which predicts no constant",
                model.model_type
            ),
        }
    }
}

impl ScalarUDFImpl for ToyPredict {
    fn name(&self) -> &str {
        "toy_predict"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if let ColumnarValue::Scalar(ScalarValue::Utf8(name)) = &args.args[0] {
            let value = name.as_deref().map(|n| self.predict(n)).transpose()?;
            return Ok(ColumnarValue::Scalar(ScalarValue::Float64(value)));
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let names = arrays[0].as_string::<i32>();
        let out: Float64Array = names
            .iter()
            .map(|n| n.map(|n| self.predict(n)).transpose())
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(toy_doc("toy_predict(model)"))
    }
}

/// Documentation for the toy functions (a real extension would use `#[user_doc]`).
fn toy_doc(syntax: &'static str) -> &'static Documentation {
    static DOCS: std::sync::Mutex<BTreeMap<&'static str, &'static Documentation>> =
        std::sync::Mutex::new(BTreeMap::new());
    let mut docs = DOCS.lock().unwrap();
    docs.entry(syntax).or_insert_with(|| {
        Box::leak(Box::new(
            Documentation::builder(
                DocSection {
                    include: true,
                    label: "Toy Functions",
                    description: None,
                },
                "A function added by a program that extends trustql.",
                syntax,
            )
            .with_sql_example(format!("```sql\n> SELECT {syntax};\n```"))
            .build(),
        ))
    })
}

// ---- Step 3: registration -----------------------------------------------------------------

fn extended_session(dir: &std::path::Path) -> Session {
    let session = Session::with_options(SessionOptions {
        model_dir: dir.to_path_buf(),
        progress: None,
        status: None,
    })
    .unwrap();
    let mut lib = Library::new(session.catalog());
    lib.model_type(MeanType);
    lib.scalar(ToyPredict::new(CatalogRef(lib.catalog())));
    session.extend(lib).unwrap();
    session
}

// ---- The test -----------------------------------------------------------------------------

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let c = b.column_by_name(column).unwrap();
        let c = datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap();
        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    out
}

fn one_float(batches: &[RecordBatch]) -> Option<f64> {
    let c = batches[0].column(0).as_primitive::<Float64Type>();
    c.is_valid(0).then(|| c.value(0))
}

#[tokio::test]
async fn a_model_type_and_a_function_added_from_outside_work_like_trustqls_own() {
    let dir = tempfile::tempdir().unwrap();
    let session = extended_session(dir.path());

    // The type is listed with its options, as trustql's own types are.
    let types = session
        .execute("SELECT option, \"default\" FROM model_types() WHERE \"type\" = 'toy_mean'")
        .await
        .unwrap();
    assert_eq!(strings(&types, "option"), ["scale"]);
    assert_eq!(strings(&types, "default"), ["1"]);
    let shown = session.execute("SHOW MODEL TYPES").await.unwrap();
    assert!(strings(&shown, "type").contains(&"toy_mean".to_string()));

    // Options are validated from the spec: the error names the option and the range.
    let e = session
        .execute(
            "CREATE MODEL bad OPTIONS (type = 'toy_mean', scale = -1) \
             AS SELECT * FROM (VALUES (1.0)) AS t(value)",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("option 'scale' expects a number from 0 to 1000"),
        "{e}"
    );

    // Training through SQL, the default and a given option.
    session
        .execute(
            "CREATE MODEL m OPTIONS (type = 'toy_mean') \
             AS SELECT * FROM (VALUES (1.0), (2.0), (6.0)) AS t(value)",
        )
        .await
        .unwrap();
    session
        .execute(
            "CREATE MODEL m2 OPTIONS (type = 'toy_mean', scale = 0.5) \
             AS SELECT * FROM (VALUES (1.0), (2.0), (6.0)) AS t(value)",
        )
        .await
        .unwrap();
    let p = session.execute("SELECT toy_predict('m')").await.unwrap();
    assert_eq!(one_float(&p), Some(3.0));
    let p = session
        .execute("SELECT toy_predict(name) FROM (VALUES ('m2')) AS t(name)")
        .await
        .unwrap();
    assert_eq!(one_float(&p), Some(1.5));

    // A trustql model without the capability is refused by name.
    session
        .execute(
            "CREATE MODEL pop OPTIONS (type = 'mostpop') \
             AS SELECT * FROM (VALUES (1, 10), (2, 10)) AS t(\"user\", item)",
        )
        .await
        .unwrap();
    let e = session
        .execute("SELECT toy_predict('pop')")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model 'pop' is a 'mostpop' model, which predicts no constant"),
        "{e}"
    );
    // And trustql's functions refuse the toy model the same way.
    let e = session
        .execute("SELECT score('m', 1, 10)")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a recommender"), "{e}");

    // The function is documented and listed with trustql's own (what \h reads).
    let lib = session.library();
    let doc = lib.documentation("toy_predict").unwrap();
    assert_eq!(doc.syntax_example, "toy_predict(model)");
    assert!(lib.model_types().iter().any(|t| t.name() == "toy_mean"));
    assert!(lib.documentation("score").is_some());

    // The model is in the store: a new session with the extension loads it.
    drop(session);
    let again = extended_session(dir.path());
    let p = again.execute("SELECT toy_predict('m')").await.unwrap();
    assert_eq!(one_float(&p), Some(3.0));
    let described = again.execute("DESCRIBE MODEL m").await.unwrap();
    assert!(!described.is_empty());
}

#[tokio::test]
async fn clashing_and_undocumented_extensions_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let session = extended_session(dir.path());

    // The same type and function again: refused by name.
    let mut lib = Library::new(session.catalog());
    lib.model_type(MeanType);
    let e = session.extend(lib).unwrap_err().to_string();
    assert!(
        e.contains("a model type called 'toy_mean' already exists"),
        "{e}"
    );
    let mut lib = Library::new(session.catalog());
    lib.scalar(ToyPredict::new(CatalogRef(lib.catalog())));
    let e = session.extend(lib).unwrap_err().to_string();
    assert!(
        e.contains("a function called 'toy_predict' already exists"),
        "{e}"
    );

    // A name of DataFusion's own (`abs`) is refused too.
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Abs(Signature, bool);
    impl ScalarUDFImpl for Abs {
        fn name(&self) -> &str {
            "abs"
        }
        fn signature(&self) -> &Signature {
            &self.0
        }
        fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
            Ok(DataType::Float64)
        }
        fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
            Ok(ColumnarValue::Scalar(ScalarValue::Float64(None)))
        }
        fn documentation(&self) -> Option<&Documentation> {
            (self.1).then(|| toy_doc("abs(x)"))
        }
    }
    // Undocumented: refused before the name is looked at.
    let mut lib = Library::new(session.catalog());
    lib.scalar(Abs(Signature::any(1, Volatility::Immutable), false));
    let e = session.extend(lib).unwrap_err().to_string();
    assert!(e.contains("function 'abs' has no documentation"), "{e}");
    // Documented: refused by name.
    let mut lib = Library::new(session.catalog());
    lib.scalar(Abs(Signature::any(1, Volatility::Immutable), true));
    let e = session.extend(lib).unwrap_err().to_string();
    assert!(e.contains("a function called 'abs' already exists"), "{e}");

    // The session still works as before: abs is DataFusion's, toy_predict the extension's.
    let r = session.execute("SELECT abs(-2.0)").await.unwrap();
    assert_eq!(one_float(&r), Some(2.0));
    assert_eq!(
        session
            .library()
            .functions()
            .iter()
            .filter(|f| f.0 == "toy_predict")
            .count(),
        1
    );
}
