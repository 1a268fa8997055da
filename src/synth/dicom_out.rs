//! Writes the synthetic DICOM files with dicom-object: Implicit VR Little
//! Endian, Explicit VR Little Endian, and RLE Lossless (dicom-rs 0.10 only
//! decodes RLE, so the encoder is here: PS3.5 Annex G, a 64-byte header of
//! segment offsets and one PackBits segment per byte plane, most significant
//! plane first, every row encoded on its own). Also the file-level defects:
//! truncated files, non-DICOM files and deliberately missing files.

use std::path::Path;

use dicom_core::value::PixelFragmentSequence;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{InMemDicomObject, mem::InMemElement};

use super::pixels::{self, Phantom};
use crate::error::{Error, Result};

/// Transfer syntax of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Implicit VR Little Endian (1.2.840.10008.1.2).
    ImplicitLe,
    /// Explicit VR Little Endian (1.2.840.10008.1.2.1).
    ExplicitLe,
    /// RLE Lossless (1.2.840.10008.1.2.5).
    Rle,
    /// JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90).
    J2kLossless,
}

impl Encoding {
    /// The transfer syntax UID.
    pub fn uid(self) -> &'static str {
        match self {
            Encoding::ImplicitLe => "1.2.840.10008.1.2",
            Encoding::ExplicitLe => "1.2.840.10008.1.2.1",
            Encoding::Rle => "1.2.840.10008.1.2.5",
            Encoding::J2kLossless => "1.2.840.10008.1.2.4.90",
        }
    }
}

/// What the pixels of a file are.
#[derive(Debug, Clone)]
pub enum Content {
    /// The whole phantom.
    Full(Phantom),
    /// A rectangle of the phantom `(x0, y0, x1, y1)` in stored pixels.
    Crop(Phantom, (f32, f32, f32, f32)),
    /// The ROI mask of lesion `n` of the phantom (0/255, same size).
    Mask(Phantom, usize),
}

/// File-level defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A good file.
    None,
    /// Ends in the middle of the pixel data.
    Truncated,
    /// Not DICOM at all (an HTML error page saved under the image's name).
    NonDicom,
    /// Not written.
    Missing,
}

/// One image file to write.
#[derive(Debug, Clone)]
pub struct ImageJob {
    /// Relative to OUT, `/`-separated.
    pub rel_path: String,
    /// Pixel content.
    pub content: Content,
    /// 8 or 16.
    pub bits_allocated: u16,
    /// ≤ bits_allocated.
    pub bits_stored: u16,
    /// PhotometricInterpretation to write.
    pub photometric: &'static str,
    /// Store `max - v` (bright background).
    pub invert_stored: bool,
    /// Transfer syntax.
    pub encoding: Encoding,
    /// File meta: MediaStorageSOPClassUID.
    pub meta_sop_class: String,
    /// File meta: MediaStorageSOPInstanceUID.
    pub meta_sop_instance: String,
    /// File meta: ImplementationClassUID and ImplementationVersionName.
    pub implementation: Option<(String, Option<String>)>,
    /// Dataset-specific elements (everything but the image pixel module).
    pub elements: Vec<InMemElement>,
    /// Also write Smallest/LargestImagePixelValue.
    pub min_max: bool,
    /// File-level defect.
    pub fault: Fault,
}

/// What `render` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    pub rel_path: String,
    /// Bytes on disk (0 when missing).
    pub bytes: u64,
    /// Sum of the stored pixel values, for readable files.
    pub pixel_sum: Option<u64>,
}

