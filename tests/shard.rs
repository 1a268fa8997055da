//! Scale-out through the real binary: `mcq ingest --shard K/N` in 3 shards
//! plus `mcq lake merge` give a lake identical in content to one ingest
//! (every table, every column, tensors included), and merge refuses shard
//! sets that do not add up to one ingest.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use mcq::lake::{LakeWriter, Manifest, Shard};

fn synth(dataset: &str, out: &Path, patients: usize, extra: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(["synth", dataset])
        .arg(out)
        .args(["--patients", &patients.to_string(), "--seed", "5"])
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "synth {dataset}: {}", stderr(&o));
}

fn ingest(lake: &Path, dataset: &str, root: &Path, extra: &[&str]) {
    let mut args = vec!["ingest", dataset, root.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = mcq(lake, &args);
    assert!(o.status.success(), "ingest {args:?}: {}", stderr(&o));
}

/// Ingests `dataset` as 3 shard lakes; returns their folders.
fn ingest_shards(dir: &Path, dataset: &str, root: &Path, extra: &[&str]) -> Vec<PathBuf> {
    (1..=3)
        .map(|k| {
            let lake = dir.join(format!("{dataset}-shard{k}"));
            let shard = format!("{k}/3");
            let mut args = extra.to_vec();
            args.extend_from_slice(&["--shard", &shard]);
            ingest(&lake, dataset, root, &args);
            lake
        })
        .collect()
}

/// A synthetic CMMD (no images) of `patients` and its 3 metadata-only shard lakes.
fn metadata_only_cmmd_shards(patients: usize) -> (tempfile::TempDir, PathBuf, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("cmmd");
    synth("cmmd", &raw, patients, &["--no-images"]);
    let shards = ingest_shards(dir.path(), "cmmd", &raw, &["--metadata-only"]);
    (dir, raw, shards)
}

fn merge(out: &Path, shards: &[&Path]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcq"));
    command.args(["lake", "merge"]).arg(out).args(shards);
    command.env_remove("MCQ_LAKE").output().unwrap()
}

/// A table's rows of one dataset as CSV lines (every column), sorted.
fn rows(lake: &Path, table: &str, dataset: &str) -> Vec<String> {
    let text = csv(
        lake,
        &format!("SELECT * FROM {table} WHERE dataset = '{dataset}'"),
    );
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

fn manifest(lake: &Path) -> Manifest {
    Manifest::read(&lake.join("_mcq/manifest.json")).unwrap()
}

/// The merged lake holds exactly the single ingest's rows of `dataset`.
fn assert_same_content(single: &Path, merged: &Path, dataset: &str, shards: &[PathBuf]) {
    for table in ["metadata", "images", "findings", "exclusions"] {
        let want = rows(single, table, dataset);
        let got = rows(merged, table, dataset);
        assert_eq!(
            got.len(),
            want.len(),
            "{dataset} {table}: row counts differ"
        );
        assert!(got == want, "{dataset} {table}: contents differ");
    }
    for shard in shards {
        let n = manifest(shard).row_count(mcq::lake::Table::Metadata);
        assert!(
            n > 0,
            "{} is empty: the test would prove little",
            shard.display()
        );
    }
    let check = mcq(merged, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    let m = manifest(merged);
    let run = m.runs.iter().find(|r| r.dataset == dataset).unwrap();
    assert_eq!((run.merged_shards, run.shard), (Some(3), None));
    let single_run = manifest(single)
        .runs
        .into_iter()
        .find(|r| r.dataset == dataset)
        .unwrap();
    assert_eq!(run.input_fingerprint, single_run.input_fingerprint);
    assert_eq!(run.options, single_run.options);
}

#[test]
fn three_shards_with_images_merge_into_the_single_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("cmmd");
    synth("cmmd", &raw, 9, &[]);
    let options = ["--size", "64x32", "--jobs", "2"];
    let single = dir.path().join("single");
    ingest(&single, "cmmd", &raw, &options);
    let shards = ingest_shards(dir.path(), "cmmd", &raw, &options);
    let merged = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let o = merge(&merged, &refs);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("cmmd: merged 3 shards"),
        "{}",
        stdout(&o)
    );
    assert_same_content(&single, &merged, "cmmd", &shards);
    // The pixel work was divided: each shard decoded only its own images.
    let images = |lake: &Path| manifest(lake).row_count(mcq::lake::Table::Images);
    let per_shard: Vec<u64> = shards.iter().map(|s| images(s)).collect();
    assert!(images(&single) > 0);
    assert!(
        per_shard.iter().all(|&n| n > 0 && n < images(&single)),
        "{per_shard:?}"
    );
    assert_eq!(per_shard.iter().sum::<u64>(), images(&single));
}

#[test]
fn empty_shards_still_make_shard_lakes_that_merge() {
    let (dir, raw, shards) = metadata_only_cmmd_shards(1);
    let sizes: Vec<u64> = shards
        .iter()
        .map(|s| manifest(s).row_count(mcq::lake::Table::Metadata))
        .collect();
    assert_eq!(sizes.iter().filter(|&&n| n == 0).count(), 2, "{sizes:?}");
    let merged = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let o = merge(&merged, &refs);
    assert!(o.status.success(), "{}", stderr(&o));
    let single = dir.path().join("single");
    ingest(&single, "cmmd", &raw, &["--metadata-only"]);
    assert_eq!(
        rows(&merged, "metadata", "cmmd"),
        rows(&single, "metadata", "cmmd")
    );
    assert!(mcq(&merged, &["check"]).status.success());
}

#[test]
fn three_metadata_only_shards_merge_into_an_existing_lake() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("cbis");
    synth("cbis-ddsm", &raw, 30, &["--no-images"]);
    let other = dir.path().join("cmmd");
    synth("cmmd", &other, 5, &["--no-images"]);
    let options = [
        "--metadata-only",
        "--split-seed",
        "7",
        "--test-fraction",
        "0.3",
    ];
    let single = dir.path().join("single");
    ingest(&single, "cbis-ddsm", &raw, &options);
    let shards = ingest_shards(dir.path(), "cbis-ddsm", &raw, &options);
    // The output already holds another dataset, which the merge keeps.
    let merged = dir.path().join("merged");
    ingest(&merged, "cmmd", &other, &["--metadata-only"]);
    let cmmd_before = rows(&merged, "metadata", "cmmd");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let o = merge(&merged, &refs);
    assert!(o.status.success(), "{}", stderr(&o));
    for table in ["findings", "exclusions"] {
        assert!(rows(&single, table, "cbis-ddsm").len() > 1, "{table}");
    }
    assert_same_content(&single, &merged, "cbis-ddsm", &shards);
    assert_eq!(rows(&merged, "metadata", "cmmd"), cmmd_before);
    assert!(cmmd_before.len() > 1);
}

