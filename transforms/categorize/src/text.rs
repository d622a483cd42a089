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
