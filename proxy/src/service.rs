//! The gateway as a Pingora HTTP application: a fixed series of short phases per request,
//! with the per-request state in one [`RequestCtx`].
//!
//! read head → classify endpoint → authenticate → read body → inspect (the client format's
//! plugin) → route (by model and capabilities, providers of every format) → admit (every
//! limit the request is under, and the first candidate key with room) → failover loop
//! (each candidate gets the client's own request, or one converted for its format) → relay
//! (usage tapped by the upstream format's plugin; converted back for the client when the
//! formats differ) → log. Aether reads the whole request body itself before choosing
//! an upstream (routing and conversion need it, and Pingora's `ProxyHttp` cannot replay a
//! body over 64 KiB), then drives Pingora's connectors in its own failover loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use aether_plugin_sdk::path;
use async_trait::async_trait;
use bytes::Bytes;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, HttpServerOptions, ReusedHttpStream};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;

use crate::accounting;
use crate::body_budget::{BodyBudget, BodyLease};
use crate::capability;
use crate::config::compile::PathSource;
use crate::config::reload::ConfigStore;
use crate::context::{Lifecycle, RequestCtx};
use crate::conversion::Conversion;
use crate::conversion::request::ClientRequest;
use crate::downstream::{self, client_gone};
use crate::edge::EdgeSettings;
use crate::error::GatewayError;
use crate::failover::{self, CandidateRequest, HeaderSource, Outgoing};
use crate::format::ErrorClass;
use crate::format::WireFormat;
use crate::ingress::{self, Endpoint, GeminiAction, GeminiTarget};
use crate::inspect::{self, RequestFacts};
use crate::limits::{self, AdmitInput, Limiter};
use crate::plugin_host::bindings::types::{ErrorInfo, Header, RequestHead};
use crate::plugin_registry::{PluginSnapshot, Plugins};
use crate::relay::{self, BodySample, RelayEnd, RelayParams, RelayReport, ResponseConversion, UsageChunk};
use crate::response_model::ModelRewrite;
use crate::router::{self, Candidate};
use crate::telemetry::Telemetry;
use crate::telemetry::usage::UsageTap;
use crate::upstream::Upstreams;

/// The gateway application.
#[derive(Debug)]
pub struct Gateway {
    store: Arc<ConfigStore>,
    upstreams: Upstreams,
    telemetry: Telemetry,
    plugins: Arc<Plugins>,
    options: HttpServerOptions,
    edge: EdgeSettings,
    /// Requests between their head and their end (shutdown exits when none is left).
    in_flight: AtomicUsize,
    /// The request bodies held at once.
    bodies: Arc<BodyBudget>,
    /// Client-key and provider-key limits.
    limiter: Arc<Limiter>,
}

/// Whether the client connection may serve another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reuse {
    Keep,
    Close,
}

impl Gateway {
    /// A gateway serving the store's current config, reading requests and responses
    /// through `plugins`, recording usage through `telemetry`, holding client connections
    /// to `edge`'s limits.
    pub fn new(store: Arc<ConfigStore>, telemetry: Telemetry, plugins: Arc<Plugins>, edge: EdgeSettings) -> Self {
        let mut options = HttpServerOptions::default();
        options.h2c = true;
        options.h2_idle_timeout = Some(edge.h2_idle);
        Gateway {
            store,
            upstreams: Upstreams::default(),
            telemetry,
            plugins,
            options,
            bodies: BodyBudget::new(edge.max_inflight_body_bytes),
            edge,
            in_flight: AtomicUsize::new(0),
            limiter: Arc::new(Limiter::local()),
        }
    }