#[test]
fn merge_refuses_shards_that_do_not_add_up() {
    let (dir, raw, shards) = metadata_only_cmmd_shards(9);
    let [s1, s2, s3] = [&shards[0], &shards[1], &shards[2]].map(PathBuf::as_path);
    let out = dir.path().join("out");
    let refused = |given: &[&Path], message: &str| {
        let o = merge(&out, given);
        assert_eq!(o.status.code(), Some(1), "{given:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(message),
            "{given:?}: expected {message:?} in {}",
            stderr(&o)
        );
        assert!(!out.join("_mcq/manifest.json").exists(), "{given:?}");
    };
    refused(&[s1, s3], "missing shards of cmmd: 2/3");
    refused(&[s1], "missing shards of cmmd: 2/3, 3/3");
    refused(&[s1, s2, s2, s3], "shard 2/3 of cmmd is given twice");

    let half = dir.path().join("half");
    ingest(&half, "cmmd", &raw, &["--metadata-only", "--shard", "1/2"]);
    refused(&[&half, s2, s3], "inconsistent shards of cmmd");

    let seeded = dir.path().join("seeded");
    ingest(
        &seeded,
        "cmmd",
        &raw,
        &["--metadata-only", "--shard", "2/3", "--split-seed", "1"],
    );
    refused(&[s1, &seeded, s3], "has options");

    let single = dir.path().join("single");
    ingest(&single, "cmmd", &raw, &["--metadata-only"]);
    refused(&[&single], "is not a shard lake");
    refused(&[s1, s2, s3, &single], "is not a shard lake");

    // A shard file changed after its commit (same size, other bytes).
    let tampered = dir.path().join("tampered");
    copy_dir(s3, &tampered);
    let entry = &manifest(&tampered).tables["metadata"][0];
    let file = tampered.join(&entry.path);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    refused(
        &[s1, s2, &tampered],
        "does not match its manifest (SHA-256)",
    );

    // A usage error: K outside 1..=N.
    for bad in ["0/3", "4/3", "x"] {
        let o = mcq(
            &dir.path().join("never"),
            &["ingest", "cmmd", raw.to_str().unwrap(), "--shard", bad],
        );
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
        assert!(stderr(&o).contains("K/N"), "{bad}: {}", stderr(&o));
    }
    assert!(!dir.path().join("never").exists());

    // The complete set merges.
    let o = merge(&out, &[s3, s1, s2]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// A shard lake written through the library, claiming `shard`.
fn shard_lake(path: &Path, shard: Shard, rows: &[mcq::record::MetadataRow]) {
    let mut writer = LakeWriter::open(path, Some(TENSOR)).unwrap();
    let mut write = run_info("cbis-ddsm");
    write.run.shard = Some(shard);
    writer.replace_dataset(write);
    writer.write_rows("cbis-ddsm", rows).unwrap();
    writer.write_rows("cbis-ddsm", &images_for(rows)).unwrap();
    writer.commit().unwrap();
}

#[test]
fn merge_refuses_shards_that_share_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let all = cbis_rows();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // Shard 2 repeats the last image of shard 1.
    shard_lake(&a, Shard::new(1, 2).unwrap(), &all[..3]);
    shard_lake(&b, Shard::new(2, 2).unwrap(), &all[2..]);
    let out = dir.path().join("out");
    let o = merge(&out, &[&a, &b]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "overlapping shards of cbis-ddsm: image_id {}",
            all[2].image_id
        )),
        "{}",
        stderr(&o)
    );
    // Disjoint shards of the same rows merge, tensors and all.
    let c = dir.path().join("c");
    shard_lake(&c, Shard::new(2, 2).unwrap(), &all[3..]);
    let o = merge(&out, &[&a, &c]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tensors = csv(
        &out,
        "SELECT image_id, tensor FROM images ORDER BY image_id",
    );
    assert_eq!(tensors.lines().count(), all.len() + 1);
    let check = mcq(&out, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
}

/// VinDr-Mammo's metadata-only ingest streams study by study; the shard is
/// taken chunk by chunk and still adds up to the single ingest.
#[test]
fn streamed_vindr_shards_merge_into_the_single_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("vindr");
    synth("vindr-mammo", &raw, 12, &["--no-images"]);
    let single = dir.path().join("single");
    ingest(&single, "vindr-mammo", &raw, &["--metadata-only"]);
    let shards = ingest_shards(dir.path(), "vindr-mammo", &raw, &["--metadata-only"]);
    let merged = dir.path().join("merged");
    let refs: Vec<&Path> = shards.iter().map(PathBuf::as_path).collect();
    let o = merge(&merged, &refs);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_same_content(&single, &merged, "vindr-mammo", &shards);
}
