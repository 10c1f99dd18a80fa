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

/// Cuts `items` (every match, in key order, at resource version `now`) into the page that
/// `limit` and `continue_token` ask for. `oldest` is the oldest resource version whose
/// history is kept; `selected` whether a label or field selector was given.
///
/// Generic over how the items are held, so that a list can be paged over references
/// into the store and only the page's objects copied (copying every match for every
/// page made listing N objects cost O(N²/limit) copies).
pub(crate) fn page<T: std::borrow::Borrow<Value>>(
    items: Vec<T>,
    now: u64,
    oldest: u64,
    limit: Option<usize>,
    continue_token: Option<&str>,
    selected: bool,
) -> Result<Page<T>, ApiError> {
    let (rv, items) = match continue_token.filter(|t| !t.is_empty()) {
        None => (now, items),
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
            let after = (namespace, name);
            (
                rv,
                items
                    .into_iter()
                    .filter(|i| position(i.borrow()) > after)
                    .collect(),
            )
        }
    };
    let Some(limit) = limit.filter(|l| *l > 0 && *l < items.len()) else {
        return Ok(Page {
            items,
            resource_version: rv,
            continue_token: None,
            remaining: None,
        });
    };
    let remaining = items.len() - limit;
    let mut items = items;
    items.truncate(limit);
    let token = items.last().map(|last| encode(rv, last.borrow()));
    Ok(Page {
        items,
        resource_version: rv,
        continue_token: token,
        remaining: (!selected).then_some(remaining),
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

    #[test]
    fn pages_follow_their_tokens_at_the_first_pages_version() {
        let first = page(items(5), 7, 0, Some(2), None, false).expect("page");
        assert_eq!(first.items.len(), 2);
        assert_eq!(first.remaining, Some(3));
        let token = first.continue_token.expect("more");
        let second = page(items(5), 9, 0, Some(2), Some(&token), false).expect("page");
        assert_eq!(second.resource_version, 7, "the first page's version");
        assert_eq!(second.items[0]["metadata"]["name"], "s2");
        let token = second.continue_token.expect("more");
        let last = page(items(5), 9, 0, Some(2), Some(&token), true).expect("page");
        assert_eq!(last.items.len(), 1);
        assert_eq!((last.continue_token, last.remaining), (None, None));
    }

    #[test]
    fn an_expired_or_bad_token_is_refused() {
        let token = page(items(3), 7, 0, Some(1), None, false)
            .expect("page")
            .continue_token
            .expect("more");
        let err = page(items(3), 9, 8, Some(1), Some(&token), false)
            .err()
            .expect("expired");
        assert_eq!((err.code, err.reason), (410, "Expired"));
        let err = page(items(3), 9, 0, Some(1), Some("nonsense!"), false)
            .err()
            .expect("bad");
        assert_eq!(err.code, 400);
    }
}
