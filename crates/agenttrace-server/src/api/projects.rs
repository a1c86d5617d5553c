//! Projects, their members and their API keys.

use crate::app::AppState;
use crate::auth::tokens::{hash_token, new_api_key};
use crate::principal::{Principal, deny_unless};
use crate::problem::Problem;
use agenttrace_core::timefmt::format_us;
use agenttrace_store::{ApiKey, KeyScope, Role, new_id};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectDto {
    pub id: String,
    pub name: String,
    /// The caller's role in the project.
    pub role: String,
    /// Whether this is the caller's personal project.
    pub personal: bool,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub items: Vec<ProjectDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProject {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub added_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMember {
    /// The email of an existing account.
    pub email: String,
    /// owner, admin, member or viewer.
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleChange {
    pub role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApiKey {
    pub name: String,
    /// `ingest` (create traces, read nothing) or `read`.
    pub scope: String,
    /// RFC 3339; the key stops working then.
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: String,
    pub name: String,
    pub scope: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub info: ApiKeyDto,
    /// The key itself. It is shown this once and stored only as a hash.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyDto>,
}

fn user_of(principal: &Principal) -> Result<&agenttrace_store::User, Problem> {
    principal.user().ok_or_else(|| {
        Problem::new(
            StatusCode::FORBIDDEN,
            "permission-denied",
            "API keys cannot manage projects",
        )
    })
}

fn parse_role(text: &str) -> Result<Role, Problem> {
    text.parse::<Role>().map_err(|_| {
        Problem::bad_parameter("role", "`role` must be one of owner, admin, member, viewer")
    })
}

fn check_name(name: &str, field: &str) -> Result<String, Problem> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(Problem::bad_parameter(
            field,
            format!("`{field}` must be 1 to 200 printable characters"),
        ));
    }
    Ok(name.to_owned())
}

/// The projects the caller belongs to.
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects",
    responses((status = 200, description = "Projects with the caller's role", body = ProjectList)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<ProjectList>, Problem> {
    let user = user_of(&principal)?;
    let projects = state.store.projects_of(&user.id).await?;
    Ok(Json(ProjectList {
        items: projects
            .into_iter()
            .map(|(p, role)| ProjectDto {
                personal: p.personal_of.as_deref() == Some(user.id.as_str()),
                id: p.id,
                name: p.name,
                role: role.as_str().to_owned(),
                created_at: format_us(p.created_at_us),
            })
            .collect(),
    }))
}

/// Create a project; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", request_body = NewProject,
    responses((status = 201, description = "Created", body = ProjectDto)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewProject>,
) -> Result<(StatusCode, Json<ProjectDto>), Problem> {
    let user = user_of(&principal)?;
    let name = check_name(&body.name, "name")?;
    let project = state.store.create_project(&name, &user.id).await?;
    tracing::info!(target: "security", event = "project_created", user_id = %user.id, project_id = %project.id, "project created");
    Ok((
        StatusCode::CREATED,
        Json(ProjectDto {
            id: project.id,
            name: project.name,
            role: Role::Owner.as_str().to_owned(),
            personal: false,
            created_at: format_us(project.created_at_us),
        }),
    ))
}

/// The members of a project.
#[utoipa::path(get, path = "/api/v1/projects/{id}/members", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Members", body = MemberList),
        (status = 404, description = "No such project (or not yours)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn members(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, Problem> {
    user_of(&principal)?;
    principal.require(&state, &id, "project").await?;
    let members = state.store.members(&id).await?;
    Ok(Json(MemberList {
        items: members
            .into_iter()
            .map(|m| MemberDto {
                user_id: m.user_id,
                email: m.email,
                role: m.role.as_str().to_owned(),
                added_at: format_us(m.created_at_us),
            })
            .collect(),
    }))
}

fn last_owner() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "last-owner",
        "a project needs at least one owner: make someone else owner first",
    )
}

/// Checks that the caller may give or take `role` (only owners deal in owners) and that the
/// project keeps an owner.
async fn check_role_change(
    state: &AppState,
    principal: &Principal,
    project_id: &str,
    user_id: &str,
    new_role: Option<Role>,
) -> Result<(), Problem> {
    let access = principal.require(state, project_id, "project").await?;
    deny_unless(access.manage, principal, "manage this project's members")?;
    let current = state.store.role_of(project_id, user_id).await?;
    let touches_owner = current == Some(Role::Owner) || new_role == Some(Role::Owner);
    deny_unless(!touches_owner || access.owner, principal, "change an owner")?;
    if current == Some(Role::Owner) && new_role != Some(Role::Owner) {
        let owners = state
            .store
            .members(project_id)
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(last_owner());
        }
    }
    Ok(())
}

