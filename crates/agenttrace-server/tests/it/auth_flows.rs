//! Accounts and tokens: registration, sign-in, refresh rotation, reuse detection, logout,
//! password change, lockout, browser sessions and CSRF.
