//! A DataFusion session over one lake. Each lake table is a `LakeTable`: it
//! reads exactly the Parquet files the manifest lists (never a folder
//! listing, so a commit in progress is invisible), with `dataset` taken from
//! the manifest as a partition column. SQL that would change the lake is
//! refused before planning.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{ObjectName, Statement as SqlStatement};
use datafusion::sql::sqlparser::dialect::GenericDialect;

use crate::error::{Error, Result};
use crate::lake::schema::DATASET_COLUMN;
use crate::lake::{Lake, Table};
use crate::query::assets;

/// Names SQL may read but never change: the lake tables and shared views.
fn protected_names() -> Vec<String> {
    Table::ALL
        .iter()
        .map(|t| t.name().to_string())
        .chain(assets::views().iter().map(|v| v.name.to_string()))
        .collect()
}

/// A lake table: exactly the files its manifest lists.
#[derive(Debug)]
struct LakeTable {
    file_schema: SchemaRef,
    schema: SchemaRef,
    /// (absolute path, size, dataset)
    files: Vec<(PathBuf, u64, String)>,
}

impl LakeTable {
    fn new(lake: &Lake, table: Table) -> LakeTable {
        let declared = table.schema().arrow_schema(lake.manifest.tensor_shape());
        // DataFusion reads Parquet strings as Utf8View; declare them so.
        let file_schema = Arc::new(Schema::new(
            declared
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8 | DataType::LargeUtf8 => {
                        f.as_ref().clone().with_data_type(DataType::Utf8View)
                    }
                    _ => f.as_ref().clone(),
                })
                .collect::<Vec<_>>(),
        ));
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(dataset_field());
        let files = lake
            .manifest
            .files(table)
            .iter()
            .map(|f| (lake.layout.file(f), f.bytes, f.dataset.clone()))
            .collect();
        LakeTable {
            file_schema,
            schema: Arc::new(Schema::new(fields)),
            files,
        }
    }

    /// Datasets a filter set allows (`dataset = 'x'`, `dataset IN (...)`),
    /// or None when the filters do not restrict the dataset.
    fn datasets_allowed(filters: &[Expr]) -> Option<Vec<String>> {
        let mut allowed: Option<Vec<String>> = None;
        for f in filters {
            let values = match f {
                Expr::BinaryExpr(b) if b.op == datafusion::logical_expr::Operator::Eq => {
                    match (b.left.as_ref(), b.right.as_ref()) {
                        (Expr::Column(c), Expr::Literal(v, _))
                        | (Expr::Literal(v, _), Expr::Column(c))
                            if c.name == DATASET_COLUMN =>
                        {
                            literal_string(v).map(|s| vec![s])
                        }
                        _ => None,
                    }
                }
                Expr::InList(list) if !list.negated => match list.expr.as_ref() {
                    Expr::Column(c) if c.name == DATASET_COLUMN => list
                        .list
                        .iter()
                        .map(|e| match e {
                            Expr::Literal(v, _) => literal_string(v),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                },
                _ => None,
            };
            if let Some(values) = values {
                allowed = Some(match allowed {
                    None => values,
                    Some(prev) => prev.into_iter().filter(|d| values.contains(d)).collect(),
                });
            }
        }
        allowed
    }
}

fn literal_string(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Some(s.clone()),
        ScalarValue::Dictionary(_, inner) => literal_string(inner),
        _ => None,
    }
}

fn dataset_field() -> Field {
    Field::new(DATASET_COLUMN, DataType::Utf8, false)
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        // Filters are used to skip other datasets' files and are pushed into
        // the Parquet reader by the optimizer; DataFusion re-applies them.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let allowed = LakeTable::datasets_allowed(filters);
        let files: Vec<&(PathBuf, u64, String)> = self
            .files
            .iter()
            .filter(|(_, _, d)| allowed.as_ref().is_none_or(|a| a.contains(d)))
            .collect();
        if files.is_empty() {
            let projected = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => Arc::clone(&self.schema),
            };
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let table_schema = TableSchema::builder(Arc::clone(&self.file_schema))
            .with_table_partition_cols(vec![Arc::new(dataset_field())])
            .build();
        let source = format.file_source(table_schema);
        let target = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); target.min(files.len())];
        for (i, (path, size, dataset)) in files.into_iter().enumerate() {
            let location = object_store::path::Path::from_absolute_path(path)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            let file = PartitionedFile::new(location.to_string(), *size)
                .with_partition_values(vec![ScalarValue::Utf8(Some(dataset.clone()))]);
            let n = groups.len();
            groups[i % n].push(file);
        }
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// A query session over one lake.
pub struct LakeSession {
    pub ctx: SessionContext,
    pub lake: Lake,
    lake_root: PathBuf,
}

