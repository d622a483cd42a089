//! Fields: a record cut down to the top-level fields a transform reads,
//! and a record patched with the fields it wrote (`field-spec` in
//! `wit/weir.wit`, `weir:transform@0.2.0`).
//!
//! Owns the byte rules of field mode. A projection is a JSON object of the
//! record's members whose keys are declared reads, each key and value
//! copied byte for byte, in the record's order. A patch is a JSON object of
//! declared writes; each of its values replaces the record's value of that
//! key where the record has it at top level, or becomes a new last member
//! where it does not (key and value as the patch spells them). Every other
//! byte of the record, whitespace included, is kept. Keys are compared once
//! unescaped (`"\u0074ext"` is `text`). Records are valid records
//! (staged or checked by [`check_text`]); a patch is checked with it before
//! it is applied. Fields cannot be removed: a patch's `null` is a value.
//!
//! Imports only [`record`](super::record).

use std::fmt;
use std::ops::Range;

use super::record::{RecordProblem, check_text, special_in_string};

/// Why a record could not be projected or patched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The record is not a JSON object the scan can read (a valid record
    /// always is).
    NotAnObject,
    /// The transform's output line is not a valid JSON object.
    BadPatch(RecordProblem),
    /// The patch sets a field the transform did not declare in `writes`.
    NotWritable(String),
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("the record is not a JSON object"),
            Self::BadPatch(problem) => write!(f, "its patch is not a JSON object: {problem}"),
            Self::NotWritable(key) => write!(
                f,
                "its patch sets field {key:?}, which is not among the fields it declared it writes"
            ),
        }
    }
}

/// Why a field spec is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecProblem {
    /// A name is the empty string.
    Empty(&'static str),
    /// A name is listed twice.
    Repeated(&'static str, String),
}

impl fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty(list) => write!(f, "`{list}` names the empty field"),
            Self::Repeated(list, name) => write!(f, "`{list}` names {name:?} twice"),
        }
    }
}

/// The fields a transform reads and writes, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    reads: Vec<String>,
    writes: Vec<String>,
}

/// Where a record's written fields and its end are, found while projecting
/// it: what [`Fields::patch`] needs, so the record is scanned once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Per entry of `writes`, the span of the record's value for it.
    values: Vec<Option<Range<usize>>>,
    /// Where the record's closing brace is.
    close: usize,
    /// Whether the record has any member.
    members: bool,
}

impl Fields {
    /// The spec `reads`/`writes`: names non-empty, none listed twice in one
    /// list (a name may be in both).
    pub fn new(reads: Vec<String>, writes: Vec<String>) -> Result<Fields, SpecProblem> {
        for (list, names) in [("reads", &reads), ("writes", &writes)] {
            for (i, name) in names.iter().enumerate() {
                if name.is_empty() {
                    return Err(SpecProblem::Empty(list));
                }
                if names[..i].contains(name) {
                    return Err(SpecProblem::Repeated(list, name.clone()));
                }
            }
        }
        Ok(Fields { reads, writes })
    }

    /// The fields read.
    pub fn reads(&self) -> &[String] {
        &self.reads
    }

    /// The fields written.
    pub fn writes(&self) -> &[String] {
        &self.writes
    }

    /// Appends the projection of `record` (without its line end) to `out`,
    /// with a line end, and returns where its written fields are.
    pub fn project(&self, record: &str, out: &mut String) -> Result<Located, FieldProblem> {
        let mut located = Located {
            values: vec![None; self.writes.len()],
            close: 0,
            members: false,
        };
        let start = out.len();
        out.push('{');
        let mut first = true;
        let scanned = walk(record, |member| {
            located.members = true;
            let key = member.key_text(record);
            if let Some(i) = self.writes.iter().position(|w| *w == *key) {
                located.values[i] = Some(member.value.clone());
            }
            if self.reads.iter().any(|r| *r == *key) {
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&record[member.key.clone()]);
                out.push(':');
                out.push_str(&record[member.value.clone()]);
            }
        });
        match scanned {
            Some(close) => {
                located.close = close;
                out.push_str("}\n");
                Ok(located)
            }
            None => {
                out.truncate(start);
                Err(FieldProblem::NotAnObject)
            }
        }
    }

    /// Appends `record` patched with `patch` (a transform's output line,
    /// without its line end) to `out`, with a line end. On error `out` is
    /// as it was.
    pub fn patch(
        &self,
        record: &str,
        located: &Located,
        patch: &str,
        out: &mut String,
    ) -> Result<(), FieldProblem> {
        check_text(patch).map_err(FieldProblem::BadPatch)?;
        let mut changes: Vec<Change> = Vec::new();
        let mut refused = None;
        walk(patch, |member| {
            if refused.is_some() {
                return;
            }
            let key = member.key_text(patch);
            match self.writes.iter().position(|w| *w == *key) {
                Some(i) => changes.push(Change {
                    at: located.values[i].clone(),
                    value: member.value.clone(),
                    key: member.key.clone(),
                }),
                None => refused = Some(key.into_owned()),
            }
        })
        .ok_or(FieldProblem::BadPatch(RecordProblem::NotAnObject("value")))?;
        if let Some(key) = refused {
            return Err(FieldProblem::NotWritable(key));
        }
        out.reserve(record.len() + patch.len() + 1);
        changes.sort_by_key(|c| c.at.as_ref().map_or(usize::MAX, |s| s.start));
        let mut at = 0;
        let mut members = located.members;
        for Change {
            at: span,
            value,
            key,
        } in &changes
        {
            match span {
                Some(span) => {
                    out.push_str(&record[at..span.start]);
                    out.push_str(&patch[value.clone()]);
                    at = span.end;
                }
                None => {
                    if at < located.close {
                        out.push_str(&record[at..located.close]);
                        at = located.close;
                    }
                    if members {
                        out.push(',');
                    }
                    members = true;
                    out.push_str(&patch[key.clone()]);
                    out.push(':');
                    out.push_str(&patch[value.clone()]);
                }
            }
        }
        out.push_str(&record[at..]);
        out.push('\n');
        Ok(())
    }
}

