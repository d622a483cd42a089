//! The rules that keep correct text as it is, and the mode that sets their
//! defaults: `careful` (the default) turns them all on, `symspellpy` turns
//! them all off, so that every word is replaced by what symspellpy's
//! `lookup(word, Verbosity.TOP, max_edit_distance)` suggests. Each rule can
//! also be set on its own in the config; [`Rules::resolve`] decides, once,
//! the config's value over the mode's default. Knows nothing of
//! dictionaries or records.

use serde::Deserialize;

/// Which defaults the rules take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Never damage correct text: every rule on.
    #[default]
    Careful,
    /// Exactly symspellpy's top suggestion for every word: every rule off.
    Symspellpy,
}

/// The rules as the config sets them: `None` takes the mode's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleSettings {
    /// Possessives and contractions are words of their own.
    pub contractions: Option<bool>,
    /// Capitalised words inside a sentence are taken for names and kept.
    pub keep_names: Option<bool>,
    /// Words with letters the dictionary never uses are kept.
    pub keep_foreign: Option<bool>,
    /// Words are read in Unicode normal form (NFKC), combining marks
    /// included.
    pub normalize: Option<bool>,
    /// A correction at distance `d` needs a word of at least
    /// `d * letters_per_edit` characters; 0 for no such limit.
    pub letters_per_edit: Option<usize>,
    /// Of equally close words, the likeliest typo wins.
    pub rank_typos: Option<bool>,
    /// A dictionary word with `s`, `non` or `sub` added is kept.
    pub inflections: Option<bool>,
}

/// The rules in force, resolved from the mode and the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// A word ending in `'s`, `'d`, `'ll`, `'m`, `'re`, `'ve` or `n't` is
    /// kept when what comes before the ending is a dictionary word (and
    /// that part is corrected, the ending kept, when it is not); a word
    /// after an apostrophe that makes an elision (`'tis`, `'twas`) is
    /// kept; and a word that is a dictionary contraction without its
    /// apostrophe (`dont`, `isnt`) gets the apostrophe back.
    pub contractions: bool,
    /// A word with a capital and no other (`John`, `Weir`) is left alone
    /// unless it starts a sentence (the start of the text or a line, or
    /// after `.`, `!`, `?` or `…`); so is a word in capitals (`GPL`,
    /// `HTML`: an acronym) unless most letters of its text are capitals
    /// (`ALL GOOD, THNAKS!`).
    pub keep_names: bool,
    /// A word holding a letter that no dictionary word holds (`Über`,
    /// `Straße` with the English dictionary) is left alone.
    pub keep_foreign: bool,
    /// Combining marks belong to the word they follow, and words are
    /// looked up in NFKC form (`re` + U+0301 + `cieve` is one word,
    /// `récieve`; `ﬁle` is `file`).
    pub normalize: bool,
    /// The least number of characters a word needs for each edit of its
    /// correction; 0 for no limit.
    pub letters_per_edit: usize,
    /// Of the dictionary words equally close to a word, the one that
    /// starts with the same letter and, weighted by how common that kind
    /// of typo is, most frequent wins
    /// ([`Dictionary::lookup_ranked`](crate::dictionary::Dictionary::lookup_ranked));
    /// off, the most frequent wins.
    pub rank_typos: bool,
    /// A word that is a dictionary word of four letters or more with `s`
    /// after it (`executables`) or `non` or `sub` before it
    /// (`sublicense`) is kept: the dictionary lacks many such forms.
    pub inflections: bool,
}

impl Rules {
    /// The rules of `mode`, with what `settings` sets in its place.
    pub fn resolve(mode: Mode, settings: RuleSettings) -> Rules {
        let careful = mode == Mode::Careful;
        Rules {
            contractions: settings.contractions.unwrap_or(careful),
            keep_names: settings.keep_names.unwrap_or(careful),
            keep_foreign: settings.keep_foreign.unwrap_or(careful),
            normalize: settings.normalize.unwrap_or(careful),
            letters_per_edit: settings.letters_per_edit.unwrap_or(if careful {
                CAREFUL_LETTERS_PER_EDIT
            } else {
                0
            }),
            rank_typos: settings.rank_typos.unwrap_or(careful),
            inflections: settings.inflections.unwrap_or(careful),
        }
    }

