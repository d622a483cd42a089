//! The symmetric-delete index over a frequency dictionary, and its lookup.
//!
//! Built as symspellpy's `SymSpell(max_dictionary_edit_distance, prefix_length=7)`
//! builds it from `load_dictionary(path, 0, 1)`, and searched as its
//! `lookup(word, Verbosity.TOP, max_edit_distance)` searches, step for step:
//! the same candidate order, the same pruning and the same tie-breaking (the
//! first of equal distance and count, in dictionary order, wins), so the top
//! suggestion is the one symspellpy returns. Knows nothing of records or of
//! how words are cut out of text.
//!
//! Layout: every dictionary word contributes the deletes of its first
//! [`PREFIX_LENGTH`] characters (itself included, and `""` for words no
//! longer than the maximum distance). Each delete is a 64-bit key (the
//! characters themselves when they are ASCII, else a hash). An
//! open-addressing table maps each distinct key to its number, and the ids
//! of the words sharing a key lie together in one flat array, in dictionary
//! order: no per-entry allocation, and no sorting, so the index of the
//! English dictionary builds in a fraction of a second.

use std::cell::RefCell;
use std::collections::HashMap;

/// Word lookups hash short strings millions of times per second: foldhash
/// (hashbrown's default) instead of SipHash. With a fixed seed: foldhash's
/// random one reads the clock, which in a guest is frozen anyway and makes
/// the host log that the transform read it.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// Misspelt words and the closest word's id and distance, if any; one map
/// per maximum distance looked up (index `d - 1` for distance `d`, then
/// `D + d - 1` for [`Dictionary::lookup_ranked`] in an index built for
/// distance `D`), so that a lookup can ask with a borrowed word.
type Memo = Vec<FastMap<Box<str>, Option<(WordId, usize)>>>;

/// How many misspelt words a dictionary remembers the answer for, per
/// distance looked up, unless [`Dictionary::set_memo_words`] says otherwise;
/// past it, that distance's memo starts over (a bound on memory, about 100
/// bytes per entry).
pub const DEFAULT_MEMO_WORDS: usize = 1 << 16;

use crate::distance::{DistanceBuffers, osa};

/// How many leading characters of a word its deletes are made from;
/// symspellpy's default.
pub const PREFIX_LENGTH: usize = 7;

/// The first bytes of a prebuilt index ([`Dictionary::index_bytes`]).
const INDEX_MAGIC: &[u8; 8] = b"WEIRSPIX";
/// Its format version.
const INDEX_VERSION: u32 = 1;
/// Its header: the magic, six `u32`s, the dictionary text's sha256.
const INDEX_HEADER: usize = 8 + 6 * 4 + 32;

/// The sha256 of a dictionary's text, which a prebuilt index records and
/// [`Dictionary::parse_with_index`] checks.
pub fn text_sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn hex32(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A word's position in the dictionary file (among the words kept).
type WordId = u32;

/// A frequency dictionary with its delete index.
#[derive(Debug)]
pub struct Dictionary {
    max_distance: usize,
    /// Each word, in first-seen order.
    words: Vec<Box<str>>,
    /// Each word's characters, concatenated; `char_starts[id]..char_starts[id + 1]`.
    chars: Vec<char>,
    char_starts: Vec<u32>,
    counts: Vec<u64>,
    ids: FastMap<Box<str>, WordId>,
    /// The words of at most seven bytes (most words), again, keyed by
    /// their bytes packed into a `u64`: the membership test every word
    /// of a text takes, without hashing a string.
    short: ShortWords,
    /// Length in characters of the longest word.
    max_length: usize,
    /// The characters the words are spelt with: bit `c` for ASCII `c`,
    /// and the others, sorted.
    ascii_alphabet: u128,
    other_alphabet: Vec<char>,
    /// The words with an apostrophe (`don't`), keyed by their spelling
    /// without it (`dont`); the most frequent, then the first, wins.
    without_apostrophes: FastMap<Box<str>, WordId>,
    /// The distinct delete keys, each with where its words lie in
    /// `postings`.
    keys: KeyTable,
    postings: Vec<WordId>,
    /// Per-lookup scratch space, reused so that a lookup allocates little.
    scratch: RefCell<Scratch>,
    /// Lookups of words not in the dictionary, and their answers, keyed by
    /// the word and the maximum distance: typos repeat, and a full lookup
    /// costs some fifty times a dictionary hit.
    memo: RefCell<Memo>,
    /// How many words each of `memo`'s maps holds before it starts over;
    /// 0: nothing is remembered.
    memo_words: usize,
}

/// What one lookup remembers, kept between lookups to save allocations.
#[derive(Debug, Default)]
struct Scratch {
    /// `considered[id] == generation`: word `id` was already weighed.
    considered: Vec<u32>,
    generation: u32,
    considered_deletes: Vec<u64>,
    candidates: Vec<Candidate>,
    /// The words found at the smallest distance so far, in the order found
    /// (symspellpy's `Verbosity.CLOSEST`).
    closest: Vec<WordId>,
    distance: DistanceBuffers,
}

/// A delete of the phrase's prefix: at most [`PREFIX_LENGTH`] characters.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    chars: [char; PREFIX_LENGTH],
    len: usize,
}

impl Candidate {
    fn as_slice(&self) -> &[char] {
        &self.chars[..self.len]
    }

    fn without(&self, i: usize) -> Candidate {
        let mut next = *self;
        next.chars.copy_within(i + 1..self.len, i);
        next.len -= 1;
        next
    }
}

