-- "Closed now" (the Overview's switch): until this time calls get the after-hours action,
-- whatever the business hours say; NULL when open as the hours say. Who closed it, for the
-- timeline ("closed by sam@example.com until 14:00").
ALTER TABLE orgs ADD COLUMN closed_until TEXT;
ALTER TABLE orgs ADD COLUMN closed_by TEXT;