    /// The gateway with `limiter` (shared with the admin listener and the upkeep task)
    /// instead of limits of its own in this process.
    #[must_use]
    pub fn with_limiter(mut self, limiter: Arc<Limiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// Requests being served now, from their head to their last byte.
    pub fn requests_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Reads the request head under the edge's deadline: `header` on a new connection;
    /// on a kept-alive one, `keepalive_idle` for the next request's whole head (one timer
    /// for the wait: Pingora's own keep-alive timeout is left off, so a request does not
    /// register two).
    async fn read_head(&self, session: &mut ServerSession) -> bool {
        let kept_alive = session
            .take_connection_user_context()
            .is_some_and(|c| (*c).is::<KeptAlive>());
        let limit = if kept_alive {
            self.edge.keepalive_idle
        } else {
            self.edge.header
        };
        // Pingora's lazy timer: registered only while the head is awaited.
        matches!(
            pingora::time::timeout(limit, session.read_request()).await,
            Ok(Ok(true))
        )
    }

    async fn handle(&self, s: &mut ServerSession, ctx: &mut RequestCtx) -> Result<Reuse, GatewayError> {
        let (format, gemini, purpose) = match self.classify(s, ctx)? {
            Endpoint::Probe => return Ok(probe(s, ctx).await),
            Endpoint::ListModels => {
                authenticate(s, ctx)?;
                return Ok(list_models(s, ctx).await);
            }
            Endpoint::CountTokens { format, gemini } => (format, gemini, Purpose::CountTokens),
            Endpoint::Generate { format, gemini } => (format, gemini, Purpose::Generate),
        };
        let key_hash = authenticate(s, ctx)?;
        let request = self.inspect(s, ctx, format, gemini, purpose).await?;
        let plan = route(ctx, &request, &key_hash)?;
        let answered_upstream = plan
            .candidates
            .first()
            .is_some_and(|c| c.route.provider.format == format);
        if purpose == Purpose::CountTokens && !answered_upstream {
            return Ok(self.count_tokens_locally(s, ctx, &request).await);
        }
        // Token counting generates nothing: no limit applies to it.
        if purpose == Purpose::Generate {
            self.admit(ctx, &request, &plan).await?;
        }
        self.proxy(s, ctx, &request, &plan).await
    }

    /// Phase: which endpoint, and so which format errors are rendered in.
    fn classify(&self, s: &ServerSession, ctx: &mut RequestCtx) -> Result<Endpoint, GatewayError> {
        let header = s.req_header();
        let endpoint = ingress::classify(&header.method, header.uri.path()).map_err(|(format, e)| {
            ctx.format = format;
            e
        })?;
        ctx.format = match &endpoint {
            Endpoint::Generate { format, .. } => *format,
            Endpoint::CountTokens { format, .. } => *format,
            Endpoint::Probe => WireFormat::OpenaiChat,
            Endpoint::ListModels => {
                crate::models::listing_format(&header.headers, header.uri.path(), header.uri.query())
            }
        };
        Ok(endpoint)
    }

    /// Phase: read the body and the routing facts in it.
    async fn inspect(
        &self,
        s: &mut ServerSession,
        ctx: &mut RequestCtx,
        format: WireFormat,
        gemini: Option<GeminiTarget>,
        purpose: Purpose,
    ) -> Result<Inspected, GatewayError> {
        let mut lease = self.bodies.lease();
        let body = downstream::read_body(s, ctx.config.max_body_bytes, &self.edge, &mut lease).await?;
        if self.telemetry.stores_bodies() {
            ctx.request_body = Some(body.clone());
        }
        let head = plugin_head(s.req_header());
        let plugin = ctx.plugins.get(format).clone();
        let inspection = plugin.inspect(&head, &body)?;
        let mut facts = inspect::facts(inspection, &body)?;
        let header = &s.req_header().headers;
        let demanded = header
            .get_all("x-require-capability")
            .iter()
            .filter_map(|v| v.to_str().ok());
        facts.capabilities = facts
            .capabilities
            .union(capability::from_header(demanded).map_err(GatewayError::UnknownCapability)?);
        ctx.model = Some(facts.model.clone());
        ctx.stream = facts.stream && purpose == Purpose::Generate;
        let beta = match s.req_header().uri.query().and_then(|q| ingress::query_param(q, "beta")) {
            Some("true") => ClaudeBeta::Forward,
            _ => ClaudeBeta::Drop,
        };
        // OpenAI Chat streams carry token counts only when asked: ask, so the request can be
        // billed, and keep the usage chunk from a client that did not ask for it.
        let usage_chunk = match (format, ctx.stream) {
            (WireFormat::OpenaiChat, true) if !inspect::asks_for_stream_usage(&body) => UsageChunk::Withhold,
            _ => UsageChunk::Relay,
        };
        Ok(Inspected {
            _lease: lease,
            client: ClientRequest::new(plugin, head, body.clone()),
            body,
            facts,
            format,
            gemini,
            purpose,
            beta,
            usage_chunk,
        })
    }

    /// Phase: every limit the request is under, taken at once; the ticket goes with the
    /// request to its record.
    async fn admit(&self, ctx: &mut RequestCtx, request: &Inspected, plan: &router::Plan) -> Result<(), GatewayError> {
        let Some(client) = ctx.client.clone() else {
            return Ok(());
        };
        let budgets = client.limits.as_ref().is_some_and(|l| l.budgets.any());
        let facts = &request.facts;
        // Tokens and cost are weighed only when some limit can count them.
        let demand = if self.limiter.may_count(&client, &plan.candidates) {
            limits::demand::estimate(
                &ctx.config.pricing,
                &plan.candidates,
                &facts.model,
                (facts.estimated_input_tokens, facts.max_output_tokens),
                budgets,
                limits::now_ms(),
            )
        } else {
            limits::take::Demand::nothing(limits::now_ms())
        };
        let ticket = self
            .limiter
            .admit(AdmitInput {
                id: &ctx.id,
                client: &client,
                model: ctx.config.canonical_model(&request.facts.model),
                demand,
                candidates: &plan.candidates,
                affinity: ctx.config.affinity,
            })
            .await?;
        ctx.limits = Some(ticket);
        Ok(())
    }

    /// Phase: the failover loop, then the relay of the answer.
    async fn proxy(
        &self,
        s: &mut ServerSession,
        ctx: &mut RequestCtx,
        request: &Inspected,
        plan: &router::Plan,
    ) -> Result<Reuse, GatewayError> {
        accounting::accepted(&self.telemetry, ctx);
        let plugins = &ctx.plugins;
        let prepare = |c: &Candidate, upstream_model: &str| prepare(plugins, request, c, upstream_model);
        let client_headers = s.req_header().headers.clone();
        let out = Outgoing {
            requested_model: &request.facts.model,
            client_headers: &client_headers,
            prepare: &prepare,
            stream: request.facts.stream,
        };
        let keys = failover::Keys {
            ticket: ctx.limits.as_mut(),
            limiter: &self.limiter,
        };
        let attempt = failover::run(&self.upstreams, &ctx.config, plan, &out, &mut ctx.attempts, keys);
        let (candidate, response) = tokio::select! {
            result = attempt => result?,
            () = client_gone(s) => {
                ctx.end = Some(RelayEnd::ClientGone);
                return Ok(Reuse::Close);
            }
        };
        ctx.status = Some(response.header.status.as_u16());
        let upstream_format = candidate.route.provider.format;
        ctx.upstream_format = Some(upstream_format);
        if response.streaming {
            accounting::first_byte(&self.telemetry, ctx, Instant::now());
        }
        let client_plugin = ctx.plugins.get(ctx.format).clone();
        let upstream_plugin = ctx.plugins.get(upstream_format).clone();
        let (rewrite, conversion) = match Conversion::between(ctx.format, upstream_format) {
            Conversion::PassThrough => (
                ModelRewrite::new(candidate.upstream_model(&request.facts.model), &request.facts.model),
                None,
            ),
            Conversion::Convert => (
                None,
                Some(ResponseConversion {
                    upstream: &upstream_plugin,
                    client_model: &request.facts.model,
                }),
            ),
        };
        let params = RelayParams {
            request_id: &ctx.id,
            format: ctx.format,
            client_plugin: &client_plugin,
            rewrite: rewrite.as_ref(),
            usage_chunk: request.usage_chunk,
            conversion,
        };
        let report = ctx.report.insert(RelayReport {
            tap: UsageTap::new(upstream_plugin.clone()),
            first_byte_at: None,
            sample: if self.telemetry.stores_bodies() {
                BodySample::Keep(Bytes::new())
            } else {
                BodySample::Off
            },
        });
        let end = relay::relay(s, &self.upstreams, response, params, report).await?;
        let reuse = if end == RelayEnd::Complete {
            Reuse::Keep
        } else {
            Reuse::Close
        };
        ctx.end = Some(end);
        Ok(reuse)
    }

    /// Token counting when no upstream of the client's format would serve the model: a
    /// local estimate, in the shape of the client's format.
    async fn count_tokens_locally(&self, s: &mut ServerSession, ctx: &mut RequestCtx, request: &Inspected) -> Reuse {
        // Tokenizing a multi-megabyte history takes milliseconds of CPU: large bodies are
        // counted on the blocking pool, so the runtime thread keeps serving other requests.
        let (body, format) = (request.body.clone(), request.format);
        let count = move || {
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            match format {
                WireFormat::Gemini => {
                    serde_json::json!({ "totalTokens": crate::count_tokens::estimate_gemini(&value) })
                }
                _ => serde_json::json!({ "input_tokens": crate::count_tokens::estimate(&value) }),
            }
        };
        let answer = if request.body.len() > COUNT_INLINE_BYTES {
            tokio::task::spawn_blocking(count).await.unwrap_or_default()
        } else {
            count()
        };
        let answer = answer.to_string().into_bytes();
        ctx.status = Some(200);
        if downstream::write_json(s, 200, &ctx.id, answer).await {
            Reuse::Keep
        } else {
            Reuse::Close
        }
    }

    async fn respond_error(&self, s: &mut ServerSession, ctx: &mut RequestCtx, error: &GatewayError) -> Reuse {
        let status = error.status();
        ctx.status = Some(status);
        // A message may quote what the client sent (a plugin's "invalid type: string …"):
        // the configured keys are blanked from it before it reaches the record or the client.
        let message = crate::telemetry::bodies::redact(&error.to_string(), &ctx.config.secrets);
        ctx.error = Some((error.kind(), message.clone()));
        // A body left unread would be parsed as the next request: close instead.
        let reuse = if s.is_body_done() { Reuse::Keep } else { Reuse::Close };
        if reuse == Reuse::Close {
            s.set_keepalive(None);
        }
        let body = self.error_body(&ctx.plugins, ctx.format, error, message);
        if downstream::write_json_with(s, status, &ctx.id, body, error.headers()).await {
            reuse
        } else {
            Reuse::Close
        }
    }
}

impl Gateway {
    /// An error in the client's shape, by the client format's plugin; by the built-in
    /// plugin's code natively when the plugin itself failed (or the error is its failure).
    fn error_body(
        &self,
        plugins: &PluginSnapshot,
        format: WireFormat,
        error: &GatewayError,
        message: String,
    ) -> Vec<u8> {
        let native = || format.error_body(error.class(), error.status(), &message);
        if matches!(error, GatewayError::Plugin(_)) {
            return native();
        }
        let info = ErrorInfo {
            class: wit_class(error.class()),
            status: error.status(),
            message: message.clone(),
        };
        plugins.get(format).error_body(&info).unwrap_or_else(|_| native())
    }
}

/// What one candidate is sent: the client's own request for a candidate of its format,
/// a converted one otherwise.
fn prepare(
    plugins: &PluginSnapshot,
    request: &Inspected,
    c: &Candidate,
    upstream_model: &str,
) -> Result<CandidateRequest, GatewayError> {
    let provider = &c.route.provider;
    match Conversion::between(request.format, provider.format) {
        Conversion::PassThrough => Ok(CandidateRequest {
            path: request.upstream_path(c, upstream_model),
            body: request.upstream_body(upstream_model),
            headers: HeaderSource::Client,
        }),
        Conversion::Convert => {
            let encoded = request.client.encode(plugins.get(provider.format), upstream_model)?;
            let path = match provider.path_source {
                PathSource::FormatDefault => provider.url.join(&encoded.path),
                PathSource::Configured => request.configured_path(c, upstream_model),
            };
            Ok(CandidateRequest {
                path,
                body: encoded.body,
                headers: HeaderSource::Converted(encoded.headers),
            })
        }
    }
}

/// The contract's error class for the SDK's (the same enum, generated twice).
fn wit_class(class: ErrorClass) -> crate::plugin_host::bindings::types::ErrorClass {
    use crate::plugin_host::bindings::types::ErrorClass as W;
    match class {
        ErrorClass::InvalidRequest => W::InvalidRequest,
        ErrorClass::Authentication => W::Authentication,
        ErrorClass::Permission => W::Permission,
        ErrorClass::NotFound => W::NotFound,
        ErrorClass::MethodNotAllowed => W::MethodNotAllowed,
        ErrorClass::TooLarge => W::TooLarge,
        ErrorClass::RateLimited => W::RateLimited,
        ErrorClass::Internal => W::Internal,
        ErrorClass::Unavailable => W::Unavailable,
        ErrorClass::Timeout => W::Timeout,
    }
}

/// Headers a plugin never sees: the client's credentials.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "x-api-key",
    "x-goog-api-key",
    "proxy-authorization",
    "cookie",
];