/// The best suggestion for a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suggestion<'a> {
    /// The dictionary word.
    pub term: &'a str,
    /// Its edit distance from the word looked up.
    pub distance: usize,
    /// Its frequency count.
    pub count: u64,
}

/// Why a dictionary could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DictionaryError {
    /// It holds more words than fit the index's 32-bit ids.
    TooManyWords,
    /// A prebuilt index that does not belong to this dictionary or is
    /// damaged, and why.
    BadIndex(String),
}

impl std::fmt::Display for DictionaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DictionaryError::TooManyWords => {
                f.write_str("the dictionary holds more than 2^32 words")
            }
            DictionaryError::BadIndex(why) => write!(f, "prebuilt index: {why}"),
        }
    }
}

impl Dictionary {
    /// Builds the index from dictionary text: one `word count` per line.
    ///
    /// Parsed as symspellpy parses it: a line is split on single spaces
    /// after trailing whitespace is removed; lines with fewer than two
    /// parts, or whose count is not a 64-bit integer, are skipped; words
    /// with a count below 1 are ignored; a repeated word adds to its count
    /// (saturating).
    pub fn parse(text: &str, max_distance: usize) -> Result<Dictionary, DictionaryError> {
        let mut dictionary = Self::words_of(text, max_distance)?;
        dictionary.build_index();
        Ok(dictionary)
    }

    /// [`parse`](Self::parse) with the delete index read from `index`
    /// ([`index_bytes`](Self::index_bytes) of the same dictionary text and
    /// distance) instead of built: what the index costs to build (most of
    /// an instance's start) becomes a copy.
    ///
    /// # Errors
    ///
    /// `index` was made from other text (its sha256 differs), for another
    /// distance or prefix length, by another format version, or is
    /// damaged.
    pub fn parse_with_index(
        text: &str,
        max_distance: usize,
        text_sha256: [u8; 32],
        index: &[u8],
    ) -> Result<Dictionary, DictionaryError> {
        let mut dictionary = Self::words_of(text, max_distance)?;
        dictionary.load_index(text_sha256, index)?;
        Ok(dictionary)
    }

    /// The delete index as bytes, for [`parse_with_index`](Self::parse_with_index):
    /// a header naming the dictionary text's sha256, then the keys with
    /// where their words lie, then the word ids (little-endian).
    pub fn index_bytes(&self, text_sha256: [u8; 32]) -> Vec<u8> {
        let entries: Vec<&Entry> = self.keys.slots.iter().filter(|e| e.words != 0).collect();
        let mut out =
            Vec::with_capacity(INDEX_HEADER + entries.len() * 16 + self.postings.len() * 4);
        out.extend_from_slice(INDEX_MAGIC);
        for n in [
            INDEX_VERSION,
            self.max_distance as u32,
            PREFIX_LENGTH as u32,
            self.words.len() as u32,
            entries.len() as u32,
            self.postings.len() as u32,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&text_sha256);
        for e in entries {
            out.extend_from_slice(&e.key.to_le_bytes());
            out.extend_from_slice(&e.start.to_le_bytes());
            out.extend_from_slice(&e.words.to_le_bytes());
        }
        for id in &self.postings {
            out.extend_from_slice(&id.to_le_bytes());
        }
        out
    }

    fn load_index(&mut self, text_sha256: [u8; 32], index: &[u8]) -> Result<(), DictionaryError> {
        let bad = |why: String| DictionaryError::BadIndex(why);
        if index.len() < INDEX_HEADER || &index[..8] != INDEX_MAGIC {
            return Err(bad("not a spellcheck index (no header)".into()));
        }
        let field = |i: usize| {
            let at = 8 + 4 * i;
            u32::from_le_bytes([index[at], index[at + 1], index[at + 2], index[at + 3]])
        };
        let [version, distance, prefix, words, keys, postings] = [0, 1, 2, 3, 4, 5].map(field);
        if version != INDEX_VERSION {
            return Err(bad(format!(
                "format version {version}; this transform reads {INDEX_VERSION}: rebuild it"
            )));
        }
        if index[32..64] != text_sha256 {
            return Err(bad(format!(
                "built from a dictionary with sha256 {}, not this one ({}): rebuild it",
                hex32(&index[32..64]),
                hex32(&text_sha256)
            )));
        }
        if distance as usize != self.max_distance || prefix as usize != PREFIX_LENGTH {
            return Err(bad(format!(
                "built for max_edit_distance {distance} (prefix {prefix}), not {} (prefix {PREFIX_LENGTH}): rebuild it",
                self.max_distance
            )));
        }
        let (keys, postings) = (keys as usize, postings as usize);
        if words as usize != self.words.len()
            || index.len() != INDEX_HEADER + keys * 16 + postings * 4
        {
            return Err(bad("its sizes do not add up: the file is damaged".into()));
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([index[at], index[at + 1], index[at + 2], index[at + 3]])
        };
        let mut table = KeyTable::with_capacity(keys);
        let mut at = INDEX_HEADER;
        for _ in 0..keys {
            let mut key = [0; 8];
            key.copy_from_slice(&index[at..at + 8]);
            let entry = Entry {
                key: u64::from_le_bytes(key),
                start: u32_at(at + 8),
                words: u32_at(at + 12),
            };
            at += 16;
            let fits = entry.words != 0
                && (entry.start as usize)
                    .checked_add(entry.words as usize)
                    .is_some_and(|end| end <= postings);
            let slot = table.slot(entry.key);
            if !fits || table.slots[slot].words != 0 {
                return Err(bad(
                    "a key is repeated or out of range: the file is damaged".into(),
                ));
            }
            table.slots[slot] = entry;
            table.len += 1;
        }
        let mut ids = Vec::with_capacity(postings);
        for _ in 0..postings {
            let id = u32_at(at);
            at += 4;
            if id as usize >= self.words.len() {
                return Err(bad("a word id is out of range: the file is damaged".into()));
            }
            ids.push(id);
        }
        self.keys = table;
        self.postings = ids;
        self.scratch.get_mut().considered = vec![0; self.words.len()];
        Ok(())
    }

