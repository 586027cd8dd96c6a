//! [`AttrMap`]: one attribute list (a span's, a log record's, a data point's, a resource's)
//! seen through Go's `pcommon.Map` operations, whatever holds it: decoded `KeyValue`s or
//! the wire form ([`crate::wire_edit::WireAttrs`], where untouched attributes stay bytes).
//!
//! The operations follow pdata exactly, because the order they leave the list in is what an
//! exporter writes: lookups find the first entry of a key, `put` updates the first entry or
//! appends, and `remove` moves the last entry into the removed one's place
//! (`Map.Remove`); `remove_if` keeps the order of what stays (`Map.RemoveIf`).

use std::borrow::Cow;

use crate::proto::tonic::common::v1::{AnyValue, KeyValue};

static EMPTY: AnyValue = AnyValue { value: None };

/// Whether two keys are the same bytes. The slice comparison calls `memcmp` for any length;
/// the keys of one list mostly differ in length or in their first or last eight bytes, so
/// those are compared first, inline, and a key of up to 16 bytes needs nothing more.
#[inline(always)]
pub fn key_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        (Some(ha), Some(hb)) => {
            let (ta, tb) = (a.last_chunk::<8>(), b.last_chunk::<8>());
            ha == hb && ta == tb && (a.len() <= 16 || a[8..] == b[8..])
        }
        // shorter than eight bytes: a short loop
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

/// An attribute list with pdata's map semantics. Implementors give the six primitives; the
/// map operations are built on them.
pub trait AttrMap {
    /// How many entries (duplicates of a key included).
    fn len(&self) -> usize;
    /// The key of entry `i`.
    fn key(&self, i: usize) -> &str;
    /// The value of entry `i` (an empty value where the entry has none).
    fn value(&self, i: usize) -> Cow<'_, AnyValue>;
    /// Replace the value of entry `i`.
    fn set_value(&mut self, i: usize, value: AnyValue);
    /// Append an entry.
    fn push(&mut self, key: &str, value: AnyValue);
    /// Remove entry `i`, moving the last entry into its place.
    fn swap_remove(&mut self, i: usize);
    /// Remove entry `i`, keeping the order of the others.
    fn remove_at(&mut self, i: usize);

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of entry `i` as bytes (the wire form gives them without a UTF-8 check).
    fn key_bytes(&self, i: usize) -> &[u8] {
        self.key(i).as_bytes()
    }

    /// The length in bytes of entry `i`'s value when it is a string; `None` for any other
    /// type. The wire form answers from the encoded length, without decoding the string.
    fn string_len(&self, i: usize) -> Option<usize> {
        string_len_of(&self.value(i))
    }

    /// The index of the first entry of `key`.
    fn find(&self, key: &str) -> Option<usize> {
        (0..self.len()).find(|&i| key_eq(self.key(i).as_bytes(), key.as_bytes()))
    }

