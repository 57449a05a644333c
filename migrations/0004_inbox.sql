-- The inbox: ids of messages already applied, per consumer, so that a message Kafka delivers
-- again is skipped (sdk/inbox/idempotent_consumer.h). sagad consumes step replies through it;
-- outbox/sql/service_inbox.sql ships the same tables for services' own databases.
CREATE TABLE inbox (
  consumer    text        NOT NULL,
  message_id  text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);
-- The retention clean-up deletes the oldest ids in small chunks.
CREATE INDEX inbox_by_age ON inbox (consumer, received_at);
ALTER TABLE inbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- Messages whose handler kept failing, kept with their error for an operator.
CREATE TABLE inbox_parked (
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
