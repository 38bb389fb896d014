//! Aether: an LLM API gateway on Pingora.
//!
//! Clients speak any of four wire formats (Anthropic Messages, OpenAI Chat Completions,
//! OpenAI Responses, Gemini). Aether authenticates them ([`ingress`]), reads the routing
//! facts of the body ([`inspect`]), plans candidates ([`router`], [`circuit`]), tries them in
//! turn on Pingora's connectors ([`failover`], [`upstream`]) and relays the answer, streamed
//! event by event ([`relay`], [`sse`]). [`service`] strings these phases together.
//! [`server`] runs it on Pingora; [`demo`] runs it against a built-in mock upstream.

pub mod accounting;
pub mod admin;
pub mod body_budget;
pub mod capability;
pub mod circuit;
pub mod cli;
pub mod config;
pub mod context;
pub mod conversion;
pub mod count_tokens;
pub mod demo;
pub mod downstream;
pub mod edge;
pub mod error;
pub mod failover;
pub mod format;
pub mod headers;
pub mod ingress;
pub mod inspect;
pub mod limits;
pub mod listener;
pub mod models;
pub mod plugin_host;
pub mod plugin_registry;
pub mod private_dir;
pub mod relay;
pub mod rendezvous;
pub mod request_id;
pub mod response_model;
pub mod router;
pub mod server;
pub mod service;
pub mod sse;
pub mod telemetry;
pub mod upstream;
