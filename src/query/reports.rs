//! The bias reports: plain SQL files in `sql/` (one report each, `-- name:`
//! and `-- description:` header lines), embedded in the binary and run over
//! the lake's tables and views. They use only SQL that DuckDB and Spark run
//! unchanged; what SQL cannot portably compute (the p-value of a chi-square
//! statistic) is added here, in Rust.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::query::LakeSession;
use crate::query::assets::{SqlAsset, parse_header};

/// Every report, in the order `mcq report` runs them.
pub fn all() -> Vec<SqlAsset> {
    [
        include_str!("../../sql/density_by_dataset.sql"),
        include_str!("../../sql/diagnosis_by_dataset.sql"),
        include_str!("../../sql/birads_by_dataset.sql"),
        include_str!("../../sql/birads_by_diagnosis.sql"),
        include_str!("../../sql/abnormality_summary.sql"),
        include_str!("../../sql/birads_biopsy_discordance.sql"),
        include_str!("../../sql/age_distribution.sql"),
        include_str!("../../sql/qc_rates.sql"),
        include_str!("../../sql/selection_funnel.sql"),
        include_str!("../../sql/split_leakage.sql"),
        include_str!("../../sql/shared_images.sql"),
        include_str!("../../sql/density_shift.sql"),
    ]
    .into_iter()
    .map(|sql| {
        let (name, description) = parse_header(sql);
        SqlAsset {
            name: name.expect("every report has a `-- name:` line"),
            description: description.unwrap_or(""),
            sql,
        }
    })
    .collect()
}

/// Looks reports up by name; an unknown name lists the known ones.
pub fn find(names: &[String]) -> Result<Vec<SqlAsset>> {
    let all = all();
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|n| {
            all.iter().find(|r| r.name == n).copied().ok_or_else(|| {
                Error::Usage(format!(
                    "no report `{n}`; reports: {}",
                    all.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                ))
            })
        })
        .collect()
}

/// A report's result, ready to print.
pub struct ReportResult {
    pub report: SqlAsset,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Runs one report and post-processes its result.
pub async fn run(session: &LakeSession, report: SqlAsset) -> Result<ReportResult> {
    let df = session
        .sql(&crate::query::session::strip_comments(report.sql))
        .await
        .map_err(|e| Error::Other(format!("report {}: {e}", report.name)))?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let (schema, batches) = add_p_values(schema, batches)?;
    Ok(ReportResult {
        report,
        schema,
        batches,
    })
}

/// Appends `p_value` (upper tail of the chi-square distribution) to results
/// that have `chi_square` and `df` columns.
fn add_p_values(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (Ok(chi), Ok(df)) = (schema.index_of("chi_square"), schema.index_of("df")) else {
        return Ok((schema, batches));
    };
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("p_value", DataType::Float64, true));
    let new_schema = Arc::new(Schema::new(fields));
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        let chi = cast(batch.column(chi), &DataType::Float64)?;
        let dfs = cast(batch.column(df), &DataType::Float64)?;
        let (chi, dfs) = (
            chi.as_primitive::<arrow::datatypes::Float64Type>(),
            dfs.as_primitive::<arrow::datatypes::Float64Type>(),
        );
        let p: Float64Array = (0..batch.num_rows())
            .map(|i| {
                (chi.is_valid(i) && dfs.is_valid(i) && dfs.value(i) > 0.0)
                    .then(|| chi_square_survival(chi.value(i), dfs.value(i)))
            })
            .collect();
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(p));
        out.push(RecordBatch::try_new(Arc::clone(&new_schema), columns)?);
    }
    Ok((new_schema, out))
}

/// P(X ≥ x) for X ~ chi-square with `k` degrees of freedom: the regularized
/// upper incomplete gamma function Q(k/2, x/2).
pub fn chi_square_survival(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(k / 2.0, x / 2.0)
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15.
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularized upper incomplete gamma Q(a, x): a series below a + 1, a
/// continued fraction (modified Lentz) above.
fn gamma_q(a: f64, x: f64) -> f64 {
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * front).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (front * h).clamp(0.0, 1.0)
    }
}

/// Runs reports and prints each under a heading.
pub async fn print<W: std::io::Write + Send>(
    session: &LakeSession,
    reports: Vec<SqlAsset>,
    format: crate::query::Format,
    out: &mut W,
) -> Result<()> {
    for report in reports {
        let result = run(session, report).await?;
        if format == crate::query::Format::Table {
            writeln!(out, "\n== {} — {}", report.name, report.description)
                .map_err(Error::io("cannot write", "stdout"))?;
        }
        crate::query::output::write_batches(
            result.schema,
            result.batches,
            format,
            out,
            crate::query::output::TableOptions::default(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_survival_matches_tables() {
        // Critical values at p = 0.05 and 0.01 (standard tables).
        for (x, k, p) in [
            (3.841_458_8, 1.0, 0.05),
            (5.991_464_5, 2.0, 0.05),
            (7.814_727_9, 3.0, 0.05),
            (11.344_866_7, 3.0, 0.01),
            (0.0, 3.0, 1.0),
            (2.0, 2.0, (-1.0f64).exp()), // k = 2: exp(-x/2)
        ] {
            let got = chi_square_survival(x, k);
            assert!((got - p).abs() < 1e-6, "x={x} k={k}: {got} vs {p}");
        }
        assert!(chi_square_survival(500.0, 3.0) < 1e-100);
    }

    #[test]
    fn every_report_has_a_name_and_description() {
        let all = all();
        assert_eq!(all.len(), 12);
        for r in &all {
            assert!(!r.description.is_empty(), "{}", r.name);
            assert!(r.sql.contains("ORDER BY"), "{} has no ORDER BY", r.name);
        }
        assert!(find(&["nope".into()]).unwrap_err().is_usage());
    }
}
