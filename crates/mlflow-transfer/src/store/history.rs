//! Metric histories read in bulk from a tracking server.
//!
//! One `get-history` request per run and metric key is most of what an export asks of a
//! server. The server's bulk route answers one key for up to 100 runs at once, so the runs of a
//! plan are read in groups: when the first run of a group needs its histories, every key of
//! the whole group is fetched, and the others find theirs waiting.
//!
//! The bulk answer stops silently at 25,000 points. An answer that long is trusted only for
//! the runs before its last one (it is sorted by run id); the rest are asked for again, and a
//! single run that fills an answer alone is paged with the per-key call. Each history must
//! also hold the run's latest point as the search reported it; one that does not is read again
//! per key. A server without the route (Databricks) is read per key from then on.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use futures::{stream, StreamExt, TryStreamExt};
use mlflow_client::{
    api::{HISTORY_BULK_POINTS, HISTORY_BULK_RUNS},
    types::Metric,
    MlflowClient,
};

use crate::{model::MetricPoint, Result};

/// Histories fetched at once.
const CONCURRENCY: usize = 8;
/// Points a group is expected to hold at most (about 10 MB in memory), estimated from the
/// latest step of each key.
const GROUP_POINTS: u64 = 250_000;
/// Groups kept in memory; a run whose group was dropped is read per key.
const LIVE_GROUPS: usize = 2;

type Histories = BTreeMap<String, Vec<MetricPoint>>;

struct Group {
    /// The runs of the group, so that dropping it touches only its own entries of
    /// [`Groups::of_run`] (not every run of the plan: that was quadratic in runs).
    members: Vec<String>,
    /// Metric key to the runs of the group that have it, each with its latest point.
    keys: BTreeMap<String, Vec<(String, Metric)>>,
    fetched: tokio::sync::OnceCell<Mutex<HashMap<String, Histories>>>,
}

#[derive(Default)]
struct Groups {
    of_run: HashMap<String, Arc<Group>>,
    live: VecDeque<Arc<Group>>,
}

pub(crate) struct HistoryReader {
    client: MlflowClient,
    bulk_route: AtomicBool,
    groups: Mutex<Groups>,
}

impl HistoryReader {
    pub(crate) fn new(client: MlflowClient) -> Self {
        Self { client, bulk_route: AtomicBool::new(true), groups: Mutex::default() }
    }

    /// Groups the runs of a plan (id and latest metrics of each), in the order they will most
    /// likely be moved.
    pub(crate) fn plan(&self, runs: &[(&str, &[Metric])]) {
        let mut groups = self.groups.lock().expect("poisoned");
        let mut current: Vec<(&str, &[Metric])> = Vec::new();
        let mut points = 0u64;
        let mut close = |members: &mut Vec<(&str, &[Metric])>| {
            if members.is_empty() {
                return;
            }
            let mut keys: BTreeMap<String, Vec<(String, Metric)>> = BTreeMap::new();
            for (id, metrics) in members.iter() {
                for m in *metrics {
                    keys.entry(m.key.clone()).or_default().push((id.to_string(), m.clone()));
                }
            }
            let ids: Vec<String> = members.drain(..).map(|(id, _)| id.to_string()).collect();
            let group = Arc::new(Group { members: ids, keys, fetched: tokio::sync::OnceCell::new() });
            for id in &group.members {
                groups.of_run.insert(id.clone(), group.clone());
            }
        };
        for run in runs.iter().filter(|(_, metrics)| !metrics.is_empty()) {
            let estimate: u64 = run.1.iter().map(|m| u64::try_from(m.step).unwrap_or(0) + 1).sum();
            if !current.is_empty() && (points + estimate > GROUP_POINTS || current.len() == HISTORY_BULK_RUNS) {
                close(&mut current);
                points = 0;
            }
            points += estimate;
            current.push(*run);
        }
        close(&mut current);
    }

