//! Gemini's `parameters` / `responseSchema` (an OpenAPI 3.0 subset) as JSON Schema: type
//! names lower-cased (`OBJECT` → `object`), `nullable: true` folded into the type
//! (`["string", "null"]`), Gemini-only keys (`propertyOrdering`) removed. The schema is a proto
//! message, so Gemini also accepts its fields by their proto names (`any_of`, `max_items`, …),
//! and the `google-genai` SDK sends them that way: they are renamed to the JSON Schema
//! keywords. `parametersJsonSchema` and `responseJsonSchema` are JSON Schema already and pass
//! through untouched.

use serde_json::{Map, Value};

/// An OpenAPI-subset schema as JSON Schema (recursively).
pub fn from_openapi(schema: &Value) -> Value {
    match schema {
        Value::Object(object) => Value::Object(object_from_openapi(object)),
        Value::Array(items) => Value::Array(items.iter().map(from_openapi).collect()),
        other => other.clone(),
    }
}

fn object_from_openapi(object: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(object.len());
    let nullable = object.get("nullable").and_then(Value::as_bool) == Some(true);
    for (key, value) in object {
        let key = &camel_case_key(key);
        match key.as_str() {
            "nullable" | "propertyOrdering" => {}
            "type" => {
                let ty = match value {
                    Value::String(t) => Value::String(t.to_ascii_lowercase()),
                    other => other.clone(),
                };
                let ty = match ty {
                    Value::String(t) if nullable => Value::Array(vec![Value::String(t), Value::String("null".into())]),
                    other => other,
                };
                out.insert(key.clone(), ty);
            }
            // Maps from names to schemas: convert each schema, never the names.
            "properties" | "$defs" | "definitions" => {
                let converted = match value {
                    Value::Object(props) => {
                        Value::Object(props.iter().map(|(k, v)| (k.clone(), from_openapi(v))).collect())
                    }
                    other => other.clone(),
                };
                out.insert(key.clone(), converted);
            }
            "items" | "anyOf" | "oneOf" | "allOf" | "additionalProperties" | "not" => {
                out.insert(key.clone(), from_openapi(value));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// A `Schema` field by its proto name (`snake_case`) under its JSON name (`camelCase`).
fn camel_case_key(key: &str) -> String {
    let renamed = match key {
        "any_of" => "anyOf",
        "property_ordering" => "propertyOrdering",
        "max_items" => "maxItems",
        "min_items" => "minItems",
        "max_length" => "maxLength",
        "min_length" => "minLength",
        "max_properties" => "maxProperties",
        "min_properties" => "minProperties",
        other => other,
    };
    renamed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn converts_types_nullable_and_nesting() {
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "type": {"type": "STRING", "nullable": true, "enum": ["a"]},
                "list": {"type": "ARRAY", "items": {"type": "INTEGER"}}
            },
            "required": ["type"],
            "propertyOrdering": ["type", "list"]
        });
        assert_eq!(
            from_openapi(&schema),
            json!({
                "type": "object",
                "properties": {
                    "type": {"type": ["string", "null"], "enum": ["a"]},
                    "list": {"type": "array", "items": {"type": "integer"}}
                },
                "required": ["type"]
            })
        );
    }

    #[test]
    fn proto_field_names_become_json_schema_keywords() {
        // What `google-genai` sends for `types.Schema(...)`: proto (snake_case) field names.
        let schema = json!({
            "type": "OBJECT",
            "properties": {
                "tags": {"type": "ARRAY", "items": {"type": "STRING", "max_length": 8}, "min_items": 1, "max_items": 3},
                "id": {"any_of": [{"type": "STRING"}, {"type": "INTEGER"}]},
                "max_items": {"type": "INTEGER"}
            },
            "property_ordering": ["tags", "id"]
        });
        assert_eq!(
            from_openapi(&schema),
            json!({
                "type": "object",
                "properties": {
                    "tags": {"type": "array", "items": {"type": "string", "maxLength": 8}, "minItems": 1, "maxItems": 3},
                    "id": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "max_items": {"type": "integer"}
                }
            })
        );
    }
}