    /// The words of `text`, without the delete index.
    fn words_of(text: &str, max_distance: usize) -> Result<Dictionary, DictionaryError> {
        let mut dictionary = Dictionary {
            max_distance,
            words: Vec::new(),
            chars: Vec::new(),
            char_starts: vec![0],
            counts: Vec::new(),
            ids: FastMap::default(),
            short: ShortWords::default(),
            max_length: 0,
            ascii_alphabet: 0,
            other_alphabet: Vec::new(),
            without_apostrophes: FastMap::default(),
            keys: KeyTable::default(),
            postings: Vec::new(),
            scratch: RefCell::default(),
            memo: RefCell::new((0..2 * max_distance).map(|_| FastMap::default()).collect()),
            memo_words: DEFAULT_MEMO_WORDS,
        };
        for line in text.lines() {
            let mut parts = line.trim_end().split(' ');
            let (Some(word), Some(count)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<i64>() else {
                continue;
            };
            dictionary.add(word, count)?;
        }
        Ok(dictionary)
    }

    fn add(&mut self, word: &str, count: i64) -> Result<(), DictionaryError> {
        // count_threshold = 1: a count of 0 or less changes nothing.
        let Ok(count) = u64::try_from(count) else {
            return Ok(());
        };
        if count == 0 {
            return Ok(());
        }
        if let Some(&id) = self.ids.get(word) {
            let previous = &mut self.counts[id as usize];
            *previous = previous.saturating_add(count).min(i64::MAX as u64);
            return Ok(());
        }
        let id = WordId::try_from(self.words.len()).map_err(|_| DictionaryError::TooManyWords)?;
        self.words.push(word.into());
        self.ids.insert(word.into(), id);
        if let Some(packed) = packed_word(word) {
            self.short.insert(packed, id);
        }
        self.counts.push(count);
        for c in word.chars() {
            match u8::try_from(c) {
                Ok(b) if b.is_ascii() => self.ascii_alphabet |= 1 << b,
                _ => {
                    if let Err(at) = self.other_alphabet.binary_search(&c) {
                        self.other_alphabet.insert(at, c);
                    }
                }
            }
        }
        if word.contains('\'') {
            let bare: Box<str> = word.replace('\'', "").into();
            match self.without_apostrophes.get(&bare) {
                Some(&other) if self.counts[other as usize] >= count => {}
                _ => {
                    self.without_apostrophes.insert(bare, id);
                }
            }
        }
        let before = self.chars.len();
        self.chars.extend(word.chars());
        self.max_length = self.max_length.max(self.chars.len() - before);
        let end = u32::try_from(self.chars.len()).map_err(|_| DictionaryError::TooManyWords)?;
        self.char_starts.push(end);
        Ok(())
    }

    fn word_chars(&self, id: WordId) -> &[char] {
        let id = id as usize;
        &self.chars[self.char_starts[id] as usize..self.char_starts[id + 1] as usize]
    }

    fn build_index(&mut self) {
        // Pass 1: number each word's distinct deletes and count the words
        // per delete. Pass 2: lay the word ids out, grouped by delete.
        self.keys = KeyTable::with_capacity(self.words.len() * 8);
        let mut word_deletes: Vec<u32> = Vec::with_capacity(self.words.len() * 24);
        let mut word_ends: Vec<usize> = Vec::with_capacity(self.words.len());
        let mut word_keys = Vec::new();
        for id in 0..self.words.len() as WordId {
            let chars = self.word_chars(id);
            word_keys.clear();
            if chars.len() <= self.max_distance {
                word_keys.push(key(&[]));
            }
            let prefix = &chars[..chars.len().min(PREFIX_LENGTH)];
            push_deletes(prefix, self.max_distance, &mut word_keys);
            word_keys.sort_unstable();
            word_keys.dedup();
            for &k in &word_keys {
                word_deletes.push(self.keys.count(k));
            }
            word_ends.push(word_deletes.len());
        }
        let starts = self.keys.place();
        let mut next = starts;
        self.postings = vec![0; word_deletes.len()];
        let mut begin = 0;
        for (id, &end) in word_ends.iter().enumerate() {
            for &n in &word_deletes[begin..end] {
                let at = &mut next[n as usize];
                self.postings[*at as usize] = id as WordId;
                *at += 1;
            }
            begin = end;
        }
        self.scratch.get_mut().considered = vec![0; self.words.len()];
    }

    /// Whether `word` is in the dictionary (case-sensitive): what most
    /// words of a text need to know, without touching the word's entry.
    pub fn contains(&self, word: &str) -> bool {
        self.id(word).is_some()
    }

    /// Whether every character of `word` is one some dictionary word
    /// holds.
    pub fn spells(&self, word: &str) -> bool {
        word.chars().all(|c| match u8::try_from(c) {
            Ok(b) if b.is_ascii() => self.ascii_alphabet & (1 << b) != 0,
            _ => self.other_alphabet.binary_search(&c).is_ok(),
        })
    }

    /// The dictionary word that is `bare` with apostrophes put in
    /// (`dont` → `don't`), if there is one.
    pub fn with_apostrophes(&self, bare: &str) -> Option<&str> {
        self.without_apostrophes
            .get(bare)
            .map(|&id| &*self.words[id as usize])
    }

    /// Whether the word of at most seven bytes packed by [`packed_word`] is in the
    /// dictionary.
    pub(crate) fn contains_packed(&self, packed: u64) -> bool {
        self.short.get(packed).is_some()
    }

    /// The id of `word`, if it is in the dictionary.
    fn id(&self, word: &str) -> Option<WordId> {
        match packed_word(word) {
            Some(packed) => self.short.get(packed),
            None => self.ids.get(word).copied(),
        }
    }

    /// The words sharing the delete `k`, in dictionary order.
    fn words_with_delete(&self, k: u64) -> &[WordId] {
        match self.keys.get(k) {
            Some(entry) => {
                &self.postings[entry.start as usize..(entry.start + entry.words) as usize]
            }
            None => &[],
        }
    }

    /// Number of words kept.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether no word was kept.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Number of distinct deletes in the index.
    pub fn delete_count(&self) -> usize {
        self.keys.len()
    }

    /// The top suggestion for `phrase` within `max_distance` (at most the
    /// distance the index was built for): the word itself if it is in the
    /// dictionary, else the closest word, the most frequent among equally
    /// close ones. Case-sensitive, as symspellpy's `lookup`.
    pub fn lookup(&self, phrase: &str, max_distance: usize) -> Option<Suggestion<'_>> {
        let max_distance = max_distance.min(self.max_distance);
        if let Some(id) = self.id(phrase) {
            return Some(self.suggestion(id, 0));
        }
        if max_distance == 0 {
            return None;
        }
        let memo_index = max_distance - 1;
        if let Some(found) = self.remembered(memo_index, phrase) {
            return found.map(|(id, distance)| self.suggestion(id, distance));
        }
        let found = self.search(phrase, max_distance);
        self.remember(memo_index, phrase, found);
        found.map(|(id, distance)| self.suggestion(id, distance))
    }

