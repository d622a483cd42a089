//! The model-apply transform end to end, against onnxruntime: scikit-learn
//! models are trained on its bundled datasets in the test venv, exported
//! with skl2onnx, and run both by onnxruntime and by the component under
//! the real `weir run`, with the `.onnx` file as the assets directory.
//! Labels must be identical; probabilities and regression values must agree
//! within 1e-5 (relative to the value when it is larger than 1).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use weir_tests::{Sandbox, guest, lines, workspace};

const INTERVAL: &str = "2026-11-26T00:00:00+00:00";

/// Trains LogisticRegression, RandomForestClassifier,
/// GradientBoostingClassifier, MLPClassifier (after StandardScaler),
/// LogisticRegression after MinMaxScaler, SGDClassifier (after
/// StandardScaler), GaussianNB, RidgeClassifier, LinearSVC (both written
/// with `outputs.scores`), SimpleImputer + Normalizer +
/// LogisticRegression and SVC (after StandardScaler; RBF and polynomial
/// kernels with decision scores, linear and sigmoid with probabilities) and
/// KNeighborsClassifier (after StandardScaler; and with distance weights),
/// AdaBoostClassifier and SGDClassifier(loss="log_loss") on iris, wine,
/// breast_cancer and digits (and OneHotEncoder +
/// LogisticRegression on digits, whose pixels are small integers), and
/// LinearRegression, RandomForestRegressor, MLPRegressor (after
/// MinMaxScaler), SVR (after StandardScaler; RBF, linear, polynomial and
/// sigmoid kernels) and KNeighborsRegressor (plain, and with distance weights
/// after StandardScaler) and AdaBoostRegressor on diabetes (fixed
/// seeds, 20 trees per forest), on 70% of each dataset. Writes each model
/// to `models/<case>.onnx`, the held-out rows to `<case>.ndjson` (as an array
/// field `x`, or as fields `f0`, `f1`, ... in alternate cases, so both
/// config forms are exercised), and onnxruntime's outputs to
/// `reference.json`.
const REFERENCE: &str = r#"
import json, os, sys, time, warnings
try:
    import numpy as np
    import onnxruntime as ort
    import sklearn
    import skl2onnx
    from sklearn import datasets
    from sklearn.ensemble import (AdaBoostClassifier, AdaBoostRegressor,
                                  GradientBoostingClassifier, RandomForestClassifier,
                                  RandomForestRegressor)
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.linear_model import (LinearRegression, LogisticRegression, RidgeClassifier,
                                      SGDClassifier)
    from sklearn.svm import SVC, SVR, LinearSVC
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import MinMaxScaler, Normalizer, OneHotEncoder, StandardScaler
    from skl2onnx import to_onnx
except ImportError as e:
    sys.exit(f"{e.name} is missing from the test venv: .venv/bin/pip install -r scripts/requirements-test.txt")

