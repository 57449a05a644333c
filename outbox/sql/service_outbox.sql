-- The outbox of a service's own database, for sagad's relay (SAGAD_RELAY_SOURCES) and the C++
-- SDK writer (sdk/outbox/outbox_writer.h). Apply it once with psql; it is idempotent. To use
-- another table name, replace "outbox" in the table, index and trigger names below and give
-- the name to the relay ("billing_outbox=postgresql://...").
--
-- A service commits its business change and its message in one local transaction:
--   BEGIN;
--   UPDATE orders SET state = 'paid' WHERE id = 42;
--   INSERT INTO outbox (topic, msg_key, payload, message_id)
--     VALUES ('orders.events', '42', '\x...', gen_random_uuid()::text);
--   COMMIT;
-- The relay sends each row to Kafka (key msg_key, headers plus message-id) at least once, in
-- commit order per key, and deletes it once Kafka has persisted it.

CREATE TABLE IF NOT EXISTS outbox (
  id              bigserial   PRIMARY KEY,
  topic           text        NOT NULL,
  msg_key         bytea       NOT NULL,
  payload         bytea       NOT NULL,
  headers         jsonb       NOT NULL DEFAULT '{}',   -- {"name": "value", ...}
  message_id      text        NOT NULL,                -- consumers deduplicate by it
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- Maintained by the relay and the database; writers leave them alone.
  relay_partition smallint    NOT NULL GENERATED ALWAYS AS (get_byte(sha256(msg_key), 0) % 64) STORED,
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text        NOT NULL DEFAULT '',
  next_attempt_at timestamptz,
  parked_at       timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_held ON outbox (relay_partition, msg_key) WHERE attempts > 0;
CREATE INDEX IF NOT EXISTS outbox_parked ON outbox (message_id) WHERE parked_at IS NOT NULL;
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
                        autovacuum_vacuum_cost_delay = 0);

CREATE OR REPLACE FUNCTION sagad_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sagad_outbox', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION sagad_outbox_notify();

-- Which relay holds which partition of which outbox table (shared by every outbox table of
-- this database).
CREATE TABLE IF NOT EXISTS outbox_relays (
  outbox    text        NOT NULL,
  relay_id  text        NOT NULL,
  seen_at   timestamptz NOT NULL,
  PRIMARY KEY (outbox, relay_id)
);
CREATE TABLE IF NOT EXISTS outbox_relay_leases (
  outbox           text        NOT NULL,
  relay_partition  smallint    NOT NULL,
  owner            text        NOT NULL DEFAULT '',
  lease_epoch      bigint      NOT NULL DEFAULT 0,
  lease_expires_at timestamptz NOT NULL DEFAULT '-infinity',
  PRIMARY KEY (outbox, relay_partition)
);
