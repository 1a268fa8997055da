//! Writes data into the lake with an atomic commit (SPEC §4):
//! 1. data files are written under `_mcq/tmp/<commit>/`;
//! 2. a journal (`_mcq/journal.json`) records the moves and the files replaced;
//! 3. the files are moved into the table folders under new, unique names;
//! 4. the manifest is replaced by rename — the commit point;
//! 5. the replaced files, the journal and the temporary folder are deleted.
//!
//! A writer holds `_mcq/lock` (an OS file lock, released when the process
//! dies) for its whole life, so a second writer fails at once. When a writer
//! opens a lake it first finishes or rolls back any commit a killed writer
//! left behind: forward if the manifest names that commit, back otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, FixedSizeListArray, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescPtr, ColumnPath};

/// Parquet path of the `images.tensor` samples.
fn tensor_item_path() -> ColumnPath {
    ColumnPath::new(vec!["tensor".into(), "list".into(), "item".into()])
}
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::lake::Layout;
use crate::lake::batch::{LakeRow, to_batch};
use crate::lake::manifest::{DEFAULT_TENSOR_SHAPE, DatasetInfo, FileEntry, IngestRun, Manifest};
use crate::lake::schema::Table;
use crate::lake::tensor_chunk::TensorChunk;

/// Names a point of the commit where a test may make the process abort, to
/// show that a killed writer leaves a consistent lake
/// (`MCQ_TEST_ABORT_AT=staged|moved|committed`).
const ABORT_ENV: &str = "MCQ_TEST_ABORT_AT";

fn abort_point(name: &str) {
    if std::env::var(ABORT_ENV).is_ok_and(|v| v == name) {
        eprintln!("mcq: aborting at commit point `{name}` ({ABORT_ENV})");
        std::process::abort();
    }
}

/// The journal of a commit in progress.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    commit_id: String,
    /// (temporary path, final path), relative to the lake root.
    moves: Vec<(String, String)>,
    /// Files the commit replaces, deleted once the manifest is replaced.
    replaced: Vec<String>,
}

/// A data file being written: bytes are hashed as they go out.
struct HashingFile {
    inner: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Rows per Parquet row group and per file, by table: tensors are large.
fn limits(table: Table, tensor_shape: (usize, usize)) -> (usize, usize) {
    match table {
        Table::Images => {
            let pixels = (tensor_shape.0 * tensor_shape.1).max(1);
            // ~8 MiB of tensor per row group (a row group is what one
            // thread encodes, see `GroupEncoder`; the rows of a group or
            // two wait in memory meanwhile), ~1 GiB per file.
            let group = (4 * 1024 * 1024 / pixels).clamp(1, 65536);
            (group, group * 128)
        }
        _ => (128 * 1024, 4 * 1024 * 1024),
    }
}

/// A file being written: batches that arrow-rs buffers into row groups
/// ([`PartWriter::write_rows`]), or row groups encoded elsewhere
/// ([`PartWriter::append_group`]).
enum OpenFile {
    Batches(ArrowWriter<HashingFile>),
    Groups(SerializedFileWriter<HashingFile>),
}

/// One row group's Parquet column chunks, encoded by [`GroupEncoder`].
pub struct EncodedGroup {
    chunks: Vec<Chunk>,
    rows: usize,
}

/// A column chunk encoded by arrow-rs, or the tensor's, by [`TensorChunk`].
enum Chunk {
    Arrow(ArrowColumnChunk),
    Tensor(bytes::Bytes, ColumnCloseResult),
}

/// Encodes row groups of one table on any thread, so that the tensors of an
/// image ingest are encoded by the workers that made them, not by the one
/// thread that writes the file (encoding is most of the write's CPU);
/// [`PartWriter::append_group`] then writes the groups in order. The tensor
/// column is encoded by [`TensorChunk`] (same format, a fraction of the CPU
/// of arrow-rs's generic column writer), every other column by arrow-rs.
#[derive(Clone)]
pub struct GroupEncoder {
    factory: Arc<ArrowRowGroupWriterFactory>,
    schema: SchemaRef,
    tensor_shape: (usize, usize),
    /// Where errors point (the part's temporary folder).
    dir: PathBuf,
    /// Rows a row group should hold.
    pub group_rows: usize,
    /// The tensor column's field and leaf index and its Parquet column,
    /// which [`TensorChunk`] encodes.
    tensor: Option<(usize, usize, ColumnDescPtr)>,
}

/// Rows converted to Arrow and handed to the column writers at a time
/// (arrow-rs materializes levels for every tensor sample of a batch).
const ENCODE_SLICE_ROWS: usize = 4;

impl GroupEncoder {
    /// Whether this table's tensor column is encoded by [`TensorChunk`]
    /// (true for `images`).
    pub fn encodes_tensor(&self) -> bool {
        self.tensor.is_some()
    }

