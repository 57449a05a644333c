-- What the relay needs of an outbox table: a partition per key, delivery attempts and parking,
-- a wake-up on insert, and the leases under which relay instances share the partitions.
-- outbox/sql/service_outbox.sql ships the same shape for services' own databases.

-- hash(key) partitions: every row of one key lands in the same partition, and one relay at a
-- time owns a partition, so several relays never reorder a key. Computed by the database, so
-- no writer can get it wrong.
ALTER TABLE outbox
  ADD COLUMN relay_partition smallint NOT NULL
    GENERATED ALWAYS AS (get_byte(sha256(msg_key), 0) % 64) STORED,
  -- Rejected deliveries. A row with attempts > 0 holds back the later rows of its key until it
  -- is delivered; after the relay's limit it is parked (parked_at) until an operator requeues it.
  ADD COLUMN attempts        integer     NOT NULL DEFAULT 0,
  ADD COLUMN last_error      text        NOT NULL DEFAULT '',
  ADD COLUMN next_attempt_at timestamptz,
  ADD COLUMN parked_at       timestamptz;

-- Keys held back by a failed or parked row (few, and found without scanning the backlog).
CREATE INDEX outbox_held ON outbox (relay_partition, msg_key) WHERE attempts > 0;
-- AdminService.ListParked and RequeueParked.
CREATE INDEX outbox_parked ON outbox (message_id) WHERE parked_at IS NOT NULL;

-- Delivered rows are deleted, not updated: the table stays small when autovacuum keeps up, so
-- it is asked to run after every 10,000 deletions whatever the table's size.
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
                        autovacuum_vacuum_cost_delay = 0);

-- Wakes the relay (LISTEN sagad_outbox) once per inserting statement; the payload names the table.
CREATE FUNCTION sagad_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('sagad_outbox', TG_TABLE_NAME);
  RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION sagad_outbox_notify();

-- Relay instances alive, per outbox table: each shares the partitions with the others seen
-- within the lease TTL.
CREATE TABLE outbox_relays (
  outbox    text        NOT NULL,
  relay_id  text        NOT NULL,
  seen_at   timestamptz NOT NULL,
  PRIMARY KEY (outbox, relay_id)
);

-- Who relays which partition of which outbox table, until when, under which fencing epoch.
CREATE TABLE outbox_relay_leases (
  outbox           text        NOT NULL,
  relay_partition  smallint    NOT NULL,
  owner            text        NOT NULL DEFAULT '',
  lease_epoch      bigint      NOT NULL DEFAULT 0,
  lease_expires_at timestamptz NOT NULL DEFAULT '-infinity',
  PRIMARY KEY (outbox, relay_partition)
);