impl LakeSession {
    /// Opens the lake at `root` and registers its tables and views.
    pub async fn open(root: &Path) -> Result<LakeSession> {
        // DataFusion addresses files by URL, which needs an absolute path
        // (`--lake mcq-lake` and the default `./mcq-lake` are relative).
        let lake_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let lake = Lake::open(&lake_root)?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .set_bool("datafusion.execution.parquet.skip_metadata", false)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true);
        let ctx = SessionContext::new_with_config(config);
        for table in Table::ALL {
            ctx.register_table(table.name(), Arc::new(LakeTable::new(&lake, table)))?;
        }
        for view in assets::views() {
            ctx.sql(&format!(
                "CREATE VIEW {} AS {}",
                view.name,
                strip_comments(view.sql)
            ))
            .await?;
        }
        Ok(LakeSession {
            ctx,
            lake,
            lake_root,
        })
    }

    /// Plans one SQL statement, refusing anything that would change the lake.
    /// DDL on session-only objects (a `CREATE VIEW` of your own) runs now.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let mut statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})?;
        if statements.len() != 1 {
            return Err(Error::Usage(format!(
                "expected one SQL statement, found {}",
                statements.len()
            )));
        }
        let statement = statements.pop_front().expect("one statement");
        self.guard(&statement)?;
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| self.explain_error(e))?;
        self.ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| self.explain_error(e))
    }

    /// Table and view names of the session, sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .ctx
            .catalog("datafusion")
            .and_then(|c| c.schema("public"))
            .map(|s| s.table_names())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn explain_error(&self, e: datafusion::error::DataFusionError) -> Error {
        let message = e.to_string();
        if message.contains("not found") && message.contains("table") {
            return Error::Other(format!(
                "{message}\nthe lake's tables: {}",
                self.table_names().join(", ")
            ));
        }
        Error::DataFusion(e)
    }

    fn guard(&self, statement: &DfStatement) -> Result<()> {
        let protected = protected_names();
        let is_protected = |name: &ObjectName| {
            let text = name.to_string();
            let last = text.rsplit('.').next().unwrap_or(&text);
            let last = last.trim_matches('"').trim_matches('`').to_lowercase();
            protected.contains(&last)
        };
        let refuse = |kind: &str| {
            Err(Error::ReadOnly {
                statement: kind.to_string(),
            })
        };
        match statement {
            DfStatement::Statement(s) => match s.as_ref() {
                SqlStatement::Insert(_) => refuse("INSERT"),
                SqlStatement::Update(_) => refuse("UPDATE"),
                SqlStatement::Delete(_) => refuse("DELETE"),
                SqlStatement::Truncate(_) => refuse("TRUNCATE"),
                SqlStatement::Merge(_) => refuse("MERGE"),
                SqlStatement::Drop { names, .. } if names.iter().any(is_protected) => {
                    refuse("DROP of a lake table")
                }
                SqlStatement::CreateTable(c) if is_protected(&c.name) => {
                    refuse("CREATE TABLE over a lake table")
                }
                SqlStatement::CreateView(c) if is_protected(&c.name) => {
                    refuse("CREATE VIEW over a lake table")
                }
                SqlStatement::AlterTable(a) if is_protected(&a.name) => refuse("ALTER TABLE"),
                _ => Ok(()),
            },
            DfStatement::CreateExternalTable(c) => {
                if protected.contains(&c.name.to_string().to_lowercase()) {
                    return refuse("CREATE EXTERNAL TABLE over a lake table");
                }
                if c.locations.iter().any(|l| self.inside_lake(l)) {
                    return refuse("CREATE EXTERNAL TABLE inside the lake folder");
                }
                Ok(())
            }
            DfStatement::CopyTo(copy) => {
                if self.inside_lake(&copy.target) {
                    return refuse(&format!(
                        "COPY TO '{}' (inside the lake folder)",
                        copy.target
                    ));
                }
                Ok(())
            }
            DfStatement::Explain(e) => self.guard(&e.statement),
            DfStatement::Reset(_) => Ok(()),
        }
    }

    /// Whether a path (as written in SQL) lies inside the lake folder.
    fn inside_lake(&self, target: &str) -> bool {
        let target = target.strip_prefix("file://").unwrap_or(target);
        let path = Path::new(target);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(path)
        };
        // Resolve the longest existing ancestor (the target may not exist yet).
        let mut existing = absolute.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut resolved =
            std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
        for part in rest.iter().rev() {
            resolved.push(part);
        }
        resolved.starts_with(&self.lake_root)
    }
}

/// Drops `--` comment lines so an SQL file can be embedded in a statement.
pub fn strip_comments(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .trim_end_matches(';')
        .to_string()
}
