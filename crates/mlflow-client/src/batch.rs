//! Packing params, tags and metrics into as few `log-batch` requests as the API allows.
//!
//! Limits per request (mlflow/utils/validation.py): 1000 metrics, 100 params, 100 tags and 1000
//! entities in all. The OSS server does not really enforce its 1 MB cap, but reverse proxies and
//! Databricks do, so each request is also kept under [`MAX_BATCH_BYTES`] of estimated JSON.

use std::collections::VecDeque;

use crate::{
    api::LogBatch,
    types::{KeyValue, Metric},
};

pub const MAX_METRICS: usize = 1000;
pub const MAX_PARAMS: usize = 100;
pub const MAX_TAGS: usize = 100;
pub const MAX_ENTITIES: usize = 1000;
pub const MAX_BATCH_BYTES: usize = 900_000;

fn kv_size(kv: &KeyValue) -> usize {
    kv.key.len() + kv.value.len() + 32
}

fn metric_size(m: &Metric) -> usize {
    m.key.len() + 80
}

/// Splits everything into batches, each within every limit. Params and tags go first so that a
/// run's identity and name are in place before its (possibly huge) metric history.
pub fn pack(params: Vec<KeyValue>, tags: Vec<KeyValue>, metrics: Vec<Metric>) -> Vec<LogBatch> {
    let mut params: VecDeque<_> = params.into();
    let mut tags: VecDeque<_> = tags.into();
    let mut metrics: VecDeque<_> = metrics.into();
    let mut out = Vec::new();
    while !(params.is_empty() && tags.is_empty() && metrics.is_empty()) {
        let mut b = LogBatch::default();
        let mut bytes = 64;
        let fits = |bytes: usize, add: usize, b: &LogBatch| {
            let n = b.params.len() + b.tags.len() + b.metrics.len();
            n == 0 || (n < MAX_ENTITIES && bytes + add <= MAX_BATCH_BYTES)
        };
        while let Some(p) = params.front() {
            if b.params.len() >= MAX_PARAMS || !fits(bytes, kv_size(p), &b) {
                break;
            }
            bytes += kv_size(p);
            b.params.extend(params.pop_front());
        }
        while let Some(t) = tags.front() {
            if b.tags.len() >= MAX_TAGS || !fits(bytes, kv_size(t), &b) {
                break;
            }
            bytes += kv_size(t);
            b.tags.extend(tags.pop_front());
        }
        while let Some(m) = metrics.front() {
            if b.metrics.len() >= MAX_METRICS || !fits(bytes, metric_size(m), &b) {
                break;
            }
            bytes += metric_size(m);
            b.metrics.extend(metrics.pop_front());
        }
        out.push(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kvs(n: usize, len: usize) -> Vec<KeyValue> {
        (0..n).map(|i| KeyValue::new(format!("k{i}"), "v".repeat(len))).collect()
    }

    fn metrics(n: usize) -> Vec<Metric> {
        (0..n).map(|i| Metric { key: "m".into(), value: i as f64, timestamp: i as i64, step: i as i64 }).collect()
    }

    fn check(batches: &[LogBatch]) {
        for b in batches {
            assert!(b.params.len() <= MAX_PARAMS && b.tags.len() <= MAX_TAGS && b.metrics.len() <= MAX_METRICS);
            assert!(b.params.len() + b.tags.len() + b.metrics.len() <= MAX_ENTITIES);
            assert!(serde_json::to_vec(b).unwrap().len() <= 1_000_000);
        }
    }

    #[test]
    fn packs_within_all_limits_and_loses_nothing() {
        let batches = pack(kvs(150, 10), kvs(300, 10), metrics(100_000));
        check(&batches);
        assert_eq!(batches.iter().map(|b| b.params.len()).sum::<usize>(), 150);
        assert_eq!(batches.iter().map(|b| b.tags.len()).sum::<usize>(), 300);
        let all: Vec<_> = batches.iter().flat_map(|b| b.metrics.iter().map(|m| m.step)).collect();
        assert_eq!(all, (0..100_000).collect::<Vec<i64>>());
        // 100k points need at least 100 requests; the packing must not waste many more.
        assert!(batches.len() <= 102, "{} batches", batches.len());
    }

    #[test]
    fn large_values_respect_the_byte_budget() {
        let batches = pack(kvs(100, 6000), kvs(100, 8000), vec![]);
        check(&batches);
        assert!(batches.len() >= 2);
    }

    #[test]
    fn nothing_to_log_means_no_request() {
        assert!(pack(vec![], vec![], vec![]).is_empty());
    }
}
