-- tessera 0.1: the per-customer summary and the model fits as aggregates.
\echo Use "CREATE EXTENSION tessera" to load this file. \quit

CREATE TYPE tessera_summary_row AS (
  frequency double precision, recency double precision, "T" double precision,
  monetary_value double precision);
CREATE TYPE tessera_summary_split_row AS (
  frequency_cal double precision, recency_cal double precision, "T_cal" double precision,
  monetary_value_cal double precision, frequency_holdout double precision,
  monetary_value_holdout double precision, duration_holdout double precision);

CREATE FUNCTION tessera_summary_sfunc(internal, timestamptz, numeric, timestamptz, float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_sfunc(internal, timestamptz, float8, timestamptz, float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_cal_sfunc(internal, timestamptz, numeric, timestamptz, float8, timestamptz)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_cal_sfunc(internal, timestamptz, float8, timestamptz, float8, timestamptz)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_combine(internal, internal)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_serial(internal)
  RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_deserial(bytea, internal)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_final(internal)
  RETURNS tessera_summary_row AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION tessera_summary_cal_final(internal)
  RETURNS tessera_summary_split_row AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;

-- tessera_summary(ts, amount, period_end, period_days): one customer's
-- (frequency, recency, T, monetary_value) with the semantics of
-- `tessera summary --freq D --freq-multiplier period_days --end period_end`.
CREATE AGGREGATE tessera_summary(timestamptz, numeric, timestamptz, float8) (
  SFUNC = tessera_summary_sfunc, STYPE = internal, FINALFUNC = tessera_summary_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
CREATE AGGREGATE tessera_summary(timestamptz, float8, timestamptz, float8) (
  SFUNC = tessera_summary_sfunc, STYPE = internal, FINALFUNC = tessera_summary_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
-- The calibration / holdout variant (`--calibration-end`).
CREATE AGGREGATE tessera_summary(timestamptz, numeric, timestamptz, float8, timestamptz) (
  SFUNC = tessera_summary_cal_sfunc, STYPE = internal, FINALFUNC = tessera_summary_cal_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
CREATE AGGREGATE tessera_summary(timestamptz, float8, timestamptz, float8, timestamptz) (
  SFUNC = tessera_summary_cal_sfunc, STYPE = internal, FINALFUNC = tessera_summary_cal_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);

CREATE FUNCTION tessera_fit_sfunc(internal, text, float8, float8, float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_fit_sfunc(internal, text, float8, float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_fit_combine(internal, internal)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_fit_serial(internal)
  RETURNS bytea AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION tessera_fit_deserial(bytea, internal)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION tessera_fit_final(internal)
  RETURNS json AS 'MODULE_PATHNAME' LANGUAGE C PARALLEL SAFE;

-- tessera_fit('bgnbd' | 'mbgnbd' | 'pnbd' | 'bgbb', frequency, recency, T):
-- the model JSON of `tessera fit`; the state is the histogram of distinct
-- (frequency, recency, T) patterns, merged across workers and shards.
CREATE AGGREGATE tessera_fit(text, float8, float8, float8) (
  SFUNC = tessera_fit_sfunc, STYPE = internal, FINALFUNC = tessera_fit_final,
  COMBINEFUNC = tessera_fit_combine, SERIALFUNC = tessera_fit_serial,
  DESERIALFUNC = tessera_fit_deserial, PARALLEL = SAFE);
-- tessera_fit('gg', frequency, monetary_value): Gamma-Gamma on repeat customers.
CREATE AGGREGATE tessera_fit(text, float8, float8) (
  SFUNC = tessera_fit_sfunc, STYPE = internal, FINALFUNC = tessera_fit_final,
  COMBINEFUNC = tessera_fit_combine, SERIALFUNC = tessera_fit_serial,
  DESERIALFUNC = tessera_fit_deserial, PARALLEL = SAFE);
