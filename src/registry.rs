//! The model registry: named, trained models of a session, backed by the model store directory.
//!
//! Every model lives in `<store>/<name>.tqm` (see [`crate::store`]), so models created by one
//! session or script are found by the next. Loaded models are cached in memory. Model types come
//! from a [`trustql_udfs::Library`] (the session adds them); nothing here knows any particular
//! type.

use datafusion::common::{exec_err, plan_datafusion_err, plan_err};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use datafusion::error::{DataFusionError, Result};
use trustql_udfs::common::progress::StatusSink;
use trustql_udfs::model::{CancelToken, LoadedModel, ModelCatalog, ModelType};

use crate::store::{self, ModelHeader};

/// The models found in a store, with their files, and the files that could not be read.
pub type Listing = (Vec<(ModelHeader, PathBuf)>, Vec<String>);

/// A session's progress line output, status sink and Ctrl-C flag, as the registry's functions
/// reach them.
struct Control {
    progress: Option<crate::ProgressFn>,
    status: Option<StatusSink>,
    cancel: Arc<std::sync::atomic::AtomicBool>,
}

/// Named models of a model store directory.
pub struct ModelRegistry {
    dir: PathBuf,
    types: RwLock<Vec<Arc<dyn ModelType>>>,
    loaded: RwLock<HashMap<String, Cached>>,
    /// Bumped at the start of every statement ([`ModelRegistry::new_statement`]): a cached model
    /// is checked against its file once per statement, and cancel tokens know their statement.
    generation: Arc<std::sync::atomic::AtomicU64>,
    /// The cancelled flag of the statement running now (see [`CancelToken`]).
    statement_cancel: std::sync::Mutex<Arc<std::sync::atomic::AtomicBool>>,
    /// Where functions report progress lines and status, and the flag that stops them (set by
    /// the session).
    control: std::sync::OnceLock<Control>,
}

impl std::fmt::Debug for ModelRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRegistry")
            .field("dir", &self.dir)
            .finish()
    }
}

/// The longest model name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Model names become file names inside the store, so they are restricted to a portable
/// alphabet that cannot leave it: ASCII letters, digits, `_`, `-` and `.`, at most
/// [`MAX_NAME_LEN`] characters, not starting with `.` and never containing `..`. There is no
/// path separator, no NUL, no percent-encoding and no non-ASCII look-alike in that alphabet, so a
/// name from SQL or from a script names one file of the store and nothing else. Every entry
/// point (the DDL, every function taking a model name, `models()`, `model_info()`, the library
/// API) goes through the registry, which checks the name before touching the file system.
pub fn check_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        Some("it is empty".to_string())
    } else if name.len() > MAX_NAME_LEN {
        Some(format!(
            "it has {} bytes, more than {MAX_NAME_LEN}",
            name.len()
        ))
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some(format!("it contains {}", describe_char(c)))
    } else if name.starts_with('.') {
        Some("it starts with '.'".to_string())
    } else if name.contains("..") {
        Some("it contains '..'".to_string())
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => plan_err!(
            "invalid model name '{}': {why}; model names use ASCII letters, digits, '_', '-' and '.' \
             (not first, never '..'), at most {MAX_NAME_LEN} characters",
            name.escape_debug()
        ),
    }
}

fn describe_char(c: char) -> String {
    match c {
        '/' | '\\' => format!("a path separator '{c}'"),
        '\0' => "a NUL character".to_string(),
        c if c.is_ascii_graphic() || c == ' ' => format!("'{c}'"),
        c => format!("the character U+{:04X}", c as u32),
    }
}

/// What identifies one version of a model file: a file replaced by another process (even with
/// the same size in the same second) gets a new inode from the store's rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Some(Self {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        })
    }
}

/// A cached model, the identity of the file it was read from, and the statement generation in
/// which that identity was last confirmed.
struct Cached {
    model: Arc<LoadedModel>,
    file: Option<FileIdentity>,
    confirmed: u64,
}

