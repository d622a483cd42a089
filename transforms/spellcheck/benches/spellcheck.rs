//! Measures (never asserts) the native cost of the spellcheck transform:
//! building the index from the shipped dictionary, one word lookups, and
//! records through the SDK's chunk loop. `cargo bench -p spellcheck`.
//!
//! Words are misspelt deterministically (a fixed-seed xorshift choosing one
//! or two deletes, inserts, substitutions or transpositions of dictionary
//! words), as the reference test against symspellpy does.

use std::time::Instant;

use spellcheck::dictionary::Dictionary;
use weir_guest::testing::XorShift;

const DICTIONARY: &str = include_str!("../assets/frequency_dictionary_en_82_765.txt");

fn misspell(word: &str, rng: &mut XorShift) -> String {
    let mut chars: Vec<char> = word.chars().collect();
    for _ in 0..1 + rng.below(2) {
        let letter = char::from(b'a' + rng.below(26) as u8);
        let at = rng.below(chars.len().max(1));
        match rng.below(4) {
            0 if chars.len() > 1 => {
                chars.remove(at);
            }
            1 => chars.insert(at, letter),
            2 if !chars.is_empty() => chars[at] = letter,
            _ if chars.len() > 1 => {
                let at = at.min(chars.len() - 2);
                chars.swap(at, at + 1);
            }
            _ => chars.push(letter),
        }
    }
    chars.into_iter().collect()
}

fn main() {
    for distance in [1, 2] {
        let start = Instant::now();
        let dictionary = Dictionary::parse(DICTIONARY, distance).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "index, max distance {distance}: {} words, {} deletes, built in {:.0} ms",
            dictionary.len(),
            dictionary.delete_count(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }

    let dictionary = Dictionary::parse(DICTIONARY, 2).unwrap_or_else(|e| panic!("{e}"));
    let vocabulary: Vec<&str> = DICTIONARY
        .lines()
        .filter_map(|l| l.split(' ').next())
        .filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_lowercase()))
        .take(30_000)
        .collect();
    let mut rng = XorShift::new(0x5eed_2026);
    let words: Vec<String> = (0..20_000)
        .map(|_| misspell(vocabulary[rng.below(vocabulary.len())], &mut rng))
        .collect();
    let start = Instant::now();
    let mut found = 0;
    for word in &words {
        found += usize::from(dictionary.lookup(word, 2).is_some());
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "lookup, max distance 2: {} misspelt words in {:.0} ms, {:.0} words/s ({found} with a suggestion)",
        words.len(),
        seconds * 1e3,
        words.len() as f64 / seconds
    );

    // Records of about 300 bytes: 40 common words, one in twenty misspelt.
    let records: Vec<String> = (0..5_000)
        .map(|id| {
            let text: Vec<String> = (0..40)
                .map(|_| {
                    let word = vocabulary[rng.below(2_000)];
                    if rng.below(20) == 0 {
                        misspell(word, &mut rng)
                    } else {
                        word.to_owned()
                    }
                })
                .collect();
            serde_json::json!({"id": id, "text": text.join(" ")}).to_string()
        })
        .collect();
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
    let start = Instant::now();
    let mut session = weir_guest::testing::Session::start(
        spellcheck::SpellCheck::with_assets(assets),
        r#"{"fields":["text"],"corrections_field":"corrections"}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let init = start.elapsed().as_secs_f64();
    let start = Instant::now();
    for chunk in records.chunks(1000) {
        session.process(chunk.iter().map(String::as_str));
    }
    let seconds = start.elapsed().as_secs_f64();
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    println!(
        "transform: init {:.0} ms; {} records ({:.0} bytes each, 40 words) in {:.0} ms, {:.0} records/s",
        init * 1e3,
        records.len(),
        bytes as f64 / records.len() as f64,
        seconds * 1e3,
        records.len() as f64 / seconds
    );

    // The NLP example's raw tickets (about 380 bytes, 18 words, one
    // misspelt word a record; not the one broken line), 100 times over:
    // cutting words alone, then the chunk loop with the example's config.
    let tickets: Vec<&str> = include_str!("../../../examples/nlp/data/tickets-2026-11-26.ndjson")
        .lines()
        .filter(|line| serde_json::from_str::<serde_json::Value>(line).is_ok())
        .collect();
    let texts: Vec<String> = tickets
        .iter()
        .filter_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            Some(value["text"].as_str()?.to_owned())
        })
        .collect();
    let start = Instant::now();
    let mut found = 0;
    for _ in 0..100 {
        for text in &texts {
            found += spellcheck::text::words(text, true).len();
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "words: {} texts, {found} words in {:.0} ms, {:.0} ns a text",
        texts.len() * 100,
        seconds * 1e3,
        seconds * 1e9 / (texts.len() * 100) as f64
    );
    let mut session = weir_guest::testing::Session::start(
        spellcheck::SpellCheck::with_assets(assets),
        r#"{"fields":["text"]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    for _ in 0..100 {
        session.process(tickets.iter().copied());
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "tickets: {} records in {:.0} ms, {:.2} us a record",
        tickets.len() * 100,
        seconds * 1e3,
        seconds * 1e6 / (tickets.len() * 100) as f64
    );
}
