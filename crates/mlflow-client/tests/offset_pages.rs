//! A real MLflow server's `runs/search`, read several pages at a time by offset tokens: the
//! same runs in the same order as the official client lists them, each once, through the last
//! (short) page, and no more requests than the pages plus those asked for past the end.

use mlflow_client::{api::SearchRuns, types::ViewType, ClientConfig, MlflowClient};
use test_support::{unique_name, ArtifactMode, MlflowServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_read_by_offset_pages_are_the_official_clients_listing() {
    let srv = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("offsetpages");
    // 23 runs, two of them started at the same millisecond (ordered by id on the server).
    let listed = srv.python_eval(&format!(
        "import mlflow\n\
         c = mlflow.MlflowClient()\n\
         e = c.create_experiment({name:?})\n\
         for i in range(23):\n\
         \x20   c.create_run(e, start_time=1700000000000 + min(i, 21) * 1000, run_name=f'r{{i}}')\n\
         print(e)\n\
         print(','.join(r.info.run_id for r in c.search_runs([e], max_results=1000)))\n"
    ));
    let mut lines = listed.lines();
    let exp = lines.next().unwrap().to_string();
    let official: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    assert_eq!(official.len(), 23);

    let config = ClientConfig::resolve(&srv.url, None, &|_| None).unwrap();
    let client = MlflowClient::new(&config).unwrap();
    for size in [2u32, 5, 23, 50] {
        let before = client.stats().requests.load(std::sync::atomic::Ordering::SeqCst);
        let mut ids = Vec::new();
        let query = SearchRuns {
            experiment_ids: vec![exp.clone()],
            filter: String::new(),
            run_view_type: ViewType::ActiveOnly,
            max_results: size,
            page_token: None,
        };
        client
            .search_runs_raw(query, |page| {
                for raw in page {
                    let run: serde_json::Value = serde_json::from_str(raw.get()).unwrap();
                    ids.push(run["info"]["run_id"].as_str().unwrap().to_string());
                }
                Ok::<_, mlflow_client::Error>(())
            })
            .await
            .unwrap();
        assert_eq!(ids, official, "pages of {size}");
        let requests = client.stats().requests.load(std::sync::atomic::Ordering::SeqCst) - before;
        // MLflow 3 sends no token after a full last page: 23 runs in pages of 23 take one.
        let pages = 23u64.div_ceil(u64::from(size));
        assert!(requests >= pages && requests <= pages + 4, "pages of {size}: {requests} requests");
    }
}
