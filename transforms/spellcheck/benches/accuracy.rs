//! Measures (never asserts) how right the spellcheck transform is, for
//! `scripts/bench spelling`: `cargo bench -p spellcheck --bench accuracy -- DIR`.
//!
//! `DIR` holds what `scripts/bench-spelling.py prepare` wrote:
//! `misspellings.tsv` (a real misspelling and its one correction a line,
//! from codespell's dictionary) and `corpus.txt` (correct English text, a
//! paragraph a line). For each config below, every misspelling is
//! corrected on its own (a record's whole text) and counted right (it
//! became its correction), wrong (it became another word) or kept; every
//! paragraph of the corpus is corrected and each word changed is counted
//! as damage. Writes `DIR/weir.json` (a JSON object per config, a line
//! each) and `DIR/corpus-words.txt` (the corpus's words as the transform
//! cuts them, for the symspellpy side of the measurement).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use spellcheck::{Config, SpellChecker};

const DICTIONARY: &str = include_str!("../assets/frequency_dictionary_en_82_765.txt");

/// The configs measured: the default, the default with one rule changed
/// (what each rule is worth), and the symspellpy mode.
const CONFIGS: [(&str, &str); 6] = [
    ("weir default (careful)", r#"{"fields":["text"]}"#),
    (
        "careful, `letters_per_edit` 2",
        r#"{"fields":["text"],"letters_per_edit":2}"#,
    ),
    (
        "careful, `letters_per_edit` 4",
        r#"{"fields":["text"],"letters_per_edit":4}"#,
    ),
    (
        "careful, `rank_typos` off",
        r#"{"fields":["text"],"rank_typos":false}"#,
    ),
    (
        "careful, `inflections` off",
        r#"{"fields":["text"],"inflections":false}"#,
    ),
    (
        "weir, mode symspellpy",
        r#"{"fields":["text"],"mode":"symspellpy"}"#,
    ),
];

fn main() {
    let Some(dir) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench -p spellcheck --bench accuracy -- DIR");
        std::process::exit(2);
    };
    let dir = PathBuf::from(dir);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
    };
    let misspellings: Vec<(String, String)> = read("misspellings.tsv")
        .lines()
        .filter_map(|l| {
            let (word, fix) = l.split_once('\t')?;
            Some((word.to_owned(), fix.to_owned()))
        })
        .collect();
    let corpus = read("corpus.txt");
    let paragraphs: Vec<&str> = corpus.lines().filter(|l| !l.trim().is_empty()).collect();

    let mut words = String::new();
    let mut word_count = 0;
    for paragraph in &paragraphs {
        for word in spellcheck::text::words(paragraph, true) {
            word_count += 1;
            writeln!(words, "{}", &paragraph[word.bytes]).unwrap_or_default();
        }
    }
    std::fs::write(dir.join("corpus-words.txt"), words)
        .unwrap_or_else(|e| panic!("corpus-words.txt: {e}"));

    let mut out = String::new();
    for (name, config) in CONFIGS {
        let config: Config = serde_json::from_str(config).unwrap_or_else(|e| panic!("{e}"));
        let checker = SpellChecker::new(config, DICTIONARY).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let (mut right, mut wrong, mut kept) = (0, 0, 0);
        let mut wrong_examples = Vec::new();
        for (word, fix) in &misspellings {
            match checker.correct_text(word, "text") {
                Some((corrected, _)) if corrected.eq_ignore_ascii_case(fix) => right += 1,
                Some((corrected, _)) => {
                    wrong += 1;
                    if wrong_examples.len() < 12 && wrong % 97 == 1 {
                        wrong_examples.push(format!("{word}→{corrected} (not {fix})"));
                    }
                }
                None => kept += 1,
            }
        }
        let mut damaged: HashMap<(String, String), usize> = HashMap::new();
        let mut damage = 0;
        for paragraph in &paragraphs {
            if let Some((_, corrections)) = checker.correct_text(paragraph, "text") {
                damage += corrections.len();
                for c in corrections {
                    *damaged.entry((c.from, c.to)).or_default() += 1;
                }
            }
        }
        let mut damaged: Vec<_> = damaged.into_iter().collect();
        damaged.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let damaged: Vec<String> = damaged
            .iter()
            .take(15)
            .map(|((from, to), n)| format!("{from}→{to} ×{n}"))
            .collect();
        let line = serde_json::json!({
            "name": name,
            "misspellings": misspellings.len(),
            "right": right,
            "wrong": wrong,
            "kept": kept,
            "wrong_examples": wrong_examples,
            "corpus_words": word_count,
            "damaged": damage,
            "damaged_examples": damaged,
            "seconds": started.elapsed().as_secs_f64(),
        });
        eprintln!("{line}");
        writeln!(out, "{line}").unwrap_or_default();
    }
    std::fs::write(dir.join("weir.json"), out).unwrap_or_else(|e| panic!("weir.json: {e}"));
}
