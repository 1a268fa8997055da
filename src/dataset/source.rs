//! Finding and reading metadata files: files are found by their real names
//! at ROOT or at most two folders below it (ignoring `__MACOSX/` and
//! dot-files); CSV and XLSX sheets are read into [`RawTable`]s whose columns
//! are looked up by header name, so a missing or renamed column is an error
//! that names the file, the expected and the found headers.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader};

use crate::error::{Error, Result};

/// Files under `root` (depth ≤ 2 below it) whose name satisfies `wanted`,
/// sorted by path.
pub fn find_files(root: &Path, wanted: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    find_files_deep(root, 2, wanted)
}

fn walk(
    dir: &Path,
    depth: usize,
    max: usize,
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<PathBuf>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') || name == "__MACOSX" {
            continue;
        }
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
            if depth < max {
                walk(&path, depth + 1, max, wanted, out);
            }
        } else if wanted(&name) {
            out.push(path);
        }
    }
}

/// Like [`find_files`], but down to `max_depth` folders (image trees).
pub fn find_files_deep(
    root: &Path,
    max_depth: usize,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<PathBuf> {
    let mut found = Vec::new();
    walk(root, 0, max_depth, wanted, &mut found);
    found.sort();
    found
}

/// A path relative to `root`, `/`-separated (for `source_file`, `raw_path`).
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A metadata table: a header and data rows, each with its 1-based data row
/// number (`source_row`).
#[derive(Debug, Clone)]
pub struct RawTable {
    /// The file, relative to ROOT.
    pub file: String,
    pub headers: Vec<String>,
    pub rows: Vec<RawRow>,
}

/// One data row of a metadata table: its cells in one buffer (one
/// allocation per row, not per cell).
#[derive(Debug, Clone)]
pub struct RawRow {
    /// 1-based data row (header rows not counted).
    pub number: i64,
    pub cells: csv::StringRecord,
}

impl RawRow {
    /// A cell by column index, trimmed; empty when the row is short.
    pub fn get(&self, column: usize) -> &str {
        self.cells.get(column).map_or("", |c| c.trim())
    }
}

/// A CSV metadata file read one data row at a time, in constant memory:
/// a reader thread parses ahead (so parsing overlaps the caller's work) and
/// hands over rows in small batches. BOM, CRLF, LF inside quoted fields and
/// short rows are tolerated; the header is the first record; rows of blanks
/// are not records (as in pandas).
pub struct CsvRows {
    /// The file, relative to ROOT.
    pub file: String,
    pub headers: Vec<String>,
    batches: std::sync::mpsc::Receiver<Result<Vec<RawRow>>>,
    current: std::vec::IntoIter<RawRow>,
}

/// Rows per batch handed over by a reader thread.
const BATCH_ROWS: usize = 2048;

impl CsvRows {
    /// Opens a CSV file, reads its header and starts parsing the rest.
    pub fn open(root: &Path, path: &Path) -> Result<CsvRows> {
        use std::io::{BufRead, BufReader};
        let file = relative(root, path);
        let handle = std::fs::File::open(path).map_err(Error::io("cannot read", path))?;
        let mut buffered = BufReader::with_capacity(1 << 20, handle);
        let head = buffered
            .fill_buf()
            .map_err(Error::io("cannot read", path))?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            buffered.consume(3);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(buffered);
        let mut record = csv::ByteRecord::new();
        let headers = match reader.read_byte_record(&mut record) {
            Ok(true) => record
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_string())
                .collect(),
            Ok(false) => return Err(Error::Other(format!("{file}: the file is empty"))),
            Err(e) => {
                return Err(Error::Other(format!("{file}: cannot read the header: {e}")));
            }
        };
        let (tx, batches) = std::sync::mpsc::sync_channel(4);
        let name = file.clone();
        std::thread::spawn(move || {
            let mut index = 0i64;
            let mut batch = Vec::with_capacity(BATCH_ROWS);
            loop {
                let more = match reader.read_byte_record(&mut record) {
                    Ok(more) => more,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Other(format!(
                            "{name}: data row {}: {e}",
                            index + 1
                        ))));
                        return;
                    }
                };
                if !more {
                    break;
                }
                index += 1;
                if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                let cells = match csv::StringRecord::from_byte_record(record.clone()) {
                    Ok(cells) => cells,
                    Err(_) => record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect(),
                };
                batch.push(RawRow {
                    number: index,
                    cells,
                });
                if batch.len() == BATCH_ROWS {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
                    if tx.send(Ok(full)).is_err() {
                        return; // the reader was dropped
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(Ok(batch));
            }
        });
        Ok(CsvRows {
            file,
            headers,
            batches,
            current: Vec::new().into_iter(),
        })
    }

    /// The next data row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<RawRow>> {
        loop {
            if let Some(row) = self.current.next() {
                return Ok(Some(row));
            }
            match self.batches.recv() {
                Ok(batch) => self.current = batch?.into_iter(),
                Err(_) => return Ok(None), // the thread is done
            }
        }
    }

    /// The index of a column, by any of its known header spellings (see
    /// [`RawTable::column`]).
    pub fn column(&self, names: &[&str]) -> Result<usize> {
        column_index(&self.file, &self.headers, names)
    }
}

