//! Safe output paths for per-image files: `DIR/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].png`,
//! the naming of `mcq ingest --keep-processed DIR` (SPEC §5.5) and of `mcq
//! export png` (SPEC §3), shared so that both write the same tree.
//!
//! Identifiers come from dataset files and are hostile until proven
//! otherwise: [`sanitize_component`] keeps `[A-Za-z0-9._-]`, replaces every
//! other character with `_`, never yields an empty, `.` or `..` component,
//! and caps the length; [`ImageNamer`] numbers repeated views of one patient
//! (`L_CC.png`, `L_CC_2.png`, ...) and skips names already on disk, so no
//! file is ever overwritten; every final path is checked to stay under DIR.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Longest path component written (bytes; the sanitized text is ASCII).
pub const MAX_COMPONENT: usize = 80;

/// One safe path component: characters outside `[A-Za-z0-9._-]` become
/// `_`; a leading `.` becomes `_` (so no `.`, `..` or hidden names); an
/// empty value becomes `_`; a value longer than [`MAX_COMPONENT`] is cut
/// and ends with a hash of the whole value, so long ids stay distinct.
pub fn sanitize_component(raw: &str) -> String {
    let mut safe: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.starts_with('.') {
        safe.replace_range(0..1, "_");
    }
    if safe.is_empty() {
        safe.push('_');
    }
    if safe.len() > MAX_COMPONENT {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(raw.as_bytes()));
        safe.truncate(MAX_COMPONENT - 13);
        safe.push('-');
        safe.push_str(&digest[..12]);
    }
    safe
}

/// Creates `dir` (relative to `out`) one folder at a time, refusing to go
/// through anything that is not a plain folder: a link planted in OUT could
/// otherwise lead outside it.
pub fn create_dirs_under(out: &Path, dir: &Path) -> Result<()> {
    if !dir.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::Other(format!(
            "internal: output path {} is not a plain relative path",
            dir.display()
        )));
    }
    let mut current = out.to_path_buf();
    for part in dir.components() {
        current.push(part);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::Other(format!(
                    "{} is a link or a file, not a folder: refusing to write through it (it could lead outside {})",
                    current.display(),
                    out.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&current).map_err(Error::io("cannot create", &current))?;
            }
            Err(e) => return Err(Error::io("cannot read", &current)(e)),
        }
    }
    Ok(())
}

/// `DIR/<parts...>` built from already-sanitized components, refused unless
/// every component is a plain name and the result stays under `dir`.
pub fn join_under(dir: &Path, parts: &[&str]) -> Result<PathBuf> {
    let mut path = dir.to_path_buf();
    for part in parts {
        let mut components = Path::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(_)), None) if !part.contains(['/', '\\']) => path.push(part),
            _ => {
                return Err(Error::Usage(format!(
                    "refused to write outside {}: path component {part:?}",
                    dir.display()
                )));
            }
        }
    }
    if !path.starts_with(dir) {
        return Err(Error::Usage(format!(
            "refused to write outside {}: {}",
            dir.display(),
            path.display()
        )));
    }
    Ok(path)
}

/// Hands out `DIR/<dataset>/<patient>/<L|R>_<VIEW>[_<n>].<ext>` paths: the
/// first image of a view gets no number, the next ones `_2`, `_3`, ...; a
/// name already given out or already on disk is never given again.
#[derive(Debug)]
pub struct ImageNamer {
    dir: PathBuf,
    extension: String,
    taken: HashSet<PathBuf>,
}

impl ImageNamer {
    /// A namer for files with `extension` (without the dot) under `dir`.
    pub fn new(dir: &Path, extension: &str) -> ImageNamer {
        ImageNamer {
            dir: dir.to_path_buf(),
            extension: sanitize_component(extension),
            taken: HashSet::new(),
        }
    }

