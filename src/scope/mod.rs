//! Where secrets management is set up (the whole workspace, or each project) and how a switch
//! between the two is planned, acknowledged and applied.
//!
//! | active mode | workspace-level reference | project-level reference (project P) |
//! |---|---|---|
//! | [`Workspace`](ScopeMode::Workspace) | resolved through the workspace connection | invalidated: [`Error::ScopeInvalidated`] |
//! | [`Project`](ScopeMode::Project) | invalidated: [`Error::ScopeInvalidated`] | resolved through P's connection; [`Error::NotConfigured`] when P has none |

mod plan;
mod registry;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::audit::{AuditEvent, AuditRecord, AuditSink, TracingAudit};
use crate::connection::{Connection, Layers};
use crate::error::{Error, Result};
use crate::reference::ConnectionName;
pub use crate::reference::ScopeMode;
use crate::reference::{ProjectId, RefScope, SecretRef};

pub use plan::{Acknowledgement, Presence, ReferenceImpact, Replacement, SwitchPlan};
pub(crate) use registry::Registry;

/// How many distinct references a policy remembers by default, for impact reports and so that
/// a reference text resolved again is not parsed again.
pub const DEFAULT_KNOWN_REFERENCE_LIMIT: usize = 10_000;

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
/// A switch is atomic: a resolve sees the old mode or the new one, never a mix, and no resolve
/// that starts after [`apply`](Self::apply) (or [`adopt`](Self::adopt)) returns, or that was
/// still fetching when it did, returns a secret of an invalidated reference. Whichever way a
/// switch is made, the cached values of the connections that stop serving are dropped as part
/// of it.
pub struct ScopePolicy {
    word: AtomicU64,
    state: Mutex<PolicyState>,
    connections: Vec<Connection>,
    workspace: Option<usize>,
    projects: HashMap<ProjectId, usize, foldhash::fast::RandomState>,
    /// For each connection, whether references of more than one scope reach it (the
    /// workspace and a project, or several projects): their cache hits can be of a
    /// reference the registry has not recorded.
    shared: Vec<bool>,
    registry: Registry,
    plans: AtomicU64,
    audit: Arc<dyn AuditSink>,
}

/// Which connection serves a reference, under which policy generation.
pub(crate) struct Route<'a> {
    policy: &'a ScopePolicy,
    pub(crate) connection: &'a Connection,
    /// References of more than one scope reach the connection.
    pub(crate) shared: bool,
    generation: u64,
}

impl Route<'_> {
    /// Re-checks, after a fetch, that `reference` is still valid; returns the generation it
    /// was resolved under.
    #[inline]
    pub(crate) fn confirm(&self, reference: &SecretRef) -> Result<u64, Refusal<'static>> {
        let (mode, now) = self.policy.load();
        if now == self.generation || mode.admits(reference.scope()) {
            Ok(now)
        } else {
            Err(Refusal::Invalidated(mode))
        }
    }
}

/// Why the policy refuses a reference before any fetch. Small, so that the way a resolve
/// takes when nothing is refused carries nothing the size of an [`Error`]; made into one by
/// [`error`](Self::error) when it happens.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Refusal<'a> {
    /// The reference was written for a scope the active mode does not admit.
    Invalidated(ScopeMode),
    /// No connection serves the reference's scope.
    NotConfigured,
    /// A Key Vault identifier names a host other than the one its connection points to.
    UnconfiguredHost(&'a Connection),
}

