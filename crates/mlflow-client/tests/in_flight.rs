//! `max_in_flight` bounds the requests a server is serving, bodies included: a server that
//! answers headers at once and then trickles the body must never see more bodies open at once
//! than the limit, however many downloads and reads the caller starts.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use futures::{future::try_join_all, TryStreamExt};
use mlflow_client::{ClientConfig, MlflowClient, RetryPolicy};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Bodies being sent right now, and the most ever sent at once.
#[derive(Default)]
struct Open {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// An HTTP/1.1 server that answers every request with `body`, its headers at once and the
/// body in `chunks` pieces `pause` apart.
async fn trickling_server(body: &'static [u8], chunks: usize, pause: Duration) -> (String, Arc<Open>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let open = Arc::new(Open::default());
    let counts = open.clone();
    tokio::spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(conn, body, chunks, pause, counts.clone()));
        }
    });
    (url, open)
}

/// Answers the requests of one kept-alive connection until the client closes it.
async fn serve(mut conn: TcpStream, body: &[u8], chunks: usize, pause: Duration, open: Arc<Open>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        // The client sends GETs only: no request body follows the headers.
        request.clear();
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        conn.write_all(head.as_bytes()).await.unwrap();
        let now = open.now.fetch_add(1, Ordering::SeqCst) + 1;
        open.max.fetch_max(now, Ordering::SeqCst);
        for piece in body.chunks(body.len().div_ceil(chunks)) {
            tokio::time::sleep(pause).await;
            conn.write_all(piece).await.unwrap();
        }
        open.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn client(url: &str, max_in_flight: usize) -> MlflowClient {
    let mut config = ClientConfig::resolve(url, None, &|_| None).unwrap();
    config.max_in_flight = max_in_flight;
    config.retry = RetryPolicy { max_retries: 0, ..RetryPolicy::default() };
    MlflowClient::new(&config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_downloads_stay_within_the_limit() {
    let (url, open) = trickling_server(br#"{"files": []}"#, 4, Duration::from_millis(25)).await;
    let client = client(&url, 2);
    let downloads = (0..8).map(|i| {
        let client = client.clone();
        async move {
            let data = client.download_artifact("run", &format!("file{i}")).await?;
            data.stream.try_collect::<Vec<_>>().await.map_err(|e| mlflow_client::Error::Protocol(e.to_string()))
        }
    });
    let listings = (0..8).map(|_| client.list_artifacts("run", ""));
    let (downloads, listings) = tokio::join!(try_join_all(downloads), try_join_all(listings));
    assert_eq!((downloads.unwrap().len(), listings.unwrap().len()), (8, 8));
    let max = open.max.load(Ordering::SeqCst);
    assert!(max <= 2, "{max} bodies were open at once with max_in_flight = 2");
}

#[tokio::test]
async fn a_download_frees_its_place_when_read_to_the_end_or_dropped() {
    let (url, _) = trickling_server(b"some bytes", 1, Duration::ZERO).await;
    let client = client(&url, 1);
    // Read to the end but kept: the place is free again.
    let mut read = wait(client.download_artifact("run", "a")).await.unwrap();
    while read.stream.try_next().await.unwrap().is_some() {}
    // Dropped unread: the place is free again.
    let unread = wait(client.download_artifact("run", "b")).await.unwrap();
    drop(unread);
    wait(client.download_artifact("run", "c")).await.unwrap();
    drop(read);
}

/// `what`, or a failure naming the place under the limit that was never freed.
async fn wait<T>(what: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), what).await.expect("the limit's only place was never freed")
}
