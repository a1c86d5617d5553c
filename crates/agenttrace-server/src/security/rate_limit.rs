//! Request rate limits: fixed windows per class of request and per client key.
//!
//! Each [`LimitClass`] has its own [`Rule`] (so many requests per window) and its own keys: an
//! IP address for sign-in and public share views, a user id for the API, an API key's id for
//! ingest. The first request from a key starts a window of `rule.window`; up to
//! `rule.requests` requests are allowed in it, later ones are refused until it ends.
//!
//! The limiter sits behind the [`RateLimiter`] trait so that several server instances can later
//! share one limiter (in Redis); [`MemoryRateLimiter`] is the in-process one.
//!
//! Memory is bounded: at most [`RateLimitConfig::max_tracked_keys`] keys are tracked in each
//! class (so a flood of one kind, say anonymous share views from rotating addresses, cannot push
//! signed-in users or API keys out of theirs). When a new key arrives and its class is full,
//! expired windows are dropped first; if it is still full, the request is counted against one
//! shared overflow bucket for its class.
//! A flood from rotating addresses is then limited as if it were a single client, while the
//! clients already tracked keep their own counters: nothing live is ever evicted.
//!
//! Keys are stored as given, so callers must pass identifiers (an IP address, a user id, a key
//! id) and never a secret. Keys longer than [`MAX_KEY_BYTES`] are cut to that length.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::AppEnv;

/// Keys longer than this many bytes are cut (at a character boundary) before they are stored,
/// so a caller that passes something unexpectedly long cannot make each entry large. Cutting
/// can only merge keys, which limits them together: the safe direction.
pub const MAX_KEY_BYTES: usize = 256;

/// An on-demand sweep (a new key arriving while the limiter is full) scans every entry, so it
/// runs at most this often; in between, new keys go to the overflow bucket.
const MIN_SWEEP_GAP_US: i64 = 1_000_000;

/// The shortest period [`MemoryRateLimiter::spawn_cleanup`] uses (a zero interval would spin).
const MIN_CLEANUP_INTERVAL: Duration = Duration::from_millis(1);

const MICROS_PER_SEC: u64 = 1_000_000;

/// The classes of limits, each with its own rule and its own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitClass {
    /// Trace uploads (`RATE_LIMIT_REQUESTS` per `RATE_LIMIT_WINDOW`).
    Upload,
    /// Sign-in and registration, keyed by client IP.
    Auth,
    /// The JSON API, keyed by the signed-in principal.
    Api,
    /// SDK ingest, keyed by API key id.
    Ingest,
    /// Public share-link views, keyed by client IP.
    Share,
}

impl LimitClass {
    /// Every class, in declaration order.
    pub const ALL: [LimitClass; 5] = [
        LimitClass::Upload,
        LimitClass::Auth,
        LimitClass::Api,
        LimitClass::Ingest,
        LimitClass::Share,
    ];

    /// A short lowercase name for logs, metrics labels and configuration.
    pub fn name(self) -> &'static str {
        match self {
            LimitClass::Upload => "upload",
            LimitClass::Auth => "auth",
            LimitClass::Api => "api",
            LimitClass::Ingest => "ingest",
            LimitClass::Share => "share",
        }
    }

    /// The position in [`LimitClass::ALL`], used to index per-class arrays.
    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for LimitClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many requests one key may make per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Requests allowed in one window; 0 refuses everything.
    pub requests: u32,
    /// The window's length, counted from the first request of the window.
    pub window: Duration,
}

impl Rule {
    /// `requests` per `window_secs` seconds.
    pub const fn per_secs(requests: u32, window_secs: u64) -> Rule {
        Rule {
            requests,
            window: Duration::from_secs(window_secs),
        }
    }
}

