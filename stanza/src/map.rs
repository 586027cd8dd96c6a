//! [`Map`]: an entry's attributes, resource and map values, as a vector of pairs sorted by
//! key.
//!
//! An entry usually holds about a dozen attributes, inserted once and read once when the
//! record is encoded. A sorted vector does that with one allocation and in-order reads where
//! a `BTreeMap` splits nodes past eleven keys and chases pointers (measured on the
//! `filelog-docker` bench: `bench/README.md`). The order is the key order, as a `BTreeMap`'s,
//! so records encode the same. Many pairs at once (a parser's output, a JSON object) go in by
//! [`Map::extend`] or `collect`, which sort once instead of shifting the vector per pair.

use std::fmt;

use crate::entry::Value;

/// A map of values, as Go's `map[string]any`, iterated in key order.
#[derive(Clone, Default, PartialEq)]
pub struct Map(Vec<(String, Value)>);

impl Map {
    pub fn new() -> Map {
        Map(Vec::new())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| key_order(k, key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Set `key` to `value`; the value it had, if any.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// The value at `key`, set by `make` first if there is none.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key.to_string(), make()));
                i
            }
        };
        &mut self.0[i].1
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Sort what was appended after the first `sorted` pairs in with them; of equal keys the
    /// one appended last stays, as if each had been inserted in turn.
    fn merge_appended(&mut self, sorted: usize) {
        let pairs = &mut self.0;
        if pairs.len() <= sorted {
            return;
        }
        if pairs.len() - sorted == 1 {
            // one pair: put where it belongs, replacing an equal key
            let (k, v) = pairs.pop().expect("a pair was appended");
            self.insert(k, v);
            return;
        }
        // a stable sort keeps equal keys in the order they came in
        pairs.sort_by(|a, b| key_order(&a.0, &b.0));
        pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(&mut later.1, &mut kept.1);
            }
            same
        });
    }
}

/// `a.cmp(b)`, deciding by the first bytes where they differ (keys usually start with
/// different letters) before comparing the rest: the same order, without a call to `memcmp` for
/// most pairs.
#[inline]
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    match a.as_bytes().first().cmp(&b.as_bytes().first()) {
        std::cmp::Ordering::Equal => a.cmp(b),
        other => other,
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl std::ops::Index<&str> for Map {
    type Output = Value;

    /// The value at `key`; panics when there is none, as a `BTreeMap` does.
    fn index(&self, key: &str) -> &Value {
        self.get(key).expect("no such key in the map")
    }
}

/// The pairs in key order.
pub struct Iter<'a>(std::slice::Iter<'a, (String, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Map {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Extend<(String, Value)> for Map {
    /// Later pairs win over earlier ones and over the map's own, as inserts in turn would.
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, pairs: I) {
        let sorted = self.0.len();
        self.0.extend(pairs);
        self.merge_appended(sorted);
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(pairs: I) -> Map {
        Map::from(pairs.into_iter().collect::<Vec<_>>())
    }
}

impl From<Vec<(String, Value)>> for Map {
    /// Of equal keys the last one stays.
    fn from(pairs: Vec<(String, Value)>) -> Map {
        let mut m = Map(pairs);
        m.merge_appended(0);
        m
    }
}

impl<const N: usize> From<[(String, Value); N]> for Map {
    fn from(pairs: [(String, Value); N]) -> Map {
        pairs.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Inserts, removes, extends and collects agree with a `BTreeMap` doing the same, in
    /// content and in iteration order.
    #[test]
    fn agrees_with_a_btree_map() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        // keys that differ in their first byte, share it, or are empty
        let key_of = |n: u64| match n % 4 {
            0 if n < 4 => String::new(),
            0 | 1 => format!("k{n}"),
            2 => format!("a{n}"),
            _ => format!("{n}"),
        };
        let mut checked = 0;
        for _ in 0..2_000 {
            let (mut m, mut want) = (Map::new(), BTreeMap::new());
            for step in 0..next(40) {
                let key = key_of(next(12));
                let value = Value::Int(step as i64);
                match next(5) {
                    0 | 1 => assert_eq!(
                        m.insert(key.clone(), value.clone()),
                        want.insert(key, value)
                    ),
                    2 => assert_eq!(m.remove(&key), want.remove(&key)),
                    3 => {
                        let pairs: Vec<(String, Value)> = (0..next(6))
                            .map(|i| (key_of(next(12)), Value::Int(100 + i as i64)))
                            .collect();
                        m.extend(pairs.clone());
                        want.extend(pairs);
                    }
                    _ => {
                        let slot = m.get_or_insert_with(&key, || Value::Null);
                        let wanted = want.entry(key).or_insert(Value::Null);
                        assert_eq!(slot, wanted);
                        *slot = Value::Bool(true);
                        *wanted = Value::Bool(true);
                    }
                }
                let got: Vec<_> = m.iter().collect();
                let expected: Vec<_> = want.iter().collect();
                assert_eq!(got, expected);
                checked += 1;
            }
            let pairs: Vec<(String, Value)> = (0..next(30))
                .map(|i| (key_of(next(20)), Value::Int(i as i64)))
                .collect();
            let got: Map = pairs.iter().cloned().collect();
            let expected: BTreeMap<_, _> = pairs.into_iter().collect();
            assert_eq!(
                got.into_iter().collect::<Vec<_>>(),
                expected.into_iter().collect::<Vec<_>>()
            );
        }
        assert!(checked > 20_000, "{checked}");
    }
}
