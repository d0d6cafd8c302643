//! Which experiments and runs a job covers, as the Python tool's options describe them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::{
    model::{version_number, ModelVersionRecord},
    Error, Result,
};

/// `--experiments`: `all`, `prefix*`, a comma list of names or ids, or a `.txt` file of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExperimentSpec {
    All,
    Prefix(String),
    List(Vec<String>),
}

impl ExperimentSpec {
    pub fn parse(arg: &str) -> Result<Self> {
        let arg = arg.trim();
        if arg.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        if let Some(prefix) = arg.strip_suffix('*') {
            return Ok(Self::Prefix(prefix.to_string()));
        }
        if arg.ends_with(".txt") {
            let text = std::fs::read_to_string(arg).map_err(|e| Error::io(arg, e))?;
            let names: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
            if names.is_empty() {
                return Err(Error::Input(format!("{arg}: lists no experiments")));
            }
            return Ok(Self::List(names));
        }
        let names: Vec<String> = arg.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        if names.is_empty() {
            return Err(Error::Input("--experiments is empty".into()));
        }
        Ok(Self::List(names))
    }
}

/// `--experiment-rename-file` / `--model-rename-file`: CSV lines `old_prefix,new_prefix`, as the
/// Python tool reads them; the first matching prefix of a name is replaced.
#[derive(Debug, Clone, Default)]
pub struct Renames(Vec<(String, String)>);

impl Renames {
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let pairs = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| {
                l.split_once(',').map(|(a, b)| (a.trim().to_string(), b.trim().to_string())).ok_or_else(|| {
                    Error::Input(format!("{}:{}: expected `old_prefix,new_prefix`", path.display(), i + 1))
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self(pairs))
    }

    /// No renames when no file is given.
    pub fn from_option(path: Option<&std::path::Path>) -> Result<Self> {
        path.map_or_else(|| Ok(Self::default()), Self::read)
    }

    pub fn apply(&self, name: &str) -> String {
        self.0
            .iter()
            .find_map(|(old, new)| name.strip_prefix(old.as_str()).map(|rest| format!("{new}{rest}")))
            .unwrap_or_else(|| name.to_string())
    }
}

/// `--principal-rename-file`: CSV lines `source_principal,destination_principal` (user email,
/// group name or service principal application id), matched whole; an empty destination drops
/// the principal's grants. Unlisted principals keep their name.
#[derive(Debug, Clone, Default)]
pub struct PrincipalMap(BTreeMap<String, String>);

impl PrincipalMap {
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut map = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (from, to) = line.split_once(',').filter(|(from, _)| !from.trim().is_empty()).ok_or_else(|| {
                Error::Input(format!("{}:{}: expected `source_principal,destination_principal`", path.display(), i + 1))
            })?;
            if map.insert(from.trim().to_string(), to.trim().to_string()).is_some() {
                return Err(Error::Input(format!("{}:{}: {} is mapped twice", path.display(), i + 1, from.trim())));
            }
        }
        Ok(Self(map))
    }

    /// The principal's name at the destination; `None` when its grants are dropped.
    pub fn apply<'a>(&'a self, principal: &'a str) -> Option<&'a str> {
        match self.0.get(principal) {
            Some(to) if to.is_empty() => None,
            Some(to) => Some(to),
            None => Some(principal),
        }
    }
}

/// `--stages`, `--versions`, `--export-latest-versions`.
#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    pub stages: Option<Vec<String>>,
    pub versions: Option<Vec<String>>,
    /// Only the latest version of each stage.
    pub latest_only: bool,
    /// Read the model's access control list too (`--export-permissions`,
    /// `--copy-permissions`): a Databricks workspace's only.
    pub permissions: bool,
}

impl VersionFilter {
    pub fn apply(&self, versions: Vec<ModelVersionRecord>) -> Vec<ModelVersionRecord> {
        let stage = |v: &ModelVersionRecord| v.current_stage.clone().unwrap_or_else(|| "None".into());
        let mut kept: Vec<ModelVersionRecord> = versions
            .into_iter()
            .filter(|v| self.versions.as_ref().is_none_or(|want| want.contains(&v.version)))
            .filter(|v| self.stages.as_ref().is_none_or(|want| want.iter().any(|s| s.eq_ignore_ascii_case(&stage(v)))))
            .collect();
        if self.latest_only {
            let mut latest: BTreeMap<String, u64> = BTreeMap::new();
            for v in &kept {
                let n = version_number(&v.version);
                latest.entry(stage(v).to_ascii_lowercase()).and_modify(|m| *m = (*m).max(n)).or_insert(n);
            }
            kept.retain(|v| latest.get(&stage(v).to_ascii_lowercase()) == Some(&version_number(&v.version)));
        }
        kept
    }
}

