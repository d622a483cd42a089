//! Writes the prebuilt delete index of a dictionary, for the transform's
//! `index` setting: the index an instance would otherwise build at start.
//!
//!     cargo run --release -p spellcheck --example build-index -- \
//!         DICTIONARY.txt OUT.index [MAX_EDIT_DISTANCE (default 2)]

use spellcheck::dictionary::{Dictionary, text_sha256};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dictionary, out, distance) = match args.as_slice() {
        [d, o] => (d, o, 2),
        [d, o, n] => (
            d,
            o,
            n.parse()
                .map_err(|e| format!("MAX_EDIT_DISTANCE {n}: {e}"))?,
        ),
        _ => return Err("usage: build-index DICTIONARY.txt OUT.index [MAX_EDIT_DISTANCE]".into()),
    };
    let text = std::fs::read_to_string(dictionary).map_err(|e| format!("{dictionary}: {e}"))?;
    let digest = text_sha256(&text);
    let built = Dictionary::parse(&text, distance).map_err(|e| format!("{dictionary}: {e}"))?;
    let bytes = built.index_bytes(digest);
    std::fs::write(out, &bytes).map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "wrote {out}: the delete index of {} words (distance {distance}), {} bytes",
        built.len(),
        bytes.len()
    );
    Ok(())
}
