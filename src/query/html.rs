//! `mcq report --html FILE`: one self-contained page (no network) with, per
//! report, a chart (SVG drawn with plotters) and its table, headed by the
//! lake's manifest summary (datasets, ingest options, tool version) so the
//! page says how it can be reproduced.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::query::LakeSession;
use crate::query::reports::{self, ReportResult};

/// A report's result as text cells.
struct Grid {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Grid {
    fn of(result: &ReportResult) -> Result<Grid> {
        let headers = result
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let options = FormatOptions::default().with_null("");
        let mut rows = Vec::new();
        for batch in &result.batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            for i in 0..batch.num_rows() {
                rows.push(formatters.iter().map(|f| f.value(i).to_string()).collect());
            }
        }
        Ok(Grid { headers, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// (category, segment, value) triples from three columns.
    fn triples(&self, category: &str, segment: &str, value: &str) -> Vec<(String, String, f64)> {
        let (Some(c), Some(s), Some(v)) = (
            self.column(category),
            self.column(segment),
            self.column(value),
        ) else {
            return Vec::new();
        };
        self.rows
            .iter()
            .filter_map(|r| Some((r[c].clone(), r[s].clone(), r[v].parse().ok()?)))
            .collect()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Colours for a segment label: fixed meanings where the label has one.
fn colour(label: &str, index: usize) -> RGBColor {
    match label {
        "A" => RGBColor(222, 235, 247),
        "B" => RGBColor(158, 202, 225),
        "C" => RGBColor(66, 146, 198),
        "D" => RGBColor(8, 69, 148),
        "Normal" | "normal" | "kept" => RGBColor(102, 166, 30),
        "Benign" | "benign" => RGBColor(55, 126, 184),
        "Malignant" | "malignant" => RGBColor(228, 26, 28),
        "unknown" => RGBColor(189, 189, 189),
        _ => {
            const PALETTE: [RGBColor; 8] = [
                RGBColor(253, 208, 162),
                RGBColor(253, 174, 107),
                RGBColor(253, 141, 60),
                RGBColor(241, 105, 19),
                RGBColor(217, 72, 1),
                RGBColor(166, 54, 3),
                RGBColor(127, 39, 4),
                RGBColor(152, 78, 163),
            ];
            PALETTE[index % PALETTE.len()]
        }
    }
}

fn draw_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Other(format!("cannot draw a chart: {e}"))
}

/// Horizontal stacked bars, one per category; `percent` scales each bar to
/// 100 %. Segments are ordered as `order` says (others after, sorted).
fn stacked_bars(
    triples: &[(String, String, f64)],
    order: &[&str],
    percent: bool,
    unit: &str,
) -> Result<String> {
    let categories: BTreeSet<&str> = triples.iter().map(|t| t.0.as_str()).collect();
    let mut segments: Vec<String> = order
        .iter()
        .filter(|o| triples.iter().any(|t| t.1 == **o))
        .map(|s| s.to_string())
        .collect();
    let rest: BTreeSet<&str> = triples
        .iter()
        .map(|t| t.1.as_str())
        .filter(|s| !order.contains(s))
        .collect();
    segments.extend(rest.into_iter().map(str::to_string));
    if categories.is_empty() {
        return Ok(String::new());
    }
    // Room for the longest category label (the naive font is ~7 px a character).
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0) as i32;
    let left = (longest * 7 + 20).clamp(100, 320);
    let width = 760u32 + left as u32 - 100;
    let (bar, gap) = (26i32, 14i32);
    // Legend items flow into as many rows as they need.
    let mut legend = Vec::new();
    let (mut lx, mut ly) = (left, 8);
    for s in &segments {
        let item = 28 + 8 * s.chars().count() as i32;
        if lx + item > width as i32 - 10 && lx > left {
            lx = left;
            ly += 20;
        }
        legend.push((lx, ly));
        lx += item;
    }
    let top = ly + 26;
    let height = (top + categories.len() as i32 * (bar + gap) + 30) as u32;
    let plot_width = width as i32 - left - 30;
    let totals: BTreeMap<&str, f64> = categories
        .iter()
        .map(|c| (*c, triples.iter().filter(|t| t.0 == *c).map(|t| t.2).sum()))
        .collect();
    let max_total = totals.values().cloned().fold(0.0, f64::max).max(1.0);
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        area.fill(&WHITE).map_err(draw_error)?;
        let font = ("sans-serif", 13).into_font();
        for (i, (s, &(x, y))) in segments.iter().zip(&legend).enumerate() {
            area.draw(&Rectangle::new(
                [(x, y), (x + 14, y + 14)],
                colour(s, i).filled(),
            ))
            .map_err(draw_error)?;
            area.draw(&Text::new(s.clone(), (x + 18, y + 1), font.clone()))
                .map_err(draw_error)?;
        }
        for (row, category) in categories.iter().enumerate() {
            let y = top + row as i32 * (bar + gap);
            area.draw(&Text::new(
                category.to_string(),
                (left - 8, y + bar / 2),
                font.clone()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_error)?;
            let total = totals[category];
            let scale = if percent {
                100.0 / total.max(1e-9)
            } else {
                1.0
            };
            let full = if percent { 100.0 } else { max_total };
            let mut x0 = left as f64;
            for (i, s) in segments.iter().enumerate() {
                let value: f64 = triples
                    .iter()
                    .filter(|t| t.0 == *category && &t.1 == s)
                    .map(|t| t.2)
                    .sum();
                if value <= 0.0 {
                    continue;
                }
                let w = value * scale / full * plot_width as f64;
                area.draw(&Rectangle::new(
                    [(x0.round() as i32, y), ((x0 + w).round() as i32, y + bar)],
                    colour(s, i).filled(),
                ))
                .map_err(draw_error)?;
                if w > 34.0 {
                    let label = if percent {
                        format!("{:.0}%", value * scale)
                    } else {
                        format!("{value:.0}")
                    };
                    let RGBColor(r, g, b) = colour(s, i);
                    let luminance =
                        0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b);
                    let dark = luminance < 140.0;
                    let style = font
                        .clone()
                        .color(if dark { &WHITE } else { &BLACK })
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    area.draw(&Text::new(
                        label,
                        ((x0 + w / 2.0) as i32, y + bar / 2),
                        style,
                    ))
                    .map_err(draw_error)?;
                }
                x0 += w;
            }
            let note = if percent {
                format!("n = {total:.0} {unit}")
            } else {
                format!("{total:.0} {unit}")
            };
            area.draw(&Text::new(
                note,
                (left, y + bar + 1),
                ("sans-serif", 10).into_font().color(&RGBColor(90, 90, 90)),
            ))
            .map_err(draw_error)?;
        }
        area.present().map_err(draw_error)?;
    }
    Ok(svg)
}

/// A heatmap of counts: one panel per dataset, rows × columns.
fn heatmap(grid: &Grid, row_column: &str, value_columns: &[&str]) -> Result<String> {
    let (Some(dc), Some(rc)) = (grid.column("dataset"), grid.column(row_column)) else {
        return Ok(String::new());
    };
    let vcs: Vec<usize> = value_columns
        .iter()
        .filter_map(|c| grid.column(c))
        .collect();
    let datasets: BTreeSet<&str> = grid.rows.iter().map(|r| r[dc].as_str()).collect();
    let mut html = String::new();
    for dataset in datasets {
        let rows: Vec<&Vec<String>> = grid.rows.iter().filter(|r| r[dc] == dataset).collect();
        let max = rows
            .iter()
            .flat_map(|r| vcs.iter().map(|&c| r[c].parse::<f64>().unwrap_or(0.0)))
            .fold(1.0, f64::max);
        let (cell_w, cell_h, left, top) = (78i32, 24i32, 120i32, 40i32);
        let width = (left + cell_w * vcs.len() as i32 + 10) as u32;
        let height = (top + cell_h * rows.len() as i32 + 10) as u32;
        let mut svg = String::new();
        {
            let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            area.fill(&WHITE).map_err(draw_error)?;
            let font = ("sans-serif", 12).into_font();
            area.draw(&Text::new(
                dataset.to_string(),
                (4, 4),
                ("sans-serif", 13).into_font(),
            ))
            .map_err(draw_error)?;
            for (j, name) in value_columns.iter().enumerate() {
                area.draw(&Text::new(
                    name.to_string(),
                    (left + j as i32 * cell_w + cell_w / 2, top - 10),
                    font.clone()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(draw_error)?;
            }
            for (i, r) in rows.iter().enumerate() {
                let y = top + i as i32 * cell_h;
                area.draw(&Text::new(
                    format!("BI-RADS {}", r[rc]),
                    (left - 6, y + cell_h / 2),
                    font.clone()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Right, VPos::Center)),
                ))
                .map_err(draw_error)?;
                for (j, &c) in vcs.iter().enumerate() {
                    let v: f64 = r[c].parse().unwrap_or(0.0);
                    let t = (v / max).sqrt();
                    let shade = RGBColor(
                        (255.0 - t * 200.0) as u8,
                        (255.0 - t * 150.0) as u8,
                        (255.0 - t * 60.0) as u8,
                    );
                    let x = left + j as i32 * cell_w;
                    area.draw(&Rectangle::new(
                        [(x, y), (x + cell_w - 2, y + cell_h - 2)],
                        shade.filled(),
                    ))
                    .map_err(draw_error)?;
                    let style = font
                        .clone()
                        .color(if t > 0.6 { &WHITE } else { &BLACK })
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    area.draw(&Text::new(
                        format!("{v:.0}"),
                        (x + cell_w / 2, y + cell_h / 2),
                        style,
                    ))
                    .map_err(draw_error)?;
                }
            }
            area.present().map_err(draw_error)?;
        }
        html.push_str(&svg);
    }
    Ok(html)
}

/// The chart of one report, if it has one.
fn chart(name: &str, grid: &Grid) -> Result<String> {
    match name {
        "density_by_dataset" => stacked_bars(
            &grid.triples("dataset", "density", "breasts"),
            &["A", "B", "C", "D"],
            true,
            "breasts",
        ),
        "diagnosis_by_dataset" => stacked_bars(
            &grid.triples("dataset", "diagnosis", "breasts"),
            &["Normal", "Benign", "Malignant", "unknown"],
            true,
            "breasts",
        ),
        "birads_by_dataset" => stacked_bars(
            &grid.triples("dataset", "birads", "breasts"),
            &["0", "1", "2", "3", "4", "5", "6", "unknown"],
            true,
            "breasts",
        ),
        "age_distribution" => stacked_bars(
            &grid.triples("dataset", "age_band", "breasts"),
            &["<40", "40-49", "50-59", "60-69", "70+", "unknown"],
            true,
            "breasts",
        ),
        "birads_by_diagnosis" => heatmap(
            grid,
            "birads",
            &["normal", "benign", "malignant", "unknown"],
        ),
        "abnormality_summary" => {
            // Percent of each dataset's breasts with each abnormality (a
            // breast may have several, so these do not stack).
            let triples = grid.triples("dataset", "abnormality", "breasts");
            let totals: BTreeMap<&str, f64> = triples
                .iter()
                .filter(|t| t.1 == "all breasts")
                .map(|t| (t.0.as_str(), t.2))
                .collect();
            let rows: Vec<(String, String, f64)> = triples
                .iter()
                .filter(|t| t.1 != "all breasts")
                .filter_map(|(d, a, v)| {
                    let total = totals.get(d.as_str()).copied().filter(|t| *t > 0.0)?;
                    Some((
                        format!("{d} · {a}"),
                        "% of breasts".to_string(),
                        100.0 * v / total,
                    ))
                })
                .collect();
            stacked_bars(&rows, &[], false, "% of the dataset's breasts")
        }
        "selection_funnel" => stacked_bars(
            &grid.triples("dataset", "reason", "records"),
            &["kept"],
            true,
            "raw records",
        ),
        "qc_rates" => {
            let mut rows = Vec::new();
            for metric in [
                "laterality_flipped_percent",
                "intensity_inverted_percent",
                "monochrome1_percent",
            ] {
                rows.extend(grid.triples("dataset", metric, metric).into_iter().map(
                    |(d, _, v)| {
                        (
                            format!("{d}: {}", metric.trim_end_matches("_percent")),
                            "percent".to_string(),
                            v,
                        )
                    },
                ));
            }
            if rows.iter().all(|r| r.2 == 0.0) {
                return Ok(String::new());
            }
            stacked_bars(&rows, &[], false, "% of decoded images")
        }
        _ => Ok(String::new()),
    }
}

fn table_html(grid: &Grid) -> String {
    let mut html = String::from("<div class=\"tw\"><table><thead><tr>");
    for h in &grid.headers {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html.push_str("</tr></thead><tbody>");
    if grid.rows.is_empty() {
        let _ = write!(
            html,
            "<tr><td colspan=\"{}\" class=\"empty\">no rows</td></tr>",
            grid.headers.len().max(1)
        );
    }
    for r in &grid.rows {
        html.push_str("<tr>");
        for c in r {
            let numeric = c.parse::<f64>().is_ok();
            let _ = write!(
                html,
                "<td{}>{}</td>",
                if numeric { " class=\"num\"" } else { "" },
                escape(c)
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div>");
    html
}

const STYLE: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
p.desc{color:#555;margin-top:.2em}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}\
th,td{border:1px solid #ddd;padding:3px 8px;white-space:nowrap}th{background:#f3f5f7;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.empty{color:#888;font-style:italic}svg{display:block;margin:.4em 0}.meta{font-size:.85em;color:#444}\
nav a{margin-right:.8em;font-size:.85em;display:inline-block}div.tw{overflow-x:auto}td.opts{max-width:380px;word-break:break-all;font-size:.8em}.warn{background:#fff4e5;border:1px solid #f0b36b;padding:.5em 1em}";

/// Writes the page.
pub async fn write_html(session: &LakeSession, path: &Path) -> Result<()> {
    let manifest = &session.lake.manifest;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mcq bias report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        html,
        "<h1>mcq bias report</h1><p class=\"meta\">Lake <code>{}</code>, commit <code>{}</code> (generation {}), tensors {}×{}; made by mcq {} on {}.</p>",
        escape(&session.lake.layout.root().display().to_string()),
        escape(&manifest.commit_id),
        manifest.generation,
        manifest.tensor_shape[0],
        manifest.tensor_shape[1],
        env!("CARGO_PKG_VERSION"),
        escape(&crate::lake::writer::now_rfc3339())
    );
    if manifest.datasets.values().any(|d| d.synthetic) {
        html.push_str("<p class=\"warn\">This lake holds <b>synthetic</b> data made by <code>mcq synth</code>: the numbers show how mcq works, not facts about the real datasets.</p>");
    }
    html.push_str("<h2>Datasets and how they were ingested</h2><table><thead><tr><th>dataset</th><th>source</th><th>license</th><th>synthetic</th><th>metadata rows</th><th>ingested</th><th>tool</th><th>options</th></tr></thead><tbody>");
    for (name, info) in &manifest.datasets {
        let rows: u64 = manifest
            .files(crate::lake::Table::Metadata)
            .iter()
            .filter(|f| &f.dataset == name)
            .map(|f| f.rows)
            .sum();
        let run = manifest.runs.iter().rev().find(|r| &r.dataset == name);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{rows}</td><td>{}</td><td>{}</td><td class=\"opts\"><code>{}</code></td></tr>",
            escape(name),
            escape(info.source_doi.as_deref().unwrap_or("")),
            escape(info.license.as_deref().unwrap_or("")),
            if info.synthetic { "yes" } else { "no" },
            escape(run.map(|r| r.finished_at.as_str()).unwrap_or("")),
            escape(run.map(|r| r.tool_version.as_str()).unwrap_or("")),
            escape(&run.map(|r| r.options.to_string()).unwrap_or_default()),
        );
    }
    html.push_str("</tbody></table>");
    let all = reports::all();
    html.push_str("<nav>");
    for r in &all {
        let _ = write!(html, "<a href=\"#{0}\">{0}</a>", r.name);
    }
    html.push_str("</nav>");
    for report in all {
        let result = reports::run(session, report).await?;
        let grid = Grid::of(&result)?;
        let _ = write!(
            html,
            "<h2 id=\"{0}\">{0}</h2><p class=\"desc\">{1}</p>",
            escape(report.name),
            escape(report.description)
        );
        html.push_str(&chart(report.name, &grid)?);
        html.push_str(&table_html(&grid));
    }
    html.push_str("<p class=\"meta\">Every report is a plain SQL file in mcq's <code>sql/</code> folder and runs unchanged in DuckDB and Spark over the same Parquet files.</p></body></html>\n");
    std::fs::write(path, html).map_err(Error::io("cannot write", path))
}
