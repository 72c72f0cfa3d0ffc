//! Leader election on a `coordination.k8s.io/v1` Lease, so several operator replicas can run and
//! only one reconciles.
//!
//! The protocol is client-go's: the holder renews `renewTime` every [`LeaseConfig::renew_every`];
//! anyone may take the Lease over once `renewTime + leaseDurationSeconds` has passed. Every write
//! carries the `resourceVersion` that was read, so two candidates racing for the same Lease
//! cannot both win: the loser gets 409 Conflict and stays a follower. [`decide`] is the pure part
//! (what to do with the Lease as read, at a given time); [`LeaderElector`] does the API calls.
//!
//! A leader that cannot renew for a whole lease duration must stop reconciling before anyone
//! else can take over: the binary exits in that case (Kubernetes restarts it as a follower).

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

/// Lease settings.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews (well under `lease_duration`).
    pub renew_every: Duration,
}

impl LeaseConfig {
    pub fn new(namespace: &str, identity: &str) -> Self {
        Self {
            name: crate::OPERATOR_NAME.to_owned(),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// What to do with the Lease as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease exists: create it, held by us.
    Create,
    /// We hold it: renew.
    Renew,
    /// Nobody holds it, or the holder let it expire: take it over.
    TakeOver { previous: Option<String> },
    /// Someone else holds a valid Lease.
    Follow { holder: String, expires: Timestamp },
}

/// Decides from the Lease as read at `now`.
pub fn decide(lease: Option<&Lease>, identity: &str, now: Timestamp) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.filter(|h| !h.is_empty());
    match holder {
        None => Decision::TakeOver { previous: None },
        Some(h) if h == identity => Decision::Renew,
        Some(h) => {
            let renewed = spec
                .renew_time
                .or(spec.acquire_time)
                .map(|t| t.0)
                .unwrap_or(Timestamp::UNIX_EPOCH);
            let duration = jiff::SignedDuration::from_secs(i64::from(
                spec.lease_duration_seconds.unwrap_or(0).max(0),
            ));
            let expires = renewed.checked_add(duration).unwrap_or(Timestamp::MAX);
            if now >= expires {
                Decision::TakeOver { previous: Some(h) }
            } else {
                Decision::Follow { holder: h, expires }
            }
        }
    }
}

/// Tries to acquire and renew the Lease through the API.
#[derive(Clone)]
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaseConfig,
}

fn duration_seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            config,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// One round: read the Lease and create, renew or take it over when allowed. Ok(true) when
    /// we hold it afterwards; Ok(false) when someone else does (including losing a race).
    pub async fn try_acquire_or_renew(&self, now: Timestamp) -> Result<bool, kube::Error> {
        let current = self.api.get_opt(&self.config.name).await?;
        let decision = decide(current.as_ref(), &self.config.identity, now);
        let ours = |transitions: i32, acquired: Timestamp| LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(duration_seconds(self.config.lease_duration)),
            acquire_time: Some(MicroTime(acquired)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        };
        let result = match (decision, current) {
            (Decision::Follow { holder, expires }, _) => {
                tracing::debug!(%holder, %expires, "another replica leads");
                return Ok(false);
            }
            (Decision::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(ours(0, now)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (Decision::Renew, Some(mut lease)) => {
                let old = lease.spec.clone().unwrap_or_default();
                let acquired = old.acquire_time.map(|t| t.0).unwrap_or(now);
                lease.spec = Some(ours(old.lease_transitions.unwrap_or(0), acquired));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
            (Decision::TakeOver { previous }, Some(mut lease)) => {
                tracing::info!(
                    previous = previous.as_deref().unwrap_or("<none>"),
                    "taking over the leader Lease"
                );
                let transitions = lease
                    .spec
                    .as_ref()
                    .and_then(|s| s.lease_transitions)
                    .unwrap_or(0)
                    .saturating_add(1);
                lease.spec = Some(ours(transitions, now));
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
            // Renew/TakeOver are only decided for an existing Lease.
            (Decision::Renew | Decision::TakeOver { .. }, None) => return Ok(false),
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up (on shutdown) so a follower takes over at once.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.config.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, renewed: Timestamp, seconds: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                renew_time: Some(MicroTime(renewed)),
                lease_duration_seconds: Some(seconds),
                ..LeaseSpec::default()
            }),
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).expect("timestamp")
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "a", t(0)), Decision::Create);
        assert_eq!(
            decide(Some(&lease(Some("a"), t(0), 15)), "a", t(100)),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), t(0), 15)), "a", t(14)),
            Decision::Follow {
                holder: "b".into(),
                expires: t(15)
            }
        );
        assert_eq!(
            decide(Some(&lease(Some("b"), t(0), 15)), "a", t(15)),
            Decision::TakeOver {
                previous: Some("b".into())
            }
        );
        assert_eq!(
            decide(Some(&lease(None, t(0), 15)), "a", t(1)),
            Decision::TakeOver { previous: None }
        );
        assert_eq!(
            decide(Some(&lease(Some(""), t(0), 15)), "a", t(1)),
            Decision::TakeOver { previous: None }
        );
    }
}
