//! Words as scikit-learn's default `token_pattern` finds them.
//!
//! `(?u)\b\w\w+\b` under Python's `re` matches each maximal run of `\w`
//! characters that is at least two characters long, where `\w` is
//! `str.isalnum()` or `_` ([`is_word_char`], from a table generated with
//! CPython). Rust's `regex` crate has a different `\w` (it adds combining
//! marks and connector punctuation, and leaves out `No` numbers such as
//! `²`), so the runs are found here by hand. Owns no config; imports only
//! the generated table.

use crate::word_table::WORD_RANGES;

/// Whether Python's `re` counts `c` as `\w` in a `str` pattern.
pub fn is_word_char(c: char) -> bool {
    let cp = u32::from(c);
    if cp < 0x80 {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    WORD_RANGES
        .binary_search_by(|&(start, end)| {
            if end < cp {
                std::cmp::Ordering::Less
            } else if start > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// The maximal runs of word characters in `text` that hold at least
/// `min_chars` characters, in order. `min_chars == 2` gives exactly
/// Python's `re.findall(r"(?u)\b\w\w+\b", text)`.
pub fn word_runs(text: &str, min_chars: usize) -> impl Iterator<Item = &str> {
    // ASCII text (most text) on bytes: a byte is a character, and `\w` is
    // a letter, a digit or `_`.
    let ascii = text.is_ascii();
    let bytes = text.as_bytes();
    let mut at = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut chars = word_runs_by_char(text, min_chars);
    std::iter::from_fn(move || {
        if !ascii {
            return chars.next();
        }
        loop {
            while bytes.get(at).is_some_and(|&b| !is_word(b)) {
                at += 1;
            }
            if at == bytes.len() {
                return None;
            }
            let start = at;
            while bytes.get(at).is_some_and(|&b| is_word(b)) {
                at += 1;
            }
            if at - start >= min_chars {
                return Some(&text[start..at]);
            }
        }
    })
}

/// [`word_runs`] character by character, for any text.
fn word_runs_by_char(text: &str, min_chars: usize) -> impl Iterator<Item = &str> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        loop {
            let (start, _) = rest.find(|&(_, c)| is_word_char(c))?;
            let mut chars = 1;
            let mut end = text.len();
            while let Some(&(i, c)) = rest.peek() {
                if !is_word_char(c) {
                    end = i;
                    break;
                }
                chars += 1;
                rest.next();
            }
            if chars >= min_chars {
                return Some(&text[start..end]);
            }
        }
    })
}

/// Python's `str.lower()`: full Unicode lowercase mapping, final sigma
/// included.
pub fn lowercase(text: &str) -> String {
    if text.is_ascii() {
        text.to_ascii_lowercase()
    } else {
        text.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<&str> {
        word_runs(text, 2).collect()
    }

    #[test]
    fn runs_of_two_or_more_word_characters_are_tokens() {
        assert_eq!(
            tokens("I can't wait: 10/10, a_b x"),
            ["can", "wait", "10", "10", "a_b"]
        );
    }

    #[test]
    fn word_characters_follow_python_not_rust_regex() {
        // Superscript two is `No`: Python's \w, not Rust's.
        assert_eq!(tokens("x² m²"), ["x²", "m²"]);
        // A combining acute accent (Mn) splits a word in Python.
        assert_eq!(tokens("cafe\u{301}s"), ["cafe"]);
        // Connector punctuation other than `_` is not \w in Python.
        assert_eq!(tokens("ab\u{203F}cd"), ["ab", "cd"]);
        // Letters and digits of other scripts are.
        assert_eq!(tokens("日本語 ١٢ naïve"), ["日本語", "١٢", "naïve"]);
    }

    #[test]
    fn ascii_text_is_cut_on_bytes_as_on_characters() {
        let pieces = [
            "ab", "Z9", "_", " ", "-", "'", "x", "10", ".", "\t", "é", "²",
        ];
        let mut state: u64 = 0x7e57;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 12) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);
            for min in [1, 2] {
                let by_byte: Vec<&str> = word_runs(&text, min).collect();
                let by_char: Vec<&str> = word_runs_by_char(&text, min).collect();
                assert_eq!(by_byte, by_char, "{text:?}");
            }
            assert_eq!(lowercase(&text), text.to_lowercase());
        }
    }

    #[test]
    fn single_character_runs_can_be_asked_for() {
        assert_eq!(word_runs("a bc d", 1).collect::<Vec<_>>(), ["a", "bc", "d"]);
    }

    #[test]
    fn lowercase_handles_final_sigma_like_python() {
        assert_eq!(
            lowercase("ΟΔΟΣ Straße"),
            "\u{3bf}\u{3b4}\u{3bf}\u{3c2} straße"
        );
    }
}

