//! Golden tests of the adapters on synthetic trees from `mcq synth`: the
//! records case selection keeps and the reasons of those it drops match the
//! generator's ground truth exactly (`<OUT>.truth.csv`). The generator and
//! the adapters share no code: both follow docs/datasets.md.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;

fn synth(dataset: &str, out: &Path, patients: usize, seed: u64) {
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["synth", dataset])
        .arg(out)
        .args([
            "--patients",
            &patients.to_string(),
            "--seed",
            &seed.to_string(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "synth {dataset}: {}", stderr(&o));
}

/// (source_file, source_row) → expected selection, from the truth file.
fn expected(truth: &Path) -> BTreeMap<(String, i64), String> {
    let mut reader = csv::Reader::from_path(truth).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (kind, file, row, selection) = (
        at("kind"),
        at("source_file"),
        at("source_row"),
        at("expected_selection"),
    );
    let mut map = BTreeMap::new();
    for record in reader.records() {
        let r = record.unwrap();
        if &r[kind] == "record" {
            let key = (r[file].to_string(), r[row].parse().unwrap());
            assert!(
                map.insert(key.clone(), r[selection].to_string()).is_none(),
                "truth lists {key:?} twice"
            );
        }
    }
    map
}

/// (source_file, source_row) → `keep` or the exclusion reason, from the lake.
fn actual(lake: &Path, dataset: &str) -> BTreeMap<(String, i64), String> {
    let kept = csv(
        lake,
        &format!(
            "SELECT DISTINCT source_file, source_row FROM (SELECT dataset, source_file, source_row FROM metadata \
             UNION ALL SELECT dataset, source_file, source_row FROM findings) WHERE dataset = '{dataset}'"
        ),
    );
    let dropped = csv(
        lake,
        &format!(
            "SELECT source_file, source_row, reason FROM exclusions WHERE dataset = '{dataset}' AND level = 'record'"
        ),
    );
    let mut map = BTreeMap::new();
    for line in kept.lines().skip(1) {
        let (file, row) = line.rsplit_once(',').unwrap();
        map.insert((file.to_string(), row.parse().unwrap()), "keep".to_string());
    }
    for line in dropped.lines().skip(1) {
        let mut parts = line.rsplitn(3, ',');
        let reason = parts.next().unwrap();
        let row = parts.next().unwrap();
        let file = parts.next().unwrap();
        let previous = map.insert((file.to_string(), row.parse().unwrap()), reason.to_string());
        assert!(
            previous.is_none(),
            "{file}:{row} is both kept and excluded ({reason})"
        );
    }
    map
}

fn selection_matches_truth(dataset: &str, patients: usize, seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(dataset);
    synth(dataset, &out, patients, seed);
    let lake = dir.path().join("lake");
    let o = mcq(
        &lake,
        &["ingest", dataset, out.to_str().unwrap(), "--metadata-only"],
    );
    assert!(o.status.success(), "{dataset}: {}", stderr(&o));
    let mut truth = expected(&dir.path().join(format!("{dataset}.truth.csv")));
    if dataset == "vindr-mammo" {
        // mcq's documented accounting (src/dataset/vindr_mammo.rs): a `No
        // Finding` row repeats the image's breast-level row, which is the
        // image's record in metadata, so it is a `duplicate` exclusion.
        let mut reader = csv::Reader::from_path(out.join("finding_annotations.csv")).unwrap();
        let c = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "finding_categories")
            .unwrap();
        for (i, r) in reader.records().enumerate() {
            if &r.unwrap()[c] == "['No Finding']" {
                let key = ("finding_annotations.csv".to_string(), i as i64 + 1);
                assert_eq!(
                    truth.insert(key, "duplicate".into()).as_deref(),
                    Some("keep")
                );
            }
        }
    }
    let got = actual(&lake, dataset);
    // Only the record files the truth describes (CMMD's unlabelled images cite
    // the NBIA manifest, which is an index, not a record file).
    let record_files: std::collections::BTreeSet<&String> = truth.keys().map(|k| &k.0).collect();
    let mismatches: Vec<String> = truth
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, v)| format!("{}:{} expected {v}, got {:?}", k.0, k.1, got.get(k)))
        .chain(
            got.keys()
                .filter(|k| record_files.contains(&k.0) && !truth.contains_key(*k))
                .map(|k| format!("{}:{} not in the truth", k.0, k.1)),
        )
        .collect();
    assert!(
        mismatches.is_empty(),
        "{dataset}: {} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(
        truth.values().any(|v| v != "keep") || dataset == "cmmd",
        "{dataset}: the truth drops nothing"
    );
}

#[test]
fn cbis_ddsm_selection_matches_truth() {
    selection_matches_truth("cbis-ddsm", 40, 11);
}

#[test]
fn cmmd_selection_matches_truth() {
    selection_matches_truth("cmmd", 25, 12);
}

#[test]
fn vindr_mammo_selection_matches_truth() {
    selection_matches_truth("vindr-mammo", 25, 13);
}

#[test]
fn tompei_cmmd_selection_matches_truth() {
    selection_matches_truth("tompei-cmmd", 30, 14);
}
