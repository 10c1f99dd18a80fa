//! The objects, their resource versions, and the log of changes that watches replay.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::admission;
use crate::patch;
use crate::path::ResourceKind;
use crate::selector::Selector;

/// Identifies one stored object.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// Its resource kind.
    pub kind: ResourceKind,
    /// Its namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

impl ChangeType {
    /// The watch event type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One entry of the change log.
#[derive(Clone, Debug)]
pub struct Change {
    /// The resource version this change produced.
    pub rv: u64,
    /// Which object.
    pub key: ObjectKey,
    /// What happened.
    pub change: ChangeType,
    /// The object after the change (for deletions: as it was, with the resource version
    /// of the deletion).
    pub object: Value,
    /// The object before the change (`None` for creations).
    pub previous: Option<Value>,
}

/// An error answered as a Kubernetes `Status`.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, …).
    pub reason: &'static str,
    /// A message.
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
        }
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code
        })
    }
}

/// The object store.
pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    rv: u64,
    uids: u64,
    /// The uids of the objects stored, for the garbage collector's owner checks.
    live: BTreeSet<String>,
    log: Vec<Arc<Change>>,
    changes: broadcast::Sender<Arc<Change>>,
    writes: BTreeMap<String, usize>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            rv: 1,
            uids: 0,
            live: BTreeSet::new(),
            log: Vec::new(),
            changes: broadcast::channel(65_536).0,
            writes: BTreeMap::new(),
        }
    }
}

fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    k8s_openapi::jiff::Timestamp::from_second(i64::try_from(secs).unwrap_or_default())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Store {
    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// Subscribes to future changes.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    /// Changes after `rv`.
    pub fn changes_since(&self, rv: u64) -> Vec<Arc<Change>> {
        let start = self.log.partition_point(|c| c.rv <= rv);
        self.log[start..].to_vec()
    }

    /// Successful writes per resource plural (create, replace, patch, delete).
    pub fn writes(&self) -> BTreeMap<String, usize> {
        self.writes.clone()
    }

    /// One object.
    pub fn get(&self, key: &ObjectKey) -> Result<Value, ApiError> {
        self.objects.get(key).cloned().ok_or_else(|| not_found(key))
    }

    /// Objects of a kind, optionally in one namespace, matching the selectors.
    pub fn list(
        &self,
        kind: &ResourceKind,
        namespace: Option<&str>,
        labels: &Selector,
        fields: &Selector,
    ) -> Vec<Value> {
        self.scan(kind, namespace, None, labels, fields)
            .cloned()
            .collect()
    }

    /// The objects of a kind, optionally in one namespace, that match the selectors, in
    /// key order (namespace, then name), from just after `after` (a `(namespace, name)`
    /// position, as a continue token names it) when given.
    ///
    /// A range of the ordered map, not a filter over everything held: a page of a list
    /// looks at the objects it serves (and those the selectors skip on the way), not at
    /// every object of every kind in the store. Filtering everything made listing
    /// 100,000 SealedSecrets in pages of 500, beside 100,000 Secrets and 100,000 Events,
    /// quadratic in the store's size (238 s in the benchmark).
    pub fn scan<'a>(
        &'a self,
        kind: &'a ResourceKind,
        namespace: Option<&'a str>,
        after: Option<(&str, &str)>,
        labels: &'a Selector,
        fields: &'a Selector,
    ) -> impl Iterator<Item = &'a Value> + use<'a> {
        let at = |namespace: &str, name: &str| ObjectKey {
            kind: kind.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let first = Bound::Included(at(namespace.unwrap_or_default(), ""));
        let start = match after {
            // A position before the namespace asked for (a token from another list)
            // starts at the namespace's first object, as a filter would.
            Some((ns, name)) if namespace.is_none_or(|wanted| (ns, name) >= (wanted, "")) => {
                Bound::Excluded(at(ns, name))
            }
            _ => first,
        };
        let everything = labels.is_empty() && fields.is_empty();
        self.objects
            .range((start, Bound::Unbounded))
            .take_while(move |(k, _)| {
                &k.kind == kind && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(_, v)| v)
            .filter(move |v| everything || (labels.matches_labels(v) && fields.matches_fields(v)))
    }

    fn record(
        &mut self,
        key: ObjectKey,
        change: ChangeType,
        object: Value,
        previous: Option<Value>,
    ) {
        let entry = Arc::new(Change {
            rv: self.rv,
            key: key.clone(),
            change,
            object,
            previous,
        });
        self.log.push(entry.clone());
        *self.writes.entry(key.kind.plural.clone()).or_default() += 1;
        let _ = self.changes.send(entry);
    }

    fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }

    /// The key a create of `body` makes: 422 without a name, 409 when `unique` and the
    /// name is taken.
    fn key_to_create(
        &self,
        kind: &ResourceKind,
        namespace: &str,
        body: &Value,
        unique: bool,
    ) -> Result<ObjectKey, ApiError> {
        let name = body["metadata"]["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::new(422, "Invalid", "metadata.name: Required value"))?;
        let key = ObjectKey {
            kind: kind.clone(),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        if unique && self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", kind.plural),
            ));
        }
        Ok(key)
    }

    /// Creates an object; 409 when the name is taken.
    pub fn create(
        &mut self,
        kind: &ResourceKind,
        namespace: &str,
        mut body: Value,
    ) -> Result<Value, ApiError> {
        let key = self.key_to_create(kind, namespace, &body, true)?;
        normalize(kind, namespace, &mut body);
        admission::admit(kind, &mut body)?;
        self.uids += 1;
        let rv = self.next_rv();
        let meta = &mut body["metadata"];
        meta["uid"] = json!(format!("uid-{:08}", self.uids));
        meta["resourceVersion"] = json!(rv);
        meta["creationTimestamp"] = json!(now());
        if kind.has_status_subresource() {
            meta["generation"] = json!(1);
        }
        self.objects.insert(key.clone(), body.clone());
        self.live.insert(format!("uid-{:08}", self.uids));
        self.record(key.clone(), ChangeType::Added, body.clone(), None);
        if self.orphaned(&body) {
            // kube-controller-manager's garbage collector deletes, soon after, an object
            // whose every owner is gone (e.g. made by a writer that read its owner just
            // before the owner was deleted).
            let _ = self.delete(&key);
        }
        Ok(body)
    }

    /// A dry-run create (`?dryRun=All`): the checks of [`Store::create`] without storing
    /// anything; a `generateName` stands in for a missing name, as the API server does.
    pub fn check_create(
        &mut self,
        kind: &ResourceKind,
        namespace: &str,
        mut body: Value,
    ) -> Result<Value, ApiError> {
        let generated = body["metadata"]["name"].as_str().is_none_or(str::is_empty)
            && body["metadata"]["generateName"].is_string();
        if generated {
            let prefix = body["metadata"]["generateName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            body["metadata"]["name"] = json!(format!("{prefix}dryrun"));
        }
        self.key_to_create(kind, namespace, &body, !generated)?;
        normalize(kind, namespace, &mut body);
        admission::admit(kind, &mut body)?;
        Ok(body)
    }

    /// Replaces an object (PUT). A `resourceVersion` in the body must be current (409
    /// otherwise). With `status_only`, only `.status` is taken from the body; for
    /// resources with a status subresource, a main-resource write keeps the old status.
    pub fn replace(
        &mut self,
        key: &ObjectKey,
        body: Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let current = self.get(key)?;
        if let Some(rv) = body["metadata"]["resourceVersion"].as_str()
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return Err(conflict(key));
        }
        self.write(key, current, body, status_only)
    }

    /// Applies a JSON merge patch (PATCH). A `resourceVersion` in the patch must be current.
    pub fn patch(
        &mut self,
        key: &ObjectKey,
        patch_body: &Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        let current = self.get(key)?;
        if let Some(rv) = patch_body["metadata"]["resourceVersion"].as_str()
            && Some(rv) != current["metadata"]["resourceVersion"].as_str()
        {
            return Err(conflict(key));
        }
        let mut next = current.clone();
        patch::merge(&mut next, patch_body);
        self.write(key, current, next, status_only)
    }

    fn write(
        &mut self,
        key: &ObjectKey,
        current: Value,
        mut next: Value,
        status_only: bool,
    ) -> Result<Value, ApiError> {
        if status_only {
            let mut merged = current.clone();
            merged["status"] = next.get("status").cloned().unwrap_or(Value::Null);
            next = merged;
        } else if key.kind.has_status_subresource() {
            match current.get("status") {
                Some(s) => next["status"] = s.clone(),
                None => {
                    if let Some(map) = next.as_object_mut() {
                        map.remove("status");
                    }
                }
            }
        }
        normalize(&key.kind, &key.namespace, &mut next);
        admission::admit(&key.kind, &mut next)?;
        if key.kind == ResourceKind::secrets() {
            check_secret_update(&current, &next)?;
        }
        for field in ["uid", "creationTimestamp", "name", "namespace"] {
            if let Some(v) = current["metadata"].get(field) {
                next["metadata"][field] = v.clone();
            }
        }
        if key.kind.has_status_subresource() {
            let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
            let spec_changed = current.get("spec") != next.get("spec");
            next["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
        }
        next["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"].clone();
        if next == current {
            // Kubernetes does not bump the resource version of a no-op write.
            return Ok(current);
        }
        next["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.objects.insert(key.clone(), next.clone());
        self.record(
            key.clone(),
            ChangeType::Modified,
            next.clone(),
            Some(current),
        );
        Ok(next)
    }

    /// Whether `object` has owners and none of them exists any more.
    fn orphaned(&self, object: &Value) -> bool {
        object["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|owners| {
                !owners.is_empty()
                    && owners
                        .iter()
                        .all(|o| o["uid"].as_str().is_none_or(|uid| !self.live.contains(uid)))
            })
    }

    /// Deletes an object, then (background propagation) every object whose
    /// ownerReferences name it, recursively.
    pub fn delete(&mut self, key: &ObjectKey) -> Result<Value, ApiError> {
        let object = self.objects.remove(key).ok_or_else(|| not_found(key))?;
        if let Some(uid) = object["metadata"]["uid"].as_str() {
            self.live.remove(uid);
        }
        // Watchers get the object as it was, at the resource version of its deletion.
        let mut gone = object.clone();
        gone["metadata"]["resourceVersion"] = json!(self.next_rv());
        self.record(key.clone(), ChangeType::Deleted, gone, Some(object.clone()));
        if let Some(uid) = object["metadata"]["uid"].as_str() {
            let dependents: Vec<ObjectKey> = self
                .objects
                .iter()
                .filter(|(_, v)| {
                    v["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
                })
                .map(|(k, _)| k.clone())
                .collect();
            for dependent in dependents {
                let _ = self.delete(&dependent);
            }
        }
        Ok(object)
    }
}

fn normalize(kind: &ResourceKind, namespace: &str, body: &mut Value) {
    if !body.is_object() {
        *body = json!({});
    }
    body["apiVersion"] = json!(kind.api_version());
    body["kind"] = json!(kind.kind());
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    if !namespace.is_empty() {
        body["metadata"]["namespace"] = json!(namespace);
    }
}

/// Kubernetes refuses to change a Secret's type, or the data of an immutable Secret.
fn check_secret_update(current: &Value, next: &Value) -> Result<(), ApiError> {
    let type_of = |v: &Value| v["type"].as_str().unwrap_or("Opaque").to_owned();
    if type_of(current) != type_of(next) {
        return Err(ApiError::new(
            422,
            "Invalid",
            "type: Invalid value: field is immutable",
        ));
    }
    if current["immutable"] == json!(true)
        && (current["data"] != next["data"] || next["immutable"] != json!(true))
    {
        return Err(ApiError::new(
            422,
            "Invalid",
            "data: Forbidden: field is immutable when `immutable` is set",
        ));
    }
    Ok(())
}

fn not_found(key: &ObjectKey) -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        format!("{} \"{}\" not found", key.kind.plural, key.name),
    )
}

