//! The spellcheck transform end to end: built from source, run by the real
//! `weir run` with its dictionary as the assets directory, and compared with
//! the reference implementation, symspellpy, run in the test venv.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use weir_tests::{Sandbox, guest, lines, workspace};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";

fn crate_dir() -> PathBuf {
    workspace().join("transforms/spellcheck")
}

fn assets() -> String {
    crate_dir().join("assets").to_string_lossy().into_owned()
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Stages `input` as `in`, runs the spellcheck component over it into
/// `out` with `config`, and returns the output records and the quarantined
/// ones.
fn spellcheck(sb: &Sandbox, input: &[u8], config: &str) -> (Vec<Value>, Vec<Value>) {
    let module = guest("spellcheck");
    sb.write("input.ndjson", input);
    sb.weir(&["stage", "in", "--interval", INTERVAL, "input.ndjson"])
        .ok();
    sb.weir(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--max-rejected",
        "1000",
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        config,
        "--assets",
        &assets(),
    ])
    .ok();
    let read = |extra: &[&str]| {
        let mut args = vec!["cat", "out", "--interval", INTERVAL];
        args.extend(extra);
        lines(&sb.weir(&args).ok().stdout)
            .into_iter()
            .map(parse)
            .collect::<Vec<_>>()
    };
    (read(&[]), read(&["--quarantine"]))
}

#[test]
fn spellcheck_golden_cases_match_through_the_component() {
    weir_tests::assert_golden_cases(&guest("spellcheck"), &crate_dir());
}

/// Misspells dictionary words with a fixed seed (one or two random deletes,
/// inserts, substitutions or transpositions each), looks each up with
/// symspellpy (`Verbosity.TOP`, `max_edit_distance=2`), and writes the
/// words as records (`input.ndjson`) and symspellpy's answers
/// (`reference.json`, with its timings).
const REFERENCE: &str = r#"
import importlib.resources, json, random, sys, time
try:
    from symspellpy import SymSpell, Verbosity
except ImportError:
    sys.exit("symspellpy is missing from the test venv: .venv/bin/pip install -r scripts/requirements-test.txt")

count = int(sys.argv[1])
path = str(importlib.resources.files("symspellpy") / "frequency_dictionary_en_82_765.txt")
started = time.perf_counter()
sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
sym.load_dictionary(path, term_index=0, count_index=1)
load_seconds = time.perf_counter() - started

vocabulary = [w for w in sym.words if len(w) >= 3 and w.isascii() and w.isalpha()]
rng = random.Random(20261126)
letters = "abcdefghijklmnopqrstuvwxyz"

def misspell(word):
    for _ in range(rng.choice((1, 2))):
        op = rng.choice(("delete", "insert", "substitute", "transpose"))
        i = rng.randrange(len(word))
        if op == "delete" and len(word) > 1:
            word = word[:i] + word[i + 1:]
        elif op == "insert":
            word = word[:i] + rng.choice(letters) + word[i:]
        elif op == "substitute":
            word = word[:i] + rng.choice(letters.replace(word[i], "")) + word[i + 1:]
        elif len(word) > 1:
            i = min(i, len(word) - 2)
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word

words = [misspell(rng.choice(vocabulary)) for _ in range(count)]
started = time.perf_counter()
expected = []
for word in words:
    found = sym.lookup(word, Verbosity.TOP, max_edit_distance=2)
    expected.append(found[0].term if found else word)
lookup_seconds = time.perf_counter() - started

with open("input.ndjson", "w") as f:
    for i, word in enumerate(words):
        f.write(json.dumps({"id": i, "text": word}) + "\n")
with open("reference.json", "w") as f:
    json.dump({"words": words, "expected": expected, "load_seconds": load_seconds,
               "lookup_seconds": lookup_seconds}, f)
"#;

#[test]
fn spellcheck_top_suggestion_agrees_with_symspellpy() {
    const WORDS: usize = 6000;
    let sb = Sandbox::new();
    sb.python(REFERENCE, &[&WORDS.to_string()]).ok();
    let reference: Value = serde_json::from_slice(
        &std::fs::read(sb.join("reference.json")).unwrap_or_else(|e| panic!("reference.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("reference.json: {e}"));
    let field = |key: &str| -> Vec<String> {
        reference[key]
            .as_array()
            .unwrap_or_else(|| panic!("reference.json has no {key}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (words, expected) = (field("words"), field("expected"));
    assert_eq!(words.len(), WORDS);
    let input = std::fs::read(sb.join("input.ndjson")).unwrap_or_else(|e| panic!("{e}"));

    let started = Instant::now();
    let (output, quarantined) = spellcheck(
        &sb,
        &input,
        r#"{"fields":["text"],"max_edit_distance":2,"min_word_length":1,"mode":"symspellpy"}"#,
    );
    let weir_seconds = started.elapsed().as_secs_f64();
    assert!(quarantined.is_empty(), "{quarantined:?}");
    assert_eq!(output.len(), WORDS);

    let mut disagreements = Vec::new();
    for record in &output {
        let id = record["id"].as_u64().unwrap_or_else(|| panic!("{record}")) as usize;
        let got = record["text"].as_str().unwrap_or_default();
        if got != expected[id] {
            disagreements.push(format!(
                "{} -> weir {got:?}, symspellpy {:?}",
                words[id], expected[id]
            ));
        }
    }
    let agreement = 1.0 - disagreements.len() as f64 / WORDS as f64;
    let changed = words.iter().zip(&expected).filter(|(w, e)| w != e).count();
    println!(
        "spellcheck vs symspellpy: {WORDS} misspelt words ({changed} corrected by symspellpy), agreement {:.2}% ({} disagree)",
        agreement * 100.0,
        disagreements.len()
    );
    for d in disagreements.iter().take(20) {
        println!("  {d}");
    }
    let lookup = reference["lookup_seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "symspellpy: dictionary load {:.2} s, lookup {:.0} words/s; weir stage+run+cat of {WORDS} records, index build included: {weir_seconds:.2} s",
        reference["load_seconds"].as_f64().unwrap_or(f64::NAN),
        WORDS as f64 / lookup,
    );
    assert!(
        agreement >= 0.99,
        "agreement {agreement:.4} is under 0.99:\n{}",
        disagreements.join("\n")
    );
}
