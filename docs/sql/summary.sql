-- summary.sql - the per-customer summary of `tessera summary` computed inside
-- PostgreSQL (docs/store.md, "The summary in SQL"), over
--   transactions(customer_id text, ts timestamptz, amount numeric)
-- with lifetimes semantics, daily periods (--freq D):
--   * purchases are rows with amount >= 0 (refunds are kept out, as by
--     default in tessera); all purchases of one day merge into one period;
--   * frequency = periods - 1; recency = last period - first period;
--     T = observation end - first period; both in days / :mult
--     (psql variable; 7 = weeks as days/7, 1 = days);
--   * monetary_value = mean spend of the repeat periods (0 without repeat);
--   * the observation end is the last purchase day in the table.
-- Days are UTC dates. Run: psql -v mult=7 --csv -f docs/sql/summary.sql
WITH purchase_days AS (
  SELECT customer_id,
         (ts AT TIME ZONE 'UTC')::date AS day,
         sum(amount) AS spend
  FROM transactions
  WHERE amount >= 0
  GROUP BY customer_id, (ts AT TIME ZONE 'UTC')::date
),
numbered AS (
  SELECT customer_id, day, spend,
         row_number() OVER (PARTITION BY customer_id ORDER BY day) AS k
  FROM purchase_days
),
obs AS (
  SELECT max(day) AS end_day FROM purchase_days
)
SELECT customer_id,
       (count(*) - 1)::float8 AS frequency,
       (max(day) - min(day))::float8 / :mult AS recency,
       ((SELECT end_day FROM obs) - min(day))::float8 / :mult AS "T",
       coalesce((sum(spend) FILTER (WHERE k > 1) / nullif(count(*) - 1, 0))::float8, 0)
         AS monetary_value
FROM numbered
GROUP BY customer_id
ORDER BY customer_id COLLATE "C";
