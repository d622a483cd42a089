//! `spellcheck`: a Weir transform that corrects misspelt words in text
//! fields with symmetric-delete spelling correction (SymSpell).
//!
//! `init` reads a word-frequency dictionary from the assets directory
//! (`/assets` in the sandbox) and builds its delete index once per instance;
//! `process` corrects the misspelt words of the configured fields to the
//! closest dictionary word, keeping the word's casing, and can list the
//! corrections it made. The [`rules`] decide which words are left alone
//! (by default, whatever is likely correct); with all of them off (`"mode":
//! "symspellpy"`) each word becomes what symspellpy's `lookup(word,
//! Verbosity.TOP, max_edit_distance)` would pick. See README.md for the
//! config and an example.
//!
//! Layout:
//! - [`dictionary`]: the frequency dictionary, its delete index and lookup;
//! - [`distance`]: the bounded Damerau–Levenshtein (OSA) distance;
//! - [`rules`]: the rules that keep correct text, and the mode setting
//!   their defaults;
//! - [`text`]: which parts of a text are words, where they stand, and casing;
//! - `weir_guest::FieldPaths`, `Edit`, `Assets`: field paths, the
//!   patch-or-parse pattern and the assets reader (the SDK's);
//! - this module: the config and the [`Transform`] joining them.

pub mod dictionary;
pub mod distance;
pub mod rules;
pub mod text;

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use weir_guest::{Assets, Edit, Error, FieldPaths, Output, Patch, Record, Transform, Value};

use unicode_normalization::UnicodeNormalization;

use crate::dictionary::Dictionary;
use crate::rules::{
    CONTRACTION_ENDINGS, ELISIONS, INFLECTION_BEGINNINGS, INFLECTION_ENDINGS, Mode, RuleSettings,
    Rules,
};
use crate::text::{Casing, each_ascii_word, words};

/// The dictionary shipped in `assets/`.
pub const DEFAULT_DICTIONARY: &str = "frequency_dictionary_en_82_765.txt";

pub use crate::dictionary::DEFAULT_MEMO_WORDS;

/// The largest `memo_words`: at about 100 bytes per remembered word, two
/// full memos of 2^20 words take some 200 MB, which with the index's 90 MB
/// is past the default 256 MiB memory limit of an instance; more than that
/// is a mistake, not a setting.
pub const MAX_MEMO_WORDS: usize = 1 << 20;

/// The transform's configuration, parsed once by `init`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The fields to correct, as dotted paths (`"notes.body"`); required,
    /// and must name at least one field.
    pub fields: FieldPaths,
    /// The largest edit distance a correction may be from its word: 1 or 2.
    /// Default 2.
    #[serde(default = "two", deserialize_with = "edit_distance")]
    pub max_edit_distance: usize,
    /// Words never changed, compared without regard to case. Default none.
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// Words of fewer characters are left alone. Default 3.
    #[serde(default = "three")]
    pub min_word_length: usize,
    /// If set, each record gets a list of its corrections under this
    /// top-level key. Default `None`: no list.
    #[serde(default)]
    pub corrections_field: Option<String>,
    /// The dictionary file, a name inside the assets directory. Default
    /// [`DEFAULT_DICTIONARY`].
    #[serde(default = "default_dictionary")]
    pub dictionary: String,
    /// A prebuilt delete index of the dictionary, a name inside the
    /// assets directory (made by `cargo run --release -p spellcheck
    /// --example build-index`), read instead of building the index at
    /// every instance start; refused unless it was built from this very
    /// dictionary (its sha256) and `max_edit_distance`. Default `None`:
    /// built at start.
    #[serde(default)]
    pub index: Option<String>,
    /// How many misspelt words an instance remembers the answer for, per
    /// edit distance it looks words up at (at most two), before it starts
    /// over; 0 turns the memo off. At most [`MAX_MEMO_WORDS`]. Default
    /// [`DEFAULT_MEMO_WORDS`]. The answers are the same either way.
    #[serde(default = "default_memo_words", deserialize_with = "memo_words")]
    pub memo_words: usize,
    /// The defaults of the rules below: `careful` (the default) or
    /// `symspellpy`.
    #[serde(default)]
    pub mode: Mode,
    /// [`Rules::contractions`]; the mode's default if unset.
    #[serde(default)]
    pub contractions: Option<bool>,
    /// [`Rules::keep_names`]; the mode's default if unset.
    #[serde(default)]
    pub keep_names: Option<bool>,
    /// [`Rules::keep_foreign`]; the mode's default if unset.
    #[serde(default)]
    pub keep_foreign: Option<bool>,
    /// [`Rules::normalize`]; the mode's default if unset.
    #[serde(default)]
    pub normalize: Option<bool>,
    /// [`Rules::letters_per_edit`]; the mode's default if unset.
    #[serde(default)]
    pub letters_per_edit: Option<usize>,
    /// [`Rules::rank_typos`]; the mode's default if unset.
    #[serde(default)]
    pub rank_typos: Option<bool>,
    /// [`Rules::inflections`]; the mode's default if unset.
    #[serde(default)]
    pub inflections: Option<bool>,
}

