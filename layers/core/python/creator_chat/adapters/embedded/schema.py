"""The embedded database's schema, as forward migrations (``PRAGMA user_version`` = applied).

Append a migration to change the schema; never edit one that has shipped. Columns hold what a
query filters or sorts on; the rest of a record is JSON in ``data`` (the domain dataclass's
fields), so a new optional field needs no migration. ``expires_at`` (epoch seconds, NULL =
never) is checked on every read — expired is absent — and purged periodically.
"""

from __future__ import annotations

V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- creators: id and slug are both unique (a slug is in fans' URLs and never changes)
CREATE TABLE creators (
    creator_id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    content_version INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);

-- threads and their messages and feedback (7-day idle TTL, refreshed on activity)
CREATE TABLE threads (
    thread_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    creator_id TEXT NOT NULL,
    last_activity_at INTEGER NOT NULL,
    expires_at INTEGER,
    message_count INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL
);
CREATE INDEX threads_by_user ON threads (user_id, last_activity_at DESC);

CREATE TABLE messages (
    thread_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    expires_at INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (thread_id, message_id)
);
CREATE UNIQUE INDEX messages_by_id ON messages (message_id);
CREATE INDEX messages_pending ON messages (status) WHERE status = 'pending';

CREATE TABLE feedback (
    thread_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (thread_id, message_id, user_id)
);
CREATE INDEX feedback_by_user ON feedback (user_id);

-- sessions (24 h TTL)
CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- fixed-window counters: key = "<limiter key>#<window start>", TTL at the window's end
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- documents and the content-hash claims that make a re-ingest a no-op
CREATE TABLE documents (
    creator_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (creator_id, document_id)
);

CREATE TABLE content_hashes (
    creator_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    document_id TEXT NOT NULL,
    PRIMARY KEY (creator_id, content_hash)
);

-- fan profiles and usage per month
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);

CREATE TABLE usage (
    user_id TEXT NOT NULL,
    month TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, month)
);

-- the audit log (~13 months)
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    expires_at INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX audit_by_actor ON audit (actor_id, at);

-- trending: a counter per (creator, week, question hash) and a marker per asker; the
-- question's words only once enough different fans asked it
CREATE TABLE trending_questions (
    creator_id TEXT NOT NULL,
    week TEXT NOT NULL,
    qhash TEXT NOT NULL,
    asked INTEGER NOT NULL DEFAULT 0,
    askers INTEGER NOT NULL DEFAULT 0,
    question TEXT,
    expires_at INTEGER,
    PRIMARY KEY (creator_id, week, qhash)
);

CREATE TABLE trending_askers (
    creator_id TEXT NOT NULL,
    week TEXT NOT NULL,
    qhash TEXT NOT NULL,
    asker TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (creator_id, week, qhash, asker)
);

-- Powertools idempotency records of the workers
CREATE TABLE idempotency (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    expiration INTEGER,
    in_progress_expiration INTEGER,
    response_data TEXT,
    payload_hash TEXT
);

-- job queues (ingest-jobs, llm-jobs and their -dlq): SQS's semantics in one table
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at REAL,
    receipt TEXT
);
CREATE INDEX jobs_ready ON jobs (queue, visible_at, seq);
-- a delete acknowledges by receipt handle (only in-flight messages have one)
CREATE UNIQUE INDEX jobs_by_receipt ON jobs (receipt) WHERE receipt IS NOT NULL;

-- the vector index's source of truth: a chunk, its unit vector (float32) and its document
CREATE TABLE chunks (
    creator_id TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    dimension INTEGER NOT NULL,
    data TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (creator_id, chunk_id)
);
CREATE INDEX chunks_by_document ON chunks (creator_id, document_id);
"""

# GDPR export jobs: one row per export of a user; the file lives in the exports blob store
# and goes with the row (the local runtime's purge deletes both once expired)
V2 = """
CREATE TABLE exports (
    user_id TEXT NOT NULL,
    export_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (user_id, export_id)
);
CREATE INDEX exports_by_expiry ON exports (expires_at);
"""

# open WebSocket connections (the local gateway's /v1/stream): who opened each, until it
# closes or API Gateway's 2 h cap (expires_at) passes
V3 = """
CREATE TABLE connections (
    connection_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    connected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX connections_by_user ON connections (user_id, connected_at);
"""

# monthly token budgets: the usage row's counters (charged to the budget, reserved by
# answers in flight) and one row per answer in flight. A hold's ``expires_at`` is not a TTL
# for the purge: an expired hold is given back (its tokens leave ``reserved_tokens``) by the
# usage store's next refused reservation, never deleted alone.
V4 = """
ALTER TABLE usage ADD COLUMN charged_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage ADD COLUMN reserved_tokens INTEGER NOT NULL DEFAULT 0;
CREATE TABLE token_holds (
    user_id TEXT NOT NULL,
    month TEXT NOT NULL,
    hold_id TEXT NOT NULL,
    tokens INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, month, hold_id)
);
"""

# what a creator learns from its fans' questions (usecases/insights.py): questions grouped by
# meaning per kind ("gap": not answered from the content, "down": an answer rated down),
# whose words are kept only once enough different fans asked within one week; a marker per
# (group, week, fan pseudonym) that lives only as long as its week; and per-(creator, day)
# counters (questions, outcomes, cache hits, an answer-time histogram, ratings), no user id
V5 = """
CREATE TABLE question_groups (
    creator_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    group_id TEXT NOT NULL,
    centroid BLOB NOT NULL,
    asked INTEGER NOT NULL DEFAULT 0,
    fans INTEGER NOT NULL DEFAULT 0,
    question TEXT,
    last_asked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, kind, group_id)
);

CREATE TABLE question_group_askers (
    creator_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    group_id TEXT NOT NULL,
    week TEXT NOT NULL,
    asker TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, kind, group_id, week, asker)
);

CREATE TABLE creator_stats (
    creator_id TEXT NOT NULL,
    day TEXT NOT NULL,
    name TEXT NOT NULL,
    n INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (creator_id, day, name)
);
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5)

# Rows that live exactly as long as a parent row: (table, key, parent table), purged with the
# parent (messages and ratings with their thread: an append then never rewrites a thread's
# older rows to push their expiry, which made appends slower as a thread grew).
PURGED_WITH: tuple[tuple[str, str, str], ...] = (
    ("messages", "thread_id", "threads"),
    ("feedback", "thread_id", "threads"),
)

# (table, column) pairs whose rows are deleted once the column's epoch second has passed
EXPIRING_TABLES: tuple[tuple[str, str], ...] = (
    ("threads", "expires_at"),
    ("sessions", "expires_at"),
    ("rate_limits", "expires_at"),
    ("audit", "expires_at"),
    ("trending_questions", "expires_at"),
    ("trending_askers", "expires_at"),
    ("idempotency", "expiration"),
    ("connections", "expires_at"),
    ("question_groups", "expires_at"),
    ("question_group_askers", "expires_at"),
    ("creator_stats", "expires_at"),
)