/// The limits, one rule per class, and the limiter's own bounds.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `None` = the mode's default (off in development, on in production); see
    /// [`RateLimitConfig::is_enabled`]. The limiter itself does not look at this: whoever builds
    /// the middleware decides whether to consult a limiter at all.
    pub enabled: Option<bool>,
    /// Uploads per client; default 100 per 3600 s (`RATE_LIMIT_REQUESTS` / `RATE_LIMIT_WINDOW`).
    pub upload: Rule,
    /// Sign-in and registration per IP; default 10 per 60 s (tight, against password guessing).
    pub auth: Rule,
    /// API requests per signed-in principal; default 600 per 60 s.
    pub api: Rule,
    /// Ingest requests per API key; default 1200 per 60 s (SDKs batch every few seconds, often
    /// from several processes sharing a key).
    pub ingest: Rule,
    /// Public share-link views per IP; default 120 per 60 s.
    pub share: Rule,
    /// The most keys tracked at once in each class; default 100 000. Beyond it new keys share
    /// one overflow bucket per class.
    pub max_tracked_keys: usize,
    /// How often [`MemoryRateLimiter::spawn_cleanup`] drops expired windows; default 60 s.
    pub cleanup_interval: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: None,
            upload: Rule::per_secs(100, 3600),
            auth: Rule::per_secs(10, 60),
            api: Rule::per_secs(600, 60),
            ingest: Rule::per_secs(1200, 60),
            share: Rule::per_secs(120, 60),
            max_tracked_keys: 100_000,
            cleanup_interval: Duration::from_secs(60),
        }
    }
}

impl RateLimitConfig {
    /// The rule for one class.
    pub fn rule(&self, class: LimitClass) -> Rule {
        match class {
            LimitClass::Upload => self.upload,
            LimitClass::Auth => self.auth,
            LimitClass::Api => self.api,
            LimitClass::Ingest => self.ingest,
            LimitClass::Share => self.share,
        }
    }

    /// Whether limits apply in `env`: [`RateLimitConfig::enabled`] when set, otherwise on in
    /// production and off in development.
    pub fn is_enabled(&self, env: AppEnv) -> bool {
        self.enabled.unwrap_or(env == AppEnv::Production)
    }
}

/// The verdict for one request, with what the `RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// Requests allowed per window (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left in the current window after this one (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the window resets, rounded up (`RateLimit-Reset`); >= 1 when not allowed.
    pub reset_secs: u64,
}

impl Decision {
    /// The `Retry-After` value in seconds: `Some` (at least 1) when refused, `None` when allowed.
    pub fn retry_after_secs(&self) -> Option<u64> {
        if self.allowed {
            None
        } else {
            Some(self.reset_secs.max(1))
        }
    }
}

/// Why a limiter could not decide. The in-memory limiter never fails; a shared one can.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// The limiter's backing store could not be reached or answered nonsense.
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),
}

/// Counts requests per class and key and says which may go on.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Counts one request for `key` in `class` and says whether it may go on.
    async fn check(&self, class: LimitClass, key: &str) -> Result<Decision, RateLimitError>;

    /// How many keys are tracked now (for `/health/ready` and metrics). For
    /// [`MemoryRateLimiter`] this includes the overflow buckets in use, so it can exceed
    /// [`RateLimiter::max_tracked_keys`] by at most the number of classes.
    fn tracked_keys(&self) -> usize;

    /// The most keys that will be tracked (for `/health/ready` and metrics).
    fn max_tracked_keys(&self) -> usize;

    /// Drops entries whose window has ended; returns how many were dropped.
    fn cleanup(&self) -> usize;
}

/// One key's current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// When the window ends, in microseconds since the Unix epoch.
    end_us: i64,
    /// Requests allowed so far in this window (never above the rule's `requests`).
    count: u32,
}

impl Window {
    fn new(now_us: i64, window_us: i64) -> Window {
        Window {
            end_us: now_us.saturating_add(window_us),
            count: 0,
        }
    }

    fn is_expired(&self, now_us: i64) -> bool {
        now_us >= self.end_us
    }

    /// Counts one request at `now_us`, starting a new window if this one has ended.
    fn hit(&mut self, now_us: i64, rule: Rule, window_us: i64) -> Decision {
        if self.is_expired(now_us) {
            *self = Window::new(now_us, window_us);
        } else {
            // If the clock was stepped back, never make anyone wait longer than one window.
            self.end_us = self.end_us.min(now_us.saturating_add(window_us));
        }
        let reset_secs = ceil_secs(self.end_us.saturating_sub(now_us));
        if self.count < rule.requests {
            self.count += 1;
            Decision {
                allowed: true,
                limit: rule.requests,
                remaining: rule.requests - self.count,
                reset_secs,
            }
        } else {
            Decision {
                allowed: false,
                limit: rule.requests,
                remaining: 0,
                reset_secs: reset_secs.max(1),
            }
        }
    }
}

