//! Native pixel data (Implicit/Explicit VR Little Endian, one frame,
//! unsigned 8- or 16-bit samples) read straight from the file: the fast path
//! of [`super::decode_with`] and [`super::decode_group`] for uncompressed
//! mammograms.
//!
//! The file is memory-mapped. The data set is parsed by dicom-object from
//! its first bytes, up to the top-level PixelData element. The PixelData
//! values of a group of files are then hashed side by side (SHA-256,
//! [`super::sha256`]: sixteen at a time with AVX-512), and each file's
//! samples are read from the map when it is decoded: clamped above
//! BitsStored and added to the sample range row by row, with no copy into a
//! buffer, instead of a parse, three copies and two more passes. (As with
//! every memory-mapped reader, a file that another process truncates while
//! it is being read ends the process with SIGBUS; input trees are not
//! expected to change during an ingest.)
//! With a reduction `r` (see [`super::reduction_levels`]), blocks of
//! `2^r × 2^r` stored samples are averaged on the fly (an area average; the
//! last block of a row or column averages the samples it has), so the
//! full-resolution image is never held in memory.
//!
//! Anything else — compressed or big-endian syntaxes, several frames,
//! signed or 32-bit samples, a header larger than [`PREFIX`], a PixelData
//! value shorter than Rows × Columns needs — returns `None`, and the general
//! path decodes (or refuses) the file with its usual messages.

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::sha256;
use super::{DecodeOptions, Decoded, SampleStats, StoredSamples, blocks};
use crate::dicom::header_of;

/// Bytes read to find the header (mammogram headers are a few KiB).
pub(super) const PREFIX: usize = 256 * 1024;

/// Maps are let go of in whole multiples of this (64 KiB: a multiple of
/// every page size Linux uses on x86-64 and arm64) ...
const RELEASE_ALIGN: usize = 64 * 1024;

/// ... and at least this much at a time (1 MiB), but for a file's last
/// piece.
const RELEASE_MIN: usize = 1 << 20;

/// The most `2^r` box levels averaged while reading (keeps the block sums
/// of 16-bit samples inside `u32`).
pub(super) const MAX_BOX_LEVELS: u32 = 6;

/// Implicit VR LE and Explicit VR LE.
const NATIVE_LE: [&str; 2] = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"];

/// The top-level PixelData value of a native file.
struct Located {
    object: DefaultDicomObject,
    value_start: u64,
    value_len: u64,
}

/// Finds the top-level PixelData element in `prefix` (the first bytes of a
/// file of `file_len` bytes): an occurrence of its tag whose preceding bytes
/// parse as a whole data set (so a tag inside another value, or inside an
/// icon image's sequence, does not count) and whose value fits in the file.
fn locate(prefix: &[u8], file_len: u64) -> Option<Located> {
    let (ts_uid, start) = super::data_set_start(prefix)?;
    if !NATIVE_LE.contains(&ts_uid.as_str()) {
        return None;
    }
    let ts = TransferSyntaxRegistry.get(&ts_uid)?;
    let explicit = ts_uid == NATIVE_LE[1];
    let finder = memchr::memmem::Finder::new(&[0xE0, 0x7F, 0x10, 0x00]);
    let mut from = start;
    for _ in 0..8 {
        let p = from + finder.find(prefix.get(from..)?)?;
        from = p + 1;
        let field = |at: usize| -> Option<u32> {
            Some(u32::from_le_bytes(prefix.get(at..at + 4)?.try_into().ok()?))
        };
        let (len, value) = if explicit {
            let vr = prefix.get(p + 4..p + 8)?;
            if vr != b"OW\0\0" && vr != b"OB\0\0" {
                continue;
            }
            (field(p + 8)?, p + 12)
        } else {
            (field(p + 4)?, p + 8)
        };
        if len == u32::MAX || value as u64 + u64::from(len) > file_len {
            continue;
        }
        let Ok(data) = InMemDicomObject::read_dataset_with_ts(&prefix[start..p], ts) else {
            continue;
        };
        return Some(Located {
            object: super::with_dummy_meta(data, ts)?,
            value_start: value as u64,
            value_len: u64::from(len),
        });
    }
    None
}