    /// Encodes `rows` (at most [`Self::group_rows`]) as one row group.
    pub fn encode<R: LakeRow>(&self, rows: &[R]) -> Result<EncodedGroup> {
        let parquet = Error::parquet(&self.dir);
        let mut writers = self.factory.create_column_writers(0).map_err(&parquet)?;
        let mut tensor = self.tensor.as_ref().map(|(field, leaf, descr)| {
            let samples = rows.len() * self.tensor_shape.0 * self.tensor_shape.1;
            (*field, *leaf, TensorChunk::new(descr.clone(), samples))
        });
        for slice in rows.chunks(ENCODE_SLICE_ROWS) {
            // `to_batch` validates what it builds.
            let batch = to_batch(slice, self.tensor_shape)?;
            let mut next = writers.iter_mut();
            for (i, (field, column)) in self.schema.fields().iter().zip(batch.columns()).enumerate()
            {
                if let Some((_, _, chunk)) = tensor.as_mut().filter(|(f, ..)| *f == i) {
                    let list = column.as_any().downcast_ref::<FixedSizeListArray>();
                    let list =
                        list.ok_or_else(|| Error::Other("tensor is not a fixed-size list".into()))?;
                    chunk.write(list).map_err(&parquet)?;
                    next.next();
                    continue;
                }
                for leaf in compute_leaves(field, column).map_err(&parquet)? {
                    let writer = next.next().ok_or_else(|| {
                        Error::Other(format!("{}: more leaf columns than writers", field.name()))
                    })?;
                    writer.write(&leaf).map_err(&parquet)?;
                }
            }
        }
        let mut tensor = tensor.map(|(_, leaf, chunk)| (leaf, chunk));
        let mut chunks = Vec::with_capacity(writers.len());
        for (leaf, writer) in writers.into_iter().enumerate() {
            chunks.push(match tensor.take_if(|(l, _)| *l == leaf) {
                Some((_, chunk)) => {
                    let (bytes, close) = chunk.close().map_err(&parquet)?;
                    Chunk::Tensor(bytes, close)
                }
                None => Chunk::Arrow(writer.close().map_err(&parquet)?),
            });
        }
        Ok(EncodedGroup {
            chunks,
            rows: rows.len(),
        })
    }
}

/// Streams the batches of one (table, dataset) into temporary Parquet files,
/// starting a new file when one is full.
pub struct PartWriter {
    table: Table,
    dataset: String,
    tmp_dir: PathBuf,
    commit_id: String,
    tensor_shape: (usize, usize),
    rows_per_file: usize,
    rows_per_group: usize,
    props: WriterProperties,
    current: Option<(OpenFile, String, u64)>,
    done: Vec<StagedFile>,
    sequence: usize,
}

/// A finished temporary data file.
#[derive(Debug, Clone)]
struct StagedFile {
    table: Table,
    tmp_path: PathBuf,
    entry: FileEntry,
}

impl PartWriter {
    /// Writes one batch; it must match the table's schema.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.table.schema().validate(batch, self.tensor_shape)?;
        self.append(batch)
    }

