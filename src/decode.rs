//! Decode: the first stage of the image pipeline (SPEC §5.1). Turns one image
//! file — DICOM with any transfer syntax the build supports (Implicit/Explicit
//! VR LE, JPEG 2000, JPEG baseline/lossless, RLE, deflate; JPEG-LS behind the
//! `jpegls` feature) or PNG/PGM/JPEG/TIFF — into a [`Decoded`] grey image with
//! its encoding facts, ready for `qc::process`.
//!
//! # Pixel representation
//! [`Decoded::pixels`] holds the **stored** sample values as `u16`, and the
//! Modality LUT (RescaleSlope/Intercept) is kept beside them as
//! [`Decoded::rescale_slope`]/[`Decoded::rescale_intercept`]. The Modality
//! LUT is linear, so every QC decision (polarity, chest wall, percentiles,
//! resizing) gives the same answer on stored and rescaled values; keeping
//! `u16` halves the memory of `f32` for a 13.6 Mpx image, allows exact
//! 65 536-bin histograms, and feeds `fast_image_resize` without conversion.
//! Every reported value (`source_min/max`, `norm_low/high`) is converted with
//! [`Decoded::modality`], i.e. is in post-Modality-LUT units as the schema
//! says. Signed samples are shifted by +32768 into `u16` and the intercept is
//! corrected by the same amount, so the post-LUT values are unchanged.
//!
//! # Defects tolerated
//! - Sample values above `BitsStored` (CMMD's 16-bit outliers in 8-bit
//!   images) are **clamped** to `2^BitsStored − 1` (not masked: masking would
//!   turn an outlier into an arbitrary mid-grey value); the count is kept in
//!   [`Decoded::clamped_pixels`].
//! - VinDr's dummy meta (`1.2.3.4` SOP class) is read as is.
//! - VinDr's non-numeric (MD5-hex) meta UIDs, which dicom-object 0.10
//!   refuses, and a file without the meta group (a bare Implicit VR LE data
//!   set): the meta group is parsed by hand for its transfer syntax and
//!   rebuilt with dummy UIDs.
//! - Multi-frame objects: the first frame is used.
//! - A codec that panics on damaged data (dicom-rs 0.10's RLE decoder on a
//!   truncated file) is caught and reported as this file's error (the
//!   default panic hook still prints its message to stderr).
//! - A negative RescaleSlope is kept: `source_min/max` are ordered, and
//!   `norm_low/high` are the post-LUT images of the stored low/high values.
//!
//! # Reduced resolution
//! With [`DecodeOptions::reduce_for`] set to the tensor shape, an image at
//! least twice the tensor on both axes is decoded at a lower resolution:
//! `r` levels halve both axes `r` times, the largest `r` that keeps the
//! reduced image at least as large as the tensor on both axes
//! ([`reduction_levels`]). A JPEG 2000 frame (.4.90/.4.91) is decoded at
//! that resolution level of its wavelet pyramid (OpenJPEG's `cp_reduce`,
//! through the `jpeg2k` crate that dicom-pixeldata also decodes with; at
//! most the codestream's number of decomposition levels); native pixel data
//! is averaged over `2^r × 2^r` blocks as it is read (`native`), as
//! Pillow's `reducing_gap` does before a resize — both are area averages,
//! so the tensor, which is resized from the reduced image with an area
//! filter anyway, barely changes while decoding, QC and resizing touch a
//! quarter of the pixels per level. `rows`/`columns` then describe the
//! reduced pixel buffer, [`Decoded::reduction`] says by how much, and
//! [`Decoded::full_rows`]/[`Decoded::full_columns`] keep the stored
//! image's size, in which `qc::process` reports every coordinate. Every
//! other codec decodes at full resolution.
//!
//! # Native pixel data
//! Uncompressed little-endian files are read by `native` through a memory
//! map: the header is parsed from the first bytes, the PixelData values of
//! a group of files are hashed side by side, and each file's samples are
//! clamped and averaged row by row straight from the page cache (see that
//! module).
//!
//! # Refusals
//! Absurd geometry is refused before any pixel buffer is allocated: more
//! than `max_pixels` pixels, or (native transfer syntaxes) more bytes than
//! the PixelData element holds. Every failure is an [`Error::Decode`] that
//! names the file and carries the decoder's message; nothing panics.

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use sha2::{Digest, Sha256};

use crate::dicom::{Header, header_of};
use crate::error::{Error, Result};

pub(crate) mod blocks;
mod native;
mod sha256;

/// A sane default cap on Rows × Columns (the largest mammograms are about
/// 4096 × 5928 = 24 Mpx).
pub const DEFAULT_MAX_PIXELS: usize = 64 * 1024 * 1024;

/// One decoded grey image with the facts the `images` table records.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The file it came from.
    pub path: PathBuf,
    /// Height of [`Decoded::pixels`] (DICOM Rows unless decoded reduced).
    pub rows: u32,
    /// Width of [`Decoded::pixels`] (DICOM Columns unless decoded reduced).
    pub columns: u32,
    /// The stored image's height (DICOM Rows), whatever the reduction.
    pub full_rows: u32,
    /// The stored image's width (DICOM Columns), whatever the reduction.
    pub full_columns: u32,
    /// Resolution levels discarded while decoding (JPEG 2000 wavelet levels,
    /// or native 2×2 area averages, see the module doc): each halves
    /// both axes (rounding up); 0 = full resolution.
    pub reduction: u32,
    /// Bits per sample as stored (8 or 16 for non-DICOM files; PGM: from maxval).
    pub bits_stored: u16,
    /// PhotometricInterpretation as stored; `None` for non-DICOM files.
    pub photometric: Option<String>,
    /// Transfer syntax UID; `None` for non-DICOM files.
    pub transfer_syntax: Option<String>,
    /// Stored sample values, row-major `rows × columns`, clamped to
    /// `bits_stored` (see the module doc for why stored, not rescaled).
    pub pixels: Vec<u16>,
    /// Modality LUT slope (1 when absent).
    pub rescale_slope: f64,
    /// Modality LUT intercept (0 when absent; includes the signed shift).
    pub rescale_intercept: f64,
    /// Minimum pixel value after the Modality LUT.
    pub source_min: f64,
    /// Maximum pixel value after the Modality LUT.
    pub source_max: f64,
    /// Lowercase hex SHA-256 of the PixelData bytes as stored (native: the
    /// element value; encapsulated: the fragments concatenated, without the
    /// offset table); of the whole file for non-DICOM images.
    pub pixel_data_sha256: String,
    /// Samples that exceeded `2^bits_stored − 1` and were clamped.
    pub clamped_pixels: usize,
    /// Header attributes (manufacturer, model, window, spacing, ...);
    /// default (all `None`) for non-DICOM files.
    pub header: Header,
}

