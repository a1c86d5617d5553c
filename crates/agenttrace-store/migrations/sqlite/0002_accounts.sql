-- Accounts, sessions, projects with roles, API keys and share links.
-- Secrets (passwords, refresh tokens, API keys, share tokens) are stored only as hashes.

CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL UNIQUE,          -- normalised to lowercase by the server
    password_hash     TEXT NOT NULL,                 -- Argon2id PHC string
    is_admin          INTEGER NOT NULL DEFAULT 0,
    security_stamp    TEXT NOT NULL,                 -- changes on password change or lock: old tokens die
    failed_logins     INTEGER NOT NULL DEFAULT 0,
    locked_until_us   INTEGER,
    created_at_us     INTEGER NOT NULL
);

-- Refresh tokens (API) and web sessions (cookie), one row per issued token. Rotation marks the
-- old row rotated and inserts a new one in the same family; reusing a rotated token revokes the
-- family.
CREATE TABLE sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id         TEXT NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('refresh', 'web')),
    token_hash        TEXT NOT NULL UNIQUE,
    csrf_hash         TEXT,
    created_at_us     INTEGER NOT NULL,
    expires_at_us     INTEGER NOT NULL,
    rotated_at_us     INTEGER,
    revoked_at_us     INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_family ON sessions (family_id);

CREATE TABLE projects (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    personal_of       TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at_us     INTEGER NOT NULL
);

CREATE TABLE members (
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at_us     INTEGER NOT NULL,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE api_keys (
    id                TEXT PRIMARY KEY NOT NULL,
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    prefix            TEXT NOT NULL,
    key_hash          TEXT NOT NULL UNIQUE,
    scope             TEXT NOT NULL CHECK (scope IN ('ingest', 'read')),
    created_by        TEXT,
    created_at_us     INTEGER NOT NULL,
    expires_at_us     INTEGER,
    last_used_at_us   INTEGER,
    revoked_at_us     INTEGER
);
CREATE INDEX api_keys_project ON api_keys (project_id);

CREATE TABLE shares (
    id                TEXT PRIMARY KEY NOT NULL,
    trace_id          TEXT NOT NULL REFERENCES traces (id) ON DELETE CASCADE,
    token_hash        TEXT NOT NULL UNIQUE,
    created_by        TEXT,
    created_at_us     INTEGER NOT NULL,
    expires_at_us     INTEGER,
    revoked_at_us     INTEGER
);
CREATE INDEX shares_trace ON shares (trace_id);

-- Traces stored before accounts existed belong to this project; the first admin owns it.
INSERT INTO projects (id, name, personal_of, created_at_us)
VALUES ('default', 'Default project', NULL, 0);