/// A plain native file, mapped, with its PixelData value located: ready to
/// stream.
pub(super) struct Native<'p> {
    path: &'p Path,
    map: Mmap,
    /// The PixelData value's byte range in `map`.
    value: std::ops::Range<usize>,
    header: crate::dicom::Header,
    stored: StoredSamples,
    sixteen: bool,
}

impl Native<'_> {
    /// Bytes of the decoded (reduced) samples.
    fn output_bytes(&self) -> usize {
        let side = 1usize << self.stored.reduction;
        let (rows, cols) = (self.stored.rows as usize, self.stored.columns as usize);
        rows.div_ceil(side) * cols.div_ceil(side) * 2
    }
}

/// Maps `path` and locates its pixel data if it is a plain native image (see
/// the module doc); `None` leaves it to the general path.
pub(super) fn open<'p>(path: &'p Path, options: &DecodeOptions) -> Option<Native<'p>> {
    if cfg!(target_endian = "big") {
        return None;
    }
    let file = File::open(path).ok()?;
    // SAFETY: the map is only read, and only while the decode runs; a file
    // truncated by another process meanwhile would fault (see the module
    // doc).
    let map = unsafe { Mmap::map(&file) }.ok()?;
    let located = locate(&map[..map.len().min(PREFIX)], map.len() as u64)?;
    let object = &located.object;
    let header = header_of(object);
    let (rows, columns) = (header.rows?, header.columns?);
    let bits_allocated = header.bits_allocated.unwrap_or(16);
    let pixels = u64::from(rows) * u64::from(columns);
    let needed = pixels * u64::from(bits_allocated / 8);
    let format = super::sample_format(object, bits_allocated);
    if rows == 0
        || columns == 0
        || pixels > options.max_pixels as u64
        || !matches!(bits_allocated, 8 | 16)
        || super::samples_and_frames(object) != (1, 1)
        || format.signed
        || located.value_len < needed
    {
        return None;
    }
    let reduction = options
        .reduce_for
        .filter(|_| !options.reduce_j2k_only)
        .map(|t| super::reduction_levels(rows, columns, t, MAX_BOX_LEVELS))
        .unwrap_or(0);
    let stored = StoredSamples {
        rows,
        columns,
        bits_stored: format.bits_stored,
        signed: false,
        slope: format.slope,
        intercept: format.intercept,
        reduction,
    };
    let _ = map.advise(memmap2::Advice::Sequential);
    // `locate` checked that the value lies inside the file.
    let start = located.value_start as usize;
    Some(Native {
        path,
        map,
        value: start..start + located.value_len as usize,
        header,
        stored,
        sixteen: bits_allocated == 16,
    })
}

/// Decodes `path` if it is a plain native image (see the module doc);
/// `None` leaves it to the general path.
pub(super) fn decode(path: &Path, options: &DecodeOptions) -> Option<Decoded> {
    read_group(vec![open(path, options)?]).pop()
}

/// The decoded samples a batch of [`read_batches`] holds at most (unless one
/// image alone is larger): sixteen images reduced for the default tensor
/// fit, while a group of full-resolution decodes is read a few at a time.
const BATCH_BYTES: usize = 96 << 20;

/// Decodes `files` in order, a batch at a time as the iterator is advanced
/// (see [`read_group`]); a batch holds files while their decoded samples fit
/// in [`BATCH_BYTES`].
pub(super) fn read_batches<'p>(files: Vec<Native<'p>>) -> impl Iterator<Item = Decoded> + 'p {
    let mut files = files.into_iter().peekable();
    std::iter::from_fn(move || {
        let first = files.next()?;
        let mut bytes = first.output_bytes();
        let mut batch = vec![first];
        while let Some(next) = files.next_if(|f| bytes + f.output_bytes() <= BATCH_BYTES) {
            bytes += next.output_bytes();
            batch.push(next);
        }
        Some(read_group(batch))
    })
    .flatten()
}

