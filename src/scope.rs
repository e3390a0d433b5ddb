//! Where secrets management is set up (the whole workspace, or each project) and how a switch
//! between the two is planned, acknowledged and applied.
//!
//! | active mode | workspace-level reference | project-level reference (project P) |
//! |---|---|---|
//! | [`Workspace`](ScopeMode::Workspace) | resolved through the workspace connection | invalidated: [`Error::ScopeInvalidated`] |
//! | [`Project`](ScopeMode::Project) | invalidated: [`Error::ScopeInvalidated`] | resolved through P's connection; [`Error::NotConfigured`] when P has none |

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::backend::Connection;
use crate::error::{Error, Result, rfc3339};
use crate::reference::{ProjectId, RefScope, SecretName, SecretRef};

/// How many distinct references a policy remembers for impact reports.
pub const MAX_KNOWN_REFERENCES: usize = 10_000;

/// The largest generation a policy state may have: mode and generation share one atomic word.
pub const MAX_GENERATION: u64 = (1 << 62) - 1;

fn check_generation(state: &PolicyState) -> Result<()> {
    if state.generation > MAX_GENERATION {
        return Err(Error::invalid_config(
            "policy state",
            format!(
                "generation {} is over the limit of {MAX_GENERATION}; the saved state is damaged: save a fresh state",
                state.generation
            ),
        ));
    }
    Ok(())
}

/// Where secrets management is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeMode {
    /// One connection for the entire workspace; project-level references are invalid.
    Workspace,
    /// One connection per project; workspace-level references are invalid.
    Project,
}

impl ScopeMode {
    /// Whether a reference written for `scope` resolves in this mode.
    pub fn admits(self, scope: &RefScope) -> bool {
        matches!(
            (self, scope),
            (Self::Workspace, RefScope::Workspace) | (Self::Project, RefScope::Project(_))
        )
    }
}

impl fmt::Display for ScopeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Workspace => "workspace",
            Self::Project => "project",
        })
    }
}

/// The persistent part of a [`ScopePolicy`]: save it, and load it on every replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PolicyState {
    /// The active mode.
    pub mode: ScopeMode,
    /// Incremented by every applied switch; plans made at an older generation are stale.
    pub generation: u64,
    /// When the last switch was applied.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub switched_at: Option<OffsetDateTime>,
    /// Who acknowledged the last switch.
    #[serde(default)]
    pub switched_by: Option<String>,
}

impl PolicyState {
    /// A state that was never switched.
    pub fn new(mode: ScopeMode) -> Self {
        Self {
            mode,
            generation: 0,
            switched_at: None,
            switched_by: None,
        }
    }
}

/// Mode and generation packed in one word, so a resolve reads both in one atomic load.
fn pack(mode: ScopeMode, generation: u64) -> u64 {
    (generation << 1) | u64::from(mode == ScopeMode::Project)
}

fn unpack(word: u64) -> (ScopeMode, u64) {
    let mode = if word & 1 == 1 {
        ScopeMode::Project
    } else {
        ScopeMode::Workspace
    };
    (mode, word >> 1)
}

/// The scope configuration of a workspace: the active mode, the workspace connection, each
/// project's connection, and the references known to be in use.
///
/// A policy is shared by every resolve of a [`WorkspaceManager`](crate::WorkspaceManager); a
/// switch is atomic: a resolve sees the old mode or the new one, never a mix, and no resolve
/// that starts after [`apply`](Self::apply) returns, or that was still fetching when it did,
/// returns a secret of an invalidated reference.
pub struct ScopePolicy {
    word: AtomicU64,
    state: Mutex<PolicyState>,
    connections: Vec<Connection>,
    workspace: Option<usize>,
    projects: HashMap<ProjectId, usize>,
    known: RwLock<KnownReferences>,
    plans: AtomicU64,
}

#[derive(Default)]
struct KnownReferences {
    set: HashSet<SecretRef>,
    truncated: bool,
}

/// Which connection serves a reference, under which policy generation.
pub(crate) struct Route<'a> {
    pub(crate) connection: &'a Connection,
    pub(crate) connection_id: usize,
    pub(crate) generation: u64,
}

impl ScopePolicy {
    /// Starts a policy in `mode`, never switched.
    pub fn builder(mode: ScopeMode) -> ScopePolicyBuilder {
        Self::builder_from_state(PolicyState::new(mode))
    }

