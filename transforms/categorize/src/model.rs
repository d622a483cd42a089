//! A trained scikit-learn text classifier, read from the model asset that
//! `export_sklearn.py` writes, and applied to one text at a time exactly as
//! the fitted `Pipeline`'s `predict` and `predict_proba` would.
//!
//! The vectorizer is `CountVectorizer` or `TfidfVectorizer` (or
//! `CountVectorizer` + `TfidfTransformer`) with the character analyzers or
//! the word analyzer and the default `token_pattern` (and `strip_accents`, [`crate::text`]); the
//! classifier is `MultinomialNB`, `ComplementNB`, `LogisticRegression`, or
//! a linear decision function (`LinearSVC`, `SGDClassifier`). All arithmetic is `f64`, as in scikit-learn. This
//! module knows nothing of records or config; it imports only [`crate::text`].

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use weir_guest::{Error, Value};

use crate::text::{
    char_ngrams, char_wb_ngrams, lowercase, strip_accents_ascii, strip_accents_unicode, word_runs,
};

/// Every word of every record is looked up in the vocabulary: foldhash, not
/// SipHash (nothing here needs to resist crafted keys), with a fixed seed
/// (foldhash's random one reads the clock, which the host logs).
type FastHash = foldhash::fast::FixedState;

/// The `format` the asset must declare.
pub const FORMAT: &str = "weir-categorize/sklearn";
/// The asset `version` this code reads.
pub const VERSION: u32 = 1;
/// scikit-learn's default `token_pattern`, the only one supported.
pub const DEFAULT_TOKEN_PATTERN: &str = r"(?u)\b\w\w+\b";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Asset {
    format: String,
    version: u32,
    #[serde(default)]
    sklearn_version: Option<String>,
    vectorizer: VectorizerAsset,
    classifier: ClassifierAsset,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorizerAsset {
    /// `analyzer`; absent in assets of word analyzers written before it.
    #[serde(default)]
    analyzer: Analyzer,
    lowercase: bool,
    /// The word analyzer's pattern (character analyzers have none).
    token_pattern: Option<String>,
    ngram_range: (usize, usize),
    stop_words: Option<Vec<String>>,
    /// `strip_accents`: applied after lowercasing, as scikit-learn does.
    #[serde(default)]
    strip_accents: Option<StripAccents>,
    binary: bool,
    vocabulary: Vec<String>,
    tfidf: Option<Tfidf>,
}

/// What a vectorizer counts (`analyzer`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Analyzer {
    /// Words (`token_pattern`) and their n-grams.
    #[default]
    Word,
    /// Character n-grams over the whole text.
    Char,
    /// Character n-grams inside words padded with a space.
    CharWb,
}

/// How a vectorizer strips accents (`strip_accents`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StripAccents {
    /// `strip_accents_unicode`.
    Unicode,
    /// `strip_accents_ascii`.
    Ascii,
}

/// The tf-idf weighting applied after counting (`TfidfTransformer`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tfidf {
    /// `idf_`, one per feature, or `None` when `use_idf=False`.
    idf: Option<Vec<f64>>,
    sublinear_tf: bool,
    norm: Option<Norm>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Norm {
    L1,
    L2,
}

/// The classifier's part of the asset. A flat struct, not an internally
/// tagged enum: serde buffers tagged content, which loses numbers under
/// serde_json's `arbitrary_precision` (enabled by the guest SDK).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassifierAsset {
    kind: ClassifierKind,
    classes: Vec<Value>,
    #[serde(default)]
    class_log_prior: Option<Vec<f64>>,
    #[serde(default)]
    feature_log_prob: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    coef: Option<Vec<Vec<f64>>>,
    #[serde(default)]
    intercept: Option<Vec<f64>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ClassifierKind {
    MultinomialNb,
    ComplementNb,
    LogisticRegression,
    /// `LinearSVC`, `SGDClassifier`: a linear decision function, no
    /// probabilities.
    LinearDecision,
}

/// Turns a text into the sparse feature vector the fitted vectorizer would.
#[derive(Debug)]
pub struct Vectorizer {
    analyzer: Analyzer,
    lowercase: bool,
    strip_accents: Option<StripAccents>,
    ngram_range: (usize, usize),
    stop_words: HashSet<String, FastHash>,
    /// Whether tokens must be checked against `stop_words` (not when the
    /// vocabulary lookup of single words already leaves them out).
    filter_stop_words: bool,
    binary: bool,
    vocabulary: HashMap<String, u32, FastHash>,
    tfidf: Option<Tfidf>,
}

