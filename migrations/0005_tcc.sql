-- TCC transactions (saga.v1.TccService): the initiator begins one, registers each branch
-- before it calls that branch's Try, then commits or rolls back; sagad drives Confirm or Cancel
-- on every branch until each succeeds (coordinator/tcc/). States are saga.v1.TccState numbers:
-- 1 TRYING, 2 CONFIRMING, 3 CONFIRMED, 4 CANCELLING, 5 CANCELLED.
CREATE TABLE tcc_transactions (
  global_id        uuid        PRIMARY KEY,
  state            smallint    NOT NULL CHECK (state BETWEEN 1 AND 5),
  idempotency_key  text        UNIQUE,
  labels           jsonb       NOT NULL DEFAULT '{}',
  create_time      timestamptz NOT NULL DEFAULT now(),
  expire_time      timestamptz NOT NULL,   -- still TRYING then: rolled back
  end_time         timestamptz,
  -- Driving Confirm or Cancel: claimed under a lease with a fencing epoch, like a saga.
  lease_owner      text,
  lease_epoch      bigint      NOT NULL DEFAULT 0,
  lease_expires_at timestamptz,
  rounds           integer     NOT NULL DEFAULT 0,  -- driving rounds that left a branch undone
  next_attempt_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tcc_transactions_due ON tcc_transactions (next_attempt_at) WHERE state IN (2, 4);
CREATE INDEX tcc_transactions_expiring ON tcc_transactions (expire_time) WHERE state = 1;

CREATE TABLE tcc_branches (
  global_id     uuid        NOT NULL REFERENCES tcc_transactions,
  branch_id     text        NOT NULL,
  confirm       bytea       NOT NULL,  -- saga.v1.Endpoint
  cancel        bytea       NOT NULL,  -- saga.v1.Endpoint
  payload       bytea       NOT NULL,
  attempts      integer     NOT NULL DEFAULT 0,
  last_error    text        NOT NULL DEFAULT '',
  done          boolean     NOT NULL DEFAULT false,
  registered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (global_id, branch_id)
);

-- Append-only, like saga_history.
CREATE TABLE tcc_history (
  global_id uuid        NOT NULL,
  seq       bigserial,
  at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  event     text        NOT NULL,
  branch_id text        NOT NULL DEFAULT '',
  detail    text        NOT NULL DEFAULT '',
  PRIMARY KEY (global_id, seq)
);
