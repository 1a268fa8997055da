//! End-to-end tests of `mcq query`, the `mcq "<SQL>"` shortcut, output
//! formats and error messages, on lakes written by the library.

mod common;

use common::*;

#[test]
fn group_by_density_gives_exact_counts() {
    let (_dir, lake) = fixture_lake();
    let out = csv(
        &lake,
        "SELECT dataset, density, count(*) AS n FROM metadata GROUP BY 1, 2 ORDER BY 1, 2 NULLS LAST",
    );
    assert_eq!(
        out,
        "dataset,density,n\ncbis-ddsm,B,2\ncbis-ddsm,C,3\ncmmd,,4\n"
    );
}

#[test]
fn shortcut_runs_sql_directly() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(
        &lake,
        &["SELECT count(*) AS n FROM metadata", "--format", "csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n9\n");
}

/// `--lake NAME`, `$MCQ_LAKE` and the default `./mcq-lake` are relative
/// paths: queries work from the lake's parent folder.
#[test]
fn relative_lake_paths_work() {
    let (_dir, lake) = fixture_lake();
    let parent = lake.parent().unwrap();
    let name = lake.file_name().unwrap().to_str().unwrap();
    let sql = "SELECT count(*) AS n FROM metadata";
    let run = |args: &[&str], env: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mcq"));
        cmd.current_dir(parent).env_remove("MCQ_LAKE").args(args);
        if let Some(v) = env {
            cmd.env("MCQ_LAKE", v);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
    };
    let dotted = format!("./{name}");
    assert_eq!(
        run(&["--lake", name, "query", "--format", "csv", sql], None),
        "n\n9\n"
    );
    assert_eq!(
        run(&["--lake", &dotted, sql, "--format", "csv"], None),
        "n\n9\n"
    );
    assert_eq!(run(&[sql, "--format", "csv"], Some(name)), "n\n9\n");
    std::fs::rename(&lake, parent.join("mcq-lake")).unwrap();
    assert_eq!(run(&[sql, "--format", "csv"], None), "n\n9\n");
    std::fs::rename(parent.join("mcq-lake"), &lake).unwrap();
}

#[test]
fn join_images_to_metadata() {
    let (_dir, lake) = fixture_lake();
    let out = csv(
        &lake,
        "SELECT m.dataset, count(*) AS n, sum(CASE WHEN i.intensity_inverted THEN 1 ELSE 0 END) AS inverted, \
         max(i.bits_stored) AS bits FROM metadata m JOIN images i ON m.dataset = i.dataset AND m.image_id = i.image_id \
         GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        out,
        "dataset,n,inverted,bits\ncbis-ddsm,5,1,16\ncmmd,4,1,16\n"
    );
}

#[test]
fn exams_view_is_one_row_per_breast() {
    let (_dir, lake) = fixture_lake();
    let out = csv(
        &lake,
        "SELECT dataset, exam_id, images, has_cc, has_mlo, mass, calcification, diagnosis, density \
         FROM exams ORDER BY 1, 2",
    );
    assert_eq!(
        out,
        "dataset,exam_id,images,has_cc,has_mlo,mass,calcification,diagnosis,density\n\
         cbis-ddsm,P_00001_L,2,true,true,true,false,Malignant,B\n\
         cbis-ddsm,P_00002_R,2,true,true,false,true,Benign,C\n\
         cbis-ddsm,P_00003_L,1,true,false,false,false,Benign,C\n\
         cmmd,D1-0001_L,2,true,true,true,false,Benign,\n\
         cmmd,D2-0001_R,2,true,true,false,true,Malignant,\n"
    );
}

#[test]
fn csv_lists_are_json_and_nulls_empty() {
    let (_dir, lake) = fixture_lake();
    let out = csv(
        &lake,
        "SELECT image_id, mass_shape, birads, mass FROM metadata WHERE dataset = 'cmmd' AND image_id LIKE 'D1%' ORDER BY 1",
    );
    assert_eq!(
        out,
        "image_id,mass_shape,birads,mass\n\
         D1-0001_L_CC,\"[\"\"irregular\"\",\"\"oval\"\"]\",,true\n\
         D1-0001_L_MLO,\"[\"\"irregular\"\",\"\"oval\"\"]\",,true\n"
    );
}

#[test]
fn json_and_ndjson_keep_null_keys() {
    let (_dir, lake) = fixture_lake();
    let sql = "SELECT image_id, density FROM metadata WHERE image_id = 'D2-0001_R_CC'";
    let json = stdout(&mcq(&lake, &["query", "--format", "json", sql]));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"image_id": "D2-0001_R_CC", "density": null}])
    );
    let nd = stdout(&mcq(&lake, &["query", "--format", "ndjson", sql]));
    assert_eq!(nd.trim(), r#"{"image_id":"D2-0001_R_CC","density":null}"#);
    let empty = stdout(&mcq(
        &lake,
        &["query", "--format", "json", "SELECT 1 AS x WHERE false"],
    ));
    assert_eq!(empty.trim(), "[]");
}