/// Add a member (or change the role of an existing one).
#[utoipa::path(post, path = "/api/v1/projects/{id}/members", tag = "projects", request_body = NewMember,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 201, description = "Added", body = MemberDto),
        (status = 403, description = "Not an admin of the project", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn add_member(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<NewMember>,
) -> Result<(StatusCode, Json<MemberDto>), Problem> {
    user_of(&principal)?;
    let role = parse_role(&body.role)?;
    let email = body.email.trim().to_lowercase();
    // Check the caller's rights before looking the account up, so non-admins learn nothing.
    let access = principal.require(&state, &id, "project").await?;
    deny_unless(access.manage, &principal, "manage this project's members")?;
    let user = state
        .store
        .user_by_email(&email)
        .await?
        .ok_or_else(|| Problem::not_found("account"))?;
    check_role_change(&state, &principal, &id, &user.id, Some(role)).await?;
    if !state.store.set_member(&id, &user.id, role).await? {
        return Err(last_owner());
    }
    tracing::info!(target: "security", event = "member_changed", by = %principal.actor(), project_id = %id, user_id = %user.id, role = role.as_str(), "member added");
    Ok((
        StatusCode::CREATED,
        Json(MemberDto {
            user_id: user.id,
            email: user.email,
            role: role.as_str().to_owned(),
            added_at: format_us(state.clock.now_us()),
        }),
    ))
}

/// Change a member's role.
#[utoipa::path(patch, path = "/api/v1/projects/{id}/members/{user_id}", tag = "projects", request_body = RoleChange,
    params(("id" = String, Path, description = "Project id"), ("user_id" = String, Path, description = "Member's user id")),
    responses(
        (status = 204, description = "Changed"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, user_id)): Path<(String, String)>,
    Json(body): Json<RoleChange>,
) -> Result<StatusCode, Problem> {
    user_of(&principal)?;
    let role = parse_role(&body.role)?;
    check_role_change(&state, &principal, &id, &user_id, Some(role)).await?;
    if state.store.role_of(&id, &user_id).await?.is_none() {
        return Err(Problem::not_found("member"));
    }
    if !state.store.set_member(&id, &user_id, role).await? {
        return Err(last_owner());
    }
    tracing::info!(target: "security", event = "member_changed", by = %principal.actor(), project_id = %id, user_id = %user_id, role = role.as_str(), "role changed");
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a member.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/members/{user_id}", tag = "projects",
    params(("id" = String, Path, description = "Project id"), ("user_id" = String, Path, description = "Member's user id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not allowed", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or member", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn remove_member(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    user_of(&principal)?;
    check_role_change(&state, &principal, &id, &user_id, None).await?;
    if !state.store.remove_member(&id, &user_id).await? {
        return Err(if state.store.role_of(&id, &user_id).await?.is_some() {
            last_owner()
        } else {
            Problem::not_found("member")
        });
    }
    tracing::info!(target: "security", event = "member_changed", by = %principal.actor(), project_id = %id, user_id = %user_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

fn key_dto(key: &ApiKey) -> ApiKeyDto {
    ApiKeyDto {
        id: key.id.clone(),
        name: key.name.clone(),
        scope: key.scope.as_str().to_owned(),
        prefix: key.prefix.clone(),
        created_at: format_us(key.created_at_us),
        expires_at: key.expires_at_us.map(format_us),
        last_used_at: key.last_used_at_us.map(format_us),
        revoked_at: key.revoked_at_us.map(format_us),
    }
}

/// Create an API key; the key is in the answer, once.
#[utoipa::path(post, path = "/api/v1/projects/{id}/api-keys", tag = "projects", request_body = NewApiKey,
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 201, description = "Created; `key` is shown only now", body = CreatedApiKey),
        (status = 403, description = "Not an admin of the project", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<NewApiKey>,
) -> Result<(StatusCode, Json<CreatedApiKey>), Problem> {
    user_of(&principal)?;
    let access = principal.require(&state, &id, "project").await?;
    deny_unless(access.manage, &principal, "manage this project's API keys")?;
    let name = check_name(&body.name, "name")?;
    let scope = match body.scope.as_str() {
        "ingest" => KeyScope::Ingest,
        "read" => KeyScope::Read,
        _ => {
            return Err(Problem::bad_parameter(
                "scope",
                "`scope` must be ingest or read",
            ));
        }
    };
    let now = state.clock.now_us();
    let expires_at_us = crate::problem::future_time("expires_at", body.expires_at.as_deref(), now)?;
    let (secret, prefix) = new_api_key();
    let key = ApiKey {
        id: new_id(),
        project_id: id.clone(),
        name,
        prefix,
        key_hash: hash_token(&secret),
        scope,
        created_by: Some(principal.actor()),
        created_at_us: now,
        expires_at_us,
        last_used_at_us: None,
        revoked_at_us: None,
    };
    state.store.insert_api_key(&key).await?;
    tracing::info!(target: "security", event = "api_key_created", by = %principal.actor(), project_id = %id, key_id = %key.id, prefix = %key.prefix, scope = scope.as_str(), "API key created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKey {
            info: key_dto(&key),
            key: secret,
        }),
    ))
}

/// The project's API keys (never the keys themselves).
#[utoipa::path(get, path = "/api/v1/projects/{id}/api-keys", tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "Keys", body = ApiKeyList),
        (status = 403, description = "Not an admin of the project", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ApiKeyList>, Problem> {
    user_of(&principal)?;
    let access = principal.require(&state, &id, "project").await?;
    deny_unless(access.manage, &principal, "see this project's API keys")?;
    let keys = state.store.api_keys(&id).await?;
    Ok(Json(ApiKeyList {
        items: keys.iter().map(key_dto).collect(),
    }))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/projects/{id}/api-keys/{key_id}", tag = "projects",
    params(("id" = String, Path, description = "Project id"), ("key_id" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Not an admin of the project", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project or key", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<StatusCode, Problem> {
    user_of(&principal)?;
    let access = principal.require(&state, &id, "project").await?;
    deny_unless(access.manage, &principal, "manage this project's API keys")?;
    if !state
        .store
        .revoke_api_key(&id, &key_id, state.clock.now_us())
        .await?
    {
        return Err(Problem::not_found("API key"));
    }
    tracing::info!(target: "security", event = "api_key_revoked", by = %principal.actor(), project_id = %id, key_id = %key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