/// Which runs of an experiment to take.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs started after this time (epoch ms, exclusive), `--run-start-time`.
    pub started_after: Option<i64>,
    /// Only runs started before this time (epoch ms, exclusive), `--runs-until`.
    pub started_before: Option<i64>,
    /// Also deleted runs, `--export-deleted-runs`.
    pub include_deleted: bool,
    /// Only these runs, `--run-ids`.
    pub run_ids: Option<Vec<String>>,
    /// With `run_ids`: also their ancestors and descendants in the experiment.
    pub check_nested_runs: bool,
}

impl RunFilter {
    /// The `runs/search` filter for the time window.
    pub fn search_filter(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.started_after {
            parts.push(format!("attributes.start_time > {t}"));
        }
        if let Some(t) = self.started_before {
            parts.push(format!("attributes.start_time < {t}"));
        }
        parts.join(" AND ")
    }

    /// Applies `run_ids` (and the nested closure) to the runs found, given as (id, parent).
    pub fn select(&self, runs: &[(String, Option<String>)]) -> BTreeSet<String> {
        let Some(wanted) = &self.run_ids else {
            return runs.iter().map(|(id, _)| id.clone()).collect();
        };
        let known: HashMap<&str, Option<&str>> = runs.iter().map(|(id, p)| (id.as_str(), p.as_deref())).collect();
        let mut out: BTreeSet<String> = wanted.iter().filter(|id| known.contains_key(id.as_str())).cloned().collect();
        if self.check_nested_runs {
            // Ancestors: follow parent links up.
            for id in out.clone() {
                let mut cur = known.get(id.as_str()).copied().flatten();
                while let Some(p) = cur.filter(|p| known.contains_key(p) && !out.contains(*p)) {
                    out.insert(p.to_string());
                    cur = known.get(p).copied().flatten();
                }
            }
            // Descendants: children of selected runs, level by level through a children
            // index (sweeping every run once per level was quadratic for deep nesting).
            let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
            for (id, parent) in runs {
                if let Some(p) = parent {
                    children.entry(p.as_str()).or_default().push(id.as_str());
                }
            }
            let mut todo: Vec<String> = out.iter().cloned().collect();
            while let Some(id) = todo.pop() {
                for &child in children.get(id.as_str()).into_iter().flatten() {
                    if out.insert(child.to_string()) {
                        todo.push(child.to_string());
                    }
                }
            }
        }
        out
    }
}

