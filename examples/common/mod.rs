//! What the examples share.

use std::path::{Path, PathBuf};

/// Every `.dcm`/`.dicom` file under `dir`, appended to `out`.
pub fn dicom_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            dicom_files(&path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("dcm") || e.eq_ignore_ascii_case("dicom"))
        {
            out.push(path);
        }
    }
    Ok(())
}
