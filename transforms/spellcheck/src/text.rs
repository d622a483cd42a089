//! Cutting a text into the words that may be corrected, and carrying a
//! word's casing over to its correction.
//!
//! A word is a run of letters, with apostrophes (`'` or `’`) allowed
//! between letters (`don't`). Whatever is not a word (spaces, punctuation,
//! digits) is never touched, and neither is any word inside a
//! whitespace-separated chunk that looks like an address rather than prose:
//! a URL (`https://...`, `www....`), an e-mail address or @-mention (any
//! `@`), a path (`/`, `\`), an identifier (`_`) or a dotted name
//! (`example.com`, `U.S.`, `lib.rs`). A word glued to a digit (`3rd`,
//! `abc123`) is left alone too. With combining marks on, a combining mark
//! (U+0301 and the like) continues the word it follows, so that a
//! decomposed accent does not cut a word in two. Also: whether a word starts
//! a sentence, and whether an apostrophe comes just before it. Knows
//! nothing of dictionaries or records.

use std::ops::Range;

use unicode_normalization::char::is_combining_mark;

/// A word found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Where it is, in bytes.
    pub bytes: Range<usize>,
    /// Where it starts, in characters (Unicode code points) from the start
    /// of the text: what Python's `text[offset:]` would use.
    pub offset: usize,
}

/// The words of `text` that may be corrected, in order; with `marks`, a
/// combining mark after a letter belongs to the word.
pub fn words(text: &str, marks: bool) -> Vec<Word> {
    // About one word in six bytes of prose: room for most texts at once.
    let mut words = Vec::with_capacity(text.len() / 6 + 1);
    if text.is_ascii() {
        each_ascii_word(text.as_bytes(), |bytes| {
            words.push(Word {
                offset: bytes.start,
                bytes,
            });
        });
    } else {
        unicode_words(text, marks, &mut words);
    }
    words
}

/// [`words`] for ASCII text, without building a list: `found` is called
/// with each word's bytes (which are also its characters), in order.
/// `text` must be ASCII (check with `is_ascii` first): the cutter's
/// eight-bytes-at-a-time letter test is only right for ASCII bytes.
pub fn each_ascii_word(text: &[u8], found: impl FnMut(Range<usize>)) {
    debug_assert!(text.is_ascii(), "each_ascii_word takes ASCII text");
    ascii::words(text, found);
}

/// The rules on any text, character by character.
fn unicode_words(text: &str, marks: bool, words: &mut Vec<Word>) {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].1.is_whitespace() {
            i += 1;
            continue;
        }
        let chunk_start = i;
        while i < chars.len() && !chars[i].1.is_whitespace() {
            i += 1;
        }
        let chunk = &chars[chunk_start..i];
        if !looks_like_address(chunk) {
            words_of_chunk(chunk, chunk_start, marks, words);
        }
    }
}

/// The same rules for ASCII text (most text), on bytes: no copy of the
/// text into characters, no allocation but the list of words. A byte is a
/// character here, so byte and character offsets agree.
mod ascii {
    use std::ops::Range;

    /// `char::is_whitespace` on ASCII: this includes the vertical tab,
    /// which `u8::is_ascii_whitespace` does not.
    fn is_space(b: u8) -> bool {
        matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
    }

    pub(super) fn words(text: &[u8], mut found: impl FnMut(Range<usize>)) {
        let mut i = 0;
        while i < text.len() {
            if is_space(text[i]) {
                i += 1;
                continue;
            }
            // Most chunks are a run of letters up to a space or the end:
            // one word, and no address.
            let start = i;
            let end = letters_end(text, start);
            if end > start && text.get(end).is_none_or(|&c| is_space(c)) {
                found(start..end);
                i = end;
                continue;
            }
            while let Some(&c) = text.get(i) {
                if is_space(c) {
                    break;
                }
                i += 1;
            }
            let chunk = &text[start..i];
            if !looks_like_address(chunk) {
                words_of_chunk(chunk, start, &mut found);
            }
        }
    }

