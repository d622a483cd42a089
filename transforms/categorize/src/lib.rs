//! `categorize`: a Weir transform that assigns categories to a record from
//! its text fields, by a rule taxonomy in the config or by a trained
//! scikit-learn text classifier read from the assets.
//!
//! `init` compiles the taxonomy or loads the model asset (from `/assets` in
//! the sandbox) once per instance; `process` joins the configured text
//! fields, categorizes the text and writes the category, the list of
//! categories and the scores to the configured output fields. See README.md
//! for the config and an example.
//!
//! Layout:
//! - [`rules`]: rules mode, the taxonomy and its scoring;
//! - [`model`]: classifier mode, the exported scikit-learn pipeline;
//! - [`text`]: words as Python's `re` finds them, and lowercasing;
//! - [`word_table`]: Python's `\w` characters (generated);
//! - `weir_guest::FieldPaths`, `Edit`, `Assets`: field paths, the
//!   patch-or-parse pattern and the assets reader (the SDK's);
//! - this module: the config and the [`Transform`] joining them.

pub mod model;
pub mod rules;
pub mod text;
pub mod word_table;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;
use weir_guest::{Assets, Edit, Error, FieldPaths, Output, Patch, Record, Transform, Value};

use crate::model::Model;
use crate::rules::{Taxonomy, TaxonomyConfig};

/// The transform's configuration, parsed once by `init`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The text fields, as dotted paths; their strings are joined with a
    /// newline, in this order. Required, at least one.
    pub fields: FieldPaths,
    /// Rules mode: the taxonomy. Exactly one of `rules` and `model`.
    #[serde(default)]
    pub rules: Option<TaxonomyConfig>,
    /// Classifier mode: the model asset. Exactly one of `rules` and `model`.
    #[serde(default)]
    pub model: Option<ModelConfig>,
    /// Top-level key for the best category; `None` to leave it out.
    /// Default `"category"`.
    #[serde(default = "category")]
    pub category_field: Option<String>,
    /// Top-level key for the list of categories. Default `None`.
    #[serde(default)]
    pub categories_field: Option<String>,
    /// Top-level key for the score of every category. Default `None`.
    #[serde(default)]
    pub scores_field: Option<String>,
}

/// Classifier mode's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model asset, a file name inside the assets directory.
    pub file: String,
    /// The least probability for a class to be listed under
    /// `categories_field`. Default 0.5. A model with a decision function
    /// instead (`LinearSVC`, `SGDClassifier`) lists the classes whose
    /// decision is positive.
    #[serde(default = "half")]
    pub min_probability: f64,
}

fn category() -> Option<String> {
    Some("category".to_owned())
}

fn half() -> f64 {
    0.5
}

/// What decides the categories.
#[derive(Debug)]
enum Decider {
    Rules(Taxonomy),
    Model {
        model: Box<Model>,
        min_probability: f64,
        /// Each class's key in the scores object ([`label_key`]), made once.
        keys: Vec<String>,
        /// Whether no two classes share a key.
        keys_distinct: bool,
    },
}

/// The categorizer: a config and the taxonomy or model it loaded.
#[derive(Debug)]
pub struct Categorizer {
    fields: FieldPaths,
    category_field: Option<String>,
    categories_field: Option<String>,
    scores_field: Option<String>,
    decider: Decider,
}

/// A class label as an object key: strings as they are, anything else as
/// its JSON text.
fn label_key(label: &Value) -> String {
    match label {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn score_value(score: f64) -> Value {
    serde_json::Number::from_f64(score).map_or(Value::Null, Value::Number)
}

/// The scores of a verdict, under their keys, in order. Written straight
/// to JSON by a patch (an `f64` serializes as `score_value` would), or
/// made into an object for a parsed record.
enum Scores<'a> {
    /// Each class's probability, under its key.
    Classes {
        keys: &'a [String],
        probabilities: Vec<f64>,
        /// Whether no two keys are the same (known from the model).
        distinct: bool,
    },
    /// Each category's score.
    Named(Vec<(String, f64)>),
}

impl Scores<'_> {
    fn entries(&self) -> Box<dyn Iterator<Item = (&str, f64)> + '_> {
        match self {
            Scores::Classes {
                keys,
                probabilities,
                ..
            } => Box::new(
                keys.iter()
                    .map(String::as_str)
                    .zip(probabilities.iter().copied()),
            ),
            Scores::Named(named) => Box::new(named.iter().map(|(k, v)| (k.as_str(), *v))),
        }
    }

    /// As an object: a repeated key keeps its first place and last value.
    fn to_map(&self) -> serde_json::Map<String, Value> {
        self.entries()
            .map(|(key, score)| (key.to_owned(), score_value(score)))
            .collect()
    }

    /// Whether no key repeats (two class labels such as `1` and `"1"`
    /// share one): then writing the entries is writing [`Scores::to_map`].
    fn keys_distinct(&self) -> bool {
        if let Scores::Classes { distinct, .. } = self {
            return *distinct;
        }
        let keys: Vec<&str> = self.entries().map(|(k, _)| k).collect();
        keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k))
    }
}

