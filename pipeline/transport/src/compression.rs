//! `compression` (Go `configcompression.Type`) and `compression_params` (Go
//! `configcompression.CompressionParams`), and request body compression for HTTP clients.
//!
//! Go facts relied on (`config/confighttp/compressor.go`): `zlib` and `deflate` both write
//! zlib-wrapped data; with the `confighttp.framedSnappy` gate (beta, on since v0.125.0)
//! `snappy` is the block format and `x-snappy-framed` the framed format; the
//! `Content-Encoding` header carries the type name. Over gRPC Go registers only gzip, zstd
//! and snappy (`configgrpc.getGRPCCompressionName`).

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Deserializer};

/// One compression type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `""` or `none`.
    #[default]
    None,
    Gzip,
    Zlib,
    Deflate,
    Snappy,
    SnappyFramed,
    Zstd,
    Lz4,
}

impl Compression {
    /// The name as written in configs and in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zlib => "zlib",
            Compression::Deflate => "deflate",
            Compression::Snappy => "snappy",
            Compression::SnappyFramed => "x-snappy-framed",
            Compression::Zstd => "zstd",
            Compression::Lz4 => "lz4",
        }
    }

    pub fn is_compressed(self) -> bool {
        self != Compression::None
    }

    pub fn parse(s: &str) -> Option<Compression> {
        Some(match s {
            "" | "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "zlib" => Compression::Zlib,
            "deflate" => Compression::Deflate,
            "snappy" => Compression::Snappy,
            "x-snappy-framed" => Compression::SnappyFramed,
            "zstd" => Compression::Zstd,
            "lz4" => Compression::Lz4,
            _ => return None,
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Compression::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unsupported compression type {s:?}; expected one of gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4, none"
            ))
        })
    }
}

/// `compression_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionParams {
    /// 0: the algorithm's default. gzip/zlib/deflate: -1 (default), -2 (Huffman only: taken
    /// as 1 here), 0..=9; zstd: 1..=22 (Go maps these onto its four zstd speeds; Ferrotel
    /// passes them to libzstd).
    pub level: i64,
}

impl CompressionParams {
    /// Go `Type.ValidateParams`: which levels each type takes.
    pub fn check(&self, compression: Compression) -> Result<(), String> {
        let l = self.level;
        let ok = match compression {
            Compression::Gzip | Compression::Zlib | Compression::Deflate => (-2..=9).contains(&l),
            Compression::Zstd => l == 0 || (1..=22).contains(&l),
            _ => l == 0,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "unsupported compression level {l} for {compression}"
            ))
        }
    }
}

/// Compress an HTTP request body.
pub fn compress(
    compression: Compression,
    params: CompressionParams,
    body: &[u8],
) -> Result<Vec<u8>, String> {
    let flate_level = || match params.level {
        0 | -1 => flate2::Compression::default(),
        -2 => flate2::Compression::fast(),
        l => flate2::Compression::new(u32::try_from(l.clamp(0, 9)).unwrap_or(6)),
    };
    let io = |e: std::io::Error| format!("{compression}: {e}");
    match compression {
        Compression::None => Ok(body.to_vec()),
        Compression::Gzip => {
            let mut w = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4 + 64),
                flate_level(),
            );
            w.write_all(body).map_err(io)?;
            w.finish().map_err(io)
        }
        Compression::Zlib | Compression::Deflate => {
            let mut w = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(body.len() / 4 + 64),
                flate_level(),
            );
            w.write_all(body).map_err(io)?;
            w.finish().map_err(io)
        }
        Compression::Zstd => {
            let level = i32::try_from(params.level).unwrap_or(0);
            zstd::bulk::compress(body, level).map_err(io)
        }
        Compression::Snappy => snap::raw::Encoder::new()
            .compress_vec(body)
            .map_err(|e| format!("snappy: {e}")),
        Compression::SnappyFramed => {
            let mut w = snap::write::FrameEncoder::new(Vec::with_capacity(body.len() / 2 + 64));
            w.write_all(body).map_err(io)?;
            w.into_inner()
                .map_err(|e| format!("x-snappy-framed: {}", e.error()))
        }
        Compression::Lz4 => Err("lz4 compression is not supported by Ferrotel".into()),
    }
}

/// For tests of components that send compressed bodies.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::io::Read;

    /// Decompress a body the way a receiver would.
    pub fn decompress(encoding: &str, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            "" | "none" | "identity" => out = body.to_vec(),
            "gzip" => {
                flate2::read::GzDecoder::new(body)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            "zlib" | "deflate" => {
                flate2::read::ZlibDecoder::new(body)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            "zstd" => out = zstd::stream::decode_all(body).unwrap(),
            "snappy" => out = snap::raw::Decoder::new().decompress_vec(body).unwrap(),
            "x-snappy-framed" => {
                snap::read::FrameDecoder::new(body)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            other => panic!("unexpected encoding {other}"),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::decompress;
    use super::*;

    #[test]
    fn every_compression_round_trips() {
        let body: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Zlib,
            Compression::Deflate,
            Compression::Snappy,
            Compression::SnappyFramed,
            Compression::Zstd,
        ] {
            let packed = compress(c, CompressionParams::default(), &body).unwrap();
            assert_eq!(decompress(c.as_str(), &packed), body, "{c}");
        }
        assert!(compress(Compression::Lz4, CompressionParams::default(), &body).is_err());
    }

    #[test]
    fn compression_levels_follow_go_validate_params() {
        assert!(CompressionParams { level: 9 }
            .check(Compression::Gzip)
            .is_ok());
        assert!(CompressionParams { level: 10 }
            .check(Compression::Gzip)
            .is_err());
        assert!(CompressionParams { level: 3 }
            .check(Compression::Snappy)
            .is_err());
        assert!(CompressionParams { level: 19 }
            .check(Compression::Zstd)
            .is_ok());
        let packed = compress(Compression::Gzip, CompressionParams { level: 9 }, b"abc").unwrap();
        assert_eq!(decompress("gzip", &packed), b"abc");
    }
}