impl Vectorizer {
    /// The number of features (columns).
    pub fn len(&self) -> usize {
        self.vocabulary.len()
    }

    /// Whether the vocabulary is empty.
    pub fn is_empty(&self) -> bool {
        self.vocabulary.is_empty()
    }

    /// The document's non-zero features as `(column, value)`, by column.
    pub fn transform(&self, text: &str) -> Vec<(u32, f64)> {
        let lowered;
        let text = if self.lowercase {
            lowered = lowercase(text);
            &lowered
        } else {
            text
        };
        let stripped;
        let text = match self.strip_accents {
            Some(StripAccents::Unicode) => {
                stripped = strip_accents_unicode(text);
                &*stripped
            }
            Some(StripAccents::Ascii) => {
                stripped = strip_accents_ascii(text);
                &*stripped
            }
            None => text,
        };
        if self.analyzer != Analyzer::Word {
            let mut columns = Vec::new();
            let (min_n, max_n) = self.ngram_range;
            let mut count = |gram: &str| {
                if let Some(&column) = self.vocabulary.get(gram) {
                    columns.push(column);
                }
            };
            match self.analyzer {
                Analyzer::CharWb => char_wb_ngrams(text, min_n, max_n, &mut count),
                _ => char_ngrams(text, min_n, max_n, &mut count),
            }
            return self.weigh(columns);
        }
        let tokens: Vec<&str> = word_runs(text, 2)
            .filter(|t| !self.filter_stop_words || !self.stop_words.contains(*t))
            .collect();
        // The column of every n-gram in the vocabulary, then counted by
        // sorting: cheaper than a map for the few dozen n-grams of a text.
        let mut columns: Vec<u32> = Vec::with_capacity(tokens.len());
        let (min_n, max_n) = self.ngram_range;
        let mut gram = String::new();
        for n in min_n..=max_n.min(tokens.len()) {
            if n == 1 {
                columns.extend(tokens.iter().filter_map(|t| self.vocabulary.get(*t)));
                continue;
            }
            for window in tokens.windows(n) {
                gram.clear();
                for (i, token) in window.iter().enumerate() {
                    if i > 0 {
                        gram.push(' ');
                    }
                    gram.push_str(token);
                }
                if let Some(&column) = self.vocabulary.get(&gram) {
                    columns.push(column);
                }
            }
        }
        self.weigh(columns)
    }

    /// The features of the vocabulary columns counted (one entry per
    /// occurrence): counts, binary, tf-idf and norm.
    fn weigh(&self, mut columns: Vec<u32>) -> Vec<(u32, f64)> {
        columns.sort_unstable();
        let mut features: Vec<(u32, f64)> = Vec::with_capacity(columns.len());
        for column in columns {
            match features.last_mut() {
                Some((last, count)) if *last == column => *count += 1.0,
                _ => features.push((column, 1.0)),
            }
        }
        if self.binary {
            for (_, value) in &mut features {
                *value = 1.0;
            }
        }
        if let Some(tfidf) = &self.tfidf {
            for (column, value) in &mut features {
                if tfidf.sublinear_tf {
                    *value = value.ln() + 1.0;
                }
                if let Some(idf) = &tfidf.idf {
                    *value *= idf[*column as usize];
                }
            }
            let norm = match tfidf.norm {
                Some(Norm::L2) => features.iter().map(|(_, v)| v * v).sum::<f64>().sqrt(),
                Some(Norm::L1) => features.iter().map(|(_, v)| v.abs()).sum::<f64>(),
                None => 0.0,
            };
            if norm != 0.0 {
                for (_, value) in &mut features {
                    *value /= norm;
                }
            }
        }
        features
    }
}

#[derive(Debug)]
enum Classifier {
    /// `MultinomialNB`: `weights` is `feature_log_prob_` transposed
    /// (feature-major), `bias` is `class_log_prior_`; `ComplementNB` too,
    /// with no prior (`bias` all zero).
    MultinomialNb,
    /// `LogisticRegression` with two classes: one row of `coef_`; the
    /// probability of the second class is the logistic of the decision.
    BinaryLogistic,
    /// `LogisticRegression` with three or more classes: softmax over the
    /// decisions (multinomial, as every solver but liblinear fits it).
    MultinomialLogistic,
    /// `LinearSVC` or `SGDClassifier` with two classes: one row of `coef_`,
    /// class 1 when the decision is positive; the scores are `-d` and `d`.
    BinaryDecision,
    /// Three or more classes (one-vs-rest): the class of the largest
    /// decision; the scores are the decisions.
    Decisions,
}

