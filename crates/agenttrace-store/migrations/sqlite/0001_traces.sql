-- Traces and their steps. Stats are computed once at ingest and stored as columns (for lists and
-- filters) and as a JSON document (per-kind counts, slowest steps, models).
CREATE TABLE traces (
    id              TEXT PRIMARY KEY NOT NULL,
    project_id      TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    source_format   TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'error', 'running')),
    start_us        INTEGER,
    end_us          INTEGER,
    duration_us     INTEGER,
    step_count      INTEGER NOT NULL,
    error_count     INTEGER NOT NULL,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    total_tokens    INTEGER,
    cost            REAL,
    tags            TEXT NOT NULL DEFAULT '[]',
    metadata        TEXT NOT NULL DEFAULT '{}',
    session_id      TEXT,
    size_bytes      INTEGER NOT NULL,
    redactions      INTEGER NOT NULL DEFAULT 0,
    stats           TEXT NOT NULL DEFAULT '{}',
    created_by      TEXT,
    created_at_us   INTEGER NOT NULL,
    expires_at_us   INTEGER
);

CREATE INDEX traces_project_created ON traces (project_id, created_at_us DESC, id DESC);
CREATE INDEX traces_created ON traces (created_at_us DESC, id DESC);

CREATE TABLE steps (
    trace_id        TEXT NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    step_id         TEXT NOT NULL,
    parent_id       TEXT,
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    start_us        INTEGER,
    end_us          INTEGER,
    duration_us     INTEGER,
    status          TEXT NOT NULL,
    input           TEXT,
    output          TEXT,
    error           TEXT,
    model           TEXT,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    total_tokens    INTEGER,
    cost            REAL,
    metadata        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (trace_id, seq),
    UNIQUE (trace_id, step_id)
);

-- Full-text search over a trace's name and the text of its steps: one row per trace.
CREATE VIRTUAL TABLE trace_search USING fts5 (
    trace_id UNINDEXED,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
