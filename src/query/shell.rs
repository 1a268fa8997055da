//! `mcq shell`: an interactive SQL shell over the lake. Statements may span
//! lines and end with `;`; `\d`, `\d TABLE`, `\reports`, `\q`; tab completes
//! table and column names; history is kept in a file; Ctrl-C cancels the
//! running query, not the shell.

use std::borrow::Cow;
use std::path::PathBuf;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

use crate::error::{Error, Result};
use crate::lake::Table;
use crate::query::output::{Format, TableOptions, write_to};
use crate::query::{LakeSession, assets, reports};

const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "GROUP", "BY", "ORDER", "HAVING", "LIMIT", "JOIN", "LEFT", "ON",
    "AS", "AND", "OR", "NOT", "NULL", "IS", "IN", "COUNT", "DISTINCT", "CASE", "WHEN", "THEN",
    "ELSE", "END", "CAST", "DOUBLE", "NULLS", "LAST", "DESC", "ASC", "UNION", "ALL", "WITH",
    "EXPLAIN", "DESCRIBE", "SHOW", "TABLES", "COPY", "TO",
];

/// Completes table names, column names and keywords.
#[derive(Helper, Hinter, Highlighter, Validator)]
struct ShellHelper {
    words: Vec<String>,
}

impl Completer for ShellHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let prefix = &line[start..pos];
        if prefix.is_empty() {
            return Ok((start, Vec::new()));
        }
        let lower = prefix.to_lowercase();
        let mut candidates: Vec<Pair> = self
            .words
            .iter()
            .filter(|w| w.to_lowercase().starts_with(&lower))
            .map(|w| {
                let text = if KEYWORDS.contains(&w.as_str())
                    && prefix.chars().all(|c| !c.is_uppercase())
                {
                    w.to_lowercase()
                } else {
                    w.clone()
                };
                Pair {
                    display: text.clone(),
                    replacement: text,
                }
            })
            .collect();
        candidates.dedup_by(|a, b| a.replacement == b.replacement);
        Ok((start, candidates))
    }
}

fn history_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("MCQ_HISTORY") {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".mcq_history"))
}

/// Runs the shell until `\q` or end of input.
pub async fn run(session: &LakeSession) -> Result<()> {
    let mut words: Vec<String> = session.table_names();
    for table in Table::ALL {
        words.extend(table.schema().columns.iter().map(|c| c.name.clone()));
    }
    words.push("dataset".into());
    words.extend(KEYWORDS.iter().map(|k| k.to_string()));
    words.sort();
    words.dedup();

    let mut editor: Editor<ShellHelper, FileHistory> =
        Editor::new().map_err(|e| Error::Other(format!("cannot start the shell: {e}")))?;
    editor.set_helper(Some(ShellHelper { words }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!(
        "mcq shell on {} ({} datasets). End statements with `;`. \\d lists tables, \\d TABLE its columns, \\reports the reports, \\q quits.",
        session.lake.layout.root().display(),
        session.lake.datasets().len()
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "mcq> " } else { "  -> " };
        match editor.readline(prompt) {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty() && trimmed.starts_with('\\') {
                    let _ = editor.add_history_entry(trimmed);
                    if let Some(name) = trimmed.strip_prefix("\\report ") {
                        run_report(session, name.trim()).await;
                        continue;
                    }
                    if !backslash(session, trimmed) {
                        break;
                    }
                    continue;
                }
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                if buffer.trim_end().ends_with(';') {
                    let sql = std::mem::take(&mut buffer);
                    let _ = editor.add_history_entry(sql.trim());
                    run_statement(session, sql.trim().trim_end_matches(';')).await;
                }
            }
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::Other(format!("shell: {e}"))),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

async fn run_statement(session: &LakeSession, sql: &str) {
    if sql.trim().is_empty() {
        return;
    }
    let work = async {
        let df = session.sql(sql).await?;
        let mut out = std::io::stdout();
        write_to(df, Format::Table, &mut out, TableOptions::default()).await
    };
    tokio::select! {
        result = work => {
            if let Err(e) = result {
                eprintln!("error: {e}");
            }
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("query cancelled");
        }
    }
}

async fn run_report(session: &LakeSession, name: &str) {
    let work = async {
        let found = reports::find(&[name.to_string()])?;
        let mut out = std::io::stdout();
        reports::print(session, found, Format::Table, &mut out).await
    };
    tokio::select! {
        result = work => {
            if let Err(e) = result {
                eprintln!("error: {e}");
            }
        }
        _ = tokio::signal::ctrl_c() => eprintln!("report cancelled"),
    }
}

/// Runs a backslash command; false means quit.
fn backslash(session: &LakeSession, command: &str) -> bool {
    let mut parts = command.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("\\q"), _) => return false,
        (Some("\\d"), None) => println!("{}", describe_tables(session)),
        (Some("\\d"), Some(name)) => match describe_table(session, name) {
            Some(text) => println!("{text}"),
            None => eprintln!(
                "no table {name}; tables: {}",
                session.table_names().join(", ")
            ),
        },
        (Some("\\reports"), _) => {
            println!("reports (\\report NAME runs one):");
            for r in reports::all() {
                println!("  {:<28} {}", r.name, r.description);
            }
            println!("views (created in every session):");
            for v in assets::views() {
                println!("  {:<28} {}", v.name, v.description);
            }
        }
        _ => eprintln!(
            "unknown command {command}: try \\d, \\d TABLE, \\reports, \\report NAME, \\q"
        ),
    }
    true
}

/// `\d`: every table with its row count and description.
pub fn describe_tables(session: &LakeSession) -> String {
    let mut out = String::new();
    for table in Table::ALL {
        out.push_str(&format!(
            "{:<12} {:>10} rows  {}\n",
            table.name(),
            session.lake.manifest.row_count(table),
            table.schema().doc
        ));
    }
    for v in assets::views() {
        out.push_str(&format!(
            "{:<12} {:>10}       {}\n",
            v.name, "view", v.description
        ));
    }
    out.trim_end().to_string()
}

/// `\d TABLE`: the columns with their types and docs.
pub fn describe_table(session: &LakeSession, name: &str) -> Option<String> {
    let mut out = String::new();
    if let Some(table) = Table::from_name(name) {
        let schema = table.schema();
        out.push_str(&format!("{} — {}\n", table.name(), schema.doc));
        for c in &schema.columns {
            let ty: Cow<str> = if c.nullable {
                format!("{}?", c.column_type.display_name()).into()
            } else {
                c.column_type.display_name().into()
            };
            let allowed = c
                .allowed
                .as_ref()
                .map(|a| format!(" [{}]", a.join(", ")))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {:<22} {:<22} {}{}\n",
                c.name, ty, c.doc, allowed
            ));
        }
        out.push_str(&format!(
            "  {:<22} {:<22} {}\n",
            "dataset", "utf8", "the dataset, from the partition folder dataset=<name>"
        ));
        return Some(out.trim_end().to_string());
    }
    let provider = futures::executor::block_on(session.ctx.table_provider(name)).ok()?;
    out.push_str(&format!("{name} (view)\n"));
    for f in provider.schema().fields() {
        out.push_str(&format!("  {:<22} {}\n", f.name(), f.data_type()));
    }
    Some(out.trim_end().to_string())
}
