//! The request rate a server admits, learned from its answers, and the spacing of requests to it.
//!
//! Nothing is assumed about how the server limits: a fixed window, a token bucket of any size or
//! anything else shows itself in the answers. Two kinds of moment carry the information:
//!
//! * an *empty*: a 429, or a success reporting `X-RateLimit-Remaining` no larger than the requests
//!   still in flight. The server had nothing left at that moment.
//! * the end of a refusal episode: the first request admitted after 429s.
//!
//! Between two such moments the server admitted what it refilled, so the requests it admitted
//! (plus the change in what it reported left) over the time between them is the rate it allows
//! this client; it is an underestimate only when the server had capacity it threw away (a full
//! bucket, a window ending unused), which the growth below recovers. Requests are paced at that
//! rate less a margin, the rate grows slowly while requests queue for it (fast while the server
//! keeps reporting untouched capacity) until an empty says it is too high, and a refusal is
//! followed by single probes at growing intervals, never later than the time the server named.
//! Whole-second headers only bound the times; the pace is what the answers showed.

use std::f64::consts::LN_2;
use std::time::Duration;

use tokio::time::Instant;

/// A timer that fired late lets requests catch up on at most this many missed slots at once.
const CATCH_UP_SLOTS: f64 = 1.0;
/// Growth of the rate per second while requests queue for it: slow, so that capacity the server
/// adds is found without provoking refusals.
const STEADY_GROWTH: f64 = 0.04;
/// Growth per second while the server keeps reporting a full limit: sixteenfold, since every
/// such answer shows capacity going unused and the first one that does not stops it.
const FAST_GROWTH: f64 = 4.0 * LN_2;
/// Growth per second after a first refusal whose first probe was admitted (a server refilling
/// continuously at more than the first estimate), until the next refusal: fourfold, blind.
const RAMP_GROWTH: f64 = 2.0 * LN_2;
/// After an empty the rate is set this far below what the server admitted.
const MARGIN: f64 = 0.95;
/// No single empty cuts the rate below this share of what it was.
const MAX_CUT: f64 = 0.85;
/// The shortest time over which an admitted rate is measured.
const MIN_SPAN: Duration = Duration::from_millis(500);
/// Answers in a row reporting a full limit before the rate grows fast.
const FULL_STREAK: u32 = 2;
/// Growth accrues only over the time the pace itself spent, at most this many slots per request.
const GROWTH_SLOTS: f64 = 2.0;
/// The slowest pace: one request an hour.
const MIN_RATE: f64 = 1.0 / 3600.0;
/// The fastest pace: beyond it the spacing is below a microsecond.
const MAX_RATE: f64 = 1e6;
/// The longest wait for a probe when no server named a time.
const MAX_PROBE_WAIT: Duration = Duration::from_secs(3600);

/// The first rate to pace at: a limit of `limit` requests that `reset` from now is back in full.
///
/// That is exact for a window of `reset`, and an underestimate for a bucket that refills faster
/// (the pace grows from there). `None` when the headers do not say both.
pub(super) fn first_estimate(limit: Option<u64>, reset: Option<Duration>) -> Option<f64> {
    let limit = limit.filter(|&limit| limit > 0)?;
    let reset = reset?.max(Duration::from_secs(1));
    Some((limit as f64 / reset.as_secs_f64()).clamp(MIN_RATE, MAX_RATE))
}

/// A duration of `seconds`, saturating instead of panicking on huge or odd values.
fn seconds(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or(Duration::MAX)
}

/// `at + wait`, saturating at a far but representable moment.
fn later(at: Instant, wait: Duration) -> Instant {
    at.checked_add(wait)
        .unwrap_or_else(|| at + Duration::from_secs(86_400 * 365))
}

/// How fast the rate grows while requests queue for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Growth {
    Steady,
    /// The server refills continuously at more than the first estimate.
    Ramp,
}

/// A moment at which the server's state was known.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    at: Instant,
    /// Requests admitted by then.
    admitted: u64,
    /// What the server reported left then (0 after a refusal).
    level: u64,
}