/// The request head as a plugin sees it: credentials removed, and `key` dropped from the
/// query.
fn plugin_head(header: &pingora::http::RequestHeader) -> RequestHead {
    RequestHead {
        method: header.method.as_str().to_owned(),
        path: header.uri.path().to_owned(),
        query: header.uri.query().map(|q| {
            q.split('&')
                .filter(|pair| !pair.starts_with("key="))
                .collect::<Vec<_>>()
                .join("&")
        }),
        headers: header
            .headers
            .iter()
            .filter(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| {
                Some(Header {
                    name: name.as_str().to_owned(),
                    value: value.to_str().ok()?.to_owned(),
                })
            })
            .collect(),
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// A generation (any format).
    Generate,
    /// `POST /v1/messages/count_tokens`.
    CountTokens,
}

/// Whether Claude's `?beta=true` goes upstream (the only client query parameter that does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaudeBeta {
    Forward,
    Drop,
}

/// A request past ingress and inspection: everything the upstream phases need.
#[derive(Debug)]
struct Inspected {
    /// The body's bytes in the gateway-wide budget, given back when the request ends.
    _lease: BodyLease,
    /// The request as the conversion plugins see it (decoded only if a candidate needs it).
    client: ClientRequest,
    body: Bytes,
    facts: RequestFacts,
    format: WireFormat,
    gemini: Option<GeminiTarget>,
    purpose: Purpose,
    beta: ClaudeBeta,
    usage_chunk: UsageChunk,
}