/// Reads `files` together: their PixelData values are hashed side by side
/// ([`sha256::digests`]), and each hashed piece's rows are decoded while it
/// is in cache; each piece of a map is let go of once read, so that a
/// group's maps do not all stay resident.
fn read_group(files: Vec<Native<'_>>) -> Vec<Decoded> {
    let mut readers: Vec<Reader> = files.iter().map(Reader::new).collect();
    let values: Vec<&[u8]> = files.iter().map(|f| &f.map[f.value.clone()]).collect();
    let digests = sha256::digests(&values, |i, hashed| {
        read_rows(&mut readers[i], hashed.end);
        readers[i].let_go(hashed.end);
    });
    let read: Vec<_> = readers.into_iter().map(|r| (r.out, r.stats)).collect();
    files
        .into_iter()
        .zip(read)
        .zip(digests)
        .map(|((file, (out, stats)), sha256)| {
            super::build(file.path, file.header, file.stored, out, sha256, stats)
        })
        .collect()
}

/// One file's pass over its samples: the sample range and the samples out
/// (box-averaged by `box_side`), taken a row at a time as the bytes are
/// hashed.
struct Reader<'m> {
    file: &'m Native<'m>,
    stats: SampleStats,
    out: Vec<u16>,
    max: u16,
    /// `2^reduction`.
    box_side: usize,
    row_bytes: usize,
    /// A row that is not 2-byte aligned in the map (an odd value offset) or
    /// an 8-bit row is copied into `spare`; one with samples above
    /// BitsStored, into `clamped`.
    spare: Vec<u16>,
    clamped: Vec<u16>,
    sums: Vec<u32>,
    in_block: usize,
    rows_read: usize,
    /// Where the map is let go of up to (a map offset).
    released: usize,
}

impl<'m> Reader<'m> {
    fn new(file: &'m Native<'m>) -> Reader<'m> {
        let stored = file.stored;
        let (cols, rows) = (stored.columns as usize, stored.rows as usize);
        let box_side = 1usize << stored.reduction;
        Reader {
            file,
            stats: SampleStats::new(),
            out: Vec::with_capacity(cols.div_ceil(box_side) * rows.div_ceil(box_side)),
            max: super::max_for_bits(stored.bits_stored),
            box_side,
            row_bytes: cols * if file.sixteen { 2 } else { 1 },
            spare: vec![0u16; cols],
            clamped: Vec::with_capacity(cols),
            sums: vec![0u32; cols.div_ceil(box_side)],
            in_block: 0,
            rows_read: 0,
            released: file.value.start,
        }
    }

    /// Lets go of the map's pages up to the first `read` bytes of the
    /// PixelData value: whole pages only (letting go of the page the next
    /// piece starts in would fault it back in, with the pages around it),
    /// a few at a time (each let-go is a system call), all at the end.
    fn let_go(&mut self, read: usize) {
        let file = self.file;
        let last = read == file.value.len();
        let end = file.value.start + read;
        let end = if last {
            end
        } else {
            end / RELEASE_ALIGN * RELEASE_ALIGN
        };
        if end >= self.released + RELEASE_MIN || (last && end > self.released) {
            // SAFETY: the map is a read-only file mapping; MADV_DONTNEED
            // only drops this process's pages of it, and a later read
            // faults the same bytes back in from the page cache (or the
            // file).
            let _ = unsafe {
                file.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    end - self.released,
                )
            };
            self.released = end;
        }
    }
}

crate::simd::avx2_dispatch! {
/// Clamps, scans and (with a reduction) box-averages the rows that end
/// within the first `end` bytes of the PixelData value.
fn read_rows(r: &mut Reader<'_>, end: usize) {
    let stored = r.file.stored;
    let (cols, rows, side) = (stored.columns as usize, stored.rows as usize, r.box_side);
    let ready = (end / r.row_bytes).min(rows);
    let value = &r.file.map[r.file.value.start..];
    let bytes = &value[r.rows_read * r.row_bytes..ready * r.row_bytes];
    for raw in bytes.chunks_exact(r.row_bytes) {
        let samples = samples(raw, r.file.sixteen, &mut r.spare);
        let row = r.stats.scan(samples, r.max, &mut r.clamped);
        r.rows_read += 1;
        if side == 1 {
            r.out.extend_from_slice(row);
            continue;
        }
        blocks::add_row(&mut r.sums, row, side);
        r.in_block += 1;
        if r.in_block == side || r.rows_read == rows {
            blocks::emit(&mut r.sums, &mut r.out, cols, side, r.in_block);
            r.in_block = 0;
        }
    }
}
}

