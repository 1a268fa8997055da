//! `mcq shell` driven through its standard input (rustyline reads plain
//! lines when stdin is not a terminal).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn shell(lake: &std::path::Path, input: &str) -> (String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcq"))
        .arg("--lake")
        .arg(lake)
        .arg("shell")
        .env("MCQ_HISTORY", home.path().join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (stdout(&out), stderr(&out))
}

#[test]
fn multi_line_statements_and_backslash_commands() {
    let (_dir, lake) = fixture_lake();
    let (out, err) = shell(
        &lake,
        "\\d\n\\d metadata\nSELECT dataset,\n  count(*) AS n\nFROM metadata GROUP BY dataset ORDER BY dataset;\n\\d exams\nINSERT INTO metadata (patient_id) VALUES ('x');\n\\q\nSELECT 'not reached';\n",
    );
    // \d: tables with row counts and docs
    assert!(out.contains("metadata              9 rows"), "{out}");
    assert!(out.contains("exams              view"), "{out}");
    // \d metadata: columns with docs and vocabularies
    assert!(out.contains("density"), "{out}");
    assert!(out.contains("[A, B, C, D]"), "{out}");
    // the multi-line statement ran
    assert!(out.contains("│ cbis-ddsm ┆ 5 │"), "{out}");
    // a view's columns
    assert!(
        out.contains("exams (view)") && out.contains("has_mlo"),
        "{out}"
    );
    // refused DML does not end the shell, \q does
    assert!(err.contains("INSERT is refused"), "{err}");
    assert!(!out.contains("not reached"), "{out}");
}