impl Decoded {
    /// Whether it was stored as JPEG 2000 (lossless or lossy).
    pub fn is_jpeg2000(&self) -> bool {
        is_j2k_syntax(self.transfer_syntax.as_deref())
    }

    /// A stored value in post-Modality-LUT units.
    pub fn modality(&self, stored: f64) -> f64 {
        stored * self.rescale_slope + self.rescale_intercept
    }

    /// The largest value `bits_stored` allows.
    pub fn max_stored(&self) -> u16 {
        max_for_bits(self.bits_stored)
    }

    /// Copies the acquisition and encoding facts into an `images` row
    /// (everything but the QC, geometry and tensor fields, and
    /// `image_id`/`modality_kind`, which the caller knows).
    pub fn fill_row(&self, row: &mut crate::record::ImageRow) {
        row.rows = self.full_rows as i32;
        row.columns = self.full_columns as i32;
        row.bits_stored = self.bits_stored as i32;
        row.photometric = self.photometric.clone();
        row.transfer_syntax = self.transfer_syntax.clone();
        row.manufacturer = self.header.manufacturer.clone();
        row.model = self.header.model.clone();
        row.presentation_intent = self.header.presentation_intent.clone();
        row.pixel_spacing_mm = self.header.pixel_spacing_mm;
        row.window_center = self.header.window_center;
        row.window_width = self.header.window_width;
        row.voi_lut_function = self.header.voi_lut_function.clone();
        row.source_min = self.source_min;
        row.source_max = self.source_max;
        row.pixel_data_sha256 = self.pixel_data_sha256.clone();
        row.decode_reduction = self.reduction as i32;
    }
}

fn max_for_bits(bits: u16) -> u16 {
    if bits >= 16 {
        u16::MAX
    } else {
        ((1u32 << bits.max(1)) - 1) as u16
    }
}

fn decode_error(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// How [`decode_with`] decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Cap on Rows × Columns. _Default behavior:_ [`DEFAULT_MAX_PIXELS`].
    pub max_pixels: usize,
    /// Decode JPEG 2000 and native pixel data at a reduced resolution
    /// chosen for a tensor of this `(H, W)` (see the module doc); `None`
    /// decodes every file at full resolution. _Default behavior:_ `None`.
    pub reduce_for: Option<(usize, usize)>,
    /// With `reduce_for`, reduce JPEG 2000 only: native pixel data are
    /// decoded at full resolution. _Default behavior:_ `false`.
    pub reduce_j2k_only: bool,
    /// Decode only this area of a JPEG 2000 image, `(x0, y0, x1, y1)` in
    /// stored pixels (x1/y1 exclusive), at full resolution: OpenJPEG then
    /// decodes only the code-blocks that reach it. The [`Decoded`] holds
    /// the area's pixels (`rows` × `columns` is its size). Other files
    /// ignore it. _Default behavior:_ `None`.
    pub j2k_area: Option<(u32, u32, u32, u32)>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_pixels: DEFAULT_MAX_PIXELS,
            reduce_for: None,
            reduce_j2k_only: false,
            j2k_area: None,
        }
    }
}

/// Decodes one image file at full resolution; `max_pixels` caps
/// Rows × Columns (see [`DEFAULT_MAX_PIXELS`]).
pub fn decode(path: &Path, max_pixels: usize) -> Result<Decoded> {
    decode_with(
        path,
        &DecodeOptions {
            max_pixels,
            ..DecodeOptions::default()
        },
    )
}

/// Decodes one image file with `options`.
pub fn decode_with(path: &Path, options: &DecodeOptions) -> Result<Decoded> {
    if is_raster(path) {
        decode_raster(path, options.max_pixels)
    } else {
        decode_dicom(path, options)
    }
}

/// Decodes `paths` in order with `options`: what [`decode_with`] gives for
/// each. The plain native DICOM files among them are read together, in
/// batches of up to 96 MiB of decoded samples: their pixel data hashed side
/// by side (see `sha256`: hashing is the larger part of an uncompressed
/// image's decode) and their rows decoded as the hashed bytes pass through
/// the cache. Every other file is decoded when the iterator reaches it.
/// Groups of [`group_size`] files hash fastest; files next to each other in
/// a dataset's order (one patient's images, usually of one size) keep the
/// hashing lanes evenly busy.
pub fn decode_group<'a, P: AsRef<Path>>(
    paths: &'a [P],
    options: &'a DecodeOptions,
) -> impl Iterator<Item = Result<Decoded>> + 'a {
    /// How a file of the group is decoded.
    enum Kind {
        Raster,
        /// Plain native DICOM, read in the batches.
        Native,
        /// Any other DICOM, decoded alone.
        Other,
    }
    let mut native_files = Vec::new();
    let kinds: Vec<Kind> = paths
        .iter()
        .map(|p| {
            let p = p.as_ref();
            if is_raster(p) {
                return Kind::Raster;
            }
            match native::open(p, options) {
                Some(file) => {
                    native_files.push(file);
                    Kind::Native
                }
                None => Kind::Other,
            }
        })
        .collect();
    let mut decoded = native::read_batches(native_files);
    paths.iter().zip(kinds).map(move |(path, kind)| {
        let path = path.as_ref();
        match kind {
            Kind::Raster => decode_raster(path, options.max_pixels),
            Kind::Native => or_general(decoded.next(), path, options),
            Kind::Other => or_general(None, path, options),
        }
    })
}

/// The number of files [`decode_group`] hashes side by side on this CPU
/// (16 with AVX-512, 2 with SHA-NI, else 1).
pub fn group_size() -> usize {
    sha256::lanes()
}

/// Whether `path` names a PNG, PGM/PNM, JPEG or TIFF file (by extension),
/// which the image crate decodes; anything else is read as DICOM.
fn is_raster(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(
        ext.as_str(),
        "png" | "pgm" | "pnm" | "jpg" | "jpeg" | "tif" | "tiff"
    )
}

/// JPEG 2000 transfer syntaxes a reduced decode applies to.
const J2K_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"];

/// Whether `transfer_syntax` is JPEG 2000 (lossless or lossy).
fn is_j2k_syntax(transfer_syntax: Option<&str>) -> bool {
    transfer_syntax.is_some_and(|ts| J2K_SYNTAXES.contains(&ts))
}

/// Number of wavelet decomposition levels in a J2K codestream's COD marker
/// (main header), `None` when the header cannot be read.
fn j2k_decomposition_levels(codestream: &[u8]) -> Option<u32> {
    // SOC, then marker segments (each FFxx + 2-byte length) until SOT.
    if codestream.get(0..2)? != [0xFF, 0x4F] {
        return None;
    }
    let mut pos = 2;
    loop {
        let marker = u16::from_be_bytes([*codestream.get(pos)?, *codestream.get(pos + 1)?]);
        let len = u16::from_be_bytes([*codestream.get(pos + 2)?, *codestream.get(pos + 3)?]);
        match marker {
            // COD: Lcod, Scod, SGcod (progression 1, layers 2, MCT 1), SPcod levels.
            0xFF52 => return codestream.get(pos + 9).map(|&l| l as u32),
            0xFF90 | 0xFF93 | 0xFFD9 => return None,
            _ => pos += 2 + len as usize,
        }
    }
}

