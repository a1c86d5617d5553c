//! Accounts, sessions, projects with roles, API keys and share links: the types and the
//! [`AccountStore`] trait every engine implements. Secrets appear here only as hashes.

use crate::StoreError;
use async_trait::async_trait;
use std::fmt;
use std::str::FromStr;

/// A new time-ordered id (UUID v7), for rows the caller creates.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A member's role in a project. Each role can do everything the ones after it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Everything, including deleting the project and managing owners.
    Owner,
    /// Manage members and API keys; read and write traces.
    Admin,
    /// Read and write traces.
    Member,
    /// Read traces.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    pub fn can_write(self) -> bool {
        self <= Role::Member
    }

    pub fn can_manage(self) -> bool {
        self <= Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {s:?}")))
    }
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyScope {
    /// Create traces; read nothing.
    Ingest,
    /// Read traces; create nothing.
    Read,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Ingest => "ingest",
            KeyScope::Read => "read",
        }
    }
}

impl FromStr for KeyScope {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ingest" => Ok(KeyScope::Ingest),
            "read" => Ok(KeyScope::Read),
            other => Err(StoreError::Corrupt(format!("unknown key scope {other:?}"))),
        }
    }
}

/// Which kind of credential a session row backs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A refresh token of the API.
    Refresh,
    /// A browser session cookie.
    Web,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Refresh => "refresh",
            SessionKind::Web => "web",
        }
    }
}

impl FromStr for SessionKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "refresh" => Ok(SessionKind::Refresh),
            "web" => Ok(SessionKind::Web),
            other => Err(StoreError::Corrupt(format!(
                "unknown session kind {other:?}"
            ))),
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub security_stamp: String,
    pub failed_logins: u32,
    pub locked_until_us: Option<i64>,
    pub created_at_us: i64,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("is_admin", &self.is_admin)
            .field("failed_logins", &self.failed_logins)
            .field("locked_until_us", &self.locked_until_us)
            .finish_non_exhaustive()
    }
}

/// A user to create.
#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub security_stamp: &'a str,
    /// Make the account an instance admin (the first account always becomes one).
    pub is_admin: bool,
    /// Create the account only if it is the instance's first (registration closed).
    pub only_if_first: bool,
}

/// The outcome of [`AccountStore::create_user`].
#[derive(Debug)]
// Made once per registration; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum CreatedUser {
    Created(User, Project),
    EmailTaken,
    /// `only_if_first` was set and the instance already has accounts.
    NotFirst,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub kind: SessionKind,
    pub token_hash: String,
    pub csrf_hash: Option<String>,
    pub created_at_us: i64,
    pub expires_at_us: i64,
    pub rotated_at_us: Option<i64>,
    pub revoked_at_us: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// The user whose personal project this is.
    pub personal_of: Option<String>,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub created_at_us: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    pub id: String,
    pub project_id: String,
    pub name: String,
    /// The first characters of the key, shown to identify it.
    pub prefix: String,
    pub key_hash: String,
    pub scope: KeyScope,
    pub created_by: Option<String>,
    pub created_at_us: i64,
    pub expires_at_us: Option<i64>,
    pub last_used_at_us: Option<i64>,
    pub revoked_at_us: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub id: String,
    pub trace_id: String,
    pub token_hash: String,
    pub created_by: Option<String>,
    pub created_at_us: i64,
    pub expires_at_us: Option<i64>,
    pub revoked_at_us: Option<i64>,
}

/// A live share link with the trace it opens.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedLink {
    pub share: Share,
    pub trace_name: String,
    pub project_id: String,
}