impl serde::Serialize for Scores<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (key, score) in self.entries() {
            map.serialize_entry(key, &score)?;
        }
        map.end()
    }
}

impl Categorizer {
    /// A categorizer for `config`, reading a model asset (if the config names
    /// one) from `assets`.
    ///
    /// # Errors
    ///
    /// Neither or both of `rules` and `model`; a bad taxonomy; a model asset
    /// that cannot be read or parsed.
    pub fn new(config: Config, assets: &Assets) -> Result<Categorizer, Error> {
        let decider = match (config.rules, config.model) {
            (Some(rules), None) => Decider::Rules(Taxonomy::new(rules)?),
            (None, Some(model)) => {
                let text = assets.read_to_string("model", &model.file)?;
                let loaded = Model::parse(&text)
                    .map_err(|e| Error::new(format!("model `{}`: {e}", model.file)))?;
                let keys: Vec<String> = loaded.classes().iter().map(label_key).collect();
                let keys_distinct = keys.iter().collect::<HashSet<_>>().len() == keys.len();
                Decider::Model {
                    model: Box::new(loaded),
                    min_probability: model.min_probability,
                    keys,
                    keys_distinct,
                }
            }
            (None, None) => {
                return Err(Error::new(
                    "give either `rules` (a taxonomy) or `model` (a model asset)",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Error::new("give only one of `rules` and `model`"));
            }
        };
        Ok(Categorizer {
            fields: config.fields,
            category_field: config.category_field,
            categories_field: config.categories_field,
            scores_field: config.scores_field,
            decider,
        })
    }

    /// The configured fields' strings joined with newlines; absent fields
    /// are skipped.
    ///
    /// # Errors
    ///
    /// A configured field, or an object on its path, has the wrong type.
    pub fn text_of(&self, record: &mut Value) -> Result<String, Error> {
        let mut text = String::new();
        for (i, path) in self.fields.iter().enumerate() {
            if let Some(part) = path.find_text(record)? {
                if i > 0 && !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(part);
            }
        }
        Ok(text)
    }

    /// Categorizes one record in place.
    ///
    /// # Errors
    ///
    /// As [`Categorizer::text_of`].
    pub fn categorize_record(&self, record: &mut Value) -> Result<(), Error> {
        let text = self.text_of(record)?;
        let Verdict { best, all, scores } = self.decide(&text);
        let Value::Object(object) = record else {
            return Err(Error::new("the record is not a JSON object"));
        };
        if let Some(key) = &self.category_field {
            object.insert(key.clone(), best.into_owned());
        }
        if let Some(key) = &self.categories_field {
            object.insert(key.clone(), all.into_iter().map(Cow::into_owned).collect());
        }
        if let Some(key) = &self.scores_field {
            object.insert(key.clone(), Value::Object(scores.to_map()));
        }
        Ok(())
    }

    /// [`Categorizer::categorize_record`] on the record's text, without
    /// parsing the rest of it: categorizes the record in `patch`, or gives
    /// up (`None`) when the record must be parsed instead (a field is not a
    /// string, the text is not simple enough to scan); the output is the
    /// same either way.
    pub fn categorize_patch(&self, patch: &mut Patch<'_>) -> Option<()> {
        let mut text = String::new();
        for (i, path) in self.fields.iter().enumerate() {
            if let Some(located) = patch.locate(path).ok()? {
                if i > 0 && !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&located.as_str()?);
            }
        }
        let Verdict { best, all, scores } = self.decide(&text);
        if let Some(key) = &self.category_field {
            patch.set(key, &best).ok()?;
        }
        if let Some(key) = &self.categories_field {
            patch.set(key, &all).ok()?;
        }
        if let Some(key) = &self.scores_field {
            if !scores.keys_distinct() {
                return None;
            }
            patch.set(key, &scores).ok()?;
        }
        Some(())
    }

