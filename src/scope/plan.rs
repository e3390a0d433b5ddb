//! Planning a scope switch (a dry run with an impact report), acknowledging it, applying it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{PolicyState, ScopeMode, ScopePolicy};
use crate::audit::{self, AuditEvent};
use crate::backend::SecretBackend;
use crate::error::{Error, Result, rfc3339};
use crate::reference::ConnectionName;
use crate::reference::{SecretName, SecretRef};
use crate::value::SecretProperties;

impl ScopePolicy {
    /// Dry run of a switch to `target`: which known references it breaks and, where the target
    /// scope has a connection, whether a secret of the same name exists there.
    ///
    /// Nothing changes. Checking presence reads the candidate secrets from the target
    /// connections' backends, past their caches but within their hosts' request budgets, as
    /// background work (the values are dropped at once); references of the same name
    /// are checked once per connection, and a connection that fails temporarily is asked once
    /// per plan.
    pub async fn plan_switch(&self, target: ScopeMode) -> SwitchPlan {
        let (from, base_generation) = self.load();
        let now = OffsetDateTime::now_utc();
        let (refs, truncated) = self.registry.breaking(from, target);
        let mut checked: HashMap<(usize, SecretName), Presence> = HashMap::new();
        let mut unreachable: HashMap<usize, String> = HashMap::new();
        let mut breaking = Vec::with_capacity(refs.len());
        for reference in refs {
            let mut replacements = Vec::new();
            for (candidate, connection) in self.candidates(&reference, target) {
                let presence = match connection {
                    None => Presence::NoConnection,
                    Some(id) => {
                        let key = (id, candidate.name().clone());
                        if let Some(p) = checked.get(&key) {
                            p.clone()
                        } else if let Some(why) = unreachable.get(&id) {
                            Presence::Unknown(why.clone())
                        } else {
                            // Past the cache, within the host's request budget, as
                            // background work: a plan never takes what resolves need.
                            let budgeted = &self.connections[id].stack().budgeted;
                            let read = budgeted.fetch(candidate.name(), None);
                            let p = match crate::budget::background(read).await {
                                Ok(fetched) => Presence::of_dates(fetched.secret.properties(), now),
                                Err(Error::Disabled { .. }) => Presence::Disabled,
                                Err(Error::NotFound { .. }) => Presence::Missing,
                                Err(e) => {
                                    if e.is_temporary() {
                                        unreachable.insert(id, e.to_string());
                                    }
                                    Presence::Unknown(e.to_string())
                                }
                            };
                            checked.insert(key, p.clone());
                            p
                        }
                    }
                };
                replacements.push(Replacement {
                    reference: candidate,
                    connection: connection.map(|i| self.connections[i].name().clone()),
                    presence,
                });
            }
            breaking.push(ReferenceImpact {
                reference,
                replacements,
            });
        }
        let plan = SwitchPlan {
            id: self.plans.fetch_add(1, Ordering::Relaxed) + 1,
            from,
            to: target,
            base_generation,
            planned_at: OffsetDateTime::now_utc(),
            breaking,
            truncated,
        };
        self.audit(AuditEvent::SwitchPlanned {
            from,
            to: target,
            base_generation,
            fingerprint: plan.fingerprint(),
            breaking: audit::references(&plan),
        });
        plan
    }

    /// Applies a planned switch.
    ///
    /// Without an acknowledgement made from `plan` (and naming who made it):
    /// [`Error::AcknowledgementRequired`]. With a plan made before another change of the policy,
    /// or when references that would break were first seen after the plan was made:
    /// [`Error::StalePlan`]. Nothing changes in either case. Returns the new state, to persist.
    ///
    /// A resolve that starts after `apply` returns sees the new mode; one in flight during the
    /// switch re-checks the scope before returning, so it cannot return an invalidated secret
    /// that it fetched under the old mode. The connections that stop serving lose their cached
    /// values.
    pub fn apply(
        &self,
        plan: &SwitchPlan,
        acknowledgement: Option<&Acknowledgement>,
    ) -> Result<PolicyState> {
        let outcome = self.apply_unaudited(plan, acknowledgement);
        let event = match &outcome {
            Ok((state, true)) => AuditEvent::SwitchApplied {
                from: plan.from,
                to: state.mode,
                generation: state.generation,
                fingerprint: plan.fingerprint(),
                by: state.switched_by.clone().unwrap_or_default(),
                invalidated: audit::references(plan),
            },
            Ok((_, false)) => return outcome.map(|(state, _)| state),
            Err(error) => AuditEvent::SwitchRefused {
                from: plan.from,
                to: plan.to,
                fingerprint: plan.fingerprint(),
                by: acknowledgement.map(|a| a.acknowledged_by.clone()),
                reason: error.kind().as_str(),
            },
        };
        self.audit(event);
        outcome.map(|(state, _)| state)
    }