    /// Writes a batch already validated against the table's schema.
    fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let (per_file, dir) = (self.rows_per_file, self.tmp_dir.clone());
        let mut offset = 0;
        while offset < batch.num_rows() {
            let (writer, rows) = match self.open(false)? {
                (OpenFile::Batches(writer), rows) => (writer, rows),
                (OpenFile::Groups(_), _) => unreachable!("`open(false)` opens batches"),
            };
            let take = (per_file - *rows as usize).min(batch.num_rows() - offset);
            writer
                .write(&batch.slice(offset, take))
                .map_err(Error::parquet(&dir))?;
            *rows += take as u64;
            offset += take;
            if *rows as usize >= per_file {
                self.close_file()?;
            }
        }
        Ok(())
    }

    /// Converts rows to a batch and writes it.
    pub fn write_rows<R: LakeRow>(&mut self, rows: &[R]) -> Result<()> {
        debug_assert_eq!(R::TABLE, self.table);
        if rows.is_empty() {
            return Ok(());
        }
        // `to_batch` validates what it builds.
        let batch = to_batch(rows, self.tensor_shape)?;
        self.append(&batch)
    }

    /// An encoder of this part's row groups, for other threads.
    pub fn group_encoder(&self) -> Result<GroupEncoder> {
        let schema = self.table.schema().arrow_schema(self.tensor_shape);
        // The factory depends on the schema and properties only: made once,
        // with no file behind it.
        let (_, factory) =
            ArrowWriter::try_new(std::io::sink(), schema.clone(), Some(self.props.clone()))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(Error::parquet(&self.tmp_dir))?;
        // The tensor's leaf column, as the file's schema describes it.
        let leaves = ArrowSchemaConverter::new()
            .with_coerce_types(self.props.coerce_types())
            .convert(&schema)
            .map_err(Error::parquet(&self.tmp_dir))?;
        let path = tensor_item_path();
        let tensor = path.parts().first().and_then(|name| {
            let field = schema.index_of(name).ok()?;
            let leaf = leaves.columns().iter().position(|c| *c.path() == path)?;
            Some((field, leaf, leaves.column(leaf)))
        });
        Ok(GroupEncoder {
            factory: Arc::new(factory),
            tensor,
            schema,
            tensor_shape: self.tensor_shape,
            dir: self.tmp_dir.clone(),
            group_rows: self.rows_per_group,
        })
    }

    /// Writes a row group from [`GroupEncoder::encode`] (files end at
    /// group boundaries).
    pub fn append_group(&mut self, group: EncodedGroup) -> Result<()> {
        if group.rows == 0 {
            return Ok(());
        }
        let dir = self.tmp_dir.clone();
        let parquet = Error::parquet(&dir);
        let rows_per_file = self.rows_per_file;
        let (writer, rows) = match self.open(true)? {
            (OpenFile::Groups(writer), rows) => (writer, rows),
            (OpenFile::Batches(_), _) => unreachable!("`open(true)` opens groups"),
        };
        let mut row_group = writer.next_row_group().map_err(&parquet)?;
        for chunk in group.chunks {
            match chunk {
                Chunk::Arrow(chunk) => chunk.append_to_row_group(&mut row_group),
                Chunk::Tensor(bytes, close) => row_group.append_column(&bytes, close),
            }
            .map_err(&parquet)?;
        }
        row_group.close().map_err(&parquet)?;
        *rows += group.rows as u64;
        if *rows as usize >= rows_per_file {
            self.close_file()?;
        }
        Ok(())
    }

    /// The open file and its row count, opened for `groups` (or batches);
    /// a file of the other kind is closed first.
    fn open(&mut self, groups: bool) -> Result<(&mut OpenFile, &mut u64)> {
        if matches!(&self.current, Some((f, ..)) if matches!(f, OpenFile::Groups(_)) != groups) {
            self.close_file()?;
        }
        if self.current.is_none() {
            self.open_file(groups)?;
        }
        let (file, _, rows) = self.current.as_mut().expect("file is open");
        Ok((file, rows))
    }

    fn open_file(&mut self, groups: bool) -> Result<()> {
        let file_name = format!("part-{}-{:05}.parquet", self.commit_id, self.sequence);
        self.sequence += 1;
        let path = self.tmp_dir.join(&file_name);
        let file = File::create(&path).map_err(Error::io("cannot create", &path))?;
        let sink = HashingFile {
            inner: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let schema = self.table.schema().arrow_schema(self.tensor_shape);
        // Through ArrowWriter either way, so that the file carries the Arrow
        // schema (the tensor's extension type) in its metadata.
        let writer = ArrowWriter::try_new(sink, schema, Some(self.props.clone()));
        let file = match groups {
            false => writer.map(OpenFile::Batches),
            true => writer
                .and_then(ArrowWriter::into_serialized_writer)
                .map(|(w, _)| OpenFile::Groups(w)),
        }
        .map_err(Error::parquet(&path))?;
        self.current = Some((file, file_name, 0));
        Ok(())
    }

    fn close_file(&mut self) -> Result<()> {
        let Some((writer, file_name, rows)) = self.current.take() else {
            return Ok(());
        };
        let path = self.tmp_dir.join(&file_name);
        let sink = match writer {
            OpenFile::Batches(w) => w.into_inner(),
            OpenFile::Groups(w) => w.into_inner(),
        }
        .map_err(Error::parquet(&path))?;
        let HashingFile {
            inner,
            hasher,
            bytes,
        } = sink;
        let file = inner
            .into_inner()
            .map_err(|e| Error::io("cannot write", &path)(e.into_error()))?;
        file.sync_all().map_err(Error::io("cannot sync", &path))?;
        self.done.push(StagedFile {
            table: self.table,
            tmp_path: path,
            entry: FileEntry {
                path: Layout::relative_file(self.table, &self.dataset, &file_name),
                dataset: self.dataset.clone(),
                rows,
                bytes,
                sha256: hex::encode(hasher.finalize()),
            },
        });
        Ok(())
    }

    /// Drops everything written so far (its temporary files are deleted).
    pub fn discard(mut self) {
        let open = self
            .current
            .take()
            .map(|(_, name, _)| self.tmp_dir.join(name));
        let files = self.done.drain(..).map(|f| f.tmp_path).chain(open);
        for path in files {
            let _ = fs::remove_file(path);
        }
    }

    fn finish(mut self) -> Result<Vec<StagedFile>> {
        self.close_file()?;
        Ok(self.done)
    }
}