impl Config {
    /// The rules in force: the mode's defaults, with what the config sets
    /// in their place.
    pub fn rules(&self) -> Rules {
        Rules::resolve(
            self.mode,
            RuleSettings {
                contractions: self.contractions,
                keep_names: self.keep_names,
                keep_foreign: self.keep_foreign,
                normalize: self.normalize,
                letters_per_edit: self.letters_per_edit,
                rank_typos: self.rank_typos,
                inflections: self.inflections,
            },
        )
    }
}

/// Where a word stands in its text, which some rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// It starts a sentence ([`text::starts_sentence`]).
    pub sentence_start: bool,
    /// An apostrophe comes just before it ([`text::after_apostrophe`]).
    pub after_apostrophe: bool,
    /// Most letters of its text are capitals ([`text::shouting`]).
    pub shouting: bool,
}

impl Place {
    /// A word on its own: at the start of a sentence, no apostrophe
    /// before, its capitals (if any) shouted rather than an acronym.
    pub const ALONE: Place = Place {
        sentence_start: true,
        after_apostrophe: false,
        shouting: true,
    };

    /// The place of the word at byte `at` of `text`, whose letters are
    /// mostly capitals if `shouting`.
    pub fn of(text: &str, at: usize, shouting: bool) -> Place {
        Place {
            sentence_start: text::starts_sentence(text, at),
            after_apostrophe: text::after_apostrophe(text, at),
            shouting,
        }
    }
}

fn two() -> usize {
    2
}

fn three() -> usize {
    3
}

fn default_dictionary() -> String {
    DEFAULT_DICTIONARY.to_owned()
}

fn default_memo_words() -> usize {
    DEFAULT_MEMO_WORDS
}

fn memo_words<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    // Read as a signed number so that `-1` is told what it should be.
    let words = i64::deserialize(deserializer)?;
    match usize::try_from(words) {
        Ok(words) if words <= MAX_MEMO_WORDS => Ok(words),
        _ => Err(serde::de::Error::custom(format!(
            "`memo_words` is {words}; it must be from 0 (no memo) to {MAX_MEMO_WORDS}"
        ))),
    }
}

fn edit_distance<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<usize, D::Error> {
    let distance = usize::deserialize(deserializer)?;
    if !(1..=2).contains(&distance) {
        return Err(serde::de::Error::custom(format!(
            "`max_edit_distance` is {distance}; it must be 1 or 2"
        )));
    }
    Ok(distance)
}

/// One correction, as listed under `corrections_field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Correction {
    /// The field's path, as configured.
    pub field: String,
    /// The word as it was.
    pub from: String,
    /// The word it became.
    pub to: String,
    /// Where `from` starts in the field's original text, in characters
    /// (Unicode code points).
    pub offset: usize,
}

/// The spelling corrector: a config and the dictionary it loaded.
#[derive(Debug)]
pub struct SpellChecker {
    config: Config,
    dictionary: Dictionary,
    /// The allowlist, lowercased.
    allowed: HashSet<String>,
    rules: Rules,
    /// Every rule is off: no word needs its [`Place`].
    placeless: bool,
}

impl SpellChecker {
    /// A corrector for `config` over a dictionary's text (`word count`
    /// lines).
    ///
    /// # Errors
    ///
    /// The dictionary cannot be indexed.
    pub fn new(config: Config, dictionary_text: &str) -> Result<SpellChecker, Error> {
        let dictionary = Dictionary::parse(dictionary_text, config.max_edit_distance)
            .map_err(|e| Error::new(format!("dictionary `{}`: {e}", config.dictionary)))?;
        Self::with_dictionary(config, dictionary)
    }

    /// [`new`](Self::new) with the dictionary's delete index read from
    /// `index` (the bytes of the `index` asset) instead of built.
    ///
    /// # Errors
    ///
    /// The index is not this dictionary's ([`Dictionary::parse_with_index`]).
    pub fn with_index(
        config: Config,
        dictionary_text: &str,
        index: &[u8],
    ) -> Result<SpellChecker, Error> {
        let digest = dictionary::text_sha256(dictionary_text);
        let dictionary =
            Dictionary::parse_with_index(dictionary_text, config.max_edit_distance, digest, index)
                .map_err(|e| {
                    Error::new(format!(
                        "index `{}` of dictionary `{}`: {e}",
                        config.index.as_deref().unwrap_or("?"),
                        config.dictionary
                    ))
                })?;
        Self::with_dictionary(config, dictionary)
    }

    fn with_dictionary(config: Config, mut dictionary: Dictionary) -> Result<SpellChecker, Error> {
        dictionary.set_memo_words(config.memo_words);
        if dictionary.is_empty() {
            return Err(Error::new(format!(
                "dictionary `{}` holds no `word count` lines",
                config.dictionary
            )));
        }
        let allowed = config.allowlist.iter().map(|w| w.to_lowercase()).collect();
        let rules = config.rules();
        Ok(SpellChecker {
            config,
            dictionary,
            allowed,
            rules,
            placeless: rules.none(),
        })
    }

