//! The golden cases under `cases/`, run natively through the SDK's chunk
//! loop with `assets/` as the assets directory; `tests/it/categorize.rs`
//! runs the same files through the built component and the real `weir run`.

#[test]
fn golden_cases_match() {
    weir_guest::testing::assert_cases(
        || categorize::Categorize::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")),
        concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
    );
}
