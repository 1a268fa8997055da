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

/// CBIS-DDSM names crop and ROI mask inconsistently (datasets.md §1.2):
/// the adapter tells them apart by content (the mask has the full image's
/// size). Swapping the two files of every two-file series on disk must swap
/// nothing in the lake: roi_path still points at the full-size file.
#[test]
fn cbis_crop_and_mask_are_told_apart_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("cbis");
    synth("cbis-ddsm", &tree, 12, 5);
    let mut swapped = 0;
    let mut stack = vec![tree.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            }
        }
        let (a, b) = (d.join("1-1.dcm"), d.join("1-2.dcm"));
        if a.is_file() && b.is_file() {
            let tmp = d.join("swap.tmp");
            std::fs::rename(&a, &tmp).unwrap();
            std::fs::rename(&b, &a).unwrap();
            std::fs::rename(&tmp, &b).unwrap();
            swapped += 1;
        }
    }
    assert!(
        swapped > 0,
        "the synthetic tree has two-file crop/mask series"
    );
    let lake = dir.path().join("lake");
    let o = mcq(
        &lake,
        &[
            "ingest",
            "cbis-ddsm",
            tree.to_str().unwrap(),
            "--metadata-only",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the file the CSV names as the crop is the ROI mask"),
        "{}",
        stdout(&o)
    );
    let rows = csv(
        &lake,
        "SELECT m.raw_path, f.crop_path, f.roi_path FROM findings f JOIN metadata m \
         ON f.dataset = m.dataset AND f.image_id = m.image_id WHERE f.roi_path LIKE '%.dcm'",
    );
    // Sizes from the headers; the generator's deliberately broken files
    // (truncated, not DICOM) have none.
    let size = |p: &str| {
        let o = dicom_object::OpenFileOptions::new()
            .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
            .open_file(tree.join(p))
            .ok()?;
        let n = |t| o.element(t).ok()?.to_int::<u32>().ok();
        Some((
            n(dicom_dictionary_std::tags::ROWS)?,
            n(dicom_dictionary_std::tags::COLUMNS)?,
        ))
    };
    let mut checked = 0;
    for line in rows.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(full), Some(_), Some(_)) = (size(f[0]), size(f[1]), size(f[2])) else {
            continue;
        };
        assert_eq!(size(f[2]), Some(full), "mask {} has the full size", f[2]);
        assert_ne!(size(f[1]), Some(full), "crop {} is smaller", f[1]);
        checked += 1;
    }
    // Findings of dropped breasts and of broken full images are not checked.
    assert!(
        checked * 2 > swapped,
        "{checked} findings checked, {swapped} series swapped"
    );
}

/// The funnel `--explain` prints accounts for every raw record, including
/// finding rows that go with a breast a stricter rule drops: its "kept"
/// count equals the distinct records the real ingest puts in the lake.
#[test]
fn explain_funnel_counts_what_the_lake_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("vindr");
    synth("vindr-mammo", &tree, 40, 9);
    let lake = dir.path().join("lake");
    let args = [
        "ingest",
        "vindr-mammo",
        tree.to_str().unwrap(),
        "--metadata-only",
        "--require-both-views",
        "--drop-birads-0",
    ];
    let explain = mcq(&lake, &[&args[..], &["--explain"]].concat());
    assert!(explain.status.success(), "{}", stderr(&explain));
    let text = stdout(&explain);
    let kept: usize = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("kept "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no kept line in {text}"));
    assert!(mcq(&lake, &args).status.success());
    let in_lake = csv(
        &lake,
        "SELECT count(*) AS n FROM (SELECT DISTINCT source_file, source_row FROM \
         (SELECT source_file, source_row FROM metadata UNION ALL SELECT source_file, source_row FROM findings))",
    );
    assert_eq!(
        in_lake.lines().nth(1),
        Some(kept.to_string().as_str()),
        "{text}"
    );
    let dropped = csv(
        &lake,
        "SELECT count(*) AS n FROM exclusions WHERE level = 'record' AND reason = 'missing_view'",
    );
    assert_ne!(
        dropped.lines().nth(1),
        Some("0"),
        "the rule dropped something"
    );
}
