-- tessera 0.1 -> 0.2: scoring functions (immutable, parallel safe).
\echo Use "ALTER EXTENSION tessera UPDATE TO '0.2'" to load this file. \quit

-- P(alive) of a customer with (frequency, recency, T) under a purchase model.
CREATE FUNCTION tessera_p_alive(model json, frequency float8, recency float8, "T" float8)
  RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- E[X(T, T+t] | frequency, recency, T]: expected purchases in the next t periods.
CREATE FUNCTION tessera_expected_purchases(model json, t float8, frequency float8,
  recency float8, "T" float8)
  RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- CLV over `horizon` periods, discounted by `discount` per `step` periods
-- (defaults: 52 weeks, 1 % a month of 30.4375/7 weeks), as tsr_clv_compute.
CREATE FUNCTION tessera_clv(model json, spend_model json, frequency float8, recency float8,
  "T" float8, monetary_value float8, horizon float8 DEFAULT 52, discount float8 DEFAULT 0.01,
  step float8 DEFAULT 4.348214285714286)
  RETURNS float8 AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- Quintile score 1..5 of a value by stored cut points (reverse: smaller is better).
CREATE FUNCTION tessera_rfm_score(value float8, cuts float8[], reverse bool DEFAULT false)
  RETURNS int AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- The RFM cell ('545') from the stored cut points of each score.
CREATE FUNCTION tessera_rfm_cell(recency_gap float8, frequency float8, monetary float8,
  recency_cuts float8[], frequency_cuts float8[], monetary_cuts float8[])
  RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT tessera_rfm_score(recency_gap, recency_cuts, true)::text
      || tessera_rfm_score(frequency, frequency_cuts)::text
      || tessera_rfm_score(monetary, monetary_cuts)::text $$;
-- The cluster of a customer by a stored cluster model (features by name).
CREATE FUNCTION tessera_cluster(model json, names text[], "values" float8[])
  RETURNS int AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
