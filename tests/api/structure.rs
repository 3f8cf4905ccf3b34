//! The shape of the code, checked like any other promise: the modules import in one
//! direction (no file imports a file that imports it back, however far round, and no
//! module imports one from a layer above it), and no function outside the catalogues
//! below runs past [`MAX_FN_LINES`] lines.
//!
//! An import is a `crate::…` or `super::…` path in a file (outside its `mod tests`),
//! resolved to the file that defines it. A parent's own `mod child;` and bare `child::`
//! paths are its module tree, not imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first: a module may import its own layer and those below.
const LAYERS: &[&[&str]] = &[
    &["domain", "clock", "crypto", "twiml", "metrics"],
    &["config"],
    &["passwords", "ratelimit"],
    &["db"],
    &["flags", "live"],
    &["providers"],
    &["accounts", "saga"],
    &["error"],
    &["telephony", "frontdesk"],
    &["tls"],
    &["app"],
    &["http", "doctor", "simulator", "demo"],
    &["startup"],
    &["cli"],
    &["lib", "main"],
];

const MAX_FN_LINES: usize = 100;

/// Functions allowed to be longer, each a catalogue read entry by entry: (file, name).
const CATALOGUES: &[(&str, &str)] = &[
    // Every API route, one line each.
    ("src/http/api/mod.rs", "routes"),
    // Every setting: its variable, its default, its parse.
    ("src/config.rs", "from_sources"),
    // Every command of the command line, dispatched.
    ("src/cli/mod.rs", "run"),
    // Every rule a call flow must keep, with the message that names the field.
    ("src/domain/callflow.rs", "check"),
];