/// One stored row as samples: the little-endian 16-bit bytes viewed in
/// place when aligned (on a little-endian host), else widened or copied
/// into `spare`.
fn samples<'a>(raw: &'a [u8], sixteen: bool, spare: &'a mut [u16]) -> &'a [u16] {
    if !sixteen {
        for (w, &b) in spare.iter_mut().zip(raw) {
            *w = u16::from(b);
        }
        return spare;
    }
    // SAFETY: every bit pattern is a valid u16; align_to only yields the
    // aligned middle part.
    match unsafe { raw.align_to::<u16>() } {
        ([], row, []) if cfg!(target_endian = "little") => row,
        _ => {
            for (w, b) in spare.iter_mut().zip(raw.chunks_exact(2)) {
                *w = u16::from_le_bytes([b[0], b[1]]);
            }
            spare
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::meta::FileMetaTableBuilder;
    use std::path::PathBuf;

    /// How a test file is laid out.
    #[derive(Clone, Copy)]
    struct Layout {
        ts: &'static str,
        bits_allocated: u16,
        bits_stored: u16,
        /// An IconImageSequence with its own PixelData before the image's.
        icon: bool,
        /// A DataSetTrailingPadding element after the PixelData.
        trailer: bool,
        frames: Option<&'static str>,
        signed: bool,
    }

    const PLAIN: Layout = Layout {
        ts: "1.2.840.10008.1.2.1",
        bits_allocated: 16,
        bits_stored: 12,
        icon: false,
        trailer: false,
        frames: None,
        signed: false,
    };

    fn pixels(cols: usize, rows: usize, max: u16) -> Vec<u16> {
        (0..cols * rows)
            .map(|i| ((i * 7919 + i / cols * 131) % (max as usize + 40)) as u16)
            .collect()
    }

    fn write(dir: &Path, name: &str, cols: u16, rows: u16, px: &[u16], l: Layout) -> PathBuf {
        let mut obj = InMemDicomObject::new_empty();
        let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        obj.put(DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("0a1b2c3d4e5f"),
        ));
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ));
        obj.put(us(tags::SAMPLES_PER_PIXEL, 1));
        obj.put(us(tags::ROWS, rows));
        obj.put(us(tags::COLUMNS, cols));
        obj.put(us(tags::BITS_ALLOCATED, l.bits_allocated));
        obj.put(us(tags::BITS_STORED, l.bits_stored));
        obj.put(us(tags::HIGH_BIT, l.bits_stored - 1));
        obj.put(us(tags::PIXEL_REPRESENTATION, l.signed as u16));
        if let Some(frames) = l.frames {
            obj.put(DataElement::new(
                tags::NUMBER_OF_FRAMES,
                VR::IS,
                PrimitiveValue::from(frames),
            ));
        }
        if l.icon {
            let mut icon = InMemDicomObject::new_empty();
            icon.put(us(tags::ROWS, 2));
            icon.put(us(tags::COLUMNS, 2));
            icon.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PrimitiveValue::from(vec![1u8, 2, 3, 4]),
            ));
            obj.put(DataElement::new(
                tags::ICON_IMAGE_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(vec![icon]),
            ));
        }
        let value = if l.bits_allocated == 16 {
            PrimitiveValue::U16(px.iter().copied().collect())
        } else {
            let mut bytes: Vec<u8> = px.iter().map(|&v| v as u8).collect();
            if bytes.len() % 2 == 1 {
                bytes.push(0);
            }
            PrimitiveValue::from(bytes)
        };
        let vr = if l.bits_allocated == 16 {
            VR::OW
        } else {
            VR::OB
        };
        obj.put(DataElement::new(tags::PIXEL_DATA, vr, value));
        if l.trailer {
            obj.put(DataElement::new(
                tags::DATA_SET_TRAILING_PADDING,
                VR::OB,
                PrimitiveValue::from(vec![0u8; 6]),
            ));
        }
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(l.ts)
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.1.2")
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        let path = dir.join(name);
        file.write_to_file(&path).unwrap();
        path
    }

    /// The general path's image, box-averaged by `f` (rounded half up).
    fn box_average(d: &Decoded, f: usize) -> Vec<u16> {
        let (w, h) = (d.columns as usize, d.rows as usize);
        let mut out = Vec::new();
        for by in (0..h).step_by(f) {
            for bx in (0..w).step_by(f) {
                let (mut sum, mut n) = (0u64, 0u64);
                for y in by..(by + f).min(h) {
                    for x in bx..(bx + f).min(w) {
                        sum += u64::from(d.pixels[y * w + x]);
                        n += 1;
                    }
                }
                out.push(((sum + n / 2) / n) as u16);
            }
        }
        out
    }

    #[test]
    fn native_reads_equal_dicom_object_reads() {
        let dir = tempfile::tempdir().unwrap();
        let layouts = [
            ("explicit", PLAIN),
            (
                "implicit",
                Layout {
                    ts: "1.2.840.10008.1.2",
                    ..PLAIN
                },
            ),
            (
                "icon-trailer",
                Layout {
                    icon: true,
                    trailer: true,
                    ..PLAIN
                },
            ),
            (
                "eight-bit",
                Layout {
                    bits_allocated: 8,
                    bits_stored: 7,
                    ..PLAIN
                },
            ),
            (
                "sixteen",
                Layout {
                    bits_stored: 16,
                    ..PLAIN
                },
            ),
        ];
        // Odd sizes: partial blocks on both axes; 300 rows: several chunks.
        for (cols, rows) in [(37u16, 23u16), (1000, 300)] {
            for (name, l) in layouts {
                let max = if l.bits_allocated == 8 { 200 } else { 4095 };
                let px = pixels(cols as usize, rows as usize, max);
                let path = write(
                    dir.path(),
                    &format!("{name}-{cols}.dcm"),
                    cols,
                    rows,
                    &px,
                    l,
                );
                let general =
                    super::super::decode_dicom_object(&path, &DecodeOptions::default()).unwrap();
                let fast = decode(&path, &DecodeOptions::default())
                    .unwrap_or_else(|| panic!("{name}: not taken by the native path"));
                assert_eq!(fast, general, "{name} {cols}x{rows}");
                assert!(fast.clamped_pixels > 0 || l.bits_stored == 16, "{name}");
                for tensor in [(8, 8), (2, 2)] {
                    let options = DecodeOptions {
                        reduce_for: Some(tensor),
                        ..Default::default()
                    };
                    let reduced = decode(&path, &options).unwrap();
                    let levels =
                        super::super::reduction_levels(rows.into(), cols.into(), tensor, 6);
                    assert!(levels >= 1);
                    assert_eq!(reduced.reduction, levels, "{name}");
                    let f = 1usize << levels;
                    assert_eq!(
                        (reduced.columns, reduced.rows),
                        (
                            u32::from(cols).div_ceil(f as u32),
                            u32::from(rows).div_ceil(f as u32)
                        )
                    );
                    assert_eq!(reduced.pixels, box_average(&general, f), "{name} /{f}");
                    assert_eq!(reduced.pixel_data_sha256, general.pixel_data_sha256);
                    assert_eq!(
                        (
                            reduced.source_min,
                            reduced.source_max,
                            reduced.clamped_pixels
                        ),
                        (
                            general.source_min,
                            general.source_max,
                            general.clamped_pixels
                        )
                    );
                }
            }
        }
    }

    /// Files decoded in a group (their pixel data hashed side by side)
    /// give what each gives alone: files of different sizes and sample
    /// widths, in either order, reduced or not, groups with a file that
    /// takes the general path, is missing or is truncated, and groups of
    /// more files than the hashing has lanes.
    #[test]
    fn files_decoded_in_a_group_equal_each_decoded_alone() {
        let dir = tempfile::tempdir().unwrap();
        let eight = Layout {
            bits_allocated: 8,
            bits_stored: 7,
            ..PLAIN
        };
        let signed = Layout {
            signed: true,
            ..PLAIN
        };
        let files = [
            write(
                dir.path(),
                "a.dcm",
                1000,
                300,
                &pixels(1000, 300, 4095),
                PLAIN,
            ),
            write(dir.path(), "b.dcm", 640, 410, &pixels(640, 410, 200), eight),
            write(dir.path(), "c.dcm", 37, 23, &pixels(37, 23, 4095), PLAIN),
            write(dir.path(), "d.dcm", 16, 8, &pixels(16, 8, 4095), signed),
            dir.path().join("missing.dcm"),
            dir.path().join("truncated.dcm"),
        ];
        let bytes = std::fs::read(&files[0]).unwrap();
        std::fs::write(&files[5], &bytes[..bytes.len() / 2]).unwrap();
        for reduce_for in [None, Some((8, 8))] {
            let options = DecodeOptions {
                reduce_for,
                ..Default::default()
            };
            let alone: Vec<_> = files
                .iter()
                .map(|f| super::super::decode_with(f, &options).map_err(|e| e.to_string()))
                .collect();
            assert!(alone[..4].iter().all(Result::is_ok));
            assert!(alone[4..].iter().all(Result::is_err));
            let pairs = [[0, 1], [1, 0], [0, 2], [2, 1], [0, 0], [3, 0]];
            let with_faults = [[1, 4], [4, 3], [5, 0], [2, 5]];
            let mut groups: Vec<Vec<usize>> = pairs
                .iter()
                .chain(&with_faults)
                .map(|g| g.to_vec())
                .collect();
            groups.push((0..6).collect());
            groups.push((0..6).rev().collect());
            groups.push((0..23).map(|k| k * 5 % 7 % 6).collect());
            for group in groups {
                let paths: Vec<&PathBuf> = group.iter().map(|&k| &files[k]).collect();
                let together: Vec<_> = super::super::decode_group(&paths, &options)
                    .map(|d| d.map_err(|e| e.to_string()))
                    .collect();
                assert_eq!(together.len(), group.len());
                for (k, got) in group.iter().zip(together) {
                    assert_eq!(got, alone[*k], "{k} in {group:?}, {reduce_for:?}");
                }
            }
        }
    }

    #[test]
    fn other_layouts_are_left_to_the_general_path() {
        let dir = tempfile::tempdir().unwrap();
        let px = pixels(16, 8, 4095);
        for (name, l) in [
            (
                "signed",
                Layout {
                    signed: true,
                    ..PLAIN
                },
            ),
            (
                "frames",
                Layout {
                    frames: Some("2"),
                    ..PLAIN
                },
            ),
            (
                "big-endian",
                Layout {
                    ts: "1.2.840.10008.1.2.2",
                    ..PLAIN
                },
            ),
        ] {
            let path = write(dir.path(), name, 16, 8, &px, l);
            assert!(decode(&path, &DecodeOptions::default()).is_none(), "{name}");
        }
        // Encapsulated pixel data.
        let mut obj = InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::from(PixelFragmentSequence::new(
                Vec::<u32>::new(),
                vec![vec![0u8; 8]],
            )),
        ));
        let path = dir.path().join("rle.dcm");
        obj.with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.5")
                .media_storage_sop_class_uid("1.2.3")
                .media_storage_sop_instance_uid("1.2.3"),
        )
        .unwrap()
        .write_to_file(&path)
        .unwrap();
        assert!(decode(&path, &DecodeOptions::default()).is_none());
        // A file cut inside the pixel data: the general path reports it.
        let path = write(dir.path(), "cut.dcm", 16, 8, &px, PLAIN);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(decode(&path, &DecodeOptions::default()).is_none());
    }
}
