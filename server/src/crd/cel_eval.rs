//! Evaluation of a schema's `x-kubernetes-validations` with runtime limits.
//!
//! The `cel` crate has no cost counter, so every comprehension (`all`,
//! `exists`, `exists_one`, `map`, `filter`: the only loops CEL has) is
//! rewritten at compile time so that its loop condition goes through
//! `@kapi_tick`, an identity function that charges one unit per iteration
//! against the rule's limit and the object's total and, every 1,024 units,
//! checks a wall-clock deadline. Running out makes the function fail, which
//! aborts the evaluation there and then: the request gets upstream's 422
//! ("... call cost exceeds limit for rule", "validation failed due to
//! running out of cost budget") and no further rule runs. What an iteration
//! does besides looping (string functions, regex matches — linear time —,
//! list concatenation) is bounded by the sizes structural validation has
//! already checked (maxItems, maxLength, maxProperties; otherwise the 3 MiB
//! body limit), so the work of one evaluation is bounded by the budget times
//! that.
//!
//! The walk also does only what rules need: subtrees without rules are not
//! visited, an object is converted to CEL values once (children reuse their
//! parent's converted value), `oldSelf` is converted only where a rule uses
//! it, and list items are correlated with their old version by the list-map
//! keys, as upstream does (other lists have no `oldSelf` for their items).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use kube_cel::cel::common::ast::{CallExpr, Expr};
use kube_cel::cel::extractors::This;
use kube_cel::cel::{Context, ExecutionError, FunctionContext, IdedExpr, Value as Cel};
use kube_cel::{CompilationError, CompiledSchema, KubeCelExt, Rule, SchemaFormat};
use serde_json::Value;

use super::cel_value::{self, Shape};
use crate::error::FieldError;
use crate::jsonpath::JsonPath;

/// The name of the iteration counter (not a valid CEL identifier, so no rule
/// can call it or shadow it).
const TICK: &str = "@kapi_tick";

/// How much evaluation one request may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Loop iterations one rule may run (upstream's per-call limit is 1,000,000 cost units).
    pub per_rule: u64,
    /// Loop iterations all rules of one object may run together (upstream's
    /// runtime budget is 10,000,000 cost units).
    pub per_object: u64,
    /// Wall-clock time all rules of one object may take.
    pub wall_clock: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_rule: 1_000_000,
            per_object: 10_000_000,
            wall_clock: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Exceeded {
    Rule,
    Object,
}

struct Budget {
    rule_left: u64,
    object_left: u64,
    deadline: Instant,
    ticks: u64,
    exceeded: Option<Exceeded>,
}