impl Inspected {
    /// The body for a same-format candidate: the client's, with the model swapped and, for
    /// OpenAI Chat streams, usage requested.
    fn upstream_body(&self, upstream_model: &str) -> Bytes {
        let body = if upstream_model == self.facts.model && self.facts.body_model != inspect::BodyModel::Differs {
            self.body.clone()
        } else {
            inspect::rewrite_model(&self.body, &self.facts, upstream_model)
        };
        match self.usage_chunk {
            UsageChunk::Withhold => inspect::with_stream_usage(&body),
            UsageChunk::Relay => body,
        }
    }

    /// A configured path for a converted request: the template, with the action the
    /// request's stream flag implies.
    fn configured_path(&self, c: &Candidate, upstream_model: &str) -> String {
        let provider = &c.route.provider;
        let action = if self.facts.stream {
            GeminiAction::StreamGenerate
        } else {
            GeminiAction::Generate
        };
        let path = render(&provider.path_template, upstream_model, action);
        if provider.format == WireFormat::Gemini && action == GeminiAction::StreamGenerate {
            return path::with_query(path, "alt=sse");
        }
        path
    }

    /// The upstream path and query for a candidate.
    fn upstream_path(&self, c: &Candidate, upstream_model: &str) -> String {
        let provider = &c.route.provider;
        let action = self.gemini.as_ref().map_or(GeminiAction::Generate, |t| t.action);
        let mut path = render(&provider.path_template, upstream_model, action);
        if self.purpose == Purpose::CountTokens && provider.format == WireFormat::Claude {
            path = path::with_suffix(path, "/count_tokens");
        }
        match provider.format {
            WireFormat::Gemini if action == GeminiAction::StreamGenerate => path::with_query(path, "alt=sse"),
            WireFormat::Claude if self.beta == ClaudeBeta::Forward => path::with_query(path, "beta=true"),
            _ => path,
        }
    }
}