/// The windows of one class.
#[derive(Debug, Default)]
struct ClassState {
    /// Keys tracked on their own.
    windows: HashMap<String, Window>,
    /// The bucket shared by new keys that arrived while the limiter was full.
    overflow: Option<Window>,
}

/// Everything behind the lock.
#[derive(Debug)]
struct State {
    classes: [ClassState; 5],
    /// No window in `classes` ends before this (it may be earlier than the true earliest end,
    /// never later), so a sweep before it would find nothing to drop.
    earliest_end_us: i64,
    /// When the last sweep ran (`i64::MIN` before the first).
    last_sweep_us: i64,
    /// How many overflow windows have started (each one logged); for tests.
    overflow_windows_started: u64,
}

impl State {
    fn new() -> State {
        State {
            classes: Default::default(),
            earliest_end_us: i64::MAX,
            last_sweep_us: i64::MIN,
            overflow_windows_started: 0,
        }
    }

    /// Keys tracked on their own, without the overflow buckets.
    fn tracked_individually(&self) -> usize {
        self.classes.iter().map(|class| class.windows.len()).sum()
    }

    fn tracked_with_overflow(&self) -> usize {
        self.tracked_individually()
            + self
                .classes
                .iter()
                .filter(|class| class.overflow.is_some())
                .count()
    }

    /// Drops the windows (overflow buckets included) that have ended by `now_us`.
    fn sweep(&mut self, now_us: i64) -> usize {
        let mut dropped = 0;
        let mut earliest = i64::MAX;
        for class in &mut self.classes {
            let before = class.windows.len();
            class.windows.retain(|_, window| {
                let live = !window.is_expired(now_us);
                if live {
                    earliest = earliest.min(window.end_us);
                }
                live
            });
            dropped += before - class.windows.len();
            // A map does not give memory back by itself; after a flood has passed, let it.
            let (len, capacity) = (class.windows.len(), class.windows.capacity());
            if capacity > 64 && len < capacity / 4 {
                class.windows.shrink_to(len.saturating_mul(2));
            }
            if class
                .overflow
                .is_some_and(|window| window.is_expired(now_us))
            {
                class.overflow = None;
                dropped += 1;
            }
        }
        self.earliest_end_us = earliest;
        self.last_sweep_us = now_us;
        dropped
    }

    /// Whether an on-demand sweep could drop anything and is not too soon after the last.
    fn sweep_worthwhile(&self, now_us: i64) -> bool {
        now_us >= self.earliest_end_us
            && now_us.saturating_sub(self.last_sweep_us) >= MIN_SWEEP_GAP_US
    }
}

