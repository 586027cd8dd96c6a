//! Sizes in config: Go's `pkg/stanza/operator/helper` `ByteSize`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A size as Go's `helper.ByteSize` reads it: a number of bytes, or a number with `kb`,
/// `KiB`, `mb`, `MiB`, ... (case-insensitive; `kb` = 1000, `kib` = 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let unit = unit.trim_start();
        let n: f64 = num
            .parse()
            .map_err(|_| format!("invalid byte size {s:?}"))?;
        let mult: f64 = match unit.to_ascii_lowercase().as_str() {
            "" => 1.0,
            "kb" => 1e3,
            "kib" => 1024.0,
            "mb" => 1e6,
            "mib" => 1024.0 * 1024.0,
            "gb" => 1e9,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            "tb" => 1e12,
            "tib" => 1024f64.powi(4),
            "pb" => 1e15,
            "pib" => 1024f64.powi(5),
            _ => return Err(format!("invalid byte size {s:?}: unknown unit {unit:?}")),
        };
        Ok(ByteSize((n * mult) as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as 1024, 1kb, 16KiB or 1MiB")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size must not be negative"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ByteSize, E> {
                if v < 0.0 {
                    return Err(E::custom("a size must not be negative"));
                }
                Ok(ByteSize(v as u64))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ByteSize, E> {
                ByteSize::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}
