//! The lake's commit protocol, lock and `mcq check`, with real processes:
//! a writer killed mid-commit, a second writer, tampered files.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use mcq::lake::{LakeWriter, Table};

/// Not a test on its own: the child process of the crash tests. It writes a
/// third dataset into the lake named by MCQ_CRASH_LAKE and aborts at the
/// commit point named by MCQ_TEST_ABORT_AT.
#[test]
#[ignore = "runs only as the child process of the crash tests"]
fn crash_child() {
    let Ok(lake) = std::env::var("MCQ_CRASH_LAKE") else {
        return;
    };
    write_dataset(Path::new(&lake), "vindr-mammo", &cbis_rows());
    unreachable!("the writer should have aborted");
}

fn kill_writer_at(lake: &Path, point: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MCQ_CRASH_LAKE", lake)
        .env("MCQ_TEST_ABORT_AT", point)
        .output()
        .unwrap();
    assert!(
        !status.status.success(),
        "the child should have died at {point}"
    );
    assert!(
        stderr(&status).contains(&format!("aborting at commit point `{point}`")),
        "{}",
        stderr(&status)
    );
}

fn datasets(lake: &Path) -> String {
    csv(
        lake,
        "SELECT dataset, count(*) AS n FROM metadata GROUP BY 1 ORDER BY 1",
    )
}