    /// The rules in force.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    /// The loaded dictionary.
    pub fn dictionary(&self) -> &Dictionary {
        &self.dictionary
    }

    /// The correction of one word standing at `place` in its text, or
    /// `None` to leave it as it is.
    pub fn correct_word(&self, word: &str, place: Place) -> Option<String> {
        if self.rules.normalize && !word.is_ascii() {
            // Looked up in NFKC form (`ﬁ` is `fi`, `e` + U+0301 is `é`);
            // a word kept stays as it was written.
            let normal: String = word.nfkc().collect();
            if normal != word {
                return self.correct_normal_word(&normal, place);
            }
        }
        self.correct_normal_word(word, place)
    }

    /// [`correct_word`](Self::correct_word) once the word is in the form
    /// it is looked up in.
    fn correct_normal_word(&self, word: &str, place: Place) -> Option<String> {
        let ascii = word.is_ascii();
        let length = if ascii {
            word.len()
        } else {
            word.chars().count()
        };
        if length < self.config.min_word_length {
            return None;
        }
        let casing = Casing::of(word);
        if casing == Casing::Mixed {
            return None;
        }
        // Most words are lowercase ASCII already: no copy for them.
        let lower: Cow<'_, str> = match (casing, ascii) {
            (Casing::Lower, true) => Cow::Borrowed(word),
            (_, true) => Cow::Owned(word.to_ascii_lowercase()),
            _ => Cow::Owned(word.to_lowercase()),
        };
        if !self.allowed.is_empty() && self.allowed.contains(lower.as_ref()) {
            return None;
        }
        let curly = !ascii && lower.contains('\u{2019}');
        let key = if curly {
            Cow::Owned(lower.replace('\u{2019}', "'"))
        } else {
            lower
        };
        if self.dictionary.contains(&key) {
            return None;
        }
        let rules = &self.rules;
        if rules.keep_foreign && !self.dictionary.spells(&key) {
            return None;
        }
        if rules.keep_names
            && match casing {
                Casing::Capitalised => !place.sentence_start,
                Casing::Upper => !place.shouting,
                _ => false,
            }
        {
            return None;
        }
        if rules.inflections && self.inflected(&key, length) {
            return None;
        }
        let term = if rules.contractions {
            match self.contraction(&key, length, place)? {
                Some(term) => term,
                None => self.closest(&key, length)?,
            }
        } else {
            self.closest(&key, length)?
        };
        let term = if curly {
            term.replace('\'', "\u{2019}")
        } else {
            term
        };
        let corrected = casing.apply(&term);
        (corrected != word).then_some(corrected)
    }

    /// The closest dictionary word to `key` (lowercase, not in the
    /// dictionary, `length` characters) within the distance the rules allow
    /// it, if it is not `key` itself.
    fn closest(&self, key: &str, length: usize) -> Option<String> {
        let max_distance = self
            .rules
            .max_distance(length, self.config.max_edit_distance);
        if max_distance == 0 {
            return None;
        }
        let suggestion = if self.rules.rank_typos {
            self.dictionary.lookup_ranked(key, max_distance)?
        } else {
            self.dictionary.lookup(key, max_distance)?
        };
        (suggestion.distance != 0).then(|| suggestion.term.to_owned())
    }

    /// Whether `key` (lowercase, `length` characters) is a dictionary word
    /// of four letters or more with one of the [`Rules::inflections`]
    /// added.
    fn inflected(&self, key: &str, length: usize) -> bool {
        let known =
            |stem: &str, added: &str| length >= added.len() + 4 && self.dictionary.contains(stem);
        INFLECTION_ENDINGS
            .iter()
            .any(|e| key.strip_suffix(e).is_some_and(|stem| known(stem, e)))
            || INFLECTION_BEGINNINGS
                .iter()
                .any(|b| key.strip_prefix(b).is_some_and(|stem| known(stem, b)))
    }

    /// The contraction rules on `key` (lowercase, with `'` for
    /// apostrophes, not in the dictionary): `None` to keep the word,
    /// `Some(Some(term))` for its correction, `Some(None)` when they do not
    /// apply.
    fn contraction(&self, key: &str, length: usize, place: Place) -> Option<Option<String>> {
        if place.after_apostrophe && ELISIONS.contains(&key) {
            return None;
        }
        if let Some(term) = self.dictionary.with_apostrophes(key) {
            return Some(Some(term.to_owned()));
        }
        let Some((stem, ending)) = CONTRACTION_ENDINGS.iter().find_map(|ending| {
            let stem = key.strip_suffix(ending)?;
            (!stem.is_empty() && !stem.ends_with('\'')).then_some((stem, ending))
        }) else {
            return Some(None);
        };
        if self.dictionary.contains(stem) {
            return None;
        }
        // A misspelt stem is corrected as a word of its own, the ending kept.
        let stem_length = length - ending.chars().count();
        if stem_length < self.config.min_word_length {
            return None;
        }
        let term = self.closest(stem, stem_length)?;
        Some(Some(format!("{term}{ending}")))
    }

    /// For a word of ASCII letters and apostrophes (as [`words`] cuts them
    /// from ASCII text), `text[word]`: `true` if
    /// [`correct_word`](Self::correct_word) would certainly leave it alone
    /// (it is too short, of mixed case, or a dictionary word of at most
    /// seven letters), `false` if `correct_word` must decide. Most words of
    /// a text end here. A short word is read as one `u64` (eight bytes of
    /// `text` from its start, when there are eight), and its casing and
    /// lowercase packing are bit operations on it.
    fn stays_ascii(&self, text: &[u8], word: Range<usize>) -> bool {
        let len = word.len();
        if len < self.config.min_word_length {
            return true;
        }
        if len > 7 {
            return self.long_stays_ascii(&text[word]);
        }
        let mut eight = [0u8; 8];
        match text.get(word.start..word.start + 8) {
            Some(bytes) => eight.copy_from_slice(bytes),
            None => eight[..len].copy_from_slice(&text[word.clone()]),
        }
        let in_word = (1u64 << (8 * len)) - 1;
        let bytes = u64::from_le_bytes(eight) & in_word;
        // Bit 5 is clear in capitals and set in small letters and `'`.
        let case_bits = 0x2020_2020_2020_2020 & in_word;
        let upper = (!bytes & case_bits).count_ones() as usize;
        let first_upper = bytes & 0x20 == 0;
        let mixed = match (first_upper, upper) {
            (false, 0) | (true, 1) => false,
            (true, n) => n != len - text[word].iter().filter(|&&b| b == b'\'').count(),
            (false, _) => true,
        };
        if mixed {
            return true;
        }
        // Setting bit 5 lowercases a letter and keeps `'`: the word as
        // the dictionary packs its lowercase form.
        let lower = bytes | case_bits | (len as u64) << 56;
        self.dictionary.contains_packed(lower)
    }

    /// [`stays_ascii`](Self::stays_ascii) for a word of more than seven
    /// bytes: only its casing can settle it.
    fn long_stays_ascii(&self, word: &[u8]) -> bool {
        let (mut upper, mut letters) = (0, 0);
        for &b in word {
            upper += usize::from(b.is_ascii_uppercase());
            letters += usize::from(b.is_ascii_alphabetic());
        }
        let first_upper = word.first().is_some_and(u8::is_ascii_uppercase);
        match (first_upper, upper) {
            (false, 0) | (true, 1) => false,
            (true, n) => n != letters,
            (false, _) => true,
        }
    }

    /// `text` with its words corrected, and what was changed, or `None` if
    /// nothing was.
    pub fn correct_text(&self, text: &str, field: &str) -> Option<(String, Vec<Correction>)> {
        let mut corrections = Vec::new();
        let corrected = self.correct_text_into(text, field, Some(&mut corrections))?;
        Some((corrected, corrections))
    }

    /// `text` with its words corrected, or `None` if nothing was; the
    /// corrections are listed into `corrections` if given (building the
    /// list costs allocations most configs do not need).
    fn correct_text_into(
        &self,
        text: &str,
        field: &str,
        mut corrections: Option<&mut Vec<Correction>>,
    ) -> Option<String> {
        let mut corrected: Option<String> = None;
        let mut copied = 0;
        // Counted once a text, when a word first needs it.
        let mut shouting = None;
        let mut correct = |bytes: Range<usize>, offset: usize| {
            let original = &text[bytes.clone()];
            let place = if self.placeless {
                Place::ALONE
            } else {
                let shouting = *shouting.get_or_insert_with(|| text::shouting(text));
                Place::of(text, bytes.start, shouting)
            };
            let Some(replacement) = self.correct_word(original, place) else {
                return;
            };
            let out = corrected.get_or_insert_with(|| String::with_capacity(text.len() + 16));
            out.push_str(&text[copied..bytes.start]);
            out.push_str(&replacement);
            copied = bytes.end;
            if let Some(list) = corrections.as_deref_mut() {
                list.push(Correction {
                    field: field.to_owned(),
                    from: original.to_owned(),
                    to: replacement,
                    offset,
                });
            }
        };
        if text.is_ascii() {
            // Most text: words found and most of them settled without a
            // list of words or a string made.
            each_ascii_word(text.as_bytes(), |bytes| {
                if !self.stays_ascii(text.as_bytes(), bytes.clone()) {
                    correct(bytes.clone(), bytes.start);
                }
            });
        } else {
            for word in words(text, self.rules.normalize) {
                correct(word.bytes, word.offset);
            }
        }
        let mut corrected = corrected?;
        corrected.push_str(&text[copied..]);
        Some(corrected)
    }

    /// Corrects the configured fields of one record, adding the list of
    /// corrections if the config asks for it.
    ///
    /// # Errors
    ///
    /// A configured field, or an object on its path, holds a value of the
    /// wrong type; the message names the field.
    pub fn correct_record(&self, record: &mut Value) -> Result<(), Error> {
        let mut all = Vec::new();
        for path in &self.config.fields {
            if let Some(text) = path.find_text(record)?
                && let Some((corrected, corrections)) = self.correct_text(text, path.as_str())
            {
                *text = corrected;
                all.extend(corrections);
            }
        }
        if let (Some(key), Value::Object(object)) = (&self.config.corrections_field, record) {
            let list = serde_json::to_value(&all)?;
            object.insert(key.clone(), list);
        }
        Ok(())
    }

    /// [`SpellChecker::correct_record`] on the record's text, without
    /// parsing the rest of it: corrects the record in `patch`, or gives up
    /// (`None`) when the record must be parsed instead (a field is not a
    /// string, the text is not simple enough to scan, two fields overlap);
    /// the output is the same either way.
    pub fn correct_patch(&self, patch: &mut Patch<'_>) -> Option<()> {
        let mut all = Vec::new();
        let listing = self.config.corrections_field.is_some();
        for path in &self.config.fields {
            let Some(located) = patch.locate(path).ok()? else {
                continue;
            };
            let text = located.as_str()?;
            let list = listing.then_some(&mut all);
            if let Some(corrected) = self.correct_text_into(&text, path.as_str(), list) {
                patch.replace(&located, &corrected).ok()?;
            }
        }
        if let Some(key) = &self.config.corrections_field {
            patch.set(key, &all).ok()?;
        }
        Some(())
    }
}

