//! The Parquet column chunk of `images.tensor`, encoded here instead of by
//! arrow-rs's column writer: the same file format (version-1 data pages,
//! RLE levels, DELTA_BINARY_PACKED values, uncompressed, an offset index,
//! no statistics), so every reader sees what it saw before, for a fraction
//! of the CPU.
//!
//! Why: on 200 full-size images the tensor column was ~14 % of an ingest's
//! CPU. arrow-rs materializes a definition and a repetition level for every
//! one of the 524,288 samples of a tensor and run-length encodes them again
//! (~4 %), and its delta bit-packer writes value by value through a generic
//! bit writer (~9 %). A tensor's levels are two constant runs, and the
//! packer below has the bit width as a compile-time constant.
//!
//! The pages are written with parquet's own page writer (page headers) and
//! described with its metadata builders; the chunk joins the row group
//! through `SerializedRowGroupWriter::append_column`.

use arrow::array::{Array, FixedSizeListArray, UInt16Array};
use bytes::Bytes;
use parquet::basic::{Compression, Encoding};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Samples a data page holds at most (whole tensors; at least one).
const PAGE_SAMPLES: usize = 512 * 1024;

/// DELTA_BINARY_PACKED layout: values per block, miniblocks per block.
const BLOCK: usize = 128;
const MINIBLOCKS: usize = 4;
const MINIBLOCK: usize = BLOCK / MINIBLOCKS;

/// Builds the tensor column chunk of one row group, tensors appended in
/// row order.
pub struct TensorChunk {
    descr: ColumnDescPtr,
    sink: TrackedWrite<Vec<u8>>,
    offsets: OffsetIndexBuilder,
    rows: usize,
    values: usize,
}

impl TensorChunk {
    /// `descr` is the tensor's leaf column (`tensor.list.item`) of the
    /// file's schema; `samples` how many the chunk will have (its buffer is
    /// reserved for them at 2 bytes each, which deltas rarely exceed, so
    /// that it is not copied as it grows).
    pub fn new(descr: ColumnDescPtr, samples: usize) -> TensorChunk {
        TensorChunk {
            descr,
            sink: TrackedWrite::new(Vec::with_capacity(2 * samples + 4096)),
            offsets: OffsetIndexBuilder::new(),
            rows: 0,
            values: 0,
        }
    }

    /// Appends the rows of `tensors` (no null tensors, no null samples).
    pub fn write(&mut self, tensors: &FixedSizeListArray) -> Result<()> {
        let values = tensors
            .values()
            .as_any()
            .downcast_ref::<UInt16Array>()
            .ok_or_else(|| ParquetError::General("tensor samples are not UInt16".into()))?;
        if tensors.null_count() > 0 || values.null_count() > 0 {
            return Err(ParquetError::General(
                "a tensor or a tensor sample is null".into(),
            ));
        }
        let size = tensors.value_length().max(0) as usize;
        // A sliced list slices its values too (its own offset is always 0).
        let samples = values.values().get(..tensors.len() * size);
        let (Some(samples), true) = (samples, size > 0) else {
            return Err(ParquetError::General("empty or short tensors".into()));
        };
        let rows_per_page = (PAGE_SAMPLES / size).max(1);
        for page in samples.chunks(rows_per_page * size) {
            self.write_page(page, size)?;
        }
        Ok(())
    }

    /// One data page of whole tensors, `size` samples each.
    fn write_page(&mut self, samples: &[u16], size: usize) -> Result<()> {
        let rows = samples.len() / size;
        let (max_def, max_rep) = (self.descr.max_def_level(), self.descr.max_rep_level());
        let mut page = Vec::with_capacity(2 * samples.len() + 64);
        // Repetition levels: 0 opens a row, `max_rep` continues it.
        levels(&mut page, max_rep, |runs| {
            for _ in 0..rows {
                runs(1, 0);
                if size > 1 {
                    runs(size - 1, max_rep);
                }
            }
        });
        // Definition levels: every sample is present.
        levels(&mut page, max_def, |runs| runs(samples.len(), max_def));
        delta_binary_packed(samples, &mut page);
        let data = Bytes::from(page);
        let uncompressed = data.len();
        let page = Page::DataPage {
            buf: data,
            num_values: u32::try_from(samples.len())
                .map_err(|_| ParquetError::General("page too large".into()))?,
            encoding: Encoding::DELTA_BINARY_PACKED,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        let spec = SerializedPageWriter::new(&mut self.sink)
            .write_page(CompressedPage::new(page, uncompressed))?;
        self.offsets
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offsets.append_row_count(rows as i64);
        self.rows += rows;
        self.values += samples.len();
        Ok(())
    }

    /// The chunk's bytes (its offsets start at 0) and what
    /// `SerializedRowGroupWriter::append_column` needs to place them.
    pub fn close(self) -> Result<(Bytes, ColumnCloseResult)> {
        let bytes = self.sink.bytes_written() as i64;
        let metadata = ColumnChunkMetaData::builder(self.descr)
            .set_encodings(vec![Encoding::RLE, Encoding::DELTA_BINARY_PACKED])
            .set_num_values(self.values as i64)
            .set_compression(Compression::UNCOMPRESSED)
            .set_total_compressed_size(bytes)
            .set_total_uncompressed_size(bytes)
            .set_data_page_offset(0)
            .build()?;
        let data = Bytes::from(self.sink.into_inner()?);
        let close = ColumnCloseResult {
            bytes_written: bytes as u64,
            rows_written: self.rows as u64,
            metadata,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(self.offsets.build()),
        };
        Ok((data, close))
    }
}

/// Appends levels in the version-1 page layout: a 4-byte little-endian
/// length, then RLE runs (`emit(count, level)` adds one) of the hybrid
/// encoding, at the bit width of `max`.
fn levels(out: &mut Vec<u8>, max: i16, emit: impl FnOnce(&mut dyn FnMut(usize, i16))) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let width_bytes = (16 - (max.max(0) as u16).leading_zeros()).div_ceil(8) as usize;
    emit(&mut |count, level| {
        uleb128(out, (count as u64) << 1);
        out.extend_from_slice(&level.to_le_bytes()[..width_bytes]);
    });
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
}

