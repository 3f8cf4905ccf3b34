-- A call has no outcome while it rings; indexing those NULLs cost every new call an index
-- insert (and a move when the outcome is set). Queries by outcome always name one, which
-- the partial index serves (SQLite uses it for `outcome = ?`).
DROP INDEX calls_org_outcome;
CREATE INDEX calls_org_outcome ON calls(org_id, outcome, started_at DESC) WHERE outcome IS NOT NULL;
