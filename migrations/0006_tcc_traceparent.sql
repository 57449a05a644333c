-- The W3C traceparent of the call that began a TCC transaction (or one sagad started), passed to
-- its branches' Confirm and Cancel calls so that one trace covers the transaction.
ALTER TABLE tcc_transactions ADD COLUMN traceparent text NOT NULL DEFAULT '';
