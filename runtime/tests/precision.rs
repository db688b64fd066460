//! Mean average precision (Charades mAP) against scikit-learn's `average_precision_score` on the committed
//! fixtures of `scripts/make_map_fixtures.py` (random scores, ties, a class without positives, a perfect ranking,
//! all scores equal).

use serde_json::Value;
use vst_runtime::jobs::mean_average_precision;

fn cases() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/map/cases.json");
    let text = std::fs::read_to_string(path).expect("the mAP fixtures");
    let file: Value = serde_json::from_str(&text).expect("JSON");
    file["cases"].as_array().expect("cases").clone()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[test]
fn mean_average_precision_matches_scikit_learn() {
    let cases = cases();
    assert!(cases.len() >= 4, "the fixtures hold every case");
    for case in cases {
        let name = case["name"].as_str().expect("a name");
        let classes = case["classes"].as_u64().expect("classes") as usize;
        let scores: Vec<f32> = floats(&case["scores"]).iter().map(|&s| s as f32).collect();
        let targets: Vec<bool> = floats(&case["targets"]).iter().map(|&t| t == 1.0).collect();
        let (map, per_class) =
            mean_average_precision(&scores, &targets, classes).expect("some class has a positive");
        let kept: Vec<usize> = floats(&case["kept_classes"])
            .iter()
            .map(|&c| c as usize)
            .collect();
        let ours: Vec<usize> = per_class.iter().map(|(c, _)| *c).collect();
        assert_eq!(ours, kept, "{name}: the classes averaged over");
        for ((class, ap), expected) in per_class.iter().zip(floats(&case["per_class"])) {
            assert!(
                (ap - expected).abs() < 1e-9,
                "{name}: class {class} AP {ap}, scikit-learn {expected}"
            );
        }
        let expected = case["map"].as_f64().expect("map");
        assert!(
            (map - expected).abs() < 1e-9,
            "{name}: mAP {map}, scikit-learn {expected}"
        );
    }
}
