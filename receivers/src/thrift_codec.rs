//! Reading Thrift, binary and compact protocols, for the receivers of Thrift formats
//! (Jaeger's `jaeger.thrift`, Zipkin v1's `zipkincore.thrift`).
//!
//! A reader of our own, not the `thrift` crate: the schemas are a few small structs, and the
//! reader must hold on hostile input (a length or a list size from the wire is never trusted
//! for an allocation, nesting is bounded), which is the receivers' business.
//!
//! Wire facts relied on (Apache Thrift protocol specifications):
//! - binary: a field is a type byte (0 ends the struct), a big-endian i16 id, the value;
//!   integers big-endian, doubles as big-endian IEEE bits, strings an i32 length and the
//!   bytes, lists an element type byte and an i32 size; a message starts with
//!   `0x8001_00TT` (strict) or a name length (old style), then the name and an i32 sequence id.
//! - compact: a field header byte holds the id delta (high nibble; 0 means a zigzag i16 id
//!   follows) and the type (low nibble; booleans carry their value in the type: 1 true, 2
//!   false); integers are zigzag varints, doubles 8 bytes little-endian, binaries a varint
//!   length, lists a header byte (size in the high nibble, 15 meaning a varint size follows)
//!   with the element type; a message starts with `0x82`, a byte of version (1) and type,
//!   a varint sequence id and the name.

/// Which Thrift protocol a payload is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
}

/// Nesting of structs and lists deeper than this is refused.
pub(crate) const MAX_DEPTH: usize = 32;

// Thrift types, as the binary protocol numbers them (compact types are mapped onto these).
pub(crate) const T_STOP: u8 = 0;
pub(crate) const T_BOOL: u8 = 2;
pub(crate) const T_BYTE: u8 = 3;
pub(crate) const T_DOUBLE: u8 = 4;
pub(crate) const T_I16: u8 = 6;
pub(crate) const T_I32: u8 = 8;
pub(crate) const T_I64: u8 = 10;
pub(crate) const T_STRING: u8 = 11;
pub(crate) const T_STRUCT: u8 = 12;
pub(crate) const T_MAP: u8 = 13;
pub(crate) const T_SET: u8 = 14;
pub(crate) const T_LIST: u8 = 15;