    /// The end of the run of letters from `from`: eight bytes at a time
    /// while there are eight. For ASCII bytes, `b | 0x20` is a letter's
    /// small form and turns no other byte into a small letter; adding
    /// `0x80 - 0x61` (or `0x80 - 0x7b`) to it sets its top bit exactly when
    /// it is at least `a` (or past `z`), and never carries into the next byte.
    pub(super) fn letters_end(text: &[u8], from: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let mut i = from;
        while let Some(chunk) = text.get(i..i + 8) {
            let mut eight = [0; 8];
            eight.copy_from_slice(chunk);
            let small = u64::from_le_bytes(eight) | (ONES * 0x20);
            let at_least_a = small.wrapping_add(ONES * (0x80 - 0x61));
            let past_z = small.wrapping_add(ONES * (0x80 - 0x7b));
            let not_letter = !(at_least_a & !past_z) & (ONES * 0x80);
            if not_letter != 0 {
                return i + not_letter.trailing_zeros() as usize / 8;
            }
            i += 8;
        }
        while text.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        i
    }

    fn words_of_chunk(chunk: &[u8], first: usize, found: &mut impl FnMut(Range<usize>)) {
        let letter = |j: usize| chunk.get(j).is_some_and(u8::is_ascii_alphabetic);
        let glued = |j: Option<usize>| {
            j.and_then(|j| chunk.get(j))
                .is_some_and(|&c| c.is_ascii_digit() || c == b'_')
        };
        let mut i = 0;
        while i < chunk.len() {
            if !letter(i) {
                i += 1;
                continue;
            }
            let start = i;
            while letter(i) || (chunk.get(i) == Some(&b'\'') && letter(i + 1)) {
                i += 1;
            }
            if glued(start.checked_sub(1)) || glued(Some(i)) {
                continue;
            }
            found(first + start..first + i);
        }
    }

    /// One pass: an `@`, `/`, `\` or `_` anywhere, or a dot between two
    /// letters or digits (which lie inside the chunk's core, from its first
    /// to its last letter or digit, by definition); then `www.` at the start
    /// of the core.
    fn looks_like_address(chunk: &[u8]) -> bool {
        let mut after_alphanumeric = false;
        for (i, &c) in chunk.iter().enumerate() {
            match c {
                b'@' | b'/' | b'\\' | b'_' => return true,
                b'.' if after_alphanumeric
                    && chunk.get(i + 1).is_some_and(u8::is_ascii_alphanumeric) =>
                {
                    return true;
                }
                _ => {}
            }
            after_alphanumeric = c.is_ascii_alphanumeric();
        }
        let Some(first) = chunk.iter().position(u8::is_ascii_alphanumeric) else {
            return false;
        };
        // The core is at least four long only if a letter or digit follows
        // the `www.`.
        let core = &chunk[first..];
        core.len() > 4
            && core[..4].eq_ignore_ascii_case(b"www.")
            && core[4..].iter().any(u8::is_ascii_alphanumeric)
    }
}

/// `'` or `’`.
pub fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Pushes the words of one whitespace-free chunk, which starts at
/// character `first` of its text.
fn words_of_chunk(chunk: &[(usize, char)], first: usize, marks: bool, words: &mut Vec<Word>) {
    let letter = |j: usize| chunk.get(j).is_some_and(|&(_, c)| c.is_alphabetic());
    let mark = |j: usize| marks && chunk.get(j).is_some_and(|&(_, c)| is_combining_mark(c));
    let glued = |j: Option<usize>| {
        j.and_then(|j| chunk.get(j))
            .is_some_and(|&(_, c)| c.is_numeric() || c == '_')
    };
    let mut i = 0;
    while i < chunk.len() {
        if !letter(i) {
            i += 1;
            continue;
        }
        let start = i;
        while letter(i)
            || mark(i)
            || (chunk.get(i).is_some_and(|&(_, c)| is_apostrophe(c)) && letter(i + 1))
        {
            i += 1;
        }
        if glued(start.checked_sub(1)) || glued(Some(i)) {
            continue;
        }
        let (last_byte, last) = chunk[i - 1];
        let end_byte = last_byte + last.len_utf8();
        words.push(Word {
            bytes: chunk[start].0..end_byte,
            offset: first + start,
        });
    }
}

/// Whether a whitespace-free chunk is a URL, e-mail address, path,
/// identifier or dotted name rather than prose.
fn looks_like_address(chunk: &[(usize, char)]) -> bool {
    let chars: Vec<char> = chunk.iter().map(|&(_, c)| c).collect();
    if chars.iter().any(|&c| matches!(c, '@' | '/' | '\\' | '_')) {
        return true;
    }
    // Trim what surrounds a name in prose: quotes, brackets, final stops.
    let first = chars.iter().position(|c| c.is_alphanumeric());
    let last = chars.iter().rposition(|c| c.is_alphanumeric());
    let (Some(first), Some(last)) = (first, last) else {
        return false;
    };
    let core = &chars[first..=last];
    let lower: String = core.iter().take(4).flat_map(|c| c.to_lowercase()).collect();
    if lower == "www." {
        return true;
    }
    core.windows(3)
        .any(|w| w[1] == '.' && w[0].is_alphanumeric() && w[2].is_alphanumeric())
}