/// Resolution levels to discard for an `(H, W)` tensor: the largest
/// `r ≤ levels` (a codestream's decomposition levels, or the most a box
/// average takes) with
/// `rows ≥ H·2^r` and `columns ≥ W·2^r` — a level is dropped only while the
/// tensor is at most half the image on both axes, so the reduced image is
/// never smaller than the tensor on either axis and a breast crop is rarely
/// enlarged.
pub fn reduction_levels(rows: u32, columns: u32, tensor: (usize, usize), levels: u32) -> u32 {
    let (h, w) = (tensor.0 as u64, tensor.1 as u64);
    if h == 0 || w == 0 {
        return 0;
    }
    let mut r = 0;
    while r < levels.min(8) && u64::from(rows) >= h << (r + 1) && u64::from(columns) >= w << (r + 1)
    {
        r += 1;
    }
    r
}

fn open_dicom(path: &Path) -> Result<DefaultDicomObject> {
    let first = match OpenFileOptions::new().open_file(path) {
        Ok(object) => return Ok(object),
        Err(e) => e,
    };
    let mut chain = first.to_string();
    let mut source = std::error::Error::source(&first);
    while let Some(e) = source {
        chain.push_str(": ");
        chain.push_str(&e.to_string());
        source = e.source();
    }
    let bytes = std::fs::read(path).map_err(|e| decode_error(path, e))?;
    reread(&bytes).ok_or_else(|| decode_error(path, format!("not a readable DICOM file: {chain}")))
}

/// Second chance for files dicom-object refuses: a meta group with
/// non-numeric UIDs (VinDr: "Invalid UID in file meta information group"),
/// or no preamble/meta at all (a bare Implicit VR LE data set). The meta
/// group is parsed by hand for its transfer syntax and rebuilt with dummy
/// UIDs; the data set itself is read by dicom-object.
fn reread(bytes: &[u8]) -> Option<DefaultDicomObject> {
    let (ts_uid, offset) = data_set_start(bytes)?;
    let ts = TransferSyntaxRegistry.get(&ts_uid)?;
    let data = InMemDicomObject::read_dataset_with_ts(bytes.get(offset..)?, ts).ok()?;
    data.element_opt(tags::PIXEL_DATA).ok()??;
    with_dummy_meta(data, ts)
}

/// The transfer syntax UID and the offset of the data set in a file's
/// first `bytes`: after the preamble and a meta group (parsed by hand, so
/// invalid UIDs do not matter), after a meta group without preamble, or at 0
/// for a bare Implicit VR LE data set.
fn data_set_start(bytes: &[u8]) -> Option<(String, usize)> {
    if bytes.get(128..132) == Some(b"DICM".as_slice()) {
        let (ts, len) = parse_meta(&bytes[132..])?;
        Some((ts, 132 + len))
    } else if bytes.get(0..2) == Some([0x02, 0x00].as_slice()) {
        parse_meta(bytes)
    } else if bytes.get(0..2) == Some([0x08, 0x00].as_slice()) {
        Some(("1.2.840.10008.1.2".to_string(), 0))
    } else {
        None
    }
}

/// A file object of `data` with a meta group that says `ts` and dummy UIDs.
fn with_dummy_meta(
    data: InMemDicomObject,
    ts: &dicom_encoding::TransferSyntax,
) -> Option<DefaultDicomObject> {
    data.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(ts.uid())
            .media_storage_sop_class_uid("1.2.3.4")
            .media_storage_sop_instance_uid("1.2.3.4"),
    )
    .ok()
}

/// Transfer syntax UID and byte length of an explicit VR LE group 0002.
fn parse_meta(m: &[u8]) -> Option<(String, usize)> {
    let mut pos = 0;
    let mut ts = None;
    while m.len() >= pos + 8 && m[pos..pos + 2] == [2, 0] {
        let elem = u16::from_le_bytes([m[pos + 2], m[pos + 3]]);
        let vr = &m[pos + 4..pos + 6];
        let (len, header) = if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT" | b"UC" | b"UR") {
            let len = m.get(pos + 8..pos + 12)?;
            (
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
                12,
            )
        } else {
            (u16::from_le_bytes([m[pos + 6], m[pos + 7]]) as usize, 8)
        };
        let value = m.get(pos + header..(pos + header).checked_add(len)?)?;
        if elem == 0x0010 {
            let text = String::from_utf8_lossy(value);
            ts = Some(
                text.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string(),
            );
        }
        pos += header + len;
    }
    Some((ts?, pos))
}

fn decode_dicom(path: &Path, options: &DecodeOptions) -> Result<Decoded> {
    or_general(native::decode(path, options), path, options)
}

/// What the native path `decoded`, or else the general path's decode.
fn or_general(decoded: Option<Decoded>, path: &Path, options: &DecodeOptions) -> Result<Decoded> {
    match decoded {
        Some(decoded) => Ok(decoded),
        None => decode_dicom_object(path, options),
    }
}