#[test]
fn writer_killed_before_the_manifest_leaves_the_previous_lake() {
    let (_dir, lake) = fixture_lake();
    let before = datasets(&lake);
    kill_writer_at(&lake, "moved");
    // The new files are in the table folders, but the manifest is the old one.
    assert!(
        std::fs::read_dir(lake.join("metadata"))
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy() == "dataset=vindr-mammo" })
    );
    assert_eq!(datasets(&lake), before);
    let check = mcq(&lake, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(
        stdout(&check).contains("warning: an interrupted commit is pending"),
        "{}",
        stdout(&check)
    );
    // The next writer rolls it back; the lake is clean again.
    drop(LakeWriter::open(&lake, None).unwrap());
    let check = mcq(&lake, &["check"]);
    assert!(
        stdout(&check).contains("0 problems, 0 warnings"),
        "{}",
        stdout(&check)
    );
    assert!(
        !lake
            .join("metadata/dataset=vindr-mammo")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
    assert_eq!(datasets(&lake), before);
}

#[test]
fn writer_killed_before_writing_anything_visible() {
    let (_dir, lake) = fixture_lake();
    let before = datasets(&lake);
    kill_writer_at(&lake, "staged");
    assert_eq!(datasets(&lake), before);
    let check = mcq(&lake, &["check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    drop(LakeWriter::open(&lake, None).unwrap());
    assert!(!lake.join("_mcq/tmp").exists());
}

#[test]
fn writer_killed_after_the_manifest_is_completed_by_the_next_writer() {
    let (_dir, lake) = fixture_lake();
    kill_writer_at(&lake, "committed");
    let after = "dataset,n\ncbis-ddsm,5\ncmmd,4\nvindr-mammo,5\n";
    assert_eq!(datasets(&lake), after);
    assert!(mcq(&lake, &["check"]).status.success());
    drop(LakeWriter::open(&lake, None).unwrap());
    assert!(!lake.join("_mcq/journal.json").exists());
    assert_eq!(datasets(&lake), after);
    assert!(stdout(&mcq(&lake, &["check"])).contains("0 problems, 0 warnings"));
}

#[test]
fn second_writer_fails_at_once() {
    let (_dir, lake) = fixture_lake();
    let first = LakeWriter::open(&lake, None).unwrap();
    // Another process: the real binary ingesting the real CBIS-DDSM files.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/cbis-ddsm");
    let started = std::time::Instant::now();
    let o = mcq(
        &lake,
        &[
            "ingest",
            "cbis-ddsm",
            root.to_str().unwrap(),
            "--metadata-only",
        ],
    );
    let elapsed = started.elapsed();
    assert_eq!(o.status.code(), Some(1));
    let message = stderr(&o);
    assert!(
        message.contains("is being written by another mcq process"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    // Fails at once rather than waiting (generous bound: this is not a timing test).
    assert!(elapsed < std::time::Duration::from_secs(30));
    drop(first);
    let o = mcq(
        &lake,
        &[
            "ingest",
            "cbis-ddsm",
            root.to_str().unwrap(),
            "--metadata-only",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn reingest_replaces_the_dataset_partition() {
    let (_dir, lake) = fixture_lake();
    let old_files: Vec<_> = std::fs::read_dir(lake.join("metadata/dataset=cmmd"))
        .unwrap()
        .collect();
    assert_eq!(old_files.len(), 1);
    write_dataset(&lake, "cmmd", &cmmd_rows()[..2]);
    assert_eq!(datasets(&lake), "dataset,n\ncbis-ddsm,5\ncmmd,2\n");
    let files: Vec<_> = std::fs::read_dir(lake.join("metadata/dataset=cmmd"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1, "the replaced file is deleted");
    assert!(stdout(&mcq(&lake, &["check"])).contains("0 problems, 0 warnings"));
}

#[test]
fn check_names_a_modified_data_file() {
    let (_dir, lake) = fixture_lake();
    let dir = lake.join("images/dataset=cbis-ddsm");
    let file = first_file(&dir);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let o = mcq(&lake, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "damaged: images/dataset=cbis-ddsm/{name} has SHA-256"
        )),
        "{out}"
    );
    assert!(out.contains("(the file was modified)"), "{out}");
}

#[test]
fn check_and_queries_report_a_missing_file_and_extra_files() {
    let (_dir, lake) = fixture_lake();
    let dir = lake.join("findings/dataset=cmmd");
    let file = first_file(&dir);
    let name = file.file_name().unwrap().to_string_lossy().to_string();
    std::fs::rename(&file, lake.join("metadata/dataset=cmmd/stray.parquet")).unwrap();
    let o = mcq(&lake, &["check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "damaged: missing data file findings/dataset=cmmd/{name}"
        )),
        "{out}"
    );
    assert!(
        out.contains(
            "damaged: extra data file metadata/dataset=cmmd/stray.parquet is not in the manifest"
        ),
        "{out}"
    );
    let q = mcq(&lake, &["query", "SELECT 1"]);
    assert_eq!(q.status.code(), Some(1));
    assert!(stderr(&q).contains("is damaged"), "{}", stderr(&q));
    assert!(
        stderr(&q).contains(&format!("missing data file findings/dataset=cmmd/{name}")),
        "{}",
        stderr(&q)
    );
}

#[test]
fn another_tensor_size_is_refused() {
    let (_dir, lake) = fixture_lake();
    let err = LakeWriter::open(&lake, Some((8, 8)))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("holds 4x2 tensors; this ingest asked for 8x8"),
        "{err}"
    );
}

#[test]
fn writer_rejects_values_outside_a_closed_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = LakeWriter::open(dir.path(), Some(TENSOR)).unwrap();
    writer.replace_dataset(run_info("cmmd"));
    let mut row = cmmd_rows().remove(0);
    row.density = Some("DENSITY C".into());
    row.source_row = 41;
    let err = writer.write_rows("cmmd", &[row]).unwrap_err().to_string();
    assert_eq!(
        err,
        "metadata: column `density`: not one of A, B, C, D (value \"DENSITY C\", source row 41)"
    );
}

#[test]
fn metadata_is_readable_while_images_is_not_touched() {
    // Metadata queries never open the images table's files.
    let (_dir, lake) = fixture_lake();
    for f in std::fs::read_dir(lake.join("images/dataset=cmmd")).unwrap() {
        let path = f.unwrap().path();
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::write(&path, vec![0u8; len as usize]).unwrap();
    }
    assert_eq!(csv(&lake, "SELECT count(*) AS n FROM metadata"), "n\n9\n");
    let o = mcq(&lake, &["query", "SELECT count(tensor) FROM images"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn images_encoded_as_row_groups_on_other_threads_are_written_in_order() {
    // The pixel stage encodes row groups on its workers and writes them in
    // order, in the same part as rows written directly.
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let rows = cmmd_rows();
    let images = images_for(&rows);
    let mut writer = LakeWriter::open(&lake, Some(TENSOR)).unwrap();
    writer.replace_dataset(run_info("cmmd"));
    writer.write_rows("cmmd", &rows).unwrap();
    let mut part = writer.part_writer(Table::Images, "cmmd").unwrap();
    let encoder = part.group_encoder().unwrap();
    assert!(
        encoder.encodes_tensor(),
        "the tensor column should go through TensorChunk"
    );
    let (first, rest) = images.split_at(2);
    let (second, third) = rest.split_at(rest.len() / 2);
    let groups: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = [first, second]
            .map(|g| {
                let encoder = encoder.clone();
                s.spawn(move || encoder.encode(g).unwrap())
            })
            .into_iter()
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for group in groups {
        part.append_group(group).unwrap();
    }
    part.write_rows(third).unwrap();
    writer.finish_part(part).unwrap();
    writer.commit().unwrap();
    let o = mcq(&lake, &["check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected: String = images
        .iter()
        .map(|i| {
            let tensor: Vec<String> = i.tensor.iter().map(|v| v.to_string()).collect();
            format!("{},\"[{}]\"\n", i.image_id, tensor.join(","))
        })
        .collect();
    assert_eq!(
        csv(
            &lake,
            "SELECT image_id, tensor FROM images ORDER BY image_id"
        ),
        format!("image_id,tensor\n{expected}")
    );
}
