//! Protobuf writing for the receivers that encode their requests themselves (OTLP/JSON
//! straight into the wire form, the `prometheus` receiver's scrapes): keys, varints,
//! length-delimited fields, and nested messages whose length is patched in when they close.

/// A varint; one byte, the usual key or short length, is pushed without prost's general
/// loop (a scrape writes some sixteen varints a sample).
#[inline(always)]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
    } else {
        prost::encoding::encode_varint(v, out);
    }
}

pub(crate) fn put_key(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Start a length-delimited field whose length is not known yet: its key and a one-byte
/// length, patched by [`close`].
pub(crate) fn open(out: &mut Vec<u8>, number: u32) -> usize {
    put_key(out, number, 2);
    out.push(0);
    out.len()
}

/// Write the length of the field [`open`] started at `start`, moving its payload when the
/// length takes more than one byte.
pub(crate) fn close(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    if len < 0x80 {
        out[start - 1] = len as u8;
        return;
    }
    let mut head = [0u8; 10];
    let n = {
        let mut rest = &mut head[..];
        prost::encoding::encode_varint(len as u64, &mut rest);
        10 - rest.len()
    };
    let extra = n - 1;
    out.resize(out.len() + extra, 0);
    out.copy_within(start..start + len, start + extra);
    out[start - 1..start + extra].copy_from_slice(&head[..n]);
}

/// Field `number` as eight little-endian bytes (a `double`, `fixed64` or `sfixed64`).
pub(crate) fn put_fixed64(out: &mut Vec<u8>, number: u32, bits: [u8; 8]) {
    put_key(out, number, 1);
    out.extend_from_slice(&bits);
}
