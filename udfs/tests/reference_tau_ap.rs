//! The rank-correlation kernels against the reference vectors of Urbano & Marrero's ircor
//! (`shared/reference/tau_ap.json`), read from the file itself, to 1e-9.

use std::path::PathBuf;

use serde_json::Value;
use trustql_udfs::ranking::kernels;

fn shared() -> PathBuf {
    if let Some(p) = std::env::var_os("TRUSTQL_SHARED") {
        return PathBuf::from(p);
    }
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared");
    if beside.join("reference").is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared")
}

fn list(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

#[test]
fn agrees_with_ircor_reference_vectors() {
    let path = shared().join("reference/tau_ap.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} (set TRUSTQL_SHARED): {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    type Kernel = fn(&[f64], &[f64]) -> kernels::RankResult;
    let cases: [(&str, Kernel, &str, &str); 7] = [
        ("kendall_tau(x,y)", kernels::kendall_tau_b, "x", "y"),
        (
            "kendall_tau_b(x_ties,y_ties)",
            kernels::kendall_tau_b,
            "x_ties",
            "y_ties",
        ),
        ("tau_ap(x,y)", kernels::tau_ap, "x", "y"),
        ("tau_ap(y,x)", kernels::tau_ap, "y", "x"),
        ("tau_ap_a(x,y_ties)", kernels::tau_ap_a, "x", "y_ties"),
        ("tau_ap_b(x,y)", kernels::tau_ap_b, "x", "y"),
        (
            "tau_ap_b(x_ties,y_ties)",
            kernels::tau_ap_b,
            "x_ties",
            "y_ties",
        ),
    ];
    let mut checked = 0;
    for (key, kernel, a, b) in cases {
        let expected = json["expected"][key].as_object().expect(key);
        for (set, value) in expected {
            let inputs = &json["inputs"][set];
            let got = kernel(&list(&inputs[a]), &list(&inputs[b]))
                .expect("no error")
                .expect("defined");
            let want = value.as_f64().expect("a number");
            assert!(
                (got - want).abs() < 1e-9,
                "{key} on {set}: got {got}, expected {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 21);
}
