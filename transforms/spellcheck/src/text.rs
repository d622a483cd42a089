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
//! `abc123`) is left alone too. Knows nothing of dictionaries or records.

use std::ops::Range;

/// A word found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Where it is, in bytes.
    pub bytes: Range<usize>,
    /// Where it starts, in characters (Unicode code points) from the start
    /// of the text: what Python's `text[offset:]` would use.
    pub offset: usize,
}

/// The words of `text` that may be corrected, in order.
pub fn words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
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
            words_of_chunk(chunk, chunk_start, &mut words);
        }
    }
    words
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Pushes the words of one whitespace-free chunk, which starts at
/// character `first` of its text.
fn words_of_chunk(chunk: &[(usize, char)], first: usize, words: &mut Vec<Word>) {
    let letter = |j: usize| chunk.get(j).is_some_and(|&(_, c)| c.is_alphabetic());
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
        while letter(i) || (chunk.get(i).is_some_and(|&(_, c)| is_apostrophe(c)) && letter(i + 1)) {
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
        words(text).into_iter().map(|w| &text[w.bytes]).collect()
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
        let offsets: Vec<usize> = words(text).iter().map(|w| w.offset).collect();
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
