//! VinDr-Mammo (PhysioNet, DOI 10.13026/br2v-7517): `breast-level_annotations.csv`
//! has one row per image (breast-level BI-RADS and density, the split);
//! `finding_annotations.csv` one row per finding box, plus one `No Finding`
//! row per image without any; `metadata.csv` the DICOM attributes per image.
//! Images are `images/<study_id>/<image_id>.dicom`. VinDr publishes no
//! patient key: the study stands in (one study per patient). All cases are
//! retained and the dataset's own, patient-disjoint split is kept.
//!
//! Accounting: breast-level rows become `metadata`; finding rows become
//! `findings` (one per category of a box); a `No Finding` row repeats what
//! the image's breast-level row says, so it is a `duplicate` record exclusion
//! that names that row.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::dataset::selection::Rule;
use crate::dataset::source::{CsvRows, RawRow, find_files};
use crate::dataset::vocab::{self, FindingCategory, Flag, Mapped};
use crate::dataset::{
    Adapter, AdapterOptions, Harmonized, Policy, RecordAt, RowSink, id_key as key,
};
use crate::error::{Error, Result};
use crate::lake::DatasetInfo;
use crate::record::{ExclusionRow, FindingRow, MetadataRow};

/// The VinDr-Mammo adapter.
pub struct VindrMammo;

const BREAST_LEVEL: &str = "breast-level_annotations.csv";
const FINDINGS: &str = "finding_annotations.csv";
const METADATA: &str = "metadata.csv";

/// What the finding rows say about one image.
#[derive(Default)]
struct ImageFindings {
    flags: BTreeSet<&'static str>,
    asymmetry_kinds: BTreeSet<&'static str>,
    other: BTreeSet<&'static str>,
}

impl Adapter for VindrMammo {
    fn name(&self) -> &'static str {
        "vindr-mammo"
    }

    fn info(&self) -> DatasetInfo {
        DatasetInfo {
            source_doi: Some("10.13026/br2v-7517".into()),
            license: Some("PhysioNet Credentialed Health Data License 1.5.0".into()),
            version: Some("1.0.0".into()),
            synthetic: false,
        }
    }

    fn default_policy(&self) -> Policy {
        Policy::new(&[Rule::InvalidRecord, Rule::Duplicate])
    }

    fn harmonize(&self, root: &Path, options: &AdapterOptions) -> Result<Harmonized> {
        let mut all = Harmonized::default();
        let mut rest = self.harmonize_stream(root, options, &mut all)?;
        rest.metadata = all.metadata;
        rest.findings = all.findings;
        rest.exclusions = all.exclusions;
        Ok(rest)
    }

    /// Streams study by study: the three files list studies in the same
    /// order (as published), so each is read once, side by side, and memory
    /// stays flat. Files in another order are still read correctly (rows of
    /// studies not yet reached wait in memory); a study split across a file
    /// starts the dataset over with whole files.
    fn harmonize_stream(
        &self,
        root: &Path,
        options: &AdapterOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Harmonized> {
        if let Some(done) = stream(root, options, true, sink)? {
            return Ok(done);
        }
        sink.restart()?;
        let mut done = stream(root, options, false, sink)?
            .ok_or_else(|| Error::Other("internal: whole-file read of VinDr-Mammo".into()))?;
        done.warnings.push(format!(
            "a study's rows are not together in {BREAST_LEVEL}, {FINDINGS} or {METADATA}: \
             read the whole files instead (memory grows with the dataset)"
        ));
        Ok(done)
    }
}

/// A file read alongside `breast-level_annotations.csv`, study by study.
struct Side {
    rows: CsvRows,
    study: usize,
    /// Rows read ahead, by study.
    pending: HashMap<String, Vec<RawRow>>,
    last_study: String,
    taken: HashSet<u64>,
    /// A study came back after it was handed over: streaming is not exact.
    unordered: bool,
    total: usize,
}

impl Side {
    fn open(root: &Path, path: &Path, study: &[&str]) -> Result<Side> {
        let rows = CsvRows::open(root, path)?;
        let study = rows.column(study)?;
        Ok(Side {
            rows,
            study,
            pending: HashMap::new(),
            last_study: String::new(),
            taken: HashSet::new(),
            unordered: false,
            total: 0,
        })
    }

