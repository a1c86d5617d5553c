-- Failed sign-ins count toward a lock only while they are recent: a failure older than the
-- lockout window starts the count again.
ALTER TABLE users ADD COLUMN last_failed_at_us INTEGER;
