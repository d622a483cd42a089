//! How serde_json spells a record it writes back, and how to write a changed
//! record in its input's spelling.
//!
//! serde_json (with `preserve_order` and `arbitrary_precision`) writes a
//! parsed record back as it came but for three things: whitespace between
//! tokens, exponents (`1E3` becomes `1e+3`) and the escapes `\u` and `\/`
//! (written as the characters themselves). [`respells_only_whitespace`] says
//! when a line has none of the last two, [`push_minified`] drops the first,
//! and [`splice`] writes a changed value keeping the input's spelling of
//! every part left equal. `Output::emit_from` and `Patch` both follow these
//! rules, so that the scan and the parse write the same bytes.
//!
//! This module imports only `bytes` and `error`; it knows nothing of scans,
//! patches, records or chunks.

use crate::bytes::{find, has};
use crate::error::Error;

/// Whether serde_json (with `preserve_order` and `arbitrary_precision`)
/// writes a parsed `line` back as `line` with at most the whitespace between
/// tokens dropped: no exponent (serde_json respells `1E3` and `1e5` as
/// `1e+3` and `1e+5`) and no `\u` or `\/` escape in a string (it writes
/// the characters themselves). May say no to a line that would survive;
/// never yes to one that would not.
pub(crate) fn respells_only_whitespace(line: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = line.get(i) {
        match b {
            b'"' => {
                i += 1;
                loop {
                    match line.get(i) {
                        Some(b'"') => break,
                        Some(b'\\') => match line.get(i + 1) {
                            Some(b'u' | b'/') | None => return false,
                            Some(_) => i += 2,
                        },
                        Some(_) => i += 1,
                        None => return false,
                    }
                }
            }
            b'E' | b'+' => return false,
            b'e' if i > 0 && matches!(line[i - 1], b'0'..=b'9' | b'.') => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

/// Writes `new` as compact JSON into `out`, copying from `raw` (the text
/// `old` was parsed from), without its whitespace, every value that `new`
/// leaves equal to `old`.
pub(crate) fn splice(
    out: &mut Vec<u8>,
    new: &serde_json::Value,
    old: &serde_json::Value,
    raw: &str,
) -> Result<(), Error> {
    use serde_json::Value;
    use serde_json::value::RawValue;
    use std::collections::BTreeMap;

    if new == old {
        push_minified(out, raw.as_bytes());
        return Ok(());
    }
    match (new, old) {
        (Value::Object(n), Value::Object(o)) => {
            let Ok(members) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw) else {
                return serde_json::to_writer(&mut *out, new).map_err(Error::from);
            };
            out.push(b'{');
            for (i, (key, value)) in n.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).map_err(Error::from)?;
                out.push(b':');
                match (o.get(key), members.get(key)) {
                    (Some(old_value), Some(raw_value)) => {
                        splice(out, value, old_value, raw_value.get())?;
                    }
                    _ => serde_json::to_writer(&mut *out, value).map_err(Error::from)?,
                }
            }
            out.push(b'}');
            Ok(())
        }
        (Value::Array(n), Value::Array(o)) => {
            let Ok(items) = serde_json::from_str::<Vec<&RawValue>>(raw) else {
                return serde_json::to_writer(&mut *out, new).map_err(Error::from);
            };
            out.push(b'[');
            for (i, value) in n.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match (o.get(i), items.get(i)) {
                    (Some(old_value), Some(raw_value)) => {
                        splice(out, value, old_value, raw_value.get())?;
                    }
                    _ => serde_json::to_writer(&mut *out, value).map_err(Error::from)?,
                }
            }
            out.push(b']');
            Ok(())
        }
        _ => serde_json::to_writer(&mut *out, new).map_err(Error::from),
    }
}

/// Appends JSON text without the whitespace between its tokens: copied in
/// runs between whitespace, strings whole.
pub(crate) fn push_minified(out: &mut Vec<u8>, raw: &[u8]) {
    out.reserve(raw.len());
    let mut run = 0;
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'"' => i = string_end(raw, i),
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.extend_from_slice(&raw[run..i]);
                i += 1;
                run = i;
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(&raw[run..]);
}

/// Where the string starting at `at` (a `"`) ends, just past its closing
/// quote, without checking it; the end of `raw` if it does not close.
fn string_end(raw: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    loop {
        match find(
            raw,
            i,
            |x| has(x, b'"') | has(x, b'\\'),
            |b| b == b'"' || b == b'\\',
        ) {
            Some(n) if raw[n] == b'"' => return n + 1,
            Some(n) => i = n + 2,
            None => return raw.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn compact_plain_records_take_the_fast_path_and_others_do_not() {
        for (line, fast) in [
            (
                r#"{"a":1,"b":"x y","c":[true,false,null],"d":1.50,"e":"\n\"\\"}"#,
                true,
            ),
            (r#"{"a": 1, "b" : [ 2 ,3 ]}"#, true),
            (r#"{"a":1E3}"#, false),
            (r#"{"a":1e3}"#, false),
            (r#"{"a":"\u00e9"}"#, false),
            (r#"{"a":"\/"}"#, false),
            (r#"{"true":true,"false":false,"x":"e+E 1e3"}"#, true),
        ] {
            assert_eq!(respells_only_whitespace(line.as_bytes()), fast, "{line}");
            if fast {
                // The fast path's promise: serde_json writes it back as is,
                // but for whitespace between tokens.
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
                let mut minified = Vec::new();
                push_minified(&mut minified, line.as_bytes());
                assert_eq!(
                    serde_json::to_string(&v).unwrap_or_default().into_bytes(),
                    minified
                );
            }
        }
    }

    #[test]
    fn minifying_keeps_strings_whole() {
        let mut out = Vec::new();
        push_minified(&mut out, br#" { "a b" : [ 1 , "\" x" ] , "c":"\\" } "#);
        assert_eq!(out, br#"{"a b":[1,"\" x"],"c":"\\"}"#);
    }
}