/// One value a patch sets.
struct Change {
    /// The span of the record's value it replaces; `None`: appended.
    at: Option<Range<usize>>,
    /// Its value in the patch.
    value: Range<usize>,
    /// Its key in the patch, with quotes.
    key: Range<usize>,
}

/// One top-level member of an object's text.
struct Member {
    /// The key with its quotes.
    key: Range<usize>,
    /// Whether the key holds escapes.
    escaped: bool,
    value: Range<usize>,
}

impl Member {
    /// The key once unescaped.
    fn key_text<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let raw = &text[self.key.clone()];
        if !self.escaped {
            return std::borrow::Cow::Borrowed(&raw[1..raw.len() - 1]);
        }
        serde_json::from_str::<String>(raw).map_or(std::borrow::Cow::Borrowed(raw), Into::into)
    }
}

/// Calls `each` with every top-level member of `text`, a JSON object, in
/// order; returns where its closing brace is, or `None` if `text` is not an
/// object the scan can read. Values are skipped, not checked: `text` is a
/// valid record.
fn walk(text: &str, mut each: impl FnMut(&Member)) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = space(bytes, 0);
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at);
    }
    loop {
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let (end, escaped) = skip_string(bytes, at)?;
        let key = at..end;
        at = space(bytes, end);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = space(bytes, at + 1);
        let value_end = skip_value(bytes, at)?;
        each(&Member {
            key,
            escaped,
            value: at..value_end,
        });
        at = space(bytes, value_end);
        match bytes.get(at)? {
            b',' => at = space(bytes, at + 1),
            b'}' => return Some(at),
            _ => return None,
        }
    }
}

fn space(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}