/// A text element.
pub fn text(tag: Tag, vr: VR, value: &str) -> InMemElement {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// A US element.
pub fn us(tag: Tag, value: u16) -> InMemElement {
    DataElement::new(tag, VR::US, PrimitiveValue::from(value))
}

/// A sequence element with the given items.
pub fn sequence(tag: Tag, items: Vec<Vec<InMemElement>>) -> InMemElement {
    let items: Vec<InMemDicomObject> = items
        .into_iter()
        .map(InMemDicomObject::from_element_iter)
        .collect();
    DataElement::new(tag, VR::SQ, dicom_core::value::DataSetSequence::from(items))
}

/// The pixels of a job as stored (after inversion), with width and height.
pub fn stored_pixels(job: &ImageJob) -> (Vec<u16>, u32, u32) {
    let (mut px, cols, rows) = match &job.content {
        Content::Full(p) => (p.render(), p.cols, p.rows),
        Content::Crop(p, bx) => pixels::crop(p, *bx),
        Content::Mask(p, i) => (p.mask(*i), p.cols, p.rows),
    };
    let max = ((1u32 << job.bits_stored) - 1) as u16;
    for v in &mut px {
        *v = (*v).min(max);
        if job.invert_stored {
            *v = max - *v;
        }
    }
    (px, cols, rows)
}

/// Renders and writes one job under `out`.
pub fn render(job: &ImageJob, out: &Path) -> Result<Written> {
    let mut written = Written {
        rel_path: job.rel_path.clone(),
        bytes: 0,
        pixel_sum: None,
    };
    match job.fault {
        Fault::Missing => {
            // The series folder exists, the file does not (an interrupted download).
            if let Some(parent) = out.join(&job.rel_path).parent() {
                std::fs::create_dir_all(parent).map_err(Error::io("create folder", parent))?;
            }
            return Ok(written);
        }
        Fault::NonDicom => {
            let body = "<html><head><title>503 Service Unavailable</title></head>\r\n<body><h1>Service Unavailable</h1><p>The NBIA download was interrupted.</p></body></html>\r\n";
            written.bytes = super::write_file(out, &job.rel_path, body.as_bytes())?;
            return Ok(written);
        }
        Fault::None | Fault::Truncated => {}
    }
    let (px, cols, rows) = stored_pixels(job);
    let bytes = encode_dicom(job, &px, cols, rows)?;
    let bytes = if job.fault == Fault::Truncated {
        // Cut in the middle of the pixel data element, whatever its encoding.
        let start = bytes
            .windows(4)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00])
            .unwrap_or(bytes.len() / 2);
        bytes[..start + (bytes.len() - start) / 2].to_vec()
    } else {
        written.pixel_sum = Some(px.iter().map(|&v| v as u64).sum());
        bytes
    };
    written.bytes = super::write_file(out, &job.rel_path, &bytes)?;
    Ok(written)
}

/// The complete DICOM file (preamble, meta, data set) for the stored pixels.
pub fn encode_dicom(job: &ImageJob, px: &[u16], cols: u32, rows: u32) -> Result<Vec<u8>> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        Error::Other(format!("synth: {what} {}: {e}", job.rel_path))
    };
    let mut raw: Vec<u8> = if job.bits_allocated == 8 {
        px.iter().map(|&v| v as u8).collect()
    } else {
        px.iter().flat_map(|v| v.to_le_bytes()).collect()
    };
    let mut obj = InMemDicomObject::from_element_iter(job.elements.iter().cloned());
    obj.put(us(tags::SAMPLES_PER_PIXEL, 1));
    obj.put(text(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        job.photometric,
    ));
    obj.put(us(tags::ROWS, rows as u16));
    obj.put(us(tags::COLUMNS, cols as u16));
    obj.put(us(tags::BITS_ALLOCATED, job.bits_allocated));
    obj.put(us(tags::BITS_STORED, job.bits_stored));
    obj.put(us(tags::HIGH_BIT, job.bits_stored - 1));
    obj.put(us(tags::PIXEL_REPRESENTATION, 0));
    if job.min_max {
        let min = px.iter().copied().min().unwrap_or(0);
        let max = px.iter().copied().max().unwrap_or(0);
        obj.put(us(tags::SMALLEST_IMAGE_PIXEL_VALUE, min));
        obj.put(us(tags::LARGEST_IMAGE_PIXEL_VALUE, max));
    }
    let pixel_vr = if job.bits_allocated == 8 {
        VR::OB
    } else {
        VR::OW
    };
    match job.encoding {
        Encoding::Rle => {
            let fragment = rle_encode(&raw, cols as usize, rows as usize, job.bits_allocated);
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::from(PixelFragmentSequence::new(
                    Vec::<u32>::new(),
                    vec![fragment],
                )),
            ));
        }
        Encoding::J2kLossless => {
            let mut fragment = super::j2k::encode_lossless(px, cols, rows, job.bits_stored)
                .map_err(|e| fail("JPEG 2000 encode", &e))?;
            if fragment.len() % 2 == 1 {
                fragment.push(0);
            }
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::from(PixelFragmentSequence::new(
                    Vec::<u32>::new(),
                    vec![fragment],
                )),
            ));
        }
        Encoding::ImplicitLe | Encoding::ExplicitLe => {
            if raw.len() % 2 == 1 {
                raw.push(0);
            }
            obj.put(DataElement::new(
                tags::PIXEL_DATA,
                pixel_vr,
                PrimitiveValue::U8(raw.into()),
            ));
        }
    }
    let mut meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(job.meta_sop_class.as_str())
        .media_storage_sop_instance_uid(job.meta_sop_instance.as_str())
        .transfer_syntax(job.encoding.uid());
    if let Some((class, version)) = &job.implementation {
        meta = meta.implementation_class_uid(class.as_str());
        if let Some(v) = version {
            meta = meta.implementation_version_name(v.as_str());
        }
    }
    let meta = meta.build().map_err(|e| fail("file meta of", &e))?;
    let file = obj.with_exact_meta(meta);
    let mut buf = Vec::with_capacity(px.len() * 2 + 4096);
    file.write_all(&mut buf).map_err(|e| fail("encode", &e))?;
    Ok(buf)
}