/// A loaded model: vectorizer, classifier and its classes.
#[derive(Debug)]
pub struct Model {
    vectorizer: Vectorizer,
    classifier: Classifier,
    classes: Vec<Value>,
    /// Feature-major weights: `weights[column * rows + row]`.
    weights: Vec<f64>,
    rows: usize,
    bias: Vec<f64>,
    sklearn_version: Option<String>,
}

/// What the model says of one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The index into [`Model::classes`] of the predicted class.
    pub class: usize,
    /// One probability per class, in [`Model::classes`] order; for a
    /// model without probabilities ([`Model::has_probabilities`]), the
    /// decision value per class (two classes: `-d` and `d`).
    pub probabilities: Vec<f64>,
}

fn transpose(rows: &[Vec<f64>], columns: usize, what: &str) -> Result<Vec<f64>, Error> {
    let mut weights = vec![0.0; rows.len() * columns];
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns {
            return Err(Error::new(format!(
                "{what} row {r} has {} values for {columns} features",
                row.len()
            )));
        }
        for (column, value) in row.iter().enumerate() {
            weights[column * rows.len() + r] = *value;
        }
    }
    Ok(weights)
}

impl Model {
    /// Reads a model asset (JSON written by `export_sklearn.py`).
    ///
    /// # Errors
    ///
    /// The text is not such an asset, or its parts disagree in size.
    pub fn parse(json: &str) -> Result<Model, Error> {
        let asset: Asset = serde_json::from_str(json)
            .map_err(|e| Error::new(format!("not a categorize model asset: {e}")))?;
        if asset.format != FORMAT || asset.version != VERSION {
            return Err(Error::new(format!(
                "model asset is {:?} version {}; this transform reads {FORMAT:?} version {VERSION}",
                asset.format, asset.version
            )));
        }
        let v = asset.vectorizer;
        if v.analyzer == Analyzer::Word && v.token_pattern.as_deref() != Some(DEFAULT_TOKEN_PATTERN)
        {
            return Err(Error::new(format!(
                "token_pattern {:?} is not supported; only the default {DEFAULT_TOKEN_PATTERN:?}",
                v.token_pattern
            )));
        }
        let (min_n, max_n) = v.ngram_range;
        if min_n == 0 || min_n > max_n {
            return Err(Error::new(format!(
                "ngram_range ({min_n}, {max_n}) is invalid"
            )));
        }
        let columns = v.vocabulary.len();
        let mut vocabulary = HashMap::with_capacity_and_hasher(columns, FastHash::default());
        for (column, term) in v.vocabulary.into_iter().enumerate() {
            let column = u32::try_from(column)
                .map_err(|_| Error::new("vocabulary has more than 2^32 terms"))?;
            if vocabulary.insert(term, column).is_some() {
                return Err(Error::new(format!("vocabulary repeats term {column}")));
            }
        }
        if let Some(Tfidf { idf: Some(idf), .. }) = &v.tfidf
            && idf.len() != columns
        {
            return Err(Error::new(format!(
                "idf has {} values for {columns} features",
                idf.len()
            )));
        }
        // Character analyzers never use stop words (scikit-learn ignores them).
        let stop_words: HashSet<String, FastHash> = match v.analyzer {
            Analyzer::Word => v.stop_words.unwrap_or_default().into_iter().collect(),
            _ => HashSet::default(),
        };
        // A stop word in the vocabulary (given to scikit-learn, not fitted)
        // is still never counted; otherwise, for single words, the
        // vocabulary lookup alone leaves stop words out.
        let filter_stop_words = !stop_words.is_empty()
            && (v.ngram_range.1 > 1 || stop_words.iter().any(|w| vocabulary.contains_key(w)));
        let vectorizer = Vectorizer {
            analyzer: v.analyzer,
            lowercase: v.lowercase,
            strip_accents: v.strip_accents,
            ngram_range: v.ngram_range,
            stop_words,
            filter_stop_words,
            binary: v.binary,
            vocabulary,
            tfidf: v.tfidf,
        };
        let c = asset.classifier;
        let missing = |what: &str| Error::new(format!("classifier has no `{what}`"));
        let (classifier, rows, weights, bias) = match c.kind {
            ClassifierKind::MultinomialNb => {
                let feature_log_prob = c
                    .feature_log_prob
                    .ok_or_else(|| missing("feature_log_prob"))?;
                let weights = transpose(&feature_log_prob, columns, "feature_log_prob")?;
                let bias = c
                    .class_log_prior
                    .ok_or_else(|| missing("class_log_prior"))?;
                (
                    Classifier::MultinomialNb,
                    feature_log_prob.len(),
                    weights,
                    bias,
                )
            }
            // ComplementNB: scikit-learn's joint log-likelihood is the same
            // dot product with no prior (it adds one only for a single
            // class), then the same log-sum-exp.
            ClassifierKind::ComplementNb => {
                let feature_log_prob = c
                    .feature_log_prob
                    .ok_or_else(|| missing("feature_log_prob"))?;
                let weights = transpose(&feature_log_prob, columns, "feature_log_prob")?;
                let rows = feature_log_prob.len();
                (Classifier::MultinomialNb, rows, weights, vec![0.0; rows])
            }
            // LogisticRegression and the decision functions share the linear
            // part; they differ in what becomes of the decisions.
            kind @ (ClassifierKind::LogisticRegression | ClassifierKind::LinearDecision) => {
                let coef = c.coef.ok_or_else(|| missing("coef"))?;
                let weights = transpose(&coef, columns, "coef")?;
                let bias = c.intercept.ok_or_else(|| missing("intercept"))?;
                let binary = c.classes.len() == 2 && coef.len() == 1;
                let logistic = matches!(kind, ClassifierKind::LogisticRegression);
                let kind = match (logistic, binary) {
                    (true, true) => Classifier::BinaryLogistic,
                    (true, false) => Classifier::MultinomialLogistic,
                    (false, true) => Classifier::BinaryDecision,
                    (false, false) => Classifier::Decisions,
                };
                (kind, coef.len(), weights, bias)
            }
        };
        let classes = c.classes;
        let expected_rows = match classifier {
            Classifier::BinaryLogistic | Classifier::BinaryDecision => 1,
            _ => classes.len(),
        };
        if classes.len() < 2 || rows != expected_rows || bias.len() != rows {
            return Err(Error::new(format!(
                "classifier has {} classes, {rows} weight rows and {} biases",
                classes.len(),
                bias.len()
            )));
        }
        Ok(Model {
            vectorizer,
            classifier,
            classes,
            weights,
            rows,
            bias,
            sklearn_version: asset.sklearn_version,
        })
    }

