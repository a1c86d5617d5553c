//! `/settings`: the account, projects with their members and API keys.

use super::pages::{Layout, render, signed_in};
use crate::app::AppState;
use crate::problem::Problem;
use crate::ui::format;
use agenttrace_store::Role;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

struct MemberRow {
    user_id: String,
    email: String,
    role: &'static str,
}

struct KeyRow {
    id: String,
    name: String,
    scope: &'static str,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

struct ProjectBox {
    id: String,
    name: String,
    role: &'static str,
    personal: bool,
    write: bool,
    manage: bool,
    members: Vec<MemberRow>,
    keys: Vec<KeyRow>,
}

struct LinkRow {
    id: String,
    trace_id: String,
    trace_name: String,
    project: String,
    created: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    l: Layout,
    email: String,
    is_admin: bool,
    roles: Vec<&'static str>,
    projects: Vec<ProjectBox>,
    links: Vec<LinkRow>,
}

pub async fn page(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Response {
    let (principal, csrf) = match signed_in(&state, &headers, &uri).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let Some(user) = principal.user() else {
        return Problem::not_found("page").into_response();
    };
    let now = state.clock.now_us();
    let mut projects = Vec::new();
    let found = match state.store.projects_of(&user.id).await {
        Ok(found) => found,
        Err(e) => return Problem::from(e).into_response(),
    };
    for (project, role) in found {
        let manage = role.can_manage();
        let (members, keys) = if manage {
            let members = match state.store.members(&project.id).await {
                Ok(members) => members,
                Err(e) => return Problem::from(e).into_response(),
            };
            let keys = match state.store.api_keys(&project.id).await {
                Ok(keys) => keys,
                Err(e) => return Problem::from(e).into_response(),
            };
            (
                members
                    .into_iter()
                    .map(|m| MemberRow {
                        user_id: m.user_id,
                        email: m.email,
                        role: m.role.as_str(),
                    })
                    .collect(),
                keys.into_iter()
                    .map(|k| KeyRow {
                        id: k.id,
                        name: k.name,
                        scope: k.scope.as_str(),
                        prefix: k.prefix,
                        created: format::age(k.created_at_us, now),
                        last_used: k
                            .last_used_at_us
                            .map_or_else(|| "never".to_owned(), |t| format::age(t, now)),
                        revoked: k.revoked_at_us.is_some(),
                    })
                    .collect(),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        projects.push(ProjectBox {
            personal: project.personal_of.as_deref() == Some(user.id.as_str()),
            id: project.id,
            name: project.name,
            role: role.as_str(),
            write: role.can_write(),
            manage,
            members,
            keys,
        });
    }
    // Links of the projects where the user may share (and so revoke).
    let sharing: Vec<String> = projects
        .iter()
        .filter(|p| p.write)
        .map(|p| p.id.clone())
        .collect();
    let names: std::collections::HashMap<String, String> = projects
        .iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    let links = match state.store.live_shares(&sharing, now, 200).await {
        Ok(links) => links
            .into_iter()
            .map(|link| LinkRow {
                id: link.share.id,
                trace_id: link.share.trace_id,
                trace_name: link.trace_name,
                project: names.get(&link.project_id).cloned().unwrap_or_default(),
                created: format::age(link.share.created_at_us, now),
                expires: link
                    .share
                    .expires_at_us
                    .map_or_else(|| "never".to_owned(), agenttrace_core::timefmt::format_us),
            })
            .collect(),
        Err(e) => return Problem::from(e).into_response(),
    };
    render(
        StatusCode::OK,
        &SettingsPage {
            links,
            l: Layout::for_user("settings", &principal, &csrf),
            email: user.email.clone(),
            is_admin: user.is_admin,
            roles: [Role::Owner, Role::Admin, Role::Member, Role::Viewer]
                .iter()
                .map(|r| r.as_str())
                .collect(),
            projects,
        },
    )
}