thread_local! {
    static BUDGET: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

fn tick(v: Cel) -> Result<Cel, ExecutionError> {
    BUDGET.with(|b| {
        let mut b = b.borrow_mut();
        let Some(b) = b.as_mut() else { return Ok(v) };
        b.ticks += 1;
        let over = if b.object_left == 0 {
            Some(Exceeded::Object)
        } else if b.rule_left == 0 {
            Some(Exceeded::Rule)
        } else if b.ticks.is_multiple_of(1024) && Instant::now() > b.deadline {
            Some(Exceeded::Object)
        } else {
            None
        };
        if let Some(e) = over {
            b.exceeded = Some(e);
            return Err(ExecutionError::function_error(
                TICK,
                "operation cancelled: actual cost limit exceeded",
            ));
        }
        b.rule_left -= 1;
        b.object_left -= 1;
        Ok(v)
    })
}

/// Wraps every comprehension's loop condition in the iteration counter.
fn instrument(e: &mut IdedExpr) {
    match &mut e.expr {
        Expr::Call(c) => {
            if let Some(t) = c.target.as_mut() {
                instrument(t);
            }
            c.args.iter_mut().for_each(instrument);
        }
        Expr::Comprehension(c) => {
            instrument(&mut c.iter_range);
            instrument(&mut c.accu_init);
            instrument(&mut c.loop_cond);
            instrument(&mut c.loop_step);
            instrument(&mut c.result);
            let cond = std::mem::take(&mut c.loop_cond);
            c.loop_cond = IdedExpr {
                id: cond.id,
                expr: Expr::Call(CallExpr {
                    func_name: TICK.to_string(),
                    target: None,
                    args: vec![cond],
                }),
            };
        }
        Expr::List(l) => l.elements.iter_mut().for_each(instrument),
        Expr::Map(m) => {
            for en in &mut m.entries {
                if let kube_cel::cel::common::ast::EntryExpr::MapEntry(me) = &mut en.expr {
                    instrument(&mut me.key);
                    instrument(&mut me.value);
                }
            }
        }
        Expr::Select(s) => instrument(&mut s.operand),
        Expr::Struct(s) => {
            for en in &mut s.entries {
                if let kube_cel::cel::common::ast::EntryExpr::StructField(f) = &mut en.expr {
                    instrument(&mut f.value);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

struct EvalRule {
    expr: IdedExpr,
    message: Option<IdedExpr>,
    rule: Rule,
    transition: bool,
}

/// One schema node, with what evaluation and conversion need.
pub struct Node {
    rules: Vec<EvalRule>,
    problems: Vec<String>,
    format: SchemaFormat,
    is_map: bool,
    embedded: bool,
    preserve_unknown: bool,
    map_keys: Option<Vec<String>>,
    properties: HashMap<String, Node>,
    items: Option<Box<Node>>,
    additional: Option<Box<Node>>,
    branches: Vec<Node>,
    /// Whether this node or one below has a rule.
    has_rules: bool,
    /// Whether a rule here refers to `oldSelf`.
    uses_old: bool,
}

impl Shape for Node {
    fn format(&self) -> &SchemaFormat {
        &self.format
    }
    fn is_map(&self) -> bool {
        self.is_map
    }
    fn embedded(&self) -> bool {
        self.embedded
    }
    fn child(&self, key: &str) -> Option<&Self> {
        self.properties.get(key).or(self.additional.as_deref())
    }
    fn item(&self) -> Option<&Self> {
        self.items.as_deref()
    }
}

fn program_expr(p: &kube_cel::cel::Program) -> IdedExpr {
    let mut e = p.expression().clone();
    instrument(&mut e);
    e
}

fn uses_old_self(p: &kube_cel::cel::Program) -> bool {
    p.references().has_variable("oldSelf")
}

impl Node {
    /// Builds the tree from a schema and kube-cel's compilation of it.
    pub fn build(raw: &Value, compiled: CompiledSchema) -> Node {
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        let mut uses_old = false;
        for r in compiled.validations {
            match r {
                Ok(cr) => {
                    uses_old |= uses_old_self(&cr.program)
                        || cr.message_program.as_ref().is_some_and(uses_old_self);
                    rules.push(EvalRule {
                        expr: program_expr(&cr.program),
                        message: cr.message_program.as_ref().map(program_expr),
                        transition: cr.is_transition_rule,
                        rule: cr.rule,
                    });
                }
                Err(CompilationError::Parse { rule, source }) => {
                    problems.push(format!("rule compile error: {source}: {rule}"))
                }
                Err(e) => problems.push(format!("rule compile error: {e}")),
            }
        }
        let mut properties = HashMap::new();
        for (name, child) in compiled.properties {
            let raw_child = &raw["properties"][&name];
            properties.insert(name, Node::build(raw_child, child));
        }
        let items = compiled
            .items
            .map(|c| Box::new(Node::build(&raw["items"], *c)));
        let additional = compiled
            .additional_properties
            .map(|c| Box::new(Node::build(&raw["additionalProperties"], *c)));
        let mut branches = Vec::new();
        for (key, list) in [
            ("allOf", compiled.all_of),
            ("oneOf", compiled.one_of),
            ("anyOf", compiled.any_of),
        ] {
            for (i, c) in list.into_iter().enumerate() {
                branches.push(Node::build(&raw[key][i], c));
            }
        }
        let map_keys = (raw.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map"))
            .then(|| {
                raw.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default()
            });
        let has_rules = !rules.is_empty()
            || !problems.is_empty()
            || properties.values().any(|n| n.has_rules)
            || items.as_ref().is_some_and(|n| n.has_rules)
            || additional.as_ref().is_some_and(|n| n.has_rules)
            || branches.iter().any(|n| n.has_rules);
        Node {
            rules,
            problems,
            format: compiled.format,
            is_map: compiled.is_map,
            embedded: compiled.embedded_resource,
            preserve_unknown: compiled.preserve_unknown_fields,
            map_keys,
            properties,
            items,
            additional,
            branches,
            has_rules,
            uses_old,
        }
    }
}

/// The variables of the root: `apiVersion`, `apiGroup`, `kind`.
pub struct RootVars {
    /// `group/version`.
    pub api_version: String,
    /// The group.
    pub api_group: String,
    /// The kind.
    pub kind: String,
}

/// A base context with the Kubernetes CEL libraries, the counter, and
/// `matches` with compiled patterns cached (the `cel` crate compiles the
/// pattern on every call: most of the evaluation time of Gateway API rules).
pub fn base_context() -> Context<'static> {
    let mut ctx = Context::default();
    ctx.register_all();
    ctx.add_function(TICK, tick);
    ctx.add_function("matches", matches);
    ctx
}

/// How many compiled patterns the `matches` cache keeps before it starts over.
const REGEX_CACHE: usize = 4096;
/// The most compiled-regex memory one pattern may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

type Compiled = Result<Arc<regex::Regex>, String>;

fn compiled_regex(pattern: &str) -> Compiled {
    static CACHE: OnceLock<RwLock<HashMap<String, Compiled>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return c.clone();
    }
    let c = regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(Arc::new)
        .map_err(|e| e.to_string());
    let mut w = cache.write().unwrap_or_else(|e| e.into_inner());
    if w.len() >= REGEX_CACHE {
        w.clear();
    }
    w.insert(pattern.to_string(), c.clone());
    c
}

/// `string.matches(pattern)` (RE2 syntax, linear time), as the `cel` crate's.
fn matches(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<bool, ExecutionError> {
    match compiled_regex(&pattern) {
        Ok(re) => Ok(re.is_match(&this)),
        Err(e) => Err(ftx.error(format!("'{pattern}' not a valid regex:\n{e}"))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Null => "null",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn rule_path(path: &str, field_path: Option<&str>) -> String {
    match field_path {
        Some(fp) => join(path, fp.trim_start_matches('.')),
        None => path.to_string(),
    }
}

/// One evaluation: the errors found so far, and whether it must stop.
struct Run<'a> {
    base: &'a Context<'static>,
    root: &'a RootVars,
    limits: Limits,
    errors: Vec<FieldError>,
    stopped: bool,
}

/// Evaluates every rule of `root` on `obj` (and `old`, on updates).
pub fn evaluate(
    base: &Context<'static>,
    root_vars: &RootVars,
    root: &Node,
    limits: Limits,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let mut run = Run {
        base,
        root: root_vars,
        limits,
        errors: Vec::new(),
        stopped: false,
    };
    let previous = BUDGET.with(|b| {
        b.borrow_mut().replace(Budget {
            rule_left: limits.per_rule,
            object_left: limits.per_object,
            deadline: Instant::now() + limits.wall_clock,
            ticks: 0,
            exceeded: None,
        })
    });
    run.walk(root, obj, old, None, None, "", 0);
    BUDGET.with(|b| *b.borrow_mut() = previous);
    run.errors
}

/// How deep the walk goes (the structural validation bounds nesting at 100).
const MAX_DEPTH: usize = 100;

impl Run<'_> {
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &mut self,
        node: &Node,
        v: &Value,
        old: Option<&Value>,
        cel: Option<&Cel>,
        old_cel: Option<&Cel>,
        path: &str,
        depth: usize,
    ) {
        if !node.has_rules || self.stopped || depth > MAX_DEPTH {
            return;
        }
        let own = !node.rules.is_empty() || !node.problems.is_empty();
        let converted;
        let cel = match cel {
            Some(c) => Some(c),
            None if own => {
                converted = cel_value::to_cel(v, Some(node));
                Some(&converted)
            }
            None => None,
        };
        let old_converted;
        let old_cel = match (old_cel, old) {
            (Some(c), _) => Some(c),
            (None, Some(o)) if own && node.uses_old => {
                old_converted = cel_value::to_cel(o, Some(node));
                Some(&old_converted)
            }
            _ => None,
        };
        if own && let Some(me) = cel {
            self.rules(
                node,
                v,
                me,
                old_cel.filter(|_| old.is_some()),
                path,
                depth == 0,
            );
        }
        if let Some(m) = v.as_object() {
            for (k, child) in &node.properties {
                if !child.has_rules {
                    continue;
                }
                if let Some(cv) = m.get(k) {
                    let co = old.and_then(|o| o.get(k));
                    let cc = cel.and_then(|c| cel_value::field(c, k, node.is_map));
                    let coc = old_cel.and_then(|c| cel_value::field(c, k, node.is_map));
                    self.walk(child, cv, co, cc, coc, &join(path, k), depth + 1);
                }
            }
            if let Some(add) = node.additional.as_deref().filter(|a| a.has_rules)
                && !node.preserve_unknown
            {
                for (k, cv) in m {
                    if node.properties.contains_key(k) {
                        continue;
                    }
                    let co = old.and_then(|o| o.get(k));
                    let cc = cel.and_then(|c| cel_value::field(c, k, node.is_map));
                    let coc = old_cel.and_then(|c| cel_value::field(c, k, node.is_map));
                    self.walk(add, cv, co, cc, coc, &join(path, k), depth + 1);
                }
            }
        }
        if let (Some(items), Some(a)) = (node.items.as_deref(), v.as_array())
            && items.has_rules
        {
            let old_items = old.and_then(Value::as_array);
            for (i, item) in a.iter().enumerate() {
                // Only list-type maps correlate items with their old version.
                let old_index = node.map_keys.as_ref().and_then(|keys| {
                    old_items?
                        .iter()
                        .position(|o| keys.iter().all(|k| o.get(k) == item.get(k)))
                });
                let oi = old_index.and_then(|j| old_items.and_then(|o| o.get(j)));
                let cc = cel.and_then(|c| cel_value::item(c, i));
                let coc = old_index.and_then(|j| old_cel.and_then(|c| cel_value::item(c, j)));
                let p = format!("{path}[{i}]");
                self.walk(items, item, oi, cc, coc, &p, depth + 1);
            }
        }
        for b in &node.branches {
            self.walk(b, v, old, cel, old_cel, path, depth + 1);
        }
    }

    fn rules(
        &mut self,
        node: &Node,
        v: &Value,
        me: &Cel,
        old: Option<&Cel>,
        path: &str,
        root: bool,
    ) {
        let ty = Value::String(type_name(v).into()).to_string();
        for p in &node.problems {
            self.errors.push(FieldError::invalid_raw(path, &ty, p));
        }
        let mut ctx = self.base.new_inner_scope();
        ctx.add_variable_from_value("self", me.clone());
        if let Some(o) = old {
            ctx.add_variable_from_value("oldSelf", o.clone());
        }
        if root {
            ctx.add_variable_from_value(
                "apiVersion",
                Cel::String(self.root.api_version.clone().into()),
            );
            ctx.add_variable_from_value(
                "apiGroup",
                Cel::String(self.root.api_group.clone().into()),
            );
            ctx.add_variable_from_value("kind", Cel::String(self.root.kind.clone().into()));
        }
        for r in &node.rules {
            if self.stopped {
                return;
            }
            let optional_old = r.rule.optional_old_self == Some(true);
            if r.transition && old.is_none() && !optional_old {
                continue;
            }
            let null_old;
            let ctx = if r.transition && old.is_none() {
                let mut c = ctx.new_inner_scope();
                c.add_variable_from_value("oldSelf", Cel::Null);
                null_old = c;
                &null_old
            } else {
                &ctx
            };
            BUDGET.with(|b| {
                if let Some(b) = b.borrow_mut().as_mut() {
                    b.rule_left = self.limits.per_rule;
                }
            });
            let result = ctx.resolve(&r.expr);
            let exceeded = BUDGET.with(|b| b.borrow_mut().as_mut().and_then(|b| b.exceeded.take()));
            let at = rule_path(path, r.rule.field_path.as_deref());
            match (result, exceeded) {
                (_, Some(Exceeded::Object)) => {
                    self.errors.push(FieldError::invalid_raw(
                        path,
                        &ty,
                        "validation failed due to running out of cost budget, no further validation rules will be run",
                    ));
                    self.stopped = true;
                }
                (_, Some(Exceeded::Rule)) => {
                    self.errors.push(FieldError::invalid_raw(
                        path,
                        &ty,
                        &format!(
                            "'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: {}",
                            rule_text(&r.rule)
                        ),
                    ));
                    self.stopped = true;
                }
                (Ok(Cel::Bool(true)), None) => {}
                (Ok(Cel::Bool(false)), None) => {
                    let message = self.message(r, ctx);
                    let ty = target_type(v, r.rule.field_path.as_deref()).unwrap_or(ty.clone());
                    self.errors
                        .push(failure(&at, &ty, r.rule.reason.as_deref(), &message));
                }
                (Ok(_), None) => self.errors.push(FieldError::invalid_raw(
                    &at,
                    &ty,
                    &format!("rule did not evaluate to a bool: {}", rule_text(&r.rule)),
                )),
                (Err(e), None) => self.errors.push(FieldError::invalid_raw(
                    &at,
                    &ty,
                    &format!("{e} evaluating rule: {}", rule_text(&r.rule)),
                )),
            }
        }
    }

    fn message(&self, r: &EvalRule, ctx: &Context<'_>) -> String {
        if let Some(m) = &r.message {
            BUDGET.with(|b| {
                if let Some(b) = b.borrow_mut().as_mut() {
                    b.rule_left = self.limits.per_rule;
                }
            });
            let out = ctx.resolve(m);
            BUDGET.with(|b| {
                if let Some(b) = b.borrow_mut().as_mut() {
                    b.exceeded = None;
                }
            });
            if let Ok(Cel::String(s)) = out
                && !s.trim().is_empty()
            {
                return s.to_string();
            }
        }
        r.rule
            .message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| format!("failed rule: {}", r.rule.rule))
    }
}

/// The type of the value a rule's `fieldPath` points at, for the message.
fn target_type(v: &Value, field_path: Option<&str>) -> Option<String> {
    let fp = field_path?;
    let path = if fp.starts_with('.') {
        fp.to_string()
    } else {
        format!(".{fp}")
    };
    let found = JsonPath::parse(&path).ok()?.find(v).into_iter().next()?;
    Some(Value::String(type_name(found).into()).to_string())
}

/// A rule as upstream names it in errors: its message, else the rule.
fn rule_text(r: &Rule) -> String {
    r.message
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| r.rule.trim().to_string())
}

fn failure(field: &str, ty: &str, reason: Option<&str>, message: &str) -> FieldError {
    match reason {
        Some("FieldValueForbidden") => FieldError::forbidden(field, message),
        Some("FieldValueRequired") => FieldError::required(field, message),
        Some("FieldValueDuplicate") => FieldError {
            reason: "FieldValueDuplicate",
            field: field.to_string(),
            message: format!("Duplicate value: {message}"),
        },
        _ => FieldError::invalid_raw(field, ty, message),
    }
}
