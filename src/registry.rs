//! The model registry: named, trained models of a session, backed by the model store directory.
//!
//! Every model lives in `<store>/<name>.tqm` (see [`crate::store`]), so models created by one
//! session or script are found by the next. Loaded models are cached in memory. Model types come
//! from [`trustql_udfs::model_types`]; nothing here knows any particular type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use trustql_udfs::model::{LoadedModel, ModelCatalog, ModelType};

use crate::store::{self, ModelHeader};

/// The models found in a store, with their files, and the files that could not be read.
pub type Listing = (Vec<(ModelHeader, PathBuf)>, Vec<String>);

/// Named models of a model store directory.
pub struct ModelRegistry {
    dir: PathBuf,
    types: Vec<Arc<dyn ModelType>>,
    loaded: RwLock<HashMap<String, Arc<LoadedModel>>>,
    /// Where functions report progress, and the flag that stops them (set by the session).
    control: std::sync::OnceLock<(
        Option<crate::ProgressFn>,
        Arc<std::sync::atomic::AtomicBool>,
    )>,
}

impl std::fmt::Debug for ModelRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRegistry")
            .field("dir", &self.dir)
            .finish()
    }
}

/// Model names become file names, so they are restricted to a portable alphabet.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(DataFusionError::Plan(format!(
            "invalid model name '{name}': use letters, digits, '_', '-' and '.' (not first), at most 128 characters"
        )))
    }
}

impl ModelRegistry {
    /// A registry over `dir` (created when the first model is saved).
    pub fn new(dir: impl Into<PathBuf>, types: Vec<Arc<dyn ModelType>>) -> Self {
        Self {
            dir: dir.into(),
            types,
            loaded: RwLock::new(HashMap::new()),
            control: std::sync::OnceLock::new(),
        }
    }

    /// Connects the functions that use this registry to a session's progress output and cancel
    /// flag (the first call wins).
    pub fn set_control(
        &self,
        progress: Option<crate::ProgressFn>,
        cancel: Arc<std::sync::atomic::AtomicBool>,
    ) {
        let _ = self.control.set((progress, cancel));
    }

    /// The model store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model types this registry can train and load.
    pub fn types(&self) -> &[Arc<dyn ModelType>] {
        &self.types
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.{}", store::EXTENSION))
    }

    /// The model type called `name`, or an error listing the known types.
    pub fn model_type(&self, name: &str) -> Result<Arc<dyn ModelType>> {
        let lower = name.to_ascii_lowercase();
        self.types
            .iter()
            .find(|t| t.name() == lower)
            .cloned()
            .ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "unknown model type '{name}' (known types: {})",
                    self.type_names().join(", ")
                ))
            })
    }

    fn type_names(&self) -> Vec<&'static str> {
        self.types.iter().map(|t| t.name()).collect()
    }

    /// Whether the store holds a model of that name.
    pub fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Saves a trained model (atomically) and makes it available under its name.
    pub fn save(&self, model: LoadedModel) -> Result<Arc<LoadedModel>> {
        check_name(&model.name)?;
        let header = ModelHeader::new(
            &model.name,
            &model.model_type,
            model.options.clone(),
            model.training.clone(),
        );
        let payload = model.model.to_bytes()?;
        store::write_model(&self.path(&model.name), &header, &payload)?;
        let model = Arc::new(model);
        self.cache_write()?
            .insert(model.name.clone(), model.clone());
        Ok(model)
    }

    /// Removes a model; `Ok(false)` when there was none.
    pub fn drop_model(&self, name: &str) -> Result<bool> {
        self.cache_write()?.remove(name);
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(DataFusionError::Execution(format!(
                "could not remove {}: {e}",
                path.display()
            ))),
        }
    }

    /// Headers of every model in the store, sorted by name. Unreadable files are reported as
    /// errors in the second list rather than hiding the others.
    pub fn list(&self) -> Result<Listing> {
        let mut models = Vec::new();
        let mut problems = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((models, problems)),
            Err(e) => {
                return Err(DataFusionError::Execution(format!(
                    "could not list {}: {e}",
                    self.dir.display()
                )))
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_model = path.extension().is_some_and(|x| x == store::EXTENSION)
                && !entry.file_name().to_string_lossy().starts_with('.');
            if !is_model {
                continue;
            }
            match store::read_header(&path) {
                Ok(h) => models.push((h, path)),
                Err(e) => problems.push(e.to_string()),
            }
        }
        models.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok((models, problems))
    }

    /// Loads the header and model stored under `name`.
    pub fn load(&self, name: &str) -> Result<(ModelHeader, LoadedModel)> {
        let path = self.path(name);
        if !path.exists() {
            let (known, _) = self.list()?;
            let names: Vec<String> = known.into_iter().map(|(h, _)| h.name).collect();
            return Err(DataFusionError::Plan(format!(
                "unknown model '{name}' ({} in {}; CREATE MODEL makes one)",
                if names.is_empty() {
                    "there are no models".to_string()
                } else {
                    format!("models: {}", names.join(", "))
                },
                self.dir.display()
            )));
        }
        let (header, payload) = store::read_model(&path)?;
        let model_type = self.model_type(&header.model_type)?;
        let model = model_type.load(&header.options, &payload)?;
        let loaded = LoadedModel {
            name: header.name.clone(),
            model_type: header.model_type.clone(),
            options: header.options.clone(),
            training: header.training.clone(),
            model,
        };
        Ok((header, loaded))
    }

    fn cache_write(
        &self,
    ) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<LoadedModel>>>> {
        self.loaded
            .write()
            .map_err(|_| DataFusionError::Internal("model cache poisoned".to_string()))
    }
}

impl ModelCatalog for ModelRegistry {
    fn model(&self, name: &str) -> Result<Arc<LoadedModel>> {
        if let Some(m) = self
            .loaded
            .read()
            .map_err(|_| DataFusionError::Internal("model cache poisoned".to_string()))?
            .get(name)
        {
            return Ok(m.clone());
        }
        let (_, loaded) = self.load(name)?;
        let loaded = Arc::new(loaded);
        self.cache_write()?.insert(name.to_string(), loaded.clone());
        Ok(loaded)
    }

    fn progress(&self, line: &str) {
        if let Some((Some(p), _)) = self.control.get() {
            p(line)
        }
    }

    fn check_cancelled(&self) -> Result<()> {
        match self.control.get() {
            Some((_, cancel)) if cancel.load(std::sync::atomic::Ordering::Relaxed) => Err(
                DataFusionError::Execution("cancelled by the user".to_string()),
            ),
            _ => Ok(()),
        }
    }
}
