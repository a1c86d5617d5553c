//! The OpenAPI document, generated from the handlers' annotations so it cannot drift from them.

use crate::api::{auth, dto, meta, projects, shares, traces};
use crate::problem::Problem;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    info(
        title = "AgentTrace API",
        description = "Ingest agent traces and read them back. Errors are application/problem+json (RFC 9457).",
        license(name = "Apache-2.0"),
    ),
    paths(
        traces::upload,
        traces::list,
        traces::get,
        traces::get_step,
        traces::search_steps,
        traces::export,
        traces::delete,
        meta::health,
        crate::health::ready,
        meta::trace_schema,
        shares::create,
        shares::revoke,
        shares::revoke_by_id,
        shares::view,
        shares::view_step,
        shares::search_steps,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::change_password,
        auth::me,
        auth::create_session,
        auth::delete_session,
        auth::create_user,
        projects::list,
        projects::create,
        projects::members,
        projects::add_member,
        projects::change_member,
        projects::remove_member,
        projects::create_key,
        projects::list_keys,
        projects::revoke_key,
    ),
    components(schemas(
        Problem,
        dto::Created,
        dto::TraceList,
        dto::TraceSummary,
        dto::TraceDetail,
        dto::StepDto,
        dto::Health,
        crate::health::Readiness,
        crate::health::Component,
    )),
    tags(
        (name = "traces", description = "Upload and read traces"),
        (name = "auth", description = "Accounts, tokens and sessions"),
        (name = "projects", description = "Projects, members and API keys"),
        (name = "shares", description = "Read-only share links"),
        (name = "meta", description = "Health and formats"),
    )
)]
pub struct ApiDoc;

/// Operations anyone may call, without credentials.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/health/ready"),
    ("get", "/api/v1/schema/trace.json"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/session"),
    ("get", "/api/v1/share/{token}"),
    ("get", "/api/v1/share/{token}/steps/{step_id}"),
    ("get", "/api/v1/share/{token}/search"),
];

/// Declares the bearer scheme (an access token or an API key), marks the public operations as
/// needing none, and documents the 401 every other operation can answer.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        use utoipa::openapi::{RefOr, ResponseBuilder};
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                if PUBLIC.contains(&(method, path.as_str())) {
                    operation.security = Some(vec![SecurityRequirement::default()]);
                    continue;
                }
                let unauthorized = ResponseBuilder::new()
                    .description("No credentials, or bad, expired or revoked ones")
                    .content(
                        crate::problem::CONTENT_TYPE,
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build();
                operation
                    .responses
                    .responses
                    .entry("401".to_owned())
                    .or_insert(RefOr::T(unauthorized));
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from /api/v1/auth/login, or an API key (atk_…)",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as JSON text, with the server's version.
pub fn openapi_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.to_pretty_json().unwrap_or_else(|e| {
        format!("{{\"error\": \"openapi document could not be written: {e}\"}}")
    })
}
