//! The native limit of `weir run` with the `normalize` transform, as the
//! issue that asked for it defines it: gunzip → `serde_json::Value` → the
//! same map → serialize → gzip level 6, on one thread, with no Weir code.
//! It reads the parts of a staged interval (the files, in order) and writes
//! one gzip file; `scripts/bench run` times it with `/usr/bin/time` next to
//! the `weir` binary on the same parts.
//!
//! The map is normalize's default: for each named top-level string field,
//! trim, collapse every run of whitespace to one space, lowercase. A record
//! that is not a JSON object, or whose field is not a string, is counted and
//! skipped (Weir would quarantine it); the benchmark data has none.
//!
//! Usage: weir-plain --field text [--field ...] --out OUT.ndjson.gz PART...

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok((records, skipped)) => {
            eprintln!("weir-plain: {records} records written, {skipped} skipped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weir-plain: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(u64, u64), String> {
    let mut fields = Vec::new();
    let mut out = None;
    let mut parts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--field" => fields.push(args.next().ok_or("--field needs a name")?),
            "--out" => out = Some(args.next().ok_or("--out needs a path")?),
            _ => parts.push(arg),
        }
    }
    let out = out.ok_or("--out is required")?;
    let file = File::create(&out).map_err(|e| format!("{out}: {e}"))?;
    let mut writer = GzEncoder::new(BufWriter::new(file), Compression::new(6));
    let (mut records, mut skipped) = (0, 0);
    let mut line = String::new();
    for part in &parts {
        let file = File::open(part).map_err(|e| format!("{part}: {e}"))?;
        let mut reader = BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file));
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| format!("{part}: {e}"))?;
            if read == 0 {
                break;
            }
            match map(&line, &fields) {
                Some(record) => {
                    serde_json::to_writer(&mut writer, &record).map_err(|e| e.to_string())?;
                    writer.write_all(b"\n").map_err(|e| e.to_string())?;
                    records += 1;
                }
                None => skipped += 1,
            }
        }
    }
    writer
        .finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| format!("{out}: {e}"))?;
    Ok((records, skipped))
}

/// The record on `line` with its `fields` normalized, or `None` if it is not
/// an object or a field is not a string.
fn map(line: &str, fields: &[String]) -> Option<Value> {
    let mut record: Value = serde_json::from_str(line).ok()?;
    let object = record.as_object_mut()?;
    for field in fields {
        match object.get_mut(field) {
            Some(Value::String(text)) => *text = normalize(text),
            Some(_) => return None,
            None => {}
        }
    }
    Some(record)
}

/// Trim, collapse whitespace runs to one space, lowercase.
fn normalize(text: &str) -> String {
    let mut collapsed = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.trim().chars() {
        if !c.is_whitespace() {
            collapsed.push(c);
            in_run = false;
        } else if !in_run {
            collapsed.push(' ');
            in_run = true;
        }
    }
    collapsed.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_the_named_string_fields_only() {
        let fields = ["text".to_owned()];
        let out = map(
            r#"{"id":1,"text":"  Hello   WORLD\t x ","other":" A "}"#,
            &fields,
        );
        // Compared as values: key order depends on whether the workspace
        // unifies serde_json's `preserve_order` feature into this build.
        let expected: serde_json::Value =
            serde_json::from_str(r#"{"id":1,"other":" A ","text":"hello world x"}"#).unwrap();
        assert_eq!(out, Some(expected));
        assert!(map(r#"{"text":3}"#, &fields).is_none());
        assert!(map("[1]", &fields).is_none());
    }
}
