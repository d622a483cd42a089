//! The golden cases under `cases/`, run natively through the SDK's chunk
//! loop with the shipped dictionary; `tests/it/spellcheck.rs` runs the same
//! files through the built component and the real `weir run`.

#[test]
fn golden_cases_match() {
    weir_guest::testing::assert_cases(
        || spellcheck::SpellCheck::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets")),
        concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
    );
}