    /// The histories of `run_id` fetched with its group, or `None` when the run is in no
    /// group (or its group was dropped), the server lacks the bulk route, or a history failed
    /// its check: the caller then reads per key.
    pub(crate) async fn take(&self, run_id: &str) -> Result<Option<Histories>> {
        if !self.bulk_route.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let Some(group) = self.groups.lock().expect("poisoned").of_run.remove(run_id) else {
            return Ok(None);
        };
        let fetched = group
            .fetched
            .get_or_try_init(|| async {
                self.keep_live(&group);
                self.fetch(&group).await.map(Mutex::new)
            })
            .await;
        match fetched {
            Ok(all) => Ok(all.lock().expect("poisoned").remove(run_id)),
            Err(e) if e.is_not_found() || matches!(e.status(), Some(400..=499)) && !e.is_transient() => {
                tracing::info!(error = %e, "no bulk metric history route: reading histories per key");
                self.bulk_route.store(false, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Keeps `group` in memory and drops the oldest beyond [`LIVE_GROUPS`]. Dropping a group
    /// removes only its members' entries (linear in the group, not in the plan's runs).
    fn keep_live(&self, group: &Arc<Group>) {
        let mut groups = self.groups.lock().expect("poisoned");
        groups.live.push_back(group.clone());
        while groups.live.len() > LIVE_GROUPS {
            if let Some(old) = groups.live.pop_front() {
                for id in &old.members {
                    if groups.of_run.get(id).is_some_and(|g| Arc::ptr_eq(g, &old)) {
                        groups.of_run.remove(id);
                    }
                }
                if let Some(m) = old.fetched.get() {
                    m.lock().expect("poisoned").clear();
                }
            }
        }
    }

    async fn fetch(&self, group: &Group) -> mlflow_client::Result<HashMap<String, Histories>> {
        let keys: Vec<(String, Vec<(String, Metric)>)> = group.keys.clone().into_iter().collect();
        let per_key: Vec<(String, HashMap<String, Vec<MetricPoint>>)> = stream::iter(keys)
            .map(|(key, runs)| async move {
                let histories = self.fetch_key(&key, &runs).await?;
                Ok((key, histories))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut out: HashMap<String, Histories> = HashMap::new();
        for (key, runs) in per_key {
            for (run_id, points) in runs {
                out.entry(run_id).or_default().insert(key.clone(), points);
            }
        }
        Ok(out)
    }

    /// One key's histories for `runs`; a run whose history misses its latest point is left out.
    async fn fetch_key(
        &self,
        key: &str,
        runs: &[(String, Metric)],
    ) -> mlflow_client::Result<HashMap<String, Vec<MetricPoint>>> {
        let latest: HashMap<&str, &Metric> = runs.iter().map(|(id, m)| (id.as_str(), m)).collect();
        let mut pending: VecDeque<String> = {
            let mut ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
            ids.sort();
            ids.into()
        };
        let mut out: HashMap<String, Vec<MetricPoint>> = HashMap::new();
        while !pending.is_empty() {
            let chunk: Vec<String> = pending.drain(..pending.len().min(HISTORY_BULK_RUNS)).collect();
            let points = self.client.get_metric_history_bulk(&chunk, key).await?;
            let cut = (points.len() >= HISTORY_BULK_POINTS).then(|| points.last().map(|p| p.run_id.clone())).flatten();
            let mut got: HashMap<String, Vec<MetricPoint>> = HashMap::new();
            for p in points {
                got.entry(p.run_id).or_default().push(MetricPoint::from(&p.metric));
            }
            let mut again = Vec::new();
            for id in chunk {
                let complete = cut.as_ref().is_none_or(|last| id < *last);
                match (complete, got.remove(&id)) {
                    (true, Some(history)) => {
                        out.insert(id, history);
                    }
                    (true, None) => {}
                    (false, Some(partial)) if partial.len() >= HISTORY_BULK_POINTS => {
                        // This run alone filled the answer: asking again cannot help; page it.
                        let history = self.client.get_metric_history(&id, key).await?;
                        out.insert(id, history.iter().map(MetricPoint::from).collect());
                    }
                    (false, _) => again.push(id),
                }
            }
            for id in again.into_iter().rev() {
                pending.push_front(id);
            }
        }
        out.retain(|id, history| {
            let ok = latest.get(id.as_str()).is_some_and(|m| history.iter().any(|p| same_point(p, m)));
            if !ok {
                tracing::warn!(run = %id, key, "bulk history lacks the latest point: reading it per key");
            }
            ok
        });
        Ok(out)
    }
}

fn same_point(p: &MetricPoint, m: &Metric) -> bool {
    p.timestamp == m.timestamp && p.step == m.step && (p.value == m.value || p.value.is_nan() && m.value.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000,000 runs make 10,000 groups; dropping each in turn used to scan every run of the
    /// plan (10^10 visits), now it visits its own 100 members.
    #[test]
    fn dropping_groups_of_a_million_runs_touches_only_their_members() {
        const RUNS: usize = 1_000_000;
        let config = mlflow_client::ClientConfig::resolve("http://127.0.0.1:9", None, &|_| None).unwrap();
        let reader = HistoryReader::new(MlflowClient::new(&config).unwrap());
        let ids: Vec<String> = (0..RUNS).map(|i| format!("run{i:07}")).collect();
        let metric = [Metric { key: "loss".into(), value: 0.5, timestamp: 1, step: 0 }];
        let runs: Vec<(&str, &[Metric])> = ids.iter().map(|id| (id.as_str(), &metric[..])).collect();
        reader.plan(&runs);
        let order: Vec<Arc<Group>> = {
            let groups = reader.groups.lock().unwrap();
            assert_eq!(groups.of_run.len(), RUNS);
            let mut seen: Vec<Arc<Group>> = Vec::new();
            for id in &ids {
                let g = &groups.of_run[id];
                if !seen.last().is_some_and(|s| Arc::ptr_eq(s, g)) {
                    seen.push(g.clone());
                }
            }
            seen
        };
        assert_eq!(order.len(), RUNS / HISTORY_BULK_RUNS);
        crate::complexity::linear("dropping 10,000 history groups", move || {
            for (n, group) in order.iter().enumerate() {
                reader.keep_live(group);
                let groups = reader.groups.lock().unwrap();
                // Every run of a dropped group is gone; the live groups' and later ones' stay.
                let dropped = (n + 1).saturating_sub(LIVE_GROUPS) * HISTORY_BULK_RUNS;
                assert_eq!(groups.of_run.len(), RUNS - dropped, "after group {n}");
            }
            let groups = reader.groups.lock().unwrap();
            let live: Vec<&String> = groups.live.iter().flat_map(|g| g.members.iter()).collect();
            assert_eq!(live.len(), LIVE_GROUPS * HISTORY_BULK_RUNS);
            assert!(live.iter().all(|id| groups.of_run.contains_key(*id)));
        });
    }
}
