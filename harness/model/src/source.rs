//! YAML sources and the diagnostics that point into them.
//!
//! Entry point: [`Source`]. [`Source::parse`] deserialises one document with serde, reporting the
//! first error with its field path, line and column; [`Source::documents`] reads multi-document
//! manifests as JSON values; [`Source::diag`] turns a later (stage-2) problem found at a field
//! path into a [`Diagnostic`] at the right line and column, using a position index built from
//! the YAML event stream. The YAML crates stay behind this module.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::DeserializeOwned;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// A problem in an input file, with where it is and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File as the user named it.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// Field path, e.g. `steps[2].wait.state` (empty for the whole document).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// A suggestion, e.g. "did you mean `state`?".
    pub help: Option<String>,
    /// The offending source line.
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)?;
        } else {
            write!(f, ": `{}`: {}", self.path, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        if let Some(snippet) = &self.snippet {
            let gutter = self.line.to_string();
            write!(f, "\n  {gutter} | {snippet}")?;
            write!(f, "\n  {} | {}^", " ".repeat(gutter.len()), " ".repeat(self.column.saturating_sub(1)))?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics (stage-2 validation reports every problem it finds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// The closest candidate to `word`, if one is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()), strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, jw, c)| *d <= 2.max(c.len() / 3) || *jw >= 0.85)
        .min_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)))
        .map(|(_, _, c)| c.to_string())
}

/// `did you mean `x`?` for an unknown name among candidates.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    suggest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// `--set PATH=VALUE`: a field of the document replaced before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// `stack.spark.version`, `steps[2].upgrade.maxUnavailable`.
    pub path: String,
    /// A YAML value (`4.2.0`, `3`, `"25%"`, `{min: 1}`).
    pub value: String,
}

impl Override {
    /// Parses `PATH=VALUE`.
    pub fn parse(s: &str) -> Result<Override, String> {
        let (path, value) = s.split_once('=').ok_or_else(|| format!("`{s}` is not PATH=VALUE (e.g. stack.spark.version=4.2.0)"))?;
        let path = path.trim();
        if path.is_empty() || parse_path(path).is_none() {
            return Err(format!("`{path}` is not a field path like stack.spark.version or steps[1].upgrade.maxUnavailable"));
        }
        Ok(Override { path: path.to_string(), value: value.to_string() })
    }

