//! Fidelity on the real control plane: what the controller's correctness rests on and
//! the API-server double can only imitate. The production controller runs in the test as
//! its ServiceAccount, behind a recording proxy ([`proxy`]), so that every byte the API
//! server sent it can be read back: its watches carry no Secret data, it pages a large
//! list with continue tokens, and a compaction between two pages (410 Expired) makes it
//! list again and settle. The double is then held to the real server's shapes for the
//! same requests ([`drift`]). Skipped, saying so, where Go is absent. A test binary of its
//! own: it compacts etcd, which no other test should have to survive.

mod drift;
mod etcd;
mod metadata_watches;
mod pagination;
mod proxy;
mod support;