/// The in-process limiter: fixed windows in a map behind one mutex, bounded in size.
///
/// Holds at most [`RateLimitConfig::max_tracked_keys`] keys per class (plus one overflow
/// bucket per class); see the [module documentation](self) for what happens beyond that. Expired windows
/// are dropped by [`RateLimiter::cleanup`], which [`MemoryRateLimiter::spawn_cleanup`] runs
/// periodically, and on demand when a new key finds the limiter full.
pub struct MemoryRateLimiter {
    config: RateLimitConfig,
    /// Each class's rule with its window in microseconds (at least 1), indexed by class.
    rules: [(Rule, i64); 5],
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryRateLimiter {
    // The keys are client addresses and ids: count them, do not print them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("config", &self.config)
            .field("tracked_keys", &self.tracked_keys())
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    /// A limiter with `config`'s rules, reading the time from `clock`.
    pub fn new(config: RateLimitConfig, clock: Arc<dyn Clock>) -> MemoryRateLimiter {
        let rules = LimitClass::ALL.map(|class| {
            let rule = config.rule(class);
            (rule, window_micros(rule.window))
        });
        MemoryRateLimiter {
            config,
            rules,
            clock,
            state: Mutex::new(State::new()),
        }
    }

    /// The configuration the limiter was built with.
    pub fn config(&self) -> &RateLimitConfig {
        &self.config
    }

    /// Spawns the periodic cleanup on the current tokio runtime, every
    /// [`RateLimitConfig::cleanup_interval`]. The task holds only a [`Weak`] reference and
    /// stops at its next tick once the limiter has been dropped.
    ///
    /// Like [`tokio::spawn`], this must be called from within a tokio runtime.
    pub fn spawn_cleanup(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let limiter: Weak<Self> = Arc::downgrade(self);
        let period = self.config.cleanup_interval.max(MIN_CLEANUP_INTERVAL);
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick completes at once; there is nothing to clean yet.
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    break;
                };
                let dropped = limiter.cleanup();
                if dropped > 0 {
                    tracing::debug!(
                        dropped,
                        tracked = limiter.tracked_keys(),
                        "rate limiter dropped expired windows"
                    );
                }
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent at every step, so a panic elsewhere cannot have left it
        // half-updated: carry on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request at `now_us`; the whole decision, without the clock.
    fn check_at(&self, class: LimitClass, key: &str, now_us: i64) -> Decision {
        let (rule, window_us) = self.rules[class.index()];
        let key = bounded_key(key);
        let mut state = self.lock();
        let state = &mut *state;

        if let Some(window) = state.classes[class.index()].windows.get_mut(key) {
            let decision = window.hit(now_us, rule, window_us);
            state.earliest_end_us = state.earliest_end_us.min(window.end_us);
            return decision;
        }

        let max = self.config.max_tracked_keys;
        let in_class = |state: &State| state.classes[class.index()].windows.len();
        if in_class(state) >= max && state.sweep_worthwhile(now_us) {
            state.sweep(now_us);
        }
        if in_class(state) < max {
            let mut window = Window::new(now_us, window_us);
            let decision = window.hit(now_us, rule, window_us);
            state.earliest_end_us = state.earliest_end_us.min(window.end_us);
            state.classes[class.index()]
                .windows
                .insert(key.to_owned(), window);
            return decision;
        }

        // Full of live clients: the newcomer shares the class's overflow bucket.
        let overflow = &mut state.classes[class.index()].overflow;
        let starting = overflow.is_none_or(|window| window.is_expired(now_us));
        let window = overflow.get_or_insert_with(|| Window::new(now_us, window_us));
        let decision = window.hit(now_us, rule, window_us);
        if starting {
            state.overflow_windows_started += 1;
            tracing::warn!(
                class = class.name(),
                max_tracked_keys = max,
                window_secs = rule.window.as_secs(),
                "rate limiter is full: new clients share one overflow limit until windows expire"
            );
        }
        decision
    }
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, class: LimitClass, key: &str) -> Result<Decision, RateLimitError> {
        Ok(self.check_at(class, key, self.clock.now_us()))
    }

    fn tracked_keys(&self) -> usize {
        self.lock().tracked_with_overflow()
    }

    fn max_tracked_keys(&self) -> usize {
        self.config.max_tracked_keys
    }

    fn cleanup(&self) -> usize {
        let now_us = self.clock.now_us();
        self.lock().sweep(now_us)
    }
}

/// A window's length in microseconds, at least 1 so that a window always has an end.
fn window_micros(window: Duration) -> i64 {
    i64::try_from(window.as_micros()).unwrap_or(i64::MAX).max(1)
}

/// Microseconds to whole seconds, rounded up; negative counts as zero.
fn ceil_secs(micros: i64) -> u64 {
    let micros = u64::try_from(micros).unwrap_or(0);
    micros.div_ceil(MICROS_PER_SEC)
}