/// A dataset's new contents, to be committed in place of its old partition.
pub struct DatasetWrite {
    pub dataset: String,
    pub info: DatasetInfo,
    pub run: IngestRun,
}

/// The writer of a lake: holds the lock until dropped.
pub struct LakeWriter {
    layout: Layout,
    _lock: File,
    manifest: Manifest,
    commit_id: String,
    staged: Vec<StagedFile>,
    datasets: BTreeMap<String, DatasetWrite>,
}

impl LakeWriter {
    /// Opens (or creates) the lake at `root` for writing: takes the lock,
    /// completes or rolls back an interrupted commit, clears temporary files,
    /// and checks the tensor size (`None` takes the lake's, or the default
    /// for a new lake).
    pub fn open(
        root: impl Into<PathBuf>,
        tensor_shape: Option<(usize, usize)>,
    ) -> Result<LakeWriter> {
        let layout = Layout::new(root);
        let mcq_dir = layout.mcq_dir();
        fs::create_dir_all(&mcq_dir).map_err(Error::io("cannot create", &mcq_dir))?;
        let lock = take_lock(&layout)?;
        recover(&layout)?;
        let manifest_path = layout.manifest();
        let manifest = if manifest_path.is_file() {
            let manifest = Manifest::read(&manifest_path)?;
            if let Some(requested) = tensor_shape
                && requested != manifest.tensor_shape()
            {
                let (lake_h, lake_w) = manifest.tensor_shape();
                return Err(Error::TensorSize {
                    lake: layout.root().to_path_buf(),
                    lake_h,
                    lake_w,
                    req_h: requested.0,
                    req_w: requested.1,
                });
            }
            manifest
        } else {
            Manifest::empty(tensor_shape.unwrap_or(DEFAULT_TENSOR_SHAPE))
        };
        let commit_id = new_commit_id(manifest.generation + 1);
        Ok(LakeWriter {
            layout,
            _lock: lock,
            manifest,
            commit_id,
            staged: Vec::new(),
            datasets: BTreeMap::new(),
        })
    }

