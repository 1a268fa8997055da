//! End-to-end tests of `mcq synth` (issue 3): run the real binary for each
//! dataset into a temporary folder and check the tree against datasets.md
//! (headers copied here as literals), every DICOM against dicom-rs, and the
//! ground truth against the pixels it describes.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;
use sha2::{Digest, Sha256};

const MASS_HEADER: &str = "patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path";
const CALC_HEADER: &str = "patient_id,breast density,left or right breast,image view,abnormality id,abnormality type,calc type,calc distribution,assessment,pathology,subtlety,image file path,cropped image file path,ROI mask file path";
const NBIA_HEADER: &str = "Series UID,Collection,3rd Party Analysis,Data Description URI,Subject ID,Study UID,Study Description,Study Date,Series Description,Manufacturer,Modality,SOP Class Name,SOP Class UID,Number of Images,File Size,File Location,Download Timestamp";
const VINDR_FINDING_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,finding_categories,finding_birads,xmin,ymin,xmax,ymax,split";

fn mcq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcq"))
        .args(args)
        .output()
        .expect("run mcq")
}

fn synth(dataset: &str, out: &Path, extra: &[&str]) -> PathBuf {
    let out_s = out.to_str().unwrap();
    let mut args = vec!["synth", dataset, out_s];
    args.extend_from_slice(extra);
    let o = mcq(&args);
    assert!(
        o.status.success(),
        "mcq synth {dataset} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut truth = out.as_os_str().to_owned();
    truth.push(".truth.csv");
    PathBuf::from(truth)
}

fn read_truth(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

/// Opens a DICOM file; files whose file meta holds non-numeric UIDs (VinDr's
/// MD5-hex UIDs, which dicom-rs 0.10 refuses with "Invalid UID in file meta
/// information group") get their meta group rebuilt before parsing — what the
/// ingest must do for real VinDr files too.
fn open_dicom(path: &Path) -> Result<dicom_object::DefaultDicomObject, String> {
    match dicom_object::open_file(path) {
        Ok(o) => Ok(o),
        Err(e) if chain(&e).contains("Invalid UID") => {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let meta = bytes.get(132..).ok_or("short file")?;
            let (ts, end) = parse_meta(meta).ok_or("bad meta group")?;
            let table = dicom_object::FileMetaTableBuilder::new()
                .transfer_syntax(ts)
                .media_storage_sop_class_uid("1.2.3.4")
                .media_storage_sop_instance_uid("1.2.3.4")
                .build()
                .map_err(|e| chain(&e))?;
            let mut buf = b"DICM".to_vec();
            table.write(&mut buf).map_err(|e| chain(&e))?;
            buf.extend_from_slice(&meta[end..]);
            dicom_object::from_reader(std::io::Cursor::new(buf)).map_err(|e| chain(&e))
        }
        Err(e) => Err(chain(&e)),
    }
}

/// Transfer syntax UID and length of an explicit VR LE group 0002.
fn parse_meta(m: &[u8]) -> Option<(String, usize)> {
    let mut pos = 0;
    let mut ts = None;
    while m.len() >= pos + 8 && m[pos..pos + 2] == [2, 0] {
        let elem = u16::from_le_bytes([m[pos + 2], m[pos + 3]]);
        let vr = &m[pos + 4..pos + 6];
        let (len, hdr) = if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT") {
            (
                u32::from_le_bytes(m.get(pos + 8..pos + 12)?.try_into().ok()?) as usize,
                12,
            )
        } else {
            (u16::from_le_bytes([m[pos + 6], m[pos + 7]]) as usize, 8)
        };
        let value = m.get(pos + hdr..pos + hdr + len)?;
        if elem == 0x10 {
            ts = Some(
                String::from_utf8_lossy(value)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
        pos += hdr + len;
    }
    Some((ts?, pos))
}

/// Stored pixel values, rows, columns, bits stored, photometric.
fn decode(path: &Path) -> Result<(Vec<u32>, u32, u32, u16, String), String> {
    let obj = open_dicom(path)?;
    let decoded = obj.decode_pixel_data().map_err(|e| e.to_string())?;
    let data = decoded.data();
    let px: Vec<u32> = if decoded.bits_allocated() == 8 {
        data.iter().map(|&v| v as u32).collect()
    } else {
        data.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32)
            .collect()
    };
    Ok((
        px,
        decoded.rows(),
        decoded.columns(),
        decoded.bits_stored(),
        decoded.photometric_interpretation().as_str().to_string(),
    ))
}

/// Stored polarity from pixels: the most common value band (the
/// background) lies in the upper half of the stored range.
fn background_is_bright(px: &[u32], bits: u16) -> bool {
    let max = (1u32 << bits) - 1;
    let mut hist = [0usize; 64];
    for &v in px {
        hist[(v as u64 * 64 / (max as u64 + 1)) as usize] += 1;
    }
    let mode = (0..64).max_by_key(|&i| hist[i]).unwrap();
    mode >= 32
}

/// Chest-wall side from pixels: the half with more tissue mass after undoing
/// the stored inversion.
fn chest_wall_side(px: &[u32], cols: u32, bits: u16, inverted: bool) -> &'static str {
    let max = (1u32 << bits) - 1;
    let w = cols as usize;
    let (mut left, mut right) = (0u64, 0u64);
    for row in px.chunks(w) {
        for (x, &v) in row.iter().enumerate() {
            let v = if inverted { max - v.min(max) } else { v } as u64;
            if x < w / 2 {
                left += v;
            } else if x >= w - w / 2 {
                right += v;
            }
        }
    }
    if left > right { "left" } else { "right" }
}

/// Checks every image row of the truth against the file it names.
fn check_images(out: &Path, truth: &[HashMap<String, String>]) -> usize {
    let mut checked = 0;
    for row in truth.iter().filter(|r| r["kind"] == "image") {
        let path = out.join(&row["path"]);
        match row["expected_image_status"].as_str() {
            "missing" => assert!(!path.exists(), "{} should be missing", path.display()),
            "error" => {
                assert!(path.exists());
                assert!(
                    decode(&path).is_err(),
                    "{} should not decode",
                    path.display()
                );
            }
            "ok" => {
                let (px, rows, cols, bits, photometric) =
                    decode(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let sum: u64 = px.iter().map(|&v| v as u64).sum();
                assert_eq!(sum.to_string(), row["pixel_sum"], "{}", path.display());
                assert_eq!(rows.to_string(), row["rows"], "{}", path.display());
                assert_eq!(cols.to_string(), row["columns"], "{}", path.display());
                assert_eq!(bits.to_string(), row["bits_stored"], "{}", path.display());
                assert_eq!(photometric, row["photometric"], "{}", path.display());
                if row["role"] == "full" {
                    let inverted = background_is_bright(&px, bits);
                    assert_eq!(
                        inverted.to_string(),
                        row["stored_inverted"],
                        "polarity of {}",
                        path.display()
                    );
                    assert_eq!(
                        chest_wall_side(&px, cols, bits, inverted),
                        row["chest_wall_side"],
                        "chest wall of {}",
                        path.display()
                    );
                }
                checked += 1;
            }
            other => panic!("unknown status {other}"),
        }
    }
    checked
}

/// SHA-256 over every file's relative path and bytes, plus the truth file.
fn tree_hash(out: &Path, truth: &Path) -> String {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, files);
            } else {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(out, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.strip_prefix(out).unwrap().to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).unwrap());
    }
    h.update(std::fs::read(truth).unwrap());
    hex::encode(h.finalize())
}

