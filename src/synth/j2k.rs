//! JPEG 2000 Lossless (1.2.840.10008.1.2.4.90) encoding of one grayscale
//! frame through OpenJPEG (`openjpeg-sys`, the same vendored C library
//! dicom-pixeldata decodes with): reversible 5/3 wavelet, one quality layer,
//! raw J2K codestream as DICOM encapsulates it. dicom-rs 0.10 has no JPEG 2000
//! encoder of its own.

use std::ffi::c_void;

use openjpeg_sys as opj;

/// Output buffer with a cursor (OpenJPEG may seek back while writing).
struct Sink {
    data: Vec<u8>,
    pos: usize,
}

unsafe extern "C" fn write_fn(buf: *mut c_void, n: usize, user: *mut c_void) -> usize {
    // SAFETY: `user` is the `Sink` handed to `opj_stream_set_user_data`, alive
    // for the whole encode; `buf` holds `n` bytes by OpenJPEG's contract.
    let sink = unsafe { &mut *(user as *mut Sink) };
    let src = unsafe { std::slice::from_raw_parts(buf as *const u8, n) };
    let end = sink.pos + n;
    if sink.data.len() < end {
        sink.data.resize(end, 0);
    }
    sink.data[sink.pos..end].copy_from_slice(src);
    sink.pos = end;
    n
}

unsafe extern "C" fn skip_fn(n: i64, user: *mut c_void) -> i64 {
    // SAFETY: see `write_fn`.
    let sink = unsafe { &mut *(user as *mut Sink) };
    let new = sink.pos as i64 + n;
    if new < 0 {
        return -1;
    }
    sink.pos = new as usize;
    n
}

unsafe extern "C" fn seek_fn(n: i64, user: *mut c_void) -> i32 {
    // SAFETY: see `write_fn`.
    let sink = unsafe { &mut *(user as *mut Sink) };
    if n < 0 {
        return 0;
    }
    sink.pos = n as usize;
    1
}

/// Encodes `px` (`cols × rows`, `bits` stored bits, unsigned) losslessly.
/// Returns the J2K codestream, or a message when OpenJPEG refuses.
pub fn encode_lossless(px: &[u16], cols: u32, rows: u32, bits: u16) -> Result<Vec<u8>, String> {
    if px.len() != (cols as usize) * (rows as usize) || cols == 0 || rows == 0 {
        return Err(format!("{} pixels for {cols}x{rows}", px.len()));
    }
    // Resolution levels must fit the smallest side.
    let min_side = cols.min(rows);
    let levels = (32 - min_side.leading_zeros()).clamp(1, 6) as i32;
    // SAFETY: plain FFI to OpenJPEG following its documented encode sequence;
    // every object created here is destroyed before returning, the image
    // buffer is written within its `w * h` bounds, and the sink outlives the
    // stream that points at it.
    unsafe {
        let mut cmpt = opj::opj_image_cmptparm_t {
            dx: 1,
            dy: 1,
            w: cols,
            h: rows,
            x0: 0,
            y0: 0,
            prec: bits as u32,
            bpp: bits as u32,
            sgnd: 0,
        };
        let image = opj::opj_image_create(1, &mut cmpt, opj::OPJ_COLOR_SPACE::OPJ_CLRSPC_GRAY);
        if image.is_null() {
            return Err("opj_image_create failed".into());
        }
        (*image).x0 = 0;
        (*image).y0 = 0;
        (*image).x1 = cols;
        (*image).y1 = rows;
        let data = std::slice::from_raw_parts_mut((*(*image).comps).data, px.len());
        for (d, &v) in data.iter_mut().zip(px) {
            *d = v as i32;
        }
        let mut params: opj::opj_cparameters_t = std::mem::zeroed();
        opj::opj_set_default_encoder_parameters(&mut params);
        params.tcp_numlayers = 1;
        params.tcp_rates[0] = 0.0;
        params.cp_disto_alloc = 1;
        params.irreversible = 0;
        params.numresolution = levels;
        let codec = opj::opj_create_compress(opj::OPJ_CODEC_FORMAT::OPJ_CODEC_J2K);
        let mut sink = Sink {
            data: Vec::with_capacity(px.len()),
            pos: 0,
        };
        let stream = opj::opj_stream_default_create(0);
        let result = (|| {
            if codec.is_null() || stream.is_null() {
                return Err("cannot create the OpenJPEG encoder".to_string());
            }
            if opj::opj_setup_encoder(codec, &mut params, image) == 0 {
                return Err("opj_setup_encoder failed".into());
            }
            opj::opj_stream_set_write_function(stream, Some(write_fn));
            opj::opj_stream_set_skip_function(stream, Some(skip_fn));
            opj::opj_stream_set_seek_function(stream, Some(seek_fn));
            opj::opj_stream_set_user_data(stream, &mut sink as *mut Sink as *mut c_void, None);
            if opj::opj_start_compress(codec, image, stream) == 0
                || opj::opj_encode(codec, stream) == 0
                || opj::opj_end_compress(codec, stream) == 0
            {
                return Err("OpenJPEG could not encode the frame".into());
            }
            Ok(())
        })();
        if !stream.is_null() {
            opj::opj_stream_destroy(stream);
        }
        if !codec.is_null() {
            opj::opj_destroy_codec(codec);
        }
        opj::opj_image_destroy(image);
        result.map(|()| sink.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_codestream() {
        let px: Vec<u16> = (0..64 * 40).map(|i| ((i * 37) % 4096) as u16).collect();
        let cs = encode_lossless(&px, 64, 40, 12).unwrap();
        assert_eq!(&cs[..4], &[0xFF, 0x4F, 0xFF, 0x51], "SOC + SIZ");
        assert_eq!(&cs[cs.len() - 2..], &[0xFF, 0xD9], "EOC");
        assert!(encode_lossless(&px, 10, 10, 12).is_err());
    }
}