/// A provider's path template with the model (as one encoded path segment: a name from
/// the client cannot add segments, a query or a fragment) and the action filled in.
fn render(template: &str, upstream_model: &str, action: GeminiAction) -> String {
    template
        .replace("{model}", &path::segment(upstream_model))
        .replace("{action}", action.as_str())
}

/// Phase: the client key, from whichever header its format uses.
fn authenticate(s: &ServerSession, ctx: &mut RequestCtx) -> Result<[u8; 32], GatewayError> {
    let header = s.req_header();
    let key_hash = ingress::client_key_hash(&header.headers, header.uri.query()).ok_or(GatewayError::MissingKey)?;
    ctx.client = Some(ctx.config.client(&key_hash).cloned().ok_or(GatewayError::InvalidKey)?);
    Ok(key_hash)
}

/// `GET /` and `HEAD /`: the gateway is up. No key is asked for and no record written.
async fn probe(s: &mut ServerSession, ctx: &RequestCtx) -> Reuse {
    const BODY: &[u8] = br#"{"status":"ok"}"#;
    if s.req_header().method == http::Method::HEAD {
        let written = async {
            let mut header = downstream::response_header(200, &ctx.id, 2)?;
            header.insert_header(http::header::CONTENT_TYPE, "application/json")?;
            header.insert_header(http::header::CONTENT_LENGTH, BODY.len().to_string())?;
            s.write_response_header(Box::new(header)).await
        };
        return if written.await.is_ok() {
            Reuse::Keep
        } else {
            Reuse::Close
        };
    }
    if downstream::write_json(s, 200, &ctx.id, BODY.to_vec()).await {
        Reuse::Keep
    } else {
        Reuse::Close
    }
}