/// Decodes any DICOM file through dicom-object (and dicom-pixeldata for
/// encapsulated syntaxes).
fn decode_dicom_object(path: &Path, options: &DecodeOptions) -> Result<Decoded> {
    let max_pixels = options.max_pixels;
    let object = open_dicom(path)?;
    let header = header_of(&object);
    let err = |m: String| decode_error(path, m);
    let rows = header.rows.ok_or_else(|| err("no Rows attribute".into()))?;
    let columns = header
        .columns
        .ok_or_else(|| err("no Columns attribute".into()))?;
    let bits_allocated = header.bits_allocated.unwrap_or(16);
    let (samples, frames) = samples_and_frames(&object);
    let pixels = rows as u64 * columns as u64;
    if rows == 0 || columns == 0 || pixels > max_pixels as u64 {
        return Err(err(format!(
            "refused: Rows {rows} × Columns {columns} = {pixels} pixels (cap {max_pixels})"
        )));
    }
    if samples != 1 {
        return Err(err(format!(
            "SamplesPerPixel {samples}: only grey images are supported"
        )));
    }
    if !matches!(bits_allocated, 8 | 16) {
        return Err(err(format!(
            "BitsAllocated {bits_allocated}: only 8 and 16 are supported"
        )));
    }
    let element = object
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or_else(|| err("no PixelData element".into()))?;
    let mut hasher = Sha256::new();
    let mut first_frame: Option<Vec<u8>> = None;
    let mut native: Option<Vec<u16>> = None;
    match element.value() {
        dicom_core::DicomValue::Primitive(p) => {
            // 16-bit samples parsed into u16 values are viewed as their
            // little-endian bytes, not copied (`to_bytes` would copy 2 bytes
            // per pixel once more).
            let bytes: std::borrow::Cow<[u8]> = match p {
                #[cfg(target_endian = "little")]
                dicom_core::PrimitiveValue::U16(words) => {
                    // SAFETY: u8 has no alignment or validity requirements
                    // and the length is exactly the bytes of `words`.
                    std::borrow::Cow::Borrowed(unsafe {
                        std::slice::from_raw_parts(
                            words.as_ptr() as *const u8,
                            std::mem::size_of_val(&words[..]),
                        )
                    })
                }
                _ => p.to_bytes(),
            };
            let needed = pixels * frames * (bits_allocated as u64 / 8);
            if (bytes.len() as u64) < needed {
                return Err(err(format!(
                    "refused: Rows {rows} × Columns {columns} × {bits_allocated} bits × {frames} frame(s) needs {needed} bytes, PixelData holds {}",
                    bytes.len()
                )));
            }
            hasher.update(&bytes);
            // Native samples are copied straight out of the element (once),
            // not through dicom-pixeldata, which copies them twice more.
            native = Some(copy_samples(&bytes, pixels as usize, bits_allocated > 8));
        }
        dicom_core::DicomValue::PixelSequence(seq) => {
            for fragment in seq.fragments() {
                hasher.update(fragment);
            }
            if is_j2k_syntax(header.transfer_syntax.as_deref())
                && (options.reduce_for.is_some() || options.j2k_area.is_some())
            {
                // One frame: all fragments; several: the first fragment.
                first_frame = Some(if frames == 1 {
                    seq.fragments().concat()
                } else {
                    seq.fragments().first().cloned().unwrap_or_default()
                });
            }
        }
        dicom_core::DicomValue::Sequence(_) => {
            return Err(err("PixelData is a sequence".into()));
        }
    }
    let pixel_data_sha256 = hex::encode(hasher.finalize());
    if let Some(out) = native {
        let format = sample_format(&object, bits_allocated);
        let stored = StoredSamples {
            rows,
            columns,
            bits_stored: format.bits_stored,
            signed: format.signed,
            slope: format.slope,
            intercept: format.intercept,
            reduction: 0,
        };
        return Ok(finish(path, header, stored, out, pixel_data_sha256));
    }
    if let (Some(codestream), Some(area)) = (&first_frame, options.j2k_area) {
        return decode_j2k_part(
            path,
            &object,
            header,
            codestream,
            J2kPart::Area(area),
            pixel_data_sha256,
        );
    }
    if let (Some(codestream), Some(tensor)) = (first_frame, options.reduce_for) {
        let levels = j2k_decomposition_levels(&codestream).unwrap_or(0);
        let reduction = reduction_levels(rows, columns, tensor, levels);
        if reduction > 0 {
            return decode_j2k_part(
                path,
                &object,
                header,
                &codestream,
                J2kPart::Reduced(reduction),
                pixel_data_sha256,
            );
        }
    }
    // Some codecs index past the end of damaged fragments (dicom-rs 0.10's
    // RLE decoder panics on a truncated file): a panic is one bad file, not
    // a crashed batch.
    let decoded = quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| object.decode_pixel_data()))
    })
    .map_err(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        err(format!(
            "cannot decode pixel data: the decoder failed ({why})"
        ))
    })?
    .map_err(|e| err(format!("cannot decode pixel data: {e}")))?;

    let bits_stored = decoded.bits_stored().clamp(1, 16);
    let signed = decoded.pixel_representation() == dicom_pixeldata::PixelRepresentation::Signed;
    let (slope, intercept) = decoded
        .rescale()
        .ok()
        .and_then(|r| r.first().map(|r| (r.slope, r.intercept)))
        .filter(|(s, i)| s.is_finite() && i.is_finite() && *s != 0.0)
        .unwrap_or((1.0, 0.0));
    let n = pixels as usize;
    let data = decoded.data();
    let bytes_per = if decoded.bits_allocated() > 8 { 2 } else { 1 };
    if data.len() < n * bytes_per {
        return Err(err(format!(
            "decoder returned {} bytes, {n} pixels × {bytes_per} bytes expected",
            data.len()
        )));
    }
    let out = copy_samples(data, n, bytes_per == 2);
    drop(decoded);
    let stored = StoredSamples {
        rows,
        columns,
        bits_stored,
        signed,
        slope,
        intercept,
        reduction: 0,
    };
    Ok(finish(path, header, stored, out, pixel_data_sha256))
}

/// The first `n` samples of little-endian pixel bytes as `u16` (16-bit
/// samples when `sixteen`, else 8-bit); the caller has checked the length.
fn copy_samples(data: &[u8], n: usize, sixteen: bool) -> Vec<u16> {
    let mut out = Vec::with_capacity(n);
    if sixteen {
        let data = &data[..(n * 2).min(data.len() & !1)];
        // A straight copy when the buffer is aligned (the usual case), else
        // byte by byte.
        #[cfg(target_endian = "little")]
        {
            // SAFETY: every bit pattern is a valid u16; align_to only yields
            // the aligned middle part.
            let (prefix, words, _) = unsafe { data.align_to::<u16>() };
            if prefix.is_empty() {
                out.extend_from_slice(words);
            }
        }
        if out.is_empty() {
            out.extend(
                data.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]])),
            );
        }
    } else {
        out.extend(data[..n.min(data.len())].iter().map(|&b| b as u16));
    }
    out
}

/// SamplesPerPixel and NumberOfFrames (1 when absent or unreadable; frames
/// at least 1).
fn samples_and_frames(object: &DefaultDicomObject) -> (u32, u64) {
    let samples = object
        .element_opt(tags::SAMPLES_PER_PIXEL)
        .ok()
        .flatten()
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1);
    let frames = object
        .element_opt(tags::NUMBER_OF_FRAMES)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()))
        .unwrap_or(1)
        .max(1);
    (samples, frames)
}

/// Sample format and Modality LUT read from the data set (for the paths that
/// do not go through dicom-pixeldata).
struct SampleFormat {
    bits_stored: u16,
    signed: bool,
    slope: f64,
    intercept: f64,
}

fn sample_format(object: &DefaultDicomObject, bits_allocated: u32) -> SampleFormat {
    let int = |tag| {
        object
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_int::<i64>().ok())
    };
    let float = |tag| {
        object
            .element_opt(tag)
            .ok()
            .flatten()
            .and_then(|e| e.to_float64().ok())
            .filter(|v| v.is_finite())
    };
    let (slope, intercept) = match (float(tags::RESCALE_SLOPE), float(tags::RESCALE_INTERCEPT)) {
        (Some(s), i) if s != 0.0 => (s, i.unwrap_or(0.0)),
        (_, i) => (1.0, i.unwrap_or(0.0)),
    };
    SampleFormat {
        bits_stored: int(tags::BITS_STORED)
            .unwrap_or(i64::from(bits_allocated))
            .clamp(1, 16) as u16,
        signed: int(tags::PIXEL_REPRESENTATION) == Some(1),
        slope,
        intercept,
    }
}