fn conflict(key: &ObjectKey) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
            key.kind.plural, key.name
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str) -> Value {
        json!({"metadata": {"name": name}, "data": {"k": "dg=="}})
    }

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            kind: ResourceKind::secrets(),
            namespace: "apps".into(),
            name: name.into(),
        }
    }

    #[test]
    fn create_conflicts_and_versions() {
        let mut store = Store::default();
        let created = store
            .create(&ResourceKind::secrets(), "apps", secret("a"))
            .expect("creates");
        assert_eq!(created["kind"], "Secret");
        assert_eq!(
            store
                .create(&ResourceKind::secrets(), "apps", secret("a"))
                .map_err(|e| e.code),
            Err(409)
        );
        let mut stale = created.clone();
        stale["data"]["k"] = json!("eA==");
        let updated = store
            .replace(&key("a"), stale.clone(), false)
            .expect("replaces");
        assert_ne!(
            updated["metadata"]["resourceVersion"],
            created["metadata"]["resourceVersion"]
        );
        assert_eq!(
            store.replace(&key("a"), stale, false).map_err(|e| e.code),
            Err(409)
        );
    }

    #[test]
    fn delete_collects_dependents() {
        let mut store = Store::default();
        let owner = store
            .create(&ResourceKind::secrets(), "apps", secret("owner"))
            .expect("creates");
        let mut child = secret("child");
        child["metadata"]["ownerReferences"] =
            json!([{"uid": owner["metadata"]["uid"], "name": "owner"}]);
        store
            .create(&ResourceKind::secrets(), "apps", child)
            .expect("creates");
        store.delete(&key("owner")).expect("deletes");
        assert_eq!(store.get(&key("child")).map_err(|e| e.code), Err(404));
    }

    #[test]
    fn an_object_made_for_a_deleted_owner_is_collected() {
        let mut store = Store::default();
        let mut child = secret("late");
        child["metadata"]["ownerReferences"] = json!([{"uid": "uid-gone", "name": "owner"}]);
        let made = store
            .create(&ResourceKind::secrets(), "apps", child)
            .expect("created");
        assert_eq!(made["metadata"]["name"], "late");
        assert_eq!(store.get(&key("late")).map_err(|e| e.code), Err(404));
        let owner = store
            .create(&ResourceKind::secrets(), "apps", secret("owner"))
            .expect("creates");
        let mut kept = secret("kept");
        kept["metadata"]["ownerReferences"] =
            json!([{"uid": owner["metadata"]["uid"], "name": "owner"}]);
        store
            .create(&ResourceKind::secrets(), "apps", kept)
            .expect("creates");
        assert!(store.get(&key("kept")).is_ok());
    }

    /// Every Secret name in `namespace` (all namespaces: `None`) that a list in pages of
    /// `limit` serves, following its continue tokens; `between` runs after each page.
    fn paged(
        store: &mut Store,
        namespace: Option<&str>,
        limit: usize,
        mut between: impl FnMut(&mut Store, usize),
    ) -> Vec<String> {
        let (kind, everything) = (ResourceKind::secrets(), Selector::default());
        let (mut names, mut token, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let now = store.resource_version();
            let page = crate::page::page(
                |after| store.scan(&kind, namespace, after, &everything, &everything),
                now,
                0,
                Some(limit),
                token.as_deref(),
                false,
            )
            .expect("a page");
            for item in &page.items {
                let (ns, name) = (&item["metadata"]["namespace"], &item["metadata"]["name"]);
                names.push(format!(
                    "{}/{}",
                    ns.as_str().unwrap_or(""),
                    name.as_str().unwrap_or("")
                ));
            }
            token = page.continue_token;
            pages += 1;
            if token.is_none() {
                return names;
            }
            between(store, pages);
        }
    }

    #[test]
    fn a_paged_list_serves_its_kind_and_namespace_in_order_and_nothing_else() {
        let mut store = Store::default();
        let events = ResourceKind::new("", "v1", "events");
        for ns in ["a", "b", "c"] {
            for i in 0..7 {
                store
                    .create(&ResourceKind::secrets(), ns, secret(&format!("s{i}")))
                    .expect("creates");
                store
                    .create(&events, ns, secret(&format!("s{i}")))
                    .expect("creates");
                store
                    .create(&ResourceKind::config_maps(), ns, secret(&format!("s{i}")))
                    .expect("creates");
            }
        }
        let every: Vec<String> = ["a", "b", "c"]
            .iter()
            .flat_map(|ns| (0..7).map(move |i| format!("{ns}/s{i}")))
            .collect();
        assert_eq!(paged(&mut store, None, 4, |_, _| {}), every);
        assert_eq!(paged(&mut store, Some("b"), 3, |_, _| {}), every[7..14]);
        assert_eq!(paged(&mut store, Some("c"), 100, |_, _| {}), every[14..]);
        // A token that names a position in another namespace starts this one's list at
        // its beginning (before it) or ends it (after it), as a filter on position would.
        let (kind, all) = (ResourceKind::secrets(), Selector::default());
        let from = |store: &Store, after| {
            store
                .scan(&kind, Some("b"), after, &all, &all)
                .map(|v| v["metadata"]["name"].as_str().unwrap_or("").to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(from(&store, Some(("a", "s9"))).len(), 7);
        assert_eq!(from(&store, Some(("b", "s4"))), ["s5", "s6"]);
        assert!(from(&store, Some(("c", ""))).is_empty());
    }

    #[test]
    fn a_paged_list_resumes_after_the_continue_key_through_inserts_and_deletes() {
        let mut store = Store::default();
        for i in 0..10 {
            store
                .create(&ResourceKind::secrets(), "apps", secret(&format!("s{i}")))
                .expect("creates");
        }
        let names = paged(&mut store, Some("apps"), 3, |store, page| {
            if page == 1 {
                // After s0..s2: one served and the next unserved object go, one object
                // lands before the key (not served: already passed) and one after it.
                store.delete(&key("s1")).expect("deletes");
                store.delete(&key("s3")).expect("deletes");
                for name in ["s05", "s25"] {
                    store
                        .create(&ResourceKind::secrets(), "apps", secret(name))
                        .expect("creates");
                }
            }
        });
        assert_eq!(
            names,
            ["s0", "s1", "s2", "s25", "s4", "s5", "s6", "s7", "s8", "s9"]
                .map(|n| format!("apps/{n}"))
        );
    }

    #[test]
    fn secret_rules() {
        let mut store = Store::default();
        let mut s = secret("s");
        s["immutable"] = json!(true);
        store
            .create(&ResourceKind::secrets(), "apps", s)
            .expect("creates");
        let err = store
            .patch(&key("s"), &json!({"data": {"k": "eA=="}}), false)
            .expect_err("immutable");
        assert_eq!(err.code, 422);
        let err = store
            .patch(&key("s"), &json!({"type": "kubernetes.io/tls"}), false)
            .expect_err("type");
        assert_eq!(err.code, 422);
    }
}
