//! The SQL files embedded in the binary: shared views (`sql/views/*.sql`)
//! and, later, the bias reports. Each file starts with `-- name:` and
//! `-- description:` lines and stays runnable by other engines.

/// An embedded SQL file.
#[derive(Debug, Clone, Copy)]
pub struct SqlAsset {
    pub name: &'static str,
    pub description: &'static str,
    /// The whole file, header comments included.
    pub sql: &'static str,
}

/// Reads the `-- name:` / `-- description:` header of an SQL file.
pub fn parse_header(sql: &'static str) -> (Option<&'static str>, Option<&'static str>) {
    let mut name = None;
    let mut description = None;
    for line in sql.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("-- name:") {
            name = Some(rest.trim());
        } else if let Some(rest) = line.strip_prefix("-- description:") {
            description = Some(rest.trim());
        } else if !line.starts_with("--") && !line.is_empty() {
            break;
        }
    }
    (name, description)
}

fn asset(sql: &'static str) -> SqlAsset {
    let (name, description) = parse_header(sql);
    SqlAsset {
        name: name.expect("every embedded SQL file has a `-- name:` line"),
        description: description.unwrap_or(""),
        sql,
    }
}

/// The shared views, created in every session (and by other engines from
/// the same files).
pub fn views() -> Vec<SqlAsset> {
    vec![asset(include_str!("../../sql/views/exams.sql"))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_have_headers() {
        for v in views() {
            assert!(!v.name.is_empty());
            assert!(!v.description.is_empty(), "{} has no description", v.name);
        }
    }
}
