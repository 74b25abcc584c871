//! Column statistics for the planner (`ANALYZE`): per column the NULL
//! count, an estimate of the distinct values, the most common values with
//! their counts, and an equi-depth histogram of the others. They come from
//! a fixed-size sample of the table's rows (all rows up to that size),
//! drawn with a seeded generator, so one table's statistics — and the plans
//! made from them — are the same on every run.
//!
//! Statistics are derived data: a table's are installed by
//! [`crate::Store::analyze`] and written with the table at checkpoints
//! (RFC 0001 §4.7), never logged; a crash loses at most the newest ones.

use std::cmp::Ordering;

use cairn_core::Value;

/// Rows sampled per table (PostgreSQL samples 300 × its default target).
pub const SAMPLE_ROWS: usize = 30_000;
/// Most common values kept per column.
pub const MCV_MAX: usize = 32;
/// Histogram buckets per column (bounds = buckets + 1).
pub const HISTOGRAM_BUCKETS: usize = 64;
/// Values longer than this (text or blob bytes) are counted but kept out of
/// the MCV list and the histogram.
pub const VALUE_BYTES_MAX: usize = 256;

/// One column's statistics. Counts are scaled to the whole table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStats {
    /// Rows whose value is NULL.
    pub nulls: u64,
    /// Estimated number of distinct non-NULL values (at least 1 when any
    /// value is not NULL).
    pub distinct: u64,
    /// The most common non-NULL values and their estimated row counts,
    /// most common first.
    pub mcv: Vec<(Value, u64)>,
    /// Ascending bounds of equal-count buckets over the non-NULL values not
    /// in `mcv` (empty when there are too few).
    pub histogram: Vec<Value>,
}

/// A table's statistics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableStats {
    /// Rows when the statistics were taken.
    pub rows: u64,
    /// Rows the sample held (`rows` when the table was read whole).
    pub sampled: u64,
    /// One per column, in schema order (fewer than the schema's columns
    /// when columns were added since).
    pub columns: Vec<ColumnStats>,
}

/// Keeps a uniform sample of the rows it is offered (reservoir sampling,
/// Algorithm R, with a seeded SplitMix64).
/// Vector values are sampled as a placeholder: a vector column gets its
/// NULL count and nothing else.
pub struct Sampler {
    rows: Vec<Vec<Value>>,
    seen: u64,
    state: u64,
    vector_columns: Vec<bool>,
}

impl Sampler {
    /// A sampler seeded with `seed`; `vector_columns[c]` marks the columns
    /// whose values are vectors.
    pub fn new(seed: u64, vector_columns: Vec<bool>) -> Sampler {
        Sampler {
            rows: Vec::new(),
            seen: 0,
            state: seed,
            vector_columns,
        }
    }

    fn keep(&self, row: &[Value]) -> Vec<Value> {
        (row.iter().enumerate())
            .map(|(c, v)| match self.vector_columns.get(c) {
                Some(true) if !v.is_null() => Value::Boolean(true),
                _ => v.clone(),
            })
            .collect()
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Offers one row.
    pub fn offer(&mut self, row: &[Value]) {
        self.seen += 1;
        if self.rows.len() < SAMPLE_ROWS {
            let kept = self.keep(row);
            self.rows.push(kept);
            return;
        }
        let j = self.next() % self.seen;
        if (j as usize) < self.rows.len() {
            let kept = self.keep(row);
            self.rows[j as usize] = kept;
        }
    }

    /// The statistics of `columns` columns from the sample.
    pub fn finish(self, columns: usize) -> TableStats {
        let n = self.rows.len() as u64;
        let stats = (0..columns)
            .map(|c| {
                let values: Vec<&Value> = self.rows.iter().filter_map(|r| r.get(c)).collect();
                let stats = column_stats(values, n, self.seen);
                if self.vector_columns.get(c) == Some(&true) {
                    ColumnStats {
                        nulls: stats.nulls,
                        ..ColumnStats::default()
                    }
                } else {
                    stats
                }
            })
            .collect();
        TableStats {
            rows: self.seen,
            sampled: n,
            columns: stats,
        }
    }
}

fn too_wide(v: &Value) -> bool {
    match v {
        Value::Text(s) | Value::Json(s) => s.len() > VALUE_BYTES_MAX,
        Value::Blob(b) => b.len() > VALUE_BYTES_MAX,
        v => v.is_vector(),
    }
}

/// One column's statistics from its `sample` values (`n` sampled rows of
/// `total`; rows shorter than the column count as NULL).
fn column_stats(mut sample: Vec<&Value>, n: u64, total: u64) -> ColumnStats {
    let scale = |k: u64| {
        if n == 0 {
            0
        } else {
            ((k as f64) * (total as f64) / (n as f64)).round() as u64
        }
    };
    let nulls_in_sample = n - sample.iter().filter(|v| !v.is_null()).count() as u64;
    sample.retain(|v| !v.is_null());
    sample.sort_by(|a, b| a.total_cmp(b));
    // Runs of equal values: (value, count).
    let mut runs: Vec<(&Value, u64)> = Vec::new();
    for v in &sample {
        match runs.last_mut() {
            Some((last, k)) if last.total_cmp(v) == Ordering::Equal => *k += 1,
            _ => runs.push((v, 1)),
        }
    }
    let d = runs.len() as u64;
    let f1 = runs.iter().filter(|(_, k)| *k == 1).count() as u64;
    let nonnull = sample.len() as u64;
    let distinct = estimate_distinct(nonnull, d, f1, scale(nonnull));
    // MCVs: values seen more than once and, unless every distinct value
    // fits in the list, more often than average.
    let all_fit = runs.len() <= MCV_MAX;
    let mut common: Vec<(&Value, u64)> = runs
        .iter()
        .filter(|(v, k)| {
            *k > 1 && !too_wide(v) && (all_fit || (*k as f64) * (d as f64) > nonnull as f64)
        })
        .copied()
        .collect();
    common.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.total_cmp(b.0)));
    common.truncate(MCV_MAX);
    // A value every sampled row has is common even when it is the only one.
    if let (1, Some(&only)) = (d, runs.first()) {
        if nonnull > 1 && common.is_empty() && !too_wide(only.0) {
            common.push(only);
        }
    }
    let is_common = |v: &Value| {
        common
            .iter()
            .any(|(c, _)| c.total_cmp(v) == Ordering::Equal)
    };
    let rest: Vec<&Value> = sample
        .iter()
        .copied()
        .filter(|v| !too_wide(v) && !is_common(v))
        .collect();
    ColumnStats {
        nulls: scale(nulls_in_sample),
        distinct,
        mcv: common
            .iter()
            .map(|(v, k)| ((*v).clone(), scale(*k)))
            .collect(),
        histogram: histogram(&rest),
    }
}