    /// The next free path for one image. `laterality` is `L`/`R` (anything
    /// else is sanitized as is); a missing view is `UNKNOWN`.
    pub fn next(
        &mut self,
        dataset: &str,
        patient: &str,
        laterality: &str,
        view: Option<&str>,
    ) -> Result<PathBuf> {
        let dataset = sanitize_component(dataset);
        let patient = sanitize_component(patient);
        let stem = sanitize_component(&format!(
            "{}_{}",
            laterality.trim(),
            view.map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or("UNKNOWN")
        ));
        for n in 1..=u32::MAX {
            let name = if n == 1 {
                format!("{stem}.{}", self.extension)
            } else {
                format!("{stem}_{n}.{}", self.extension)
            };
            let path = join_under(&self.dir, &[&dataset, &patient, &name])?;
            // Any entry on disk counts as taken, a dangling link included.
            if !self.taken.contains(&path) && std::fs::symlink_metadata(&path).is_err() {
                self.taken.insert(path.clone());
                return Ok(path);
            }
        }
        Err(Error::Usage(format!(
            "no free file name for {patient}/{stem} under {}",
            self.dir.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_sanitized() {
        for (raw, want) in [
            ("P_00001", "P_00001"),
            ("D1-0001.x", "D1-0001.x"),
            ("", "_"),
            (".", "_"),
            ("..", "_."),
            ("...", "_.."),
            (".hidden", "_hidden"),
            ("../../etc/passwd", "_._.._etc_passwd"),
            ("a/b\\c", "a_b_c"),
            ("/abs", "_abs"),
            ("naïve name", "na_ve_name"),
            ("C:", "C_"),
            ("nul\0byte", "nul_byte"),
        ] {
            assert_eq!(sanitize_component(raw), want, "{raw:?}");
        }
        let long = sanitize_component(&"x".repeat(500));
        assert_eq!(long.len(), MAX_COMPONENT);
        assert_ne!(
            long,
            sanitize_component(&"x".repeat(501)),
            "long ids stay distinct"
        );
    }

    #[test]
    fn sanitized_components_are_plain_names() {
        for raw in ["..", ".", "", "../..", "/", "\\..\\", "a/../../b", "\0"] {
            let safe = sanitize_component(raw);
            let path = Path::new(&safe);
            assert!(
                path.components().all(|c| matches!(c, Component::Normal(_))),
                "{raw:?} -> {safe:?}"
            );
            assert_eq!(path.components().count(), 1, "{raw:?} -> {safe:?}");
        }
    }

    #[test]
    fn join_refuses_escapes() {
        let dir = Path::new("/out");
        assert_eq!(
            join_under(dir, &["a", "b.png"]).unwrap(),
            Path::new("/out/a/b.png")
        );
        for bad in ["..", ".", "", "a/b", "/etc", "a\\b"] {
            assert!(join_under(dir, &["ok", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn repeated_views_are_numbered_and_disk_files_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let mut namer = ImageNamer::new(tmp.path(), "png");
        let a = namer.next("cmmd", "D1-0001", "L", Some("CC")).unwrap();
        let b = namer.next("cmmd", "D1-0001", "L", Some("CC")).unwrap();
        let c = namer.next("cmmd", "D1-0001", "R", None).unwrap();
        assert!(a.ends_with("cmmd/D1-0001/L_CC.png"), "{a:?}");
        assert!(b.ends_with("cmmd/D1-0001/L_CC_2.png"), "{b:?}");
        assert!(c.ends_with("cmmd/D1-0001/R_UNKNOWN.png"), "{c:?}");
        // A second namer (a second run) does not reuse what is on disk.
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::write(&a, b"x").unwrap();
        let mut again = ImageNamer::new(tmp.path(), "png");
        let d = again.next("cmmd", "D1-0001", "L", Some("CC")).unwrap();
        assert!(d.ends_with("cmmd/D1-0001/L_CC_2.png"), "{d:?}");
        // Hostile identifiers stay under the folder.
        let e = again.next("..", "../../x", "L/..", Some("..")).unwrap();
        assert!(e.starts_with(tmp.path()), "{e:?}");
        assert!(e.ends_with("_./_._.._x/L_.._...png"), "{e:?}");
    }
}
