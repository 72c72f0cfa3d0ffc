//! `sys/health`: the query parameters and the choice of status code, as in
//! Vault's `getSysHealth`.

use coffer_core::core::HealthStatus;

use crate::parse::{first, go_bool};

/// The parsed query of `sys/health`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthQuery {
    pub standby_ok: bool,
    pub perf_standby_ok: bool,
    pub active_code: u16,
    pub standby_code: u16,
    pub sealed_code: u16,
    pub uninit_code: u16,
    pub dr_secondary_code: u16,
    pub perf_standby_code: u16,
}

impl Default for HealthQuery {
    fn default() -> Self {
        HealthQuery {
            standby_ok: false,
            perf_standby_ok: false,
            active_code: 200,
            standby_code: 429,
            sealed_code: 503,
            uninit_code: 501,
            dr_secondary_code: 472,
            perf_standby_code: 473,
        }
    }
}

/// A malformed `sys/health` parameter (answered with 400 and `{"errors":[]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadHealthQuery;

impl HealthQuery {
    /// Parses the query parameters; only the first value of a key counts.
    /// Codes must be integers in 200..=999 (Go would panic writing others).
    pub fn parse(pairs: &[(String, String)]) -> Result<HealthQuery, BadHealthQuery> {
        let mut q = HealthQuery::default();
        let flag = |key: &str, slot: &mut bool| -> Result<(), BadHealthQuery> {
            if let Some(v) = first(pairs, key) {
                *slot = go_bool(v).ok_or(BadHealthQuery)?;
            }
            Ok(())
        };
        flag("standbyok", &mut q.standby_ok)?;
        flag("perfstandbyok", &mut q.perf_standby_ok)?;
        let code = |key: &str, slot: &mut u16| -> Result<(), BadHealthQuery> {
            if let Some(v) = first(pairs, key) {
                let n: i64 = v.parse().map_err(|_| BadHealthQuery)?;
                if !(200..=999).contains(&n) {
                    return Err(BadHealthQuery);
                }
                *slot = n as u16;
            }
            Ok(())
        };
        code("uninitcode", &mut q.uninit_code)?;
        code("sealedcode", &mut q.sealed_code)?;
        code("standbycode", &mut q.standby_code)?;
        code("activecode", &mut q.active_code)?;
        code("drsecondarycode", &mut q.dr_secondary_code)?;
        code("performancestandbycode", &mut q.perf_standby_code)?;
        Ok(q)
    }

    /// The status code for a health report.
    pub fn code_for(&self, h: &HealthStatus) -> u16 {
        if !h.initialized {
            self.uninit_code
        } else if h.sealed {
            self.sealed_code
        } else if h.replication_dr_mode == "secondary" {
            self.dr_secondary_code
        } else if h.performance_standby {
            if self.perf_standby_ok {
                self.active_code
            } else {
                self.perf_standby_code
            }
        } else if h.standby {
            if self.standby_ok {
                self.active_code
            } else {
                self.standby_code
            }
        } else {
            self.active_code
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::query_pairs;

    fn status(initialized: bool, sealed: bool, standby: bool, perf: bool) -> HealthStatus {
        HealthStatus {
            initialized,
            sealed,
            standby,
            performance_standby: perf,
            replication_performance_mode: "disabled".into(),
            replication_dr_mode: "disabled".into(),
            server_time_utc: 0,
            version: "0".into(),
            cluster_name: None,
            cluster_id: None,
        }
    }

    fn code(query: &str, h: &HealthStatus) -> Result<u16, BadHealthQuery> {
        HealthQuery::parse(&query_pairs(query)).map(|q| q.code_for(h))
    }

    #[test]
    fn defaults() {
        assert_eq!(code("", &status(false, true, true, false)), Ok(501));
        assert_eq!(code("", &status(true, true, true, false)), Ok(503));
        assert_eq!(code("", &status(true, false, true, false)), Ok(429));
        assert_eq!(code("", &status(true, false, true, true)), Ok(473));
        assert_eq!(code("", &status(true, false, false, false)), Ok(200));
    }

    #[test]
    fn overrides_follow_the_captures() {
        let uninit = status(false, true, true, false);
        assert_eq!(code("uninitcode=200", &uninit), Ok(200));
        assert_eq!(code("uninitcode=299&sealedcode=298", &uninit), Ok(299));
        assert_eq!(code("sealedcode=298", &uninit), Ok(501));
        assert_eq!(code("standbyok=true&perfstandbyok=true", &uninit), Ok(501));
        let sealed = status(true, true, true, false);
        assert_eq!(code("sealedcode=200", &sealed), Ok(200));
        assert_eq!(code("standbyok=true", &sealed), Ok(503));
        assert_eq!(code("uninitcode=200", &sealed), Ok(503));
        let standby = status(true, false, true, false);
        assert_eq!(code("standbyok=true", &standby), Ok(200));
        assert_eq!(code("standbycode=299", &standby), Ok(299));
        assert_eq!(code("perfstandbyok=true", &standby), Ok(429));
        assert_eq!(
            code("perfstandbyok=true&performancestandbycode=298", &standby),
            Ok(429)
        );
        assert_eq!(code("standbyok=true&activecode=201", &standby), Ok(201));
        let perf = status(true, false, true, true);
        assert_eq!(code("perfstandbyok=true", &perf), Ok(200));
        assert_eq!(code("performancestandbycode=298", &perf), Ok(298));
        let active = status(true, false, false, false);
        assert_eq!(code("activecode=299", &active), Ok(299));
        assert_eq!(code("activecode=204", &active), Ok(204));
        assert_eq!(code("activecode=600", &active), Ok(600));
        assert_eq!(code("standbyok=true&perfstandbyok=true", &active), Ok(200));
        let mut dr = status(true, false, false, false);
        dr.replication_dr_mode = "secondary".into();
        assert_eq!(code("drsecondarycode=299", &dr), Ok(299));
        assert_eq!(code("", &dr), Ok(472));
    }

    #[test]
    fn malformed_parameters() {
        let active = status(true, false, false, false);
        for q in [
            "uninitcode=abc",
            "activecode=",
            "activecode=+200",
            "activecode=-5",
            "activecode=99",
            "activecode=150",
            "activecode=1000",
            "standbyok=abc",
            "standbyok",
            "perfstandbyok=yes",
            "drsecondarycode=x",
            "performancestandbycode=1.5",
            "sealedcode=2e2",
            "standbycode=0x1f",
        ] {
            assert_eq!(code(q, &active), Err(BadHealthQuery), "{q}");
        }
        // Only the first value counts; unknown parameters are ignored.
        assert_eq!(
            code("activecode=201&activecode=abc&foo=bar", &active),
            Ok(201)
        );
    }
}
