-- The country a business's phone numbers are read in when typed without a country code
-- (`415 555 0123` in the US, `020 7946 0958` in the UK): a two-letter ISO 3166 code.
ALTER TABLE orgs ADD COLUMN country TEXT NOT NULL DEFAULT 'US'
    CHECK (length(country) = 2);
