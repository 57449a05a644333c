-- The inbox of a service's own database, for the C++ SDK's IdempotentConsumer
-- (sdk/inbox/idempotent_consumer.h). Apply it once with psql; it is idempotent. For another
-- table name, replace "inbox" below and pass the name as IdempotentConsumerOptions.inbox_table
-- (the parked table is that name plus "_parked").
--
-- A consumer applies a message and records its id in one transaction:
--   BEGIN;
--   INSERT INTO inbox (consumer, message_id) VALUES ('billing', '<message-id header>')
--     ON CONFLICT DO NOTHING;            -- 0 rows: a duplicate, apply nothing
--   UPDATE accounts SET ...;             -- the effect
--   COMMIT;                              -- then commit the Kafka offset
CREATE TABLE IF NOT EXISTS inbox (
  consumer    text        NOT NULL,
  message_id  text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
CREATE INDEX IF NOT EXISTS inbox_by_age ON inbox (consumer, received_at);
ALTER TABLE inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

CREATE TABLE IF NOT EXISTS inbox_parked (
  consumer        text        NOT NULL,
  message_id      text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  msg_key         bytea       NOT NULL,
  payload         bytea       NOT NULL,
  error           text        NOT NULL,
  attempts        integer     NOT NULL,
  parked_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
