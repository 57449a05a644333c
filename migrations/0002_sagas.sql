-- Saga instances, their append-only history, and the outbox that carries their lifecycle
-- events to Kafka.

-- One row per saga. `snapshot` is the whole saga.v1.Saga (steps and their states); the columns
-- beside it are what queries filter on, and the lease.
CREATE TABLE sagas (
  saga_id            uuid        PRIMARY KEY,
  definition_name    text        NOT NULL,
  definition_version integer     NOT NULL,
  state              smallint    NOT NULL,   -- saga.v1.SagaState
  idempotency_key    text        UNIQUE,     -- NULL when the caller gave none
  labels             jsonb       NOT NULL DEFAULT '{}',
  request            bytea       NOT NULL,   -- the StartSagaRequest (payloads), never changed
  snapshot           bytea       NOT NULL,   -- saga.v1.Saga
  error              text        NOT NULL DEFAULT '',
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  ended_at           timestamptz,
  deadline_at        timestamptz,
  history_seq        bigint      NOT NULL,   -- sequence of the last history event
  -- The lease: the instance that drives the saga, until when, and the fencing epoch that its
  -- every write must match.
  owner              text        NOT NULL,
  lease_epoch        bigint      NOT NULL,
  lease_expires_at   timestamptz NOT NULL,
  FOREIGN KEY (definition_name, definition_version)
    REFERENCES saga_definitions (name, version)
);
-- Recovery finds sagas in flight whose lease expired.
CREATE INDEX sagas_in_flight ON sagas (lease_expires_at) WHERE state IN (1, 2);
CREATE INDEX sagas_by_owner ON sagas (owner) WHERE state IN (1, 2);
-- Listing, newest first, by state or definition.
CREATE INDEX sagas_by_created ON sagas (created_at DESC, saga_id DESC);
CREATE INDEX sagas_by_state ON sagas (state, created_at DESC, saga_id DESC);
CREATE INDEX sagas_by_definition ON sagas (definition_name, created_at DESC, saga_id DESC);

-- Everything that happened to a saga, in order: one row per transition (the events one commit
-- made durable), keyed by the sequence of its last event. Rows are only ever inserted.
CREATE TABLE saga_history (
  saga_id  uuid   NOT NULL,
  seq      bigint NOT NULL,
  event    bytea  NOT NULL,   -- saga.v1.SagaTransition
  PRIMARY KEY (saga_id, seq)
);

-- Messages committed with the state change that caused them, relayed to Kafka in order per key.
CREATE TABLE outbox (
  id          bigserial   PRIMARY KEY,
  topic       text        NOT NULL,
  msg_key     bytea       NOT NULL,
  payload     bytea       NOT NULL,
  headers     jsonb       NOT NULL DEFAULT '{}',
  message_id  text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