/// Parses `--run-start-time`/`--runs-until`: `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (UTC), or
/// epoch milliseconds.
pub fn parse_time(arg: &str) -> Result<i64> {
    let bad = || {
        Error::Input(format!(
            "invalid time {arg:?}: expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch milliseconds"
        ))
    };
    let arg = arg.trim();
    if let Ok(ms) = arg.parse::<i64>() {
        return Ok(ms);
    }
    let (date, time) = arg.split_once([' ', 'T']).unwrap_or((arg, "00:00:00"));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let t: Vec<i64> = time.split(':').map(|p| p.parse().map_err(|_| bad())).collect::<Result<_>>()?;
    let ([y, m, day], [hh, mm, ss]) = (d.as_slice(), t.as_slice()) else { return Err(bad()) };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in_month = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(m) || !(1..=days_in_month).contains(day) || *hh > 23 || *mm > 59 || *ss > 59 {
        return Err(bad());
    }
    Ok(((days_from_civil(*y, *m, *day) * 24 + hh) * 60 + mm) * 60_000 + ss * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: &str, stage: &str) -> ModelVersionRecord {
        ModelVersionRecord { version: version.into(), current_stage: Some(stage.into()), ..Default::default() }
    }

    #[test]
    fn version_filters() {
        let all = vec![v("1", "Archived"), v("2", "Production"), v("3", "None"), v("4", "Production")];
        let ids = |f: VersionFilter| f.apply(all.clone()).into_iter().map(|v| v.version).collect::<Vec<_>>();
        assert_eq!(ids(VersionFilter::default()), ["1", "2", "3", "4"]);
        assert_eq!(ids(VersionFilter { stages: Some(vec!["production".into()]), ..Default::default() }), ["2", "4"]);
        assert_eq!(ids(VersionFilter { versions: Some(vec!["3".into()]), ..Default::default() }), ["3"]);
        assert_eq!(ids(VersionFilter { latest_only: true, ..Default::default() }), ["1", "3", "4"]);
    }

    #[test]
    fn principal_maps_rename_whole_names_and_drop_on_an_empty_destination() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("principals.csv");
        std::fs::write(&f, "# source,destination\nbob@a.com, robert@b.com\nold-team,\n").unwrap();
        let map = PrincipalMap::read(&f).unwrap();
        assert_eq!(map.apply("bob@a.com"), Some("robert@b.com"));
        assert_eq!(map.apply("bob@a.comx"), Some("bob@a.comx"), "whole names only");
        assert_eq!(map.apply("old-team"), None);
        std::fs::write(&f, "bob@a.com\n").unwrap();
        assert!(PrincipalMap::read(&f).unwrap_err().to_string().contains(":1: expected"));
        std::fs::write(&f, "a,b\na,c\n").unwrap();
        assert!(PrincipalMap::read(&f).unwrap_err().to_string().contains(":2: a is mapped twice"));
    }

    #[test]
    fn experiment_specs() {
        assert_eq!(ExperimentSpec::parse("all").unwrap(), ExperimentSpec::All);
        assert_eq!(ExperimentSpec::parse("sk*").unwrap(), ExperimentSpec::Prefix("sk".into()));
        assert_eq!(
            ExperimentSpec::parse("a, 2 ,b").unwrap(),
            ExperimentSpec::List(vec!["a".into(), "2".into(), "b".into()])
        );
        let f = std::env::temp_dir().join(format!("exps-{}.txt", std::process::id()));
        std::fs::write(&f, "one\n\n# c\ntwo\n").unwrap();
        assert_eq!(
            ExperimentSpec::parse(f.to_str().unwrap()).unwrap(),
            ExperimentSpec::List(vec!["one".into(), "two".into()])
        );
    }

    #[test]
    fn first_matching_prefix_is_replaced() {
        let f = std::env::temp_dir().join(format!("renames-{}.csv", std::process::id()));
        std::fs::write(&f, "/Users/a/,/Shared/\n/Users/,/Old/\n").unwrap();
        let r = Renames::read(&f).unwrap();
        assert_eq!(r.apply("/Users/a/exp"), "/Shared/exp");
        assert_eq!(r.apply("/Users/b/exp"), "/Old/b/exp");
        assert_eq!(r.apply("other"), "other");
        std::fs::write(&f, "no comma here\n").unwrap();
        assert!(Renames::read(&f).unwrap_err().to_string().contains(":1: expected"));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_time("2024-07-19 04:46:14").unwrap(), 1_721_364_374_000);
        assert_eq!(parse_time("1721364374000").unwrap(), 1_721_364_374_000);
        assert!(parse_time("2024-13-01").is_err() && parse_time("yesterday").is_err());
        assert!(parse_time("2024-02-31").is_err() && parse_time("2023-02-29").is_err(), "no such day");
        assert!(parse_time("2024-04-31").is_err() && parse_time("2024-01-01 00:00:60").is_err());
        assert_eq!(parse_time("2024-02-29").unwrap(), 1_709_164_800_000);
    }

    #[test]
    fn nested_closure() {
        let runs: Vec<(String, Option<String>)> = [("r", None), ("c", Some("r")), ("g", Some("c")), ("x", None)]
            .iter()
            .map(|(a, b)| (a.to_string(), b.map(String::from)))
            .collect();
        let f = RunFilter { run_ids: Some(vec!["c".into()]), ..RunFilter::default() };
        assert_eq!(f.select(&runs).into_iter().collect::<Vec<_>>(), vec!["c"]);
        let f = RunFilter { run_ids: Some(vec!["c".into()]), check_nested_runs: true, ..RunFilter::default() };
        assert_eq!(f.select(&runs).into_iter().collect::<Vec<_>>(), vec!["c", "g", "r"]);
        assert_eq!(RunFilter::default().select(&runs).len(), 4);
    }

    /// A chain of 100,000 nested runs, selected at its top: every run below comes along, in
    /// one pass over a children index (a sweep over all runs per level was 10^10 steps).
    #[test]
    fn nested_closure_of_a_deep_chain_is_linear() {
        let runs: Vec<(String, Option<String>)> =
            (0..100_000).map(|i| (format!("r{i}"), (i > 0).then(|| format!("r{}", i - 1)))).collect();
        crate::complexity::linear("the nested closure of a 100,000-run chain", move || {
            for top in ["r0", "r99999"] {
                let f = RunFilter { run_ids: Some(vec![top.into()]), check_nested_runs: true, ..RunFilter::default() };
                assert_eq!(f.select(&runs).len(), 100_000, "from {top}");
            }
        });
    }
}