/// What [`finish`] needs besides the samples.
#[derive(Clone, Copy)]
struct StoredSamples {
    rows: u32,
    columns: u32,
    bits_stored: u16,
    signed: bool,
    slope: f64,
    intercept: f64,
    reduction: u32,
}

/// The range of stored samples and how many were clamped.
#[derive(Debug, Clone, Copy)]
struct SampleStats {
    lo: u16,
    hi: u16,
    clamped: usize,
}

impl SampleStats {
    fn new() -> Self {
        SampleStats {
            lo: u16::MAX,
            hi: 0,
            clamped: 0,
        }
    }

    /// Clamps unsigned samples above `max` in place and adds them to the
    /// range. It runs on every pixel, so the usual case (nothing above
    /// `max`) is one min/max pass, which vectorizes.
    fn clamp(&mut self, px: &mut [u16], max: u16) {
        let (mut lo, mut hi) = range_of(px);
        if hi > max {
            for v in px.iter_mut() {
                if *v > max {
                    *v = max;
                    self.clamped += 1;
                }
            }
            (lo, hi) = (lo.min(max), max);
        }
        self.lo = self.lo.min(lo);
        self.hi = self.hi.max(hi);
    }

    /// [`Self::clamp`] for samples that are only borrowed (a memory-mapped
    /// file): returns `px`, or a clamped copy of it in `spare` when some
    /// sample is above `max`.
    #[inline]
    fn scan<'a>(&mut self, px: &'a [u16], max: u16, spare: &'a mut Vec<u16>) -> &'a [u16] {
        let (lo, hi) = range_of(px);
        if hi <= max {
            self.lo = self.lo.min(lo);
            self.hi = self.hi.max(hi);
            return px;
        }
        spare.clear();
        spare.extend_from_slice(px);
        self.clamp(spare, max);
        spare
    }
}

