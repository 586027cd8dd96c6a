//! Relabelling as Prometheus does it (`model/relabel/relabel.go`): the config with its
//! defaults (regex `(.*)` anchored, separator `;`, replacement `$1`, action `replace`), its
//! checks and their wording, and every action.
//!
//! The regex is anchored as Prometheus anchors it, `^(?s:…)$`; Rust's `regex` crate reads the
//! same RE2 syntax as Go's `regexp`, and `Captures::expand` the same `$1`, `${1}`, `$name`
//! templates as Go's `Regexp.Expand`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use md5::{Digest, Md5};
use regex::Regex;
use serde::{Deserialize, Deserializer};

use super::config::is_valid_label_name;

/// A label set while it is being relabelled: name → value, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// What relabelling reads and changes in a label set: a target's ([`Labels`]) or a scraped
/// sample's ([`SampleLabels`]).
pub trait LabelSet {
    fn label(&self, name: &str) -> Option<&str>;
    fn set_label(&mut self, name: String, value: String);
    fn remove_label(&mut self, name: &str);
    fn retain_labels(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool);
    /// The pairs, in name order.
    fn label_pairs(&self) -> Vec<(&str, &str)>;
}

impl LabelSet for Labels {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
    fn set_label(&mut self, name: String, value: String) {
        self.insert(name, value);
    }
    fn remove_label(&mut self, name: &str) {
        self.remove(name);
    }
    fn retain_labels(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        self.retain(|k, v| keep(k, v));
    }
    fn label_pairs(&self) -> Vec<(&str, &str)> {
        self.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

/// The first eight bytes of `s` as a big-endian number, zero-padded: ordering these orders
/// the strings, up to a tie.
#[inline(always)]
fn name_prefix(s: &str) -> u64 {
    let b = s.as_bytes();
    let be32 = |at: usize| {
        b.get(at..at + 4)
            .map_or(0, |w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    match b.len() {
        8.. => b
            .first_chunk::<8>()
            .map_or(0, |head| u64::from_be_bytes(*head)),
        // two overlapping four-byte reads, each shifted to its place
        len @ 4..8 => u64::from(be32(0)) << 32 | u64::from(be32(len - 4)) << (64 - 8 * len),
        0 => 0,
        len => {
            // the first, middle and last bytes cover 1 to 3 bytes
            let (first, mid, last) = (b[0], b[len / 2], b[len - 1]);
            u64::from(first) << 56
                | u64::from(mid) << (56 - 8 * (len / 2))
                | u64::from(last) << (64 - 8 * len)
        }
    }
}

/// Label names in byte order (`str`'s), read eight bytes at a time: the names of a sample
/// (`__name__`, `job`, `instance` and the scraped ones) nearly always differ in their first
/// eight bytes, so a sample's sort and lookups seldom call `memcmp`, which a label set's
/// sort spent most of its time in.
#[inline(always)]
fn cmp_names(a: &str, b: &str) -> std::cmp::Ordering {
    name_prefix(a).cmp(&name_prefix(b)).then_with(|| a.cmp(b))
}

/// A scraped sample's labels: sorted by name, each name once, names and values borrowed
/// from the scrape body and the target wherever nothing rewrote them (a scrape of a
/// thousand series then copies no label).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SampleLabels<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> SampleLabels<'a> {
    /// `pairs`, whose names are unique, in any order.
    pub fn from_unique(mut pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> SampleLabels<'a> {
        // A sample's few labels: their names' first eight bytes sorted as numbers, then the
        // pairs put in that order. The usual sample's names differ in those bytes, and a sort
        // of the pairs themselves compared and moved 48-byte entries a dozen times.
        const FEW: usize = 16;
        let n = pairs.len();
        if n <= FEW {
            let mut keys = [(0u64, 0u8); FEW];
            for (slot, (i, (name, _))) in keys.iter_mut().zip(pairs.iter().enumerate()) {
                *slot = (name_prefix(name), i as u8);
            }
            let keys = &mut keys[..n];
            keys.sort_unstable();
            if keys.windows(2).all(|w| w[0].0 != w[1].0) {
                // in place: position i takes the entry first at keys[i].1, found where the
                // swaps before i moved it
                for i in 0..n {
                    let mut from = usize::from(keys[i].1);
                    while from < i {
                        from = usize::from(keys[from].1);
                    }
                    pairs.swap(i, from);
                }
                return SampleLabels(pairs);
            }
        }
        pairs.sort_unstable_by(|a, b| cmp_names(&a.0, &b.0));
        SampleLabels(pairs)
    }

    fn find(&self, name: &str) -> Result<usize, usize> {
        // `cmp_names`, with the sought name's prefix read once
        let key = name_prefix(name);
        self.0
            .binary_search_by(|(k, _)| name_prefix(k).cmp(&key).then_with(|| k.as_ref().cmp(name)))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.find(name).ok().map(|i| self.0[i].1.as_ref())
    }

    /// The same labels, owning their strings.
    pub fn into_owned(self) -> SampleLabels<'static> {
        SampleLabels(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }

    /// Set `name` to `value`, in its place by name.
    pub fn insert(&mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) {
        let name = name.into();
        match self.find(&name) {
            Ok(i) => self.0[i].1 = value.into(),
            Err(i) => self.0.insert(i, (name, value.into())),
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

impl<'a, K: Into<Cow<'a, str>>, V: Into<Cow<'a, str>>> FromIterator<(K, V)> for SampleLabels<'a> {
    /// As a map is collected: a later value of a name replaces an earlier one.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut out = SampleLabels::default();
        for (k, v) in pairs {
            out.insert(k, v);
        }
        out
    }
}

impl std::ops::Index<&str> for SampleLabels<'_> {
    type Output = str;
    fn index(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no label {name:?}"))
    }
}

impl LabelSet for SampleLabels<'_> {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
    fn set_label(&mut self, name: String, value: String) {
        self.insert(name, value);
    }
    fn remove_label(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.0.remove(i);
        }
    }
    fn retain_labels(&mut self, keep: &mut dyn FnMut(&str, &str) -> bool) {
        self.0.retain(|(k, v)| keep(k, v));
    }
    fn label_pairs(&self) -> Vec<(&str, &str)> {
        self.iter().collect()
    }
}

/// Prometheus `relabelTarget`: a label name possibly built from `$1`/`${name}` references.
fn relabel_target() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$").expect("static regex")
    })
}

