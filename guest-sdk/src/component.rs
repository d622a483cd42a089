//! The component glue behind [`export!`](crate::export): bindings for the
//! `weir:transform` world and the one live transform instance.
//!
//! Only this module touches wit-bindgen, and only in wasm builds: it
//! generates the world from the workspace's `wit/weir.wit` (the file the host
//! reads too), keeps the instance `init` built, and converts the chunk loop's
//! results into the WIT types. Transform authors never name anything here;
//! it is public only so the `export!` expansion in their crate can reach it.

use crate::transform::Transform;

/// Checks, in native builds, that an `export!` argument is a transform the
/// component could run, so a mistake in that line fails `cargo test` too.
pub fn check_exportable<T: Transform + 'static>(transform: T) {
    let _ = transform;
}

#[cfg(target_arch = "wasm32")]
pub use self::glue::*;

/// The generated bindings; `unsafe` and undocumented items are wit-bindgen's.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "transform",
        pub_export_macro: true,
        export_macro_name: "__export_transform_world",
        default_bindings_module: "weir_guest::component::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::RefCell;

    use super::bindings::weir::transform::types::{FieldSpec, Outcome, Processed};
    use crate::chunk::Instance;
    use crate::outcome;
    use crate::transform::Transform;

    /// The chunk loop with its transform's type erased, so one static can
    /// hold whatever transform the author exported.
    trait Chunks {
        fn process(&mut self, input: &str) -> outcome::Processed;
        fn fields(&self) -> Option<crate::FieldSpec>;
        fn finish(&mut self) -> Result<String, crate::Error>;
    }

    impl<T: Transform> Chunks for Instance<T> {
        fn process(&mut self, input: &str) -> outcome::Processed {
            Instance::process(self, input)
        }

        fn fields(&self) -> Option<crate::FieldSpec> {
            Instance::fields(self)
        }

        fn finish(&mut self) -> Result<String, crate::Error> {
            Instance::finish(self)
        }
    }

    thread_local! {
        /// A component instance is single-threaded; this is its transform.
        static INSTANCE: RefCell<Option<Box<dyn Chunks>>> = const { RefCell::new(None) };
    }

    /// The `init` export: configures `transform` and keeps it.
    pub fn init<T: Transform + 'static>(transform: T, config: &str) -> Result<(), String> {
        let instance = Instance::init(transform, config)?;
        INSTANCE.with_borrow_mut(|slot| *slot = Some(Box::new(instance)));
        Ok(())
    }

    /// The `process` export.
    ///
    /// # Panics
    ///
    /// Traps the instance if the host broke the contract by calling
    /// `process` before a successful `init`.
    pub fn process(input: &str) -> Processed {
        let processed = INSTANCE.with_borrow_mut(|slot| match slot {
            Some(instance) => instance.process(input),
            None => panic!("weir: `process` was called before a successful `init`"),
        });
        Processed {
            output: processed.output,
            outcomes: processed
                .outcomes
                .into_iter()
                .map(|outcome| match outcome {
                    outcome::Outcome::Emitted(count) => Outcome::Emitted(count),
                    outcome::Outcome::Failed(reason) => Outcome::Failed(reason),
                })
                .collect(),
        }
    }

    /// The `fields` export: what the transform `init` built declares.
    pub fn fields() -> Option<FieldSpec> {
        INSTANCE.with_borrow(|slot| {
            let spec = slot.as_ref()?.fields()?;
            Some(FieldSpec {
                reads: spec.reads,
                writes: spec.writes,
            })
        })
    }

    /// The `finish` export.
    pub fn finish() -> Result<String, String> {
        INSTANCE.with_borrow_mut(|slot| match slot {
            Some(instance) => instance.finish().map_err(String::from),
            None => Err("weir: `finish` was called before a successful `init`".to_owned()),
        })
    }
}
