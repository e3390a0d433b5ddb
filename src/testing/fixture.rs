//! [`Fixture`]: a workspace of memory backends, for the tests of services that use secretscope.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::connection::Connection;
use crate::manager::WorkspaceManager;
use crate::memory::MemoryBackend;
use crate::scope::{ScopeMode, ScopePolicy};

/// Secrets for the workspace and for each project, in memory, and managers over them: what a
/// service's tests need to run its code that resolves secrets, without a vault.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use secretscope::prelude::*;
/// use secretscope::testing::Fixture;
/// use secretscope::ScopeMode;
///
/// let fixture = Fixture::new()
///     .with_workspace_secret("db-password", "workspace-secret")
///     .with_project_secret("billing", "db-password", "billing-secret");
/// let manager = fixture.manager(ScopeMode::Project);
/// let value = manager.resolve("project:billing/db-password").await?;
/// assert_eq!(value.expose_secret(), "billing-secret");
///
/// // Rotate a secret while the service runs; the manager sees it once its cache lets go.
/// fixture.workspace().set("db-password", "rotated")?;
/// # Ok::<(), secretscope::Error>(())
/// # }).unwrap();
/// ```
///
/// The workspace connection is named `workspace`, a project's `project-<id>`. Managers built
/// from one fixture share its backends (each has its own cache).
#[derive(Debug)]
pub struct Fixture {
    workspace: Arc<MemoryBackend>,
    projects: BTreeMap<String, Arc<MemoryBackend>>,
    known: Vec<String>,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    /// No secrets, no projects.
    pub fn new() -> Self {
        Self {
            workspace: Arc::new(MemoryBackend::new()),
            projects: BTreeMap::new(),
            known: Vec::new(),
        }
    }

    /// Adds a workspace-level secret.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid secret name: a fixture is test code, where a typo should
    /// stop the test at once.
    pub fn with_workspace_secret(self, name: &str, value: &str) -> Self {
        if let Err(error) = self.workspace.set(name, value) {
            panic!("fixture: {error}");
        }
        self
    }

    /// Adds a secret to `project`'s connection (made on first use).
    ///
    /// # Panics
    ///
    /// When `name` is not a valid secret name.
    pub fn with_project_secret(mut self, project: &str, name: &str, value: &str) -> Self {
        let backend = self.projects.entry(project.to_owned()).or_default();
        if let Err(error) = backend.set(name, value) {
            panic!("fixture: {error}");
        }
        self
    }

    /// Adds a reference known to be in use, reported by switch plans.
    pub fn with_known_reference(mut self, reference: &str) -> Self {
        self.known.push(reference.to_owned());
        self
    }

    /// The workspace's backend, to change its secrets.
    pub fn workspace(&self) -> &MemoryBackend {
        &self.workspace
    }

    /// A project's backend, if it has secrets.
    pub fn project(&self, project: &str) -> Option<&MemoryBackend> {
        self.projects.get(project).map(|backend| &**backend)
    }

    /// A manager over the fixture's backends in `mode`, with the default layers.
    ///
    /// # Panics
    ///
    /// When a project ID or a known reference is invalid.
    pub fn manager(&self, mode: ScopeMode) -> WorkspaceManager {
        WorkspaceManager::new(self.policy(mode))
    }

    /// The scope policy over the fixture's backends in `mode`, to build a manager with layers
    /// of your own.
    ///
    /// # Panics
    ///
    /// When a project ID or a known reference is invalid.
    pub fn policy(&self, mode: ScopeMode) -> ScopePolicy {
        let workspace: Arc<dyn crate::SecretBackend> = self.workspace.clone();
        let mut builder = ScopePolicy::builder(mode)
            .with_workspace_connection(Connection::from_arc("workspace", workspace));
        for (project, backend) in &self.projects {
            let backend: Arc<dyn crate::SecretBackend> = backend.clone();
            builder = builder.with_project_connection(
                project.clone(),
                Connection::from_arc(format!("project-{project}"), backend),
            );
        }
        for reference in &self.known {
            builder = builder.with_known_reference(reference.clone());
        }
        builder
            .build()
            .unwrap_or_else(|error| panic!("fixture: {error}"))
    }
}
