//! The golden cases under `cases/`, run natively through the SDK's chunk
//! loop. `weir test` runs the same files against the built component.

#[test]
fn golden_cases_match() {
    weir_guest::testing::assert_cases(
        {{crate}}::transform,
        concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
    );
}