    /// The lake's tensor size (H, W).
    pub fn tensor_shape(&self) -> (usize, usize) {
        self.manifest.tensor_shape()
    }

    /// The manifest as it was when the writer opened the lake.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Declares that this commit replaces `dataset` (all its tables) with
    /// what is written for it before `commit`.
    pub fn replace_dataset(&mut self, write: DatasetWrite) {
        self.datasets.insert(write.dataset.clone(), write);
    }

    /// A writer for one table of one dataset being replaced.
    pub fn part_writer(&mut self, table: Table, dataset: &str) -> Result<PartWriter> {
        if !self.datasets.contains_key(dataset) {
            return Err(Error::Other(format!(
                "internal: dataset {dataset} written without replace_dataset"
            )));
        }
        let tmp_dir = self
            .layout
            .tmp()
            .join(&self.commit_id)
            .join(table.name())
            .join(format!("dataset={dataset}"));
        fs::create_dir_all(&tmp_dir).map_err(Error::io("cannot create", &tmp_dir))?;
        let (group, per_file) = limits(table, self.tensor_shape());
        // zstd level 1: Parquet encoding is the streaming ingest's slowest
        // stage, and level 3 compressed it ~2x slower for a few % smaller
        // files. Min/max statistics per column chunk (what readers prune
        // row groups with), not per page.
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(1).expect("valid level"),
            ))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_max_row_group_row_count(Some(group))
            // Tensor samples: a dictionary (tried on every value, then
            // abandoned) and page statistics cost more than the rest of the
            // write and help no reader. Delta encoding: neighbouring pixels
            // differ by little, so it packs them into a few bits instead of
            // the 32 of plain INT32 and leaves zstd far less to do (200
            // full-size images: 20 % smaller files, a quarter less write CPU).
            .set_column_dictionary_enabled(tensor_item_path(), false)
            .set_column_statistics_enabled(tensor_item_path(), EnabledStatistics::None)
            .set_column_encoding(tensor_item_path(), Encoding::DELTA_BINARY_PACKED)
            // ... and zstd finds almost nothing left in the packed deltas
            // (200 full-size images: 151.3 MB uncompressed vs 148.5 MB with
            // zstd 1, for a tenth of the write CPU).
            .set_column_compression(tensor_item_path(), Compression::UNCOMPRESSED)
            .set_created_by(format!("mcq {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(PartWriter {
            table,
            dataset: dataset.to_string(),
            tmp_dir,
            commit_id: self.commit_id.clone(),
            tensor_shape: self.tensor_shape(),
            rows_per_file: per_file,
            rows_per_group: group,
            props,
            current: None,
            done: Vec::new(),
            sequence: 0,
        })
    }

    /// Finishes a part writer's files; they become part of this commit.
    pub fn finish_part(&mut self, part: PartWriter) -> Result<()> {
        self.staged.extend(part.finish()?);
        Ok(())
    }

    /// Writes all rows of one table for a dataset (convenience for small tables).
    pub fn write_rows<R: LakeRow>(&mut self, dataset: &str, rows: &[R]) -> Result<()> {
        let mut part = self.part_writer(R::TABLE, dataset)?;
        for chunk in rows.chunks(64 * 1024) {
            part.write_rows(chunk)?;
        }
        self.finish_part(part)
    }

    /// Commits: the datasets declared with `replace_dataset` now consist of
    /// exactly the files written for them. Returns the new manifest.
    pub fn commit(self) -> Result<Manifest> {
        self.commit_with(|_| {})
    }

    /// Commits, letting `finish` complete each dataset's ingest run record
    /// (finish time, timings) just before the manifest is written.
    pub fn commit_with(mut self, finish: impl Fn(&mut IngestRun)) -> Result<Manifest> {
        // Every table of a written dataset gets at least one file, empty if
        // need be, so outside readers always find each table and its schema.
        let datasets: Vec<String> = self.datasets.keys().cloned().collect();
        for dataset in &datasets {
            for table in Table::ALL {
                let has = self
                    .staged
                    .iter()
                    .any(|s| s.table == table && &s.entry.dataset == dataset);
                if !has {
                    let mut part = self.part_writer(table, dataset)?;
                    part.open_file(false)?;
                    self.finish_part(part)?;
                }
            }
        }
        let root = self.layout.root().to_path_buf();
        let replaced_datasets: BTreeSet<String> = self.datasets.keys().cloned().collect();

        let mut next = self.manifest.clone();
        next.generation += 1;
        next.commit_id = self.commit_id.clone();
        let mut replaced = Vec::new();
        for files in next.tables.values_mut() {
            files.retain(|f| {
                let goes = replaced_datasets.contains(&f.dataset);
                if goes {
                    replaced.push(f.path.clone());
                }
                !goes
            });
        }
        let mut moves = Vec::new();
        for staged in &self.staged {
            let tmp_rel = staged
                .tmp_path
                .strip_prefix(&root)
                .map_err(|_| Error::Other("internal: temporary file outside the lake".into()))?
                .to_string_lossy()
                .replace('\\', "/");
            moves.push((tmp_rel, staged.entry.path.clone()));
            next.tables
                .entry(staged.table.name().to_string())
                .or_default()
                .push(staged.entry.clone());
        }
        for files in next.tables.values_mut() {
            files.sort_by(|a, b| a.path.cmp(&b.path));
        }
        for (name, mut write) in std::mem::take(&mut self.datasets) {
            finish(&mut write.run);
            next.datasets.insert(name.clone(), write.info);
            next.runs.retain(|r| r.dataset != name);
            next.runs.push(write.run);
        }
        abort_point("staged");

        // 2. the journal
        let journal = Journal {
            commit_id: self.commit_id.clone(),
            moves,
            replaced,
        };
        write_json_atomically(&self.layout.journal(), &journal, &self.layout.mcq_dir())?;

        // 3. moves into the table folders
        for (tmp, fin) in &journal.moves {
            let from = root.join(tmp);
            let to = root.join(fin);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(Error::io("cannot create", parent))?;
            }
            fs::rename(&from, &to).map_err(Error::io("cannot move a data file to", &to))?;
        }
        abort_point("moved");

        // 4. the commit point
        write_json_atomically(&self.layout.manifest(), &next, &self.layout.mcq_dir())?;
        abort_point("committed");

        // 5. clean up
        finish_commit(&self.layout, &journal)?;
        Ok(next)
    }
}

