//! `mcq demo` end to end: synthetic raw trees, ingest, reports, HTML.

mod common;

use std::process::Command;

use common::*;

#[test]
fn demo_builds_a_synthetic_lake_and_prints_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["demo", "--patients", "6", "--out"])
        .arg(&out)
        .env("MCQ_LAKE", dir.path().join("must-not-be-used"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for report in [
        "density_by_dataset",
        "abnormality_summary",
        "density_shift",
        "selection_funnel",
    ] {
        assert!(
            text.contains(&format!("== {report}")),
            "{report} missing:\n{text}"
        );
    }
    assert!(text.contains("Try:"), "{text}");
    assert!(
        stderr(&o).contains("[8/8] writing the HTML report"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("must-not-be-used").exists());
    let lake = out.join("lake");
    assert_eq!(
        csv(&lake, "SELECT DISTINCT dataset FROM metadata ORDER BY 1"),
        "dataset\ncbis-ddsm\ntompei-cmmd\nvindr-mammo\n"
    );
    let manifest = std::fs::read_to_string(lake.join("_mcq/manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    for (name, info) in manifest["datasets"].as_object().unwrap() {
        assert_eq!(info["synthetic"], true, "{name} is not marked synthetic");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("synthetic"),
        "no chart or synthetic warning"
    );
    assert!(
        !html.contains("<script src") && !html.contains("<link "),
        "the page must be self-contained"
    );
    assert!(mcq(&lake, &["check"]).status.success());
}