    /// Starts a policy from a saved state.
    pub fn builder_from_state(state: PolicyState) -> ScopePolicyBuilder {
        ScopePolicyBuilder {
            state,
            workspace: None,
            projects: Vec::new(),
            known: Vec::new(),
        }
    }

    /// The active mode.
    pub fn mode(&self) -> ScopeMode {
        self.load().0
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.load().1
    }

    /// The state to persist.
    pub fn state(&self) -> PolicyState {
        self.lock_state().clone()
    }

    /// Adopts a state saved by another replica if it is newer than this one's.
    ///
    /// Returns whether anything changed. A state of the same generation with another mode is a
    /// conflict ([`Error::InvalidConfig`]): two replicas switched independently.
    pub fn adopt(&self, state: PolicyState) -> Result<bool> {
        check_generation(&state)?;
        let mut current = self.lock_state();
        if state.generation < current.generation
            || (state.generation == current.generation && state.mode == current.mode)
        {
            return Ok(false);
        }
        if state.generation == current.generation {
            return Err(Error::invalid_config(
                "policy state",
                format!(
                    "generation {} is {} here but {} in the adopted state; replicas switched independently: pick one state and save it again",
                    state.generation, current.mode, state.mode
                ),
            ));
        }
        self.word
            .store(pack(state.mode, state.generation), Ordering::SeqCst);
        *current = state;
        Ok(true)
    }

    /// Adds `reference` to the known references, so switch plans report it even before
    /// anything resolves it.
    pub fn register(&self, reference: &str) -> Result<()> {
        self.observe(&SecretRef::parse(reference)?);
        Ok(())
    }

    /// The references known to be in use: registered or seen by a resolve.
    pub fn known_references(&self) -> Vec<SecretRef> {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        let mut refs: Vec<_> = known.set.iter().cloned().collect();
        refs.sort_by_cached_key(ToString::to_string);
        refs
    }

    /// The connection of the workspace scope, if one is configured.
    pub fn workspace_connection(&self) -> Option<&Connection> {
        self.workspace.map(|i| &self.connections[i])
    }

    /// The connection of `project`, if one is configured.
    pub fn project_connection(&self, project: &ProjectId) -> Option<&Connection> {
        self.projects.get(project).map(|&i| &self.connections[i])
    }

    /// The connections that serve references in the active mode.
    pub fn active_connections(&self) -> Vec<&Connection> {
        let mode = self.mode();
        (0..self.connections.len())
            .filter(|&i| self.serves(mode, i))
            .map(|i| &self.connections[i])
            .collect()
    }