/// Whether the word at byte `at` of `text` starts a sentence: nothing but
/// spaces and opening punctuation (quotes, brackets, dashes, bullets) lies
/// between it and the start of the text, a line break, or a `.`, `!`, `?`
/// or `…`.
pub fn starts_sentence(text: &str, at: usize) -> bool {
    for c in text[..at].chars().rev() {
        match c {
            '\n' | '\r' | '.' | '!' | '?' | '…' => return true,
            c if c.is_whitespace() => {}
            '"' | '\'' | '“' | '‘' | '„' | '«' | '(' | '[' | '{' | '-' | '–' | '—' | '•' | '*'
            | '¿' | '¡' => {}
            _ => return false,
        }
    }
    true
}

/// Whether most letters of `text` are capitals: then a word in capitals
/// is shouted, not an acronym.
pub fn shouting(text: &str) -> bool {
    let (mut upper, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        upper += usize::from(c.is_uppercase());
    }
    upper * 2 > letters
}

/// Whether an apostrophe (`'` or `’`) comes just before byte `at` of
/// `text`.
pub fn after_apostrophe(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_some_and(is_apostrophe)
}

/// How a word is capitalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Casing {
    /// No capital letters: `hello`.
    Lower,
    /// A capital, then none: `Hello` (and a lone `I`).
    Capitalised,
    /// All capitals, two letters or more: `HELLO`.
    Upper,
    /// Anything else: `iPhone`, `McDonald`. Such words are left alone.
    Mixed,
}

impl Casing {
    /// The casing of `word`.
    pub fn of(word: &str) -> Casing {
        if word.is_ascii() {
            Casing::of_ascii(word.as_bytes())
        } else {
            Casing::of_unicode(word)
        }
    }

    fn of_unicode(word: &str) -> Casing {
        let mut letters = word.chars().filter(|c| c.is_alphabetic());
        let Some(first) = letters.next() else {
            return Casing::Lower;
        };
        let (mut upper, mut lower, mut rest) = (0, 0, 0);
        for c in letters {
            rest += 1;
            if c.is_uppercase() {
                upper += 1;
            } else if c.is_lowercase() {
                lower += 1;
            }
        }
        match (first.is_uppercase(), upper, lower) {
            (false, 0, _) => Casing::Lower,
            (true, 0, _) => Casing::Capitalised,
            (true, n, 0) if n == rest => Casing::Upper,
            _ => Casing::Mixed,
        }
    }

    /// [`Casing::of`] for ASCII, on bytes.
    fn of_ascii(word: &[u8]) -> Casing {
        let mut letters = word.iter().filter(|c| c.is_ascii_alphabetic());
        let Some(first) = letters.next() else {
            return Casing::Lower;
        };
        let (mut upper, mut rest) = (0, 0);
        for c in letters {
            rest += 1;
            upper += usize::from(c.is_ascii_uppercase());
        }
        match (first.is_ascii_uppercase(), upper) {
            (false, 0) => Casing::Lower,
            (true, 0) => Casing::Capitalised,
            (true, n) if n == rest => Casing::Upper,
            _ => Casing::Mixed,
        }
    }

