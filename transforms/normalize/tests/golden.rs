//! The golden cases under `cases/`, run natively through the SDK's chunk
//! loop; the host's golden tests run the same files against the component.

#[test]
fn golden_cases_match() {
    weir_guest::testing::assert_cases(
        normalize::transform,
        concat!(env!("CARGO_MANIFEST_DIR"), "/cases"),
    );
}
