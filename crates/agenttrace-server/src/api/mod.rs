//! The JSON API under `/api/v1`, described by the OpenAPI document at `/api/openapi.json`.

pub mod auth;
pub mod dto;
pub mod meta;
pub mod openapi;
pub mod otlp;
pub mod projects;
pub mod shares;
pub mod traces;