    fn next(&mut self) -> Result<Option<RawRow>> {
        let row = self.rows.next_row()?;
        self.total += row.is_some() as usize;
        Ok(row)
    }

    /// Every row of `study`: reads on until its block has ended.
    fn take(&mut self, study: &str) -> Result<Vec<RawRow>> {
        if !self.taken.insert(key(study)) {
            self.unordered = true;
        }
        while !self.pending.contains_key(study) || self.last_study == study {
            let Some(row) = self.next()? else { break };
            let of = row.get(self.study);
            if of != study && self.taken.contains(&key(of)) {
                self.unordered = true;
            }
            if of != self.last_study {
                self.last_study = of.to_string();
            }
            self.pending
                .entry(self.last_study.clone())
                .or_default()
                .push(row);
        }
        Ok(self.pending.remove(study).unwrap_or_default())
    }

    /// Every row not handed over yet, in file order.
    fn rest(&mut self) -> Result<Vec<RawRow>> {
        let mut rows: Vec<RawRow> = self.pending.drain().flat_map(|(_, v)| v).collect();
        rows.sort_by_key(|r| r.number);
        while let Some(row) = self.next()? {
            rows.push(row);
        }
        Ok(rows)
    }
}

/// Column positions of `breast-level_annotations.csv`.
struct BreastColumns {
    study: usize,
    image: usize,
    side: usize,
    view: usize,
    birads: usize,
    density: usize,
    split: usize,
}

/// What stays the same for a whole VinDr-Mammo read.
struct Context<'a> {
    root: &'a Path,
    image_root: PathBuf,
    /// Whether `<image_root>/images` exists: without it no image file can
    /// (one check instead of one per image for CSV-only downloads).
    has_images: bool,
    options: &'a AdapterOptions,
    breast_rules: Vec<Rule>,
    breast_file: String,
    columns: BreastColumns,
    finding_columns: Option<FindingColumns>,
    findings_file: String,
    /// `SOP Instance UID` and `Patient's Age` of metadata.csv.
    age_columns: Option<(usize, usize)>,
    /// Every image listed so far (its 64-bit key), with its data row.
    seen: HashMap<u64, i64>,
}

