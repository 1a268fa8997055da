//! Golden tests of every report in sql/ on the fixture lake, whose counts
//! are worked out by hand in the comments (see tests/common for the rows).

mod common;

use std::path::Path;

use common::*;

fn report(lake: &Path, name: &str) -> String {
    let o = mcq(lake, &["report", name, "--format", "csv"]);
    assert!(o.status.success(), "{name}: {}", stderr(&o));
    stdout(&o)
}

/// The fixture lake plus a third dataset with known densities: breasts of
/// density B, B and D, one image each.
fn lake_with_three_datasets() -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, lake) = fixture_lake();
    let rows = vec![
        meta("V1", "L", "CC", Some("B"), Some(1), None, false, false, 1),
        meta("V2", "L", "CC", Some("B"), Some(1), None, false, false, 2),
        meta("V3", "R", "CC", Some("D"), Some(2), None, false, false, 3),
    ];
    write_dataset(&lake, "vindr-mammo", &rows);
    (dir, lake)
}

#[test]
fn breast_level_distributions() {
    let (_dir, lake) = lake_with_three_datasets();
    // cbis-ddsm breasts: P_00001_L (B, 4, Malignant), P_00002_R (C, 2, Benign), P_00003_L (C, 3, Benign)
    assert_eq!(
        report(&lake, "density_by_dataset"),
        "dataset,density,breasts,percent\n\
         cbis-ddsm,B,1,33.3\ncbis-ddsm,C,2,66.7\n\
         vindr-mammo,B,2,66.7\nvindr-mammo,D,1,33.3\n"
    );
    assert_eq!(
        report(&lake, "diagnosis_by_dataset"),
        "dataset,diagnosis,breasts,percent\n\
         cbis-ddsm,Benign,2,66.7\ncbis-ddsm,Malignant,1,33.3\n\
         cmmd,Benign,1,50.0\ncmmd,Malignant,1,50.0\n\
         vindr-mammo,unknown,3,100.0\n"
    );
    assert_eq!(
        report(&lake, "birads_by_dataset"),
        "dataset,birads,breasts,percent\n\
         cbis-ddsm,2,1,33.3\ncbis-ddsm,3,1,33.3\ncbis-ddsm,4,1,33.3\n\
         cmmd,unknown,2,100.0\n\
         vindr-mammo,1,2,66.7\nvindr-mammo,2,1,33.3\n"
    );
    assert_eq!(
        report(&lake, "birads_by_diagnosis"),
        "dataset,birads,normal,benign,malignant,unknown,breasts\n\
         cbis-ddsm,2,0,1,0,0,1\ncbis-ddsm,3,0,1,0,0,1\ncbis-ddsm,4,0,0,1,0,1\n\
         cmmd,unknown,0,1,1,0,2\n\
         vindr-mammo,1,0,0,0,2,2\nvindr-mammo,2,0,0,0,1,1\n"
    );
    // ages: cbis breasts max(51,52)=52, max(53,54)=54, 55; cmmd 52, 54; vindr 51, 52, 53
    assert_eq!(
        report(&lake, "age_distribution"),
        "dataset,age_band,breasts,percent\n\
         cbis-ddsm,50-59,3,100.0\ncmmd,50-59,2,100.0\nvindr-mammo,50-59,3,100.0\n"
    );
}

