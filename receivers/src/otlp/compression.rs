//! Request body decompression for OTLP/HTTP, bounded so that a small compressed body cannot
//! grow past the body limit (a zip bomb is refused after `limit + 1` bytes of output).
//!
//! Go `config/confighttp/compression.go`: `gzip`; `zstd`; `zlib` and `deflate` both read
//! zlib-wrapped data (`enabled["deflate"] = availableDecoders["zlib"]`); `snappy` is the block
//! format, or the framed format when the body starts with the framing header (Go
//! `snappyHandler`, kept for clients of older collectors that sent framed data as `snappy`);
//! `x-snappy-framed` is the framed format. An unknown encoding is a 400 with
//! `unsupported Content-Encoding: <value>`.

use std::io::Read;

/// Why a body could not be decompressed.
#[derive(Debug, PartialEq, Eq)]
pub enum DecompressError {
    /// The decompressed body would be larger than the limit.
    TooLarge,
    /// The encoding is not accepted.
    Unsupported(String),
    /// The data is not valid for its encoding.
    Corrupt(String),
}

/// The first 10 bytes of every snappy framed stream (stream identifier chunk + "sNaPpY").
const SNAPPY_FRAMING_HEADER: &[u8] = &[0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59];

/// Decompress `body` sent with `Content-Encoding: encoding` (already lower-cased and trimmed),
/// if `encoding` is in `enabled`; `None` means the body is not compressed.
pub fn decompress(
    encoding: &str,
    body: &[u8],
    enabled: &[String],
    limit: usize,
) -> Result<Option<Vec<u8>>, DecompressError> {
    if !enabled.iter().any(|e| e == encoding) && !matches!(encoding, "" | "identity") {
        return Err(DecompressError::Unsupported(format!(
            "unsupported Content-Encoding: {encoding}"
        )));
    }
    match encoding {
        "" | "identity" | "none" => Ok(None),
        "gzip" => read_bounded(flate2::read::MultiGzDecoder::new(body), limit, "gzip").map(Some),
        "zlib" | "deflate" => {
            read_bounded(flate2::read::ZlibDecoder::new(body), limit, encoding).map(Some)
        }
        "zstd" => {
            let decoder = zstd::stream::read::Decoder::new(body)
                .map_err(|e| DecompressError::Corrupt(format!("zstd: {e}")))?;
            read_bounded(decoder, limit, "zstd").map(Some)
        }
        "snappy" if body.starts_with(SNAPPY_FRAMING_HEADER) => {
            read_bounded(snap::read::FrameDecoder::new(body), limit, "snappy").map(Some)
        }
        "snappy" => {
            let len = snap::raw::decompress_len(body)
                .map_err(|e| DecompressError::Corrupt(format!("snappy: {e}")))?;
            if len > limit {
                return Err(DecompressError::TooLarge);
            }
            snap::raw::Decoder::new()
                .decompress_vec(body)
                .map(Some)
                .map_err(|e| DecompressError::Corrupt(format!("snappy: {e}")))
        }
        "x-snappy-framed" => read_bounded(
            snap::read::FrameDecoder::new(body),
            limit,
            "x-snappy-framed",
        )
        .map(Some),
        other => Err(DecompressError::Unsupported(format!(
            "unsupported Content-Encoding: {other}"
        ))),
    }
}

fn read_bounded(reader: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Corrupt(format!("{what}: {e}")))?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    pub(crate) fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut w =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            "zlib" | "deflate" => {
                let mut w =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                w.write_all(data).unwrap();
                w.finish().unwrap()
            }
            "zstd" => zstd::stream::encode_all(data, 3).unwrap(),
            "snappy" => snap::raw::Encoder::new().compress_vec(data).unwrap(),
            "x-snappy-framed" => {
                let mut w = snap::write::FrameEncoder::new(Vec::new());
                w.write_all(data).unwrap();
                w.into_inner().unwrap()
            }
            "" => data.to_vec(),
            other => panic!("no test compressor for {other}"),
        }
    }

    fn all() -> Vec<String> {
        super::super::config::DEFAULT_COMPRESSION_ALGORITHMS
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn every_go_encoding_round_trips() {
        let data = b"hello hello hello hello otlp".repeat(10);
        for enc in [
            "gzip",
            "zlib",
            "deflate",
            "zstd",
            "snappy",
            "x-snappy-framed",
        ] {
            let out = decompress(enc, &compress(enc, &data), &all(), 1 << 20).unwrap();
            assert_eq!(out.as_deref(), Some(&data[..]), "{enc}");
        }
        assert_eq!(decompress("", &data, &all(), 1 << 20).unwrap(), None);
    }

    #[test]
    fn snappy_accepts_the_framed_format_too_like_go_snappy_handler() {
        let data = b"framed under the snappy name".repeat(4);
        let framed = compress("x-snappy-framed", &data);
        assert_eq!(
            decompress("snappy", &framed, &all(), 1 << 20)
                .unwrap()
                .unwrap(),
            data
        );
    }

    #[test]
    fn zip_bombs_stop_at_the_limit() {
        let data = vec![0u8; 1 << 20];
        for enc in ["gzip", "zlib", "zstd", "snappy", "x-snappy-framed"] {
            let packed = compress(enc, &data);
            assert!(packed.len() < 100_000, "{enc} {}", packed.len());
            assert_eq!(
                decompress(enc, &packed, &all(), 1000),
                Err(DecompressError::TooLarge),
                "{enc}"
            );
        }
    }

    #[test]
    fn corrupt_and_unknown_encodings_are_errors() {
        for enc in ["gzip", "zlib", "zstd", "snappy", "x-snappy-framed"] {
            let mut bad = compress(enc, b"some data that will be cut short, some data");
            bad.truncate(bad.len() / 2);
            assert!(
                matches!(
                    decompress(enc, &bad, &all(), 1 << 20),
                    Err(DecompressError::Corrupt(_))
                ),
                "{enc}"
            );
            assert!(
                matches!(
                    decompress(enc, b"not compressed at all", &all(), 1 << 20),
                    Err(DecompressError::Corrupt(_))
                ),
                "{enc}"
            );
        }
        assert_eq!(
            decompress("br", b"x", &all(), 10),
            Err(DecompressError::Unsupported(
                "unsupported Content-Encoding: br".into()
            ))
        );
        assert!(matches!(
            decompress("gzip", b"x", &["zstd".to_string()], 10),
            Err(DecompressError::Unsupported(_))
        ));
    }
}
