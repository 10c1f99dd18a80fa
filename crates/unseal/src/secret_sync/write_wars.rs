//! [`WriteWars`]: noticing that someone else keeps changing a merged key back.
//!
//! A `Merge` target is shared with whatever else manages it (Argo CD self-heal, a
//! server-side apply with force, another operator). Each of our writes wakes the other
//! side, each of theirs wakes our watch; nothing would ever back off. So every rewrite of
//! a key that was there with another value counts as a round, and after `limit` rounds in
//! `window` for the same generation of the SealedSecret the controller stops writing that
//! key (reason `Conflict`) until the rounds age out of the window or the SealedSecret
//! changes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When each round was seen, and for which generation of the SealedSecret.
type Rounds = VecDeque<(Instant, i64)>;

/// Rounds per (target Secret, key).
pub struct WriteWars {
    limit: usize,
    window: Duration,
    rounds: Mutex<HashMap<(String, String), Rounds>>,
}

impl WriteWars {
    /// At most `limit` rewrites of one key within `window`.
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit: limit.max(1),
            window,
            rounds: Mutex::new(HashMap::new()),
        }
    }

    /// The window rounds are counted in.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The first of `keys` of `target` that has had `limit` rewrites in the window for
    /// this `generation`, with how many.
    pub fn would_exceed<'a>(
        &self,
        target: &str,
        generation: i64,
        keys: &[&'a String],
    ) -> Option<(&'a String, usize)> {
        let mut rounds = self.rounds.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for key in keys {
            let entry = (target.to_owned(), (*key).clone());
            let Some(seen) = rounds.get_mut(&entry) else {
                continue;
            };
            seen.retain(|(at, g)| *g == generation && now.duration_since(*at) < self.window);
            if seen.len() >= self.limit {
                return Some((key, seen.len()));
            }
        }
        None
    }

    /// Records a rewrite of each of `keys` of `target` now.
    pub fn record(&self, target: &str, generation: i64, keys: &[&String]) {
        let mut rounds = self.rounds.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        for key in keys {
            rounds
                .entry((target.to_owned(), (*key).clone()))
                .or_default()
                .push_back((now, generation));
        }
        // Forget targets whose rounds have all aged out, so the map stays small.
        rounds.retain(|_, seen| {
            seen.back()
                .is_some_and(|(at, _)| now.duration_since(*at) < self.window)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_changed_back_too_often_is_a_war_until_the_sealed_secret_changes() {
        let wars = WriteWars::new(3, Duration::from_secs(600));
        let key = "webhook.github.secret".to_owned();
        let other = "other".to_owned();
        for _ in 0..3 {
            assert_eq!(wars.would_exceed("argocd/argocd-secret", 1, &[&key]), None);
            wars.record("argocd/argocd-secret", 1, &[&key]);
        }
        assert_eq!(
            wars.would_exceed("argocd/argocd-secret", 1, &[&other, &key]),
            Some((&key, 3))
        );
        assert_eq!(wars.would_exceed("argocd/other-secret", 1, &[&key]), None);
        assert_eq!(
            wars.would_exceed("argocd/argocd-secret", 2, &[&key]),
            None,
            "a new generation starts afresh"
        );
    }

    #[test]
    fn rounds_age_out_of_the_window() {
        let wars = WriteWars::new(1, Duration::ZERO);
        let key = "k".to_owned();
        wars.record("t", 1, &[&key]);
        assert_eq!(wars.would_exceed("t", 1, &[&key]), None);
    }
}