warnings.filterwarnings("ignore")
SEED = 20261126
classifiers = {
    "logistic_regression": lambda: LogisticRegression(max_iter=300),
    "random_forest": lambda: RandomForestClassifier(n_estimators=20, random_state=SEED),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=20, random_state=SEED),
    "mlp": lambda: make_pipeline(StandardScaler(), MLPClassifier(
        hidden_layer_sizes=(32, 16), max_iter=300, random_state=SEED)),
    "minmax_logistic": lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=300)),
    "sgd": lambda: make_pipeline(StandardScaler(), SGDClassifier(random_state=SEED)),
    "gaussian_nb": lambda: GaussianNB(),
    # Bare: skl2onnx 1.20 refuses to convert LinearSVC inside a Pipeline
    # (it passes it a `zipmap` option LinearSVC's converter does not take).
    "ridge": lambda: RidgeClassifier(),
    "linear_svc": lambda: LinearSVC(random_state=SEED),
    "imputer_normalizer": lambda: make_pipeline(
        SimpleImputer(), Normalizer(), LogisticRegression(max_iter=300)),
    # SVC: decision scores (one-vs-rest, as scikit-learn's decision_function)
    # without probability=True, libsvm's probabilities with it.
    "svc_rbf": lambda: make_pipeline(StandardScaler(), SVC()),
    "svc_poly": lambda: make_pipeline(StandardScaler(), SVC(kernel="poly")),
    "svc_linear_proba": lambda: make_pipeline(StandardScaler(), SVC(
        kernel="linear", probability=True, random_state=SEED)),
    "svc_sigmoid_proba": lambda: make_pipeline(StandardScaler(), SVC(
        kernel="sigmoid", probability=True, random_state=SEED)),
    # skl2onnx computes the distances with Scan, picks neighbours with TopK.
    "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier()),
    "knn_distance": lambda: KNeighborsClassifier(n_neighbors=7, weights="distance"),
    # SAMME over trees: Equal, Where, ConstantOfShape...
    "adaboost": lambda: AdaBoostClassifier(n_estimators=20, random_state=SEED),
    # Probabilities from the logistic, with a Not of the binary case.
    "sgd_log": lambda: make_pipeline(StandardScaler(), SGDClassifier(
        loss="log_loss", random_state=SEED)),
}
# Digits' pixels are small integers (0 to 16): a natural categorical input.
digits_classifiers = {**classifiers, "one_hot": lambda: make_pipeline(
    OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=300))}
regressors = {
    "linear_regression": lambda: LinearRegression(),
    "random_forest": lambda: RandomForestRegressor(n_estimators=20, random_state=SEED),
    "mlp": lambda: make_pipeline(MinMaxScaler(), MLPRegressor(
        hidden_layer_sizes=(32,), max_iter=500, random_state=SEED)),
    "svr": lambda: make_pipeline(StandardScaler(), SVR(C=50.0)),
    "svr_linear": lambda: make_pipeline(StandardScaler(), SVR(kernel="linear", C=5.0)),
    "svr_poly": lambda: make_pipeline(StandardScaler(), SVR(kernel="poly", C=5.0)),
    "svr_sigmoid": lambda: make_pipeline(StandardScaler(), SVR(kernel="sigmoid", C=5.0)),
    "knn": lambda: KNeighborsRegressor(),
    "knn_distance": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor(
        n_neighbors=7, weights="distance")),
    # The weighted median of the trees' predictions: TopK, CumSum, ArgMin,
    # GatherElements.
    "adaboost": lambda: AdaBoostRegressor(n_estimators=20, random_state=SEED),
}
loaders = {
    "iris": (datasets.load_iris, classifiers),
    "wine": (datasets.load_wine, classifiers),
    "breast_cancer": (datasets.load_breast_cancer, classifiers),
    "digits": (datasets.load_digits, digits_classifiers),
    "diabetes": (datasets.load_diabetes, regressors),
}
# One thread: onnxruntime then sums each row's trees in tree order. With
# more, it splits the trees between threads and adds the partial sums, so a
# tie like 0.5 vs 0.5 can round either way depending on the machine.
options = ort.SessionOptions()
options.intra_op_num_threads = 1
os.makedirs("models", exist_ok=True)
cases = []
for dataset, (load, models) in loaders.items():
    bunch = load()
    X_train, X_test, y_train, y_test = train_test_split(
        bunch.data, bunch.target, test_size=0.3, random_state=SEED)
    names = [f"f{i}" for i in range(X_train.shape[1])]
    for model_name, make in models.items():
        case = f"{dataset}-{model_name}"
        started = time.perf_counter()
        model = make().fit(X_train, y_train)
        classifier = hasattr(model, "predict_proba") or hasattr(model, "decision_function")
        final = model.steps[-1][1] if hasattr(model, "steps") else model
        zipmap = {id(final): {"zipmap": False}} if classifier else None
        try:
            onx = to_onnx(model, X_train[:1].astype(np.float32), options=zipmap)
        except NameError:  # a converter without the option (LinearSVC) has no ZipMap
            onx = to_onnx(model, X_train[:1].astype(np.float32))
        path = f"models/{case}.onnx"
        with open(path, "wb") as f:
            f.write(onx.SerializeToString())
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        outputs = session.run(None, {session.get_inputs()[0].name: X_test.astype(np.float32)})
        # Alternate between the two ways of naming features.
        by_fields = len(cases) % 2 == 1
        with open(f"{case}.ndjson", "w") as f:
            for i, row in enumerate(X_test.tolist()):
                record = {"id": i}
                if by_fields:
                    record.update(zip(names, row))
                else:
                    record["x"] = row
                f.write(json.dumps(record) + "\n")
        if len(outputs) == 2:
            reference = {"label": outputs[0].tolist(),
                         "probabilities": outputs[1].astype(float).tolist()}
        else:
            reference = {"value": outputs[0].reshape(-1).astype(float).tolist()}
        cases.append({"case": case, "dataset": dataset, "model": model_name,
                      "inputs": names if by_fields else None,
                      "rows": len(X_test), "bytes": len(onx.SerializeToString()),
                      "seconds": time.perf_counter() - started, **reference})