/// One pass over the three files: by study (`by_study`), or whole files at
/// once. `None`: by study was not exact (see [`Side::take`]).
fn stream(
    root: &Path,
    options: &AdapterOptions,
    by_study: bool,
    sink: &mut dyn RowSink,
) -> Result<Option<Harmonized>> {
    let policy = VindrMammo.default_policy().with_extra(&options.policy);
    let mut out = Harmonized::default();
    let find = |name: &str| {
        find_files(root, &|n| n.eq_ignore_ascii_case(name))
            .into_iter()
            .next()
    };
    let breast_path = find(BREAST_LEVEL).ok_or_else(|| {
        Error::Other(format!(
            "no {BREAST_LEVEL} under {} (looked at most two folders down)",
            root.display()
        ))
    })?;
    let dataset_root = breast_path.parent().unwrap_or(root).to_path_buf();
    let mut breast = CsvRows::open(root, &breast_path)?;
    let columns = BreastColumns {
        study: breast.column(&["study_id"])?,
        image: breast.column(&["image_id"])?,
        side: breast.column(&["laterality"])?,
        view: breast.column(&["view_position"])?,
        birads: breast.column(&["breast_birads"])?,
        density: breast.column(&["breast_density"])?,
        split: breast.column(&["split"])?,
    };
    let mut findings = match find(FINDINGS) {
        Some(p) => Some(Side::open(root, &p, &["study_id"])?),
        None => {
            out.warnings.push(format!(
                "no {FINDINGS}: no findings and no abnormality flags"
            ));
            None
        }
    };
    let finding_columns = findings
        .as_ref()
        .map(|f| FindingColumns::of(&f.rows))
        .transpose()?;
    let mut ages =
        find(METADATA).and_then(|p| match Side::open(root, &p, &["Study Instance UID"]) {
            Ok(side) => Some(side),
            Err(e) => {
                out.warnings.push(format!("{METADATA} not used: {e}"));
                None
            }
        });
    let age_columns = ages.as_ref().and_then(|a| {
        a.rows
            .column(&["SOP Instance UID"])
            .ok()
            .zip(a.rows.column(&["Patient's Age"]).ok())
    });
    if let (Some(a), None) = (&ages, age_columns) {
        out.warnings.push(format!(
            "{}: no `SOP Instance UID` / `Patient's Age` columns: ages not read",
            a.rows.file
        ));
    }
    let mut cx = Context {
        root,
        has_images: options
            .images
            .as_ref()
            .unwrap_or(&dataset_root)
            .join("images")
            .is_dir(),
        image_root: options.images.clone().unwrap_or(dataset_root),
        options,
        breast_rules: policy.breast_rules(),
        breast_file: breast.file.clone(),
        columns,
        finding_columns,
        findings_file: findings
            .as_ref()
            .map(|f| f.rows.file.clone())
            .unwrap_or_default(),
        age_columns,
        seen: HashMap::new(),
    };

    let mut breast_total = 0;
    let mut group: Vec<RawRow> = Vec::new();
    loop {
        let row = breast.next_row()?;
        breast_total += row.is_some() as usize;
        let study_ends = match &row {
            None => true,
            Some(r) => {
                by_study
                    && group
                        .last()
                        .is_some_and(|g| g.get(cx.columns.study) != r.get(cx.columns.study))
            }
        };
        if study_ends && !group.is_empty() {
            let study = group[0].get(cx.columns.study).to_string();
            let take = |side: &mut Option<Side>| -> Result<Vec<RawRow>> {
                match side {
                    Some(s) if by_study => s.take(&study),
                    Some(s) => s.rest(),
                    None => Ok(Vec::new()),
                }
            };
            let (found, aged) = (take(&mut findings)?, take(&mut ages)?);
            harmonize_group(&mut cx, &std::mem::take(&mut group), found, aged, &mut out);
            sink.rows(&mut out)?;
        }
        match row {
            Some(r) => group.push(r),
            None => break,
        }
    }
    // Rows of studies that breast-level_annotations.csv does not list.
    let rest = |side: &mut Option<Side>| -> Result<Vec<RawRow>> {
        side.as_mut().map_or(Ok(Vec::new()), Side::rest)
    };
    let (found, aged) = (rest(&mut findings)?, rest(&mut ages)?);
    harmonize_group(&mut cx, &[], found, aged, &mut out);
    sink.rows(&mut out)?;
    let unordered = |side: &Option<Side>| side.as_ref().is_some_and(|s| s.unordered);
    if by_study && (unordered(&findings) || unordered(&ages)) {
        return Ok(None);
    }
    out.funnel.records_total += breast_total;
    out.record_files
        .push((cx.breast_file.clone(), breast_total));
    if let Some(f) = &findings {
        out.funnel.records_total += f.total;
        out.record_files.push((f.rows.file.clone(), f.total));
    }
    Ok(Some(out))
}