/// Whether Python's `str.isspace` holds for `c` (what `str.split()` and
/// `re`'s `\s` split on): Unicode White_Space, and the separators
/// U+001C to U+001F.
fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `re.sub(r"\s\s+", " ", text)`: runs of two or more spaces become one
/// (a single tab stays a tab).
fn collapse_space_runs(text: &str) -> std::borrow::Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let runs = chars
        .windows(2)
        .any(|w| python_space(w[0]) && python_space(w[1]));
    if !runs {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && python_space(chars[j]) {
            j += 1;
        }
        if j - i >= 2 {
            out.push(' ');
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.into()
}

/// The byte offset of every character of `text`, and its length.
fn char_bounds(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect()
}

/// scikit-learn's `_char_ngrams` (`analyzer="char"`): after runs of
/// spaces collapse, every character n-gram of the text for n in
/// `min_n..=max_n`, in scikit-learn's order, passed to `emit`.
pub fn char_ngrams(text: &str, min_n: usize, max_n: usize, emit: &mut impl FnMut(&str)) {
    let text = collapse_space_runs(text);
    let bounds = char_bounds(&text);
    let len = bounds.len() - 1;
    for n in min_n..=max_n.min(len) {
        for i in 0..=len - n {
            emit(&text[bounds[i]..bounds[i + n]]);
        }
    }
}

/// scikit-learn's `_char_wb_ngrams` (`analyzer="char_wb"`): for each word
/// (split on Python's whitespace) padded with a space on both sides, its
/// character n-grams for n in `min_n..=max_n`; a padded word shorter than
/// n, or as long, once.
pub fn char_wb_ngrams(text: &str, min_n: usize, max_n: usize, emit: &mut impl FnMut(&str)) {
    let text = collapse_space_runs(text);
    let mut padded = String::new();
    for word in text.split(python_space).filter(|w| !w.is_empty()) {
        padded.clear();
        padded.push(' ');
        padded.push_str(word);
        padded.push(' ');
        let bounds = char_bounds(&padded);
        let len = bounds.len() - 1;
        for n in min_n..=max_n {
            if n >= len {
                // The whole padded word (Python's slice stops at its end),
                // and no longer n-grams: they would be the same.
                emit(&padded);
                break;
            }
            for i in 0..=len - n {
                emit(&padded[bounds[i]..bounds[i + n]]);
            }
        }
    }
}

/// scikit-learn's `strip_accents_unicode`: text that is all ASCII as it
/// is, else its NFKD form without combining characters (canonical
/// combining class other than 0, as `unicodedata.combining` reports).
pub fn strip_accents_unicode(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::canonical_combining_class;
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    text.nfkd()
        .filter(|c| canonical_combining_class(*c) == 0)
        .collect::<String>()
        .into()
}

/// scikit-learn's `strip_accents_ascii`: the NFKD form with every
/// character outside ASCII dropped.
pub fn strip_accents_ascii(text: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::UnicodeNormalization;
    if text.is_ascii() {
        return std::borrow::Cow::Borrowed(text);
    }
    text.nfkd()
        .filter(char::is_ascii)
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod accent_tests {
    use super::*;

    #[test]
    fn accents_are_stripped_as_scikit_learn_strips_them() {
        // Python: strip_accents_unicode("Café naïve ﬁn Ångström 日本")
        assert_eq!(
            strip_accents_unicode("Café naïve ﬁn Ångström 日本"),
            "Cafe naive fin Angstrom 日本"
        );
        // Python: strip_accents_ascii(...) drops what has no ASCII form.
        assert_eq!(
            strip_accents_ascii("Café naïve ﬁn Ångström 日本"),
            "Cafe naive fin Angstrom "
        );
        assert!(matches!(
            strip_accents_unicode("plain"),
            std::borrow::Cow::Borrowed("plain")
        ));
    }
}

#[cfg(test)]
mod ngram_tests {
    use super::*;

    type Cutter = fn(&str, usize, usize, &mut dyn FnMut(&str));

    fn grams(f: Cutter, text: &str, n: (usize, usize)) -> Vec<String> {
        let mut out = Vec::new();
        f(text, n.0, n.1, &mut |g| out.push(g.to_owned()));
        out
    }

    fn char_dyn(t: &str, a: usize, b: usize, e: &mut dyn FnMut(&str)) {
        char_ngrams(t, a, b, &mut |g| e(g));
    }

    fn wb_dyn(t: &str, a: usize, b: usize, e: &mut dyn FnMut(&str)) {
        char_wb_ngrams(t, a, b, &mut |g| e(g));
    }

    #[test]
    fn character_ngrams_are_scikit_learns() {
        // CountVectorizer(analyzer="char", ngram_range=(1, 2)).build_analyzer()("ab  c\td")
        assert_eq!(
            grams(char_dyn, "ab  c\td", (1, 2)),
            [
                "a", "b", " ", "c", "\t", "d", "ab", "b ", " c", "c\t", "\td"
            ]
        );
        // analyzer="char_wb", ngram_range=(2, 3): "a bcd\x1ce"
        assert_eq!(
            grams(wb_dyn, "a bcd\u{1c}e", (2, 3)),
            [
                " a", "a ", " a ", " b", "bc", "cd", "d ", " bc", "bcd", "cd ", " e", "e ", " e "
            ]
        );
        // A padded word no longer than n: once, whole.
        assert_eq!(grams(wb_dyn, "é", (3, 5)), [" é "]);
    }
}
