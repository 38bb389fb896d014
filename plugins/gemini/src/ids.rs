//! Tool-call ids for Gemini, which has none or only an optional `id` (IR.md "Tool-call ids").
//!
//! A `functionCall` keeps its `id`; otherwise it gets `call_<n>` in a request (n counts the
//! request's calls from 0) or `call_<responseId>_<n>` in a response. A `functionResponse`
//! keeps its `id`; otherwise it takes the id of the earliest unanswered call with its name.

/// Where the ids are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A request's history: `call_<n>`.
    Request,
    /// A response: `call_<responseId>_<n>`.
    Response(String),
}

/// The ids of one request or response.
#[derive(Debug)]
pub struct CallIds {
    scope: Scope,
    next: usize,
    /// Calls not yet answered, oldest first: (name, id).
    unanswered: Vec<(String, String)>,
}

impl CallIds {
    /// Ids in a scope.
    pub fn new(scope: Scope) -> Self {
        CallIds {
            scope,
            next: 0,
            unanswered: Vec::new(),
        }
    }

    fn make(&mut self) -> String {
        let n = self.next;
        self.next += 1;
        match &self.scope {
            Scope::Request => format!("call_{n}"),
            Scope::Response(response_id) => format!("call_{response_id}_{n}"),
        }
    }

    /// The id of a `functionCall`.
    pub fn call(&mut self, given: Option<&str>, name: &str) -> String {
        let id = match given.filter(|id| !id.is_empty()) {
            Some(id) => {
                self.next += 1;
                id.to_owned()
            }
            None => self.make(),
        };
        self.unanswered.push((name.to_owned(), id.clone()));
        id
    }

    /// The id of a `functionResponse`: its own, else the earliest unanswered call's with the
    /// same name, else a fresh one.
    pub fn response(&mut self, given: Option<&str>, name: &str) -> String {
        if let Some(id) = given.filter(|id| !id.is_empty()) {
            self.unanswered.retain(|(_, call)| call != id);
            return id.to_owned();
        }
        match self.unanswered.iter().position(|(n, _)| n == name) {
            Some(i) => self.unanswered.remove(i).1,
            None => self.make(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_pair_by_name_in_order() {
        let mut ids = CallIds::new(Scope::Request);
        assert_eq!(ids.call(None, "a"), "call_0");
        assert_eq!(ids.call(None, "b"), "call_1");
        assert_eq!(ids.call(None, "a"), "call_2");
        assert_eq!(ids.response(None, "a"), "call_0");
        assert_eq!(ids.response(None, "a"), "call_2");
        assert_eq!(ids.response(None, "b"), "call_1");
        assert_eq!(ids.response(None, "zzz"), "call_3");
    }

    #[test]
    fn given_ids_are_kept() {
        let mut ids = CallIds::new(Scope::Request);
        assert_eq!(ids.call(Some("x1"), "a"), "x1");
        assert_eq!(ids.call(None, "a"), "call_1");
        assert_eq!(ids.response(Some("x1"), "a"), "x1");
        assert_eq!(ids.response(None, "a"), "call_1");
    }

    #[test]
    fn response_ids() {
        let mut ids = CallIds::new(Scope::Response("r9".into()));
        assert_eq!(ids.call(None, "a"), "call_r9_0");
    }
}
