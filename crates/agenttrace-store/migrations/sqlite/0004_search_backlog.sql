-- Search words are written after the trace itself commits (see `sqlite_search.rs`). A trace whose
-- words are not written yet is marked, so that a restart after a crash finishes the job.
ALTER TABLE traces ADD COLUMN search_indexed INTEGER NOT NULL DEFAULT 1;
CREATE INDEX traces_search_pending ON traces (id) WHERE search_indexed = 0;