/// Harmonizes the breast-level rows of one or more whole studies with their
/// finding and metadata.csv rows; rows go to `out`, counts to its funnel.
fn harmonize_group(
    cx: &mut Context,
    breast: &[RawRow],
    found: Vec<RawRow>,
    aged: Vec<RawRow>,
    out: &mut Harmonized,
) {
    let ages: HashMap<&str, i32> = match cx.age_columns {
        Some((uid, age)) => aged
            .iter()
            .filter_map(|r| match vocab::age(r.get(age)) {
                Mapped::Value(a) => Some((r.get(uid), a)),
                _ => None,
            })
            .collect(),
        None => HashMap::new(),
    };
    let mut per_image: HashMap<String, ImageFindings> = HashMap::new();
    let mut no_finding_rows: Vec<(i64, String, String, String)> = Vec::new();
    let mut invalid_findings = 0;
    if let Some(columns) = &cx.finding_columns {
        invalid_findings = read_findings(
            &cx.findings_file,
            columns,
            found.iter(),
            out,
            &mut per_image,
            &mut no_finding_rows,
        );
    }
    let c = &cx.columns;
    let (mut invalid, mut duplicates) = (0, 0);
    let mut rows = Vec::new();
    for row in breast {
        let study = row.get(c.study);
        let image = row.get(c.image);
        let side = vocab::laterality(row.get(c.side)).value();
        let (Some(side), false, false) = (side, study.is_empty(), image.is_empty()) else {
            invalid += 1;
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: cx.breast_file.clone(),
                source_row: Some(row.number),
                patient_id: (!study.is_empty()).then(|| study.to_string()),
                image_id: (!image.is_empty()).then(|| image.to_string()),
                reason: Rule::InvalidRecord.reason().into(),
                detail: format!(
                    "study `{study}`, image `{image}`, laterality `{}`: a record needs all three",
                    row.get(c.side)
                ),
                ..Default::default()
            });
            continue;
        };
        if let Some(first) = cx.seen.get(&key(image)) {
            duplicates += 1;
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: cx.breast_file.clone(),
                source_row: Some(row.number),
                patient_id: Some(study.to_string()),
                image_id: Some(image.to_string()),
                reason: Rule::Duplicate.reason().into(),
                detail: format!("image {image} is listed again (first: data row {first})"),
                ..Default::default()
            });
            continue;
        }
        cx.seen.insert(key(image), row.number);
        let at = RecordAt {
            file: &cx.breast_file,
            row: row.number,
            patient: Some(study),
            side: Some(side),
        };
        let view_raw = row.get(c.view);
        let view = out.valid(
            &at,
            "view_position",
            view_raw,
            vocab::view_position(view_raw),
        );
        let birads_raw = row.get(c.birads);
        let birads = out.valid(&at, "birads", birads_raw, vocab::birads(birads_raw));
        let density_raw = row.get(c.density);
        let density = out.valid(&at, "density", density_raw, vocab::density(density_raw));
        let split_raw = row.get(c.split);
        let split = out.valid(&at, "split", split_raw, vocab::source_split(split_raw));
        let found = per_image.remove(image).unwrap_or_default();
        let raw_path = cx.has_images.then(|| {
            let file = cx
                .image_root
                .join("images")
                .join(study)
                .join(format!("{image}.dicom"));
            file.is_file()
                .then(|| crate::dataset::source::relative(cx.root, &file))
        });
        let raw_path = raw_path.flatten();
        rows.push(MetadataRow {
            patient_id: study.to_string(),
            study_id: Some(study.to_string()),
            image_id: image.to_string(),
            exam_id: format!("{study}_{side}"),
            laterality: side.into(),
            laterality_source: "metadata".into(),
            view_position: view.map(Into::into),
            age: ages.get(image).copied(),
            density: density.map(Into::into),
            birads,
            birads_raw: (!birads_raw.is_empty()).then(|| birads_raw.to_string()),
            diagnosis: None,
            diagnosis_source: None,
            mass: found.flags.contains("mass"),
            calcification: found.flags.contains("calcification"),
            asymmetry: found.flags.contains("asymmetry"),
            distortion: found.flags.contains("distortion"),
            asymmetry_kinds: found
                .asymmetry_kinds
                .iter()
                .map(|s| s.to_string())
                .collect(),
            other_findings: found.other.iter().map(|s| s.to_string()).collect(),
            split: split.map(Into::into),
            source_split: split.map(Into::into),
            image_status: if cx.options.metadata_only {
                "metadata_only".into()
            } else if raw_path.is_some() {
                "ok".into()
            } else {
                "missing".into()
            },
            raw_path,
            source_file: cx.breast_file.clone(),
            source_row: row.number,
            ..Default::default()
        });
    }
    out.funnel.record_step(
        &cx.breast_file,
        Rule::InvalidRecord,
        breast.len(),
        invalid,
        0,
    );
    out.funnel.record_step(
        &cx.breast_file,
        Rule::Duplicate,
        breast.len() - invalid,
        duplicates,
        0,
    );

    // `No Finding` markers repeat the image's breast-level row.
    if cx.finding_columns.is_some() {
        let total = no_finding_rows.len();
        for (number, study, image, side) in no_finding_rows {
            let detail = match cx.seen.get(&key(&image)) {
                Some(r) => format!(
                    "`No Finding` marker of image {image}, which is in metadata from {} data row {r}",
                    cx.breast_file
                ),
                None => format!(
                    "`No Finding` marker of image {image}, which {} does not list",
                    cx.breast_file
                ),
            };
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: cx.findings_file.clone(),
                source_row: Some(number),
                patient_id: Some(study),
                laterality: Some(side),
                image_id: Some(image),
                reason: Rule::Duplicate.reason().into(),
                detail,
                ..Default::default()
            });
        }
        out.funnel.record_step(
            &cx.findings_file,
            Rule::InvalidRecord,
            found.len(),
            invalid_findings,
            0,
        );
        out.funnel.record_step(
            &cx.findings_file,
            Rule::Duplicate,
            found.len() - invalid_findings,
            total,
            0,
        );
    }
    for image in per_image.keys() {
        out.warnings.push(format!(
            "{FINDINGS} has findings for image {image}, which {BREAST_LEVEL} does not list"
        ));
    }
    crate::dataset::apply_breast_rules(rows, &cx.breast_rules, &cx.breast_file, out);
}

