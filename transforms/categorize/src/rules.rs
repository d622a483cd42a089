//! Rules mode: a taxonomy of categories, each with keywords, phrases and
//! regular expressions and a weight, scored against a text.
//!
//! A keyword matches a whole word; a phrase matches its words in sequence,
//! whatever the spaces and punctuation between them; a pattern is a regular
//! expression (Rust `regex` syntax) searched anywhere in the text. Words are
//! runs of Python `\w` characters ([`crate::text`]). Matching ignores case
//! unless `case_sensitive` is set. This module knows nothing of records;
//! it imports only [`crate::text`].

use std::collections::HashSet;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use weir_guest::Error;

use crate::text::{lowercase, word_runs};

/// The taxonomy as written in the config's `rules` object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyConfig {
    /// The categories, in priority order (earlier wins ties); at least one.
    pub categories: Vec<CategoryConfig>,
    /// The category given when none matches. Default `None`: no category.
    #[serde(default)]
    pub default: Option<String>,
    /// Give every matching category instead of only the best. Default false.
    #[serde(default)]
    pub multi_label: bool,
    /// How matching categories are ranked. Default [`Select::Score`].
    #[serde(default)]
    pub select: Select,
    /// The least score a category needs to match. Default 0: any hit.
    #[serde(default)]
    pub min_score: f64,
    /// Match keywords, phrases and patterns with case. Default false.
    #[serde(default)]
    pub case_sensitive: bool,
}

/// One category of the taxonomy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryConfig {
    /// The category's name, as written to the output.
    pub name: String,
    /// Single words that count as a hit.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Word sequences that count as a hit.
    #[serde(default)]
    pub phrases: Vec<String>,
    /// Regular expressions that count as a hit.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// Each distinct keyword, phrase or pattern found adds this much to the
    /// category's score. Default 1.
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

/// How matching categories are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Select {
    /// Highest score first; equal scores in listed order.
    #[default]
    Score,
    /// Listed order, whatever the scores.
    Priority,
}

#[derive(Debug)]
struct Category {
    name: String,
    keywords: Vec<String>,
    phrases: Vec<Vec<String>>,
    patterns: Vec<Regex>,
    weight: f64,
}

/// A compiled taxonomy.
#[derive(Debug)]
pub struct Taxonomy {
    categories: Vec<Category>,
    default: Option<String>,
    multi_label: bool,
    select: Select,
    min_score: f64,
    case_sensitive: bool,
}

/// The outcome for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The assigned categories, best first: at most one unless
    /// `multi_label`; the default when none matched and one is set.
    pub categories: Vec<String>,
    /// Every category's score, in listed order.
    pub scores: Vec<(String, f64)>,
}

impl Taxonomy {
    /// Checks and compiles a taxonomy.
    ///
    /// # Errors
    ///
    /// No categories, a repeated or empty name, a category with nothing to
    /// match, a keyword that is not one word, a phrase with no words, a
    /// pattern that does not compile, or a weight or `min_score` that is not
    /// a finite number (weights must be positive).
    pub fn new(config: TaxonomyConfig) -> Result<Taxonomy, Error> {
        if config.categories.is_empty() {
            return Err(Error::new(
                "`rules.categories` is empty; list at least one category",
            ));
        }
        if !config.min_score.is_finite() {
            return Err(Error::new("`rules.min_score` must be a finite number"));
        }
        let fold = |s: &str| {
            if config.case_sensitive {
                s.to_owned()
            } else {
                lowercase(s)
            }
        };
        let mut names = HashSet::new();
        let mut categories = Vec::new();
        for c in config.categories {
            let at = format!("category {:?}", c.name);
            if c.name.is_empty() || !names.insert(c.name.clone()) {
                return Err(Error::new(format!(
                    "{at}: names must be non-empty and distinct"
                )));
            }
            if !(c.weight.is_finite() && c.weight > 0.0) {
                return Err(Error::new(format!(
                    "{at}: `weight` must be a positive number"
                )));
            }
            if c.keywords.is_empty() && c.phrases.is_empty() && c.patterns.is_empty() {
                return Err(Error::new(format!(
                    "{at}: give it `keywords`, `phrases` or `patterns` to match"
                )));
            }
            let mut keywords = Vec::new();
            for keyword in &c.keywords {
                let words: Vec<&str> = word_runs(keyword, 1).collect();
                if words.len() != 1 || words[0] != keyword.as_str() {
                    return Err(Error::new(format!(
                        "{at}: keyword {keyword:?} is not a single word; put it in `phrases`"
                    )));
                }
                keywords.push(fold(keyword));
            }
            let mut phrases = Vec::new();
            for phrase in &c.phrases {
                let folded = fold(phrase);
                let words: Vec<String> = word_runs(&folded, 1).map(str::to_owned).collect();
                if words.is_empty() {
                    return Err(Error::new(format!("{at}: phrase {phrase:?} has no words")));
                }
                phrases.push(words);
            }
            let mut patterns = Vec::new();
            for pattern in &c.patterns {
                let regex = RegexBuilder::new(pattern)
                    .case_insensitive(!config.case_sensitive)
                    .build()
                    .map_err(|e| Error::new(format!("{at}: pattern {pattern:?}: {e}")))?;
                patterns.push(regex);
            }
            categories.push(Category {
                name: c.name,
                keywords,
                phrases,
                patterns,
                weight: c.weight,
            });
        }
        Ok(Taxonomy {
            categories,
            default: config.default,
            multi_label: config.multi_label,
            select: config.select,
            min_score: config.min_score,
            case_sensitive: config.case_sensitive,
        })
    }

    /// Scores `text` against every category and picks the result.
    pub fn categorize(&self, text: &str) -> Verdict {
        let folded;
        let words_of = if self.case_sensitive {
            text
        } else {
            folded = lowercase(text);
            &folded
        };
        let words: Vec<&str> = word_runs(words_of, 1).collect();
        let distinct: HashSet<&str> = words.iter().copied().collect();
        let mut scores = Vec::with_capacity(self.categories.len());
        let mut matched = Vec::new();
        for (index, category) in self.categories.iter().enumerate() {
            let hits = category
                .keywords
                .iter()
                .filter(|k| distinct.contains(k.as_str()))
                .count()
                + category
                    .phrases
                    .iter()
                    .filter(|p| {
                        words
                            .windows(p.len())
                            .any(|w| w.iter().zip(p.iter()).all(|(a, b)| *a == b.as_str()))
                    })
                    .count()
                + category
                    .patterns
                    .iter()
                    .filter(|r| r.is_match(text))
                    .count();
            let score = category.weight * hits as f64;
            if hits > 0 && score >= self.min_score {
                matched.push((index, score));
            }
            scores.push((category.name.clone(), score));
        }
        if self.select == Select::Score {
            // Stable: equal scores keep listed order.
            matched.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
        if !self.multi_label {
            matched.truncate(1);
        }
        let mut categories: Vec<String> = matched
            .into_iter()
            .map(|(index, _)| self.categories[index].name.clone())
            .collect();
        if categories.is_empty()
            && let Some(default) = &self.default
        {
            categories.push(default.clone());
        }
        Verdict { categories, scores }
    }
}
