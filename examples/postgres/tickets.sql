-- The NLP example's tickets as a PostgreSQL table, support.tickets: one
-- column per field of a ticket record, in the records' order, the nested
-- objects (customer, order) as jsonb, plus updated_at, the cursor that
-- places a row in an interval. examples/postgres/run loads it on a primary
-- and extracts it from the standby.
--
--   psql -v interval=2026-11-26 -f examples/postgres/tickets.sql < examples/nlp/data/tickets-2026-11-26.ndjson
--
-- Reads NDJSON on stdin. A line that is not a JSON object (the sample day
-- has one, cut off mid-record) cannot be a row: it is left out and its
-- line number printed. updated_at is the ticket's time of day (ts) on the
-- day :interval (YYYY-MM-DD), so every ticket falls inside that day's
-- interval; on the sample day it equals ts. Run with -1 (one transaction)
-- and ON_ERROR_STOP.
SET TimeZone = 'UTC';

CREATE SCHEMA support;
CREATE TABLE support.tickets (
  id text PRIMARY KEY,
  ts timestamptz NOT NULL,
  channel text NOT NULL,
  customer jsonb NOT NULL,
  "order" jsonb NOT NULL,
  previous_contacts int4 NOT NULL,
  subject text NOT NULL,
  text text,
  updated_at timestamptz NOT NULL
);
CREATE INDEX ON support.tickets (updated_at);

-- The lines as they are: csv with a quote and a delimiter no JSON text
-- holds, so backslashes and quotes arrive untouched.
CREATE TEMP TABLE lines (n bigserial, line text);
\copy lines (line) FROM pstdin WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')

-- PostgreSQL 15 has no "IS JSON": a line that does not parse is NULL.
CREATE FUNCTION pg_temp.json_object_or_null(line text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  j jsonb;
BEGIN
  j := line::jsonb;
  RETURN CASE WHEN jsonb_typeof(j) = 'object' THEN j END;
EXCEPTION WHEN invalid_text_representation THEN
  RETURN NULL;
END $$;

CREATE TEMP TABLE records AS
SELECT n, pg_temp.json_object_or_null(line) AS r FROM lines;

INSERT INTO support.tickets
SELECT r->>'id', (r->>'ts')::timestamptz, r->>'channel', r->'customer', r->'order',
       (r->>'previous_contacts')::int4, r->>'subject', r->>'text',
       :'interval'::date + ((r->>'ts')::timestamptz - date_trunc('day', (r->>'ts')::timestamptz))
FROM records
WHERE r IS NOT NULL
ORDER BY n;

SELECT count(*) AS loaded FROM support.tickets \gset
SELECT count(*) AS skipped, coalesce(string_agg(n::text, ', ' ORDER BY n), 'none') AS skipped_lines
FROM records WHERE r IS NULL \gset
\echo support.tickets: :loaded rows; :skipped line(s) not a JSON object, left out (line :skipped_lines)
