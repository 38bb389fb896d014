//! The bindings `wit-bindgen` generates from `wit/plugin.wit`: the IR types, the `Guest`
//! traits for the `format` interface and its resources, and the macro that exports an
//! implementation from a component.
//!
//! This is the one file of the SDK with `unsafe` in it: the generated glue lifts and lowers
//! values across the canonical ABI. Plugin authors never use this module directly; the types
//! are re-exported from the crate root and [`crate::export_plugin!`] wraps the export macro.
#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "wit",
    world: "format-plugin",
    pub_export_macro: true,
    export_macro_name: "__export_format_plugin",
    default_bindings_module: "aether_plugin_sdk::bindings",
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});
