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
-- the columns are tcp_events' own
CREATE TABLE IF NOT EXISTS tcp_events_kafka AS tcp_events
ENGINE = Kafka('kafka1:9092,kafka2:9092,kafka3:9092', 'tcpship', 'clickhouse-tcpship', 'JSONEachRow');

-- tcp_events computes event_time and event_ns from time; the view says them
CREATE MATERIALIZED VIEW IF NOT EXISTS tcp_events_from_kafka TO tcp_events AS
SELECT *,
       toDateTime(substring(time, 1, 19), 'UTC') AS event_time,
       toUInt32(substring(time, 21, 9)) AS event_ns
FROM tcp_events_kafka;
