//! The guest SDK's record scan (`Record::members`, `Patch`) against parsing
//! the record with serde_json, over arbitrary text: whatever the scan
//! accepts parses; a field it finds is the value the parse finds there; and
//! a record patched through the scan is written exactly as `emit_from`
//! writes the same change made to the parsed record.
//!
//! The host's record check is held to the same judge: its quick scan
//! (`check_record`) gives the verdict of the full parse
//! (`check_record_by_parse`) on every input.
//!
//! The first byte picks the field path and whether the field is changed or
//! set to the value it has (which `emit_from` may keep in its old spelling);
//! the rest is the record. Records
//! with repeated keys are skipped: staging refuses them, so no guest sees
//! one, and the scan copies them where a parse keeps one.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use weir_stage::batch::record::{check_record, check_record_by_parse};
use weir_guest::{FieldPath, Patch, testing};

const PATHS: [&str; 4] = ["a", "text", "a.b", "a.b.c"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    assert_eq!(
        check_record(rest).is_ok(),
        check_record_by_parse(rest).is_ok(),
        "the record check's quick scan and the parse disagree on {:?}",
        String::from_utf8_lossy(rest)
    );
    let Ok(line) = std::str::from_utf8(rest) else {
        return;
    };
    if line.contains('\n') || has_repeated_keys(line) {
        return;
    }
    let same = pick & 0x80 != 0;
    let path = FieldPath::try_from(PATHS[usize::from(pick) % PATHS.len()].to_owned())
        .unwrap_or_else(|e| panic!("{e}"));
    let parsed = serde_json::from_str::<Value>(line);
    // Through the scan: the located value, then a change and a new key.
    let mut located = None;
    let patched = testing::with_record(line, |record, output| {
        let members = record.members().ok()?;
        assert!(parsed.is_ok(), "the scan accepted what does not parse: {line:?}");
        let mut patch = Patch::new(members);
        let found = patch.locate(&path).ok()?;
        located = Some(found.as_ref().map(|f| f.text().to_owned()));
        if let Some(found) = &found {
            let new = if same {
                serde_json::from_str::<Value>(found.text()).unwrap_or_else(|e| panic!("{e}"))
            } else {
                Value::from("changed")
            };
            patch.replace(found, &new).ok()?;
        }
        patch.set("added", &[1, 2]).ok()?;
        output.emit_patched(patch);
        Some(())
    });
    let Some(patched) = patched else {
        return;
    };
    // Through the parse: the same change.
    let mut value = parsed.unwrap_or_else(|e| panic!("{e}"));
    let found = path.find_mut(&mut value).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    match (located.flatten(), found) {
        (Some(text), Some(found)) => {
            let text: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&text, found, "the scan found another value at {path}: {line:?}");
            if !same {
                *found = Value::from("changed");
            }
        }
        (None, None) => {}
        (ours, theirs) => panic!("at {path}, the scan found {ours:?}, the parse {theirs:?}: {line:?}"),
    }
    let Value::Object(object) = &mut value else {
        panic!("the scan took a non-object for a record: {line:?}");
    };
    object.insert("added".to_owned(), Value::from(vec![1, 2]));
    let expected = testing::with_record(line, |record, output| output.emit_from(&value, record).ok());
    assert_eq!(Some(patched), expected, "{line:?}");
});

/// Whether the host's record check refuses `line` for a repeated key.
fn has_repeated_keys(line: &str) -> bool {
    check_record(line.as_bytes())
        .is_err_and(|problem| problem.to_string().contains("duplicate key"))
}
