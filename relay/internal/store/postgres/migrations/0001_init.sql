-- Events. raw holds the event's JSON exactly as clients receive it (JSON
-- escaping keeps NUL characters out of the text column). channel is the
-- value of the event's h tag (at most one; the relay enforces that).
-- replace_key is sha256("pubkey:kind:d") for replaceable (d = '') and
-- addressable kinds, NULL otherwise; hashing keeps long d tags within the
-- btree row limit.
CREATE TABLE events (
    id          text    PRIMARY KEY,
    pubkey      text    NOT NULL,
    created_at  bigint  NOT NULL,
    kind        integer NOT NULL,
    channel     text,
    replace_key bytea,
    raw         text    NOT NULL
);

-- One index per query shape; every one ends in (created_at DESC, id) so a
-- LIMIT query reads the index in result order and stops early.
CREATE INDEX events_created_idx ON events (created_at DESC, id);
CREATE INDEX events_kind_idx ON events (kind, created_at DESC, id);
CREATE INDEX events_author_kind_idx ON events (pubkey, kind, created_at DESC, id);
CREATE INDEX events_channel_idx ON events (channel, created_at DESC, id) WHERE channel IS NOT NULL;
CREATE UNIQUE INDEX events_replace_key_idx ON events (replace_key) WHERE replace_key IS NOT NULL;

-- Single-letter tags except h (which is events.channel). value is the tag
-- value, or for values over 256 bytes or holding NUL, U+0001 followed by
-- the hex sha256 of the value (see tagKey), so every value indexes.
CREATE TABLE event_tags (
    event_id   text   NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    name       text   NOT NULL,
    value      text   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (event_id, name, value)
);
CREATE INDEX event_tags_value_idx ON event_tags (name, value, created_at DESC, event_id);

-- NIP-09 tombstones. An id tombstone only blocks an event by the same
-- pubkey, so nobody can pre-delete another author's events.
CREATE TABLE deleted_events (
    id         text NOT NULL,
    pubkey     text NOT NULL,
    deleted_by text NOT NULL,
    PRIMARY KEY (id, pubkey)
);

-- a-tag tombstones: every version of the address with created_at <=
-- deleted_until is gone and may not come back.
CREATE TABLE deleted_addresses (
    replace_key   bytea  PRIMARY KEY,
    deleted_until bigint NOT NULL,
    deleted_by    text   NOT NULL
);

-- Channels never change visibility after creation, so reads decide scope by
-- looking the event's channel up here (primary key) instead of copying the
-- visibility into every event row.
CREATE TABLE channels (
    id         text   PRIMARY KEY,
    name       text   NOT NULL,
    visibility text   NOT NULL CHECK (visibility IN ('open', 'private')),
    creator    text   NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE channel_members (
    channel_id text NOT NULL REFERENCES channels (id),
    pubkey     text NOT NULL,
    role       text NOT NULL,
    PRIMARY KEY (channel_id, pubkey)
);
CREATE INDEX channel_members_pubkey_idx ON channel_members (pubkey, channel_id);

CREATE TABLE allowlist (
    pubkey   text        PRIMARY KEY,
    added_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE relay_members (
    pubkey   text        PRIMARY KEY,
    added_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    seq       bigint      PRIMARY KEY,
    at        timestamptz NOT NULL,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    event_id  text        NOT NULL,
    kind      integer     NOT NULL,
    channel   text        NOT NULL,
    detail    text        NOT NULL,
    prev_hash bytea       NOT NULL,
    hash      bytea       NOT NULL
);