    /// The value of the first entry of `key` (`Map.Get`).
    fn get(&self, key: &str) -> Option<Cow<'_, AnyValue>> {
        self.find(key).map(|i| self.value(i))
    }

    fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Set the first entry of `key`, or append one (`Map.PutEmpty` + `CopyTo`).
    fn put(&mut self, key: &str, value: AnyValue) {
        match self.find(key) {
            Some(i) => self.set_value(i, value),
            None => self.push(key, value),
        }
    }

    /// Set the first entry of `key` if there is one.
    fn update(&mut self, key: &str, value: AnyValue) -> bool {
        match self.find(key) {
            Some(i) => {
                self.set_value(i, value);
                true
            }
            None => false,
        }
    }

    /// Remove the first entry of `key`, the last entry taking its place (`Map.Remove`).
    fn remove(&mut self, key: &str) -> bool {
        match self.find(key) {
            Some(i) => {
                self.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// A bound on the length of entry `i`'s value if it is a string, known without reading
    /// the value: the wire form's encoded size of the entry. No bound by default.
    fn string_len_bound(&self, _i: usize) -> usize {
        usize::MAX
    }

    /// Apply `f` to every string value longer than `limit` bytes.
    fn for_long_strings(&mut self, limit: usize, f: &mut dyn FnMut(&mut String)) {
        for i in 0..self.len() {
            if self.string_len_bound(i) > limit && self.string_len(i).is_some_and(|n| n > limit) {
                let mut v = self.value(i).into_owned();
                if let Some(crate::proto::tonic::common::v1::any_value::Value::StringValue(s)) =
                    &mut v.value
                {
                    f(s);
                }
                self.set_value(i, v);
            }
        }
    }

    /// [`AttrMap::remove_keys_if`] over the keys' bytes.
    fn remove_key_bytes_if(&mut self, f: &mut dyn FnMut(&[u8]) -> bool) {
        let mut i = 0;
        while i < self.len() {
            if f(self.key_bytes(i)) {
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// Remove every entry whose key matches, keeping the order of the rest
    /// (`Map.RemoveIf` on keys).
    fn remove_keys_if(&mut self, f: &mut dyn FnMut(&str) -> bool) {
        // keys are UTF-8 in either form
        self.remove_key_bytes_if(&mut |k| std::str::from_utf8(k).is_ok_and(&mut *f))
    }
}

/// The length in bytes of a string value; `None` for any other type.
pub(crate) fn string_len_of(v: &AnyValue) -> Option<usize> {
    match &v.value {
        Some(crate::proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s.len()),
        _ => None,
    }
}

impl AttrMap for Vec<KeyValue> {
    fn len(&self) -> usize {
        <[KeyValue]>::len(self)
    }
    fn key(&self, i: usize) -> &str {
        &self[i].key
    }
    fn value(&self, i: usize) -> Cow<'_, AnyValue> {
        Cow::Borrowed(self[i].value.as_ref().unwrap_or(&EMPTY))
    }
    fn set_value(&mut self, i: usize, value: AnyValue) {
        self[i].value = Some(value);
    }
    fn push(&mut self, key: &str, value: AnyValue) {
        Vec::push(
            self,
            KeyValue {
                key: key.to_string(),
                value: Some(value),
                ..Default::default()
            },
        );
    }
    fn swap_remove(&mut self, i: usize) {
        Vec::swap_remove(self, i);
    }
    fn remove_at(&mut self, i: usize) {
        Vec::remove(self, i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::tonic::common::v1::any_value::Value;

    #[test]
    fn keys_compare_as_their_bytes() {
        let mut pairs = 0;
        for len in 0..=40usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(key_eq(&a, &a.clone()), "{len}");
            // one byte different, at every place: the ends and the middle alike
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!key_eq(&a, &b), "{len} at {at}");
                pairs += 1;
            }
            // a prefix and an extension
            assert!(!key_eq(&a, &a[..len.saturating_sub(1)]) || len == 0);
            assert!(!key_eq(&a, &[&a[..], b"x"].concat()));
        }
        assert_eq!(pairs, 820);
    }

    fn s(v: &str) -> AnyValue {
        AnyValue {
            value: Some(Value::StringValue(v.into())),
        }
    }

    fn keys(m: &[KeyValue]) -> Vec<&str> {
        m.iter().map(|kv| kv.key.as_str()).collect()
    }

    #[test]
    fn remove_moves_the_last_entry_into_the_gap_as_pdata_does() {
        let mut v: Vec<KeyValue> = Vec::new();
        let m: &mut dyn AttrMap = &mut v;
        for k in ["a", "b", "c", "d"] {
            m.push(k, s(k));
        }
        assert!(m.remove("b"));
        assert!(!m.remove("b"));
        assert_eq!(keys(&v), ["a", "d", "c"]);
        let m: &mut dyn AttrMap = &mut v;
        m.remove_keys_if(&mut |k| k == "a");
        assert_eq!(keys(&v), ["d", "c"]);
    }

    #[test]
    fn put_updates_the_first_entry_or_appends() {
        let mut v: Vec<KeyValue> = Vec::new();
        let m: &mut dyn AttrMap = &mut v;
        m.push("a", s("1"));
        m.push("a", s("2"));
        m.put("a", s("3"));
        m.put("b", s("4"));
        assert_eq!(m.get("a").unwrap().as_ref(), &s("3"));
        assert!(!m.update("z", s("5")));
        assert_eq!(m.get("z"), None);
        assert_eq!(keys(&v), ["a", "a", "b"]);
    }
}
