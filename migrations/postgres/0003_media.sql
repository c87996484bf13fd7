-- Media: durable jobs, resumable uploads and video assets.

-- A durable job queue shared by every domain (transcoding now; recordings and reports later).
-- A worker claims a due job by setting a lease; a crashed worker's lease runs out and another
-- worker takes the job over.
CREATE TABLE jobs (
    id            UUID PRIMARY KEY,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_after     BIGINT NOT NULL,
    lease_owner   TEXT,
    lease_until   BIGINT,
    progress      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_after);

CREATE TABLE assets (
    id            UUID PRIMARY KEY,
    owner_id      UUID REFERENCES users (id),
    state         TEXT NOT NULL CHECK (state IN ('uploading', 'processing', 'ready', 'failed')),
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    sha256        TEXT,
    -- Where the uploaded original lives in the object store.
    source_key    TEXT,
    -- Prefix of the published HLS renditions (one per successful transcode attempt).
    hls_prefix    TEXT,
    duration_ms   BIGINT,
    width         INTEGER,
    height        INTEGER,
    -- JSON: [{"name","width","height","bandwidth","codecs"}, …]
    renditions    TEXT NOT NULL DEFAULT '[]',
    progress      INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    job_id        UUID,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE uploads (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id),
    filename      TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    size          BIGINT NOT NULL,
    chunk_size    BIGINT NOT NULL,
    chunk_count   INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('open', 'completing', 'completed', 'aborted')),
    asset_id      UUID REFERENCES assets (id),
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (state, expires_at);

CREATE TABLE upload_chunks (
    upload_id   UUID NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    n           INTEGER NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (upload_id, n)
);