impl Refusal<'_> {
    /// The error that says so, naming `reference`.
    #[cold]
    #[inline(never)]
    pub(crate) fn error(self, reference: &SecretRef) -> Error {
        match self {
            Self::Invalidated(active) => Error::ScopeInvalidated {
                reference: Box::new(reference.clone()),
                active,
            },
            Self::NotConfigured => Error::NotConfigured {
                scope: reference.scope().clone(),
            },
            Self::UnconfiguredHost(connection) => Error::UnconfiguredVaultHost {
                host: reference.vault_host().unwrap_or_default().to_owned(),
                served_by: connection.location().clone(),
            },
        }
    }
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
            known_limit: DEFAULT_KNOWN_REFERENCE_LIMIT,
            audit: Arc::new(TracingAudit),
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
        self.state.lock().clone()
    }

    /// Adopts a state saved by another replica if it is newer than this one's.
    ///
    /// Returns whether anything changed. A state of the same generation with another mode is a
    /// conflict ([`Error::InvalidConfig`]): two replicas switched independently.
    pub fn adopt(&self, state: PolicyState) -> Result<bool> {
        check_generation(&state)?;
        let mut current = self.state.lock();
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
        let event = AuditEvent::StateAdopted {
            mode: state.mode,
            generation: state.generation,
            switched_by: state.switched_by.clone(),
        };
        self.commit(&mut current, state);
        drop(current);
        self.audit(event);
        Ok(true)
    }

    /// Each connection with what it serves (`workspace`, `project:<id>`), in the order
    /// configured, projects sorted.
    pub(crate) fn served(&self) -> Vec<(&Connection, String)> {
        let mut served = Vec::new();
        if let Some(id) = self.workspace {
            served.push((&self.connections[id], "workspace".to_owned()));
        }
        let mut projects: Vec<_> = self.projects.iter().collect();
        projects.sort();
        for (project, &id) in projects {
            served.push((&self.connections[id], format!("project:{project}")));
        }
        served
    }

    /// Hands `event` to the audit sink.
    pub(crate) fn audit(&self, event: AuditEvent) {
        self.audit.record(&AuditRecord::now(event));
    }

    /// Sends audit records to `sink` from now on.
    pub(crate) fn set_audit(&mut self, sink: Arc<dyn AuditSink>) {
        self.audit = sink;
    }

    /// Adds `reference` to the known references, so switch plans report it even before
    /// anything resolves it.
    pub fn register(&self, reference: &str) -> Result<()> {
        self.registry.parse(reference)?;
        Ok(())
    }

    /// The references known to be in use: registered, or seen by a resolve (every reference
    /// the manager fetched or refused, every reference text it remembers parsed, and every
    /// hit on a connection more than one scope reaches), in canonical order.
    pub fn known_references(&self) -> Vec<SecretRef> {
        self.registry.known()
    }

    /// The connection of the workspace scope, if one is configured.
    pub fn workspace_connection(&self) -> Option<&Connection> {
        self.workspace.map(|i| &self.connections[i])
    }

    /// The connection of `project`, if one is configured.
    pub fn project_connection(&self, project: &ProjectId) -> Option<&Connection> {
        self.projects.get(project).map(|&i| &self.connections[i])
    }

    /// The connection that serves references written for `scope`, whatever the active mode.
    pub fn connection_for(&self, scope: &RefScope) -> Option<&Connection> {
        match scope {
            RefScope::Workspace => self.workspace_connection(),
            RefScope::Project(p) => self.project_connection(p),
        }
    }

    /// Every configured connection, each once.
    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// The connections that serve references in the active mode.
    pub fn active_connections(&self) -> Vec<&Connection> {
        let mode = self.mode();
        (0..self.connections.len())
            .filter(|&i| self.serves(mode, i))
            .map(|i| &self.connections[i])
            .collect()
    }

    /// The connection named `name`.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name() == name)
    }

    /// Makes `next` the state: the one place a switch takes effect, however it was asked for.
    ///
    /// Resolves that start from here on see the new mode; those in flight re-check it before
    /// returning ([`Route::confirm`]). Then the cached values of every connection that no
    /// longer serves are dropped: they could not be served (the scope check comes before the
    /// cache), but they are secrets held in memory for nothing.
    fn commit(&self, state: &mut MutexGuard<'_, PolicyState>, next: PolicyState) {
        self.word
            .store(pack(next.mode, next.generation), Ordering::SeqCst);
        for (i, connection) in self.connections.iter().enumerate() {
            if !self.serves(next.mode, i) {
                connection.stack().cache.clear();
            }
        }
        **state = next;
    }

    fn load(&self) -> (ScopeMode, u64) {
        unpack(self.word.load(Ordering::SeqCst))
    }

    /// Whether connection `id` serves references in `mode`.
    fn serves(&self, mode: ScopeMode, id: usize) -> bool {
        match mode {
            ScopeMode::Workspace => self.workspace == Some(id),
            ScopeMode::Project => self.projects.values().any(|&i| i == id),
        }
    }

    /// Puts `layers` in front of every connection's backend.
    pub(crate) fn compose(&mut self, layers: &Layers) {
        let clock = layers.clock();
        for connection in &mut self.connections {
            connection.compose(layers, &clock);
        }
    }

    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Picks the connection for `reference` in the active mode.
    ///
    /// A Key Vault identifier is routed only if it names the host its connection points to:
    /// this is the one place that rule is checked, before any I/O.
    #[inline]
    pub(crate) fn route(&self, reference: &SecretRef) -> Result<Route<'_>, Refusal<'_>> {
        let (mode, generation) = self.load();
        let id = match (mode, reference.scope()) {
            (ScopeMode::Workspace, RefScope::Workspace) => self.workspace,
            (ScopeMode::Project, RefScope::Project(p)) => self.projects.get(p).copied(),
            _ => return Err(Refusal::Invalidated(mode)),
        };
        let Some(id) = id else {
            return Err(Refusal::NotConfigured);
        };
        let connection = &self.connections[id];
        if !serves_host(connection, reference) {
            return Err(Refusal::UnconfiguredHost(connection));
        }
        Ok(Route {
            policy: self,
            connection,
            shared: self.shared[id],
            generation,
        })
    }
}