    /// Dry run of a switch to `target`: which known references it breaks and, where the target
    /// scope has a connection, whether a secret of the same name exists there.
    ///
    /// Nothing changes. Checking presence reads the candidate secrets through the target
    /// connections (their values are dropped at once); references of the same name are checked
    /// once per connection.
    pub async fn plan_switch(&self, target: ScopeMode) -> SwitchPlan {
        let (from, base_generation) = self.load();
        let (refs, truncated) = self.breaking_references(from, target);
        let mut checked: HashMap<(usize, SecretName), Presence> = HashMap::new();
        // A connection that failed temporarily (unreachable, throttling) is not asked again in
        // this plan: one deadline per connection, not one per reference.
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
                            let backend = self.connections[id].backend();
                            let p = match backend.fetch(candidate.name(), None).await {
                                Ok(_) => Presence::Found,
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
                    connection: connection.map(|i| self.connections[i].name().to_owned()),
                    presence,
                });
            }
            breaking.push(ReferenceImpact {
                reference,
                replacements,
            });
        }
        SwitchPlan {
            id: self.plans.fetch_add(1, Ordering::Relaxed) + 1,
            from,
            to: target,
            base_generation,
            planned_at: OffsetDateTime::now_utc(),
            breaking,
            truncated,
        }
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
    /// that it fetched under the old mode.
    pub fn apply(
        &self,
        plan: &SwitchPlan,
        acknowledgement: Option<&Acknowledgement>,
    ) -> Result<PolicyState> {
        let mut state = self.lock_state();
        let Some(acknowledgement) =
            acknowledgement.filter(|a| a.is_for(plan) && !a.acknowledged_by.trim().is_empty())
        else {
            return Err(Error::AcknowledgementRequired {
                from: plan.from,
                to: plan.to,
                breaking: plan.breaking.len(),
            });
        };
        let stale = |unreviewed_references| Error::StalePlan {
            plan_generation: plan.base_generation,
            current_generation: state.generation,
            unreviewed_references,
        };
        if plan.base_generation != state.generation || plan.from != state.mode {
            return Err(stale(0));
        }
        // References seen since the plan was made would break without anyone having reviewed
        // them: the plan no longer describes the switch.
        let reviewed: HashSet<&SecretRef> = plan.breaking.iter().map(|i| &i.reference).collect();
        let unreviewed = self
            .breaking_references(plan.from, plan.to)
            .0
            .iter()
            .filter(|r| !reviewed.contains(r))
            .count();
        if unreviewed > 0 {
            return Err(stale(unreviewed));
        }
        if plan.to == state.mode {
            return Ok(state.clone());
        }
        let next = PolicyState {
            mode: plan.to,
            generation: state.generation + 1,
            switched_at: Some(OffsetDateTime::now_utc()),
            switched_by: Some(acknowledgement.acknowledged_by.clone()),
        };
        self.word
            .store(pack(next.mode, next.generation), Ordering::SeqCst);
        tracing::info!(
            from = %plan.from,
            to = %plan.to,
            generation = next.generation,
            broken_references = plan.breaking.len(),
            by = %acknowledgement.acknowledged_by,
            "secrets scope switched"
        );
        *state = next.clone();
        Ok(next)
    }

    /// The known references a switch from `from` to `to` invalidates, in canonical order, and
    /// whether the known set is truncated.
    fn breaking_references(&self, from: ScopeMode, to: ScopeMode) -> (Vec<SecretRef>, bool) {
        let known = self.known.read().unwrap_or_else(|p| p.into_inner());
        let mut refs: Vec<SecretRef> = known
            .set
            .iter()
            .filter(|r| from.admits(r.scope()) && !to.admits(r.scope()))
            .cloned()
            .collect();
        refs.sort_by_cached_key(ToString::to_string);
        (refs, known.truncated)
    }

    fn load(&self) -> (ScopeMode, u64) {
        unpack(self.word.load(Ordering::SeqCst))
    }

    fn lock_state(&self) -> std::sync::MutexGuard<'_, PolicyState> {
        // Every write to the state is a single assignment after all checks: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether connection `id` serves references in `mode`.
    pub(crate) fn serves(&self, mode: ScopeMode, id: usize) -> bool {
        match mode {
            ScopeMode::Workspace => self.workspace == Some(id),
            ScopeMode::Project => self.projects.values().any(|&i| i == id),
        }
    }

    /// Records a reference a resolve has seen.
    pub(crate) fn observe(&self, reference: &SecretRef) {
        if self
            .known
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .set
            .contains(reference)
        {
            return;
        }
        let mut known = self.known.write().unwrap_or_else(|p| p.into_inner());
        if known.set.len() < MAX_KNOWN_REFERENCES {
            known.set.insert(reference.clone());
        } else {
            known.truncated = true;
        }
    }

    /// Picks the connection for `reference` in the active mode.
    pub(crate) fn route(&self, reference: &SecretRef) -> Result<Route<'_>> {
        let (mode, generation) = self.load();
        let id = match (mode, reference.scope()) {
            (ScopeMode::Workspace, RefScope::Workspace) => {
                self.workspace.ok_or_else(|| Error::NotConfigured {
                    scope: "the workspace".to_owned(),
                })?
            }
            (ScopeMode::Project, RefScope::Project(p)) => {
                *self.projects.get(p).ok_or_else(|| Error::NotConfigured {
                    scope: format!("project `{p}`"),
                })?
            }
            _ => {
                return Err(Error::ScopeInvalidated {
                    reference: reference.clone(),
                    active: mode,
                });
            }
        };
        Ok(Route {
            connection: &self.connections[id],
            connection_id: id,
            generation,
        })
    }

    /// Re-checks, after a fetch, that `reference` is still valid; `generation` is the one it
    /// was routed under.
    pub(crate) fn confirm(&self, reference: &SecretRef, generation: u64) -> Result<u64> {
        let (mode, now) = self.load();
        if now == generation || mode.admits(reference.scope()) {
            Ok(now)
        } else {
            Err(Error::ScopeInvalidated {
                reference: reference.clone(),
                active: mode,
            })
        }
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

impl fmt::Debug for ScopePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, generation) = self.load();
        let mut projects: Vec<_> = self
            .projects
            .iter()
            .map(|(p, &i)| (p.as_str(), self.connections[i].name()))
            .collect();
        projects.sort();
        f.debug_struct("ScopePolicy")
            .field("mode", &mode)
            .field("generation", &generation)
            .field(
                "workspace",
                &self.workspace_connection().map(Connection::name),
            )
            .field("projects", &projects)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ScopePolicy`]; every setting is checked in [`build`](Self::build).
#[must_use]
pub struct ScopePolicyBuilder {
    state: PolicyState,
    workspace: Option<Connection>,
    projects: Vec<(String, Connection)>,
    known: Vec<String>,
}

impl fmt::Debug for ScopePolicyBuilder {
    // The raw strings given as project ids and known references are not validated yet and may
    // be values pasted into the wrong field: print counts only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopePolicyBuilder")
            .field("state", &self.state)
            .field("workspace", &self.workspace.as_ref().map(Connection::name))
            .field("project_connections", &self.projects.len())
            .field("known_references", &self.known.len())
            .finish()
    }
}

impl ScopePolicyBuilder {
    /// The connection every project uses in workspace mode.
    pub fn with_workspace_connection(mut self, connection: Connection) -> Self {
        self.workspace = Some(connection);
        self
    }

    /// The connection of `project` in project mode.
    pub fn with_project_connection(
        mut self,
        project: impl Into<String>,
        connection: Connection,
    ) -> Self {
        self.projects.push((project.into(), connection));
        self
    }

    /// A reference known to be in use, reported by switch plans before anything resolves it.
    pub fn with_known_reference(mut self, reference: impl Into<String>) -> Self {
        self.known.push(reference.into());
        self
    }

    /// Checks the settings and builds the policy.
    pub fn build(self) -> Result<ScopePolicy> {
        check_generation(&self.state)?;
        let mut connections = Vec::new();
        let mut add = |connection: Connection, field: &str| {
            if connection.name().trim().is_empty() {
                return Err(Error::invalid_config(
                    field,
                    "the connection name is empty; name it as administrators will see it",
                ));
            }
            connections.push(connection);
            Ok(connections.len() - 1)
        };
        let workspace = self
            .workspace
            .map(|c| add(c, "workspace connection"))
            .transpose()?;
        let mut projects = HashMap::new();
        for (number, (id, connection)) in self.projects.into_iter().enumerate() {
            // An invalid id is not quoted back: it may be a value pasted into the wrong field.
            let project = ProjectId::new(&id).map_err(|e| {
                Error::invalid_config(
                    format!("project connection #{}", number + 1),
                    format!("the project id is invalid: {e}"),
                )
            })?;
            let field = format!("project connection `{project}`");
            let index = add(connection, &field)?;
            if projects.insert(project, index).is_some() {
                return Err(Error::invalid_config(
                    field,
                    "the project has two connections; keep one",
                ));
            }
        }
        let mut known = KnownReferences::default();
        for (number, reference) in self.known.iter().enumerate() {
            let parsed = SecretRef::parse(reference).map_err(|e| {
                Error::invalid_config(format!("known reference #{}", number + 1), e.to_string())
            })?;
            known.set.insert(parsed);
        }
        Ok(ScopePolicy {
            word: AtomicU64::new(pack(self.state.mode, self.state.generation)),
            state: Mutex::new(self.state),
            connections,
            workspace,
            projects,
            known: RwLock::new(known),
            plans: AtomicU64::new(0),
        })
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

    /// Whether more references were seen than a policy remembers
    /// ([`MAX_KNOWN_REFERENCES`]), so the report may be incomplete.
    pub fn is_truncated(&self) -> bool {
        self.truncated
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
                "More than {MAX_KNOWN_REFERENCES} references were seen; only those are listed."
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
    pub connection: Option<String>,
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
    /// The secret exists but is disabled.
    Disabled,
    /// No secret of that name.
    Missing,
    /// The target scope has no connection to look in.
    NoConnection,
    /// The lookup failed; the text says why.
    Unknown(String),
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Found => f.write_str("exists"),
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