    /// Whether every rule is off: symspellpy's behaviour.
    pub fn none(&self) -> bool {
        *self == Rules::resolve(Mode::Symspellpy, RuleSettings::default())
    }

    /// The largest distance a correction of a word of `length` characters
    /// may be, under `max_distance`.
    pub fn max_distance(&self, length: usize, max_distance: usize) -> usize {
        match self.letters_per_edit {
            0 => max_distance,
            n => max_distance.min(length / n),
        }
    }
}

/// `careful`'s `letters_per_edit`: a word of three to five characters may
/// be one edit from its correction, of six or more two (`emoji` is not
/// made `emo`). Measured on codespell's misspellings and the licence texts
/// (`scripts/bench spelling`): against 2, it makes 6 fewer corrections
/// right of 57,248 but 68 fewer wrong, and damages one correct word fewer;
/// 4 makes 354 fewer right.
pub const CAREFUL_LETTERS_PER_EDIT: usize = 3;

/// The endings a contraction or possessive adds to a word, as the
/// dictionary spells them (with `'`).
pub const CONTRACTION_ENDINGS: [&str; 7] = ["n't", "'s", "'d", "'ll", "'m", "'re", "'ve"];

/// What [`Rules::inflections`] allows around a dictionary word: endings,
/// then beginnings. Each measured on codespell's misspellings and the
/// licence texts (docs/benchmarks.md): `s` keeps 19 correct words in 37k
/// and hides 219 misspellings in 57k (a trade the typo ranking more than
/// pays for), `sub` 20 for 2, `non` 5 for 3; `ly`, `er`, `re`, `ing`
/// hide many more typos than they keep correct words.
pub const INFLECTION_ENDINGS: [&str; 1] = ["s"];
/// See [`INFLECTION_ENDINGS`].
pub const INFLECTION_BEGINNINGS: [&str; 2] = ["non", "sub"];

/// Words that follow an apostrophe in an elision (`'tis`, `'em`), lowercase.
pub const ELISIONS: [&str; 9] = [
    "tis", "twas", "twere", "twill", "twould", "em", "til", "cause", "bout",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_sets_the_defaults_and_the_config_overrides_each() {
        let careful = Rules::resolve(Mode::Careful, RuleSettings::default());
        assert!(careful.contractions && careful.keep_names && careful.keep_foreign);
        assert!(careful.normalize && careful.letters_per_edit == 3 && !careful.none());
        let symspellpy = Rules::resolve(Mode::Symspellpy, RuleSettings::default());
        assert!(symspellpy.none());
        let one_off = Rules::resolve(
            Mode::Careful,
            RuleSettings {
                keep_names: Some(false),
                letters_per_edit: Some(0),
                ..RuleSettings::default()
            },
        );
        assert!(!one_off.keep_names && one_off.keep_foreign && one_off.letters_per_edit == 0);
        let one_on = Rules::resolve(
            Mode::Symspellpy,
            RuleSettings {
                contractions: Some(true),
                ..RuleSettings::default()
            },
        );
        assert!(one_on.contractions && !one_on.keep_names && !one_on.none());
    }

    #[test]
    fn letters_per_edit_bounds_the_distance_by_length() {
        let careful = Rules::resolve(Mode::Careful, RuleSettings::default());
        assert_eq!(careful.max_distance(2, 2), 0);
        assert_eq!(careful.max_distance(4, 2), 1);
        assert_eq!(careful.max_distance(5, 2), 1);
        assert_eq!(careful.max_distance(6, 2), 2);
        assert_eq!(careful.max_distance(9, 1), 1);
        let symspellpy = Rules::resolve(Mode::Symspellpy, RuleSettings::default());
        assert_eq!(symspellpy.max_distance(2, 2), 2);
    }
}