#[test]
fn table_says_how_many_rows_it_did_not_show() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(
        &lake,
        &[
            "query",
            "--max-rows",
            "3",
            "SELECT image_id FROM metadata ORDER BY 1",
        ],
    );
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("9 rows; 6 more not shown"), "{out}");
    assert!(out.contains("D1-0001_L_CC"), "{out}");
    let tensor = stdout(&mcq(&lake, &["query", "SELECT tensor FROM images LIMIT 1"]));
    assert!(tensor.contains("<tensor 4x2>"), "{tensor}");
}

#[test]
fn output_files_are_written_by_extension_and_read_back() {
    let (dir, lake) = fixture_lake();
    let sql = "SELECT dataset, image_id, tensor FROM images ORDER BY image_id";
    for ext in ["csv", "json", "ndjson", "parquet"] {
        let path = dir.path().join(format!("out.{ext}"));
        let o = mcq(&lake, &["query", "-o", path.to_str().unwrap(), sql]);
        assert!(o.status.success(), "{ext}: {}", stderr(&o));
        assert!(stderr(&o).contains("wrote 9 rows"), "{}", stderr(&o));
        let bytes = std::fs::read(&path).unwrap();
        match ext {
            "csv" => {
                let text = String::from_utf8(bytes).unwrap();
                assert_eq!(text.lines().count(), 10);
                assert!(
                    text.starts_with("dataset,image_id,tensor\ncmmd,D1-0001_L_CC,\"[0,1000,"),
                    "{text}"
                );
            }
            "json" => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(v.as_array().unwrap().len(), 9);
                assert_eq!(v[0]["tensor"][1], 1000);
            }
            "ndjson" => assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 9),
            _ => {
                let reader =
                    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                        bytes::Bytes::from(bytes),
                    )
                    .unwrap();
                let field = reader.schema().field_with_name("tensor").unwrap().clone();
                assert_eq!(
                    field
                        .metadata()
                        .get("ARROW:extension:name")
                        .map(String::as_str),
                    Some("arrow.fixed_shape_tensor")
                );
                let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
                assert_eq!(rows, 9);
            }
        }
    }
}

#[test]
fn conflicting_format_and_extension_is_a_usage_error() {
    let (dir, lake) = fixture_lake();
    let path = dir.path().join("x.csv");
    let o = mcq(
        &lake,
        &[
            "query",
            "--format",
            "json",
            "-o",
            path.to_str().unwrap(),
            "SELECT 1",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--format json conflicts with the output file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn dml_and_ddl_on_the_lake_are_refused() {
    let (dir, lake) = fixture_lake();
    let cases = [
        ("INSERT INTO metadata (patient_id) VALUES ('x')", "INSERT"),
        ("DELETE FROM metadata", "DELETE"),
        ("UPDATE metadata SET age = 1", "UPDATE"),
        ("DROP TABLE metadata", "DROP of a lake table"),
        (
            "CREATE TABLE images AS SELECT 1",
            "CREATE TABLE over a lake table",
        ),
        ("TRUNCATE TABLE exclusions", "TRUNCATE"),
    ];
    for (sql, kind) in cases {
        let o = mcq(&lake, &["query", sql]);
        assert_eq!(o.status.code(), Some(1), "{sql}");
        assert_eq!(
            stderr(&o).trim(),
            format!(
                "mcq: {kind} is refused: the lake is read-only to SQL and written only by `mcq ingest`"
            ),
            "{sql}"
        );
    }
    let inside = lake
        .join("metadata")
        .join("dataset=cmmd")
        .join("evil.parquet");
    let o = mcq(
        &lake,
        &[
            "query",
            &format!("COPY (SELECT 1 AS x) TO '{}'", inside.display()),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("inside the lake folder"),
        "{}",
        stderr(&o)
    );
    assert!(!inside.exists());
    // The lake is unchanged.
    assert_eq!(csv(&lake, "SELECT count(*) AS n FROM metadata"), "n\n9\n");
    assert!(mcq(&lake, &["check"]).status.success());

    let outside = dir.path().join("copy.parquet");
    let o = mcq(
        &lake,
        &[
            "query",
            &format!(
                "COPY (SELECT dataset, image_id FROM metadata) TO '{}'",
                outside.display()
            ),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(outside.is_file());
}

#[test]
fn unknown_table_lists_the_tables() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(&lake, &["query", "SELECT * FROM metdata"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("metdata"), "{err}");
    assert!(
        err.contains("the lake's tables: exams, exclusions, findings, images, metadata"),
        "{err}"
    );
}

#[test]
fn syntax_error_has_position() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(&lake, &["query", "SELEC dataset FROM metadata"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("Line: 1, Column: 1"), "{err}");
}

#[test]
fn missing_lake_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("nowhere");
    let o = mcq(&lake, &["query", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "mcq: no lake at {}: run `mcq ingest <DATASET> <ROOT>` or `mcq demo`",
            lake.display()
        )
    );
}

#[test]
fn lake_from_environment_variable() {
    let (_dir, lake) = fixture_lake();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args([
            "query",
            "--format",
            "csv",
            "SELECT count(DISTINCT dataset) AS n FROM metadata",
        ])
        .env("MCQ_LAKE", &lake)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "n\n2\n");
}

#[test]
fn unknown_command_is_a_usage_error() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(&lake, &["igest"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown command `igest`"),
        "{}",
        stderr(&o)
    );
}
