-- The Calls page lists newest first (`ORDER BY started_at DESC, id DESC`). An index that
-- ends in `started_at` alone cannot give that order, so for a filter by caller SQLite
-- walked the org's whole history by date instead (a full scan of the org's calls). Each
-- filter's index now ends in the page's exact order, so the first page is read straight
-- off it. The number filter is on `to_number`; the old index on `phone_number_id` served
-- no query.
DROP INDEX calls_org_from;
CREATE INDEX calls_org_from ON calls(org_id, from_number, started_at DESC, id DESC);
DROP INDEX calls_org_number;
CREATE INDEX calls_org_number ON calls(org_id, to_number, started_at DESC, id DESC);
DROP INDEX calls_org_outcome;
CREATE INDEX calls_org_outcome ON calls(org_id, outcome, started_at DESC, id DESC) WHERE outcome IS NOT NULL;
