//! File encodings.
//!
//! Go facts (`internal/coreinternal/textutils/encoding.go`): names are matched
//! case-insensitively; `""`, `utf-8`, `utf8` are UTF-8 (invalid bytes become U+FFFD);
//! `ascii` and `us-ascii` are read as UTF-8; `utf-16` / `utf16` are UTF-16 little-endian;
//! `utf-16le`, `utf-16be` (IANA names); `nop` passes the bytes through (the body is bytes,
//! one token per read, no line splitting); other IANA character sets are not supported here.

use stanza::entry::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Nop,
}

impl Encoding {
    pub fn lookup(name: &str) -> Result<Encoding, String> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "" | "utf-8" | "utf8" | "utf-8-raw" | "utf8-raw" | "ascii" | "us-ascii" => {
                Encoding::Utf8
            }
            "utf-16" | "utf16" | "utf-16le" | "utf16le" => Encoding::Utf16Le,
            "utf-16be" | "utf16be" => Encoding::Utf16Be,
            "nop" => Encoding::Nop,
            other => {
                return Err(format!(
                    "unsupported encoding {other:?}: use utf-8, utf-16le, utf-16be, utf-16, ascii or nop"
                ))
            }
        })
    }

    /// Bytes per code unit: newlines are only searched at multiples of it.
    pub fn unit(self) -> usize {
        match self {
            Encoding::Utf16Le | Encoding::Utf16Be => 2,
            _ => 1,
        }
    }

    pub fn newline(self) -> &'static [u8] {
        match self {
            Encoding::Utf16Le => b"\n\0",
            Encoding::Utf16Be => b"\0\n",
            _ => b"\n",
        }
    }

    pub fn carriage_return(self) -> &'static [u8] {
        match self {
            Encoding::Utf16Le => b"\r\0",
            Encoding::Utf16Be => b"\0\r",
            _ => b"\r",
        }
    }

    /// Decode a token into the entry body.
    pub fn decode(self, bytes: &[u8]) -> Value {
        match self {
            Encoding::Nop => Value::Bytes(bytes.to_vec()),
            // valid UTF-8 (the usual case) is checked by the faster `from_utf8`
            Encoding::Utf8 => Value::Str(match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => String::from_utf8_lossy(bytes).into_owned(),
            }),
            Encoding::Utf16Le | Encoding::Utf16Be => {
                let units = bytes.chunks(2).map(|c| {
                    let pair = [c[0], *c.get(1).unwrap_or(&0)];
                    if self == Encoding::Utf16Le {
                        u16::from_le_bytes(pair)
                    } else {
                        u16::from_be_bytes(pair)
                    }
                });
                let s: String = char::decode_utf16(units)
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect();
                Value::Str(s.strip_prefix('\u{feff}').map(str::to_string).unwrap_or(s))
            }
        }
    }
}

/// Find `needle` in `hay` at a multiple of `unit`.
pub fn find_aligned(hay: &[u8], needle: &[u8], unit: usize) -> Option<usize> {
    if unit <= 1 {
        return match needle {
            [b] => memchr::memchr(*b, hay),
            _ => memchr::memmem::find(hay, needle),
        };
    }
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += unit;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_go_lookup_encoding() {
        assert_eq!(Encoding::lookup("UTF-8").unwrap(), Encoding::Utf8);
        assert_eq!(Encoding::lookup("ascii").unwrap(), Encoding::Utf8);
        assert_eq!(Encoding::lookup("utf-16").unwrap(), Encoding::Utf16Le);
        assert!(Encoding::lookup("klingon").is_err());
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(
            Encoding::Utf8.decode(b"a\xffb"),
            Value::Str("a\u{fffd}b".into())
        );
        let le: Vec<u8> = "hé".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(Encoding::Utf16Le.decode(&le), Value::Str("hé".into()));
    }
}