/// `GET /v1/models`: answered from the config.
async fn list_models(s: &mut ServerSession, ctx: &mut RequestCtx) -> Reuse {
    let Some(client) = ctx.client.clone() else {
        return Reuse::Close;
    };
    let body = crate::models::listing(&ctx.config, &client, ctx.format);
    ctx.status = Some(200);
    if downstream::write_json(s, 200, &ctx.id, body.to_string().into_bytes()).await {
        Reuse::Keep
    } else {
        Reuse::Close
    }
}

/// Phase: the candidates for the requested model that this key may use.
fn route(ctx: &RequestCtx, request: &Inspected, key_hash: &[u8; 32]) -> Result<router::Plan, GatewayError> {
    let requested = &request.facts.model;
    let canonical = ctx.config.canonical_model(requested);
    let allowed = ctx
        .client
        .as_ref()
        .is_some_and(|c| c.models.allows(canonical) || c.models.allows(requested));
    if !allowed {
        return Err(GatewayError::ModelNotAllowed(requested.clone()));
    }
    let plan = router::plan(
        &ctx.config,
        canonical,
        request.facts.capabilities,
        key_hash,
        Instant::now(),
    );
    if !plan.model_known {
        return Err(GatewayError::UnknownModel(requested.clone()));
    }
    if !plan.missing.is_empty() {
        return Err(GatewayError::MissingCapability {
            model: requested.clone(),
            missing: plan.missing,
        });
    }
    if plan.candidates.is_empty() && plan.skipped_open > 0 {
        return Err(GatewayError::NoHealthyUpstream {
            model: requested.clone(),
        });
    }
    Ok(plan)
}