pub(crate) type R<T> = Result<T, String>;

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    proto: Protocol,
    /// Compact: the last field id of each open struct.
    last_ids: Vec<i16>,
    /// Compact: the value of a boolean field, carried in its header.
    pending_bool: Option<bool>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], proto: Protocol) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            proto,
            last_ids: Vec::new(),
            pending_bool: None,
        }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("truncated at byte {}", self.pos))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn byte(&mut self) -> R<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn varint(&mut self) -> R<u64> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            out |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err("varint longer than 10 bytes".into())
    }

    pub(crate) fn zigzag(&mut self) -> R<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    pub(crate) fn i16(&mut self) -> R<i16> {
        match self.proto {
            Protocol::Binary => Ok(i16::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i16::try_from(self.zigzag()?).map_err(|_| "i16 out of range".to_string())
            }
        }
    }

    pub(crate) fn i32(&mut self) -> R<i32> {
        match self.proto {
            Protocol::Binary => Ok(i32::from_be_bytes(self.array()?)),
            Protocol::Compact => {
                i32::try_from(self.zigzag()?).map_err(|_| "i32 out of range".to_string())
            }
        }
    }

    pub(crate) fn i64(&mut self) -> R<i64> {
        match self.proto {
            Protocol::Binary => Ok(i64::from_be_bytes(self.array()?)),
            Protocol::Compact => self.zigzag(),
        }
    }

    pub(crate) fn double(&mut self) -> R<f64> {
        let b: [u8; 8] = self.array()?;
        Ok(match self.proto {
            Protocol::Binary => f64::from_be_bytes(b),
            Protocol::Compact => f64::from_le_bytes(b),
        })
    }

    pub(crate) fn bool(&mut self) -> R<bool> {
        if let Some(b) = self.pending_bool.take() {
            return Ok(b);
        }
        Ok(match self.proto {
            Protocol::Binary => self.byte()? != 0,
            // an element of a list: 1 is true
            Protocol::Compact => self.byte()? == 1,
        })
    }

    pub(crate) fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub(crate) fn binary(&mut self) -> R<&'a [u8]> {
        let n = match self.proto {
            Protocol::Binary => {
                usize::try_from(self.i32()?).map_err(|_| "negative length".to_string())?
            }
            Protocol::Compact => {
                usize::try_from(self.varint()?).map_err(|_| "length too large".to_string())?
            }
        };
        self.bytes(n)
    }

    pub(crate) fn string(&mut self) -> R<String> {
        Ok(String::from_utf8_lossy(self.binary()?).into_owned())
    }

    pub(crate) fn struct_begin(&mut self) -> R<()> {
        if self.last_ids.len() >= MAX_DEPTH {
            return Err("nested too deep".into());
        }
        self.last_ids.push(0);
        Ok(())
    }

    pub(crate) fn struct_end(&mut self) {
        self.last_ids.pop();
    }

    /// The next field's (type, id); `None` at the end of the struct.
    pub(crate) fn field(&mut self) -> R<Option<(u8, i16)>> {
        match self.proto {
            Protocol::Binary => {
                let t = self.byte()?;
                if t == T_STOP {
                    return Ok(None);
                }
                Ok(Some((t, self.i16()?)))
            }
            Protocol::Compact => {
                let h = self.byte()?;
                if h == T_STOP {
                    return Ok(None);
                }
                let last = self.last_ids.last().copied().unwrap_or(0);
                let delta = i16::from(h >> 4);
                let id = if delta == 0 {
                    self.i16()?
                } else {
                    last.checked_add(delta)
                        .ok_or_else(|| "field id out of range".to_string())?
                };
                if let Some(l) = self.last_ids.last_mut() {
                    *l = id;
                }
                let t = match h & 0x0f {
                    1 => {
                        self.pending_bool = Some(true);
                        T_BOOL
                    }
                    2 => {
                        self.pending_bool = Some(false);
                        T_BOOL
                    }
                    t => compact_type(t)?,
                };
                Ok(Some((t, id)))
            }
        }
    }

    /// A list or set header: (element type, size), the size bounded by the bytes left.
    pub(crate) fn list(&mut self) -> R<(u8, usize)> {
        let (t, n) = match self.proto {
            Protocol::Binary => {
                let t = self.byte()?;
                let n = usize::try_from(self.i32()?).map_err(|_| "negative list size")?;
                (t, n)
            }
            Protocol::Compact => {
                let h = self.byte()?;
                let n = match h >> 4 {
                    15 => usize::try_from(self.varint()?).map_err(|_| "list size too large")?,
                    n => usize::from(n),
                };
                let t = match h & 0x0f {
                    1 | 2 => T_BOOL,
                    t => compact_type(t)?,
                };
                (t, n)
            }
        };
        // every element takes at least one byte
        if n > self.remaining() {
            return Err(format!(
                "list of {n} elements in {} bytes",
                self.remaining()
            ));
        }
        Ok((t, n))
    }

    /// Pass over a value of type `t`.
    pub(crate) fn skip(&mut self, t: u8, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err("nested too deep".into());
        }
        match t {
            T_BOOL => {
                self.bool()?;
            }
            T_BYTE => {
                self.byte()?;
            }
            T_I16 => {
                self.i16()?;
            }
            T_I32 => {
                self.i32()?;
            }
            T_I64 => {
                self.i64()?;
            }
            T_DOUBLE => {
                self.double()?;
            }
            T_STRING => {
                self.binary()?;
            }
            T_STRUCT => {
                self.struct_begin()?;
                while let Some((ft, _)) = self.field()? {
                    self.skip(ft, depth + 1)?;
                }
                self.struct_end();
            }
            T_LIST | T_SET => {
                let (et, n) = self.list()?;
                for _ in 0..n {
                    self.skip(et, depth + 1)?;
                }
            }
            T_MAP => {
                let (kt, vt, n) = match self.proto {
                    Protocol::Binary => {
                        let kt = self.byte()?;
                        let vt = self.byte()?;
                        let n = usize::try_from(self.i32()?).map_err(|_| "negative map size")?;
                        (kt, vt, n)
                    }
                    Protocol::Compact => {
                        let n = usize::try_from(self.varint()?).map_err(|_| "map too large")?;
                        if n == 0 {
                            (T_STOP, T_STOP, 0)
                        } else {
                            let kv = self.byte()?;
                            (compact_type(kv >> 4)?, compact_type(kv & 0x0f)?, n)
                        }
                    }
                };
                if n > self.remaining() {
                    return Err(format!("map of {n} entries in {} bytes", self.remaining()));
                }
                for _ in 0..n {
                    self.skip(kt, depth + 1)?;
                    self.skip(vt, depth + 1)?;
                }
            }
            t => return Err(format!("unknown field type {t}")),
        }
        Ok(())
    }

    /// A list of structs, each read by `read`.
    pub(crate) fn structs<T>(&mut self, read: impl Fn(&mut Self) -> R<T>) -> R<Vec<T>> {
        let (t, n) = self.list()?;
        if t != T_STRUCT {
            return Err(format!("a list of type {t} where structs were expected"));
        }
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            out.push(read(self)?);
        }
        Ok(out)
    }
}

fn compact_type(t: u8) -> R<u8> {
    Ok(match t {
        0 => T_STOP,
        1 | 2 => T_BOOL,
        3 => T_BYTE,
        4 => T_I16,
        5 => T_I32,
        6 => T_I64,
        7 => T_DOUBLE,
        8 => T_STRING,
        9 => T_LIST,
        10 => T_SET,
        11 => T_MAP,
        12 => T_STRUCT,
        t => return Err(format!("unknown compact type {t}")),
    })
}

/// Read one struct: `on_field(reader, type, id)` returns false for a field it did not take
/// (which is then skipped); `required` lists the ids that must be present.
pub(crate) fn read_struct(
    r: &mut Reader<'_>,
    name: &str,
    required: &[i16],
    mut on_field: impl FnMut(&mut Reader<'_>, u8, i16) -> R<bool>,
) -> R<()> {
    r.struct_begin()?;
    let mut seen: u32 = 0;
    while let Some((t, id)) = r.field()? {
        if !on_field(r, t, id)? {
            r.skip(t, 1)?;
        } else if (1..32).contains(&id) {
            seen |= 1 << id;
        }
    }
    r.struct_end();
    for id in required {
        if seen & (1 << id) == 0 {
            return Err(format!("required field {id} of {name} is not set"));
        }
    }
    Ok(())
}