/// Distinct values in a column of `total` non-NULL rows whose sample of
/// `n` values held `d` distinct ones, `f1` of them once (Haas and Stokes'
/// Duj1 estimator; exact when the sample is the whole column).
fn estimate_distinct(n: u64, d: u64, f1: u64, total: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    if total <= n || f1 == 0 {
        return d;
    }
    let (n, d, f1, total) = (n as f64, d as f64, f1 as f64, total as f64);
    let est = n * d / (n - f1 + f1 * n / total);
    est.round().clamp(d, total) as u64
}

/// Equal-count bucket bounds over sorted values.
fn histogram(sorted: &[&Value]) -> Vec<Value> {
    if sorted.len() < 2 {
        return Vec::new();
    }
    let buckets = HISTOGRAM_BUCKETS.min(sorted.len() - 1);
    (0..=buckets)
        .filter_map(|i| sorted.get(i * (sorted.len() - 1) / buckets))
        .map(|v| (*v).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_of(values: Vec<Value>) -> ColumnStats {
        let mut s = Sampler::new(1, vec![false]);
        for v in values {
            s.offer(&[v]);
        }
        s.finish(1).columns.remove(0)
    }

    #[test]
    fn counts_nulls_distinct_and_common_values() {
        let mut values = vec![Value::Null; 10];
        values.extend((0..50).map(|i| Value::Integer(i % 5)));
        values.extend((100..140).map(Value::Integer));
        let c = stats_of(values);
        assert_eq!(c.nulls, 10);
        assert_eq!(c.distinct, 45);
        assert_eq!(c.mcv.len(), 5);
        assert!(c.mcv.iter().all(|(_, k)| *k == 10));
        assert_eq!(c.histogram.first(), Some(&Value::Integer(100)));
        assert_eq!(c.histogram.last(), Some(&Value::Integer(139)));
    }

    #[test]
    fn a_unique_column_has_no_common_values() {
        let c = stats_of((0..1000).map(Value::Integer).collect());
        assert_eq!(c.distinct, 1000);
        assert!(c.mcv.is_empty());
        assert_eq!(c.histogram.len(), HISTOGRAM_BUCKETS + 1);
    }

    #[test]
    fn a_sample_scales_counts_and_estimates_distinct_values() {
        // 100k rows, 1,000 distinct values: the sample holds 30k.
        let mut s = Sampler::new(7, vec![false, false]);
        for i in 0..100_000i64 {
            s.offer(&[Value::Integer(i % 1000), Value::Integer(i)]);
        }
        let t = s.finish(2);
        assert_eq!(t.rows, 100_000);
        assert_eq!(t.sampled, SAMPLE_ROWS as u64);
        assert_eq!(t.columns[0].distinct, 1000);
        let unique = t.columns[1].distinct;
        assert!(unique > 50_000, "estimated {unique} distinct of 100,000");
    }

    #[test]
    fn wide_values_stay_out_of_lists() {
        let wide = Value::text(&"x".repeat(VALUE_BYTES_MAX + 1));
        let c = stats_of(vec![wide.clone(), wide, Value::Integer(1)]);
        assert_eq!(c.distinct, 2);
        assert!(c.mcv.is_empty());
    }
}
