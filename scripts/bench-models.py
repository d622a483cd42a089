"""Models and records for `scripts/bench models`: an MLPClassifier and a
scaled pipeline on digits, exported with skl2onnx, and N records of digits
rows (with seeded noise) as NDJSON with the 64 pixels in an array field
`x`. Then times onnxruntime on the same records (one thread): reading the
NDJSON and running, and running only. Prints one JSON line per model.

Usage: bench-models.py DIR RECORDS
"""
import json, os, sys, time, warnings

import numpy as np
import onnxruntime as ort
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from skl2onnx import to_onnx

warnings.filterwarnings("ignore")
out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
X, y = datasets.load_digits(return_X_y=True)
models = {
    "mlp": make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 32), max_iter=300, random_state=7)),
    "scaled-logistic": make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=500)),
}
rng = np.random.default_rng(7)
rows = X[rng.integers(0, len(X), n)] + rng.normal(0, 0.5, (n, X.shape[1])).round(2)
path = f"{out}/records.ndjson"
with open(path, "w") as f:
    for i, row in enumerate(rows.tolist()):
        f.write(json.dumps({"id": i, "x": row}) + "\n")
options = ort.SessionOptions()
options.intra_op_num_threads = 1
for name, model in models.items():
    model.fit(X, y)
    onx = to_onnx(model, X[:1].astype(np.float32), options={id(model.steps[-1][1]): {"zipmap": False}})
    with open(f"{out}/{name}.onnx", "wb") as f:
        f.write(onx.SerializeToString())
    session = ort.InferenceSession(f"{out}/{name}.onnx", options, providers=["CPUExecutionProvider"])
    started = time.perf_counter()
    with open(path) as f:
        matrix = np.array([json.loads(line)["x"] for line in f], dtype=np.float32)
    read = time.perf_counter() - started
    started = time.perf_counter()
    session.run(None, {session.get_inputs()[0].name: matrix})
    run = time.perf_counter() - started
    print(json.dumps({"model": name, "records": n, "read_and_run": read + run, "run": run}))