    /// How many misspelt words are remembered per distance looked up
    /// ([`DEFAULT_MEMO_WORDS`] unless set); 0 turns the memo off, so that
    /// every lookup of a word not in the dictionary searches. The answers
    /// are the same either way.
    pub fn set_memo_words(&mut self, words: usize) {
        self.memo_words = words;
        for memo in self.memo.get_mut() {
            if memo.len() > words {
                memo.clear();
            }
            memo.shrink_to(words);
        }
    }

    /// The remembered answer for `phrase` in memo `memo_index`, if any.
    fn remembered(&self, memo_index: usize, phrase: &str) -> Option<Option<(WordId, usize)>> {
        if self.memo_words == 0 {
            return None;
        }
        self.memo.borrow()[memo_index].get(phrase).copied()
    }

    /// Remembers `found` for `phrase` in memo `memo_index`, emptying it
    /// first when it is full.
    fn remember(&self, memo_index: usize, phrase: &str, found: Option<(WordId, usize)>) {
        if self.memo_words == 0 {
            return;
        }
        let mut memo = self.memo.borrow_mut();
        let memo = &mut memo[memo_index];
        if memo.len() >= self.memo_words {
            memo.clear();
        }
        memo.insert(phrase.into(), found);
    }

    /// The full symmetric-delete search for a word not in the dictionary:
    /// the closest word's id and its distance.
    fn search(&self, phrase: &str, max_distance: usize) -> Option<(WordId, usize)> {
        let phrase: Vec<char> = phrase.chars().collect();
        let phrase_len = phrase.len();
        if phrase_len > self.max_length + max_distance || max_distance == 0 {
            return None;
        }
        let mut scratch = self.scratch.borrow_mut();
        let Scratch {
            considered,
            generation,
            considered_deletes,
            candidates,
            closest,
            distance: buffers,
        } = &mut *scratch;
        *generation = generation.wrapping_add(1);
        if *generation == 0 {
            considered.fill(0);
            *generation = 1;
        }
        let generation = *generation;
        considered_deletes.clear();
        candidates.clear();
        closest.clear();

        let mut best: Option<(WordId, usize)> = None;
        let mut max_distance_2 = max_distance;
        let phrase_prefix_len = phrase_len.min(PREFIX_LENGTH);
        let mut first = Candidate {
            chars: ['\0'; PREFIX_LENGTH],
            len: phrase_prefix_len,
        };
        first.chars[..phrase_prefix_len].copy_from_slice(&phrase[..phrase_prefix_len]);
        candidates.push(first);
        let mut pointer = 0;
        while pointer < candidates.len() {
            let candidate = candidates[pointer];
            pointer += 1;
            let candidate_len = candidate.len;
            let len_diff = phrase_prefix_len - candidate_len;
            // Candidates come in order of delete distance: none further on
            // can beat what was found.
            if len_diff > max_distance_2 {
                break;
            }
            for &id in self.words_with_delete(key(candidate.as_slice())) {
                let suggestion = self.word_chars(id);
                let suggestion_len = suggestion.len();
                if suggestion_len.abs_diff(phrase_len) > max_distance_2
                    || suggestion_len < candidate_len
                    || (suggestion_len == candidate_len && suggestion != candidate.as_slice())
                {
                    continue;
                }
                let suggestion_prefix_len = suggestion_len.min(PREFIX_LENGTH);
                if suggestion_prefix_len > phrase_prefix_len
                    && suggestion_prefix_len - candidate_len > max_distance_2
                {
                    continue;
                }
                let seen = considered[id as usize] == generation;
                let distance = if candidate_len == 0 {
                    let distance = phrase_len.max(suggestion_len);
                    if distance > max_distance_2 || seen {
                        continue;
                    }
                    distance
                } else if suggestion_len == 1 {
                    // The candidate is this one-letter word and a delete of
                    // the phrase, so the phrase holds its letter.
                    let distance = phrase_len - 1;
                    if distance > max_distance_2 || seen {
                        continue;
                    }
                    distance
                } else {
                    if differs_beyond_prefix(&phrase, suggestion, candidate_len, max_distance) {
                        continue;
                    }
                    if seen {
                        continue;
                    }
                    considered[id as usize] = generation;
                    match osa(&phrase, suggestion, max_distance_2, buffers) {
                        Some(distance) => distance,
                        None => continue,
                    }
                };
                if distance <= max_distance_2 {
                    if best.is_some_and(|_| distance < max_distance_2) {
                        closest.clear();
                    }
                    closest.push(id);
                    let better = match best {
                        Some((best_id, _)) => {
                            distance < max_distance_2
                                || self.counts[id as usize] > self.counts[best_id as usize]
                        }
                        None => true,
                    };
                    if better {
                        max_distance_2 = distance;
                        best = Some((id, distance));
                    }
                }
            }
            // Derive the next deletes from this candidate, unless they
            // could only be further away than what was found.
            if len_diff < max_distance && candidate_len <= PREFIX_LENGTH {
                if len_diff >= max_distance_2 {
                    continue;
                }
                for i in 0..candidate_len {
                    let delete = candidate.without(i);
                    let k = key(delete.as_slice());
                    if !considered_deletes.contains(&k) {
                        considered_deletes.push(k);
                        candidates.push(delete);
                    }
                }
            }
        }
        best
    }

