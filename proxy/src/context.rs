//! The per-request state that the phases of [`crate::service`] thread through, in one
//! place (as Pingora's `ProxyHttp::CTX`): the config generation the request runs on, who is
//! asking, the plugin versions it uses, what was tried and how it ended. The service fills it; [`crate::accounting`]
//! turns it into the request's one usage record. Neither imports the other for it.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use crate::config::compile::{ClientKey, RuntimeConfig};
use crate::failover::AttemptRecord;
use crate::format::WireFormat;
use crate::limits::Ticket;
use crate::plugin_registry::PluginSnapshot;
use crate::relay::{RelayEnd, RelayReport};

/// Per-request state, threaded through the phases.
#[derive(Debug)]
pub struct RequestCtx {
    /// The id returned in `x-request-id`.
    pub id: String,
    /// When the request head was read.
    pub started: Instant,
    /// The same moment on the wall clock, for the usage record.
    pub started_at: SystemTime,
    /// The config generation this request runs on, start to finish.
    pub config: Arc<RuntimeConfig>,
    /// The plugin versions this request runs on, start to finish (a swap meanwhile serves
    /// the next request).
    pub plugins: PluginSnapshot,
    /// The client's format (decides the error shape).
    pub format: WireFormat,
    /// The authenticated client key.
    pub client: Option<Arc<ClientKey>>,
    /// The model asked for.
    pub model: Option<String>,
    /// Every upstream attempt.
    pub attempts: Vec<AttemptRecord>,
    /// The status sent to the client.
    pub status: Option<u16>,
    /// How the response ended.
    pub end: Option<RelayEnd>,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// The format of the upstream that answered.
    pub upstream_format: Option<WireFormat>,
    /// What the relay saw (usage, first byte).
    pub report: Option<RelayReport>,
    /// The error that ended the request, as (kind, client-safe message).
    pub error: Option<(&'static str, String)>,
    /// Where the usage record is.
    pub lifecycle: Lifecycle,
    /// The request body, kept only when usage records store bodies.
    pub request_body: Option<Bytes>,
    /// What the request holds of its limits, settled when its record is final.
    pub limits: Option<Ticket>,
}

/// Whether the hook has seen this request's `Accepted` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifecycle {
    /// Nothing submitted yet.
    #[default]
    Unrecorded,
    /// `Accepted` submitted; `Finished` is still owed.
    Accepted,
}