    /// The categories of a text.
    fn decide(&self, text: &str) -> Verdict<'_> {
        match &self.decider {
            Decider::Rules(taxonomy) => {
                let verdict = taxonomy.categorize(text);
                let best = verdict
                    .categories
                    .first()
                    .map_or(Value::Null, |c| Value::String(c.clone()));
                let all = verdict
                    .categories
                    .into_iter()
                    .map(|c| Cow::Owned(Value::String(c)))
                    .collect();
                Verdict {
                    best: Cow::Owned(best),
                    all,
                    scores: Scores::Named(verdict.scores),
                }
            }
            Decider::Model {
                model,
                min_probability,
                keys,
                keys_distinct,
            } => {
                let prediction = model.predict(text);
                let classes = model.classes();
                // A decision function lists the classes it is positive for.
                let listed = |score: f64| {
                    if model.has_probabilities() {
                        score >= *min_probability
                    } else {
                        score > 0.0
                    }
                };
                let mut ranked: Vec<usize> = (0..classes.len())
                    .filter(|&c| listed(prediction.probabilities[c]))
                    .collect();
                ranked.sort_by(|&a, &b| {
                    prediction.probabilities[b].total_cmp(&prediction.probabilities[a])
                });
                Verdict {
                    best: Cow::Borrowed(&classes[prediction.class]),
                    all: ranked
                        .into_iter()
                        .map(|c| Cow::Borrowed(&classes[c]))
                        .collect(),
                    scores: Scores::Classes {
                        keys,
                        probabilities: prediction.probabilities,
                        distinct: *keys_distinct,
                    },
                }
            }
        }
    }
}

/// What a record is given: its best category, all it qualifies for, and the
/// score of each; borrowed from the model where it can be.
struct Verdict<'a> {
    best: Cow<'a, Value>,
    all: Vec<Cow<'a, Value>>,
    scores: Scores<'a>,
}

/// The transform: loads its taxonomy or model in `init`.
#[derive(Debug)]
pub struct Categorize {
    assets: Assets,
    categorizer: Option<Categorizer>,
}

impl Categorize {
    /// A transform reading model assets from `assets` (the sandbox mounts
    /// the assets directory at [`Assets::SANDBOX_DIR`]; native tests pass
    /// their own).
    pub fn with_assets(assets: impl Into<PathBuf>) -> Categorize {
        Categorize {
            assets: Assets::at(assets),
            categorizer: None,
        }
    }
}

impl Transform for Categorize {
    type Config = Config;

    fn init(&mut self, config: Config) -> Result<(), Error> {
        self.categorizer = Some(Categorizer::new(config, &self.assets)?);
        Ok(())
    }

    fn process(&mut self, record: Record<'_>, output: &mut Output<'_>) -> Result<(), Error> {
        let categorizer = self
            .categorizer
            .as_ref()
            .ok_or_else(|| Error::new("process called before init"))?;
        let mut edit = Edit::new(record)?;
        edit.change(
            |patch| categorizer.categorize_patch(patch),
            |value| categorizer.categorize_record(value),
        )?;
        edit.emit(output)
    }
}

/// The transform the component exports, reading `/assets`.
pub fn transform() -> Categorize {
    Categorize::with_assets(Assets::SANDBOX_DIR)
}

weir_guest::export!(transform());

#[cfg(test)]
mod tests {
    use weir_guest::testing::{self, Session};

    use super::*;

    fn assets() -> Categorize {
        Categorize::with_assets(concat!(env!("CARGO_MANIFEST_DIR"), "/assets"))
    }

    fn init_error(config: &str) -> String {
        match Session::start(assets(), config) {
            Ok(_) => panic!("{config} was accepted"),
            Err(e) => e,
        }
    }

    const RULES: &str = r#""rules":{"categories":[{"name":"a","keywords":["x"]}]}"#;

