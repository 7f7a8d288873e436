//! Bodies of the inboxes endpoints.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use validator::Validate;

use super::fields;
use super::InboxDto;

/// Body of `POST /inboxes`.
#[derive(Debug, Clone, Deserialize, Validate, ToSchema)]
pub struct InboxCreateRequest {
    /// The name of the inbox.
    #[serde(default)]
    #[schema(value_type = String, required = true, max_length = 255, pattern = r"\S", example = "Support")]
    #[validate(custom(function = "fields::required_name"))]
    pub name: Value,
    /// The channel; only `{"type": "api"}` can be created here.
    #[serde(default)]
    #[schema(value_type = ChannelRequest, required = true)]
    #[validate(custom(function = "fields::channel"))]
    pub channel: Value,
}

impl InboxCreateRequest {
    pub fn name(&self) -> String {
        fields::text(&self.name).unwrap_or_default()
    }

    pub fn channel_type(&self) -> String {
        self.channel.get("type").and_then(fields::text).unwrap_or_default()
    }
}

/// An inbox's channel.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChannelRequest {
    /// The kind of channel; only `api` is supported.
    #[schema(pattern = "^api$", example = "api")]
    #[serde(rename = "type")]
    pub channel_type: String,
}

/// Response of `GET /inboxes`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboxListResponse {
    pub payload: Vec<InboxDto>,
}
