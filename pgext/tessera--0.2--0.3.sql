-- tessera 0.2 -> 0.3: calendar periods in tessera_summary.
\echo Use "ALTER EXTENSION tessera UPDATE TO '0.3'" to load this file. \quit

-- tessera_summary(ts, amount, period_end, period, multiplier[, calibration_end]):
-- the summary with `tessera summary --freq PERIOD --freq-multiplier MULTIPLIER`:
-- period 'D' (UTC days), 'W' (weeks Monday..Sunday) or 'M' (calendar months);
-- purchases merged per period, recency and T in periods / multiplier.
-- The period is a "char" (not text): a text constant would keep the
-- aggregate off postgres_fdw shards (no collatable constants are shipped).
CREATE FUNCTION tessera_summary_period_sfunc(internal, timestamptz, numeric, timestamptz, "char", float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_period_sfunc(internal, timestamptz, float8, timestamptz, "char", float8)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_period_cal_sfunc(internal, timestamptz, numeric, timestamptz, "char", float8, timestamptz)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION tessera_summary_period_cal_sfunc(internal, timestamptz, float8, timestamptz, "char", float8, timestamptz)
  RETURNS internal AS 'MODULE_PATHNAME' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE tessera_summary(timestamptz, numeric, timestamptz, "char", float8) (
  SFUNC = tessera_summary_period_sfunc, STYPE = internal, FINALFUNC = tessera_summary_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
CREATE AGGREGATE tessera_summary(timestamptz, float8, timestamptz, "char", float8) (
  SFUNC = tessera_summary_period_sfunc, STYPE = internal, FINALFUNC = tessera_summary_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
CREATE AGGREGATE tessera_summary(timestamptz, numeric, timestamptz, "char", float8, timestamptz) (
  SFUNC = tessera_summary_period_cal_sfunc, STYPE = internal, FINALFUNC = tessera_summary_cal_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
CREATE AGGREGATE tessera_summary(timestamptz, float8, timestamptz, "char", float8, timestamptz) (
  SFUNC = tessera_summary_period_cal_sfunc, STYPE = internal, FINALFUNC = tessera_summary_cal_final,
  COMBINEFUNC = tessera_summary_combine, SERIALFUNC = tessera_summary_serial,
  DESERIALFUNC = tessera_summary_deserial, PARALLEL = SAFE);
