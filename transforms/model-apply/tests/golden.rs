//! The golden cases under `cases/`, run natively through the SDK's chunk
//! loop with the example models in `assets/`; `tests/it/model_apply.rs`
//! runs the same files through the built component and the real `weir run`.

#[test]
fn golden_cases_match() {
    weir_guest::testing::assert_cases(
        || model_apply::ModelApply::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")),
        concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
    );
}