/// Reads finding rows into `findings` and per-image flags.
/// Returns how many rows were unreadable (`invalid_record` exclusions).
fn read_findings<'r>(
    file: &str,
    c: &FindingColumns,
    rows: impl Iterator<Item = &'r RawRow>,
    out: &mut Harmonized,
    per_image: &mut HashMap<String, ImageFindings>,
    no_finding_rows: &mut Vec<(i64, String, String, String)>,
) -> usize {
    let mut invalid = 0;
    let FindingColumns {
        study: c_study,
        image: c_image,
        side: c_side,
        view: c_view,
        height: c_height,
        width: c_width,
        categories: c_categories,
        birads: c_birads,
        boxes,
    } = *c;
    for row in rows {
        let study = row.get(c_study).to_string();
        let image = row.get(c_image).to_string();
        let side = vocab::laterality(row.get(c_side)).value();
        let categories = vocab::parse_python_list(row.get(c_categories));
        let (Some(side), Some(categories), false) = (side, categories, image.is_empty()) else {
            invalid += 1;
            out.exclusions.push(ExclusionRow {
                level: "record".into(),
                source_file: file.into(),
                source_row: Some(row.number),
                patient_id: (!study.is_empty()).then(|| study.clone()),
                image_id: (!image.is_empty()).then(|| image.clone()),
                reason: Rule::InvalidRecord.reason().into(),
                detail: format!(
                    "image `{image}`, laterality `{}`, finding_categories `{}`: unreadable",
                    row.get(c_side),
                    row.get(c_categories)
                ),
                ..Default::default()
            });
            continue;
        };
        let mapped: Vec<(String, Mapped<FindingCategory>)> = categories
            .iter()
            .map(|c| (c.clone(), vocab::vindr_category(c)))
            .collect();
        if mapped
            .iter()
            .all(|(_, m)| matches!(m, Mapped::Value(FindingCategory::NoFinding)))
        {
            no_finding_rows.push((row.number, study, image, side.to_string()));
            continue;
        }
        let number = |c: usize| row.get(c).parse::<f64>().ok().filter(|v| v.is_finite());
        let (height, width) = (number(c_height), number(c_width));
        let raw: Vec<Option<f64>> = boxes.iter().map(|&c| number(c)).collect();
        let clip = |v: Option<f64>, limit: Option<f64>| match (v, limit) {
            (Some(v), Some(l)) => Some(v.clamp(0.0, l)),
            (v, _) => v,
        };
        let clipped = [
            clip(raw[0], width),
            clip(raw[1], height),
            clip(raw[2], width),
            clip(raw[3], height),
        ];
        let box_clipped = clipped.iter().zip(&raw).any(|(a, b)| a != b);
        let birads_raw = row.get(c_birads);
        let birads = vocab::birads(birads_raw).value();
        let view = vocab::view_position(row.get(c_view)).value();
        let image_flags = per_image.entry(image.clone()).or_default();
        for (name, category) in mapped {
            let finding = match category {
                Mapped::Value(FindingCategory::Finding(f)) => Some(f),
                Mapped::Value(FindingCategory::NoFinding) => continue,
                _ => None,
            };
            if let Some(f) = finding {
                if let Some(flag) = f.flag() {
                    image_flags.flags.insert(match flag {
                        Flag::Mass => "mass",
                        Flag::Calcification => "calcification",
                        Flag::Asymmetry => "asymmetry",
                        Flag::Distortion => "distortion",
                    });
                }
                if let Some(kind) = f.asymmetry_kind() {
                    image_flags.asymmetry_kinds.insert(kind);
                }
                if let Some(term) = f.other_findings_term() {
                    image_flags.other.insert(term);
                }
            }
            out.findings.push(FindingRow {
                image_id: image.clone(),
                exam_id: format!("{study}_{side}"),
                patient_id: study.clone(),
                laterality: side.into(),
                view_position: view.map(Into::into),
                finding: finding.map_or("other", |f| f.as_str()).into(),
                finding_raw: Some(name),
                birads,
                birads_raw: (!birads_raw.is_empty()).then(|| birads_raw.to_string()),
                x0: clipped[0],
                y0: clipped[1],
                x1: clipped[2],
                y1: clipped[3],
                raw_x0: raw[0],
                raw_y0: raw[1],
                raw_x1: raw[2],
                raw_y1: raw[3],
                box_clipped,
                source_file: file.into(),
                source_row: row.number,
                ..Default::default()
            });
        }
    }
    invalid
}