/// The refusals since the last admission.
#[derive(Debug, Clone, Copy)]
struct Episode {
    /// Requests numbered up to this were sent before the episode began; their answers are old news.
    from: u64,
    /// A refusal was seen and no request sent after it has been admitted yet.
    refusing: bool,
    /// Probes refused in a row.
    probe_fails: u32,
    /// The rate when the episode began; `None` during the first one, before anything was measured.
    rate_at_start: Option<f64>,
}

/// The learned pace of one client's requests.
#[derive(Debug, Clone)]
pub(super) struct Pace {
    /// Requests per second.
    rate: f64,
    /// When the next request is due.
    next_at: Instant,
    /// No request before this: the wait for a probe after a refusal.
    not_before: Instant,
    /// When the rate last grew.
    last_growth: Instant,
    growth: Growth,
    /// Answers in a row reporting a full limit.
    full_streak: u32,
    /// When an answer last reported what is left.
    level_seen: Option<Instant>,
    /// The last moment the server was known empty, from which the admitted rate is measured.
    anchor: Option<Anchor>,
    /// Requests admitted since pacing began.
    admitted: u64,
    episode: Episode,
    /// Requests numbered up to this were sent before pacing began.
    paced_from: u64,
    /// The earliest moment by which the server said capacity is back; caps the waits for probes.
    bound: Option<Instant>,
    /// The time to retry a refusal named; a request sent before it went on the gate's estimate.
    retry_at: Option<Instant>,
}

impl Pace {
    /// Starts pacing at `rate` at `now`, after `sent` requests; the first request goes one
    /// interval after the empty that started it, not earlier.
    pub(super) fn new(now: Instant, rate: f64, sent: u64) -> Pace {
        let rate = rate.clamp(MIN_RATE, MAX_RATE);
        let first = later(now, seconds(1.0 / rate));
        Pace {
            rate,
            next_at: first,
            not_before: first,
            last_growth: now,
            growth: Growth::Steady,
            full_streak: 0,
            level_seen: None,
            anchor: None,
            admitted: 0,
            episode: Episode {
                from: sent,
                refusing: false,
                probe_fails: 0,
                rate_at_start: None,
            },
            paced_from: sent,
            bound: None,
            retry_at: None,
        }
    }

    /// Requests per second.
    #[cfg(test)]
    pub(super) fn rate(&self) -> f64 {
        self.rate
    }

    fn interval(&self) -> Duration {
        seconds(1.0 / self.rate)
    }

    fn catch_up(&self) -> Duration {
        seconds(CATCH_UP_SLOTS / self.rate)
    }

    /// The earliest moment the next request may be sent.
    pub(super) fn allowed_at(&self) -> Instant {
        let due = self
            .next_at
            .checked_sub(self.catch_up())
            .unwrap_or(self.next_at);
        due.max(self.not_before)
    }

    /// The wait for a probe, if one is pending at `now`: no request goes before it.
    pub(super) fn pause(&self, now: Instant) -> Option<Duration> {
        self.not_before
            .checked_duration_since(now)
            .filter(|left| !left.is_zero())
    }

