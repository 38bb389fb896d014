-- One row per request (upserted by request_id as the request goes pending → streaming →
-- completed / failed / cancelled). Times are Unix milliseconds; money is integer nano-USD
-- (10^-9 USD); prices are micro-USD per million tokens. The candidates tried are kept as a
-- JSON array in `attempts` (a request's trace is always read whole, never joined on).
CREATE TABLE IF NOT EXISTS usage_records (
    request_id                TEXT PRIMARY KEY NOT NULL,
    instance                  TEXT NOT NULL,
    started_at_ms             BIGINT NOT NULL,
    finished_at_ms            BIGINT,
    updated_at_ms             BIGINT NOT NULL,
    client_key                TEXT,
    client_format             TEXT NOT NULL,
    upstream_format           TEXT,
    requested_model           TEXT,
    upstream_model            TEXT,
    provider                  TEXT,
    provider_key              TEXT,
    stream                    BOOLEAN NOT NULL,
    status                    TEXT NOT NULL,
    http_status               BIGINT,
    error_class               TEXT,
    error_message             TEXT,
    ttfb_ms                   BIGINT,
    total_ms                  BIGINT,
    response_end              TEXT NOT NULL,
    input_tokens              BIGINT NOT NULL DEFAULT 0,
    output_tokens             BIGINT NOT NULL DEFAULT 0,
    cache_creation_5m_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_creation_1h_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens         BIGINT NOT NULL DEFAULT 0,
    reasoning_tokens          BIGINT NOT NULL DEFAULT 0,
    cost_input_nusd           BIGINT,
    cost_output_nusd          BIGINT,
    cost_cache_write_5m_nusd  BIGINT,
    cost_cache_write_1h_nusd  BIGINT,
    cost_cache_read_nusd      BIGINT,
    cost_request_nusd         BIGINT,
    cost_total_nusd           BIGINT,
    actual_cost_total_nusd    BIGINT,
    cost_multiplier_ppm       BIGINT,
    price_input               BIGINT,
    price_output              BIGINT,
    price_cache_write_5m      BIGINT,
    price_cache_write_1h      BIGINT,
    price_cache_read          BIGINT,
    price_request_nusd        BIGINT,
    attempt_count             BIGINT NOT NULL DEFAULT 0,
    attempts                  TEXT NOT NULL DEFAULT '[]',
    request_body              TEXT,
    response_body             TEXT
);

CREATE INDEX IF NOT EXISTS usage_records_started ON usage_records (started_at_ms);
CREATE INDEX IF NOT EXISTS usage_records_open ON usage_records (status) WHERE status IN ('pending', 'streaming');
