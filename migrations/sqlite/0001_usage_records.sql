-- One row per request (upserted by request_id as the request goes pending → streaming →
-- completed / failed / cancelled). Times are Unix milliseconds; money is integer nano-USD
-- (10^-9 USD); prices are micro-USD per million tokens. The candidates tried are kept as a
-- JSON array in `attempts` (a request's trace is always read whole, never joined on).
CREATE TABLE IF NOT EXISTS usage_records (
    request_id                TEXT PRIMARY KEY NOT NULL,
    instance                  TEXT NOT NULL,
    started_at_ms             INTEGER NOT NULL,
    finished_at_ms            INTEGER,
    updated_at_ms             INTEGER NOT NULL,
    client_key                TEXT,
    client_format             TEXT NOT NULL,
    upstream_format           TEXT,
    requested_model           TEXT,
    upstream_model            TEXT,
    provider                  TEXT,
    provider_key              TEXT,
    stream                    INTEGER NOT NULL,
    status                    TEXT NOT NULL,
    http_status               INTEGER,
    error_class               TEXT,
    error_message             TEXT,
    ttfb_ms                   INTEGER,
    total_ms                  INTEGER,
    response_end              TEXT NOT NULL,
    input_tokens              INTEGER NOT NULL DEFAULT 0,
    output_tokens             INTEGER NOT NULL DEFAULT 0,
    cache_creation_5m_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_creation_1h_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens         INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens          INTEGER NOT NULL DEFAULT 0,
    cost_input_nusd           INTEGER,
    cost_output_nusd          INTEGER,
    cost_cache_write_5m_nusd  INTEGER,
    cost_cache_write_1h_nusd  INTEGER,
    cost_cache_read_nusd      INTEGER,
    cost_request_nusd         INTEGER,
    cost_total_nusd           INTEGER,
    actual_cost_total_nusd    INTEGER,
    cost_multiplier_ppm       INTEGER,
    price_input               INTEGER,
    price_output              INTEGER,
    price_cache_write_5m      INTEGER,
    price_cache_write_1h      INTEGER,
    price_cache_read          INTEGER,
    price_request_nusd        INTEGER,
    attempt_count             INTEGER NOT NULL DEFAULT 0,
    attempts                  TEXT NOT NULL DEFAULT '[]',
    request_body              TEXT,
    response_body             TEXT
);

CREATE INDEX IF NOT EXISTS usage_records_started ON usage_records (started_at_ms);
CREATE INDEX IF NOT EXISTS usage_records_open ON usage_records (status) WHERE status IN ('pending', 'streaming');