    /// [`apply`](Self::apply), saying whether the mode changed.
    fn apply_unaudited(
        &self,
        plan: &SwitchPlan,
        acknowledgement: Option<&Acknowledgement>,
    ) -> Result<(PolicyState, bool)> {
        let mut state = self.state.lock();
        let Some(acknowledgement) =
            acknowledgement.filter(|a| a.is_for(plan) && !a.acknowledged_by.trim().is_empty())
        else {
            return Err(Error::AcknowledgementRequired {
                from: plan.from,
                to: plan.to,
                breaking: plan.breaking.len(),
            });
        };
        let stale = |current_generation, unreviewed_references| Error::StalePlan {
            plan_generation: plan.base_generation,
            current_generation,
            unreviewed_references,
        };
        if plan.base_generation != state.generation || plan.from != state.mode {
            return Err(stale(state.generation, 0));
        }
        // References seen since the plan was made would break without anyone having reviewed
        // them: the plan no longer describes the switch.
        let reviewed: HashSet<&SecretRef> = plan.breaking.iter().map(|i| &i.reference).collect();
        let unreviewed = self
            .registry
            .breaking(plan.from, plan.to)
            .0
            .iter()
            .filter(|r| !reviewed.contains(r))
            .count();
        if unreviewed > 0 {
            return Err(stale(state.generation, unreviewed));
        }
        if plan.to == state.mode {
            return Ok((state.clone(), false));
        }
        let next = PolicyState {
            mode: plan.to,
            generation: state.generation + 1,
            switched_at: Some(OffsetDateTime::now_utc()),
            switched_by: Some(acknowledgement.acknowledged_by.clone()),
        };
        tracing::info!(
            from = %plan.from,
            to = %plan.to,
            generation = next.generation,
            broken_references = plan.breaking.len(),
            by = %acknowledgement.acknowledged_by,
            "secrets scope switched"
        );
        self.commit(&mut state, next.clone());
        Ok((next, true))
    }

    /// Where a broken reference could point in the target scope.
    fn candidates(
        &self,
        reference: &SecretRef,
        target: ScopeMode,
    ) -> Vec<(SecretRef, Option<usize>)> {
        let name = reference.name().clone();
        match target {
            ScopeMode::Workspace => vec![(SecretRef::workspace(name), self.workspace)],
            ScopeMode::Project => {
                let mut projects: Vec<_> = self.projects.iter().collect();
                projects.sort();
                projects
                    .into_iter()
                    .map(|(p, &i)| (SecretRef::project(p.clone(), name.clone()), Some(i)))
                    .collect()
            }
        }
    }
}

/// The impact report of a planned scope switch. Nothing has changed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchPlan {
    id: u64,
    from: ScopeMode,
    to: ScopeMode,
    base_generation: u64,
    #[serde(with = "time::serde::rfc3339")]
    planned_at: OffsetDateTime,
    breaking: Vec<ReferenceImpact>,
    truncated: bool,
}

impl SwitchPlan {
    /// The active mode when planned.
    pub fn from(&self) -> ScopeMode {
        self.from
    }

    /// The planned mode.
    pub fn to(&self) -> ScopeMode {
        self.to
    }

    /// The policy generation the plan was made at.
    pub fn base_generation(&self) -> u64 {
        self.base_generation
    }

    /// When the plan was made.
    pub fn planned_at(&self) -> OffsetDateTime {
        self.planned_at
    }

    /// The known references the switch would invalidate, in canonical order.
    pub fn breaking(&self) -> &[ReferenceImpact] {
        &self.breaking
    }

    /// Whether more references were seen than the policy remembers (see
    /// [`ScopePolicyBuilder::with_known_reference_limit`](super::ScopePolicyBuilder::with_known_reference_limit)),
    /// so the report may be incomplete.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// A short identity of what the plan says (the modes, the generation, the references it
    /// breaks): 16 hexadecimal digits of a SHA-256, the same for the same situation in any
    /// process, so that a plan printed by one command can be checked by the next. Audit
    /// records carry it.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(format!(
            "{} {} {}",
            self.from, self.to, self.base_generation
        ));
        for impact in &self.breaking {
            hash.update(format!("\n{}", impact.reference));
        }
        if self.truncated {
            hash.update("\ntruncated");
        }
        hash.finalize()[..8]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Acknowledges this plan's impact, as `by` (a person or a change ticket).
    pub fn acknowledge(&self, by: impl Into<String>) -> Acknowledgement {
        Acknowledgement {
            plan_id: self.id,
            to: self.to,
            base_generation: self.base_generation,
            breaking: self.breaking.len(),
            acknowledged_by: by.into(),
            acknowledged_at: OffsetDateTime::now_utc(),
        }
    }
}