impl ModelRegistry {
    /// A registry over `dir` (created when the first model is saved).
    pub fn new(dir: impl Into<PathBuf>, types: Vec<Arc<dyn ModelType>>) -> Self {
        Self {
            dir: dir.into(),
            types: RwLock::new(types),
            loaded: RwLock::new(HashMap::new()),
            generation: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            statement_cancel: std::sync::Mutex::new(Arc::new(std::sync::atomic::AtomicBool::new(
                false,
            ))),
            control: std::sync::OnceLock::new(),
        }
    }

    /// Connects the functions that use this registry to a session's progress output, status
    /// sink and cancel flag (the first call wins).
    pub fn set_control(
        &self,
        progress: Option<crate::ProgressFn>,
        status: Option<StatusSink>,
        cancel: Arc<std::sync::atomic::AtomicBool>,
    ) {
        let _ = self.control.set(Control {
            progress,
            status,
            cancel,
        });
    }

    /// The model store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The model types this registry can train and load.
    pub fn types(&self) -> Vec<Arc<dyn ModelType>> {
        match self.types.read() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Adds model types (a program's own, through [`crate::Session::extend`]); a name that is
    /// already known, or given twice, is refused and nothing is added.
    pub fn add_types(&self, types: &[Arc<dyn ModelType>]) -> Result<()> {
        let mut known = match self.types.write() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        let mut names: Vec<&str> = known.iter().map(|t| t.name()).collect();
        for t in types {
            if names.contains(&t.name()) {
                return plan_err!(
                    "a model type called '{}' already exists; model type names must be unique",
                    t.name()
                );
            }
            names.push(t.name());
        }
        known.extend(types.iter().cloned());
        Ok(())
    }

    /// The file of model `name`, after checking the name ([`check_name`]). A file that is a
    /// symbolic link is followed only when its target lies inside the store.
    fn path(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        let path = self.dir.join(format!("{name}.{}", store::EXTENSION));
        let is_link = std::fs::symlink_metadata(&path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if is_link {
            let inside = match (path.canonicalize(), self.dir.canonicalize()) {
                (Ok(target), Ok(dir)) => target.parent() == Some(dir.as_path()),
                _ => false,
            };
            if !inside {
                return plan_err!(
                    "model '{name}' is a link to a file outside the model store {}; refused",
                    self.dir.display()
                );
            }
        }
        Ok(path)
    }

    /// Marks the start of a statement: cached models are checked against their files again
    /// (once per statement), so a model replaced by another process is not served stale; when
    /// the session's cancel flag is set (the previous statement was cancelled), that
    /// statement's tokens are cancelled for good and the flag is cleared for the new statement;
    /// and models that the previous statement did not use leave the cache.
    ///
    /// The cache holds each model with what it builds on first use (uNN's user × tag table for
    /// PDP, NCF's tag × hidden table: hundreds of megabytes on Last.fm), so keeping every model
    /// a session ever used grew without bound over a script that goes through many (the
    /// explainer experiment's twelve reached 4 GB). Keeping those of the last statement serves
    /// the common run of statements on the same model from memory; a model used again later is
    /// read from its file again (tens of milliseconds) and rebuilds its tables on first use.
    pub fn new_statement(&self) {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        let mut current = match self.statement_cancel.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        if let Some(control) = self.control.get() {
            if control.cancel.swap(false, SeqCst) {
                current.store(true, SeqCst);
            }
        }
        *current = Arc::new(AtomicBool::new(false));
        let previous = self.generation.fetch_add(1, SeqCst);
        if let Ok(mut cache) = self.loaded.write() {
            cache.retain(|_, c| c.confirmed >= previous);
        }
    }

    /// The model type called `name`, or an error listing the known types.
    pub fn model_type(&self, name: &str) -> Result<Arc<dyn ModelType>> {
        let lower = name.to_ascii_lowercase();
        self.types()
            .iter()
            .find(|t| t.name() == lower)
            .cloned()
            .ok_or_else(|| {
                plan_datafusion_err!(
                    "unknown model type '{name}' (known types: {})",
                    self.type_names().join(", ")
                )
            })
    }

    fn type_names(&self) -> Vec<&'static str> {
        self.types().iter().map(|t| t.name()).collect()
    }

    /// Whether the store holds a model of that name (an error for an invalid name).
    pub fn exists(&self, name: &str) -> Result<bool> {
        Ok(self.path(name)?.exists())
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
        let path = self.path(&model.name)?;
        store::write_model(&path, &header, &payload)?;
        let model = Arc::new(model);
        let cached = Cached {
            model: model.clone(),
            file: FileIdentity::of(&path),
            confirmed: self.generation(),
        };
        self.cache_write()?.insert(model.name.clone(), cached);
        Ok(model)
    }

    /// The names of the models held in memory now (sorted): those the current or the previous
    /// statement used (see [`ModelRegistry::new_statement`]).
    pub fn cached(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.loaded.read() {
            Ok(cache) => cache.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Removes a model; `Ok(false)` when there was none.
    pub fn drop_model(&self, name: &str) -> Result<bool> {
        let path = self.path(name)?;
        self.cache_write()?.remove(name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => exec_err!("could not remove {}: {e}", path.display()),
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
            Err(e) => return exec_err!("could not list {}: {e}", self.dir.display()),
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
        let path = self.path(name)?;
        if !path.exists() {
            let (known, _) = self.list()?;
            let names: Vec<String> = known.into_iter().map(|(h, _)| h.name).collect();
            return plan_err!(
                "unknown model '{name}' ({} in {}; CREATE MODEL makes one)",
                if names.is_empty() {
                    "there are no models".to_string()
                } else {
                    format!("models: {}", names.join(", "))
                },
                self.dir.display()
            );
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

    /// The current statement generation. A registry outside a session (the library's
    /// `register_functions`) knows no statements, so every lookup checks the file.
    fn generation(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        if self.control.get().is_some() {
            self.generation.load(Relaxed)
        } else {
            self.generation.fetch_add(1, Relaxed) + 1
        }
    }

    fn cache_write(&self) -> Result<std::sync::RwLockWriteGuard<'_, HashMap<String, Cached>>> {
        self.loaded
            .write()
            .map_err(|_| DataFusionError::Internal("model cache poisoned".to_string()))
    }
}

impl ModelCatalog for ModelRegistry {
    fn model(&self, name: &str) -> Result<Arc<LoadedModel>> {
        let path = self.path(name)?;
        let generation = self.generation();
        let stale = {
            let cache = self
                .loaded
                .read()
                .map_err(|_| DataFusionError::Internal("model cache poisoned".to_string()))?;
            match cache.get(name) {
                Some(c) if c.confirmed == generation => return Ok(c.model.clone()),
                Some(c) => Some((c.model.clone(), c.file)),
                None => None,
            }
        };
        let file = FileIdentity::of(&path);
        if let Some((model, seen)) = stale {
            if file.is_some() && file == seen {
                if let Some(c) = self.cache_write()?.get_mut(name) {
                    c.confirmed = generation;
                }
                return Ok(model);
            }
        }
        let (_, loaded) = self.load(name)?;
        let loaded = Arc::new(loaded);
        self.cache_write()?.insert(
            name.to_string(),
            Cached {
                model: loaded.clone(),
                file,
                confirmed: generation,
            },
        );
        Ok(loaded)
    }

    fn progress(&self, line: &str) {
        if let Some(p) = self.control.get().and_then(|c| c.progress.as_ref()) {
            p(line)
        }
    }

    fn status_sink(&self) -> Option<StatusSink> {
        self.control.get().and_then(|c| c.status.clone())
    }

    fn check_cancelled(&self) -> Result<()> {
        self.cancel_token().check()
    }

    fn cancel_token(&self) -> CancelToken {
        let Some(request) = self.control.get().map(|c| &c.cancel) else {
            return CancelToken::never();
        };
        let statement = match self.statement_cancel.lock() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        };
        CancelToken::new(
            statement,
            request.clone(),
            self.generation.clone(),
            self.generation.load(std::sync::atomic::Ordering::SeqCst),
        )
    }
}