    /// Like [`lookup`](Self::lookup), but of the words equally close to
    /// `phrase` the likeliest typo wins, not only the most frequent word:
    /// one that starts with the same character, then the most frequent once
    /// weighted by the kind of a one-edit typo (a letter left out weighs
    /// 3, two letters swapped 5, a letter added or changed 1). Measured on
    /// codespell's misspellings (docs/benchmarks.md), this is right more
    /// often than frequency alone.
    pub fn lookup_ranked(&self, phrase: &str, max_distance: usize) -> Option<Suggestion<'_>> {
        let max_distance = max_distance.min(self.max_distance);
        if let Some(id) = self.id(phrase) {
            return Some(self.suggestion(id, 0));
        }
        if max_distance == 0 {
            return None;
        }
        let memo_index = self.max_distance + max_distance - 1;
        if let Some(found) = self.remembered(memo_index, phrase) {
            return found.map(|(id, distance)| self.suggestion(id, distance));
        }
        let found = self.search(phrase, max_distance).map(|(_, distance)| {
            let phrase: Vec<char> = phrase.chars().collect();
            let scratch = self.scratch.borrow();
            let score = |id: WordId| {
                let word = self.word_chars(id);
                let same_start = word.first() == phrase.first();
                let weight = match (distance, typo_kind(&phrase, word)) {
                    (1, TypoKind::LeftOut) => 3.0,
                    (1, TypoKind::Swapped) => 5.0,
                    _ => 1.0,
                };
                (same_start, self.counts[id as usize] as f64 * weight)
            };
            let mut best = scratch.closest[0];
            let mut best_score = score(best);
            for &id in &scratch.closest[1..] {
                let s = score(id);
                if s > best_score {
                    (best, best_score) = (id, s);
                }
            }
            (best, distance)
        });
        self.remember(memo_index, phrase, found);
        found.map(|(id, distance)| self.suggestion(id, distance))
    }

    fn suggestion(&self, id: WordId, distance: usize) -> Suggestion<'_> {
        Suggestion {
            term: &self.words[id as usize],
            distance,
            count: self.counts[id as usize],
        }
    }
}

/// What one edit turned a word into its typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypoKind {
    /// The typo lacks one of the word's letters.
    LeftOut,
    /// Two neighbouring letters of the word are swapped.
    Swapped,
    /// A letter added or changed, or more than one edit.
    Other,
}

fn typo_kind(typo: &[char], word: &[char]) -> TypoKind {
    if word.len() == typo.len() + 1 {
        return TypoKind::LeftOut;
    }
    if word.len() == typo.len() {
        let mut differ = (0..word.len()).filter(|&i| word[i] != typo[i]);
        if let (Some(i), Some(j), None) = (differ.next(), differ.next(), differ.next())
            && j == i + 1
            && word[i] == typo[j]
            && word[j] == typo[i]
        {
            return TypoKind::Swapped;
        }
    }
    TypoKind::Other
}

/// symspellpy's shortcut for a candidate with the whole edit budget spent
/// in the prefix: then the rest of the two words must agree, up to one
/// transposition at its start, or the distance is over the maximum.
/// `true` means "skip this suggestion".
fn differs_beyond_prefix(
    phrase: &[char],
    suggestion: &[char],
    candidate_len: usize,
    max_distance: usize,
) -> bool {
    let (phrase_len, suggestion_len) = (phrase.len(), suggestion.len());
    if PREFIX_LENGTH - max_distance != candidate_len {
        return false;
    }
    let shortest = phrase_len.min(suggestion_len);
    if shortest <= PREFIX_LENGTH {
        return false;
    }
    let min_distance = shortest - PREFIX_LENGTH;
    let tails_differ = min_distance > 1
        && phrase[phrase_len + 1 - min_distance..]
            != suggestion[suggestion_len + 1 - min_distance..];
    let p = phrase_len - min_distance;
    let s = suggestion_len - min_distance;
    let not_transposed = phrase[p] != suggestion[s]
        && (phrase[p - 1] != suggestion[s] || phrase[p] != suggestion[s - 1]);
    tails_differ || not_transposed
}