impl fmt::Display for SwitchPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Plan: switch secrets management from the {} scope to the {} scope (policy generation {}, planned {})",
            self.from,
            self.to,
            self.base_generation,
            rfc3339(&self.planned_at)
        )?;
        if self.from == self.to {
            return writeln!(
                f,
                "The {} scope is already active: nothing changes.",
                self.to
            );
        }
        match self.breaking.len() {
            0 => writeln!(f, "No known reference breaks.")?,
            1 => writeln!(f, "1 known reference will stop resolving:")?,
            n => writeln!(f, "{n} known references will stop resolving:")?,
        }
        for impact in &self.breaking {
            writeln!(f, "  {}", impact.reference)?;
            if impact.replacements.is_empty() {
                writeln!(
                    f,
                    "      no {} connection is configured to move it to",
                    self.to
                )?;
            }
            for r in &impact.replacements {
                match &r.connection {
                    Some(c) => writeln!(f, "      -> `{}` via `{c}`: {}", r.reference, r.presence)?,
                    None => writeln!(f, "      -> `{}`: {}", r.reference, r.presence)?,
                }
            }
        }
        if self.truncated {
            writeln!(
                f,
                "More references were seen than the policy remembers; only those it remembers are listed."
            )?;
        }
        write!(
            f,
            "Nothing has changed yet. Apply with an acknowledgement made from this plan."
        )
    }
}

/// A known reference that a switch would invalidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReferenceImpact {
    /// The reference that stops resolving.
    pub reference: SecretRef,
    /// How it could be rewritten for the target scope, and whether that secret exists.
    pub replacements: Vec<Replacement>,
}

/// A rewrite of a broken reference for the target scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Replacement {
    /// The reference to write instead.
    pub reference: SecretRef,
    /// The connection that would serve it, if one is configured.
    pub connection: Option<ConnectionName>,
    /// Whether a secret of that name exists there.
    pub presence: Presence,
}

/// Whether the target scope has a secret of a broken reference's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
#[non_exhaustive]
pub enum Presence {
    /// The secret exists and is enabled.
    Found,
    /// The secret exists but expired on this date.
    Expired(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// The secret exists but is not valid before this date.
    NotYetValid(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// The secret exists but is disabled.
    Disabled,
    /// No secret of that name.
    Missing,
    /// The target scope has no connection to look in.
    NoConnection,
    /// The lookup failed; the text says why.
    Unknown(String),
}

impl Presence {
    /// `Found`, unless the secret is outside its validity dates at `now`.
    fn of_dates(properties: &SecretProperties, now: OffsetDateTime) -> Self {
        match (properties.expires, properties.not_before) {
            (Some(expires), _) if expires <= now => Self::Expired(expires),
            (_, Some(not_before)) if not_before > now => Self::NotYetValid(not_before),
            _ => Self::Found,
        }
    }
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found => f.write_str("exists"),
            Self::Expired(date) => write!(
                f,
                "exists but expired on {}; renew it before switching",
                rfc3339(date)
            ),
            Self::NotYetValid(date) => write!(
                f,
                "exists but is not valid before {}; wait or move the date before switching",
                rfc3339(date)
            ),
            Self::Disabled => f.write_str("exists but is disabled; enable it before switching"),
            Self::Missing => f.write_str("missing; create it before switching"),
            Self::NoConnection => f.write_str("no connection is configured for that scope"),
            Self::Unknown(why) => write!(f, "could not be checked: {why}"),
        }
    }
}

/// An explicit acknowledgement of one [`SwitchPlan`], made with [`SwitchPlan::acknowledge`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    plan_id: u64,
    to: ScopeMode,
    base_generation: u64,
    breaking: usize,
    acknowledged_by: String,
    #[serde(with = "time::serde::rfc3339")]
    acknowledged_at: OffsetDateTime,
}

impl Acknowledgement {
    /// Who acknowledged.
    pub fn acknowledged_by(&self) -> &str {
        &self.acknowledged_by
    }

    /// When.
    pub fn acknowledged_at(&self) -> OffsetDateTime {
        self.acknowledged_at
    }

    fn is_for(&self, plan: &SwitchPlan) -> bool {
        self.plan_id == plan.id
            && self.to == plan.to
            && self.base_generation == plan.base_generation
            && self.breaking == plan.breaking.len()
    }
}
