-- Saga definitions: every registered version of every name. Rows are never updated or deleted:
-- a definition is immutable once registered, and saga instances pin (name, version).
CREATE TABLE saga_definitions (
  name        text        NOT NULL CHECK (name <> ''),
  version     integer     NOT NULL CHECK (version > 0),
  -- A serialized saga.v1.SagaDefinition, with version and create_time cleared.
  definition  bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);