fn contains_dir_named(dir: &Path, pred: &dyn Fn(&str) -> bool) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let p = e.unwrap().path();
        p.is_dir()
            && (pred(&p.file_name().unwrap().to_string_lossy()) || contains_dir_named(&p, pred))
    })
}

/// The public loaders' rule: top folder, then the folders whose names end
/// with the last 5 characters of the CSV's study and series UIDs.
fn resolve_cbis(out: &Path, csv_path: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = csv_path.trim().split('/').collect();
    let top = out.join("CBIS-DDSM").join(parts[0]);
    let find = |dir: &Path, uid: &str| {
        std::fs::read_dir(dir).ok()?.find_map(|e| {
            let p = e.ok()?.path();
            p.file_name()?
                .to_string_lossy()
                .ends_with(&uid[uid.len() - 5..])
                .then_some(p)
        })
    };
    let study = find(&top, parts[1])?;
    let series = find(&study, parts[2])?;
    let file = if parts[3] == "000001.dcm" {
        "1-2.dcm"
    } else {
        "1-1.dcm"
    };
    Some(series.join(file))
}

#[test]
fn cbis_ddsm_csvs_tree_and_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cbis");
    let truth_path = synth("cbis-ddsm", &out, &["--patients", "20", "--seed", "7"]);
    assert!(
        !out.join("cbis.truth.csv").exists(),
        "truth must be beside the tree"
    );

    let truth = read_truth(&truth_path);
    let missing: Vec<PathBuf> = truth
        .iter()
        .filter(|r| r["expected_image_status"] == "missing")
        .map(|r| out.join(&r["path"]))
        .collect();
    let mut all_calc = String::new();
    for (file, header, mass) in [
        ("mass_case_description_train_set.csv", MASS_HEADER, true),
        ("mass_case_description_test_set.csv", MASS_HEADER, true),
        ("calc_case_description_train_set.csv", CALC_HEADER, false),
        ("calc_case_description_test_set.csv", CALC_HEADER, false),
    ] {
        let bytes = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(bytes.starts_with(&format!("{header}\r\n")), "{file} header");
        assert!(bytes.ends_with("\r\n"));
        let records: Vec<&str> = bytes.split("\r\n").filter(|l| !l.is_empty()).collect();
        for rec in &records[1..] {
            // exactly one bare LF, at the end of the quoted path field
            assert_eq!(rec.matches('\n').count(), 1, "{file}: {rec:?}");
            if mass {
                assert!(rec.ends_with(".dcm\n\""), "{file}: {rec:?}");
            } else {
                assert!(
                    rec.contains(".dcm\n\",") && rec.ends_with('m'),
                    "{file}: {rec:?}"
                );
            }
        }
        if !mass {
            all_calc.push_str(&bytes);
        }
        // every CSV full-image path resolves on disk by the last-5 rule
        let mut r = csv::ReaderBuilder::new().from_reader(bytes.as_bytes());
        for rec in r.records() {
            let rec = rec.unwrap();
            assert_eq!(rec.len(), 14);
            for col in [11, 12, 13] {
                let resolved = resolve_cbis(&out, &rec[col])
                    .unwrap_or_else(|| panic!("{file}: {} does not resolve", &rec[col]));
                assert!(
                    resolved.exists() || missing.contains(&resolved),
                    "{file}: {} resolves to nothing",
                    &rec[col]
                );
            }
        }
    }
    assert!(all_calc.contains(",LUCENT_CENTER,") || all_calc.contains("-LUCENT_CENTER"));
    assert!(all_calc.contains("LUCENT_CENTERED"));
    assert!(all_calc.contains("N/A"));
    assert!(
        all_calc.lines().any(|l| l.split(',').nth(1) == Some("0")),
        "density 0"
    );
    let nbia = std::fs::read_to_string(out.join("metadata.csv")).unwrap();
    assert!(nbia.starts_with(&format!("{NBIA_HEADER}\n")));
    let root = out.join("CBIS-DDSM");
    assert!(contains_dir_named(&root, &|n| n.contains("-DDSM-NA-")));
    assert!(contains_dir_named(&root, &|n| n.contains("-DDSM-") && !n.contains("-DDSM-NA-")));

    for row in truth.iter().filter(|r| r["kind"] == "record") {
        assert!(row["path"].starts_with("CBIS-DDSM/"));
    }
    for reason in [
        "keep",
        "missing_view",
        "birads_0",
        "inconsistent_birads",
        "inconsistent_pathology",
    ] {
        assert!(
            truth.iter().any(|r| r["expected_selection"] == reason),
            "no record with {reason}"
        );
    }
    for status in ["ok", "missing", "error"] {
        assert!(truth.iter().any(|r| r["expected_image_status"] == status));
    }
    assert!(truth.iter().any(|r| r["defects"].contains("mirrored")));
    assert!(
        truth
            .iter()
            .any(|r| r["transfer_syntax"] == "1.2.840.10008.1.2.5")
    );
    let checked = check_images(&out, &truth);
    assert!(checked > 40, "{checked}");

    // CBIS headers: view in PatientOrientation, Laterality only
    let full = truth
        .iter()
        .find(|r| r["role"] == "full" && r["expected_image_status"] == "ok")
        .unwrap();
    let obj = dicom_object::open_file(out.join(&full["path"])).unwrap();
    assert_eq!(
        obj.element(tags::PATIENT_ORIENTATION)
            .unwrap()
            .to_str()
            .unwrap(),
        full["view"]
    );
    assert_eq!(
        obj.element(tags::LATERALITY).unwrap().to_str().unwrap(),
        full["laterality"]
    );
    assert!(obj.element(tags::IMAGE_LATERALITY).is_err());
    assert!(obj.element(tags::VIEW_POSITION).is_err());
}