impl RawTable {
    /// Reads a whole CSV file (see [`CsvRows`] for what is tolerated).
    pub fn read_csv(root: &Path, path: &Path) -> Result<RawTable> {
        let mut reader = CsvRows::open(root, path)?;
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row()? {
            rows.push(row);
        }
        Ok(RawTable {
            file: reader.file,
            headers: reader.headers,
            rows,
        })
    }

    /// Reads one sheet of an XLSX workbook. `header_rows` rows form the
    /// header (their texts joined per column with a space, merged cells
    /// blank); data rows follow. Rows whose cells are all empty are skipped
    /// (they are not records).
    pub fn read_xlsx(
        root: &Path,
        path: &Path,
        sheet: Option<&str>,
        header_rows: usize,
    ) -> Result<RawTable> {
        let file = relative(root, path);
        let mut workbook = calamine::open_workbook_auto(path)
            .map_err(|e| Error::Other(format!("{file}: cannot open the workbook: {e}")))?;
        let names = workbook.sheet_names().to_vec();
        let name = match sheet {
            Some(s) => names
                .iter()
                .find(|n| n.trim().eq_ignore_ascii_case(s))
                .cloned()
                .ok_or_else(|| {
                    Error::Other(format!(
                        "{file}: no sheet `{s}`; sheets: {}",
                        names.join(", ")
                    ))
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| Error::Other(format!("{file}: the workbook has no sheet")))?,
        };
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| Error::Other(format!("{file}: sheet `{name}`: {e}")))?;
        let mut all = range.rows();
        let mut headers: Vec<String> = Vec::new();
        for _ in 0..header_rows {
            let Some(row) = all.next() else { break };
            for (i, cell) in row.iter().enumerate() {
                let text = cell_text(cell);
                if headers.len() <= i {
                    headers.resize(i + 1, String::new());
                }
                if !text.is_empty() {
                    if !headers[i].is_empty() {
                        headers[i].push(' ');
                    }
                    headers[i].push_str(text.trim());
                }
            }
        }
        let mut rows = Vec::new();
        for (i, row) in all.enumerate() {
            let cells: csv::StringRecord = row.iter().map(cell_text).collect();
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            rows.push(RawRow {
                number: i as i64 + 1,
                cells,
            });
        }
        Ok(RawTable {
            file,
            headers,
            rows,
        })
    }

    /// The index of a column, by any of its known header spellings
    /// (compared trimmed and case-insensitively). A missing column is an
    /// error naming the file, the expected names and the headers found.
    pub fn column(&self, names: &[&str]) -> Result<usize> {
        column_index(&self.file, &self.headers, names)
    }
}

fn column_index(file: &str, headers: &[String], names: &[&str]) -> Result<usize> {
    headers
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        .ok_or_else(|| {
            Error::Other(format!(
                "{file}: no column {} (found: {})",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                headers
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// A cell's text: integers without `.0`, empty for empty cells.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_bom_crlf_and_lf_in_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, b"\xEF\xBB\xBFid,path \r\n1,\"x/y\n\"\r\n\r\n2,z\r\n").unwrap();
        let t = RawTable::read_csv(dir.path(), &path).unwrap();
        assert_eq!(t.headers, ["id", "path"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].get(1), "x/y");
        // Blank lines are not rows (as in pandas).
        assert_eq!(t.rows[1].number, 2);
        assert_eq!(t.column(&["PATH"]).unwrap(), 1);
        let err = t
            .column(&["breast density", "breast_density"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "a.csv: no column `breast density` or `breast_density` (found: `id`, `path`)"
        );
    }

    #[test]
    fn finds_files_two_levels_down_but_not_in_macosx() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(dir.path().join("__MACOSX/a")).unwrap();
        std::fs::create_dir_all(dir.path().join("a/b/c")).unwrap();
        std::fs::write(deep.join("x.csv"), "").unwrap();
        std::fs::write(dir.path().join("__MACOSX/a/x.csv"), "").unwrap();
        std::fs::write(dir.path().join("a/b/c/x.csv"), "").unwrap();
        std::fs::write(dir.path().join("._x.csv"), "").unwrap();
        let found = find_files(dir.path(), &|n| n.ends_with("x.csv"));
        assert_eq!(found, vec![deep.join("x.csv")]);
    }
}