    /// Whether a request sent at `now` goes before the time a refusal named.
    pub(super) fn is_early(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|at| at > now)
    }

    /// Whether a request numbered `number` counts for the pace (sent after it began, or
    /// answering the current refusal episode).
    pub(super) fn follows(&self, number: u64) -> bool {
        number > self.paced_from || self.episode.refusing
    }

    /// Books a request sent at `now`; `backlog` says whether others wait behind it, the only
    /// time the rate may grow (a client sending less than its pace learns nothing by it).
    pub(super) fn sent(&mut self, now: Instant, backlog: bool) {
        let elapsed = now.saturating_duration_since(self.last_growth);
        self.last_growth = now;
        if backlog {
            let elapsed = elapsed.as_secs_f64().min(GROWTH_SLOTS / self.rate);
            let recent_level = self
                .level_seen
                .is_some_and(|seen| now.saturating_duration_since(seen) < Duration::from_secs(1));
            let growth = if recent_level {
                if self.full_streak >= FULL_STREAK {
                    FAST_GROWTH
                } else {
                    STEADY_GROWTH
                }
            } else if self.growth == Growth::Ramp {
                RAMP_GROWTH
            } else {
                STEADY_GROWTH
            };
            self.rate = (self.rate * (growth * elapsed).exp()).min(MAX_RATE);
        }
        let earliest = now.checked_sub(self.catch_up()).unwrap_or(now);
        self.next_at = later(self.next_at.max(earliest), self.interval());
    }

    /// Notes that the server said capacity is back `wait` after `now` (an upper bound: the
    /// headers count whole seconds, rounded up). `refused` marks a 429's wait.
    pub(super) fn note_bound(&mut self, now: Instant, wait: Duration, refused: bool) {
        let at = later(now, wait);
        let earliest = |current: Option<Instant>| match current {
            Some(current) if current > now && current <= at => Some(current),
            _ => Some(at),
        };
        self.bound = earliest(self.bound);
        if refused {
            self.retry_at = earliest(self.retry_at);
        }
    }

    /// The admitted rate since the anchor, when measured over long enough.
    fn sample(&self, now: Instant, level: u64) -> Option<f64> {
        let anchor = self.anchor?;
        let span = now.saturating_duration_since(anchor.at);
        if span < MIN_SPAN {
            return None;
        }
        let refilled =
            (self.admitted.saturating_sub(anchor.admitted) + level) as f64 - anchor.level as f64;
        Some(refilled.max(0.0) / span.as_secs_f64())
    }

    fn anchor_at(&mut self, now: Instant, level: u64) {
        self.anchor = Some(Anchor {
            at: now,
            admitted: self.admitted,
            level,
        });
    }

    /// Sets the anchor of a pace that started from an empty success reporting `level` left.
    pub(super) fn start_from_level(&mut self, now: Instant, level: u64) {
        self.anchor_at(now, level);
    }

    /// Learns from request `number`, admitted at `now`. `level` is what the server reported
    /// left (when it did and the answer is the latest news), `limit` its limit, and `empty`
    /// says the level no longer covers the requests in flight.
    pub(super) fn admitted(
        &mut self,
        now: Instant,
        number: u64,
        level: Option<u64>,
        limit: Option<u64>,
        empty: bool,
    ) {
        self.admitted += 1;
        let news = number > self.episode.from;
        if let Some(level) = level
            && number > self.paced_from
        {
            self.level_seen = Some(now);
            let full = limit.is_some_and(|limit| level.saturating_add(1) >= limit);
            self.full_streak = if full { self.full_streak + 1 } else { 0 };
        }
        if self.episode.refusing && news {
            // The first admission after refusals: the server has capacity again.
            self.episode.refusing = false;
            self.retry_at = None;
            match self.episode.rate_at_start {
                // The first episode: a first probe admitted means the server refilled within
                // one interval of the estimate, so it may well refill faster.
                None if self.episode.probe_fails == 0 => self.growth = Growth::Ramp,
                None => self.growth = Growth::Steady,
                Some(before) => {
                    if let Some(measured) = self.sample(now, level.unwrap_or(0)) {
                        self.rate = (before * MAX_CUT).max(before.min(measured) * MARGIN);
                    }
                    self.growth = Growth::Steady;
                }
            }
            self.rate = self.rate.clamp(MIN_RATE, MAX_RATE);
            self.anchor_at(now, level.unwrap_or(0));
        } else if empty && !self.episode.refusing {
            let level = level.unwrap_or(0);
            match self.sample(now, level) {
                _ if self.anchor.is_none() => self.anchor_at(now, level),
                Some(measured) => {
                    if measured < self.rate {
                        self.rate = (self.rate * MAX_CUT)
                            .max(measured * MARGIN)
                            .clamp(MIN_RATE, MAX_RATE);
                    }
                    self.anchor_at(now, level);
                }
                None => {}
            }
        }
        self.episode.probe_fails = 0;
    }

    /// Learns from request `number` (a probe or not), refused at `now` after `sent` requests;
    /// `first` marks the refusal that started pacing. Returns whether a probe should go next,
    /// which it schedules.
    pub(super) fn refused(
        &mut self,
        now: Instant,
        number: u64,
        probe: bool,
        sent: u64,
        first: bool,
    ) -> bool {
        let fails = if first {
            self.episode.refusing = true;
            0
        } else if number > self.episode.from && !self.episode.refusing {
            // A new episode: the pace was too fast.
            self.episode = Episode {
                from: sent,
                refusing: true,
                probe_fails: 0,
                rate_at_start: Some(self.rate),
            };
            self.rate = (self.rate * MARGIN).max(MIN_RATE);
            0
        } else if probe {
            self.episode.probe_fails = self.episode.probe_fails.saturating_add(1);
            self.episode.probe_fails
        } else {
            // Sent before the episode began: the same news again.
            return false;
        };
        let mut wait = seconds(2f64.powi(fails.min(64) as i32) / self.rate).min(MAX_PROBE_WAIT);
        if let Some(left) = self
            .bound
            .and_then(|bound| bound.checked_duration_since(now))
        {
            wait = wait.min(left);
        }
        let at = later(now, wait);
        self.not_before = self.not_before.max(at);
        self.next_at = self.next_at.max(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_estimate_needs_limit_and_reset() {
        assert_eq!(
            first_estimate(Some(200), Some(Duration::from_secs(2))),
            Some(100.0)
        );
        // A reset under a second counts as one: whole seconds are upper bounds.
        assert_eq!(first_estimate(Some(5), Some(Duration::ZERO)), Some(5.0));
        assert_eq!(first_estimate(None, Some(Duration::from_secs(1))), None);
        assert_eq!(first_estimate(Some(5), None), None);
        assert_eq!(first_estimate(Some(0), Some(Duration::from_secs(1))), None);
        let huge = first_estimate(Some(u64::MAX), Some(Duration::from_secs(1)));
        assert_eq!(huge, Some(MAX_RATE));
        let tiny = first_estimate(Some(1), Some(Duration::MAX));
        assert_eq!(tiny, Some(MIN_RATE));
    }

    #[test]
    fn requests_are_spaced_by_the_rate_with_a_little_catch_up() {
        let start = Instant::now();
        let mut pace = Pace::new(start, 100.0, 0);
        // The first request is due one interval after the empty that started pacing.
        assert_eq!(pace.allowed_at(), start + ms(10));
        let mut sent_at = Vec::new();
        let mut now = start;
        for _ in 0..5 {
            now = now.max(pace.allowed_at());
            sent_at.push(now);
            pace.sent(now, false);
        }
        // Then one per interval; requests whose slot has passed may catch up by one slot.
        assert_eq!(sent_at[0], start + ms(10));
        assert_eq!(sent_at[1], start + ms(10));
        assert_eq!(sent_at[2], start + ms(20));
        assert_eq!(sent_at[3], start + ms(30));
        assert_eq!(sent_at[4], start + ms(40));
    }

    #[test]
    fn a_refusal_cuts_the_rate_and_probes_back_off_within_the_bound() {
        let start = Instant::now();
        let mut pace = Pace::new(start, 100.0, 10);
        pace.note_bound(start, Duration::from_secs(1), true);
        assert!(pace.is_early(start));
        // Request 11 refused: a new episode, the rate falls by the margin.
        assert!(pace.refused(start, 11, false, 12, false));
        assert!((pace.rate() - 95.0).abs() < 1e-9);
        let first = pace.pause(start).expect("a probe wait");
        assert!(first > ms(10) && first < ms(11), "{first:?}");
        // Request 12 was sent before the episode began: nothing new.
        assert!(!pace.refused(start, 12, false, 12, false));
        // Probes refused in a row wait twice as long each time...
        let mut waits = Vec::new();
        for number in 13..20 {
            let now = pace.allowed_at();
            assert!(pace.refused(now, number, true, number, false));
            waits.push(pace.pause(now).unwrap_or_default());
        }
        assert!(waits[1] > waits[0] * 19 / 10, "{waits:?}");
        // ...and never past the time the server named.
        assert!(
            pace.allowed_at() <= start + Duration::from_secs(1),
            "{waits:?}"
        );
    }

    #[test]
    fn the_end_of_an_episode_measures_the_admitted_rate() {
        let start = Instant::now();
        let mut pace = Pace::new(start, 50.0, 0);
        // The first episode, whose first probe got through: a bucket refilling faster.
        assert!(pace.refused(start, 1, false, 1, true));
        pace.admitted(start + ms(20), 2, None, None, false);
        assert_eq!(pace.growth, Growth::Ramp);
        // 40 admitted over the next second, then a refusal and an admitted probe.
        let mut now = start + ms(20);
        for number in 3..43 {
            now += ms(25);
            pace.admitted(now, number, None, None, false);
        }
        let rate_before = pace.rate();
        assert!(pace.refused(now, 43, false, 43, false));
        now += ms(25);
        pace.admitted(now, 44, None, None, false);
        // About 41 admitted over 1.025 s: the rate is set just under 40 per second, but no
        // lower than the largest cut allows.
        let expected = (rate_before * MAX_CUT).max(rate_before.min(41.0 / 1.025) * MARGIN);
        assert!(
            (pace.rate() - expected).abs() < 0.5,
            "{} vs {expected}",
            pace.rate()
        );
        assert_eq!(pace.growth, Growth::Steady);
    }

    #[test]
    fn an_empty_success_corrects_a_rate_above_the_refill() {
        let start = Instant::now();
        let mut pace = Pace::new(start, 100.0, 0);
        pace.start_from_level(start, 0);
        // 30 admitted in a second and the server is empty again: it refills 30 per second.
        for number in 1..=30 {
            let now = start + ms(33 * number);
            pace.admitted(now, number, Some(3), Some(10), number == 30);
        }
        assert!(
            (pace.rate() - 85.0).abs() < 1e-9,
            "cut by at most 15 %: {}",
            pace.rate()
        );
        // Another second, the same refill: the measurement now sets the rate.
        for number in 31..=60 {
            let now = start + ms(33 * number);
            pace.admitted(now, number, Some(0), Some(10), number == 60);
        }
        assert!((pace.rate() - 72.25).abs() < 1e-9, "{}", pace.rate());
    }

    #[test]
    fn growth_needs_a_backlog_and_is_fast_only_on_a_full_limit() {
        let start = Instant::now();
        let mut pace = Pace::new(start, 10.0, 0);
        let mut now = start;
        for _ in 0..10 {
            now += ms(100);
            pace.sent(now, false);
        }
        assert_eq!(pace.rate(), 10.0);
        for _ in 0..10 {
            now += ms(100);
            pace.sent(now, true);
        }
        let steady = pace.rate();
        assert!(steady > 10.0 && steady < 10.5, "{steady}");
        // Two answers in a row reporting a full limit of 5.
        for number in 1..=2 {
            pace.admitted(now, number, Some(4), Some(5), false);
        }
        for _ in 0..10 {
            now += ms(90);
            pace.sent(now, true);
        }
        assert!(pace.rate() > steady * 3.0, "{}", pace.rate());
    }

    #[test]
    fn absurd_values_saturate() {
        let start = Instant::now();
        let mut pace = Pace::new(start, f64::MAX, 0);
        assert_eq!(pace.rate(), MAX_RATE);
        pace.note_bound(start, Duration::MAX, true);
        for number in 0..100 {
            pace.refused(start, number, true, number, number == 0);
        }
        let mut slow = Pace::new(start, 0.0, 0);
        assert_eq!(slow.rate(), MIN_RATE);
        assert!(slow.refused(start, 1, false, 1, true));
        assert!(slow.pause(start).is_some_and(|wait| wait <= MAX_PROBE_WAIT));
    }
}