/// Appends the keys of `prefix` (at most [`PREFIX_LENGTH`] characters) and
/// of every string made by deleting 1 to `max_distance` of its characters.
fn push_deletes(prefix: &[char], max_distance: usize, keys: &mut Vec<u64>) {
    keys.push(key(prefix));
    push_deletes_from(prefix, 0, max_distance, keys);
}

/// Deletes of `word` (at most [`PREFIX_LENGTH`] characters) at positions
/// `from..`, recursively, `depth` more times (positions before `from` were
/// covered by an earlier branch).
fn push_deletes_from(word: &[char], from: usize, depth: usize, keys: &mut Vec<u64>) {
    if depth == 0 {
        return;
    }
    let mut buffer = ['\0'; PREFIX_LENGTH];
    for i in from..word.len() {
        let shorter = word.len() - 1;
        buffer[..i].copy_from_slice(&word[..i]);
        buffer[i..shorter].copy_from_slice(&word[i + 1..]);
        keys.push(key(&buffer[..shorter]));
        push_deletes_from(&buffer[..shorter], i, depth - 1, keys);
    }
}

/// The delete keys, in an open-addressing table kept at most two thirds
/// full, each slot holding its key and where its words lie: looking a
/// delete up touches one place in memory before its words (a search looks
/// up dozens of deletes, most of them absent, and is bound by memory).
///
/// Built in two steps: [`count`](Self::count) each word's deletes, which
/// numbers the keys in the order first seen; then [`place`](Self::place)
/// the keys' words one after the other in that order.
#[derive(Debug, Default)]
struct KeyTable {
    /// A power of two long.
    slots: Vec<Entry>,
    len: usize,
}

/// A slot of a [`KeyTable`]: empty while `words` is 0.
#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    key: u64,
    /// Where the key's words start in the postings; while counting, the
    /// key's number.
    start: u32,
    words: u32,
}

