-- tcpship's events from Kafka into ClickHouse: the Kafka engine reads the
-- topic tcpship's kafka output writes (native lines, JSONEachRow), and a
-- materialized view moves each block into tcp_events (schemas/clickhouse.sql,
-- create it first). The same (agent_id, seq) twice, from a replayed disk
-- queue, collapses in the ReplacingMergeTree.
--
-- Set the brokers, topic and group below; if the table is created after
-- tcpship began producing, start the group at the oldest offset with
--   <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>
-- in the server's config, and keep keys a later tcpship adds from stopping
-- the stream with input_format_skip_unknown_fields = 1 in the profile the
-- Kafka engine runs with (the default one).
CREATE TABLE IF NOT EXISTS tcp_events_kafka
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
    community_id    Nullable(String),
    probe           String,
    direction       Nullable(String),
    established     Nullable(UInt8),
    error           Nullable(String),
    duration_ns     Nullable(UInt64),
    bytes_sent      Nullable(UInt64),
    bytes_received  Nullable(UInt64),
    retransmits     Nullable(UInt32),
    state           Nullable(String),
    bytes           Nullable(UInt64),
    latency_ns      Nullable(UInt64),
    qname           Nullable(String),
    qtype           Nullable(String)
)
ENGINE = Kafka('kafka1:9092,kafka2:9092,kafka3:9092', 'tcpship', 'clickhouse-tcpship', 'JSONEachRow');

-- tcp_events computes event_time and event_ns from time; the view says them
CREATE MATERIALIZED VIEW IF NOT EXISTS tcp_events_from_kafka TO tcp_events AS
SELECT *,
       toDateTime(substring(time, 1, 19), 'UTC') AS event_time,
       toUInt32(substring(time, 21, 9)) AS event_ns
FROM tcp_events_kafka;