/// The transform: reads its dictionary from an assets directory in `init`.
#[derive(Debug)]
pub struct SpellCheck {
    assets: Assets,
    checker: Option<SpellChecker>,
}

impl SpellCheck {
    /// A transform reading its dictionary from `assets` (the sandbox mounts
    /// the assets directory at [`Assets::SANDBOX_DIR`]; native tests pass
    /// the crate's `assets/`).
    pub fn with_assets(assets: impl Into<PathBuf>) -> SpellCheck {
        SpellCheck {
            assets: Assets::at(assets),
            checker: None,
        }
    }
}

impl Transform for SpellCheck {
    type Config = Config;

    fn init(&mut self, config: Config) -> Result<(), Error> {
        let text = self
            .assets
            .read_to_string("dictionary", &config.dictionary)?;
        self.checker = Some(match &config.index {
            Some(name) => {
                let index = self.assets.read("index", name)?;
                SpellChecker::with_index(config, &text, &index)?
            }
            None => SpellChecker::new(config, &text)?,
        });
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let checker = self
            .checker
            .as_ref()
            .ok_or_else(|| Error::new("process called before init"))?;
        let mut edit = Edit::new(record)?;
        edit.change(
            |patch| checker.correct_patch(patch),
            |value| checker.correct_record(value),
        )?;
        edit.emit(output)
    }
}