    /// How diagnostics name it: `--set PATH=VALUE`.
    pub fn flag(&self) -> String {
        format!("--set {}={}", self.path, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// `a.b[2].c` → keys and indices.
fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && (out.is_empty() || rest.is_empty()) {
            return None;
        }
        if !key.is_empty() {
            out.push(Seg::Key(key.to_string()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let (n, after) = r.split_once(']')?;
            out.push(Seg::Index(n.parse().ok()?));
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A YAML file (or an inline YAML string) with a lazily built position index.
pub struct Source {
    name: String,
    text: String,
    index: OnceCell<PositionIndex>,
    /// The document with `--set` overrides applied (None without overrides).
    tree: Option<serde_yaml::Value>,
    overrides: Vec<Override>,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Source {
    /// A source named as the user will see it in diagnostics.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source { name: name.into(), text: text.into(), index: OnceCell::new(), tree: None, overrides: Vec::new() }
    }

    /// A source whose first document has fields replaced (`--set`), applied to the YAML tree
    /// before anything reads it: problems in an overridden field are reported against the
    /// `--set` flag, the others at their line in the file.
    pub fn with_overrides(name: impl Into<String>, text: impl Into<String>, overrides: &[Override]) -> Result<Source, Diagnostic> {
        let mut src = Source::new(name, text);
        if overrides.is_empty() {
            return Ok(src);
        }
        let mut tree: serde_yaml::Value = match serde_yaml::from_str(&src.text) {
            Ok(v) => v,
            // The plain parse reports the syntax error with its position.
            Err(_) => return Ok(src),
        };
        for o in overrides {
            let flag = || Diagnostic {
                file: o.flag(),
                line: 0,
                column: 0,
                path: o.path.clone(),
                message: String::new(),
                help: None,
                snippet: None,
            };
            let value: serde_yaml::Value = serde_yaml::from_str(&o.value).unwrap_or_else(|_| serde_yaml::Value::String(o.value.clone()));
            let segs = parse_path(&o.path).ok_or_else(|| Diagnostic { message: "not a field path".into(), ..flag() })?;
            set_path(&mut tree, &segs, value).map_err(|message| Diagnostic { message, ..flag() })?;
        }
        src.tree = Some(tree);
        src.overrides = overrides.to_vec();
        Ok(src)
    }

    /// The override covering a field path, if any.
    fn override_of(&self, path: &str) -> Option<&Override> {
        let path = path.trim_start_matches('.');
        self.overrides.iter().rev().find(|o| {
            path == o.path || path.strip_prefix(o.path.as_str()).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
        })
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Deserialises the first document. One-of enums are written as single-key maps
    /// (`- wait: {...}`). The error names the field path, line and column.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Diagnostic> {
        if let Some(tree) = &self.tree {
            let mut track = serde_path_to_error::Track::new();
            let tracked = serde_path_to_error::Deserializer::new(tree.clone(), &mut track);
            return serde_yaml::with::singleton_map_recursive::deserialize(tracked)
                .map_err(|e: serde_yaml::Error| self.serde_diag(0, &track.path().to_string(), &e));
        }
        let de = serde_yaml::Deserializer::from_str(&self.text);
        let mut track = serde_path_to_error::Track::new();
        let tracked = serde_path_to_error::Deserializer::new(de, &mut track);
        serde_yaml::with::singleton_map_recursive::deserialize(tracked).map_err(|e| self.serde_diag(0, &track.path().to_string(), &e))
    }

    /// Every non-empty document as JSON (for Kubernetes manifests), with its document index.
    pub fn documents(&self) -> Result<Vec<(usize, serde_json::Value)>, Diagnostic> {
        let mut out = Vec::new();
        for (i, doc) in serde_yaml::Deserializer::from_str(&self.text).enumerate() {
            let mut track = serde_path_to_error::Track::new();
            let value: serde_json::Value = serde::Deserialize::deserialize(serde_path_to_error::Deserializer::new(doc, &mut track))
                .map_err(|e: serde_yaml::Error| self.serde_diag(i, &track.path().to_string(), &e))?;
            if !value.is_null() {
                out.push((i, value));
            }
        }
        Ok(out)
    }

    /// A diagnostic for a problem found at `path` in document `doc`.
    pub fn diag(&self, doc: usize, path: &str, message: impl Into<String>, help: Option<String>) -> Diagnostic {
        let (line, column) = self.position(doc, path, false);
        self.at(line, column, path, message.into(), help)
    }

    /// Like [`Source::diag`] but pointing at the key (for unknown or misplaced fields).
    pub fn diag_key(&self, doc: usize, path: &str, message: impl Into<String>, help: Option<String>) -> Diagnostic {
        let (line, column) = self.position(doc, path, true);
        self.at(line, column, path, message.into(), help)
    }

    fn at(&self, line: usize, column: usize, path: &str, message: String, help: Option<String>) -> Diagnostic {
        if let Some(o) = self.override_of(path) {
            return Diagnostic {
                file: o.flag(),
                line: 0,
                column: 0,
                path: path.trim_start_matches('.').to_string(),
                message,
                help,
                snippet: None,
            };
        }
        let snippet = (line > 0).then(|| self.text.lines().nth(line - 1).map(|l| l.trim_end().to_string())).flatten();
        Diagnostic { file: self.name.clone(), line, column, path: path.trim_start_matches('.').to_string(), message, help, snippet }
    }

    fn position(&self, doc: usize, path: &str, key: bool) -> (usize, usize) {
        let index = self.index.get_or_init(|| PositionIndex::build(&self.text));
        let mut p = path.trim_start_matches('.').to_string();
        loop {
            if let Some(pos) = index.map.get(&(doc, p.clone())) {
                let m = if key { pos.key.unwrap_or(pos.value) } else { pos.value };
                return m;
            }
            match p.rfind(['.', '[']) {
                Some(cut) => p.truncate(cut),
                None if !p.is_empty() => p.clear(),
                None => return (0, 0),
            }
        }
    }

    fn serde_diag(&self, doc: usize, path: &str, e: &serde_yaml::Error) -> Diagnostic {
        let raw = e.to_string();
        let message = clean_serde_message(&raw);
        let help = unknown_name_help(&message);
        match e.location() {
            Some(loc) => self.at(loc.line(), loc.column(), path, message, help),
            None => {
                let (line, column) = self.position(doc, path, true);
                self.at(line, column, path, message, help)
            }
        }
    }
}

/// Sets the value at `segs`, creating maps along the way; a list index must exist (or be the
/// next one).
fn set_path(tree: &mut serde_yaml::Value, segs: &[Seg], value: serde_yaml::Value) -> Result<(), String> {
    use serde_yaml::Value;
    let Some((first, rest)) = segs.split_first() else {
        *tree = value;
        return Ok(());
    };
    match first {
        Seg::Key(k) => {
            if tree.is_null() {
                *tree = Value::Mapping(Default::default());
            }
            let Value::Mapping(m) = tree else {
                return Err(format!("cannot set `{k}`: the field above it is {}, not a map", kind_of(tree)));
            };
            let child = m.entry(Value::String(k.clone())).or_insert(Value::Null);
            set_path(child, rest, value)
        }
        Seg::Index(i) => {
            if tree.is_null() {
                *tree = Value::Sequence(Vec::new());
            }
            let Value::Sequence(items) = tree else {
                return Err(format!("cannot index [{i}]: the field is {}, not a list", kind_of(tree)));
            };
            if *i == items.len() {
                items.push(Value::Null);
            }
            let len = items.len();
            let item = items.get_mut(*i).ok_or_else(|| format!("index [{i}] is out of range: the list has {len} item(s)"))?;
            set_path(item, rest, value)
        }
    }
}

fn kind_of(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "empty",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a map",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// Drops serde_yaml's own `path: ` prefix and ` at line L column C` suffix.
fn clean_serde_message(raw: &str) -> String {
    let mut msg = raw;
    if let Some(cut) = msg.rfind(" at line ") {
        msg = &msg[..cut];
    }
    if let Some((head, tail)) = msg.split_once(": ")
        && !head.contains(char::is_whitespace)
    {
        msg = tail;
    }
    msg.to_string()
}

/// For serde's `unknown field `x`, expected one of `a`, `b`` (and `unknown variant`) messages,
/// the closest expected name.
fn unknown_name_help(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("unknown variant `"))?;
    let (word, expected) = rest.split_once('`')?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    did_you_mean(word, candidates.iter().copied()).or_else(|| {
        (!candidates.is_empty())
            .then(|| format!("valid names: {}", candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")))
    })
}

#[derive(Debug, Clone, Copy)]
struct Pos {
    key: Option<(usize, usize)>,
    value: (usize, usize),
}

/// Field path → position, per document, built from yaml-rust2's marked events.
struct PositionIndex {
    map: HashMap<(usize, String), Pos>,
}

struct Collect(Vec<(Event, Marker)>);

impl MarkedEventReceiver for Collect {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        self.0.push((ev, mark));
    }
}

impl PositionIndex {
    fn build(text: &str) -> PositionIndex {
        let mut events = Collect(Vec::new());
        // A YAML syntax error is reported by serde with its own position; the index is only a
        // best effort for stage-2 problems, so a partial event list is fine.
        let _ = Parser::new_from_str(text).load(&mut events, true);
        let mut map = HashMap::new();
        let mut doc = 0usize;
        let mut it = events.0.into_iter().peekable();
        while let Some((ev, _)) = it.next() {
            match ev {
                Event::DocumentStart => {
                    if let Some((_, m)) = it.peek().cloned() {
                        walk(&mut it, doc, String::new(), None, pos(&m), &mut map);
                    }
                }
                Event::DocumentEnd => doc += 1,
                _ => {}
            }
        }
        PositionIndex { map }
    }
}

fn pos(m: &Marker) -> (usize, usize) {
    (m.line(), m.col() + 1)
}

type Events = std::iter::Peekable<std::vec::IntoIter<(Event, Marker)>>;

/// Consumes one node (scalar, sequence or mapping) and records its position and its children's.
fn walk(
    it: &mut Events,
    doc: usize,
    path: String,
    key: Option<(usize, usize)>,
    value: (usize, usize),
    map: &mut HashMap<(usize, String), Pos>,
) {
    let Some((ev, mark)) = it.next() else { return };
    let here = if matches!(ev, Event::MappingStart(..) | Event::SequenceStart(..)) && value != pos(&mark) { value } else { pos(&mark) };
    map.insert((doc, path.clone()), Pos { key, value: here });
    match ev {
        Event::SequenceStart(..) => {
            let mut i = 0;
            while let Some((next, m)) = it.peek() {
                if matches!(next, Event::SequenceEnd) {
                    it.next();
                    break;
                }
                let child = format!("{path}[{i}]");
                let m = pos(m);
                walk(it, doc, child, None, m, map);
                i += 1;
            }
        }
        Event::MappingStart(..) => {
            while let Some((next, m)) = it.next() {
                let k = match next {
                    Event::MappingEnd => break,
                    Event::Scalar(s, ..) => s,
                    _ => {
                        // Complex keys: skip the key node and its value.
                        skip_rest(it, &next);
                        walk(it, doc, format!("{path}.?"), None, (0, 0), map);
                        continue;
                    }
                };
                let key_pos = pos(&m);
                let child = if path.is_empty() { k } else { format!("{path}.{k}") };
                let value_pos = it.peek().map_or(key_pos, |(_, m)| pos(m));
                walk(it, doc, child, Some(key_pos), value_pos, map);
            }
        }
        _ => {}
    }
}

fn skip_rest(it: &mut Events, first: &Event) {
    let mut depth = usize::from(matches!(first, Event::MappingStart(..) | Event::SequenceStart(..)));
    while depth > 0 {
        match it.next() {
            Some((Event::MappingStart(..) | Event::SequenceStart(..), _)) => depth += 1,
            Some((Event::MappingEnd | Event::SequenceEnd, _)) => depth -= 1,
            Some(_) => {}
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wait {
        #[allow(dead_code)]
        apps: String,
        #[allow(dead_code)]
        state: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "kebab-case")]
    enum Step {
        Wait(#[allow(dead_code)] Wait),
        Sleep(#[allow(dead_code)] String),
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[allow(dead_code)]
        steps: Vec<Step>,
    }

    #[test]
    fn unknown_field_has_path_position_and_suggestion() {
        let src = Source::new("s.yaml", "steps:\n  - sleep: 1s\n  - wait: {apps: all, statee: X}\n");
        let d = src.parse::<Doc>().unwrap_err();
        assert_eq!((d.line, d.column), (3, 23));
        assert_eq!(d.path, "steps[1].wait.statee");
        assert!(d.message.starts_with("unknown field `statee`"), "{}", d.message);
        assert_eq!(d.help.as_deref(), Some("did you mean `state`?"));
        assert!(d.to_string().starts_with("s.yaml:3:23: `steps[1].wait.statee`: unknown field"), "{d}");
    }

    #[test]
    fn unknown_variant_suggests_the_step_kind() {
        let src = Source::new("s.yaml", "steps:\n  - wiat: {apps: all, state: X}\n");
        let d = src.parse::<Doc>().unwrap_err();
        assert_eq!(d.help.as_deref(), Some("did you mean `wait`?"));
        assert_eq!(d.line, 2);
    }

    #[test]
    fn stage_two_paths_are_located() {
        let text = "a: 1\nsteps:\n  - wait:\n      apps: all\n      state: RUNNIN\n---\nkind: X\nspec:\n  executor:\n    instaces: 3\n";
        let src = Source::new("m.yaml", text);
        let d = src.diag(0, "steps[0].wait.state", "bad state", None);
        assert_eq!((d.line, d.column), (5, 14));
        let k = src.diag_key(1, "spec.executor.instaces", "unknown field", None);
        assert_eq!((k.line, k.column), (10, 5));
        // An unknown path falls back to its closest located ancestor.
        let p = src.diag(0, "steps[0].wait.nope", "x", None);
        assert_eq!(p.line, 4);
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        assert_eq!(suggest("coredns-dwon", ["coredns-down", "operator-down"]).as_deref(), Some("coredns-down"));
        assert_eq!(suggest("zzz", ["coredns-down", "operator-down"]), None);
        assert_eq!(suggest("RUNNIN", ["RUNNING", "COMPLETED"]).as_deref(), Some("RUNNING"));
    }
}