with open("reference.json", "w") as f:
    json.dump({"versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__,
                            "onnxruntime": ort.__version__, "numpy": np.__version__},
               "cases": cases}, f)
"#;

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn crate_dir() -> PathBuf {
    workspace().join("transforms/model-apply")
}

#[test]
fn model_apply_golden_cases_match_through_the_component() {
    weir_tests::assert_golden_cases(&guest("model-apply"), &crate_dir());
}

/// Whether `got` is within `tolerance` of `want`, relative when `want`
/// exceeds 1.
fn close(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance * want.abs().max(1.0)
}

/// The tolerance for a model: 1e-5, except SGDClassifier's decision
/// scores. Its unregularised weights are large and cancel, onnxruntime sums
/// the MatMul in f32 (MLAS) while model-apply sums in f64 and rounds once,
/// and on digits the two differ by up to 1.5e-4 (labels stay identical).
fn tolerance(model: &str) -> f64 {
    if model == "sgd" { 2e-4 } else { 1e-5 }
}

#[test]
fn model_apply_agrees_with_onnxruntime_on_sklearn_datasets() {
    let module = guest("model-apply");
    let sb = Sandbox::new();
    let started = Instant::now();
    sb.python(REFERENCE, &[]).ok();
    let python_seconds = started.elapsed().as_secs_f64();
    let reference: Value = serde_json::from_slice(
        &std::fs::read(sb.join("reference.json")).unwrap_or_else(|e| panic!("reference.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("reference.json: {e}"));
    let cases = reference["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("reference.json has no cases"));
    assert_eq!(
        cases.len(),
        83,
        "5 datasets: 4 × 18 classifiers, one more on digits, 1 × 10 regressors"
    );
    let assets = sb.join("models").to_string_lossy().into_owned();

    let mut failures = Vec::new();
    let mut table = vec![format!(
        "{:<15} {:<20} {:>5} {:>9} {:>8} {:>10} {:>8}",
        "dataset", "model", "rows", "model B", "labels", "max diff", "weir s"
    )];
    for case in cases {
        let name = case["case"].as_str().unwrap_or_default();
        let classifier = case.get("label").is_some();
        let tolerance = tolerance(case["model"].as_str().unwrap_or_default());
        let mut config = serde_json::json!({"model": format!("{name}.onnx")});
        match case["inputs"].as_array() {
            Some(fields) => config["inputs"] = Value::Array(fields.clone()),
            None => config["input_array"] = "x".into(),
        }
        // Decision scores are written with `scores` (into the same record
        // field, so the comparison below is one); `probabilities` refuses
        // the models it can tell give them.
        let decision_scores = matches!(
            case["model"].as_str(),
            Some("ridge" | "linear_svc" | "sgd" | "svc_rbf" | "svc_poly")
        );
        config["outputs"] = if decision_scores {
            serde_json::json!({"label": "label", "scores": "probabilities"})
        } else if classifier {
            serde_json::json!({"label": "label", "probabilities": "probabilities"})
        } else {
            serde_json::json!({"value": "prediction"})
        };
        let (input, output) = (format!("in-{name}"), format!("out-{name}"));
        sb.weir(&[
            "stage",
            &input,
            "--interval",
            INTERVAL,
            &format!("{name}.ndjson"),
        ])
        .ok();
        let started = Instant::now();
        sb.weir(&[
            "run",
            "--input",
            &input,
            "--output",
            &output,
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--config",
            &config.to_string(),
            "--assets",
            &assets,
        ])
        .ok();
        let weir_seconds = started.elapsed().as_secs_f64();
        if matches!(
            case["model"].as_str(),
            Some("ridge" | "linear_svc" | "svc_rbf" | "svc_poly")
        ) {
            let mut asked = config.clone();
            asked["outputs"] = serde_json::json!({"probabilities": "p"});
            let refused = sb.weir(&[
                "run",
                "--input",
                &input,
                "--output",
                &format!("refused-{name}"),
                "--interval",
                INTERVAL,
                "--transform",
                module.to_str().unwrap_or_default(),
                "--config",
                &asked.to_string(),
                "--assets",
                &assets,
            ]);
            if refused.code == 0 || !refused.stderr.contains("write them with `outputs.scores`") {
                failures.push(format!(
                    "{name}: `outputs.probabilities` was not refused for decision scores (exit {}): {}",
                    refused.code, refused.stderr
                ));
            }
        }
        let records: BTreeMap<usize, Value> = lines(
            &sb.weir(&["cat", &output, "--interval", INTERVAL])
                .ok()
                .stdout,
        )
        .into_iter()
        .map(parse)
        .map(|record| (record["id"].as_u64().unwrap_or(u64::MAX) as usize, record))
        .collect();
        let rows = case["rows"].as_u64().unwrap_or_default() as usize;
        if records.len() != rows {
            failures.push(format!(
                "{name}: {} of {rows} records came out",
                records.len()
            ));
            continue;
        }

        let mut label_mismatches = 0;
        let mut worst = 0.0f64;
        let note = |failures: &mut Vec<String>, id: usize, what: String| {
            if failures.len() < 20 {
                failures.push(format!("{name} row {id}: {what}"));
            }
        };
        for (&id, record) in &records {
            if classifier {
                let want_label = &case["label"][id];
                if &record["label"] != want_label {
                    label_mismatches += 1;
                    note(
                        &mut failures,
                        id,
                        format!("label {} != onnxruntime's {want_label}", record["label"]),
                    );
                }
                let want = case["probabilities"][id]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let got = record["probabilities"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                if got.len() != want.len() {
                    note(
                        &mut failures,
                        id,
                        format!(
                            "{} probabilities, onnxruntime has {}",
                            got.len(),
                            want.len()
                        ),
                    );
                    continue;
                }
                for ((class, got), want) in got.iter().zip(&want) {
                    let (got, want) = (
                        got.as_f64().unwrap_or(f64::NAN),
                        want.as_f64().unwrap_or_default(),
                    );
                    worst = worst.max((got - want).abs());
                    if !close(got, want, tolerance) {
                        note(
                            &mut failures,
                            id,
                            format!("P({class}) {got} != onnxruntime's {want}"),
                        );
                    }
                }
            } else {
                let got = record["prediction"].as_f64().unwrap_or(f64::NAN);
                let want = case["value"][id].as_f64().unwrap_or_default();
                worst = worst.max((got - want).abs() / want.abs().max(1.0));
                if !close(got, want, tolerance) {
                    note(
                        &mut failures,
                        id,
                        format!("value {got} != onnxruntime's {want}"),
                    );
                }
            }
        }
        table.push(format!(
            "{:<15} {:<20} {:>5} {:>9} {:>8} {:>10.1e} {:>8.2}",
            case["dataset"].as_str().unwrap_or_default(),
            case["model"].as_str().unwrap_or_default(),
            rows,
            case["bytes"].as_u64().unwrap_or_default(),
            if classifier {
                format!("{}/{rows}", rows - label_mismatches)
            } else {
                "-".into()
            },
            worst,
            weir_seconds,
        ));
    }
    eprintln!(
        "model-apply vs onnxruntime ({}; training and export {python_seconds:.1} s)\n{}",
        reference["versions"],
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "disagreements with onnxruntime:\n{}",
        failures.join("\n")
    );
}

/// Trains `Pipeline(ColumnTransformer(StandardScaler on the numeric
/// columns, OneHotEncoder on `sex`), model)` on scikit-learn's diabetes
/// data as a DataFrame, unscaled, with `sex` as the strings `female` and
/// `male`: Ridge for the disease progression and LogisticRegression for
/// whether it is above the median (`high`/`low`). skl2onnx gives such a
/// model one input per column, float or string. Writes the models, the
/// held-out rows as records of mixed types (`{"age": 59.0, "sex": "male",
/// ...}`) and onnxruntime's outputs to `reference.json`. Also a plain
/// `Pipeline(StandardScaler, Ridge)` exported with one float input per
/// column (joined by FeatureVectorizer), and a LabelEncoder of `sex`.
const MIXED_REFERENCE: &str = r#"
import json, os, sys, warnings
try:
    import numpy as np
    import onnxruntime as ort
    from sklearn import datasets
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import LabelEncoder, OneHotEncoder, StandardScaler
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
except ImportError as e:
    sys.exit(f"{e.name} is missing from the test venv: .venv/bin/pip install -r scripts/requirements-test.txt")

warnings.filterwarnings("ignore")
SEED = 20261126
frame = datasets.load_diabetes(as_frame=True, scaled=False).frame
assert sorted(frame["sex"].unique()) == [1.0, 2.0], frame["sex"].unique()
frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})
numeric = [c for c in frame.columns if c not in ("sex", "target")]
columns = numeric + ["sex"]
X = frame[columns]
targets = {"ridge": frame["target"],
           "logistic": np.where(frame["target"] > frame["target"].median(), "high", "low")}
models = {"ridge": Ridge(), "logistic": LogisticRegression(max_iter=1000)}
options = ort.SessionOptions()
options.intra_op_num_threads = 1
os.makedirs("models", exist_ok=True)
cases = []
for name, model in models.items():
    X_train, X_test, y_train, y_test = train_test_split(
        X, targets[name], test_size=0.3, random_state=SEED)
    pipeline = make_pipeline(ColumnTransformer([
        ("numeric", StandardScaler(), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
    ]), model).fit(X_train, y_train)
    types = [(c, FloatTensorType([None, 1])) for c in numeric] + [("sex", StringTensorType([None, 1]))]
    zipmap = {id(model): {"zipmap": False}} if name == "logistic" else None
    onx = to_onnx(pipeline, initial_types=types, options=zipmap)
    path = f"models/mixed-{name}.onnx"
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    feeds = {c: X_test[[c]].to_numpy().astype(np.float32) for c in numeric}
    feeds["sex"] = X_test[["sex"]].to_numpy().astype(object)
    outputs = session.run(None, feeds)
    with open(f"mixed-{name}.ndjson", "w") as f:
        for i, row in enumerate(X_test.to_dict("records")):
            f.write(json.dumps({"id": i, **row}) + "\n")
    case = {"case": f"mixed-{name}", "inputs": columns, "rows": len(X_test)}
    if len(outputs) == 2:
        case["label"] = outputs[0].tolist()
        case["probabilities"] = outputs[1].astype(float).tolist()
    else:
        case["value"] = outputs[0].reshape(-1).astype(float).tolist()
    cases.append(case)

# A plain Pipeline(StandardScaler, Ridge) exported with one float input per
# column: skl2onnx joins them with FeatureVectorizer.
X_train, X_test, y_train, y_test = train_test_split(
    frame[numeric], frame["target"], test_size=0.3, random_state=SEED)
pipeline = make_pipeline(StandardScaler(), Ridge()).fit(X_train, y_train)
onx = to_onnx(pipeline, initial_types=[(c, FloatTensorType([None, 1])) for c in numeric])
assert "FeatureVectorizer" in [n.op_type for n in onx.graph.node]
with open("models/mixed-per-column.onnx", "wb") as f:
    f.write(onx.SerializeToString())
session = ort.InferenceSession("models/mixed-per-column.onnx", options, providers=["CPUExecutionProvider"])
value = session.run(None, {c: X_test[[c]].to_numpy().astype(np.float32) for c in numeric})[0]
with open("mixed-per-column.ndjson", "w") as f:
    for i, row in enumerate(X_test.to_dict("records")):
        f.write(json.dumps({"id": i, **row}) + "\n")
cases.append({"case": "mixed-per-column", "inputs": numeric, "rows": len(X_test),
              "value": value.reshape(-1).astype(float).tolist()})

# LabelEncoder on the `sex` strings (a 1-D string input), with one value
# it was not fitted on (onnxruntime gives the default, -1).
encoder = LabelEncoder().fit(frame["sex"])
onx = to_onnx(encoder, initial_types=[("sex", StringTensorType([None]))])
with open("models/mixed-label-encoder.onnx", "wb") as f:
    f.write(onx.SerializeToString())
session = ort.InferenceSession("models/mixed-label-encoder.onnx", options, providers=["CPUExecutionProvider"])
sexes = frame["sex"].tolist()[:50] + ["unknown"]
label = session.run(None, {"sex": np.array(sexes, dtype=object)})[0]
with open("mixed-label-encoder.ndjson", "w") as f:
    for i, sex in enumerate(sexes):
        f.write(json.dumps({"id": i, "sex": sex}) + "\n")
cases.append({"case": "mixed-label-encoder", "inputs": ["sex"], "rows": len(sexes),
              "label": label.tolist()})
with open("reference.json", "w") as f:
    json.dump({"cases": cases}, f)
"#;

#[test]
fn model_apply_runs_a_column_transformer_over_record_fields_of_mixed_types() {
    let module = guest("model-apply");
    let sb = Sandbox::new();
    sb.python(MIXED_REFERENCE, &[]).ok();
    let reference: Value = serde_json::from_slice(
        &std::fs::read(sb.join("reference.json")).unwrap_or_else(|e| panic!("reference.json: {e}")),
    )
    .unwrap_or_else(|e| panic!("reference.json: {e}"));
    let cases = reference["cases"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        cases.len(),
        4,
        "Ridge and LogisticRegression after a ColumnTransformer, a per-column pipeline, a LabelEncoder"
    );
    let assets = sb.join("models").to_string_lossy().into_owned();
    let run = |name: &str, input: &str, config: &Value, extra: &[&str]| {
        let output = format!("out-{input}");
        let mut args = vec![
            "run",
            "--input",
            input,
            "--output",
            &output,
            "--interval",
            INTERVAL,
            "--transform",
            module.to_str().unwrap_or_default(),
            "--assets",
            &assets,
        ];
        args.extend_from_slice(extra);
        let config = config.to_string();
        args.extend_from_slice(&["--config", &config]);
        let result = sb.weir(&args);
        assert_eq!(result.code, 0, "{name}: {}", result.stderr);
        lines(
            &sb.weir(&["cat", &output, "--interval", INTERVAL])
                .ok()
                .stdout,
        )
        .into_iter()
        .map(parse)
        .collect::<Vec<_>>()
    };
    for case in &cases {
        let name = case["case"].as_str().unwrap_or_default();
        let classifier = case.get("label").is_some();
        let probabilities = case.get("probabilities").is_some();
        let config = serde_json::json!({
            "model": format!("{name}.onnx"),
            "inputs": case["inputs"],
            "outputs": if probabilities {
                serde_json::json!({"label": "label", "probabilities": "probabilities"})
            } else if classifier {
                serde_json::json!({"label": "label"})
            } else {
                serde_json::json!({"value": "prediction"})
            },
        });
        let input = format!("in-{name}");
        sb.weir(&[
            "stage",
            &input,
            "--interval",
            INTERVAL,
            &format!("{name}.ndjson"),
        ])
        .ok();
        let records = run(name, &input, &config, &[]);
        assert_eq!(
            records.len() as u64,
            case["rows"].as_u64().unwrap_or_default(),
            "{name}: every record comes out"
        );
        for record in &records {
            let id = record["id"].as_u64().unwrap_or(u64::MAX) as usize;
            assert!(
                record["sex"].is_string() || record["age"].is_number(),
                "{name}: the record is kept: {record}"
            );
            if classifier {
                assert_eq!(record["label"], case["label"][id], "{name} row {id}");
            }
            if probabilities {
                let want = case["probabilities"][id]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let got: Vec<f64> = ["high", "low"]
                    .iter()
                    .map(|class| record["probabilities"][class].as_f64().unwrap_or(f64::NAN))
                    .collect();
                assert_eq!(got.len(), want.len(), "{name} row {id}");
                for (got, want) in got.iter().zip(&want) {
                    let want = want.as_f64().unwrap_or_default();
                    assert!(
                        close(*got, want, 1e-5),
                        "{name} row {id}: {got} != onnxruntime's {want}"
                    );
                }
            } else if !classifier {
                let (got, want) = (
                    record["prediction"].as_f64().unwrap_or(f64::NAN),
                    case["value"][id].as_f64().unwrap_or_default(),
                );
                assert!(
                    close(got, want, 1e-5),
                    "{name} row {id}: {got} != onnxruntime's {want}"
                );
            }
        }
    }

    // A categorical field that is not a string, a numeric one that is, and
    // one missing: each record fails alone, naming its field.
    let good = serde_json::json!({"age": 59.0, "sex": "male", "bmi": 32.1, "bp": 101.0,
        "s1": 157.0, "s2": 93.2, "s3": 38.0, "s4": 4.0, "s5": 4.8598, "s6": 87.0});
    let mut bad_sex = good.clone();
    bad_sex["sex"] = 2.into();
    let mut bad_age = good.clone();
    bad_age["age"] = "59".into();
    let mut no_bmi = good.clone();
    no_bmi.as_object_mut().map(|object| object.remove("bmi"));
    let file = [&good, &bad_sex, &bad_age, &no_bmi]
        .iter()
        .map(|record| record.to_string() + "\n")
        .collect::<String>();
    std::fs::write(sb.join("bad.ndjson"), file).unwrap_or_else(|e| panic!("bad.ndjson: {e}"));
    sb.weir(&["stage", "in-bad", "--interval", INTERVAL, "bad.ndjson"])
        .ok();
    let config = serde_json::json!({
        "model": "mixed-ridge.onnx",
        "inputs": cases[0]["inputs"],
        "outputs": {"value": "prediction"},
    });
    let records = run("bad records", "in-bad", &config, &["--max-rejected", "3"]);
    assert_eq!(records.len(), 1, "only the good record: {records:?}");
    assert!(records[0]["prediction"].is_number(), "{}", records[0]);
    let quarantine = sb.weir(&["cat", "out-in-bad", "--interval", INTERVAL, "--quarantine"]);
    for reason in [
        "field `sex` is a number, not a string as the model's string input takes",
        "field `age` is a string, not a number",
        "field `bmi` is missing",
    ] {
        assert!(
            quarantine.stdout.contains(reason),
            "quarantine lacks {reason:?}:\n{}\n{}",
            quarantine.stdout,
            quarantine.stderr
        );
    }
}
