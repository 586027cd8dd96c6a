//! zap's log sampler (`zapcore.NewSamplerWithOptions(core, time.Second, initial, thereafter)`),
//! which Go's debug exporter wraps around its logger: per message text, within each one-second
//! window, the first `initial` entries are written, then every `thereafter`-th.

/// zap `_countersPerLevel`: messages are hashed into this many counters (so two different
/// messages can share one, as in zap).
const COUNTERS: usize = 4096;
const TICK_NANOS: i64 = 1_000_000_000;

#[derive(Clone, Copy, Default)]
struct Counter {
    count: u64,
    reset_at: i64,
}

pub struct Sampler {
    first: u64,
    thereafter: u64,
    counters: Vec<Counter>,
}

impl Sampler {
    /// Go converts the config's `int`s with `uint64(...)`; so does this.
    pub fn new(initial: i64, thereafter: i64) -> Sampler {
        Sampler {
            first: initial as u64,
            thereafter: thereafter as u64,
            counters: vec![Counter::default(); COUNTERS],
        }
    }

    /// Whether an entry with `message` logged at `now_nanos` (Unix) is written.
    pub fn check(&mut self, message: &str, now_nanos: i64) -> bool {
        let c = &mut self.counters[fnv32a(message) as usize % COUNTERS];
        // zap counter.IncCheckReset
        let n = if c.reset_at > now_nanos {
            c.count += 1;
            c.count
        } else {
            c.count = 1;
            c.reset_at = now_nanos + TICK_NANOS;
            1
        };
        // zap sampler.Check: drop if n > first && (thereafter == 0 || (n-first) % thereafter != 0)
        !(n > self.first
            && (self.thereafter == 0 || !(n - self.first).is_multiple_of(self.thereafter)))
    }
}

/// zap's `fnv32a`.
fn fnv32a(s: &str) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(16_777_619);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zap_sampling_initial_then_every_nth_per_second() {
        let mut s = Sampler::new(2, 3);
        let t0 = 1_000 * TICK_NANOS;
        let kept: Vec<bool> = (0..8).map(|i| s.check("Traces", t0 + i)).collect();
        // n = 1,2 kept (initial); then n-2 divisible by 3: n = 5, 8
        assert_eq!(
            kept,
            vec![true, true, false, false, true, false, false, true]
        );
        // another message has its own counter
        assert!(s.check("Logs", t0 + 10));
        // the next second starts over
        assert!(s.check("Traces", t0 + TICK_NANOS));
        assert!(s.check("Traces", t0 + TICK_NANOS + 1));
        assert!(!s.check("Traces", t0 + TICK_NANOS + 2));
    }

    #[test]
    fn go_defaults_keep_everything() {
        // sampling_initial 2, sampling_thereafter 1: "sampling is disabled"
        let mut s = Sampler::new(2, 1);
        assert!((0..100).all(|i| s.check("Traces", i)));
    }

    #[test]
    fn thereafter_zero_drops_everything_after_initial() {
        let mut s = Sampler::new(1, 0);
        assert!(s.check("m", 0));
        assert!(!s.check("m", 1));
        assert!(!s.check("m", 2));
    }
}
