//! Lists in pages (`limit` and `continue`), shaped as the API server answers them: a
//! continue token while more remain (with `remainingItemCount` when no selector was
//! given), every page at the resource version of the first, and 410 Expired for a token
//! older than the history kept (see `ApiServerDouble::expire_history`), as after an etcd
//! compaction.
//!
//! Unlike the API server, the double keeps no snapshots: a later page shows objects as
//! they are now, not as they were when the first page was served. A client that then
//! watches from the list's resource version sees those changes again, which is harmless
//! to an informer.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::store::ApiError;

/// A page of a list.
pub(crate) struct Page<T = Value> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The resource version the whole list is served at.
    pub resource_version: u64,
    /// The token for the next page, if any remain.
    pub continue_token: Option<String>,
    /// How many remain after this page (only without selectors).
    pub remaining: Option<usize>,
}

/// Where a continue token says to go on: the list's resource version and the last
/// `(namespace, name)` served.
fn decode(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = |why: &str| {
        ApiError::new(
            400,
            "BadRequest",
            format!("continue key is not valid: {why}"),
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad("not base64"))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| bad("not JSON"))?;
    if value["v"] != "meta.k8s.io/v1" {
        return Err(bad(
            "incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        ));
    }
    let rv = value["rv"]
        .as_u64()
        .ok_or_else(|| bad("no resource version"))?;
    let start = value["start"].as_str().ok_or_else(|| bad("no start"))?;
    let start = start.strip_suffix('\u{0}').unwrap_or(start);
    let (namespace, name) = start.split_once('/').unwrap_or(("", start));
    Ok((rv, namespace.to_owned(), name.to_owned()))
}

/// The token that goes on after `item`, at `rv` (the API server's form: base64url of
/// `{"v":"meta.k8s.io/v1","rv":RV,"start":"KEY\u0000"}`).
fn encode(rv: u64, item: &Value) -> String {
    let position = position(item);
    let token = json!({
        "v": "meta.k8s.io/v1",
        "rv": rv,
        "start": format!("{}/{}\u{0}", position.0, position.1),
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())
}

fn position(item: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&item["metadata"]["namespace"]),
        text(&item["metadata"]["name"]),
    )
}

/// The page that `limit` and `continue_token` ask for, at resource version `now` for a
/// first page. `scan` gives every match in key order from just after a position
/// (`None`: from the start); `oldest` is the oldest resource version whose history is
/// kept; `selected` whether a label or field selector was given.
///
/// Only the page's items are taken from `scan`, plus, to say what remains, one more
/// (with a selector) or a count of the rest (without one, as `remainingItemCount`):
/// the caller copies only the page, and a scan that starts at the continue key (a range
/// of the store's ordered map) makes each page cost what it serves.
pub(crate) fn page<T, I>(
    scan: impl FnOnce(Option<(&str, &str)>) -> I,
    now: u64,
    oldest: u64,
    limit: Option<usize>,
    continue_token: Option<&str>,
    selected: bool,
) -> Result<Page<T>, ApiError>
where
    T: std::borrow::Borrow<Value>,
    I: Iterator<Item = T>,
{
    let (rv, after) = match continue_token.filter(|t| !t.is_empty()) {
        None => (now, None),
        Some(token) => {
            let (rv, namespace, name) = decode(token)?;
            if rv < oldest {
                return Err(ApiError::new(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter, or use the continue \
                     token in this response to retrieve the remainder of the results. Continuing \
                     with the provided token results in an inconsistent list - objects that were \
                     created, modified, or deleted between the time the first chunk was returned \
                     and now may show up in the list.",
                ));
            }
            (rv, Some((namespace, name)))
        }
    };
    let mut items = scan(
        after
            .as_ref()
            .map(|(ns, name)| (ns.as_str(), name.as_str())),
    );
    let Some(limit) = limit.filter(|l| *l > 0) else {
        return Ok(Page {
            items: items.collect(),
            resource_version: rv,
            continue_token: None,
            remaining: None,
        });
    };
    let served: Vec<T> = items.by_ref().take(limit).collect();
    let remaining = if selected {
        usize::from(items.next().is_some())
    } else {
        items.count()
    };
    let token = served
        .last()
        .filter(|_| remaining > 0)
        .map(|last| encode(rv, last.borrow()));
    Ok(Page {
        remaining: (!selected && token.is_some()).then_some(remaining),
        items: served,
        resource_version: rv,
        continue_token: token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"metadata": {"namespace": "a", "name": format!("s{i}")}}))
            .collect()
    }

    /// A scan over `items` from just after a position, as the store's range gives it.
    fn scan<'v>(
        items: &'v [Value],
    ) -> impl Fn(Option<(&str, &str)>) -> std::vec::IntoIter<&'v Value> + Copy {
        move |after| {
            let after = after.map(|(ns, name)| (ns.to_owned(), name.to_owned()));
            items
                .iter()
                .filter(|i| after.as_ref().is_none_or(|a| &position(i) > a))
                .collect::<Vec<_>>()
                .into_iter()
        }
    }

    #[test]
    fn pages_follow_their_tokens_at_the_first_pages_version() {
        let all = items(5);
        let first = page(scan(&all), 7, 0, Some(2), None, false).expect("page");
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, Some(3));
        let token = first.continue_token.expect("more");
        let second = page(scan(&all), 9, 0, Some(2), Some(&token), false).expect("page");
        assert_eq!(second.resource_version, 7, "the first page's version");
        assert_eq!(second.items[0]["metadata"]["name"], "s2");
        assert_eq!(second.remaining, Some(1));
        let token = second.continue_token.expect("more");
        let last = page(scan(&all), 9, 0, Some(2), Some(&token), true).expect("page");
        assert_eq!(last.items.len(), 1);
        assert_eq!((last.continue_token, last.remaining), (None, None));
    }

    #[test]
    fn a_limit_that_takes_everything_ends_the_list() {
        let all = items(3);
        for limit in [None, Some(0), Some(3), Some(4)] {
            let whole = page(scan(&all), 7, 0, limit, None, false).expect("page");
            assert_eq!(whole.items.len(), 3, "limit {limit:?}");
            assert_eq!((whole.continue_token, whole.remaining), (None, None));
        }
        let selected = page(scan(&all), 7, 0, Some(2), None, true).expect("page");
        assert!(selected.continue_token.is_some(), "one more match remains");
        assert_eq!(selected.remaining, None, "no count with a selector");
    }

    #[test]
    fn a_page_takes_from_its_scan_only_what_it_serves_and_says_remains() {
        let all = items(1000);
        let taken = std::cell::Cell::new(0);
        let counted = |after: Option<(&str, &str)>| {
            let taken = &taken;
            scan(&all)(after).inspect(move |_| taken.set(taken.get() + 1))
        };
        let selected = page(counted, 7, 0, Some(10), None, true).expect("page");
        assert_eq!(selected.items.len(), 10);
        assert_eq!(
            taken.get(),
            11,
            "the page and one more, to know more remain"
        );
        taken.set(0);
        let whole = page(counted, 7, 0, Some(10), None, false).expect("page");
        assert_eq!(whole.remaining, Some(990));
        assert_eq!(taken.get(), 1000, "the rest counted, not copied");
    }

    #[test]
    fn an_expired_or_bad_token_is_refused() {
        let all = items(3);
        let token = page(scan(&all), 7, 0, Some(1), None, false)
            .expect("page")
            .continue_token
            .expect("more");
        let err = page(scan(&all), 9, 8, Some(1), Some(&token), false)
            .err()
            .expect("expired");
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let err = page(scan(&all), 9, 0, Some(1), Some("nonsense!"), false)
            .err()
            .expect("bad");
        assert_eq!(err.code, 400);
    }
}