/// RLE Lossless encoding of one frame (PS3.5 Annex G).
pub fn rle_encode(raw: &[u8], cols: usize, rows: usize, bits_allocated: u16) -> Vec<u8> {
    let bytes_per_sample = (bits_allocated as usize).div_ceil(8);
    let mut segments: Vec<Vec<u8>> = Vec::with_capacity(bytes_per_sample);
    // Segment order: most significant byte plane first.
    for plane in (0..bytes_per_sample).rev() {
        let mut seg = Vec::new();
        let mut row_bytes = Vec::with_capacity(cols);
        for r in 0..rows {
            row_bytes.clear();
            for c in 0..cols {
                row_bytes.push(raw[(r * cols + c) * bytes_per_sample + plane]);
            }
            packbits(&row_bytes, &mut seg);
        }
        if seg.len() % 2 == 1 {
            seg.push(0x80); // PackBits no-op
        }
        segments.push(seg);
    }
    let mut out = Vec::with_capacity(64 + segments.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    let mut offset = 64u32;
    for i in 0..15 {
        if i < segments.len() {
            out.extend_from_slice(&offset.to_le_bytes());
            offset += segments[i].len() as u32;
        } else {
            out.extend_from_slice(&0u32.to_le_bytes());
        }
    }
    for seg in segments {
        out.extend_from_slice(&seg);
    }
    out
}

/// PackBits: runs of 2..=128 equal bytes as `(1 - n, byte)`, literals of
/// 1..=128 bytes as `(n - 1, bytes...)`.
fn packbits(row: &[u8], out: &mut Vec<u8>) {
    let n = row.len();
    let mut i = 0;
    while i < n {
        let mut run = 1;
        while i + run < n && run < 128 && row[i + run] == row[i] {
            run += 1;
        }
        if run >= 2 {
            out.push((257 - run) as u8);
            out.push(row[i]);
            i += run;
        } else {
            let start = i;
            i += 1;
            while i < n && i - start < 128 && !(i + 1 < n && row[i] == row[i + 1]) {
                i += 1;
            }
            out.push((i - start - 1) as u8);
            out.extend_from_slice(&row[start..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unpackbits(mut src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some((&h, rest)) = src.split_first() {
            let h = h as i8;
            if h >= 0 {
                let n = h as usize + 1;
                out.extend_from_slice(&rest[..n]);
                src = &rest[n..];
            } else if h != -128 {
                let n = (1 - h as isize) as usize;
                out.extend(std::iter::repeat_n(rest[0], n));
                src = &rest[1..];
            } else {
                src = rest;
            }
        }
        out
    }

    #[test]
    fn packbits_round_trips() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![7],
            vec![1, 1],
            vec![1, 2, 3, 3, 3, 4],
            vec![9; 300],
            (0..=255).collect(),
            (0..1000).map(|i| ((i * 7919) % 13) as u8).collect(),
        ];
        for c in cases {
            let mut enc = Vec::new();
            packbits(&c, &mut enc);
            assert_eq!(unpackbits(&enc), c);
        }
    }

    #[test]
    fn rle_header_and_planes() {
        let raw: Vec<u8> = [0x1234u16, 0x1234, 0xABCD, 0x0001]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let enc = rle_encode(&raw, 2, 2, 16);
        assert_eq!(u32::from_le_bytes(enc[0..4].try_into().unwrap()), 2);
        let o1 = u32::from_le_bytes(enc[4..8].try_into().unwrap()) as usize;
        let o2 = u32::from_le_bytes(enc[8..12].try_into().unwrap()) as usize;
        assert_eq!(o1, 64);
        assert_eq!(unpackbits(&enc[o1..o2]), vec![0x12, 0x12, 0xAB, 0x00]);
        assert_eq!(unpackbits(&enc[o2..]), vec![0x34, 0x34, 0xCD, 0x01]);
        assert_eq!(enc.len() % 2, 0);
    }
}
