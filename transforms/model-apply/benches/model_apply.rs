//! Measures (never asserts) the native cost of model-apply over records
//! shaped like the NLP example's `score` step: nine dotted feature fields,
//! the example's 40-tree priority model, label and probabilities written
//! back. Also the same records through `normalize`-like identity work, to
//! split the SDK's JSON round trip from the model. `cargo bench -p model-apply`.

use std::time::Instant;

use weir_guest::testing::Session;

fn records(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let f = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0;
            serde_json::json!({
                "id": format!("T-{i:06}"),
                "subject": "Refund for a broken blender",
                "text": "Hello, the blender I ordered arrived broken and I would like a refund please.",
                "customer": {"id": 40_000 + i, "tier": "free", "tenure_months": i % 97},
                "order": {"id": format!("A-{i}"), "total": 10.0 + f(1) * 900.0, "days_since_order": i % 60},
                "previous_contacts": i % 5,
                "category": "returns",
                "category_scores": {
                    "account": f(2) / 4.0, "billing": f(3) / 4.0, "returns": 0.5,
                    "shipping": f(4) / 8.0, "technical": f(5) / 8.0
                }
            })
            .to_string()
        })
        .collect()
}

fn main() {
    let assets = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/nlp/assets/score"
    );
    let config = r#"{"model":"priority.onnx","inputs":["category_scores.account","category_scores.billing","category_scores.returns","category_scores.shipping","category_scores.technical","customer.tenure_months","order.total","order.days_since_order","previous_contacts"],"outputs":{"label":"priority","probabilities":"priority_scores"}}"#;
    let records = records(20_000);
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();

    let identity = Session::start(
        weir_guest::map(
            |v: serde_json::Value| -> Result<serde_json::Value, weir_guest::Error> { Ok(v) },
        ),
        "{}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    measure(
        "identity map (the SDK round trip)",
        identity,
        &records,
        bytes,
    );
    let session = Session::start(model_apply::ModelApply::with_assets(assets), config)
        .unwrap_or_else(|e| panic!("{e}"));
    measure("model-apply", session, &records, bytes);
}

fn measure<T: weir_guest::Transform>(
    name: &str,
    mut session: Session<T>,
    records: &[String],
    bytes: usize,
) {
    let chunks: Vec<String> = records
        .chunks(1000)
        .map(|c| c.iter().map(|r| format!("{r}\n")).collect())
        .collect();
    let start = Instant::now();
    for chunk in &chunks {
        session.process_chunk(chunk);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{name}: {} records ({:.0} bytes each) in {:.0} ms, {:.0} records/s, {:.2} µs/record",
        records.len(),
        bytes as f64 / records.len() as f64,
        seconds * 1e3,
        records.len() as f64 / seconds,
        seconds * 1e6 / records.len() as f64
    );
}