    /// `lower` (a lowercase word) written with this casing.
    pub fn apply(self, lower: &str) -> String {
        match self {
            Casing::Lower | Casing::Mixed => lower.to_owned(),
            Casing::Upper => lower.to_uppercase(),
            Casing::Capitalised => {
                let mut chars = lower.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        words(text, false)
            .into_iter()
            .map(|w| &text[w.bytes])
            .collect()
    }

    #[test]
    fn combining_marks_continue_a_word_when_asked() {
        let text = "re\u{301}cieve cafe\u{301}. \u{301}x";
        let cut = |marks| -> Vec<&str> {
            words(text, marks)
                .into_iter()
                .map(|w| &text[w.bytes])
                .collect()
        };
        assert_eq!(cut(false), ["re", "cieve", "cafe", "x"]);
        assert_eq!(cut(true), ["re\u{301}cieve", "cafe\u{301}", "x"]);
    }

    #[test]
    fn sentence_starts_and_apostrophes_are_told() {
        let text = "Ann met Bob. \"Carl\" (Dan)\n- Eve and 'tis… Fay";
        let at = |w: &str| text.find(w).unwrap_or_else(|| panic!("{w}"));
        let starts: Vec<bool> = [
            "Ann", "met", "Bob", "Carl", "Dan", "Eve", "and", "tis", "Fay",
        ]
        .iter()
        .map(|w| starts_sentence(text, at(w)))
        .collect();
        assert_eq!(
            starts,
            [true, false, false, true, false, true, false, false, true]
        );
        assert!(after_apostrophe(text, at("tis")));
        assert!(!after_apostrophe(text, at("Eve")));
        assert!(!after_apostrophe(text, 0));
    }

    #[test]
    fn words_are_runs_of_letters_with_inner_apostrophes() {
        assert_eq!(
            found("Teh cat's (quick), 'brown' fox—jumps!"),
            ["Teh", "cat's", "quick", "brown", "fox", "jumps"]
        );
        assert_eq!(found("don’t well-knwon"), ["don’t", "well", "knwon"]);
        assert_eq!(found("naïve café"), ["naïve", "café"]);
    }

    #[test]
    fn offsets_count_characters() {
        let text = "héllo wörld";
        let offsets: Vec<usize> = words(text, false).iter().map(|w| w.offset).collect();
        assert_eq!(offsets, [0, 6]);
    }

    #[test]
    fn addresses_and_identifiers_are_skipped() {
        assert_eq!(
            found("see https://exmaple.com/pth or www.exmaple.org, mail jon@exmaple.com now"),
            ["see", "or", "mail", "now"]
        );
        assert_eq!(
            found("run /usr/bin/env in my_var at lib.rs"),
            ["run", "in", "at"]
        );
        assert_eq!(found("the U.S. (e.g. here) @jon"), ["the", "here"]);
        assert_eq!(found("3rd abc123 x86 v2 ok"), ["ok"]);
    }

    #[test]
    fn the_ascii_path_cuts_words_as_the_unicode_path_does() {
        // Every character the rules treat specially, plain letters, and
        // pieces of addresses.
        let pieces: Vec<String> = "aBcdEzZ  \t\n\u{b}\u{c}\r09_@/\\.'-,!()wW`[{~\u{7f}"
            .chars()
            .map(String::from)
            .chain(["www.", "WwW.", "ww.", "x.y", "don't", ".."].map(String::from))
            .collect();
        let mut rng = weir_guest::testing::XorShift::new(0x7e57);
        for _ in 0..50_000 {
            let len = rng.below(16);
            let text: String = (0..len)
                .map(|_| pieces[rng.below(pieces.len())].as_str())
                .collect();
            let mut unicode = Vec::new();
            unicode_words(&text, false, &mut unicode);
            assert_eq!(words(&text, false), unicode, "{text:?}");
            for word in &unicode {
                let word = &text[word.bytes.clone()];
                assert_eq!(Casing::of(word), Casing::of_unicode(word), "{word:?}");
            }
        }
        assert_eq!(found("www.x ab\u{b}cd"), ["ab", "cd"]);
    }

    #[test]
    fn letters_are_told_from_every_other_ascii_byte_eight_at_a_time() {
        for b in 0..0x80u8 {
            for at in 0..12 {
                let mut text = b"abcdefghijklMNOPQRSTUVWXyz".to_vec();
                text[at] = b;
                let end = if b.is_ascii_alphabetic() {
                    text.len()
                } else {
                    at
                };
                assert_eq!(ascii::letters_end(&text, 0), end, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn casing_round_trips() {
        assert_eq!(Casing::of("hello"), Casing::Lower);
        assert_eq!(Casing::of("Hello"), Casing::Capitalised);
        assert_eq!(Casing::of("HELLO"), Casing::Upper);
        assert_eq!(Casing::of("I"), Casing::Capitalised);
        assert_eq!(Casing::of("iPhone"), Casing::Mixed);
        assert_eq!(Casing::of("McDonald"), Casing::Mixed);
        assert_eq!(Casing::of("DON'T"), Casing::Upper);
        assert_eq!(Casing::Capitalised.apply("the"), "The");
        assert_eq!(Casing::Upper.apply("the"), "THE");
        assert_eq!(Casing::Lower.apply("the"), "the");
        assert_eq!(Casing::Capitalised.apply("éclair"), "Éclair");
    }
}