/// One relabel action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Prometheus reads the action case-insensitively.
    fn parse(s: &str) -> Result<Action, String> {
        Ok(match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(format!("unknown relabel action {s:?}")),
        })
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Action::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A regex as Prometheus keeps it: the text as written and the anchored compiled form.
#[derive(Debug, Clone)]
pub struct AnchoredRegex {
    pub source: String,
    pub regex: Regex,
}

impl PartialEq for AnchoredRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl AnchoredRegex {
    pub fn new(source: &str) -> Result<AnchoredRegex, String> {
        let regex = Regex::new(&format!("^(?s:{source})$"))
            .map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(AnchoredRegex {
            source: source.to_string(),
            regex,
        })
    }
}

impl<'de> Deserialize<'de> for AnchoredRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AnchoredRegex::new(&s).map_err(serde::de::Error::custom)
    }
}

pub const DEFAULT_REGEX: &str = "(.*)";
pub const DEFAULT_SEPARATOR: &str = ";";
pub const DEFAULT_REPLACEMENT: &str = "$1";

/// One `relabel_configs` / `metric_relabel_configs` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelabelConfig {
    pub source_labels: Vec<String>,
    /// `None`: the default `;` (kept apart to check "no other fields").
    pub separator: Option<String>,
    pub regex: Option<AnchoredRegex>,
    pub modulus: u64,
    pub target_label: String,
    pub replacement: Option<String>,
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: None,
            regex: None,
            modulus: 0,
            target_label: String::new(),
            replacement: None,
            action: Action::Replace,
        }
    }
}

fn default_regex() -> &'static AnchoredRegex {
    static RE: std::sync::OnceLock<AnchoredRegex> = std::sync::OnceLock::new();
    RE.get_or_init(|| AnchoredRegex::new(DEFAULT_REGEX).expect("default regex"))
}

impl RelabelConfig {
    pub fn regex(&self) -> &Regex {
        &self.regex.as_ref().unwrap_or_else(|| default_regex()).regex
    }
    fn separator(&self) -> &str {
        self.separator.as_deref().unwrap_or(DEFAULT_SEPARATOR)
    }
    fn replacement(&self) -> &str {
        self.replacement.as_deref().unwrap_or(DEFAULT_REPLACEMENT)
    }
    fn regex_is_default(&self) -> bool {
        self.regex
            .as_ref()
            .is_none_or(|r| r.source == DEFAULT_REGEX)
    }