/// The transform the component exports, reading `/assets`.
pub fn transform() -> SpellCheck {
    SpellCheck::with_assets(Assets::SANDBOX_DIR)
}

weir_guest::export!(transform());

#[cfg(test)]
mod tests {
    use weir_guest::testing::{self, Session};

    use super::*;

    fn assets() -> SpellCheck {
        SpellCheck::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets"))
    }

    fn run(config: &str, records: &[&str]) -> Vec<Result<Vec<String>, String>> {
        testing::run(assets(), config, records)
    }

    fn one(line: &str) -> Result<Vec<String>, String> {
        Ok(vec![line.to_owned()])
    }

    #[test]
    fn an_index_asset_is_used_when_it_is_the_dictionarys_and_refused_when_not() {
        let dir = std::env::temp_dir().join(format!("spellcheck-index-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let text = include_str!("../assets/frequency_dictionary_en_82_765.txt");
        std::fs::write(dir.join(DEFAULT_DICTIONARY), text).unwrap_or_else(|e| panic!("{e}"));
        let digest = dictionary::text_sha256(text);
        let built = Dictionary::parse(text, 2).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("en.index"), built.index_bytes(digest))
            .unwrap_or_else(|e| panic!("{e}"));
        let records = [r#"{"text":"Teh quikc brown fox, 3 tmies!"}"#];
        let with_index = testing::run(
            SpellCheck::with_assets(&dir),
            r#"{"fields":["text"],"index":"en.index"}"#,
            records,
        );
        assert_eq!(with_index, run(r#"{"fields":["text"]}"#, &records));
        assert_eq!(
            with_index,
            [one(r#"{"text":"The quick brown fox, 3 times!"}"#)]
        );
        // The same index beside an edited dictionary: refused at init.
        std::fs::write(dir.join(DEFAULT_DICTIONARY), format!("{text}weirword 1\n"))
            .unwrap_or_else(|e| panic!("{e}"));
        let error = match Session::start(
            SpellCheck::with_assets(&dir),
            r#"{"fields":["text"],"index":"en.index"}"#,
        ) {
            Ok(_) => panic!("an index of another dictionary was accepted"),
            Err(e) => e,
        };
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            error.contains("index `en.index` of dictionary")
                && error.contains("built from a dictionary with sha256"),
            "{error}"
        );
    }

    #[test]
    fn corrects_words_and_keeps_everything_else() {
        let results = run(
            r#"{"fields":["text"]}"#,
            &[
                r#"{"id":1,"text":"Teh QUIKC BROWN FOX, 3 tmies!","n":1.50}"#,
                r#"{"id":2,"text":"Teh QUIKC brown fox, 3 tmies!"}"#,
            ],
        );
        // Capitals in a text of mostly capitals are shouted, and
        // corrected; among small letters they are an acronym, and kept.
        assert_eq!(
            results,
            [
                one(r#"{"id":1,"text":"The QUICK BROWN FOX, 3 times!","n":1.50}"#),
                one(r#"{"id":2,"text":"The QUIKC brown fox, 3 times!"}"#)
            ]
        );
    }

    /// Whatever the one-pass check lets through unchanged, the full
    /// per-word path leaves unchanged too: over dictionary words, their
    /// misspellings and every casing, with and without an allowlist.
    #[test]
    fn words_the_quick_check_keeps_are_words_correct_word_keeps() {
        let dictionary = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/frequency_dictionary_en_82_765.txt"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let vocabulary: Vec<&str> = dictionary
            .lines()
            .filter_map(|l| l.split(' ').next())
            .filter(|w| w.is_ascii())
            .take(3_000)
            .collect();
        let mut kept = 0;
        for config in [
            r#"{"fields":["t"]}"#,
            r#"{"fields":["t"],"min_word_length":1,"allowlist":["teh","The"]}"#,
            r#"{"fields":["t"],"min_word_length":5,"max_edit_distance":1}"#,
        ] {
            let config: Config = serde_json::from_str(config).unwrap_or_else(|e| panic!("{e}"));
            let checker = SpellChecker::new(config, &dictionary).unwrap_or_else(|e| panic!("{e}"));
            for (i, word) in vocabulary.iter().enumerate() {
                let mut variants = vec![
                    word.to_string(),
                    word.to_uppercase(),
                    format!("{}{}", word[..1].to_uppercase(), &word[1..]),
                    format!("{}x", word),
                    word.chars().rev().collect(),
                    "teh".to_owned(),
                    "I".to_owned(),
                    "DON'T".to_owned(),
                    "don't".to_owned(),
                ];
                if word.len() > 1 {
                    variants.push(format!("{}{}", &word[..1], word[1..].to_uppercase()));
                    variants.push(format!(
                        "{}{}",
                        &word[..word.len() - 1],
                        &word[word.len() - 1..].to_uppercase()
                    ));
                }
                for variant in variants
                    .iter()
                    .filter(|v| v.bytes().all(|b| b.is_ascii_alphabetic() || b == b'\''))
                {
                    // Alone, and read eight bytes at a time from a longer text.
                    let alone = checker.stays_ascii(variant.as_bytes(), 0..variant.len());
                    let in_text = format!("{variant} and more");
                    let in_text = checker.stays_ascii(in_text.as_bytes(), 0..variant.len());
                    assert_eq!(alone, in_text, "{variant}");
                    if alone {
                        kept += 1;
                        assert_eq!(
                            checker.correct_word(variant, Place::ALONE),
                            None,
                            "{variant} (word {i})"
                        );
                    }
                }
            }
        }
        assert!(kept > 20_000, "only {kept} words took the quick check");
    }

    /// The scanning path (`correct_patch`) writes what parsing the record
    /// writes, over the NLP example's raw tickets and records built to take
    /// every turn: escapes, exponents, spacing, nesting, an existing
    /// corrections key, a field named twice.
    #[test]
    fn the_patch_path_writes_what_the_parse_path_writes() {
        let tickets = include_str!("../../../examples/nlp/data/tickets-2026-11-26.ndjson");
        let built = [
            r#"{"id":1,"text":"Teh QUIKC brown fox, 3 tmies!","n":1.50}"#,
            r#" { "text" : "caf\u00e9 wrod \"teh\"\n" , "n" : 1E3 , "fixes" : 7 } "#,
            r#"{"notes":{"body":"teh","x":[1,{"y":"wrod"}]},"text":null}"#,
            r#"{"\u0074ext":"wrod"}"#,
            r#"{"text":"speling","fixes":{"text":"teh"}}"#,
            r#"{"text":["teh"]}"#,
            r#"{}"#,
        ];
        let configs = [
            r#"{"fields":["text"]}"#,
            r#"{"fields":["text","notes.body"],"corrections_field":"fixes"}"#,
            r#"{"fields":["text","text"],"corrections_field":"text"}"#,
            r#"{"fields":["notes.body","notes"],"corrections_field":"new"}"#,
            r#"{"fields":["notes.body"]}"#,
        ];
        let dictionary = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/frequency_dictionary_en_82_765.txt"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut patched = 0;
        for config in configs {
            let config: Config = serde_json::from_str(config).unwrap_or_else(|e| panic!("{e}"));
            let checker = SpellChecker::new(config, &dictionary).unwrap_or_else(|e| panic!("{e}"));
            for line in tickets.lines().chain(built) {
                let via_patch = testing::with_record(line, |record, output| {
                    let mut patch = Patch::new(record.members().ok()?);
                    checker.correct_patch(&mut patch)?;
                    output.emit_patched(patch);
                    Some(())
                });
                let via_parse = testing::with_record(line, |record, output| {
                    let mut value: Value = record.parse().ok()?;
                    checker.correct_record(&mut value).ok()?;
                    output.emit_from(&value, record).ok()
                });
                if let Some(text) = via_patch {
                    patched += 1;
                    assert_eq!(Some(text), via_parse, "{line}");
                }
            }
        }
        assert!(
            patched > 1_000,
            "only {patched} records took the patch path"
        );
        // A key repeated on a field's path is left to the parser (staging
        // never holds repeated keys; off the path they would be copied).
        let config: Config =
            serde_json::from_str(r#"{"fields":["notes.body"]}"#).unwrap_or_else(|e| panic!("{e}"));
        let checker = SpellChecker::new(config, &dictionary).unwrap_or_else(|e| panic!("{e}"));
        let repeated = r#"{"notes":{"body":"teh"},"notes":{"body":"wrod"}}"#;
        let refused = testing::with_record(repeated, |record, _| {
            let mut patch = Patch::new(record.members().ok()?);
            checker.correct_patch(&mut patch).is_none().then_some(())
        });
        assert!(refused.is_some());
    }

    #[test]
    fn lists_corrections_with_character_offsets() {
        let results = run(
            r#"{"fields":["text","notes.body"],"corrections_field":"fixes"}"#,
            &[
                r#"{"text":"—é wrod","notes":{"body":"teh"}}"#,
                r#"{"text":"fine"}"#,
            ],
        );
        assert_eq!(
            results,
            [
                one(
                    r#"{"text":"—é word","notes":{"body":"the"},"fixes":[{"field":"text","from":"wrod","to":"word","offset":3},{"field":"notes.body","from":"teh","to":"the","offset":0}]}"#
                ),
                one(r#"{"text":"fine","fixes":[]}"#),
            ]
        );
    }

    #[test]
    fn allowlist_short_words_and_mixed_case_are_left_alone() {
        let results = run(
            r#"{"fields":["text"],"allowlist":["Weir"],"min_word_length":4}"#,
            &[r#"{"text":"WEIR teh iPhnoe speling"}"#],
        );
        assert_eq!(results, [one(r#"{"text":"WEIR teh iPhnoe spelling"}"#)]);
    }

    #[test]
    fn unknown_words_without_a_suggestion_stay() {
        let results = run(
            r#"{"fields":["text"]}"#,
            &[r#"{"text":"qzxjvkw xylophone"}"#],
        );
        assert_eq!(results, [one(r#"{"text":"qzxjvkw xylophone"}"#)]);
    }

    #[test]
    fn distance_one_leaves_two_edit_typos() {
        let config = |d: u8| format!(r#"{{"fields":["text"],"max_edit_distance":{d}}}"#);
        let record = r#"{"text":"speling spelnig"}"#;
        assert_eq!(
            run(&config(1), &[record]),
            [one(r#"{"text":"spelling spelnig"}"#)]
        );
        assert_eq!(
            run(&config(2), &[record]),
            [one(r#"{"text":"spelling spelling"}"#)]
        );
    }

    /// Each rule of the careful mode, turned off alone, gives the word
    /// back to symspellpy's answer; turned on alone in the symspellpy mode,
    /// it keeps the word.
    #[test]
    fn each_rule_keeps_its_words_and_can_be_set_alone() {
        for (rule, text, symspellpy) in [
            ("contractions", "the company's car", "the company car"),
            ("keep_names", "we met Smtih", "we met Smith"),
            ("keep_foreign", "Straße", "Strafe"),
            ("normalize", "a \u{fb01}le", "a ale"),
            ("keep_names", "the GPL text", "the GEL text"),
            ("inflections", "the executables", "the executable"),
        ] {
            let record = |t: &str| serde_json::json!({ "text": t }).to_string();
            let careful = format!(r#"{{"fields":["text"],"{rule}":false}}"#);
            let off = run(&careful, &[&record(text)]);
            let symspellpy_mode = r#"{"fields":["text"],"mode":"symspellpy"}"#;
            assert_eq!(
                run(symspellpy_mode, &[&record(text)]),
                [one(&record(symspellpy))],
                "{rule}"
            );
            let alone = format!(r#"{{"fields":["text"],"mode":"symspellpy","{rule}":true}}"#);
            assert_eq!(
                run(&alone, &[&record(text)]),
                [one(&record(text))],
                "{rule} alone"
            );
            assert_eq!(
                run(r#"{"fields":["text"]}"#, &[&record(text)]),
                [one(&record(text))],
                "{rule}"
            );
            if rule != "normalize" {
                assert_eq!(off, [one(&record(symspellpy))], "{rule} off");
            }
        }
        // Of `field` and `files`, one edit each from `fiels`, `field` is
        // the more frequent; two letters swapped is the likelier typo.
        let record = r#"{"text":"the fiels"}"#;
        assert_eq!(
            run(r#"{"fields":["text"]}"#, &[record]),
            [one(r#"{"text":"the files"}"#)]
        );
        assert_eq!(
            run(r#"{"fields":["text"],"rank_typos":false}"#, &[record]),
            [one(r#"{"text":"the field"}"#)]
        );
        let record = r#"{"text":"a subfolder of subtasks, nonempty"}"#;
        assert_eq!(run(r#"{"fields":["text"]}"#, &[record]), [one(record)]);
        // A far suggestion: `emoji` is two edits from `emo`.
        let record = r#"{"text":"emoji"}"#;
        assert_eq!(run(r#"{"fields":["text"]}"#, &[record]), [one(record)]);
        let no_limit = r#"{"fields":["text"],"letters_per_edit":0}"#;
        assert_eq!(run(no_limit, &[record]), [one(r#"{"text":"emo"}"#)]);
        let strict = r#"{"fields":["text"],"letters_per_edit":4}"#;
        assert_eq!(
            run(strict, &[r#"{"text":"teh speling"}"#]),
            [one(r#"{"text":"teh spelling"}"#)]
        );
    }

    /// The memo changes how often a word is searched, never its answer:
    /// the NLP example's raw tickets (typos that repeat) come out the same
    /// with the memo on, off, and so small that it starts over at almost
    /// every misspelling, in both modes.
    #[test]
    fn answers_are_the_same_with_the_memo_on_and_off() {
        let tickets: Vec<&str> =
            include_str!("../../../examples/nlp/data/tickets-2026-11-26.ndjson")
                .lines()
                .collect();
        for base in [
            r#""fields":["text","subject"],"corrections_field":"fixes""#,
            r#""fields":["text","subject"],"corrections_field":"fixes","mode":"symspellpy""#,
        ] {
            let on = run(&format!("{{{base}}}"), &tickets);
            let corrected = on
                .iter()
                .filter(|r| matches!(r, Ok(lines) if !lines[0].contains(r#""fixes":[]"#)))
                .count();
            assert!(
                corrected > 100,
                "{base}: only {corrected} records corrected"
            );
            for words in [0, 1, 2, DEFAULT_MEMO_WORDS] {
                let config = format!(r#"{{{base},"memo_words":{words}}}"#);
                assert!(run(&config, &tickets) == on, "{config}");
            }
        }
    }

    #[test]
    fn non_string_field_fails_naming_it() {
        let results = run(r#"{"fields":["notes.body"]}"#, &[r#"{"notes":{"body":7}}"#]);
        assert_eq!(
            results,
            [Err(
                "field `notes.body` is a number, not a string".to_owned()
            )]
        );
    }

    fn config_error(transform: SpellCheck, config: &str) -> String {
        match Session::start(transform, config) {
            Ok(_) => panic!("config {config} was accepted"),
            Err(error) => error,
        }
    }

    #[test]
    fn bad_config_fails_init() {
        let distance = config_error(assets(), r#"{"fields":["text"],"max_edit_distance":3}"#);
        assert!(distance.contains("must be 1 or 2"), "{distance}");
        let mode = config_error(assets(), r#"{"fields":["text"],"mode":"strict"}"#);
        assert!(
            mode.contains("unknown variant `strict`") && mode.contains("careful"),
            "{mode}"
        );
        for words in ["-1", "1048577"] {
            let memo = config_error(
                assets(),
                &format!(r#"{{"fields":["text"],"memo_words":{words}}}"#),
            );
            assert!(
                memo.contains(&format!("`memo_words` is {words}"))
                    && memo.contains("from 0 (no memo) to 1048576"),
                "{memo}"
            );
        }
        let memo = config_error(assets(), r#"{"fields":["text"],"memo_words":"all"}"#);
        assert!(memo.contains("invalid type: string"), "{memo}");
        let unknown = config_error(assets(), r#"{"fields":["text"],"allow":["x"]}"#);
        assert!(unknown.contains("unknown field `allow`"), "{unknown}");
        let empty = config_error(assets(), r#"{"fields":[]}"#);
        assert!(empty.contains("`fields` is empty"), "{empty}");
        let missing = config_error(assets(), r#"{"fields":["text"],"dictionary":"nope.txt"}"#);
        assert!(
            missing.contains("cannot read the dictionary") && missing.contains("nope.txt"),
            "{missing}"
        );
        let no_assets = config_error(
            SpellCheck::with_assets("/nonexistent"),
            r#"{"fields":["text"]}"#,
        );
        assert!(no_assets.contains("--assets"), "{no_assets}");
    }
}
