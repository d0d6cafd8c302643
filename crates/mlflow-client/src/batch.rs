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

/// Like [`pack`], with `last` in the last batch (one more batch when that one is full). The
/// server sets a batch's tags after its params and metrics, so `last` is stored only once
/// everything before it was: a completion mark that cannot precede the data it vouches for.
pub fn pack_ending_with(
    params: Vec<KeyValue>,
    tags: Vec<KeyValue>,
    metrics: Vec<Metric>,
    last: KeyValue,
) -> Vec<LogBatch> {
    let mut out = pack(params, tags, metrics);
    let has_room = |b: &LogBatch| {
        let bytes = 64
            + b.params.iter().chain(&b.tags).map(kv_size).sum::<usize>()
            + b.metrics.iter().map(metric_size).sum::<usize>();
        b.tags.len() < MAX_TAGS
            && b.params.len() + b.tags.len() + b.metrics.len() < MAX_ENTITIES
            && bytes + kv_size(&last) <= MAX_BATCH_BYTES
    };
    match out.last_mut() {
        Some(b) if has_room(b) => b.tags.push(last),
        _ => out.push(LogBatch { tags: vec![last], ..LogBatch::default() }),
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

    #[test]
    fn the_last_tag_rides_in_the_last_batch_or_one_of_its_own() {
        let done = || KeyValue::new("done", "true");
        let last_tags = |b: &[LogBatch]| b.last().unwrap().tags.iter().map(|t| t.key.clone()).collect::<Vec<_>>();
        let batches = pack_ending_with(kvs(3, 10), kvs(3, 10), metrics(10), done());
        assert_eq!(batches.len(), 1);
        assert_eq!(last_tags(&batches).last().unwrap(), "done");
        // The last batch is full (1000 metrics): the mark gets a batch of its own, after it.
        let batches = pack_ending_with(vec![], vec![], metrics(2000), done());
        check(&batches);
        assert_eq!(batches.len(), 3);
        assert_eq!(last_tags(&batches), ["done"]);
        assert_eq!(pack_ending_with(vec![], vec![], vec![], done()).len(), 1);
    }
}