/// Column positions of `finding_annotations.csv`.
#[derive(Clone, Copy)]
struct FindingColumns {
    study: usize,
    image: usize,
    side: usize,
    view: usize,
    height: usize,
    width: usize,
    categories: usize,
    birads: usize,
    boxes: [usize; 4],
}

impl FindingColumns {
    fn of(t: &CsvRows) -> Result<FindingColumns> {
        Ok(FindingColumns {
            study: t.column(&["study_id"])?,
            image: t.column(&["image_id"])?,
            side: t.column(&["laterality"])?,
            view: t.column(&["view_position"])?,
            height: t.column(&["height"])?,
            width: t.column(&["width"])?,
            categories: t.column(&["finding_categories"])?,
            birads: t.column(&["finding_birads"])?,
            boxes: [
                t.column(&["xmin"])?,
                t.column(&["ymin"])?,
                t.column(&["xmax"])?,
                t.column(&["ymax"])?,
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINDINGS_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,finding_categories,finding_birads,xmin,ymin,xmax,ymax,split";
    const BREAST_HEADER: &str = "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split";

    #[test]
    fn images_findings_and_no_finding_markers() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join(BREAST_LEVEL),
            format!(
                "{BREAST_HEADER}\ns1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,training\ns1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,training\ns1,x,i3,R,CC,3518,2800,BI-RADS 1,DENSITY E,training\n"
            ),
        )
        .unwrap();
        std::fs::write(
            root.join(FINDINGS),
            format!(
                "{FINDINGS_HEADER}\n\
                 s1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,\"['Suspicious Calcification', 'Mass']\",BI-RADS 4,-6.25,10,2800.43,20.5,training\n\
                 s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,['Focal Asymmetry'],BI-RADS 3,1,2,3,4,training\n\
                 s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,['Skin Thickening'],,1,2,3,4,training\n\
                 s1,x,i3,R,CC,3518,2800,BI-RADS 1,DENSITY E,['No Finding'],,,,,,training\n"
            ),
        )
        .unwrap();
        let out = VindrMammo
            .harmonize(root, &AdapterOptions::default())
            .unwrap();
        assert_eq!(out.metadata.len(), 3);
        let i1 = &out.metadata[0];
        assert!(i1.mass && i1.calcification && !i1.asymmetry);
        assert_eq!(i1.split.as_deref(), Some("train"));
        assert_eq!(i1.exam_id, "s1_L");
        let i2 = &out.metadata[1];
        assert!(i2.asymmetry);
        assert_eq!(i2.asymmetry_kinds, ["focal"]);
        assert_eq!(i2.other_findings, ["skin_thickening"]);
        assert_eq!(out.metadata[2].density, None, "DENSITY E is invalid");
        assert_eq!(out.findings.len(), 4);
        let f = &out.findings[0];
        assert_eq!(
            (f.x0, f.x1, f.raw_x0, f.box_clipped),
            (Some(0.0), Some(2800.0), Some(-6.25), true)
        );
        let reasons: Vec<(&str, &str)> = out
            .exclusions
            .iter()
            .map(|e| (e.level.as_str(), e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [("value", "invalid_value"), ("record", "duplicate")]
        );
        assert!(
            out.exclusions[1].detail.contains("data row 3"),
            "{}",
            out.exclusions[1].detail
        );
    }

    /// Streaming reads the three files study by study; side files in
    /// another study order, or with a study split in two places, must give
    /// exactly what whole files give.
    #[test]
    fn side_files_in_any_order_give_the_same_rows() {
        let breast = format!(
            "{BREAST_HEADER}\ns1,x,i1,L,CC,9,9,BI-RADS 4,DENSITY C,training\ns1,x,i2,L,MLO,9,9,BI-RADS 4,DENSITY C,training\n\
             s2,x,i3,R,CC,9,9,BI-RADS 1,DENSITY B,test\ns3,x,i4,R,MLO,9,9,BI-RADS 2,DENSITY A,test\n"
        );
        let f = |study: &str, image: &str, cat: &str| {
            format!("{study},x,{image},L,CC,9,9,BI-RADS 4,DENSITY C,{cat},,1,2,3,4,training\n")
        };
        let s1 = [
            f("s1", "i1", "['Mass']"),
            f("s1", "i2", "['Focal Asymmetry']"),
        ];
        let s2 = f("s2", "i3", "['No Finding']");
        let s3 = f("s3", "i4", "['Suspicious Calcification']");
        let orphan = f("s9", "i9", "['Mass']");
        let meta = |rows: &[(&str, &str, &str)]| {
            let mut t = String::from("SOP Instance UID,Study Instance UID,Patient's Age\n");
            for (image, study, age) in rows {
                t.push_str(&format!("{image},{study},{age}\n"));
            }
            t
        };
        let ages = [
            ("i1", "s1", "040Y"),
            ("i2", "s1", "040Y"),
            ("i3", "s2", "051Y"),
            ("i4", "s3", "062Y"),
        ];
        let run = |findings: String, metadata: String| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(BREAST_LEVEL), &breast).unwrap();
            std::fs::write(
                dir.path().join(FINDINGS),
                format!("{FINDINGS_HEADER}\n{findings}"),
            )
            .unwrap();
            std::fs::write(dir.path().join(METADATA), metadata).unwrap();
            let out = VindrMammo
                .harmonize(dir.path(), &AdapterOptions::default())
                .unwrap();
            let mut findings: Vec<(String, String)> = out
                .findings
                .iter()
                .map(|f| (f.image_id.clone(), f.finding.clone()))
                .collect();
            findings.sort();
            let mut excluded: Vec<(String, String)> = out
                .exclusions
                .iter()
                .map(|e| (e.reason.clone(), e.image_id.clone().unwrap_or_default()))
                .collect();
            excluded.sort();
            let whole = out.warnings.iter().any(|w| w.contains("whole files"));
            (
                out.metadata,
                findings,
                excluded,
                out.funnel.records_total,
                whole,
            )
        };
        let ordered = run(
            [
                s1[0].clone(),
                s1[1].clone(),
                s2.clone(),
                s3.clone(),
                orphan.clone(),
            ]
            .concat(),
            meta(&ages),
        );
        assert_eq!(ordered.0.len(), 4);
        assert!(ordered.0[0].mass && ordered.0[1].asymmetry && ordered.0[3].calcification);
        assert_eq!(
            ordered.0.iter().map(|m| m.age).collect::<Vec<_>>(),
            [Some(40), Some(40), Some(51), Some(62)]
        );
        assert_eq!(ordered.3, 4 + 5);
        assert!(!ordered.4);
        let permuted = run(
            [
                s3.clone(),
                orphan.clone(),
                s2.clone(),
                s1[0].clone(),
                s1[1].clone(),
            ]
            .concat(),
            meta(&[ages[3], ages[2], ages[0], ages[1]]),
        );
        assert_eq!(permuted.0, ordered.0);
        assert_eq!(permuted.1, ordered.1);
        assert_eq!(permuted.2, ordered.2);
        assert!(!permuted.4, "blocks in another order stream fine");
        let split = run(
            [
                s1[0].clone(),
                s2.clone(),
                s1[1].clone(),
                s3.clone(),
                orphan.clone(),
            ]
            .concat(),
            meta(&ages),
        );
        assert_eq!(split.0, ordered.0);
        assert_eq!(split.1, ordered.1);
        assert_eq!(split.2, ordered.2);
        assert!(split.4, "a split study is read again from whole files");
    }
}