/// `(min, max)` of `px` (`(u16::MAX, 0)` when empty): one pass that
/// vectorizes.
#[inline(always)]
fn range_of(px: &[u16]) -> (u16, u16) {
    px.iter()
        .fold((u16::MAX, 0u16), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Sign handling, clamping above BitsStored and the value range, shared by
/// every DICOM decode path. `out` holds the raw samples (two's complement in
/// the low `bits_stored` bits when signed).
fn finish(
    path: &Path,
    header: Header,
    s: StoredSamples,
    mut out: Vec<u16>,
    pixel_data_sha256: String,
) -> Decoded {
    let bits_stored = s.bits_stored;
    let max = max_for_bits(bits_stored);
    let mut stats = SampleStats::new();
    if s.signed {
        // Sign-extend from bits_stored, shift into 0..2^bits.
        let bits = bits_stored as u32;
        let shift = 1i32 << (bits_stored - 1).min(15);
        for v in out.iter_mut() {
            let raw = (*v as u32) & ((1u32 << bits) - 1).max(1);
            let value = if bits < 32 && raw & (1 << (bits - 1)) != 0 {
                raw as i32 - (1i32 << bits)
            } else {
                raw as i32
            };
            *v = (value + shift).clamp(0, max as i32) as u16;
            stats.lo = stats.lo.min(*v);
            stats.hi = stats.hi.max(*v);
        }
    } else {
        stats.clamp(&mut out, max);
    }
    build(path, header, s, out, pixel_data_sha256, stats)
}

/// The [`Decoded`] of samples already shifted and clamped (`stats`).
fn build(
    path: &Path,
    header: Header,
    s: StoredSamples,
    out: Vec<u16>,
    pixel_data_sha256: String,
    stats: SampleStats,
) -> Decoded {
    let bits_stored = s.bits_stored;
    let shift = if s.signed {
        1i32 << (bits_stored - 1).min(15)
    } else {
        0
    };
    let intercept = s.intercept - shift as f64 * s.slope;
    let photometric = header.photometric.clone();
    let transfer_syntax = header.transfer_syntax.clone();
    let factor = 1u32 << s.reduction;
    let mut d = Decoded {
        path: path.to_path_buf(),
        rows: s.rows.div_ceil(factor),
        columns: s.columns.div_ceil(factor),
        full_rows: s.rows,
        full_columns: s.columns,
        reduction: s.reduction,
        bits_stored,
        photometric,
        transfer_syntax,
        pixels: out,
        rescale_slope: s.slope,
        rescale_intercept: intercept,
        source_min: 0.0,
        source_max: 0.0,
        pixel_data_sha256,
        clamped_pixels: stats.clamped,
        header,
    };
    let (lo, hi) = if stats.lo > stats.hi {
        (0, 0)
    } else {
        (stats.lo, stats.hi)
    };
    let (a, b) = (d.modality(lo as f64), d.modality(hi as f64));
    d.source_min = a.min(b);
    d.source_max = a.max(b);
    d
}

/// What part of a JPEG 2000 image [`decode_j2k_part`] decodes.
#[derive(Debug, Clone, Copy)]
enum J2kPart {
    /// The whole image, this many resolution levels down.
    Reduced(u32),
    /// This area at full resolution (`DecodeOptions::j2k_area`).
    Area((u32, u32, u32, u32)),
}

/// Decodes part of one JPEG 2000 codestream, with the Modality LUT and
/// sample format read from the data set.
fn decode_j2k_part(
    path: &Path,
    object: &DefaultDicomObject,
    header: Header,
    codestream: &[u8],
    part: J2kPart,
    pixel_data_sha256: String,
) -> Result<Decoded> {
    let err = |m: String| decode_error(path, m);
    let (rows, columns) = (header.rows.unwrap_or(0), header.columns.unwrap_or(0));
    let SampleFormat {
        bits_stored,
        signed,
        slope,
        intercept,
    } = sample_format(object, header.bits_allocated.unwrap_or(16));
    let (params, reduction, (w, h)) = match part {
        J2kPart::Reduced(reduction) => {
            let factor = 1u32 << reduction;
            let size = (columns.div_ceil(factor), rows.div_ceil(factor));
            (
                jpeg2k::DecodeParameters::new().reduce(reduction),
                reduction,
                size,
            )
        }
        J2kPart::Area((x0, y0, x1, y1)) => {
            if x0 >= x1 || y0 >= y1 || x1 > columns || y1 > rows {
                return Err(err(format!(
                    "cannot decode pixel data: area ({x0}, {y0})-({x1}, {y1}) is not inside the {columns}×{rows} image"
                )));
            }
            let area = jpeg2k::DecodeArea::new(x0, y0, x1, y1);
            let params = jpeg2k::DecodeParameters::new().decode_area(Some(area));
            (params, 0, (x1 - x0, y1 - y0))
        }
    };
    let image =
        quietly(|| std::panic::catch_unwind(|| jpeg2k::Image::from_bytes_with(codestream, params)))
            .map_err(|_| err("cannot decode pixel data: the JPEG 2000 decoder failed".into()))?
            .map_err(|e| err(format!("cannot decode pixel data: {e}")))?;
    let components = image.components();
    let component = components
        .first()
        .ok_or_else(|| err("cannot decode pixel data: no JPEG 2000 component".into()))?;
    if (component.width(), component.height()) != (w, h) {
        return Err(err(format!(
            "cannot decode pixel data: JPEG 2000 frame of {}×{} for {part:?}, {w}×{h} expected",
            component.width(),
            component.height()
        )));
    }
    let mask = if signed {
        ((1u32 << bits_stored) - 1) as i32
    } else {
        i32::from(u16::MAX)
    };
    // Signed: two's complement in the low bits, as the native path sees it.
    let out: Vec<u16> = component
        .data()
        .iter()
        .map(|&v| {
            if signed {
                (v & mask) as u16
            } else {
                v.clamp(0, mask) as u16
            }
        })
        .collect();
    drop(image);
    let stored = StoredSamples {
        rows,
        columns,
        bits_stored,
        signed,
        slope,
        intercept,
        reduction,
    };
    let mut decoded = finish(path, header, stored, out, pixel_data_sha256);
    // An area: its own size; the stored size stays in full_rows/columns.
    (decoded.columns, decoded.rows) = (w, h);
    Ok(decoded)
}

fn min_max(pixels: &[u16]) -> (u16, u16) {
    let lo = pixels.iter().copied().min().unwrap_or(0);
    let hi = pixels.iter().copied().max().unwrap_or(0);
    (lo, hi)
}

/// PGM maxval from the header (P2/P5), to undo image's rescaling.
fn pgm_maxval(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < 2 || bytes[0] != b'P' || !matches!(bytes[1], b'2' | b'5') {
        return None;
    }
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 && i < bytes.len() {
        let c = bytes[i];
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            fields.push(
                std::str::from_utf8(&bytes[start..i])
                    .ok()?
                    .parse::<u32>()
                    .ok()?,
            );
            continue;
        }
        i += 1;
    }
    fields.get(2).copied()
}

fn decode_raster(path: &Path, max_pixels: usize) -> Result<Decoded> {
    let bytes = std::fs::read(path).map_err(|e| decode_error(path, e))?;
    let pixel_data_sha256 = hex::encode(Sha256::digest(&bytes));
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(path, e))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| decode_error(path, format!("cannot read the image header: {e}")))?;
    let pixels = w as u64 * h as u64;
    if w == 0 || h == 0 || pixels > max_pixels as u64 {
        return Err(decode_error(
            path,
            format!("refused: {w} × {h} = {pixels} pixels (cap {max_pixels})"),
        ));
    }
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(path, e))?;
    let img = reader
        .decode()
        .map_err(|e| decode_error(path, format!("cannot decode: {e}")))?;
    let sixteen = matches!(
        img.color(),
        image::ColorType::L16
            | image::ColorType::La16
            | image::ColorType::Rgb16
            | image::ColorType::Rgba16
    );
    let (mut out, mut bits) = if sixteen {
        (img.into_luma16().into_raw(), 16u16)
    } else {
        let v: Vec<u16> = img
            .into_luma8()
            .into_raw()
            .into_iter()
            .map(u16::from)
            .collect();
        (v, 8u16)
    };
    if let Some(maxval) = pgm_maxval(&bytes).filter(|&m| m > 0 && m != 255 && m != 65535) {
        // image scaled samples to 0..=255 (maxval < 256) or 0..=65535: undo.
        let full = if sixteen { 65535.0 } else { 255.0 };
        let factor = maxval as f64 / full;
        for v in out.iter_mut() {
            *v = (*v as f64 * factor).round() as u16;
        }
        bits = (32 - maxval.leading_zeros()) as u16;
    }
    let (lo, hi) = min_max(&out);
    Ok(Decoded {
        path: path.to_path_buf(),
        rows: h,
        columns: w,
        full_rows: h,
        full_columns: w,
        reduction: 0,
        bits_stored: bits,
        photometric: None,
        transfer_syntax: None,
        pixels: out,
        rescale_slope: 1.0,
        rescale_intercept: 0.0,
        source_min: lo as f64,
        source_max: hi as f64,
        pixel_data_sha256,
        clamped_pixels: 0,
        header: Header::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn dicom_file(
        dir: &Path,
        name: &str,
        rows: u16,
        cols: u16,
        bits: u16,
        pixels: &[u16],
        meta: bool,
    ) -> PathBuf {
        dicom_file_repr(dir, name, (rows, cols, bits), pixels, meta, false)
    }

    fn dicom_file_repr(
        dir: &Path,
        name: &str,
        (rows, cols, bits): (u16, u16, u16),
        pixels: &[u16],
        meta: bool,
        signed: bool,
    ) -> PathBuf {
        let mut obj = InMemDicomObject::new_empty();
        let put = |obj: &mut InMemDicomObject, tag, vr, v: PrimitiveValue| {
            obj.put(DataElement::new(tag, vr, v));
        };
        put(&mut obj, tags::SOP_CLASS_UID, VR::UI, "1.2.3.4".into());
        put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "abc.def".into());
        put(&mut obj, tags::MANUFACTURER, VR::LO, "ACME".into());
        put(
            &mut obj,
            tags::SAMPLES_PER_PIXEL,
            VR::US,
            PrimitiveValue::from(1u16),
        );
        put(
            &mut obj,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            "MONOCHROME1".into(),
        );
        put(&mut obj, tags::ROWS, VR::US, PrimitiveValue::from(rows));
        put(&mut obj, tags::COLUMNS, VR::US, PrimitiveValue::from(cols));
        put(
            &mut obj,
            tags::BITS_ALLOCATED,
            VR::US,
            PrimitiveValue::from(16u16),
        );
        put(
            &mut obj,
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(bits),
        );
        put(
            &mut obj,
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(bits - 1),
        );
        put(
            &mut obj,
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(signed as u16),
        );
        put(&mut obj, tags::RESCALE_SLOPE, VR::DS, "2".into());
        put(&mut obj, tags::RESCALE_INTERCEPT, VR::DS, "-10".into());
        put(
            &mut obj,
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(pixels.iter().copied().collect()),
        );
        let path = dir.join(name);
        if meta {
            let file = obj
                .with_meta(
                    FileMetaTableBuilder::new()
                        .transfer_syntax("1.2.840.10008.1.2")
                        .media_storage_sop_class_uid("1.2.3.4")
                        .media_storage_sop_instance_uid("abc.def"),
                )
                .unwrap();
            file.write_to_file(&path).unwrap();
        } else {
            let ts = dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN.erased();
            let mut f = std::fs::File::create(&path).unwrap();
            obj.write_dataset_with_ts(&mut f, &ts).unwrap();
        }
        path
    }

    /// A JPEG 2000 lossless DICOM of `px` (`cols × rows`, 12 bits).
    fn j2k_file(dir: &Path, px: &[u16], cols: u32, rows: u32) -> PathBuf {
        use dicom_core::value::{PixelFragmentSequence, Value};
        let mut fragment = crate::synth::j2k::encode_lossless(px, cols, rows, 12).unwrap();
        if fragment.len() % 2 == 1 {
            fragment.push(0);
        }
        let mut obj = InMemDicomObject::new_empty();
        let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
        obj.put(DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ));
        obj.put(us(tags::SAMPLES_PER_PIXEL, 1));
        obj.put(us(tags::ROWS, rows as u16));
        obj.put(us(tags::COLUMNS, cols as u16));
        obj.put(us(tags::BITS_ALLOCATED, 16));
        obj.put(us(tags::BITS_STORED, 12));
        obj.put(us(tags::HIGH_BIT, 11));
        obj.put(us(tags::PIXEL_REPRESENTATION, 0));
        obj.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            Value::from(PixelFragmentSequence::new(
                Vec::<u32>::new(),
                vec![fragment],
            )),
        ));
        let file = obj
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax("1.2.840.10008.1.2.4.90")
                    .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.1.2")
                    .media_storage_sop_instance_uid("1.2.3"),
            )
            .unwrap();
        let path = dir.join("j2k.dcm");
        file.write_to_file(&path).unwrap();
        path
    }

    /// A 300×200 JPEG 2000 lossless DICOM of a smooth breast-like half-disc
    /// on the left on a dark background: its path, pixels and size.
    fn half_disc_j2k(dir: &Path) -> (PathBuf, Vec<u16>, u32, u32) {
        let (cols, rows) = (300u32, 200u32);
        let px: Vec<u16> = (0..rows * cols)
            .map(|i| {
                let (x, y) = ((i % cols) as f32, (i / cols) as f32);
                let r = (x / 180.0).powi(2) + ((y - 100.0) / 80.0).powi(2);
                if r < 1.0 {
                    (2500.0 + 800.0 * (1.0 - r)) as u16
                } else {
                    60
                }
            })
            .collect();
        (j2k_file(dir, &px, cols, rows), px, cols, rows)
    }

    #[test]
    fn j2k_decodes_an_area_at_full_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let (path, px, cols, _) = half_disc_j2k(dir.path());
        let area = |a| DecodeOptions {
            j2k_area: Some(a),
            ..DecodeOptions::default()
        };
        let d = decode_with(&path, &area((40, 30, 250, 170))).unwrap();
        assert_eq!((d.columns, d.rows, d.reduction), (210, 140, 0));
        assert_eq!((d.full_columns, d.full_rows), (300, 200));
        let want: Vec<u16> = (30..170)
            .flat_map(|y| (40..250).map(move |x| (y * cols + x) as usize))
            .map(|i| px[i])
            .collect();
        assert!(d.pixels == want, "the area's stored pixels, exactly");
        // An area outside the image: an error naming the file and the area.
        let e = decode_with(&path, &area((0, 0, 301, 10))).unwrap_err();
        assert!(
            e.to_string().contains("not inside the 300×200 image"),
            "{e}"
        );
        assert!(e.to_string().contains("j2k.dcm"), "{e}");
        // The pixel stage's full-resolution path: analysed reduced, its
        // breast box decoded again at full resolution.
        let reduced = DecodeOptions {
            reduce_for: Some((48, 48)),
            ..DecodeOptions::default()
        };
        let small = decode_with(&path, &reduced).unwrap();
        let qc = crate::qc::QcOptions {
            tensor_shape: (48, 48),
            ..Default::default()
        };
        let analysis = crate::qc::analyse(&small, Some("L"), &qc);
        let stored = analysis.stored_box();
        assert!(stored.2 <= 300 && stored.3 <= 200 && stored.0 < stored.2 && stored.1 < stored.3);
        let source = decode_with(&path, &area(stored)).unwrap();
        let p = crate::qc::finish(analysis.clone(), &source, Some(stored), &qc);
        let q = crate::qc::finish(analysis, &small, None, &qc);
        // The same box and side as from the reduced image; the tensor from
        // the full-resolution pixels.
        let crop = |p: &crate::qc::Processed| (p.crop_x0, p.crop_y0, p.crop_x1, p.crop_y1);
        assert_eq!(crop(&p), crop(&q));
        assert_eq!(p.chest_wall_side, q.chest_wall_side);
        let ratio = p.scale / q.scale;
        assert!((ratio - 1.0).abs() < 0.02, "{ratio}");
        assert!(p.tensor != q.tensor, "the tensor from other pixels");
        // A native file ignores the area; `reduce_j2k_only` keeps it at full
        // resolution.
        let native = dicom_file(dir.path(), "n.dicom", 200, 300, 12, &px, true);
        let j2k_only = DecodeOptions {
            reduce_j2k_only: true,
            j2k_area: Some((0, 0, 5, 5)),
            ..reduced
        };
        let n = decode_with(&native, &j2k_only).unwrap();
        assert_eq!((n.columns, n.rows, n.reduction), (300, 200, 0));
        assert!(n.pixels == px);
        assert!(decode_with(&native, &reduced).unwrap().reduction > 0);
    }

    #[test]
    fn reduction_level_keeps_the_image_at_least_tensor_sized() {
        // 4096 x 3328 into 1024 x 512: two levels keep 1024 x 832.
        assert_eq!(reduction_levels(4096, 3328, (1024, 512), 5), 2);
        // VinDr's 3518 x 2800: one level (879 rows would be fewer than 1024).
        assert_eq!(reduction_levels(3518, 2800, (1024, 512), 5), 1);
        assert_eq!(reduction_levels(4096, 3328, (1024, 512), 1), 1);
        assert_eq!(reduction_levels(2048, 1024, (1024, 512), 5), 1);
        assert_eq!(reduction_levels(2047, 1023, (1024, 512), 5), 0);
        assert_eq!(reduction_levels(100, 100, (1024, 512), 5), 0);
        assert_eq!(reduction_levels(0, 100, (1024, 512), 5), 0);
    }

    #[test]
    fn j2k_decodes_reduced_with_stored_geometry() {
        let dir = tempfile::tempdir().unwrap();
        let (path, px, cols, rows) = half_disc_j2k(dir.path());
        let full = decode(&path, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(full.pixels, px, "lossless at full resolution");
        assert_eq!(full.reduction, 0);
        let options = DecodeOptions {
            reduce_for: Some((48, 48)),
            ..DecodeOptions::default()
        };
        let small = decode_with(&path, &options).unwrap();
        assert_eq!(small.reduction, 2);
        assert_eq!((small.columns, small.rows), (75, 50));
        assert_eq!((small.full_columns, small.full_rows), (cols, rows));
        assert_eq!(small.pixel_data_sha256, full.pixel_data_sha256);
        let mut row = crate::record::ImageRow::default();
        small.fill_row(&mut row);
        assert_eq!((row.columns, row.rows, row.decode_reduction), (300, 200, 2));
        // Inside the disc and outside it, the reduced image keeps the values.
        let at = |d: &Decoded, x: u32, y: u32| d.pixels[(y * d.columns + x) as usize] as i32;
        assert!((at(&small, 10, 25) - at(&full, 40, 100)).abs() < 60);
        assert!((at(&small, 70, 5) - 60).abs() < 20);
        // QC reports the crop box and scale in stored pixels either way.
        let qc = crate::qc::QcOptions {
            tensor_shape: (48, 48),
            ..Default::default()
        };
        let a = crate::qc::process(&full, Some("L"), &qc);
        let b = crate::qc::process(&small, Some("L"), &qc);
        for (p, q) in [
            (a.crop_x0, b.crop_x0),
            (a.crop_y0, b.crop_y0),
            (a.crop_x1, b.crop_x1),
            (a.crop_y1, b.crop_y1),
        ] {
            // The box is found on working copies of 256 and 75 pixels: to
            // about a working pixel of the reduced one, 4 stored pixels
            // (plus the one-pixel margin on each side).
            assert!((p - q).abs() <= 12, "{a:?} vs {b:?}");
        }
        assert!(b.crop_x1 <= 300 && b.crop_y1 <= 200);
        assert!(
            (a.scale / b.scale - 1.0).abs() < 0.1,
            "{} {}",
            a.scale,
            b.scale
        );
        assert_eq!(a.chest_wall_side, b.chest_wall_side);
    }

    #[test]
    fn decodes_dummy_meta_rescale_and_clamps_above_bits_stored() {
        let dir = tempfile::tempdir().unwrap();
        let px = [0u16, 100, 4095, 60000, 7, 8];
        let path = dicom_file(dir.path(), "a.dicom", 2, 3, 12, &px, true);
        let d = decode(&path, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!((d.rows, d.columns, d.bits_stored), (2, 3, 12));
        assert_eq!(d.pixels, vec![0, 100, 4095, 4095, 7, 8]);
        assert_eq!(d.clamped_pixels, 1);
        assert_eq!((d.source_min, d.source_max), (-10.0, 8180.0));
        assert_eq!(d.photometric.as_deref(), Some("MONOCHROME1"));
        assert_eq!(d.header.manufacturer.as_deref(), Some("ACME"));
        assert_eq!(d.pixel_data_sha256.len(), 64);
        // The same pixels without the meta group decode the same way.
        let bare = dicom_file(dir.path(), "b.dcm", 2, 3, 12, &px, false);
        let b = decode(&bare, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(b.pixels, d.pixels);
        assert_eq!(b.pixel_data_sha256, d.pixel_data_sha256);
    }

    #[test]
    fn signed_samples_keep_their_post_lut_values() {
        let dir = tempfile::tempdir().unwrap();
        let px = [(-100i16) as u16, 0, 100, 2047];
        let path = dicom_file_repr(dir.path(), "s.dcm", (2, 2, 12), &px, true, true);
        let d = decode(&path, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(d.pixels, vec![2048 - 100, 2048, 2148, 4095]);
        // slope 2, intercept -10 in the file: -100 -> -210.
        assert_eq!((d.source_min, d.source_max), (-210.0, 4084.0));
        assert_eq!(d.modality(2048.0), -10.0);
    }

    #[test]
    fn refuses_absurd_geometry_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dicom_file(dir.path(), "big.dcm", 60000, 60000, 16, &[1, 2, 3, 4], true);
        let e = decode(&path, DEFAULT_MAX_PIXELS).unwrap_err().to_string();
        assert!(e.contains("big.dcm") && e.contains("60000"), "{e}");
        let path = dicom_file(dir.path(), "short.dcm", 100, 100, 16, &[1, 2, 3, 4], true);
        let e = decode(&path, DEFAULT_MAX_PIXELS).unwrap_err().to_string();
        assert!(
            e.contains("short.dcm") && e.contains("PixelData holds 8"),
            "{e}"
        );
        let small = dicom_file(dir.path(), "cap.dcm", 2, 2, 16, &[1, 2, 3, 4], true);
        assert!(decode(&small, 3).unwrap_err().to_string().contains("cap 3"));
    }

    #[test]
    fn broken_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let good = dicom_file(dir.path(), "g.dcm", 8, 8, 16, &[5; 64], true);
        let bytes = std::fs::read(&good).unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty.dicom", vec![]),
            ("text.dicom", b"this is not a DICOM file at all".repeat(10)),
            ("trunc.dicom", bytes[..bytes.len() - 50].to_vec()),
            ("half.dicom", bytes[..bytes.len() / 2].to_vec()),
            ("bad.png", b"\x89PNG\r\n\x1a\nnope".to_vec()),
            ("bad.pgm", b"P5 10 10 255\n\x01\x02".to_vec()),
        ];
        for (name, content) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, content).unwrap();
            let e = decode(&p, DEFAULT_MAX_PIXELS).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn pgm_keeps_its_bit_depth_and_png_16_bit_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.pgm");
        let mut bytes = b"P5\n# comment\n3 1\n4095\n".to_vec();
        for v in [0u16, 1000, 4095] {
            bytes.extend_from_slice(&v.to_be_bytes());
        }
        std::fs::write(&p, &bytes).unwrap();
        let d = decode(&p, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(d.pixels, vec![0, 1000, 4095]);
        assert_eq!(d.bits_stored, 12);
        let p8 = dir.path().join("b.png");
        image::GrayImage::from_raw(2, 1, vec![3, 250])
            .unwrap()
            .save(&p8)
            .unwrap();
        let d = decode(&p8, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!((d.pixels.clone(), d.bits_stored), (vec![3, 250], 8));
        let p16 = dir.path().join("c.png");
        image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![3u16, 40000])
            .unwrap()
            .save(&p16)
            .unwrap();
        let d = decode(&p16, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!((d.pixels.clone(), d.bits_stored), (vec![3, 40000], 16));
    }
}

thread_local! {
    static IN_CODEC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the panic message of a codec panic kept off stderr: the
/// panic becomes the image's error message (an `unreadable_image`
/// exclusion), so printing it as well would only alarm. Panics elsewhere
/// print as usual.
fn quietly<T>(f: impl FnOnce() -> T) -> T {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_CODEC.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
    IN_CODEC.with(|c| c.set(true));
    let out = f();
    IN_CODEC.with(|c| c.set(false));
    out
}