struct Source {
    path: String,
    /// Without comments, string contents and the `mod tests` at the end.
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut dirs = vec![root.join("src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let path = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push(Source {
                    path,
                    code: strip(&text),
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The code with comments and the contents of string and char literals blanked (their
/// braces and `crate::` would otherwise count), cut before a trailing `mod tests`.
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(b.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(b.len(), |n| i + n + 2);
            out.extend(text[i..end].chars().filter(|c| *c == '\n'));
            i = end;
        } else if let Some(len) = raw_string(rest) {
            out.push_str("\"\"");
            out.extend(text[i..i + len].chars().filter(|c| *c == '\n'));
            i += len;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            out.extend(text[i..j.min(b.len())].chars().filter(|c| *c == '\n'));
            i = j + 1;
        } else if b[i] == b'\'' && char_literal(rest).is_some() {
            out.push_str("' '");
            i += char_literal(rest).unwrap();
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"…"` or `r#"…"#` (also `br…`) at the start of `s`: its length.
fn raw_string(s: &str) -> Option<usize> {
    let start = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let hashes = start.len() - start.trim_start_matches('#').len();
    let body = start[hashes..].strip_prefix('"')?;
    let close = format!("\"{}", "#".repeat(hashes));
    let end = body.find(&close)?;
    Some(s.len() - body.len() + end + close.len())
}

/// `'x'` or `'\n'` at the start of `s` (not a lifetime): its length.
fn char_literal(s: &str) -> Option<usize> {
    let mut chars = s.char_indices().skip(1);
    let (_, c) = chars.next()?;
    if c == '\\' {
        let close = s[2..].find('\'')?;
        return Some(close + 3);
    }
    let (at, q) = chars.next()?;
    (q == '\'').then_some(at + 1)
}

fn module_of(path: &str) -> Vec<String> {
    let rel = path.trim_start_matches("src/").trim_end_matches(".rs");
    let mut m: Vec<String> = rel.split('/').map(str::to_string).collect();
    if m.last().is_some_and(|l| l == "mod") {
        m.pop();
    }
    if m == ["lib"] || m == ["main"] {
        m.clear();
    }
    m
}

fn resolve(files: &BTreeSet<String>, segs: &[String]) -> Option<String> {
    (1..=segs.len()).rev().find_map(|n| {
        let base = format!("src/{}", segs[..n].join("/"));
        [format!("{base}.rs"), format!("{base}/mod.rs")]
            .into_iter()
            .find(|c| files.contains(c))
    })
}

fn ident_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
        i += 1;
    }
    i
}

/// The module paths a file names with `crate::` or `super::`, groups expanded.
fn paths(src: &Source) -> Vec<Vec<String>> {
    let me = module_of(&src.path);
    let code = src.code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let starts_word = i == 0 || !(code[i - 1].is_ascii_alphanumeric() || code[i - 1] == b'_');
        let base: Option<(Vec<String>, usize)> = if !starts_word {
            None
        } else if src.code[i..].starts_with("crate::") {
            Some((Vec::new(), i + 7))
        } else if src.code[i..].starts_with("super::") {
            Some((me[..me.len().saturating_sub(1)].to_vec(), i + 7))
        } else {
            None
        };
        let Some((mut segs, mut j)) = base else {
            i += 1;
            continue;
        };
        loop {
            let end = ident_end(code, j);
            if end == j {
                break;
            }
            segs.push(src.code[j..end].to_string());
            j = end;
            if src.code[j..].starts_with("::") {
                j += 2;
            } else {
                break;
            }
        }
        if code.get(j) == Some(&b'{') {
            let (items, end) = group(&src.code, j);
            for item in items {
                out.push(segs.iter().cloned().chain(item).collect());
            }
            j = end;
        }
        out.push(segs);
        i = j.max(i + 1);
    }
    out
}

/// The paths of a use-tree group `{a, b::c, d::{e as f, self}}` starting at `at`, each
/// relative to the group, and where the group ends.
fn group(code: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    // `self` names the group's own path: a path with no segment of its own.
    let mut own = false;
    let flush = |current: &mut Vec<String>, own: &mut bool, out: &mut Vec<Vec<String>>| {
        if !current.is_empty() || *own {
            out.push(std::mem::take(current));
        }
        *own = false;
    };
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'}' => {
                flush(&mut current, &mut own, &mut out);
                return (out, i + 1);
            }
            b',' => {
                flush(&mut current, &mut own, &mut out);
                i += 1;
            }
            b'{' => {
                let (inner, end) = group(code, i);
                out.extend(
                    inner
                        .into_iter()
                        .map(|p| current.iter().cloned().chain(p).collect()),
                );
                current.clear();
                i = end;
                // What follows the inner group up to `,` or `}` is not a path.
                while i < b.len() && b[i] != b',' && b[i] != b'}' {
                    i += 1;
                }
                if i < b.len() && b[i] == b',' {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = ident_end(b, i);
                let word = &code[i..end];
                if word == "as" {
                    // The alias is a name, not a path segment.
                    i = ident_end(b, end + code[end..].len() - code[end..].trim_start().len());
                    continue;
                }
                if word == "self" {
                    own = true;
                } else {
                    current.push(word.to_string());
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    (out, i)
}

fn layer(path: &str) -> usize {
    let m = module_of(path);
    let top = m.first().map_or("lib", String::as_str);
    LAYERS
        .iter()
        .position(|l| l.contains(&top))
        .unwrap_or_else(|| panic!("{path}: module {top} is in no layer of tests/api/structure.rs"))
}

fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources();
    let files: BTreeSet<String> = sources.iter().map(|s| s.path.clone()).collect();
    sources
        .iter()
        .map(|s| {
            let to = paths(s)
                .iter()
                .filter_map(|p| resolve(&files, p))
                .filter(|t| *t != s.path)
                .collect();
            (s.path.clone(), to)
        })
        .collect()
}

/// Files that can reach themselves through imports (Tarjan's strongly connected
/// components of more than one file).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if t.stack.contains(&w.as_str()) {
                let iw = t.index[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let at = t.stack.iter().rposition(|x| *x == v).unwrap();
            let scc: Vec<String> = t.stack.drain(at..).map(str::to_string).collect();
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_file_imports_one_that_imports_it_back() {
    let g = imports();
    let found = cycles(&g);
    let named: Vec<String> = found
        .iter()
        .map(|scc| {
            let set: BTreeSet<&String> = scc.iter().collect();
            let edges: Vec<String> = scc
                .iter()
                .flat_map(|f| {
                    g[f].iter()
                        .filter(|t| set.contains(t))
                        .map(move |t| format!("{f} -> {t}"))
                })
                .collect();
            edges.join(", ")
        })
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", named.join("\n"));
    // The check sees imports: the front desk's files do import each other.
    assert!(g["src/frontdesk/voice/entry.rs"].contains("src/frontdesk/voice/call.rs"));
}

#[test]
fn no_module_imports_from_a_layer_above_it() {
    let upward: Vec<String> = imports()
        .iter()
        .flat_map(|(from, to)| {
            to.iter()
                .filter(|t| layer(t) > layer(from))
                .map(move |t| format!("{from} -> {t}"))
        })
        .collect();
    assert!(upward.is_empty(), "upward imports:\n{}", upward.join("\n"));
}

/// Each function's name and length in lines, from `fn` to its closing brace.
fn functions(src: &Source) -> Vec<(String, usize)> {
    let code = src.code.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(at) = src.code[i..].find("fn ") {
        let start = i + at;
        i = start + 3;
        if start > 0 && (code[start - 1].is_ascii_alphanumeric() || code[start - 1] == b'_') {
            continue;
        }
        let name_end = ident_end(code, i);
        if name_end == i {
            continue;
        }
        let name = src.code[i..name_end].to_string();
        // The body: the first `{` outside the signature's brackets; a `;` first is a
        // declaration without one.
        let mut depth = 0i32;
        let mut k = name_end;
        let open = loop {
            match code.get(k) {
                None => break None,
                Some(b'(' | b'[' | b'<') => depth += 1,
                Some(b')' | b']') => depth -= 1,
                Some(b'>') if code[k - 1] != b'-' && code[k - 1] != b'=' => depth -= 1,
                Some(b';') if depth <= 0 => break None,
                Some(b'{') if depth <= 0 => break Some(k),
                _ => {}
            }
            k += 1;
        };
        let Some(open) = open else { continue };
        let mut depth = 0;
        let mut close = open;
        for (n, c) in code[open..].iter().enumerate() {
            match c {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + n;
                        break;
                    }
                }
                _ => {}
            }
        }
        let lines = src.code[start..=close].matches('\n').count() + 1;
        out.push((name, lines));
    }
    out
}

#[test]
fn functions_read_as_steps() {
    let mut long = Vec::new();
    let mut measured = 0;
    for src in sources() {
        for (name, lines) in functions(&src) {
            measured += 1;
            let catalogue = CATALOGUES.contains(&(src.path.as_str(), name.as_str()));
            if lines > MAX_FN_LINES && !catalogue {
                long.push(format!("{}: fn {name} has {lines} lines", src.path));
            }
        }
    }
    assert!(measured > 1000, "only {measured} functions found");
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them into named steps):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_check() {
    let src = Source {
        path: "src/frontdesk/example.rs".into(),
        code: strip(
            "use super::{FrontDesk, voice::call::{with_call as w}};\n// crate::app\nfn a() -> Result<(), String> {\n    let s = \"crate::http }\";\n    let c = '{';\n    Ok(())\n}\nfn b<'a>(x: &'a str) {}\n",
        ),
    };
    assert_eq!(
        paths(&src),
        vec![
            vec!["frontdesk".to_string(), "FrontDesk".into()],
            vec![
                "frontdesk".into(),
                "voice".into(),
                "call".into(),
                "with_call".into()
            ],
            vec!["frontdesk".into()],
        ]
    );
    assert_eq!(functions(&src), vec![("a".to_string(), 5), ("b".into(), 1)]);
}