#[test]
fn cmmd_tree_workbook_and_truth() {
    use calamine::{Reader, Xlsx, open_workbook};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmmd");
    let truth_path = synth("cmmd", &out, &["--patients", "20"]);
    let meta = std::fs::read_to_string(out.join("metadata.csv")).unwrap();
    assert!(meta.starts_with(&format!("{NBIA_HEADER}\n")));
    assert!(!meta.contains('\r'));
    for line in meta.lines().skip(1) {
        assert!(line.contains(",.\\CMMD\\D"), "{line}");
    }
    let mut book: Xlsx<_> = open_workbook(out.join("CMMD_clinicaldata_revision.xlsx")).unwrap();
    assert_eq!(book.sheet_names(), vec!["Sheet1".to_string()]);
    let range = book.worksheet_range("Sheet1").unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        header,
        [
            "ID1",
            "LeftRight",
            "Age",
            "number",
            "abnormality",
            "classification",
            "subtype"
        ]
    );
    let truth = read_truth(&truth_path);
    assert_eq!(
        truth.iter().filter(|r| r["kind"] == "record").count(),
        range.height() - 1
    );
    assert!(truth.iter().any(|r| r["bits_stored"] == "16"));
    assert!(truth.iter().any(|r| r["laterality_flipped"] == "true"));
    let checked = check_images(&out, &truth);
    assert!(checked > 30, "{checked}");
    let img = truth
        .iter()
        .find(|r| r["kind"] == "image" && r["expected_image_status"] == "ok")
        .unwrap();
    let obj = dicom_object::open_file(out.join(&img["path"])).unwrap();
    assert_eq!(
        obj.element(tags::IMAGE_LATERALITY)
            .unwrap()
            .to_str()
            .unwrap(),
        img["laterality"]
    );
    assert!(obj.element(tags::LATERALITY).is_err());
    assert!(obj.element(tags::VIEW_POSITION).is_err());
    let seq = obj.element(tags::VIEW_CODE_SEQUENCE).unwrap();
    let item = &seq.items().unwrap()[0];
    let code = item.element(tags::CODE_VALUE).unwrap().to_str().unwrap();
    assert_eq!(
        code,
        if img["view"] == "CC" {
            "399162004"
        } else {
            "399368009"
        }
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut hashes = BTreeMap::new();
    for (name, seed) in [("a", "3"), ("b", "3"), ("c", "4")] {
        let out = tmp.path().join(name);
        let truth = synth(
            "cmmd",
            &out,
            &["--patients", "6", "--seed", seed, "--defect", "rle=0.5"],
        );
        hashes.insert(name, tree_hash(&out, &truth));
    }
    assert_eq!(hashes["a"], hashes["b"]);
    assert_ne!(hashes["a"], hashes["c"]);
}

