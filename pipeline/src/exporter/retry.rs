//! Retry with exponential backoff (`retry_on_failure`), as Go's exporterhelper does it:
//! randomized intervals growing by `multiplier` up to `max_interval`, giving up once
//! `max_elapsed_time` would be passed (0 = never); a server's throttle hint (RetryInfo,
//! Retry-After) lengthens the wait to at least the hint.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RetryConfig;

pub struct Backoff {
    current: Duration,
    max_interval: Duration,
    max_elapsed: Duration,
    multiplier: f64,
    randomization: f64,
    started: Instant,
}

impl Backoff {
    pub fn new(cfg: &RetryConfig) -> Backoff {
        Backoff {
            current: cfg.initial_interval.get(),
            max_interval: cfg.max_interval.get(),
            max_elapsed: cfg.max_elapsed_time.get(),
            multiplier: cfg.multiplier,
            randomization: cfg.randomization_factor,
            started: Instant::now(),
        }
    }

    /// The wait before the next attempt, or `None` when the elapsed-time budget is spent.
    /// `hint` is the server's throttle delay, if it sent one.
    pub fn next(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let base = self.current.as_secs_f64();
        let delta = self.randomization * base;
        let jittered = base - delta + fastrand::f64() * (2.0 * delta);
        let mut wait = Duration::from_secs_f64(jittered.max(0.0));
        if let Some(h) = hint {
            wait = wait.max(h);
        }
        self.current =
            Duration::from_secs_f64((base * self.multiplier).min(self.max_interval.as_secs_f64()));
        if !self.max_elapsed.is_zero() && self.started.elapsed() + wait > self.max_elapsed {
            return None;
        }
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_api::config::GoDuration;

    fn cfg(initial: u64, max: u64, elapsed: u64, randomization: f64) -> RetryConfig {
        RetryConfig {
            enabled: true,
            initial_interval: GoDuration::from_millis(initial),
            max_interval: GoDuration::from_millis(max),
            max_elapsed_time: GoDuration::from_millis(elapsed),
            multiplier: 2.0,
            randomization_factor: randomization,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn grows_by_the_multiplier_up_to_the_max_interval() {
        let mut b = Backoff::new(&cfg(100, 500, 0, 0.0));
        let waits: Vec<u128> = (0..5).map(|_| b.next(None).unwrap().as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_stays_within_the_randomization_factor() {
        let mut b = Backoff::new(&cfg(1000, 1000, 0, 0.5));
        for _ in 0..200 {
            let w = b.next(None).unwrap().as_millis();
            assert!((500..=1500).contains(&w), "{w}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_elapsed_time_and_honours_hints() {
        let mut b = Backoff::new(&cfg(100, 100, 1000, 0.0));
        assert_eq!(
            b.next(Some(Duration::from_millis(300))),
            Some(Duration::from_millis(300))
        );
        tokio::time::advance(Duration::from_millis(950)).await;
        assert_eq!(b.next(None), None, "950ms + 100ms passes the 1s budget");
    }
}
