//! Capabilities: what a model can do, asked for by type, without this module knowing any domain.
//!
//! It exists so that the model abstraction stays generic while functions need specific
//! interfaces: `score` needs a recommender, `embed` an audio encoder. A capability is a trait
//! that lives in its own domain (`recsys::recommender::Recommender`,
//! `audio::deep::AudioEncoder`); a model declares the capabilities it offers, and a function
//! asks a model for one by its trait object type:
//!
//! ```ignore
//! // in the model's `impl Model for MyModel { ... }`:
//! trustql_udfs::capabilities!(dyn Recommender);
//! // in a function:
//! let rec: Option<&dyn Recommender> = loaded.model.capability::<dyn Recommender>();
//! ```
//!
//! A new capability is a new trait in its domain; neither [`super::Model`] nor any other model
//! type changes. A function that needs a model's concrete type (the `lmer` functions read the
//! fit itself) uses [`super::Model`]'s `downcast_ref` instead.

use std::any::{Any, TypeId};

/// The casts from a model to the capability traits it offers, made by [`Capabilities::with`]
/// (usually through the [`capabilities!`](crate::capabilities) macro).
#[derive(Default)]
pub struct Capabilities {
    casts: Vec<Cast>,
}

struct Cast {
    /// The `TypeId` of the capability's trait object type (`dyn Recommender`).
    capability: TypeId,
    /// The capability's type name, for `DESCRIBE MODEL` and errors.
    name: &'static str,
    /// A `for<'a> fn(&'a dyn Any) -> Option<&'a C>` for that `C`.
    cast: Box<dyn Any + Send + Sync>,
}

/// The signature of a cast to capability `C`.
type CastFn<C> = for<'a> fn(&'a dyn Any) -> Option<&'a C>;

impl Capabilities {
    /// No capabilities.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds capability `C` (a trait object type such as `dyn Recommender`), reached through
    /// `cast`, which downcasts the model to its concrete type and coerces it to `&C`.
    pub fn with<C: ?Sized + 'static>(mut self, cast: CastFn<C>) -> Self {
        self.casts.push(Cast {
            capability: TypeId::of::<C>(),
            name: std::any::type_name::<C>(),
            cast: Box::new(cast),
        });
        self
    }

    /// `model` as capability `C`, when it offers it.
    pub fn get<'a, C: ?Sized + 'static>(&self, model: &'a dyn Any) -> Option<&'a C> {
        let cast = self
            .casts
            .iter()
            .find(|c| c.capability == TypeId::of::<C>())?;
        let cast = cast.cast.downcast_ref::<CastFn<C>>()?;
        cast(model)
    }

    /// The names of the capabilities (the traits' paths, e.g. `dyn trustql_udfs::...::Recommender`).
    pub fn names(&self) -> Vec<&'static str> {
        self.casts.iter().map(|c| c.name).collect()
    }
}

/// Declares the capabilities of a model type, inside its `impl Model for ... { }` block:
/// `capabilities!(dyn Recommender);` or `capabilities!(dyn A, dyn B);`. Each listed trait must
/// be implemented by the model type.
#[macro_export]
macro_rules! capabilities {
    ($($capability:ty),+ $(,)?) => {
        fn capabilities(&self) -> $crate::model::Capabilities {
            $crate::model::Capabilities::new()
                $(.with::<$capability>(|model| {
                    model
                        .downcast_ref::<Self>()
                        .map(|model| model as &$capability)
                }))+
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    trait Speaks {
        fn word(&self) -> &str;
    }
    trait Counts {
        fn count(&self) -> usize;
    }
    struct Parrot(String);
    impl Speaks for Parrot {
        fn word(&self) -> &str {
            &self.0
        }
    }
    impl Counts for Parrot {
        fn count(&self) -> usize {
            self.0.len()
        }
    }

    fn parrot_capabilities() -> Capabilities {
        Capabilities::new()
            .with::<dyn Speaks>(|m| m.downcast_ref::<Parrot>().map(|p| p as &dyn Speaks))
    }

    #[test]
    fn finds_declared_capabilities_only() {
        let p = Parrot("hello".into());
        let caps = parrot_capabilities();
        assert_eq!(caps.get::<dyn Speaks>(&p).map(|s| s.word()), Some("hello"));
        // Implemented but not declared: not offered.
        assert!(caps.get::<dyn Counts>(&p).is_none());
        // Declared for another concrete type: the cast fails, nothing is offered.
        assert!(caps.get::<dyn Speaks>(&5_u32).is_none());
        let both = parrot_capabilities()
            .with::<dyn Counts>(|m| m.downcast_ref::<Parrot>().map(|p| p as &dyn Counts));
        assert_eq!(both.get::<dyn Counts>(&p).map(|c| c.count()), Some(5));
        assert_eq!(both.names().len(), 2);
        assert!(both.names()[0].ends_with("Speaks"));
    }
}