    /// Prometheus `relabel.Config.Validate`, in its words.
    pub fn validate(&self) -> Vec<String> {
        let a = self.action;
        let name = a.as_str();
        let mut out = Vec::new();
        if self.modulus == 0 && a == Action::HashMod {
            out.push("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            a,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            out.push(format!(
                "relabel configuration for {name} action requires 'target_label' value"
            ));
        }
        if matches!(a, Action::Replace | Action::Lowercase | Action::Uppercase)
            && !self.target_label.is_empty()
            && !relabel_target().is_match(&self.target_label)
        {
            out.push(format!(
                "{:?} is invalid 'target_label' for {name} action",
                self.target_label
            ));
        }
        if matches!(
            a,
            Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual
        ) && !self.target_label.is_empty()
            && !is_valid_label_name(&self.target_label)
        {
            out.push(format!(
                "{:?} is invalid 'target_label' for {name} action",
                self.target_label
            ));
        }
        if a == Action::HashMod
            && !self.target_label.is_empty()
            && !is_valid_label_name(&self.target_label)
        {
            out.push(format!(
                "{:?} is invalid 'target_label' for {name} action",
                self.target_label
            ));
        }
        if a == Action::LabelMap && !relabel_target().is_match(self.replacement()) {
            out.push(format!(
                "{:?} is invalid 'replacement' for {name} action",
                self.replacement()
            ));
        }
        if matches!(a, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator().ne(DEFAULT_SEPARATOR)
                || self.replacement().ne(DEFAULT_REPLACEMENT))
        {
            out.push(format!(
                "{name} action requires only 'regex', and no other fields"
            ));
        }
        if matches!(a, Action::KeepEqual | Action::DropEqual)
            && (!self.regex_is_default()
                || self.modulus != 0
                || self.separator().ne(DEFAULT_SEPARATOR)
                || self.replacement().ne(DEFAULT_REPLACEMENT))
        {
            out.push(format!(
                "{name} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        out
    }

    /// Apply this step; `false` = the label set is dropped.
    fn apply(&self, lb: &mut impl LabelSet) -> bool {
        let val = || {
            let sep = self.separator();
            let mut v = String::new();
            for (i, name) in self.source_labels.iter().enumerate() {
                if i > 0 {
                    v.push_str(sep);
                }
                if let Some(x) = lb.label(name) {
                    v.push_str(x);
                }
            }
            v
        };
        let re = self.regex();
        match self.action {
            Action::Drop => {
                if re.is_match(&val()) {
                    return false;
                }
            }
            Action::Keep => {
                if !re.is_match(&val()) {
                    return false;
                }
            }
            Action::DropEqual => {
                if lb.label(&self.target_label).unwrap_or("") == val() {
                    return false;
                }
            }
            Action::KeepEqual => {
                if lb.label(&self.target_label).unwrap_or("") != val() {
                    return false;
                }
            }
            Action::Replace => {
                let v = val();
                let Some(caps) = re.captures(&v) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !is_valid_label_name(&target) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(self.replacement(), &mut res);
                if res.is_empty() {
                    lb.remove_label(&target);
                } else {
                    lb.set_label(target, res);
                }
            }
            Action::Lowercase => {
                lb.set_label(self.target_label.clone(), val().to_lowercase());
            }
            Action::Uppercase => {
                lb.set_label(self.target_label.clone(), val().to_uppercase());
            }
            Action::HashMod => {
                let m = sum64(&Md5::digest(val().as_bytes())) % self.modulus.max(1);
                lb.set_label(self.target_label.clone(), m.to_string());
            }
            Action::LabelMap => {
                let found: Vec<(String, String)> = lb
                    .label_pairs()
                    .into_iter()
                    .filter(|(k, _)| re.is_match(k))
                    .map(|(k, v)| {
                        (
                            re.replace_all(k, self.replacement()).into_owned(),
                            v.to_string(),
                        )
                    })
                    .collect();
                for (k, v) in found {
                    lb.set_label(k, v);
                }
            }
            Action::LabelDrop => lb.retain_labels(&mut |k, _| !re.is_match(k)),
            Action::LabelKeep => lb.retain_labels(&mut |k, _| re.is_match(k)),
        }
        true
    }
}

/// Prometheus `sum64`: the md5 digest's last 8 bytes, big-endian (the shifts of the first 8
/// overflow to zero in Go).
fn sum64(hash: &[u8]) -> u64 {
    hash[8..16]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// Apply `configs` in order (Prometheus `relabel.Process`); `false` = dropped. As in
/// Prometheus, labels with an empty value do not exist afterwards.
pub fn process(lb: &mut impl LabelSet, configs: &[RelabelConfig]) -> bool {
    for c in configs {
        if !c.apply(lb) {
            return false;
        }
    }
    lb.retain_labels(&mut |_, v| !v.is_empty());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The eight-byte comparison orders names as `str` does: names of every length around
    /// eight, with equal heads, NUL and non-ASCII bytes.
    #[test]
    fn names_compare_as_strings_do() {
        let alphabet = ["a", "b", "_", "A", "0", "\0", "\u{e9}", "\u{ff}", "z"];
        let rng = &mut pipeline_api::testing::random::Rng(7);
        let names: Vec<String> = (0..600)
            .map(|_| {
                let len = rng.below(14);
                (0..len).map(|_| *rng.pick(&alphabet)).collect()
            })
            .collect();
        for a in &names {
            for b in &names {
                assert_eq!(cmp_names(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
        // label sets of every size up to past the few sorted by their prefixes, in random
        // orders, with and without names that share their first eight bytes
        for round in 0..3000 {
            let len = rng.below(20);
            let mut set: Vec<&str> = (0..len).map(|_| rng.pick(&names).as_str()).collect();
            if round % 3 == 0 {
                set.extend(["__name__", "instance", "job", "instance_x"]);
            }
            set.sort();
            set.dedup();
            let sorted: Vec<(Cow<'_, str>, Cow<'_, str>)> = set
                .iter()
                .enumerate()
                .map(|(i, n)| (Cow::Borrowed(*n), Cow::Owned(i.to_string())))
                .collect();
            let mut shuffled = sorted.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            let labels = SampleLabels::from_unique(shuffled);
            assert_eq!(labels.0, sorted);
            for (n, v) in &sorted {
                assert_eq!(labels.get(n), Some(v.as_ref()), "{n:?}");
            }
        }
    }
}
