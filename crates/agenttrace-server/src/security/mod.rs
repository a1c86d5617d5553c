//! Protection against abuse that is not about credentials: request rate limits.
//!
//! - [`rate_limit`]: fixed-window limits per class of request and per client, behind the
//!   [`rate_limit::RateLimiter`] trait so a shared limiter can replace the in-memory one.

pub mod rate_limit;