    #[test]
    fn scores_write_what_their_object_writes_unless_a_key_repeats() {
        let keys = ["b".to_owned(), "a".to_owned(), "1".to_owned()];
        let scores = Scores::Classes {
            keys: &keys,
            probabilities: vec![0.25, 1e-300, f64::NAN],
            distinct: true,
        };
        assert!(scores.keys_distinct());
        let written = serde_json::to_string(&scores).unwrap_or_else(|e| panic!("{e}"));
        let object = serde_json::to_string(&scores.to_map()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written, object);
        assert_eq!(written, r#"{"b":0.25,"a":1e-300,"1":null}"#);
        // Labels 1 and "1" share a key: the object keeps one, so the patch
        // path stands aside.
        let named = Scores::Named(vec![("1".to_owned(), 0.5), ("1".to_owned(), 0.5)]);
        assert!(!named.keys_distinct());
        assert_eq!(named.to_map().len(), 1);
    }

    /// The scanning path (`categorize_patch`) writes what parsing the record
    /// writes, over the NLP example's raw tickets and records built to take
    /// every turn, with rules and with the example's model, and output keys
    /// that are new, already present, read as input, or named twice.
    #[test]
    fn the_patch_path_writes_what_the_parse_path_writes() {
        let tickets = include_str!("../../../examples/nlp/data/tickets-2026-11-26.ndjson");
        let built = [
            r#"{"subject":"Refund","text":"charged twice","category":"old","n":1E3}"#,
            r#" { "text" : "caf\u00e9 \"card\"" , "scores" : {"a":1} } "#,
            r#"{"subject":null,"text":"x"}"#,
            r#"{"subject":{"body":"x"}}"#,
            r#"{"\u0074ext":"card"}"#,
            r#"{}"#,
        ];
        let rules = r#""rules":{"categories":[
            {"name":"billing","keywords":["charged","card","refund"]},
            {"name":"shipping","keywords":["delivery","parcel"],"phrases":["not arrived"]}],
            "default":"other","multi_label":true}"#;
        let model = r#""model":{"file":"tickets-nb.json"}"#;
        let configs = [
            format!(
                r#"{{"fields":["subject","text"],{rules},"category_field":"category","categories_field":"all","scores_field":"scores"}}"#
            ),
            format!(
                r#"{{"fields":["subject","text"],{model},"category_field":"category","scores_field":"category_scores"}}"#
            ),
            format!(
                r#"{{"fields":["text"],{rules},"category_field":"text","categories_field":"x","scores_field":"text"}}"#
            ),
            format!(r#"{{"fields":["subject.body"],{rules},"category_field":"c"}}"#),
        ];
        let assets = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/nlp/assets/categorize"
        );
        let mut patched = 0;
        for config in &configs {
            let config: Config =
                serde_json::from_str(config).unwrap_or_else(|e| panic!("{config}: {e}"));
            let categorizer =
                Categorizer::new(config, &Assets::at(assets)).unwrap_or_else(|e| panic!("{e}"));
            for line in tickets.lines().chain(built) {
                let via_patch = testing::with_record(line, |record, output| {
                    let mut patch = Patch::new(record.members().ok()?);
                    categorizer.categorize_patch(&mut patch)?;
                    output.emit_patched(patch);
                    Some(())
                });
                let via_parse = testing::with_record(line, |record, output| {
                    let mut value: Value = record.parse().ok()?;
                    categorizer.categorize_record(&mut value).ok()?;
                    output.emit_from(&value, record).ok()
                });
                if let Some(text) = via_patch {
                    patched += 1;
                    assert_eq!(Some(text), via_parse, "{line}");
                }
            }
        }
        assert!(patched > 700, "only {patched} records took the patch path");
    }

    #[test]
    fn init_needs_exactly_one_of_rules_and_model() {
        assert!(init_error(r#"{"fields":["t"]}"#).contains("either `rules`"));
        let both = format!(r#"{{"fields":["t"],{RULES},"model":{{"file":"reviews-nb.json"}}}}"#);
        assert!(init_error(&both).contains("only one of"));
    }

    #[test]
    fn init_rejects_bad_taxonomies_naming_the_category() {
        let cases = [
            (
                r#"{"name":"a","keywords":["two words"]}"#,
                "not a single word",
            ),
            (r#"{"name":"a"}"#, "give it `keywords`"),
            (r#"{"name":"a","patterns":["("]}"#, "pattern \"(\""),
            (r#"{"name":"a","keywords":["x"],"weight":0}"#, "positive"),
        ];
        for (category, needle) in cases {
            let config = format!(r#"{{"fields":["t"],"rules":{{"categories":[{category}]}}}}"#);
            let error = init_error(&config);
            assert!(error.contains(needle) && error.contains("\"a\""), "{error}");
        }
        let twice = r#"{"fields":["t"],"rules":{"categories":[{"name":"a","keywords":["x"]},{"name":"a","keywords":["y"]}]}}"#;
        assert!(init_error(twice).contains("distinct"));
    }

    #[test]
    fn init_reports_a_missing_model_and_a_typo_in_the_config() {
        let error = init_error(r#"{"fields":["t"],"model":{"file":"nope.json"}}"#);
        assert!(
            error.contains("cannot read the model") && error.contains("--assets"),
            "{error}"
        );
        let typo = format!(r#"{{"fields":["t"],{RULES},"category":"c"}}"#);
        assert!(init_error(&typo).contains("unknown field"));
    }

    #[test]
    fn output_fields_can_be_renamed_or_left_out() {
        let config = format!(
            r#"{{"fields":["t","u.v"],{RULES},"category_field":null,"categories_field":"cs"}}"#
        );
        let results = testing::run(assets(), &config, [r#"{"u":{"v":"X y"},"t":"z"}"#, r#"{}"#]);
        assert_eq!(
            results,
            [
                Ok(vec![r#"{"u":{"v":"X y"},"t":"z","cs":["a"]}"#.to_owned()]),
                Ok(vec![r#"{"cs":[]}"#.to_owned()]),
            ]
        );
    }

    #[test]
    fn model_asset_parts_must_agree_in_size() {
        let asset = r#"{"format":"weir-categorize/sklearn","version":1,
            "vectorizer":{"lowercase":true,"token_pattern":"(?u)\\b\\w\\w+\\b","ngram_range":[1,1],
                "stop_words":null,"binary":false,"vocabulary":["ab","cd"],"tfidf":null},
            "classifier":{"kind":"multinomial_nb","classes":["x","y"],"class_log_prior":[-0.7,-0.7],
                "feature_log_prob":[[-1.0,-2.0],[-1.0]]}}"#;
        let error = Model::parse(asset)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("row 1 has 1 values for 2 features"),
            "{error}"
        );
        let other_pattern = asset.replace(r"(?u)\\b\\w\\w+\\b", r"\\S+");
        let error = Model::parse(&other_pattern)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("token_pattern"), "{error}");
    }

    #[test]
    fn multinomial_nb_scores_counts_by_log_probabilities() {
        // Two classes, features "ab" and "cd": "ab ab cd" scores
        // x: ln .5 + 2 ln .8 + ln .2, y: ln .5 + 2 ln .3 + ln .7.
        let asset = r#"{"format":"weir-categorize/sklearn","version":1,
            "vectorizer":{"lowercase":true,"token_pattern":"(?u)\\b\\w\\w+\\b","ngram_range":[1,1],
                "stop_words":["ef"],"binary":false,"vocabulary":["ab","cd"],"tfidf":null},
            "classifier":{"kind":"multinomial_nb","classes":["x","y"],
                "class_log_prior":[-0.6931471805599453,-0.6931471805599453],
                "feature_log_prob":[[-0.2231435513142097,-1.6094379124341003],
                                    [-1.2039728043259361,-0.35667494393873245]]}}"#;
        let model = Model::parse(asset).unwrap_or_else(|e| panic!("{e}"));
        let prediction = model.predict("AB ab, cd ef e");
        let (x, y) = (0.8_f64 * 0.8 * 0.2, 0.3_f64 * 0.3 * 0.7);
        assert_eq!(prediction.class, 0);
        assert!((prediction.probabilities[0] - x / (x + y)).abs() < 1e-12);
        assert!((prediction.probabilities[1] - y / (x + y)).abs() < 1e-12);
    }

    #[test]
    fn a_decision_function_scores_decisions_and_lists_the_positive_classes() {
        let asset = |classes: &str, coef: &str, intercept: &str| {
            format!(
                r#"{{"format":"weir-categorize/sklearn","version":1,
                "vectorizer":{{"lowercase":true,"token_pattern":"(?u)\\b\\w\\w+\\b","ngram_range":[1,1],
                    "stop_words":null,"binary":false,"vocabulary":["ab","cd"],"tfidf":null}},
                "classifier":{{"kind":"linear_decision","classes":{classes},"coef":{coef},"intercept":{intercept}}}}}"#
            )
        };
        // Two classes: d = 2*0.5 + 1*(-1.5) + 0.25 = -0.25, so class 0.
        let binary = Model::parse(&asset(r#"["no","yes"]"#, "[[0.5,-1.5]]", "[0.25]"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!binary.has_probabilities());
        let p = binary.predict("ab ab cd");
        assert_eq!((p.class, p.probabilities), (0, vec![0.25, -0.25]));
        // Three classes, one-vs-rest: the largest decision; the listed
        // categories are those decided positive, largest first.
        let dir = std::env::temp_dir().join(format!("categorize-svc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.join("svc.json"),
            asset(
                r#"["a","b","c"]"#,
                "[[1.0,0.0],[0.0,1.0],[-1.0,-1.0]]",
                "[0.0,0.5,0.0]",
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let results = testing::run(
            Categorize::with_assets(&dir),
            r#"{"fields":["t"],"model":{"file":"svc.json"},"categories_field":"cs","scores_field":"s"}"#,
            [r#"{"t":"ab cd cd"}"#],
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            results,
            [Ok(vec![
                r#"{"t":"ab cd cd","category":"b","cs":["b","a"],"s":{"a":1.0,"b":2.5,"c":-3.0}}"#
                    .to_owned()
            ])]
        );
    }
}