fn take_lock(layout: &Layout) -> Result<File> {
    let path = layout.lock();
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io("cannot open the lock file", &path))?;
    // A child process forked by another thread of this process holds a copy
    // of a lock descriptor until it execs: when the recorded holder is this
    // very process, wait that moment out instead of failing.
    let me = format!("pid {} ", std::process::id());
    let mut attempts = 0;
    let outcome = loop {
        match file.try_lock() {
            Err(fs::TryLockError::WouldBlock) if attempts < 200 => {
                let mut holder = String::new();
                let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
                if !holder.starts_with(&me) {
                    break Err(fs::TryLockError::WouldBlock);
                }
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other,
        }
    };
    match outcome {
        Ok(()) => {
            let me = format!(
                "pid {} ({})",
                std::process::id(),
                std::env::args().collect::<Vec<_>>().join(" ")
            );
            file.set_len(0).map_err(Error::io("cannot write", &path))?;
            file.write_all(me.as_bytes())
                .map_err(Error::io("cannot write", &path))?;
            Ok(file)
        }
        Err(fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
            let holder = if holder.trim().is_empty() {
                "unknown process".to_string()
            } else {
                holder.trim().to_string()
            };
            Err(Error::Locked {
                lake: layout.root().to_path_buf(),
                lock: path,
                holder,
            })
        }
        Err(fs::TryLockError::Error(e)) => Err(Error::io("cannot lock", &path)(e)),
    }
}