impl KeyTable {
    fn with_capacity(keys: usize) -> KeyTable {
        KeyTable {
            slots: vec![Entry::default(); (keys * 3 / 2).next_power_of_two().max(16)],
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The slot holding `k`, or the empty slot where it would go.
    fn slot(&self, k: u64) -> usize {
        let mask = self.slots.len() - 1;
        // Fibonacci hashing: the multiply spreads packed characters.
        let mut slot = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask;
        loop {
            let entry = &self.slots[slot];
            if entry.words == 0 || entry.key == k {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn get(&self, k: u64) -> Option<Entry> {
        if self.slots.is_empty() {
            return None;
        }
        let entry = self.slots[self.slot(k)];
        (entry.words != 0).then_some(entry)
    }

    /// Counts one more word under `k`, numbering `k` if it is new: `k`'s
    /// number.
    fn count(&mut self, k: u64) -> u32 {
        if (self.len + 1) * 3 > self.slots.len() * 2 {
            self.grow();
        }
        let slot = self.slot(k);
        let entry = &mut self.slots[slot];
        if entry.words == 0 {
            *entry = Entry {
                key: k,
                start: self.len as u32,
                words: 0,
            };
            self.len += 1;
        }
        entry.words += 1;
        entry.start
    }

    /// Lays the keys' words out in the order of their numbers, each key's
    /// `start` now where its words go: returns those starts, by number.
    fn place(&mut self) -> Vec<u32> {
        let mut words = vec![0; self.len];
        for entry in self.slots.iter().filter(|e| e.words != 0) {
            words[entry.start as usize] = entry.words;
        }
        let mut starts = Vec::with_capacity(self.len);
        let mut total = 0;
        for count in words {
            starts.push(total);
            total += count;
        }
        for entry in self.slots.iter_mut().filter(|e| e.words != 0) {
            entry.start = starts[entry.start as usize];
        }
        starts
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![Entry::default(); size]);
        for entry in old.into_iter().filter(|e| e.words != 0) {
            let slot = self.slot(entry.key);
            self.slots[slot] = entry;
        }
    }
}

/// The dictionary's words of at most seven bytes and their ids, keyed by
/// [`packed_word`]: one array of keys, so that a probe is one load (the
/// ids lie in a parallel array, read only on a hit). Open addressing,
/// linear probing, at most half full; a key of 0 marks an empty slot, and
/// only the empty word packs to 0, so it is kept aside.
#[derive(Debug, Default)]
struct ShortWords {
    /// A power of two long, or empty.
    keys: Vec<u64>,
    ids: Vec<WordId>,
    len: usize,
    empty_word: Option<WordId>,
}

impl ShortWords {
    /// The slot holding `k`, or the empty slot where it would go; `keys`
    /// must not be empty, and `k` not 0.
    fn slot(&self, k: u64) -> usize {
        let mask = self.keys.len() - 1;
        // Fibonacci hashing: the multiply spreads packed characters.
        let mut slot = (k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask;
        loop {
            let there = self.keys[slot];
            if there == k || there == 0 {
                return slot;
            }
            slot = (slot + 1) & mask;
        }
    }

    fn get(&self, k: u64) -> Option<WordId> {
        if k == 0 {
            return self.empty_word;
        }
        if self.keys.is_empty() {
            return None;
        }
        let slot = self.slot(k);
        (self.keys[slot] == k).then(|| self.ids[slot])
    }

    /// Adds word `id` under `k`, unless a word is there already.
    fn insert(&mut self, k: u64, id: WordId) {
        if k == 0 {
            self.empty_word.get_or_insert(id);
            return;
        }
        if (self.len + 1) * 2 > self.keys.len() {
            let size = (self.keys.len() * 2).max(16);
            let old_keys = std::mem::replace(&mut self.keys, vec![0; size]);
            let old_ids = std::mem::replace(&mut self.ids, vec![0; size]);
            for (k, id) in old_keys.into_iter().zip(old_ids).filter(|&(k, _)| k != 0) {
                let slot = self.slot(k);
                self.keys[slot] = k;
                self.ids[slot] = id;
            }
        }
        let slot = self.slot(k);
        if self.keys[slot] == 0 {
            self.keys[slot] = k;
            self.ids[slot] = id;
            self.len += 1;
        }
    }
}

/// A word of at most seven bytes packed into a `u64`, its length in the top
/// byte: exact (two such words are equal if and only if their packings
/// are), whatever the bytes; `None` for a longer word.
fn packed_word(word: &str) -> Option<u64> {
    let bytes = word.as_bytes();
    if bytes.len() > 7 {
        return None;
    }
    let mut packed = [0u8; 8];
    packed[..bytes.len()].copy_from_slice(bytes);
    packed[7] = bytes.len() as u8;
    Some(u64::from_le_bytes(packed))
}

/// The index key of a delete (at most [`PREFIX_LENGTH`] characters): the
/// characters themselves, one byte each, when all are ASCII and not NUL
/// (exact, and below 2^56); otherwise a 64-bit FNV-1a hash with the top bit
/// set, so the two kinds never meet.
fn key(chars: &[char]) -> u64 {
    if chars.len() <= 7 && chars.iter().all(|&c| c != '\0' && c.is_ascii()) {
        chars.iter().fold(0, |k, &c| (k << 8) | u64::from(c as u8))
    } else {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &c in chars {
            for byte in u32::from(c).to_le_bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash | (1 << 63)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = "the 100\nthen 40\nthey 40\nhello 30\nhelp 30\nspelling 20\nbake 5\nbrake 5\ncafé 3\nx 0\nbroken\n";

    fn top(dictionary: &Dictionary, word: &str) -> Option<(String, usize)> {
        dictionary
            .lookup(word, 2)
            .map(|s| (s.term.to_owned(), s.distance))
    }

    /// Misspellings of the English dictionary's words: each word with one
    /// letter dropped, doubled or swapped, in turn.
    fn misspellings(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, line) in text.lines().step_by(97).enumerate() {
            let word: Vec<char> = line.split(' ').next().unwrap_or("").chars().collect();
            if word.len() < 3 {
                continue;
            }
            let k = 1 + i % (word.len() - 2);
            let mut w = word.clone();
            match i % 3 {
                0 => {
                    w.remove(k);
                }
                1 => w.insert(k, word[k]),
                _ => w.swap(k, k + 1),
            }
            out.push(w.into_iter().collect());
        }
        out
    }

    #[test]
    fn a_prebuilt_index_answers_as_the_built_one_and_only_for_its_dictionary() {
        let text = include_str!("../assets/frequency_dictionary_en_82_765.txt");
        let digest = [7; 32];
        let built = Dictionary::parse(text, 2).unwrap_or_else(|e| panic!("{e}"));
        let bytes = built.index_bytes(digest);
        let loaded =
            Dictionary::parse_with_index(text, 2, digest, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.keys.len(), built.keys.len());
        let words = misspellings(text);
        assert!(words.len() > 800, "{}", words.len());
        for word in &words {
            assert_eq!(loaded.lookup(word, 2), built.lookup(word, 2), "{word}");
            assert_eq!(
                loaded.lookup_ranked(word, 1),
                built.lookup_ranked(word, 1),
                "{word}"
            );
        }
        let refused = |text: &str, distance: usize, digest: [u8; 32], bytes: &[u8]| {
            match Dictionary::parse_with_index(text, distance, digest, bytes) {
                Err(DictionaryError::BadIndex(why)) => why,
                other => panic!("accepted: {:?}", other.map(|d| d.len())),
            }
        };
        // Another dictionary's digest, another distance, a cut or altered file.
        let why = refused(text, 2, [8; 32], &bytes);
        assert!(
            why.contains("built from a dictionary with sha256 0707") && why.contains("rebuild"),
            "{why}"
        );
        assert!(refused(text, 1, digest, &bytes).contains("max_edit_distance 2"));
        assert!(refused(text, 2, digest, &bytes[..bytes.len() - 4]).contains("damaged"));
        let mut altered = bytes.clone();
        let last = altered.len() - 4;
        altered[last..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(refused(text, 2, digest, &altered).contains("word id is out of range"));
        assert!(refused(text, 2, digest, b"not an index").contains("not a spellcheck index"));
        // Built from other text with the same digest claimed: the word count differs.
        assert!(refused(SMALL, 2, digest, &bytes).contains("damaged"));
    }

    #[test]
    fn remembered_answers_equal_searched_ones_and_the_memo_stays_bounded() {
        let mut d = Dictionary::parse(SMALL, 2).unwrap_or_else(|e| panic!("{e}"));
        for word in ["hellp", "thw", "zzzzzz", "brak"] {
            let searched = d
                .search(word, 2)
                .map(|(id, distance)| d.suggestion(id, distance));
            assert_eq!(d.lookup(word, 2), searched, "{word}");
            assert_eq!(d.lookup(word, 2), searched, "{word}, remembered");
            // The distance is part of the key.
            let one = d
                .search(word, 1)
                .map(|(id, distance)| d.suggestion(id, distance));
            assert_eq!(d.lookup(word, 1), one, "{word} at distance 1");
        }
        let sizes = |d: &Dictionary| d.memo.borrow().iter().map(FastMap::len).collect::<Vec<_>>();
        for i in 0..DEFAULT_MEMO_WORDS + 10 {
            d.lookup(&format!("q{i}"), 2);
        }
        assert!(sizes(&d).iter().all(|&n| n <= DEFAULT_MEMO_WORDS));
        assert!(sizes(&d)[1] > 0);
        // A smaller bound empties what no longer fits and holds from then on.
        d.set_memo_words(3);
        for word in ["hellp", "thw", "zzzzzz", "brak", "thn"] {
            d.lookup(word, 2);
            assert!(sizes(&d).iter().all(|&n| n <= 3), "{:?}", sizes(&d));
        }
        // Off: nothing is remembered, and the answers stay the searched ones.
        d.set_memo_words(0);
        for word in ["hellp", "thw", "zzzzzz", "brak"] {
            let searched = d
                .search(word, 2)
                .map(|(id, distance)| d.suggestion(id, distance));
            assert_eq!(d.lookup(word, 2), searched, "{word}, memo off");
            assert_eq!(
                d.lookup_ranked(word, 1).is_some(),
                d.search(word, 1).is_some()
            );
        }
        assert_eq!(sizes(&d), [0, 0, 0, 0]);
    }

    #[test]
    fn parses_like_symspellpy() {
        let d = Dictionary::parse(SMALL, 2).expect("parses");
        // `x 0` (count below 1) and `broken` (no count) are skipped.
        assert_eq!(d.len(), 9);
        let doubled = Dictionary::parse("a 2\na 3\n", 2).expect("parses");
        assert_eq!(doubled.lookup("a", 2).map(|s| s.count), Some(5));
    }

    #[test]
    fn a_known_word_is_its_own_suggestion() {
        let d = Dictionary::parse(SMALL, 2).expect("parses");
        assert_eq!(top(&d, "then"), Some(("then".to_owned(), 0)));
    }

    #[test]
    fn closest_wins_then_most_frequent_then_first() {
        let d = Dictionary::parse(SMALL, 2).expect("parses");
        assert_eq!(top(&d, "spelling"), Some(("spelling".to_owned(), 0)));
        assert_eq!(top(&d, "speling"), Some(("spelling".to_owned(), 1)));
        // `thex` is 1 from `the`, `then` and `they`: the most frequent wins.
        assert_eq!(top(&d, "thex"), Some(("the".to_owned(), 1)));
        // `helo` is 1 from `hello` and `help`, of equal count: the first
        // found (through the delete `helo` itself) wins.
        assert_eq!(top(&d, "helo"), Some(("hello".to_owned(), 1)));
        // `hel` is 2 from `hello` but 1 from `help`.
        assert_eq!(top(&d, "hel"), Some(("help".to_owned(), 1)));
        // `bkae`: transposition, 1 from `bake`.
        assert_eq!(top(&d, "bkae"), Some(("bake".to_owned(), 1)));
        assert_eq!(top(&d, "cafe"), Some(("café".to_owned(), 1)));
        assert_eq!(top(&d, "zzzzzz"), None);
    }

    #[test]
    fn max_distance_one_finds_only_single_edits() {
        let d = Dictionary::parse(SMALL, 1).expect("parses");
        assert_eq!(d.lookup("speling", 1).map(|s| s.term), Some("spelling"));
        assert_eq!(d.lookup("spleing", 1), None);
    }

    #[test]
    fn agrees_with_symspellpy_on_the_shipped_dictionary() {
        // symspellpy 6.10.1: lookup(word, Verbosity.TOP, max_edit_distance=2).
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/frequency_dictionary_en_82_765.txt"
        ))
        .expect("the shipped dictionary");
        let d = Dictionary::parse(&text, 2).expect("parses");
        assert_eq!(d.len(), 82_834);
        for (word, term, distance, count) in [
            ("recieveing", "receiving", 2, 25_243_472),
            ("dictonery", "dictionary", 2, 40_838_300),
            ("spelnig", "spelling", 2, 7_368_045),
            ("tmies", "times", 1, 202_950_880),
            ("jumsp", "jump", 1, 44_137_441),
            ("acommodation", "accommodation", 1, 60_589_803),
            ("embarassment", "embarrassment", 1, 1_242_414),
            ("pronounciation", "pronunciation", 1, 2_203_941),
            ("don't", "don't", 0, 300_000),
        ] {
            assert_eq!(
                d.lookup(word, 2),
                Some(Suggestion {
                    term,
                    distance,
                    count
                }),
                "{word}"
            );
        }
        assert_eq!(d.lookup("qzxjvkw", 2), None);
    }

    #[test]
    fn knows_its_alphabet_and_its_words_without_apostrophes() {
        let d =
            Dictionary::parse("don't 5\ndont 1\nwon't 2\nwo'nt 3\ncafé 1\n", 2).expect("parses");
        assert!(d.spells("cat'n"), "cat'n");
        assert!(d.spells("éa"), "éa");
        assert!(!d.spells("über") && !d.spells("x"));
        // A word spelt without its apostrophe is still offered the
        // contraction; of two, the more frequent.
        assert_eq!(d.with_apostrophes("dont"), Some("don't"));
        assert_eq!(d.with_apostrophes("wont"), Some("wo'nt"));
        assert_eq!(d.with_apostrophes("cafe"), None);
    }

    #[test]
    fn keys_are_exact_for_ascii_and_never_clash_with_hashes() {
        assert_eq!(key(&[]), 0);
        assert_ne!(key(&['a', 'b']), key(&['b', 'a']));
        assert!(key(&['a'; 7]) < 1 << 56);
        assert!(key(&['é']) >= 1 << 63);
    }
}