    /// The classes, in scikit-learn's `classes_` order.
    pub fn classes(&self) -> &[Value] {
        &self.classes
    }

    /// The scikit-learn version that fitted the model, if recorded.
    pub fn sklearn_version(&self) -> Option<&str> {
        self.sklearn_version.as_deref()
    }

    /// The vectorizer.
    pub fn vectorizer(&self) -> &Vectorizer {
        &self.vectorizer
    }

    /// Whether [`Prediction::probabilities`] are probabilities; `false`:
    /// decision values (`LinearSVC`, `SGDClassifier`).
    pub fn has_probabilities(&self) -> bool {
        !matches!(
            self.classifier,
            Classifier::BinaryDecision | Classifier::Decisions
        )
    }

    /// `predict` and `predict_proba` (or `decision_function`) for one text.
    pub fn predict(&self, text: &str) -> Prediction {
        let features = self.vectorizer.transform(text);
        let mut scores = self.bias.clone();
        for (column, value) in features {
            let start = column as usize * self.rows;
            for (score, weight) in scores
                .iter_mut()
                .zip(&self.weights[start..start + self.rows])
            {
                *score += value * weight;
            }
        }
        match self.classifier {
            Classifier::BinaryLogistic => {
                let decision = scores[0];
                let positive = 1.0 / (1.0 + (-decision).exp());
                Prediction {
                    class: usize::from(decision > 0.0),
                    probabilities: vec![1.0 - positive, positive],
                }
            }
            Classifier::BinaryDecision => {
                let decision = scores[0];
                Prediction {
                    class: usize::from(decision > 0.0),
                    probabilities: vec![-decision, decision],
                }
            }
            Classifier::Decisions => Prediction {
                class: argmax(&scores),
                probabilities: scores,
            },
            Classifier::MultinomialNb | Classifier::MultinomialLogistic => {
                let class = argmax(&scores);
                let max = scores[class];
                let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                let log_sum = max + sum.ln();
                let probabilities = scores.iter().map(|s| (s - log_sum).exp()).collect();
                Prediction {
                    class,
                    probabilities,
                }
            }
        }
    }
}

/// The index of the first largest score, as `numpy.argmax`.
fn argmax(scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, score) in scores.iter().enumerate() {
        if *score > scores[best] {
            best = i;
        }
    }
    best
}
