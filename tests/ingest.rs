//! `mcq ingest` end to end on the real public metadata files in
//! ../shared/data (CBIS-DDSM CSVs, CMMD workbook): every raw record ends in
//! the lake or in `exclusions`, exactly once.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::Reader;
use common::*;

fn shared(dataset: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(dataset)
}

/// Data rows per file, counted here with the csv and calamine crates directly
/// (not with mcq's readers).
fn raw_counts(dataset: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for entry in std::fs::read_dir(shared(dataset)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".csv") && name.contains("case_description") {
            let n = csv::Reader::from_path(&path).unwrap().records().count();
            counts.insert(name, n);
        } else if name.ends_with(".xlsx") {
            let mut wb = calamine::open_workbook_auto(&path).unwrap();
            let sheet = wb.sheet_names()[0].clone();
            let range = wb.worksheet_range(&sheet).unwrap();
            let n = range
                .rows()
                .skip(1)
                .filter(|r| r.iter().any(|c| !c.to_string().trim().is_empty()))
                .count();
            counts.insert(name, n);
        }
    }
    counts
}

fn ingest(lake: &Path, dataset: &str, extra: &[&str]) -> std::process::Output {
    let root = shared(dataset);
    let mut args = vec!["ingest", dataset, root.to_str().unwrap(), "--metadata-only"];
    args.extend_from_slice(extra);
    mcq(lake, &args)
}

fn per_file(lake: &Path, sql: &str) -> BTreeMap<String, usize> {
    csv(lake, sql)
        .lines()
        .skip(1)
        .map(|l| {
            let (f, n) = l.rsplit_once(',').unwrap();
            (f.to_string(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_real_record_is_accounted_for_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    for dataset in ["cbis-ddsm", "cmmd"] {
        let o = ingest(&lake, dataset, &[]);
        assert!(o.status.success(), "{dataset}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    let in_lake = per_file(
        &lake,
        "SELECT source_file, count(*) FROM (SELECT source_file, source_row FROM metadata \
         UNION SELECT source_file, source_row FROM findings) GROUP BY 1 ORDER BY 1",
    );
    let excluded = per_file(
        &lake,
        "SELECT source_file, count(DISTINCT source_row) FROM exclusions WHERE level = 'record' GROUP BY 1 ORDER BY 1",
    );
    let excluded_rows = per_file(
        &lake,
        "SELECT source_file, count(*) FROM exclusions WHERE level = 'record' GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(excluded, excluded_rows, "a record excluded twice");
    let both = csv(
        &lake,
        "SELECT count(*) AS n FROM (SELECT source_file, source_row FROM metadata \
         UNION SELECT source_file, source_row FROM findings) l \
         JOIN (SELECT source_file, source_row FROM exclusions WHERE level = 'record') e \
         ON l.source_file = e.source_file AND l.source_row = e.source_row",
    );
    assert_eq!(both, "n\n0\n", "a record both in the lake and excluded");
    let mut expected = raw_counts("cbis-ddsm");
    expected.extend(raw_counts("cmmd"));
    assert_eq!(expected.len(), 5);
    for (file, raw) in &expected {
        let got =
            in_lake.get(file).copied().unwrap_or(0) + excluded.get(file).copied().unwrap_or(0);
        assert_eq!(
            got,
            *raw,
            "{file}: lake {:?} + excluded {:?}",
            in_lake.get(file),
            excluded.get(file)
        );
    }
    assert!(mcq(&lake, &["check"]).status.success());
}

#[test]
fn real_cbis_ddsm_selection_counts() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = ingest(&lake, "cbis-ddsm", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("kept 2726 of 3568 records"), "{out}");
    assert!(
        out.contains("values set to null (invalid_value exclusions): density 2, subtlety 2"),
        "{out}"
    );
    // One image listed under both a Mass and a Calc folder is one metadata row.
    assert_eq!(
        csv(
            &lake,
            "SELECT count(*) AS n, count(DISTINCT image_id) AS d FROM metadata"
        ),
        "n,d\n2290,2290\n"
    );
    // BENIGN_WITHOUT_CALLBACK counts as Benign; density 0 is null.
    assert_eq!(
        csv(
            &lake,
            "SELECT diagnosis, count(*) AS n FROM metadata GROUP BY 1 ORDER BY 1"
        ),
        "diagnosis,n\nBenign,1264\nMalignant,1026\n"
    );
    assert_eq!(
        csv(
            &lake,
            "SELECT image_id, density FROM metadata WHERE patient_id = 'P_01743' ORDER BY 1"
        ),
        "image_id,density\nP_01743_RIGHT_CC,\nP_01743_RIGHT_MLO,\n"
    );
    assert_eq!(
        csv(
            &lake,
            "SELECT \"column\", raw_value, count(*) AS n FROM exclusions WHERE level = 'value' GROUP BY 1, 2 ORDER BY 1"
        ),
        "column,raw_value,n\ndensity,0,2\nsubtlety,0,2\n"
    );
}

#[test]
fn explain_prints_the_funnel_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = ingest(&lake, "cbis-ddsm", &["--explain", "--drop-birads-0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("across subsets:"), "{out}");
    assert!(out.contains("birads_0"), "{out}");
    assert!(
        out.contains("dry run (--explain): nothing written"),
        "{out}"
    );
    assert!(!lake.exists());
}

#[test]
fn split_seed_gives_a_patient_disjoint_deterministic_split() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = ingest(
        &lake,
        "cbis-ddsm",
        &["--split-seed", "7", "--test-fraction", "0.25"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(
        "11 patients in both train and test by the dataset's own split (source_split); 0 by split"
    ));
    let first = csv(
        &lake,
        "SELECT split, count(DISTINCT patient_id) AS p FROM metadata GROUP BY 1 ORDER BY 1",
    );
    let again = ingest(
        &lake,
        "cbis-ddsm",
        &["--split-seed", "7", "--test-fraction", "0.25"],
    );
    assert!(again.status.success());
    assert_eq!(
        csv(
            &lake,
            "SELECT split, count(DISTINCT patient_id) AS p FROM metadata GROUP BY 1 ORDER BY 1"
        ),
        first
    );
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), 3, "{first}");
}

#[test]
fn usage_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let o = mcq(
        &lake,
        &["ingest", "ddsm-x", "/nonexistent", "--metadata-only"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "unknown dataset `ddsm-x`; mcq can ingest: cbis-ddsm, cmmd, vindr-mammo, tompei-cmmd"
        ),
        "{}",
        stderr(&o)
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = mcq(
        &lake,
        &[
            "ingest",
            "cbis-ddsm",
            empty.to_str().unwrap(),
            "--metadata-only",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no CBIS-DDSM case-description CSVs under"),
        "{}",
        stderr(&o)
    );
    let o = mcq(
        &lake,
        &[
            "ingest",
            "cbis-ddsm",
            empty.to_str().unwrap(),
            "--metadata-only",
            "--size",
            "12",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}
