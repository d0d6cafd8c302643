//! Reading the pages of a long listing several at a time, where the server's tokens allow it.
//!
//! MLflow's own stores (SQL databases and the file store) page by offset: their token is
//! `{"offset": N}` in base64, and the page after it starts at run N. A page costs such a server
//! about 0.7 ms of one worker's CPU per run (its ORM building every run), so 100,000 runs take
//! over a minute read one page after another while the server's other workers (4 by default)
//! sit idle. When the first page's token is exactly that (the offset of the page after a full
//! first page), the following pages are asked for [`WIDTH`] at a time, each by its own offset
//! token, and handed on in order. Every answer is checked against what a page read in turn
//! would have said: a page's token, if any, names the offset after it; only a full page has
//! one, and one without is the last (MLflow 3 sends none after a full last page, 2.x one that
//! leads to an empty page). Another server's tokens (Databricks', or a proxy's) are opaque: they are followed
//! one after another, as [`crate::client::each_page`] does.

use base64::{prelude::BASE64_STANDARD, Engine};
use futures::{stream::FuturesOrdered, StreamExt};

use crate::{
    client::{continue_pages, Page, PageTokens},
    Error, Result,
};

/// Pages asked for at once: MLflow's default number of server workers.
const WIDTH: usize = 4;

/// The offset an MLflow offset token names, `None` for any other token.
fn offset_of(token: &str) -> Option<usize> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Token {
        offset: usize,
    }
    let bytes = BASE64_STANDARD.decode(token).ok()?;
    serde_json::from_slice::<Token>(&bytes).ok().map(|t| t.offset)
}

/// The token MLflow's stores write for `offset` (`json.dumps` spacing, padded base64).
fn offset_token(offset: usize) -> String {
    BASE64_STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Hands every page's items to `take` in the listing's order, like [`crate::client::each_page`],
/// reading [`WIDTH`] pages at a time when the server pages by offset (see the module's
/// comment). `size` is the page size `fetch` asks for.
pub(crate) async fn each_offset_page<T, E, F, Fut>(
    size: usize,
    mut fetch: F,
    mut take: impl FnMut(Vec<T>) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<Error>,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    let first = fetch(None).await?;
    let next = first.next_page_token.filter(|t| !t.is_empty());
    let by_offset = size > 0 && first.items.len() == size && next.as_deref().and_then(offset_of) == Some(size);
    take(first.items)?;
    if !by_offset {
        let mut tokens = PageTokens::default();
        if !tokens.advance(next)? {
            return Ok(());
        }
        return continue_pages(tokens, fetch, take).await;
    }
    let mut asked = size;
    let mut pending = FuturesOrdered::new();
    loop {
        while pending.len() < WIDTH {
            let offset = asked;
            let page = fetch(Some(offset_token(offset)));
            pending.push_back(async move { (offset, page.await) });
            asked += size;
        }
        let Some((offset, page)) = pending.next().await else { return Ok(()) };
        let page = page?;
        let next = page.next_page_token.filter(|t| !t.is_empty());
        let n = page.items.len();
        let follows = match next.as_deref() {
            None => true,
            Some(t) => n == size && offset_of(t) == Some(offset + size),
        };
        if !follows {
            return Err(Error::Protocol(format!(
                "the page of {n} entries at offset {offset} (pages of {size}) came with the paging token {next:?}, not \
                 the one that names where the next page starts: the listing cannot be trusted"
            ))
            .into());
        }
        take(page.items)?;
        if next.is_none() {
            // The last page: the ones asked for after it are dropped unread.
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A listing of `total` items paged by offset tokens or opaque ones, recording the tokens
    /// asked for. `knows_end`: no token after a full last page (MLflow 3), else one that leads
    /// to an empty page (MLflow 2).
    struct Listing {
        total: usize,
        opaque: bool,
        knows_end: bool,
        asked: Mutex<Vec<Option<String>>>,
    }

    impl Listing {
        fn page(&self, token: Option<String>, size: usize) -> Result<Page<usize>> {
            self.asked.lock().unwrap().push(token.clone());
            let start = match token {
                None => 0,
                Some(t) if self.opaque => t.strip_prefix("opaque-").unwrap().parse().unwrap(),
                Some(t) => offset_of(&t).unwrap(),
            };
            let end = (start + size).min(self.total);
            let items: Vec<usize> = (start.min(end)..end).collect();
            let more = items.len() == size && (end < self.total || !self.knows_end);
            let next_page_token = more.then(|| if self.opaque { format!("opaque-{end}") } else { offset_token(end) });
            Ok(Page { items, next_page_token })
        }
    }

    fn list(listing: &Listing, size: usize) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        futures::executor::block_on(each_offset_page(
            size,
            |t| std::future::ready(listing.page(t, size)),
            |items| {
                out.extend(items);
                Ok::<_, Error>(())
            },
        ))?;
        Ok(out)
    }

    #[test]
    fn the_tokens_are_the_ones_mlflow_writes() {
        // base64.b64encode(json.dumps({"offset": 10000}).encode())
        assert_eq!(offset_token(10000), "eyJvZmZzZXQiOiAxMDAwMH0=");
        assert_eq!(offset_of("eyJvZmZzZXQiOiAxMDAwMH0="), Some(10000));
        assert_eq!(offset_of("opaque-3"), None);
        assert_eq!(offset_of(&BASE64_STANDARD.encode(r#"{"offset": 3, "start": 1}"#)), None);
    }

    #[test]
    fn offset_pages_are_read_several_at_a_time_in_order_to_the_last() {
        for knows_end in [true, false] {
            for (total, size) in [(0, 4), (3, 4), (4, 4), (5, 4), (23, 4), (24, 4), (1000, 7)] {
                let listing = Listing { total, opaque: false, knows_end, asked: Mutex::default() };
                assert_eq!(list(&listing, size).unwrap(), (0..total).collect::<Vec<_>>(), "{total} by {size}");
                let asked = listing.asked.lock().unwrap().len();
                let needed = total.div_ceil(size).max(1);
                assert!(asked >= needed && asked <= needed + WIDTH, "{total} by {size}: {asked} pages asked");
            }
        }
    }

    #[test]
    fn opaque_tokens_are_followed_one_after_another() {
        let listing = Listing { total: 23, opaque: true, knows_end: true, asked: Mutex::default() };
        assert_eq!(list(&listing, 4).unwrap(), (0..23).collect::<Vec<_>>());
        assert_eq!(listing.asked.lock().unwrap().len(), 6);
    }

    #[test]
    fn a_page_whose_token_does_not_follow_on_is_an_error() {
        // A server that answers every offset with the first page.
        let asked = Mutex::new(0);
        let mut out = Vec::new();
        let e = futures::executor::block_on(each_offset_page(
            2,
            |_| {
                *asked.lock().unwrap() += 1;
                std::future::ready(Ok(Page { items: vec![0, 1], next_page_token: Some(offset_token(2)) }))
            },
            |items: Vec<usize>| {
                out.extend(items);
                Ok::<_, Error>(())
            },
        ))
        .unwrap_err();
        assert!(e.to_string().contains("cannot be trusted"), "{e}");
        assert_eq!(out, vec![0, 1]);
    }
}