/// The identifier-host rule, in one place: a Key Vault identifier is served only by a
/// connection that points to the vault it names; other references by any connection.
#[inline(always)]
pub(crate) fn serves_host(connection: &Connection, reference: &SecretRef) -> bool {
    match reference.vault_host() {
        // Nearly every reference: inlined, so a hit does not call out for it.
        None => true,
        Some(host) => points_to(connection, host),
    }
}

#[cold]
fn points_to(connection: &Connection, host: &str) -> bool {
    connection.location().host() == Some(host)
}

impl fmt::Debug for ScopePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mode, generation) = self.load();
        let mut projects: Vec<(&str, &ConnectionName)> = self
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
    known_limit: usize,
    audit: Arc<dyn AuditSink>,
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
            .field("known_reference_limit", &self.known_limit)
            .field("audit", &self.audit)
            .finish()
    }
}

impl ScopePolicyBuilder {
    /// The connection every project uses in workspace mode.
    pub fn with_workspace_connection(mut self, connection: Connection) -> Self {
        self.workspace = Some(connection);
        self
    }

    /// The connection of `project` in project mode. Projects may share a connection (the same
    /// [`Connection`], cloned); two different backends may not share a name.
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

    /// How many distinct references the policy remembers
    /// ([`DEFAULT_KNOWN_REFERENCE_LIMIT`] by default). Beyond it, switch plans say they may be
    /// incomplete, and new reference texts are parsed on every resolve.
    pub fn with_known_reference_limit(mut self, limit: usize) -> Self {
        self.known_limit = limit;
        self
    }

    /// Where audit records of plans, switches and adopted states go; [`TracingAudit`] by
    /// default. See [`audit`](crate::audit).
    pub fn with_audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// Checks the settings and builds the policy.
    pub fn build(self) -> Result<ScopePolicy> {
        check_generation(&self.state)?;
        let mut connections: Vec<Connection> = Vec::new();
        let mut add = |connection: Connection, field: &str| -> Result<usize> {
            connection.validate(field)?;
            if let Some(i) = connections
                .iter()
                .position(|c| c.name() == connection.name())
            {
                if connections[i].same_as(&connection) {
                    return Ok(i);
                }
                return Err(Error::invalid_config(
                    field,
                    format!(
                        "another connection is already named `{}`; a connection has one name, so give each backend its own",
                        connection.name()
                    ),
                ));
            }
            connections.push(connection);
            Ok(connections.len() - 1)
        };
        let workspace = self
            .workspace
            .map(|c| add(c, "workspace connection"))
            .transpose()?;
        let mut projects = HashMap::default();
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
        let registry = Registry::new(self.known_limit);
        for (number, reference) in self.known.iter().enumerate() {
            registry.parse(reference).map_err(|e| {
                Error::invalid_config(format!("known reference #{}", number + 1), e.to_string())
            })?;
        }
        let shared = (0..connections.len())
            .map(|id| {
                let scopes = usize::from(workspace == Some(id))
                    + projects.values().filter(|&&i| i == id).count();
                scopes > 1
            })
            .collect();
        Ok(ScopePolicy {
            word: AtomicU64::new(pack(self.state.mode, self.state.generation)),
            state: Mutex::new(self.state),
            connections,
            workspace,
            projects,
            shared,
            registry,
            plans: AtomicU64::new(0),
            audit: self.audit,
        })
    }
}
