//! The manifest parser over arbitrary bytes: never panics, and whatever it
//! accepts survives a round trip (what Weir writes, Weir reads back the same).

#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_stage::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data) {
        let bytes = manifest.to_bytes();
        let again = Manifest::parse(&bytes)
            .unwrap_or_else(|e| panic!("a parsed manifest does not parse again: {e}"));
        assert_eq!(again.to_bytes(), bytes, "the round trip changes the manifest");
    }
});
