-- Events. raw holds the event's JSON exactly as clients receive it.
-- channel is the value of the event's h tag (at most one; the relay
-- enforces that). replace_key is sha256("pubkey:kind:d") for replaceable
-- (d = '') and addressable kinds, NULL otherwise. Timestamps are unix
-- seconds.
CREATE TABLE events (
    id          TEXT    PRIMARY KEY,
    pubkey      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    channel     TEXT,
    replace_key BLOB,
    raw         TEXT    NOT NULL
);

-- One index per query shape; every one ends in (created_at DESC, id) so a
-- LIMIT query reads the index in result order and stops early.
CREATE INDEX events_created_idx ON events (created_at DESC, id);
CREATE INDEX events_kind_idx ON events (kind, created_at DESC, id);
CREATE INDEX events_author_kind_idx ON events (pubkey, kind, created_at DESC, id);
CREATE INDEX events_channel_idx ON events (channel, created_at DESC, id) WHERE channel IS NOT NULL;
CREATE UNIQUE INDEX events_replace_key_idx ON events (replace_key) WHERE replace_key IS NOT NULL;

-- Single-letter tags except h (which is events.channel).
CREATE TABLE event_tags (
    event_id   TEXT    NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (event_id, name, value)
) WITHOUT ROWID;
CREATE INDEX event_tags_value_idx ON event_tags (name, value, created_at DESC, event_id);

-- NIP-09 tombstones. An id tombstone only blocks an event by the same
-- pubkey, so nobody can pre-delete another author's events.
CREATE TABLE deleted_events (
    id         TEXT NOT NULL,
    pubkey     TEXT NOT NULL,
    deleted_by TEXT NOT NULL,
    PRIMARY KEY (id, pubkey)
) WITHOUT ROWID;

-- a-tag tombstones: every version of the address with created_at <=
-- deleted_until is gone and may not come back.
CREATE TABLE deleted_addresses (
    replace_key   BLOB    PRIMARY KEY,
    deleted_until INTEGER NOT NULL,
    deleted_by    TEXT    NOT NULL
) WITHOUT ROWID;

-- Channels never change visibility after creation, so reads decide scope by
-- looking the event's channel up here (primary key) instead of copying the
-- visibility into every event row.
CREATE TABLE channels (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    visibility TEXT    NOT NULL CHECK (visibility IN ('open', 'private')),
    creator    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE channel_members (
    channel_id TEXT NOT NULL REFERENCES channels (id),
    pubkey     TEXT NOT NULL,
    role       TEXT NOT NULL,
    PRIMARY KEY (channel_id, pubkey)
) WITHOUT ROWID;
CREATE INDEX channel_members_pubkey_idx ON channel_members (pubkey, channel_id);

CREATE TABLE allowlist (
    pubkey   TEXT    PRIMARY KEY,
    added_at INTEGER NOT NULL DEFAULT (unixepoch())
) WITHOUT ROWID;

CREATE TABLE relay_members (
    pubkey   TEXT    PRIMARY KEY,
    added_at INTEGER NOT NULL DEFAULT (unixepoch())
) WITHOUT ROWID;

-- at is unix microseconds.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    event_id  TEXT    NOT NULL,
    kind      INTEGER NOT NULL,
    channel   TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
);