/// `key` cut to at most [`MAX_KEY_BYTES`] bytes at a character boundary.
fn bounded_key(key: &str) -> &str {
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    // A character is at most 4 bytes, so a boundary lies within the last 4 positions.
    (MAX_KEY_BYTES.saturating_sub(3)..=MAX_KEY_BYTES)
        .rev()
        .find(|&end| key.is_char_boundary(end))
        .and_then(|end| key.get(..end))
        .unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn config_with(class: LimitClass, rule: Rule) -> RateLimitConfig {
        let mut config = RateLimitConfig::default();
        match class {
            LimitClass::Upload => config.upload = rule,
            LimitClass::Auth => config.auth = rule,
            LimitClass::Api => config.api = rule,
            LimitClass::Ingest => config.ingest = rule,
            LimitClass::Share => config.share = rule,
        }
        config
    }

    fn limiter(config: RateLimitConfig) -> (MemoryRateLimiter, ManualClock) {
        let clock = ManualClock::new();
        (
            MemoryRateLimiter::new(config, Arc::new(clock.clone())),
            clock,
        )
    }

    async fn check(limiter: &MemoryRateLimiter, class: LimitClass, key: &str) -> Decision {
        limiter.check(class, key).await.unwrap()
    }

    #[test]
    fn defaults_match_the_documented_rules() {
        let config = RateLimitConfig::default();
        assert_eq!(config.rule(LimitClass::Upload), Rule::per_secs(100, 3600));
        assert_eq!(config.rule(LimitClass::Auth), Rule::per_secs(10, 60));
        assert_eq!(config.rule(LimitClass::Api), Rule::per_secs(600, 60));
        assert_eq!(config.rule(LimitClass::Ingest), Rule::per_secs(1200, 60));
        assert_eq!(config.rule(LimitClass::Share), Rule::per_secs(120, 60));
        assert_eq!(config.max_tracked_keys, 100_000);
        assert_eq!(config.cleanup_interval, Duration::from_secs(60));
        assert_eq!(config.enabled, None);
    }

    #[test]
    fn enabled_defaults_to_on_in_production_only() {
        let mut config = RateLimitConfig::default();
        assert!(!config.is_enabled(AppEnv::Development));
        assert!(config.is_enabled(AppEnv::Production));
        config.enabled = Some(true);
        assert!(config.is_enabled(AppEnv::Development));
        config.enabled = Some(false);
        assert!(!config.is_enabled(AppEnv::Production));
    }

    #[test]
    fn class_names_are_distinct_and_all_lists_every_class() {
        let names: Vec<&str> = LimitClass::ALL.iter().map(|class| class.name()).collect();
        assert_eq!(names, ["upload", "auth", "api", "ingest", "share"]);
        for (index, class) in LimitClass::ALL.iter().enumerate() {
            assert_eq!(class.index(), index);
            assert_eq!(class.to_string(), class.name());
        }
    }

    #[test]
    fn retry_after_only_when_refused_and_at_least_one_second() {
        let allowed = Decision {
            allowed: true,
            limit: 5,
            remaining: 4,
            reset_secs: 0,
        };
        assert_eq!(allowed.retry_after_secs(), None);
        let refused = Decision {
            allowed: false,
            remaining: 0,
            ..allowed
        };
        assert_eq!(refused.retry_after_secs(), Some(1));
        let refused_later = Decision {
            reset_secs: 42,
            ..refused
        };
        assert_eq!(refused_later.retry_after_secs(), Some(42));
    }

    #[tokio::test]
    async fn allows_n_then_refuses_with_retry_after_of_the_window() {
        let (limiter, _clock) = limiter(config_with(LimitClass::Auth, Rule::per_secs(3, 60)));
        for _ in 0..3 {
            assert!(
                check(&limiter, LimitClass::Auth, "203.0.113.7")
                    .await
                    .allowed
            );
        }
        let refused = check(&limiter, LimitClass::Auth, "203.0.113.7").await;
        assert!(!refused.allowed);
        assert_eq!(refused.limit, 3);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.reset_secs, 60);
        assert_eq!(refused.retry_after_secs(), Some(60));
        // Refusals do not extend or deepen the window.
        let again = check(&limiter, LimitClass::Auth, "203.0.113.7").await;
        assert_eq!(again, refused);
    }

    #[tokio::test]
    async fn remaining_and_reset_count_down() {
        let (limiter, clock) = limiter(config_with(LimitClass::Api, Rule::per_secs(4, 60)));
        let first = check(&limiter, LimitClass::Api, "user-1").await;
        assert_eq!(
            (first.allowed, first.remaining, first.reset_secs),
            (true, 3, 60)
        );
        clock.advance_secs(10);
        let second = check(&limiter, LimitClass::Api, "user-1").await;
        assert_eq!((second.remaining, second.reset_secs), (2, 50));
        clock.advance_secs(30);
        let third = check(&limiter, LimitClass::Api, "user-1").await;
        assert_eq!((third.remaining, third.reset_secs), (1, 20));
        let fourth = check(&limiter, LimitClass::Api, "user-1").await;
        assert_eq!((fourth.allowed, fourth.remaining), (true, 0));
        clock.advance_secs(5);
        let fifth = check(&limiter, LimitClass::Api, "user-1").await;
        assert!(!fifth.allowed);
        assert_eq!(fifth.retry_after_secs(), Some(15));
    }

    #[tokio::test]
    async fn a_new_window_starts_once_the_old_one_ends() {
        let (limiter, clock) = limiter(config_with(LimitClass::Share, Rule::per_secs(2, 60)));
        check(&limiter, LimitClass::Share, "198.51.100.1").await;
        check(&limiter, LimitClass::Share, "198.51.100.1").await;
        assert!(
            !check(&limiter, LimitClass::Share, "198.51.100.1")
                .await
                .allowed
        );
        clock.advance_secs(59);
        assert!(
            !check(&limiter, LimitClass::Share, "198.51.100.1")
                .await
                .allowed
        );
        clock.advance_secs(1);
        let fresh = check(&limiter, LimitClass::Share, "198.51.100.1").await;
        assert!(fresh.allowed);
        assert_eq!((fresh.remaining, fresh.reset_secs), (1, 60));
        assert_eq!(limiter.tracked_keys(), 1);
    }

    #[tokio::test]
    async fn classes_and_keys_are_independent() {
        let one_per_minute = Rule::per_secs(1, 60);
        let config = RateLimitConfig {
            upload: one_per_minute,
            auth: one_per_minute,
            api: one_per_minute,
            ingest: one_per_minute,
            share: one_per_minute,
            ..RateLimitConfig::default()
        };
        let (limiter, _clock) = limiter(config);
        for class in LimitClass::ALL {
            assert!(check(&limiter, class, "same-key").await.allowed, "{class}");
        }
        for class in LimitClass::ALL {
            assert!(!check(&limiter, class, "same-key").await.allowed, "{class}");
            assert!(check(&limiter, class, "other-key").await.allowed, "{class}");
        }
        assert_eq!(limiter.tracked_keys(), 10);
    }

    #[tokio::test]
    async fn each_class_uses_its_own_rule() {
        let config = RateLimitConfig {
            auth: Rule::per_secs(2, 60),
            ingest: Rule::per_secs(5, 10),
            ..RateLimitConfig::default()
        };
        let (limiter, _clock) = limiter(config);
        let auth = check(&limiter, LimitClass::Auth, "k").await;
        assert_eq!((auth.limit, auth.remaining, auth.reset_secs), (2, 1, 60));
        let ingest = check(&limiter, LimitClass::Ingest, "k").await;
        assert_eq!(
            (ingest.limit, ingest.remaining, ingest.reset_secs),
            (5, 4, 10)
        );
        let upload = check(&limiter, LimitClass::Upload, "k").await;
        assert_eq!((upload.limit, upload.reset_secs), (100, 3600));
    }

    #[tokio::test]
    async fn a_rule_of_zero_requests_refuses_everything() {
        let (limiter, _clock) = limiter(config_with(LimitClass::Upload, Rule::per_secs(0, 30)));
        let decision = check(&limiter, LimitClass::Upload, "k").await;
        assert!(!decision.allowed);
        assert_eq!(decision.retry_after_secs(), Some(30));
    }

    #[tokio::test]
    async fn cleanup_drops_only_expired_entries() {
        let config = RateLimitConfig {
            auth: Rule::per_secs(10, 60),
            upload: Rule::per_secs(10, 3600),
            ..RateLimitConfig::default()
        };
        let (limiter, clock) = limiter(config);
        check(&limiter, LimitClass::Auth, "early").await;
        check(&limiter, LimitClass::Upload, "long-window").await;
        clock.advance_secs(30);
        check(&limiter, LimitClass::Auth, "late").await;
        assert_eq!(limiter.cleanup(), 0);
        assert_eq!(limiter.tracked_keys(), 3);

        clock.advance_secs(30); // "early" has just ended, "late" has 30 s left
        assert_eq!(limiter.cleanup(), 1);
        assert_eq!(limiter.tracked_keys(), 2);
        // "late" kept its count: 10 allowed in total, 1 used.
        assert_eq!(check(&limiter, LimitClass::Auth, "late").await.remaining, 8);

        clock.advance_secs(30);
        assert_eq!(limiter.cleanup(), 1);
        assert_eq!(limiter.tracked_keys(), 1);
        let upload = check(&limiter, LimitClass::Upload, "long-window").await;
        assert_eq!(upload.remaining, 8);
    }

    #[tokio::test]
    async fn a_flood_of_new_keys_stays_bounded_and_is_limited_together() {
        let mut config = config_with(LimitClass::Share, Rule::per_secs(5, 60));
        config.max_tracked_keys = 10;
        let (limiter, _clock) = limiter(config);

        let mut allowed = 0;
        for i in 0..1000 {
            let decision = check(
                &limiter,
                LimitClass::Share,
                &format!("10.0.{}.{}", i / 256, i % 256),
            )
            .await;
            if decision.allowed {
                allowed += 1;
            }
            assert!(limiter.tracked_keys() <= 10 + 1);
        }
        // 10 keys tracked on their own, then the other 990 share 5 requests.
        assert_eq!(allowed, 10 + 5);
        assert_eq!(limiter.tracked_keys(), 11);
        assert_eq!(limiter.max_tracked_keys(), 10);
        let newcomer = check(&limiter, LimitClass::Share, "192.0.2.200").await;
        assert!(!newcomer.allowed);
        assert_eq!(newcomer.retry_after_secs(), Some(60));
        // Another class still has its own overflow bucket.
        assert!(check(&limiter, LimitClass::Api, "user-9").await.allowed);
        assert_eq!(limiter.tracked_keys(), 12);
    }

    #[tokio::test]
    async fn a_flood_in_one_class_leaves_the_others_their_own_counters() {
        let mut config = config_with(LimitClass::Share, Rule::per_secs(5, 60));
        config.max_tracked_keys = 10;
        let (limiter, _clock) = limiter(config);
        for i in 0..1000 {
            check(&limiter, LimitClass::Share, &format!("flood-{i}")).await;
        }
        // Every API user still gets a counter of their own, not the shared overflow one.
        for user in 0..10 {
            let decision = check(&limiter, LimitClass::Api, &format!("user-{user}")).await;
            assert!(decision.allowed);
            assert_eq!(decision.remaining, decision.limit - 1, "user-{user}");
        }
    }

    #[tokio::test]
    async fn a_key_tracked_before_the_flood_keeps_its_own_count() {
        let mut config = config_with(LimitClass::Auth, Rule::per_secs(3, 60));
        config.max_tracked_keys = 10;
        let (limiter, _clock) = limiter(config);
        let regular = "203.0.113.50";
        assert_eq!(
            check(&limiter, LimitClass::Auth, regular).await.remaining,
            2
        );
        for i in 0..1000 {
            check(&limiter, LimitClass::Auth, &format!("flood-{i}")).await;
        }
        // Not evicted and not merged with the flood: two requests left, then refused.
        let decision = check(&limiter, LimitClass::Auth, regular).await;
        assert_eq!((decision.allowed, decision.remaining), (true, 1));
        assert!(check(&limiter, LimitClass::Auth, regular).await.allowed);
        assert!(!check(&limiter, LimitClass::Auth, regular).await.allowed);
    }

    #[tokio::test]
    async fn expired_entries_make_room_when_full() {
        let mut config = config_with(LimitClass::Api, Rule::per_secs(1, 60));
        config.max_tracked_keys = 3;
        let (limiter, clock) = limiter(config);
        for key in ["a", "b", "c"] {
            check(&limiter, LimitClass::Api, key).await;
        }
        // Full: the newcomer goes to the overflow bucket, and the next newcomer shares it.
        assert!(check(&limiter, LimitClass::Api, "d").await.allowed);
        assert!(!check(&limiter, LimitClass::Api, "e").await.allowed);
        clock.advance_secs(60);
        // Everything has expired: the newcomer is tracked on its own again.
        assert!(check(&limiter, LimitClass::Api, "f").await.allowed);
        assert!(!check(&limiter, LimitClass::Api, "f").await.allowed);
        assert!(check(&limiter, LimitClass::Api, "g").await.allowed);
        assert_eq!(limiter.tracked_keys(), 2);
    }

    #[tokio::test]
    async fn overflow_is_logged_once_per_window() {
        let mut config = config_with(LimitClass::Ingest, Rule::per_secs(2, 60));
        config.max_tracked_keys = 1;
        let (limiter, clock) = limiter(config);
        check(&limiter, LimitClass::Ingest, "resident").await;
        for i in 0..20 {
            check(&limiter, LimitClass::Ingest, &format!("k{i}")).await;
        }
        assert_eq!(limiter.lock().overflow_windows_started, 1);
        clock.advance_secs(30);
        // Keep the resident's window alive past the next check, so the limiter stays full.
        check(&limiter, LimitClass::Ingest, "resident").await;
        check(&limiter, LimitClass::Ingest, "k-more").await;
        assert_eq!(limiter.lock().overflow_windows_started, 1);
        clock.advance_secs(30);
        // The overflow window has ended; the resident's too, but it is renewed first.
        check(&limiter, LimitClass::Ingest, "resident").await;
        check(&limiter, LimitClass::Ingest, "k-next").await;
        check(&limiter, LimitClass::Ingest, "k-next-2").await;
        assert_eq!(limiter.lock().overflow_windows_started, 2);
    }

    #[tokio::test]
    async fn long_keys_are_cut_and_short_ones_kept_whole() {
        let (limiter, _clock) = limiter(config_with(LimitClass::Share, Rule::per_secs(1, 60)));
        // "é" is two bytes and starts at odd offsets here, so byte MAX_KEY_BYTES falls inside one.
        let base = format!("a{}", "é".repeat(MAX_KEY_BYTES));
        let long_a = format!("{base}a");
        let long_b = format!("{base}b");
        assert!(check(&limiter, LimitClass::Share, &long_a).await.allowed);
        // Same first MAX_KEY_BYTES bytes: the same client as far as the limiter knows.
        assert!(!check(&limiter, LimitClass::Share, &long_b).await.allowed);
        let state = limiter.lock();
        let stored: Vec<&String> = state.classes[LimitClass::Share.index()]
            .windows
            .keys()
            .collect();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].len(), MAX_KEY_BYTES - 1);
        assert!(base.starts_with(stored[0].as_str()));
        assert_eq!(bounded_key("203.0.113.7"), "203.0.113.7");
    }

    #[tokio::test]
    async fn a_clock_stepped_back_never_lengthens_the_wait_beyond_one_window() {
        let (limiter, clock) = limiter(config_with(LimitClass::Auth, Rule::per_secs(1, 60)));
        check(&limiter, LimitClass::Auth, "k").await;
        clock.advance_secs(-3600);
        let refused = check(&limiter, LimitClass::Auth, "k").await;
        assert!(!refused.allowed);
        assert_eq!(refused.reset_secs, 60);
    }

    #[tokio::test]
    async fn a_poisoned_lock_does_not_stop_the_limiter() {
        let (limiter, _clock) = limiter(config_with(LimitClass::Api, Rule::per_secs(2, 60)));
        let limiter = Arc::new(limiter);
        check(&limiter, LimitClass::Api, "k").await;
        let poisoner = Arc::clone(&limiter);
        let result = std::thread::spawn(move || {
            let _guard = poisoner.state.lock();
            panic!("poison the lock on purpose");
        })
        .join();
        assert!(result.is_err());
        assert!(limiter.state.is_poisoned());
        let decision = check(&limiter, LimitClass::Api, "k").await;
        assert_eq!((decision.allowed, decision.remaining), (true, 0));
        assert_eq!(limiter.tracked_keys(), 1);
        assert_eq!(limiter.cleanup(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_never_exceed_the_limit() {
        let (limiter, _clock) = limiter(config_with(LimitClass::Ingest, Rule::per_secs(50, 60)));
        let limiter: Arc<dyn RateLimiter> = Arc::new(limiter);
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let limiter = Arc::clone(&limiter);
            tasks.push(tokio::spawn(async move {
                let mut allowed = 0u32;
                for _ in 0..25 {
                    if limiter
                        .check(LimitClass::Ingest, "key-1")
                        .await
                        .unwrap()
                        .allowed
                    {
                        allowed += 1;
                    }
                }
                allowed
            }));
        }
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        assert_eq!(total, 50);
    }

    #[tokio::test]
    async fn spawn_cleanup_cleans_periodically_and_stops_when_dropped() {
        let mut config = config_with(LimitClass::Auth, Rule::per_secs(5, 60));
        config.cleanup_interval = Duration::from_millis(10);
        let (limiter, clock) = limiter(config);
        let limiter = Arc::new(limiter);
        let task = limiter.spawn_cleanup();
        check(&limiter, LimitClass::Auth, "a").await;
        check(&limiter, LimitClass::Auth, "b").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            limiter.tracked_keys(),
            2,
            "live windows must survive cleanup"
        );

        clock.advance_secs(60);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while limiter.tracked_keys() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(limiter.tracked_keys(), 0);

        drop(limiter);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the cleanup task stops once the limiter is dropped")
            .unwrap();
    }
}
