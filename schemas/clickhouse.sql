-- tcpship events in ClickHouse, shipped by the HTTP output as JSONEachRow.
--
-- Works on ClickHouse 18.16 (Debian 12's clickhouse-server package; the
-- test suite runs it there) and on every later release. One column per key
-- of schemas/event.schema.json; a key an event does not carry is NULL.
--
--   clickhouse-client --multiquery < schemas/clickhouse.sql
--
-- and in tcpship's config (the query is %-encoded in the URL):
--
--   { "type": "http", "format": "ndjson", "compression": "gzip",
--     "url": "http://127.0.0.1:8123/?query=INSERT%20INTO%20tcp_events%20FORMAT%20JSONEachRow&input_format_skip_unknown_fields=1",
--     "batch": { "max_events": 5000, "max_delay": "1s" } }
--
-- input_format_skip_unknown_fields=1 (in the URL as above, or in the user's
-- profile) lets a newer tcpship add keys without breaking inserts: without
-- it ClickHouse answers 500 to a row with an unknown key, which the sink
-- retries until the exit deadline. A gzip body (Content-Encoding: gzip) is
-- accepted as is; enable_http_compression only concerns ClickHouse's own
-- answers and is not needed.
--
-- A dns answer's "answers" (an array of objects) has no column here:
-- 18.16's JSONEachRow cannot read one, and input_format_skip_unknown_fields
-- leaves it out; the form for newer releases below stores it.
--
-- "time" stays the RFC 3339 string tcpship sends (old releases cannot parse
-- nanoseconds into a column); event_time and event_ns are computed from it
-- on insert, for time filters and ordering.
--
-- ReplacingMergeTree: delivery is at least once (a request that timed out
-- may have been stored before it is sent again); rows with the same
-- (event_time, agent_id, seq) are the same event and merges keep one.
-- SELECT ... FINAL, or count(DISTINCT agent_id, seq), sees through
-- duplicates not merged yet.

CREATE TABLE IF NOT EXISTS tcp_events
(
    time            String,
    type            String,
    host            String,
    seq             UInt64,
    agent_id        String,
    pid             Nullable(UInt32),
    tid             Nullable(UInt32),
    uid             Nullable(UInt32),
    comm            Nullable(String),
    ppid            Nullable(UInt32),
    process_start   Nullable(String),
    exe             Nullable(String),
    cgroup          Nullable(String),
    unit            Nullable(String),
    container_id    Nullable(String),
    container_runtime Nullable(String),
    container_name  Nullable(String),
    image           Nullable(String),
    pod             Nullable(String),
    pod_namespace   Nullable(String),
    pod_uid         Nullable(String),
    netns           Nullable(UInt32),
    family          String,
    saddr           Nullable(String),
    sport           Nullable(UInt16),
    daddr           String,
    dport           UInt16,
    dest_name       Nullable(String),
    community_id    Nullable(String),
    probe           String,
    direction       Nullable(String),
    established     Nullable(UInt8),
    error           Nullable(String),
    end_reason      Nullable(String),
    duration_ns     Nullable(UInt64),
    connect_latency_ns Nullable(UInt64),
    bytes_sent      Nullable(UInt64),
    bytes_received  Nullable(UInt64),
    retransmits     Nullable(UInt32),
    bytes_sent_delta Nullable(UInt64),
    bytes_received_delta Nullable(UInt64),
    retransmits_delta Nullable(UInt32),
    state           Nullable(String),
    bytes           Nullable(UInt64),
    latency_ns      Nullable(UInt64),
    id              Nullable(UInt16),
    qname           Nullable(String),
    qtype           Nullable(String),
    rcode           Nullable(String),
    tc              Nullable(UInt8),
    answers_truncated Nullable(UInt8),
    event_time      DateTime MATERIALIZED toDateTime(substring(time, 1, 19), 'UTC'),
    event_ns        UInt32 MATERIALIZED toUInt32(substring(time, 21, 9))
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMMDD(event_time)
ORDER BY (event_time, agent_id, seq);

-- On a current ClickHouse (DateTime64 exists since 20.1, LowCardinality is
-- no longer experimental since 19.x) this is the better table: the time is
-- one DateTime64(9) column holding the nanoseconds. Add
-- &date_time_input_format=best_effort to the URL so the RFC 3339 string
-- parses. Not tested by the suite (Debian 12 ships 18.16).
--
-- CREATE TABLE IF NOT EXISTS tcp_events
-- (
--     time            DateTime64(9, 'UTC'),
--     type            LowCardinality(String),
--     host            LowCardinality(String),
--     seq             UInt64,
--     agent_id        LowCardinality(String),
--     pid             Nullable(UInt32),
--     tid             Nullable(UInt32),
--     uid             Nullable(UInt32),
--     comm            Nullable(String),
--     ppid            Nullable(UInt32),
--     process_start   Nullable(DateTime64(9, 'UTC')),
--     exe             Nullable(String),
--     cgroup          Nullable(String),
--     unit            LowCardinality(Nullable(String)),
--     container_id    Nullable(String),
--     container_runtime LowCardinality(Nullable(String)),
--     container_name  Nullable(String),
--     image           LowCardinality(Nullable(String)),
--     pod             Nullable(String),
--     pod_namespace   LowCardinality(Nullable(String)),
--     pod_uid         Nullable(String),
--     netns           Nullable(UInt32),
--     family          LowCardinality(String),
--     saddr           Nullable(String),
--     sport           Nullable(UInt16),
--     daddr           String,
--     dport           UInt16,
--     dest_name       Nullable(String),
--     community_id    Nullable(String),
--     probe           LowCardinality(String),
--     direction       LowCardinality(Nullable(String)),
--     established     Nullable(Bool),
--     error           LowCardinality(Nullable(String)),
--     end_reason      LowCardinality(Nullable(String)),
--     duration_ns     Nullable(UInt64),
--     connect_latency_ns Nullable(UInt64),
--     bytes_sent      Nullable(UInt64),
--     bytes_received  Nullable(UInt64),
--     retransmits     Nullable(UInt32),
--     bytes_sent_delta Nullable(UInt64),
--     bytes_received_delta Nullable(UInt64),
--     retransmits_delta Nullable(UInt32),
--     state           LowCardinality(Nullable(String)),
--     bytes           Nullable(UInt64),
--     latency_ns      Nullable(UInt64),
--     id              Nullable(UInt16),
--     qname           Nullable(String),
--     qtype           LowCardinality(Nullable(String)),
--     rcode           LowCardinality(Nullable(String)),
--     tc              Nullable(Bool),
--     answers         Array(Tuple(name String, type String, ttl UInt32, data String)),
--     answers_truncated Nullable(Bool)
-- )
-- ENGINE = ReplacingMergeTree
-- PARTITION BY toYYYYMMDD(time)
-- ORDER BY (time, agent_id, seq);