#[test]
fn no_images_writes_only_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("meta");
    let truth = synth("cbis-ddsm", &out, &["--patients", "5", "--no-images"]);
    assert!(!out.join("CBIS-DDSM").exists());
    assert!(out.join("mass_case_description_train_set.csv").exists());
    assert!(
        read_truth(&truth)
            .iter()
            .filter(|r| r["kind"] == "image")
            .all(|r| r["expected_image_status"] == "missing")
    );
}

#[test]
fn bad_options_are_usage_errors_naming_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let out = out.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["synth", "cbis-ddsm", out, "--defect", "mirrored=2"],
            "mirrored=2",
        ),
        (
            vec!["synth", "cbis-ddsm", out, "--defect", "wobbly=0.1"],
            "wobbly",
        ),
        (
            vec!["synth", "cbis-ddsm", out, "--defect", "mirrored"],
            "mirrored",
        ),
        (vec!["synth", "inbreast", out], "inbreast"),
    ] {
        let o = mcq(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{err}");
    }
    let o = mcq(&["synth", "cmmd", out, "--patients", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn refuses_a_non_empty_out() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "x").unwrap();
    let o = mcq(&["synth", "cmmd", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
}

#[test]
fn vindr_mammo_tree_csvs_and_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("vindr");
    let truth_path = synth(
        "vindr-mammo",
        &out,
        &["--patients", "20", "--seed", "2", "--defect", "j2k=0.2"],
    );
    let truth = read_truth(&truth_path);
    let missing: Vec<&str> = truth
        .iter()
        .filter(|r| r["expected_image_status"] == "missing")
        .map(|r| r["path"].as_str())
        .collect();
    let findings = std::fs::read_to_string(out.join("finding_annotations.csv")).unwrap();
    assert!(findings.starts_with(&format!("{VINDR_FINDING_HEADER}\n")));
    assert!(!findings.contains('\r') && findings.ends_with('\n'));
    assert!(findings.contains(",['No Finding'],,,,,,"));
    let mut r = csv::Reader::from_reader(findings.as_bytes());
    let mut outside = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        assert_eq!(rec.len(), 16);
        for id in [&rec[0], &rec[1], &rec[2]] {
            assert!(
                id.len() == 32
                    && id
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
        }
        let rel = format!("images/{}/{}.dicom", &rec[0], &rec[2]);
        assert!(
            out.join(&rel).exists() || missing.contains(&rel.as_str()),
            "{rel}"
        );
        assert!(rec[9].starts_with("['") && rec[9].ends_with("']"));
        if !rec[11].is_empty() {
            let (x0, x1): (f64, f64) = (rec[11].parse().unwrap(), rec[13].parse().unwrap());
            let w: f64 = rec[6].parse().unwrap();
            if x0 < 0.0 || x1 > w {
                outside += 1;
            }
        }
    }
    assert!(outside >= 1, "no box partly outside the image");
    let breast = std::fs::read_to_string(out.join("breast-level_annotations.csv")).unwrap();
    assert!(breast.starts_with("study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split\n"));
    assert!(out.join("metadata.csv").exists());
    let images: Vec<_> = truth.iter().filter(|r| r["kind"] == "image").collect();
    assert_eq!(images.len(), breast.lines().count() - 1);
    for (photometric, inverted) in [
        ("MONOCHROME1", "true"),
        ("MONOCHROME2", "true"),
        ("MONOCHROME1", "false"),
        ("MONOCHROME2", "false"),
    ] {
        assert!(
            images
                .iter()
                .any(|r| r["photometric"] == photometric && r["stored_inverted"] == inverted),
            "no {photometric} with stored_inverted={inverted}"
        );
    }
    for ts in [
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.5",
        "1.2.840.10008.1.2.1",
    ] {
        assert!(images.iter().any(|r| r["transfer_syntax"] == ts), "no {ts}");
    }
    let checked = check_images(&out, &truth);
    assert!(checked > 50, "{checked}");
    // de-identified header: dummy meta, no SOP Class UID, UIDs are the hex ids
    let img = images
        .iter()
        .find(|r| r["expected_image_status"] == "ok")
        .unwrap();
    let raw = std::fs::read(out.join(&img["path"])).unwrap();
    assert!(
        raw.windows(9).any(|w| w == b"1.2.3.4\0\x02"),
        "dummy meta class"
    );
    let obj = open_dicom(&out.join(&img["path"])).unwrap();
    assert!(obj.element(tags::SOP_CLASS_UID).is_err());
    let sop = obj
        .element(tags::SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(img["path"].ends_with(&format!("/{sop}.dicom")));
}

#[test]
fn tompei_cmmd_workbook_annotations_and_truth() {
    use calamine::{Data, DataType, Reader, Xlsx, open_workbook};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tompei");
    let truth_path = synth("tompei-cmmd", &out, &["--patients", "20", "--seed", "9"]);
    let mut book: Xlsx<_> =
        open_workbook(out.join("TOMPEI-CMMD_clinical_data_v01_20250121.xlsx")).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            "README".to_string(),
            "Imaging Diagnosis Details Sheet".to_string(),
            "Lesion Details Sheet".to_string()
        ]
    );
    let imaging = book
        .worksheet_range("Imaging Diagnosis Details Sheet")
        .unwrap();
    let rows: Vec<&[Data]> = imaging.rows().collect();
    assert_eq!(rows[0].len(), 33);
    // first header cells blank (pandas: Unnamed: 0..3), names on row 2, data from row 3
    assert!(rows[0][..4].iter().all(|c| *c == Data::Empty));
    assert_eq!(rows[1][0].to_string(), "ID1");
    let classes: Vec<String> = rows[2..].iter().map(|r| r[3].to_string()).collect();
    for c in ["Exclusion", "Invisible", "Malignant", "Normal"] {
        assert!(classes.iter().any(|x| x == c), "no {c}");
    }
    for r in &rows[2..] {
        assert!(r[0].to_string().starts_with("D"));
        if r[3] == "Exclusion" {
            assert!(r[4] != Data::Empty, "exclusion without reason");
        }
    }
    let lesions = book.worksheet_range("Lesion Details Sheet").unwrap();
    let lrows: Vec<&[Data]> = lesions.rows().collect();
    let last = lrows.last().unwrap();
    assert!(last[0] == Data::Empty, "totals row has no ID");
    let ann = out.join("annotations/TOMPEI-CMMD_v01_20250123");
    let mut all_json = String::new();
    let mut total = 0.0;
    for r in &lrows[3..lrows.len() - 1] {
        let name = format!("{}_MLO_{}_AnnotationFile.json", r[0], r[1]);
        let json = std::fs::read_to_string(ann.join(&name)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let n = r[3].get_float().unwrap();
        assert_eq!(v.as_array().unwrap().len() as f64, n, "{name}");
        total += n;
        assert!(
            out.join("__MACOSX/annotations/TOMPEI-CMMD_v01_20250123")
                .join(format!("._{name}"))
                .exists()
        );
        all_json.push_str(&json);
    }
    assert_eq!(last[3].get_float(), Some(total));
    assert!(all_json.contains("\"label\":\"calc \""));
    let truth = read_truth(&truth_path);
    for reason in ["keep", "excluded_by_dataset", "invisible_lesion"] {
        assert!(
            truth
                .iter()
                .any(|r| r["kind"] == "record" && r["expected_selection"] == reason)
        );
    }
    assert!(
        truth
            .iter()
            .filter(|r| r["kind"] == "record")
            .all(|r| r["source_file"] == "TOMPEI-CMMD_clinical_data_v01_20250121.xlsx")
    );
    assert!(out.join("manifest-1616439774456/metadata.csv").exists());
    let checked = check_images(&out, &truth);
    assert!(checked > 30, "{checked}");
}