fn uleb128(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

crate::simd::avx2_dispatch! {
/// DELTA_BINARY_PACKED of the samples as INT32 (blocks of 128 deltas in 4
/// miniblocks of 32, the layout arrow-rs writes too).
fn delta_binary_packed(samples: &[u16], out: &mut Vec<u8>) {
    uleb128(out, BLOCK as u64);
    uleb128(out, MINIBLOCKS as u64);
    uleb128(out, samples.len() as u64);
    uleb128(out, zigzag(samples.first().map_or(0, |&v| i64::from(v))));
    let mut deltas = [0i32; BLOCK];
    let mut packed = [0u32; BLOCK];
    let count = samples.len().saturating_sub(1);
    for start in (0..count).step_by(BLOCK) {
        let n = BLOCK.min(count - start);
        for (d, pair) in deltas.iter_mut().zip(samples[start..=start + n].windows(2)) {
            *d = i32::from(pair[1]) - i32::from(pair[0]);
        }
        let min = deltas[..n].iter().copied().min().unwrap_or(0);
        uleb128(out, zigzag(i64::from(min)));
        // Deltas above the minimum; the unused tail of a last block is 0.
        for (p, &d) in packed.iter_mut().zip(&deltas[..n]) {
            *p = d.wrapping_sub(min) as u32;
        }
        packed[n..].fill(0);
        let used = n.div_ceil(MINIBLOCK);
        let mut widths = [0u8; MINIBLOCKS];
        for (w, mini) in widths
            .iter_mut()
            .zip(packed.chunks_exact(MINIBLOCK))
            .take(used)
        {
            let any = mini.iter().fold(0, |a, &v| a | v);
            *w = (32 - any.leading_zeros()) as u8;
        }
        out.extend_from_slice(&widths);
        for (&w, mini) in widths.iter().zip(packed.chunks_exact(MINIBLOCK)).take(used) {
            let mini: &[u32; MINIBLOCK] = mini.try_into().expect("32 values");
            pack(mini, w, out);
        }
    }
}
}

/// Bit-packs 32 values of `width` bits, least significant bit first.
#[inline(always)]
fn pack(values: &[u32; MINIBLOCK], width: u8, out: &mut Vec<u8>) {
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                0 => {}
                $($w => pack_width::<$w>(values, out),)*
                _ => pack_width::<32>(values, out),
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

/// [`pack`] with the width a constant. Up to 16 bits, eight values fill
/// exactly `W` bytes of a 128-bit accumulator at constant shifts (no
/// branch per value, one copy per eight); wider deltas (a step at the
/// breast's edge) take the word loop.
#[inline(always)]
fn pack_width<const W: usize>(values: &[u32; MINIBLOCK], out: &mut Vec<u8>) {
    let mut bytes = [0u8; MINIBLOCK * 4];
    if W <= 16 {
        for (group, eight) in values.chunks_exact(8).enumerate() {
            let acc = eight
                .iter()
                .enumerate()
                .fold(0u128, |acc, (k, &v)| acc | (u128::from(v) << (k * W)));
            bytes[group * W..(group + 1) * W].copy_from_slice(&acc.to_le_bytes()[..W]);
        }
    } else {
        let mut words = [0u32; MINIBLOCK];
        for (i, &v) in values.iter().enumerate() {
            let bit = i * W;
            let (word, shift) = (bit / 32, (bit % 32) as u32);
            words[word] |= v << shift;
            if shift as usize + W > 32 {
                words[word + 1] |= v >> (32 - shift);
            }
        }
        for (chunk, w) in bytes.chunks_exact_mut(4).zip(&words[..W]) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
    }
    out.extend_from_slice(&bytes[..MINIBLOCK * W / 8]);
}

#[cfg(test)]
mod tests {
    use super::*;

    use arrow::array::{RecordBatch, UInt16Builder};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::ArrowSchemaConverter;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    /// Writes `tensors` (`size` samples each, in row groups of `group`
    /// rows) as a one-column Parquet file through [`TensorChunk`] and
    /// reads them back with arrow-rs's reader.
    fn round_trip(tensors: &[Vec<u16>], size: usize, group: usize) -> Vec<Vec<u16>> {
        let item = Arc::new(Field::new("item", DataType::UInt16, true));
        let field = Field::new(
            "tensor",
            DataType::FixedSizeList(item.clone(), size as i32),
            false,
        );
        let schema = Arc::new(Schema::new(vec![field]));
        let descr = ArrowSchemaConverter::new()
            .convert(&schema)
            .unwrap()
            .column(0);
        let (mut file, _) = ArrowWriter::try_new(Vec::new(), schema, None)
            .unwrap()
            .into_serialized_writer()
            .unwrap();
        for rows in tensors.chunks(group) {
            let mut chunk = TensorChunk::new(descr.clone(), rows.len() * size);
            // Two writes a group: pages continue across them.
            for part in rows.chunks(rows.len().div_ceil(2)) {
                let mut values = UInt16Builder::new();
                part.iter().for_each(|t| values.append_slice(t));
                let array = FixedSizeListArray::try_new(
                    item.clone(),
                    size as i32,
                    Arc::new(values.finish()),
                    None,
                )
                .unwrap();
                chunk.write(&array).unwrap();
            }
            let (bytes, close) = chunk.close().unwrap();
            let mut group = file.next_row_group().unwrap();
            group.append_column(&bytes, close).unwrap();
            group.close().unwrap();
        }
        let bytes = Bytes::from(file.into_inner().unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let mut out = Vec::new();
        for batch in reader {
            let batch: RecordBatch = batch.unwrap();
            let list = batch
                .column(0)
                .as_any()
                .downcast_ref::<FixedSizeListArray>()
                .unwrap();
            for i in 0..list.len() {
                let v = list.value(i);
                let v = v.as_any().downcast_ref::<UInt16Array>().unwrap();
                out.push(v.values().to_vec());
            }
        }
        out
    }

    #[test]
    fn tensors_round_trip_through_arrow_rs() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        // (samples a tensor, rows): one sample; a last block of 1 delta;
        // sizes that are not multiples of 32 or 128; several pages a group.
        for (size, rows) in [
            (1, 3),
            (2, 5),
            (129, 4),
            (1000, 7),
            (3 * 5, 40),
            (PAGE_SAMPLES / 2 + 3, 3),
        ] {
            let tensors: Vec<Vec<u16>> = (0..rows)
                .map(|r| {
                    (0..size)
                        .map(|i| match (r + i / 97) % 4 {
                            0 => 0,
                            1 => (next() % 65536) as u16,
                            2 => 20000 + (next() % 300) as u16,
                            _ => [0, 65535][i % 2],
                        })
                        .collect()
                })
                .collect();
            assert_eq!(
                round_trip(&tensors, size, 3),
                tensors,
                "{size} samples x {rows}"
            );
        }
    }

    #[test]
    fn every_width_packs_like_a_bit_stream() {
        for width in 0..=32u8 {
            let mask = if width == 32 {
                u32::MAX
            } else {
                (1u32 << width) - 1
            };
            let values: [u32; 32] =
                std::array::from_fn(|i| (i as u32).wrapping_mul(0x9E37_79B9) & mask);
            let mut out = Vec::new();
            pack(&values, width, &mut out);
            assert_eq!(out.len(), 4 * width as usize);
            for (i, &v) in values.iter().enumerate() {
                let mut got = 0u64;
                for b in 0..width as usize {
                    let bit = i * width as usize + b;
                    got |= u64::from(out[bit / 8] >> (bit % 8) & 1) << b;
                }
                assert_eq!(got as u32, v, "width {width}, value {i}");
            }
        }
    }

    #[test]
    fn levels_are_length_prefixed_runs() {
        let mut out = Vec::new();
        levels(&mut out, 1, |runs| {
            runs(1, 0);
            runs(200, 1);
        });
        // Runs: (1 << 1, 0) and (200 << 1 = 400 = 0x90 0x03, 1).
        assert_eq!(out, vec![5, 0, 0, 0, 2, 0, 0x90, 0x03, 1]);
    }
}