#[test]
fn abnormality_summary_counts_each_breast_once_per_abnormality() {
    let (_dir, lake) = lake_with_three_datasets();
    // cbis: mass on P_00001_L (BI-RADS 4, Malignant); calcification on P_00002_R (2, Benign)
    // cmmd: mass on D1-0001_L (Benign); calcification on D2-0001_R (Malignant); no BI-RADS
    assert_eq!(
        report(&lake, "abnormality_summary"),
        "dataset,abnormality,birads_0,birads_1,birads_2,birads_3,birads_4,birads_5,birads_6,birads_unknown,normal,benign,malignant,diagnosis_unknown,breasts\n\
         cbis-ddsm,mass,0,0,0,0,1,0,0,0,0,0,1,0,1\n\
         cbis-ddsm,calcification,0,0,1,0,0,0,0,0,0,1,0,0,1\n\
         cbis-ddsm,all breasts,0,0,1,1,1,0,0,0,0,2,1,0,3\n\
         cmmd,mass,0,0,0,0,0,0,0,1,0,1,0,0,1\n\
         cmmd,calcification,0,0,0,0,0,0,0,1,0,0,1,0,1\n\
         cmmd,all breasts,0,0,0,0,0,0,0,2,0,1,1,0,2\n\
         vindr-mammo,all breasts,0,2,1,0,0,0,0,0,0,0,0,3,3\n"
    );
    // No breast is BI-RADS 4-5 and benign, or 1-2 and malignant.
    assert_eq!(
        report(&lake, "birads_biopsy_discordance"),
        "dataset,suspicious_but_benign,negative_but_malignant,breasts_with_both,suspicious_but_benign_percent,negative_but_malignant_percent\n\
         cbis-ddsm,0,0,3,0.0,0.0\n"
    );
}

#[test]
fn qc_funnel_leakage_and_shared_images() {
    let (_dir, lake) = lake_with_three_datasets();
    // images_for: image 0 inverted + MONOCHROME1, image 1 flipped, bits 16/8 alternating,
    // one resolution per image
    assert_eq!(
        report(&lake, "qc_rates"),
        "dataset,images,decoded,laterality_flipped_percent,intensity_inverted_percent,monochrome1_percent,min_bits,max_bits,resolutions\n\
         cbis-ddsm,5,5,20.0,20.0,20.0,8,16,5\n\
         cmmd,4,4,25.0,25.0,25.0,8,16,4\n\
         vindr-mammo,3,3,33.3,33.3,33.3,8,16,3\n"
    );
    // kept = distinct (source_file, source_row) over metadata and findings; one birads_0 exclusion each
    assert_eq!(
        report(&lake, "selection_funnel"),
        "dataset,reason,records\n\
         cbis-ddsm,kept,5\ncbis-ddsm,birads_0,1\n\
         cmmd,kept,4\ncmmd,birads_0,1\n\
         vindr-mammo,kept,3\nvindr-mammo,birads_0,1\n"
    );
    assert_eq!(
        report(&lake, "split_leakage"),
        "dataset,patients,in_both_source_splits,in_both_splits\n\
         cbis-ddsm,3,0,0\ncmmd,2,0,0\nvindr-mammo,3,0,0\n"
    );
    // pixel hashes are the image's index: 0..4 in cbis, 0..3 in cmmd, 0..2 in vindr
    assert_eq!(
        report(&lake, "shared_images"),
        "dataset_a,dataset_b,shared_images\n\
         cbis-ddsm,cmmd,4\ncbis-ddsm,vindr-mammo,3\ncmmd,vindr-mammo,3\n"
    );
}

#[test]
fn density_shift_statistic_and_p_value() {
    let (_dir, lake) = lake_with_three_datasets();
    // cbis B1 C2 D0 vs vindr B2 C0 D1: expected 1.5/1/0.5 per row, chi2 = 10/3,
    // df = 2, V = sqrt(chi2 / 6), p = exp(-chi2 / 2) for df = 2.
    let out = report(&lake, "density_shift");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("dataset_a,dataset_b,breasts,chi_square,df,cramers_v,p_value")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &row[..6],
        ["cbis-ddsm", "vindr-mammo", "6", "3.333", "2", "0.7454"]
    );
    let p: f64 = row[6].parse().unwrap();
    assert!((p - (-10.0f64 / 6.0).exp()).abs() < 1e-3, "{p}");
    assert_eq!(lines.next(), None);
}

#[test]
fn report_list_and_unknown_report() {
    let (_dir, lake) = fixture_lake();
    let o = mcq(&lake, &["report", "--list"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o).lines().count(), 12);
    let o = mcq(&lake, &["report", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no report `nope`; reports: density_by_dataset"),
        "{}",
        stderr(&o)
    );
}