#[async_trait]
impl HttpServerApp for Gateway {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        if !self.read_head(&mut session).await {
            return None;
        }
        let _counted = InFlight::enter(&self.in_flight);
        self.serve(session, shutdown).await
    }

    fn server_options(&self) -> Option<&HttpServerOptions> {
        Some(&self.options)
    }
}

impl Gateway {
    /// One request, its head read, to its end; the connection back if it may serve another.
    async fn serve(&self, mut session: ServerSession, shutdown: &ShutdownWatch) -> Option<ReusedHttpStream> {
        if *shutdown.borrow() {
            session.set_keepalive(None);
        }
        session.set_abort_on_close(true);
        // A client that stops reading is cut after this long blocked on one write (the
        // relay sees the failed write as the client gone and cancels the upstream).
        session.set_write_timeout(Some(self.edge.write));
        let mut ctx = RequestCtx {
            id: crate::request_id::next(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            config: self.store.current(),
            plugins: self.plugins.snapshot(),
            format: WireFormat::OpenaiChat,
            client: None,
            model: None,
            attempts: Vec::new(),
            status: None,
            end: None,
            stream: false,
            upstream_format: None,
            report: None,
            error: None,
            lifecycle: Lifecycle::Unrecorded,
            request_body: None,
            limits: None,
        };
        let reuse = match self.handle(&mut session, &mut ctx).await {
            Ok(reuse) => reuse,
            Err(error) => self.respond_error(&mut session, &mut ctx, &error).await,
        };
        accounting::finished(&self.telemetry, &mut ctx);
        log_request(&session, &ctx);
        if reuse == Reuse::Close {
            return None;
        }
        // Pingora keeps an HTTP/1.1 connection without a `Connection` header alive with no
        // limit; `read_head`'s deadline on the next request bounds it instead.
        let mut settings = HttpPersistentSettings::for_session(&session);
        settings.set_user_context(Box::new(KeptAlive));
        match session.finish().await {
            Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
            _ => None,
        }
    }
}

/// Bodies up to this size are token-counted on the request's own thread (well under a
/// millisecond); larger ones on the blocking pool.
const COUNT_INLINE_BYTES: usize = 64 * 1024;

/// One request counted in flight until dropped (however its task ends).
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        InFlight(count)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Marks a connection's next request as one on a kept-alive connection.
struct KeptAlive;

/// One line per request at debug level: the usage record is the access log, so the request
/// path does not format and write a line per request by default.
fn log_request(session: &ServerSession, ctx: &RequestCtx) {
    let header = session.req_header();
    tracing::debug!(
        request_id = %ctx.id,
        method = %header.method,
        path = header.uri.path(),
        format = %ctx.format,
        client = ctx.client.as_ref().map_or("-", |c| c.name.as_str()),
        model = ctx.model.as_deref().unwrap_or("-"),
        status = ctx.status.unwrap_or(0),
        attempts = ctx.attempts.len(),
        end = ?ctx.end,
        ms = ctx.started.elapsed().as_millis() as u64,
        "request"
    );
}