/// Past the string whose opening quote is at `at`, and whether it holds
/// escapes.
fn skip_string(bytes: &[u8], at: usize) -> Option<(usize, bool)> {
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        i = special_in_string(bytes, i)?;
        match bytes[i] {
            b'"' => return Some((i + 1, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => return None,
        }
    }
}

/// Past the value starting at `at`.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while let Some(&b) = bytes.get(i) {
                if matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\t' | b'\r') {
                    break;
                }
                i += 1;
            }
            (i > at).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(reads: &[&str], writes: &[&str]) -> Fields {
        let owned = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
        Fields::new(owned(reads), owned(writes)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn project(f: &Fields, record: &str) -> (String, Located) {
        let mut out = String::new();
        let located = f
            .project(record, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        (out, located)
    }

    /// `record` projected, then patched with `patch`.
    fn patched(f: &Fields, record: &str, patch: &str) -> Result<String, FieldProblem> {
        let (_, located) = project(f, record);
        let mut out = String::new();
        f.patch(record, &located, patch, &mut out).map(|()| out)
    }

    const AWKWARD: &str = r#"{"id":123456789012345678901234567890,"n":12.50,"e":1E3,"t\u0065xt":"Caf\u00e9  \"x\"","nested":{"text":"no","a":[1,{"b":"}"}]},"u":"日本","z":-0.0}"#;

    #[test]
    fn a_projection_copies_the_read_members_byte_for_byte_in_record_order() {
        let f = fields(&["z", "text", "nested", "absent"], &["text"]);
        let (out, _) = project(&f, AWKWARD);
        assert_eq!(
            out,
            "{\"t\\u0065xt\":\"Caf\\u00e9  \\\"x\\\"\",\"nested\":{\"text\":\"no\",\"a\":[1,{\"b\":\"}\"}]},\"z\":-0.0}\n"
        );
        let (none, _) = project(&fields(&["absent"], &[]), AWKWARD);
        assert_eq!(none, "{}\n");
        let (spaced, _) = project(
            &fields(&["a", "b"], &[]),
            " { \"a\" : [ 1 , 2 ] , \"b\":1e-5 } ",
        );
        assert_eq!(spaced, "{\"a\":[ 1 , 2 ],\"b\":1e-5}\n");
    }

    #[test]
    fn a_patch_replaces_values_in_place_and_keeps_every_other_byte() {
        let f = fields(&["text"], &["text", "n"]);
        assert_eq!(
            patched(&f, AWKWARD, r#"{"text":"café \"x\""}"#).as_deref(),
            Ok(concat!(
                r#"{"id":123456789012345678901234567890,"n":12.50,"e":1E3,"t\u0065xt":"café \"x\"","#,
                r#""nested":{"text":"no","a":[1,{"b":"}"}]},"u":"日本","z":-0.0}"#,
                "\n"
            ))
        );
        // Two values, given in the other order; whitespace around kept.
        assert_eq!(
            patched(
                &f,
                "{ \"n\" : 1 , \"text\" : \"a\" }",
                r#"{"text":"b","n":2.50}"#
            )
            .as_deref(),
            Ok("{ \"n\" : 2.50 , \"text\" : \"b\" }\n")
        );
        assert_eq!(
            patched(&f, AWKWARD, "{}").as_deref(),
            Ok(format!("{AWKWARD}\n").as_str())
        );
    }

    #[test]
    fn a_field_the_record_lacks_is_appended_as_its_last_member() {
        let f = fields(&["text"], &["lang", "score"]);
        assert_eq!(
            patched(&f, r#"{"text":"x"} "#, r#"{"lang":"en","score":1.0}"#).as_deref(),
            Ok("{\"text\":\"x\",\"lang\":\"en\",\"score\":1.0} \n")
        );
        assert_eq!(
            patched(&f, "{ }", r#"{"l\u0061ng":null}"#).as_deref(),
            Ok("{ \"l\\u0061ng\":null}\n")
        );
        // One in place, one appended.
        let f = fields(&[], &["a", "b"]);
        assert_eq!(
            patched(&f, r#"{"a":1,"c":{"b":2}}"#, r#"{"b":[],"a":"x"}"#).as_deref(),
            Ok("{\"a\":\"x\",\"c\":{\"b\":2},\"b\":[]}\n")
        );
    }

    #[test]
    fn keys_match_once_unescaped_in_records_and_patches() {
        let f = fields(&["text"], &["text"]);
        let (out, _) = project(&f, r#"{"te\u0078t":"a","text2":"b"}"#);
        assert_eq!(out, "{\"te\\u0078t\":\"a\"}\n");
        assert_eq!(
            patched(
                &f,
                r#"{"te\u0078t":"a","text2":"b"}"#,
                r#"{"\u0074ext":"c"}"#
            )
            .as_deref(),
            Ok("{\"te\\u0078t\":\"c\",\"text2\":\"b\"}\n")
        );
    }

    #[test]
    fn a_patch_outside_the_declared_writes_or_not_an_object_is_refused() {
        let f = fields(&["text"], &["text"]);
        assert_eq!(
            patched(&f, r#"{"text":"a","id":1}"#, r#"{"text":"b","id":2}"#),
            Err(FieldProblem::NotWritable("id".to_owned()))
        );
        for bad in [
            "[1]",
            r#"{"text":NaN}"#,
            r#"{"text":"a","text":"b"}"#,
            "{",
            "",
        ] {
            assert!(
                matches!(
                    patched(&f, r#"{"text":"a"}"#, bad),
                    Err(FieldProblem::BadPatch(_))
                ),
                "{bad}"
            );
        }
        let mut out = String::from("kept");
        let (_, located) = project(&f, r#"{"text":"a"}"#);
        assert!(
            f.patch(r#"{"text":"a"}"#, &located, r#"{"x":1}"#, &mut out)
                .is_err()
        );
        assert_eq!(out, "kept");
    }

    #[test]
    fn specs_name_each_field_once() {
        let owned = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            Fields::new(owned(&["a", "a"]), vec![]),
            Err(SpecProblem::Repeated("reads", "a".to_owned()))
        );
        assert_eq!(
            Fields::new(vec![], owned(&[""])),
            Err(SpecProblem::Empty("writes"))
        );
        assert!(Fields::new(owned(&["a"]), owned(&["a"])).is_ok());
    }

    #[test]
    fn every_patched_record_is_a_record() {
        let f = fields(&["text", "n"], &["text", "n", "new"]);
        for record in [
            AWKWARD,
            "{}",
            r#"{"n":1e5,"text":"\ud83d\ude00"}"#,
            r#"{"o":{"n":1},"list":[{"text":1}]}"#,
        ] {
            for patch in ["{}", r#"{"text":"x","new":{"a":[]}}"#, r#"{"n":-1.5E-7}"#] {
                let out = patched(&f, record, patch).unwrap_or_else(|e| panic!("{e}"));
                let line = out.strip_suffix('\n').unwrap_or(&out);
                assert_eq!(check_text(line), Ok(()), "{record} + {patch} = {line}");
            }
        }
    }

    #[test]
    fn what_is_not_an_object_does_not_project() {
        let f = fields(&["a"], &[]);
        for bad in ["[1]", "", "{\"a\":1", "{\"a\" 1}", "\"s\""] {
            let mut out = String::from("x");
            assert_eq!(
                f.project(bad, &mut out),
                Err(FieldProblem::NotAnObject),
                "{bad}"
            );
            assert_eq!(out, "x");
        }
    }
}