/// Finishes or rolls back a commit a killed writer left, then clears `_mcq/tmp`.
fn recover(layout: &Layout) -> Result<()> {
    let journal_path = layout.journal();
    if journal_path.is_file() {
        let text =
            fs::read_to_string(&journal_path).map_err(Error::io("cannot read", &journal_path))?;
        match serde_json::from_str::<Journal>(&text) {
            Ok(journal) => {
                let committed = Manifest::read(&layout.manifest())
                    .map(|m| m.commit_id == journal.commit_id)
                    .unwrap_or(false);
                if committed {
                    finish_commit(layout, &journal)?;
                } else {
                    for (_, fin) in &journal.moves {
                        remove_if_present(&layout.root().join(fin))?;
                    }
                    remove_if_present(&journal_path)?;
                }
            }
            // A journal cut short was never followed by a move.
            Err(_) => remove_if_present(&journal_path)?,
        }
    }
    let tmp = layout.tmp();
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(Error::io("cannot clear", &tmp))?;
    }
    if let Ok(entries) = fs::read_dir(layout.mcq_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.ends_with(".partial") {
                remove_if_present(&entry.path())?;
            }
        }
    }
    Ok(())
}

fn finish_commit(layout: &Layout, journal: &Journal) -> Result<()> {
    for rel in &journal.replaced {
        let path = layout.root().join(rel);
        remove_if_present(&path)?;
        if let Some(dir) = path.parent() {
            // Drop partition folders left empty; ignore non-empty ones.
            let _ = fs::remove_dir(dir);
        }
    }
    remove_if_present(&layout.journal())?;
    let tmp = layout.tmp().join(&journal.commit_id);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(Error::io("cannot clear", &tmp))?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("cannot remove", path)(e)),
    }
}

/// Writes JSON to `<path>.partial`, syncs it, renames it over `path`, and
/// syncs the folder so the rename is durable.
fn write_json_atomically<T: Serialize>(path: &Path, value: &T, dir: &Path) -> Result<()> {
    let partial = path.with_extension("json.partial");
    let text = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        context: format!("cannot serialize {}", path.display()),
        source,
    })?;
    {
        let mut file = File::create(&partial).map_err(Error::io("cannot create", &partial))?;
        file.write_all(&text)
            .map_err(Error::io("cannot write", &partial))?;
        file.sync_all()
            .map_err(Error::io("cannot sync", &partial))?;
    }
    fs::rename(&partial, path).map_err(Error::io("cannot replace", path))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A commit id: the generation and a random suffix, safe in file names.
fn new_commit_id(generation: u64) -> String {
    use rand::Rng;
    let suffix: u32 = rand::rng().random();
    format!("g{generation:06}-{suffix:08x}")
}

/// Now, as an RFC 3339 UTC timestamp (for ingest runs).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