/// The account side of a store.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user with a personal project they own, in one transaction. The first user of
    /// the instance becomes an admin and an owner of the default project. `None` when the email
    /// is taken.
    async fn create_user(&self, new: NewUser<'_>) -> Result<CreatedUser, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError>;
    async fn user_count(&self) -> Result<u64, StoreError>;
    /// Records the outcome of sign-in attempts: the failure count, a lock, and (when locking)
    /// a new security stamp that ends every token already issued.
    async fn set_login_state(
        &self,
        user_id: &str,
        failed_logins: u32,
        locked_until_us: Option<i64>,
        new_stamp: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Sets a new password hash and security stamp.
    /// Counts one failed sign-in at `now_us`, atomically; failures older than `window_us` no
    /// longer count. At `threshold` counted failures the account is locked until
    /// `now_us + window_us`, the count restarts, the security stamp becomes `new_stamp` and every
    /// session is revoked. Returns whether this failure locked the account.
    async fn record_login_failure(
        &self,
        user_id: &str,
        threshold: u32,
        now_us: i64,
        window_us: i64,
        new_stamp: &str,
    ) -> Result<bool, StoreError>;
    /// Clears the failure count after a successful sign-in, and a lock that has expired; a lock
    /// still running at `now_us` stays.
    async fn reset_login_failures(&self, user_id: &str, now_us: i64) -> Result<(), StoreError>;
    async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        new_stamp: &str,
    ) -> Result<(), StoreError>;
    async fn delete_user(&self, user_id: &str) -> Result<bool, StoreError>;

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    /// Marks `old_id` rotated and inserts `new` in one transaction; `false` (and nothing
    /// inserted) when the old session was already rotated or revoked.
    async fn rotate_session(
        &self,
        old_id: &str,
        new: &Session,
        now_us: i64,
    ) -> Result<bool, StoreError>;
    async fn revoke_session_family(&self, family_id: &str, now_us: i64) -> Result<u64, StoreError>;
    /// Revokes every live session of a user, except those of `keep_family`.
    async fn revoke_user_sessions(
        &self,
        user_id: &str,
        keep_family: Option<&str>,
        now_us: i64,
    ) -> Result<u64, StoreError>;

    /// Creates a project owned by `owner_id`.
    async fn create_project(&self, name: &str, owner_id: &str) -> Result<Project, StoreError>;
    async fn project(&self, id: &str) -> Result<Option<Project>, StoreError>;
    /// The projects a user is a member of, with their role, oldest first.
    async fn projects_of(&self, user_id: &str) -> Result<Vec<(Project, Role)>, StoreError>;
    async fn role_of(&self, project_id: &str, user_id: &str) -> Result<Option<Role>, StoreError>;
    async fn members(&self, project_id: &str) -> Result<Vec<Member>, StoreError>;
    /// Adds a member or changes their role.
    /// Adds a member or changes their role. Never takes the project's last owner away: returns
    /// `false` (and changes nothing) when that would happen.
    async fn set_member(
        &self,
        project_id: &str,
        user_id: &str,
        role: Role,
    ) -> Result<bool, StoreError>;
    /// Removes a member; `false` when there was none or it is the last owner.
    async fn remove_member(&self, project_id: &str, user_id: &str) -> Result<bool, StoreError>;

    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn api_keys(&self, project_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(
        &self,
        project_id: &str,
        id: &str,
        now_us: i64,
    ) -> Result<bool, StoreError>;
    async fn touch_api_key(&self, id: &str, now_us: i64) -> Result<(), StoreError>;

    async fn insert_share(&self, share: &Share) -> Result<(), StoreError>;
    async fn share_by_token_hash(&self, token_hash: &str) -> Result<Option<Share>, StoreError>;
    async fn revoke_share(
        &self,
        trace_id: &str,
        token_hash: &str,
        now_us: i64,
    ) -> Result<bool, StoreError>;
    /// Revokes a link of a trace by its id; `false` when there is none.
    async fn revoke_share_by_id(
        &self,
        trace_id: &str,
        share_id: &str,
        now_us: i64,
    ) -> Result<bool, StoreError>;
    /// The links of these projects' traces that still work at `now_us`, newest first (at most
    /// `limit`).
    async fn live_shares(
        &self,
        project_ids: &[String],
        now_us: i64,
        limit: u32,
    ) -> Result<Vec<SharedLink>, StoreError>;
}
