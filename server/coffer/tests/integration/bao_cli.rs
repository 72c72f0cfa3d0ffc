//! The real `bao` CLI against Coffer and against a real OpenBao server with
//! the same commands: exit codes, table output (normalised) and JSON output
//! (`-format=json`, normalised and compared structurally) must match.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{self, CofferServer};
use crate::openbao::{
    json_diff, normalize_json, normalize_table, normalize_text, text_diff, wait_health, BaoCli,
    CliOut, Mismatches, OpenBao,
};

/// How a step's stdout is compared.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Out {
    /// Normalised text (tables, messages).
    Table,
    /// `-format=json`: parsed, normalised, compared structurally.
    Json,
    /// Only the exit code (and stderr).
    Code,
    /// `-format=json`, only these top-level fields.
    JsonFields(&'static [&'static str]),
}

/// Which token a step runs with.
#[derive(Clone, Debug)]
enum Tok {
    /// `BAO_TOKEN` = the side's root token.
    Root,
    /// `BAO_TOKEN` = a captured variable.
    Var(&'static str),
    /// No `BAO_TOKEN`: the CLI's token helper (`~/.vault-token`) decides.
    Helper,
}

/// One CLI command run against both servers.
#[derive(Clone, Debug)]
struct Step {
    name: &'static str,
    tok: Tok,
    /// Arguments; `{var}` is replaced by the side's captured value.
    args: Vec<String>,
    out: Out,
    /// The exit code both must return.
    code: i32,
    stdin: Option<String>,
    /// Capture `(var, JSON pointer into stdout)` after the run.
    capture: Vec<(&'static str, &'static str)>,
    /// Also compare stderr (normalised).
    stderr: bool,
}

fn step(name: &'static str, tok: Tok, args: &str, out: Out, code: i32) -> Step {
    Step {
        name,
        tok,
        args: args.split_whitespace().map(str::to_string).collect(),
        out,
        code,
        stdin: None,
        capture: Vec::new(),
        stderr: true,
    }
}

impl Step {
    fn stdin(mut self, s: &str) -> Step {
        self.stdin = Some(s.to_string());
        self
    }
    fn capture(mut self, var: &'static str, pointer: &'static str) -> Step {
        self.capture.push((var, pointer));
        self
    }
}

/// One server as the CLI sees it.
struct Side {
    name: &'static str,
    url: String,
    cli: BaoCli,
    vars: HashMap<String, String>,
}

impl Side {
    fn new(name: &'static str, url: &str, root: &str) -> Side {
        let mut vars = HashMap::new();
        vars.insert("root".to_string(), root.to_string());
        Side {
            name,
            url: url.to_string(),
            cli: BaoCli::new(),
            vars,
        }
    }

    fn expand(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (k, v) in &self.vars {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    fn run(&mut self, st: &Step) -> CliOut {
        let args: Vec<String> = st.args.iter().map(|a| self.expand(a)).collect();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let token = match &st.tok {
            Tok::Root => Some(self.vars["root"].clone()),
            Tok::Var(v) => Some(
                self.vars
                    .get(*v)
                    .cloned()
                    .unwrap_or_else(|| panic!("{}: variable {v} not captured", st.name)),
            ),
            Tok::Helper => None,
        };
        let out = self
            .cli
            .run_stdin(&self.url, token.as_deref(), &argv, st.stdin.as_deref());
        for (var, ptr) in &st.capture {
            let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{} on {}: stdout not JSON ({e}): {out:?}",
                    st.name, self.name
                )
            });
            let s = v.pointer(ptr).and_then(Value::as_str).unwrap_or_else(|| {
                panic!("{} on {}: no string at {ptr}: {out:?}", st.name, self.name)
            });
            self.vars.insert(var.to_string(), s.to_string());
        }
        out
    }

    /// Replaces captured secrets by their names (`<var>`) before comparing.
    fn scrub(&self, s: &str) -> String {
        let mut out = s.to_string();
        let mut vars: Vec<_> = self.vars.iter().filter(|(_, v)| v.len() > 4).collect();
        vars.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        for (k, v) in vars {
            out = out.replace(v.as_str(), &format!("<{k}>"));
        }
        out
    }
}

/// Mount entries only OpenBao has (Coffer has no identity engine).
const OPENBAO_ONLY_MOUNTS: &[&str] = &["identity/"];

fn drop_openbao_only(text: &str) -> String {
    text.lines()
        .filter(|l| !OPENBAO_ONLY_MOUNTS.iter().any(|m| l.starts_with(m)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn compare(st: &Step, c: &Side, co: &CliOut, o: &Side, oo: &CliOut, mm: &mut Mismatches) {
    let args = st.args.join(" ");
    let header = format!("[{}] bao {args}", st.name);
    if co.code != oo.code || co.code != st.code {
        mm.push(format!(
            "{header}: exit code coffer {} / openbao {} (expected {})\n  coffer stdout {:?} stderr {:?}\n  openbao stdout {:?} stderr {:?}",
            co.code, oo.code, st.code, co.stdout, co.stderr, oo.stdout, oo.stderr
        ));
        return;
    }
    match st.out {
        Out::Table => {
            let a = drop_openbao_only(&normalize_table(&c.scrub(&co.stdout), &c.url));
            let b = drop_openbao_only(&normalize_table(&o.scrub(&oo.stdout), &o.url));
            if let Some(d) = text_diff(&a, &b) {
                mm.push(format!("{header}: stdout differs\n{d}"));
            }
        }
        Out::Json | Out::JsonFields(_) => {
            let parse = |side: &Side, out: &CliOut| -> Option<Value> {
                let v = serde_json::from_str::<Value>(&side.scrub(&out.stdout)).ok()?;
                match (st.out, v) {
                    (Out::JsonFields(keep), Value::Object(m)) => Some(Value::Object(
                        m.into_iter()
                            .filter(|(k, _)| keep.contains(&k.as_str()))
                            .collect(),
                    )),
                    (_, v) => Some(v),
                }
            };
            match (parse(c, co), parse(o, oo)) {
                (Some(mut a), Some(mut b)) => {
                    for m in OPENBAO_ONLY_MOUNTS {
                        if let Some(obj) = b.as_object_mut() {
                            obj.shift_remove(*m);
                        }
                        if let Some(obj) = a.as_object_mut() {
                            obj.shift_remove(*m);
                        }
                    }
                    let (a, b) = (normalize_json(&a, &c.url), normalize_json(&b, &o.url));
                    let mut diffs = Vec::new();
                    json_diff(&a, &b, "", &mut diffs);
                    if !diffs.is_empty() {
                        mm.push(format!("{header}: JSON differs\n  {}", diffs.join("\n  ")));
                    }
                }
                (a, b) => mm.push(format!(
                    "{header}: stdout not JSON (coffer ok: {}, openbao ok: {})\n  coffer {:?}\n  openbao {:?}",
                    a.is_some(),
                    b.is_some(),
                    co.stdout,
                    oo.stdout
                )),
            }
        }
        Out::Code => {}
    }
    if st.stderr {
        let a = normalize_text(&c.scrub(&co.stderr), &c.url);
        let b = normalize_text(&o.scrub(&oo.stderr), &o.url);
        if let Some(d) = text_diff(&a, &b) {
            mm.push(format!("{header}: stderr differs\n{d}"));
        }
    }
}

fn run_steps(steps: &[Step], coffer: &mut Side, openbao: &mut Side, mm: &mut Mismatches) {
    for st in steps {
        // Both CLIs at once: each run costs the Go binary's start-up.
        let (co, oo) = std::thread::scope(|s| {
            let c = s.spawn(|| coffer.run(st));
            let o = openbao.run(st);
            (c.join().expect("coffer side"), o)
        });
        compare(st, coffer, &co, openbao, &oo, mm);
    }
}

const APP_RO: &str = "path \"secret/data/app\" {\n  capabilities = [\"read\"]\n}\n";

fn dev_steps() -> Vec<Step> {
    use Out::*;
    use Tok::*;
    vec![
        step("status", Root, "status", Table, 0),
        step("status json", Root, "status -format=json", Json, 0),
        // No BAO_TOKEN and nothing in the token helper yet.
        step("no token", Helper, "kv get secret/app", Code, 2),
        step("no token lookup", Helper, "token lookup", Code, 2),
        // KV v2 at secret/.
        step(
            "kv put",
            Root,
            "kv put secret/app user=alice pass=s3cret",
            Table,
            0,
        ),
        step(
            "kv put json",
            Root,
            "kv put -format=json secret/app user=bob",
            Json,
            0,
        ),
        step("kv get", Root, "kv get secret/app", Table, 0),
        step(
            "kv get json",
            Root,
            "kv get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "kv get version",
            Root,
            "kv get -format=json -version=1 secret/app",
            Json,
            0,
        ),
        step(
            "kv get field",
            Root,
            "kv get -field=user secret/app",
            Table,
            0,
        ),
        step("kv put nested", Root, "kv put secret/dir/one a=1", Code, 0),
        step("kv list", Root, "kv list secret/", Table, 0),
        step("kv list json", Root, "kv list -format=json secret", Json, 0),
        step(
            "kv list sub",
            Root,
            "kv list -format=json secret/dir",
            Json,
            0,
        ),
        step(
            "kv metadata get",
            Root,
            "kv metadata get secret/app",
            Table,
            0,
        ),
        step(
            "kv metadata get json",
            Root,
            "kv metadata get -format=json secret/app",
            Json,
            0,
        ),
        step("kv patch", Root, "kv patch secret/app extra=1", Table, 0),
        step(
            "kv get patched",
            Root,
            "kv get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "kv metadata patch",
            Root,
            "kv metadata patch -max-versions=5 -custom-metadata=owner=me secret/app",
            Table,
            0,
        ),
        step(
            "kv metadata after patch",
            Root,
            "kv metadata get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "kv metadata put",
            Root,
            "kv metadata put -cas-required=false secret/app",
            Table,
            0,
        ),
        step("kv delete", Root, "kv delete secret/app", Table, 0),
        step("kv get deleted", Root, "kv get secret/app", Table, 0),
        step(
            "kv get deleted json",
            Root,
            "kv get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "kv undelete",
            Root,
            "kv undelete -versions=3 secret/app",
            Table,
            0,
        ),
        step(
            "kv get undeleted",
            Root,
            "kv get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "kv delete versions",
            Root,
            "kv delete -versions=1 secret/app",
            Table,
            0,
        ),
        step(
            "kv destroy",
            Root,
            "kv destroy -versions=2 secret/app",
            Table,
            0,
        ),
        step(
            "kv metadata after destroy",
            Root,
            "kv metadata get secret/app",
            Table,
            0,
        ),
        step("kv get missing", Root, "kv get secret/nonexist", Code, 2),
        step("kv get missing mount", Root, "kv get nomount/x", Code, 2),
        step(
            "kv metadata delete",
            Root,
            "kv metadata delete secret/dir/one",
            Table,
            0,
        ),
        step(
            "kv get after metadata delete",
            Root,
            "kv get secret/dir/one",
            Code,
            2,
        ),
        // KV v1.
        step(
            "enable kv1",
            Root,
            "secrets enable -version=1 -path=kv1 kv",
            Table,
            0,
        ),
        step("kv1 put", Root, "kv put kv1/app user=bob", Table, 0),
        step("kv1 put 2", Root, "kv put kv1/dir/x y=z", Table, 0),
        step("kv1 get", Root, "kv get kv1/app", Table, 0),
        step("kv1 get json", Root, "kv get -format=json kv1/app", Json, 0),
        step("kv1 list", Root, "kv list kv1", Table, 0),
        step("kv1 list json", Root, "kv list -format=json kv1/", Json, 0),
        step("kv1 delete", Root, "kv delete kv1/dir/x", Table, 0),
        step("kv1 get deleted", Root, "kv get kv1/dir/x", Code, 2),
        step(
            "kv1 list after delete",
            Root,
            "kv list -format=json kv1",
            Json,
            0,
        ),
        // Policies.
        step("policy write", Root, "policy write app-ro -", Table, 0).stdin(APP_RO),
        step("policy read", Root, "policy read app-ro", Table, 0),
        step(
            "policy read json",
            Root,
            "policy read -format=json app-ro",
            Json,
            0,
        ),
        step("policy list", Root, "policy list", Table, 0),
        step(
            "policy list json",
            Root,
            "policy list -format=json",
            Json,
            0,
        ),
        step(
            "policy write bad capability",
            Root,
            "policy write bad -",
            Code,
            2,
        )
        .stdin("path \"x\" { capabilities = [\"bogus\"] }\n"),
        step(
            "policy write bad syntax",
            Root,
            "policy write bad2 -",
            Code,
            2,
        )
        .stdin("path \"x\" {\n"),
        step("policy list after bad", Root, "policy list", Table, 0),
        step("policy read missing", Root, "policy read nope", Code, 2),
        step("policy write tmp", Root, "policy write tmp -", Table, 0)
            .stdin("path \"x/*\" { capabilities = [\"list\"] }"),
        step("policy delete", Root, "policy delete tmp", Table, 0),
        step("policy read deleted", Root, "policy read tmp", Code, 2),
        step(
            "policy delete missing",
            Root,
            "policy delete nope",
            Table,
            0,
        ),
        // Tokens.
        step(
            "token create table",
            Root,
            "token create -policy=default -ttl=1h",
            Table,
            0,
        ),
        step(
            "token create",
            Root,
            "token create -policy=app-ro -ttl=1h -format=json",
            Json,
            0,
        )
        .capture("t1", "/auth/client_token")
        .capture("t1acc", "/auth/accessor"),
        step("token lookup self", Root, "token lookup", Table, 0),
        step(
            "token lookup self json",
            Root,
            "token lookup -format=json",
            Json,
            0,
        ),
        step("token lookup other", Root, "token lookup {t1}", Table, 0),
        step(
            "token lookup other json",
            Root,
            "token lookup -format=json {t1}",
            Json,
            0,
        ),
        step(
            "token lookup accessor",
            Root,
            "token lookup -format=json -accessor {t1acc}",
            Json,
            0,
        ),
        step(
            "token lookup as itself",
            Var("t1"),
            "token lookup -format=json",
            Json,
            0,
        ),
        step(
            "token renew",
            Root,
            "token renew -increment=2h {t1}",
            Table,
            0,
        ),
        step(
            "token renew json",
            Root,
            "token renew -format=json {t1}",
            Json,
            0,
        ),
        step(
            "token renew self",
            Var("t1"),
            "token renew -format=json -increment=30m",
            Json,
            0,
        ),
        step(
            "token capabilities",
            Root,
            "token capabilities {t1} secret/data/app",
            Table,
            0,
        ),
        step("token revoke", Root, "token revoke {t1}", Table, 0),
        step("token lookup revoked", Root, "token lookup {t1}", Code, 2),
        step("token use revoked", Var("t1"), "kv get secret/app", Code, 2),
        // Secrets engines.
        step(
            "secrets enable",
            Root,
            "secrets enable -path=tmp kv-v2",
            Table,
            0,
        ),
        step(
            "secrets enable again",
            Root,
            "secrets enable -path=tmp kv-v2",
            Code,
            2,
        ),
        step(
            "secrets enable bogus",
            Root,
            "secrets enable -path=x bogus",
            Code,
            2,
        ),
        step("secrets list", Root, "secrets list", Table, 0),
        step(
            "secrets list json",
            Root,
            "secrets list -format=json",
            Json,
            0,
        ),
        step("secrets disable", Root, "secrets disable tmp", Table, 0),
        step(
            "secrets disable missing",
            Root,
            "secrets disable nothere",
            Table,
            0,
        ),
        step("secrets list after disable", Root, "secrets list", Table, 0),
        // Auth methods and logins.
        step("auth enable", Root, "auth enable userpass", Table, 0),
        step("auth enable again", Root, "auth enable userpass", Code, 2),
        step("auth list", Root, "auth list", Table, 0),
        step("auth list json", Root, "auth list -format=json", Json, 0),
        step(
            "userpass user",
            Root,
            "write auth/userpass/users/alice password=pw policies=app-ro",
            Table,
            0,
        ),
        step(
            "login userpass",
            Helper,
            "login -method=userpass username=alice password=pw",
            Table,
            0,
        ),
        step(
            "lookup after userpass login",
            Helper,
            "token lookup -format=json",
            Json,
            0,
        ),
        step(
            "userpass reads allowed",
            Helper,
            "kv get -format=json secret/app",
            Json,
            0,
        ),
        step(
            "userpass write denied",
            Helper,
            "kv put secret/app x=1",
            Code,
            2,
        ),
        step(
            "userpass other mount denied",
            Helper,
            "kv get kv1/app",
            Code,
            2,
        ),
        step(
            "userpass missing secret",
            Helper,
            "kv get secret/nonexist",
            Code,
            2,
        ),
        step(
            "userpass secrets list denied",
            Helper,
            "secrets list",
            Code,
            2,
        ),
        step(
            "userpass policy write denied",
            Helper,
            "policy write x -",
            Code,
            2,
        )
        .stdin(APP_RO),
        step(
            "userpass token create denied",
            Helper,
            "token create -policy=default",
            Code,
            2,
        ),
        step(
            "login userpass bad password",
            Helper,
            "login -method=userpass username=alice password=wrong",
            Code,
            2,
        ),
        step(
            "login userpass json",
            Helper,
            "login -format=json -method=userpass username=alice password=pw",
            Json,
            0,
        ),
        step("login token", Helper, "login {root}", Table, 0),
        step("lookup after token login", Helper, "token lookup", Table, 0),
        step(
            "login token json",
            Helper,
            "login -format=json {root}",
            Json,
            0,
        ),
        step(
            "login bad token",
            Helper,
            "login s.AAAAAAAAAAAAAAAAAAAAAAAA",
            Code,
            2,
        ),
        step("auth disable", Root, "auth disable userpass", Table, 0),
        step("auth list after disable", Root, "auth list", Table, 0),
        step(
            "login after auth disable",
            Helper,
            "login -method=userpass username=alice password=pw",
            Code,
            2,
        ),
    ]
}

/// Differences between Coffer and OpenBao the lead knows about (reported as
/// server bugs); the test prints them instead of failing.
const DEV_KNOWN: &[(&str, &str)] = &[
    (
        "[policy write bad capability]",
        "OpenBao repeats the path in the invalid-capability error: `path \"x\": path \"x\": invalid capability`",
    ),
    (
        "[policy write bad syntax]",
        "HCL error position: OpenBao reports `At 2:2` for an unclosed block at the end of line 1, Coffer `At 2:1`",
    ),
    (
        "entity_id: coffer \"\" != openbao \"<UUID>\"",
        "no identity store: OpenBao gives userpass logins an entity, Coffer an empty entity_id (by design?)",
    ),
];

#[tokio::test]
async fn bao_cli_dev_session_matches_openbao() {
    let server = CofferServer::dev();
    let bao = OpenBao::dev();
    let mut coffer = Side::new("coffer", &server.url, "root");
    let mut openbao = Side::new("openbao", &bao.url, "root");
    let mut mm = Mismatches::new("bao CLI, dev servers", DEV_KNOWN);
    let steps = dev_steps();
    assert!(steps.len() > 90);
    run_steps(&steps, &mut coffer, &mut openbao, &mut mm);

    // The token helper holds the root token after `bao login root`, on both.
    assert_eq!(coffer.cli.helper_token().as_deref(), Some("root"));
    assert_eq!(openbao.cli.helper_token().as_deref(), Some("root"));
    mm.finish();
}

#[tokio::test]
async fn bao_cli_userpass_login_stores_token_in_helper() {
    // The login token lands in ~/.vault-token of this CLI's HOME only and is
    // then used without BAO_TOKEN.
    let server = CofferServer::dev();
    let c = harness::client();
    let r = harness::call(
        &c,
        "POST",
        &server.api("sys/auth/userpass"),
        Some("root"),
        Some(r#"{"type":"userpass"}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = harness::call(
        &c,
        "POST",
        &server.api("auth/userpass/users/bob"),
        Some("root"),
        Some(r#"{"password":"pw","policies":"default"}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let cli = BaoCli::new();
    let other = BaoCli::new();
    let out = cli.run(
        &server.url,
        None,
        &["login", "-method=userpass", "username=bob", "password=pw"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let tok = cli.helper_token().expect("token helper file");
    assert!(tok.starts_with("s.") && tok.len() > 20, "{tok}");
    assert!(other.helper_token().is_none());
    let out = cli.run(&server.url, None, &["token", "lookup", "-format=json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["data"]["id"], tok.as_str());
    assert_eq!(v["data"]["meta"]["username"], "bob");
    assert_eq!(v["data"]["path"], "auth/userpass/login/bob");
    // The other HOME has no token: permission denied.
    let out = other.run(&server.url, None, &["token", "lookup"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("Code: 403"), "{out:?}");
}

/// The seal-status fields of `bao operator unseal -format=json`.
const SEAL_FIELDS: &[&str] = &[
    "type",
    "initialized",
    "sealed",
    "t",
    "n",
    "progress",
    "nonce",
    "migration",
    "recovery_seal",
    "storage_type",
    "ha_enabled",
];

fn raft_steps() -> Vec<Step> {
    use Out::*;
    use Tok::*;
    vec![
        step("status uninitialised", Helper, "status", Table, 2),
        step(
            "status uninitialised json",
            Helper,
            "status -format=json",
            Json,
            2,
        ),
        step(
            "init status uninitialised",
            Helper,
            "operator init -status",
            Table,
            2,
        ),
        step(
            "unseal uninitialised",
            Helper,
            "operator unseal zzzz",
            Code,
            2,
        ),
        step(
            "unseal uninitialised short hex",
            Helper,
            "operator unseal 00",
            Code,
            2,
        ),
        step(
            "init bad threshold",
            Helper,
            "operator init -key-shares 2 -key-threshold 3",
            Code,
            2,
        ),
        step(
            "init",
            Helper,
            "operator init -key-shares 3 -key-threshold 2 -format=json",
            Json,
            0,
        )
        .capture("k0", "/unseal_keys_hex/0")
        .capture("k1", "/unseal_keys_hex/1")
        .capture("k2b64", "/unseal_keys_b64/2")
        .capture("rt", "/root_token"),
        step("init status", Helper, "operator init -status", Table, 0),
        step(
            "init again",
            Helper,
            "operator init -key-shares 1 -key-threshold 1",
            Code,
            2,
        ),
        step("status sealed", Helper, "status", Table, 2),
        step("status sealed json", Helper, "status -format=json", Json, 2),
        step("sealed kv", Var("rt"), "kv get secret/x", Code, 2),
        step("sealed token lookup", Var("rt"), "token lookup", Code, 2),
        step("unseal 1", Helper, "operator unseal {k0}", Table, 0),
        step("status progress", Helper, "status", Table, 2),
        step(
            "unseal same key",
            Helper,
            "operator unseal -format=json {k0}",
            Json,
            0,
        ),
        step("unseal too short", Helper, "operator unseal zzzz", Code, 2),
        step("unseal not base64", Helper, "operator unseal !!!!", Code, 2),
        step("unseal reset", Helper, "operator unseal -reset", Table, 0),
        step(
            "unseal 1 again",
            Helper,
            "operator unseal -format=json {k2b64}",
            Json,
            0,
        ),
        // OpenBao is still a standby for a moment after this: leader fields differ.
        step(
            "unseal 2",
            Helper,
            "operator unseal -format=json {k1}",
            JsonFields(SEAL_FIELDS),
            0,
        ),
    ]
}

fn raft_unsealed_steps() -> Vec<Step> {
    use Out::*;
    use Tok::*;
    vec![
        step("status unsealed", Helper, "status", Table, 0),
        step(
            "status unsealed json",
            Helper,
            "status -format=json",
            Json,
            0,
        ),
        step(
            "unseal when unsealed",
            Helper,
            "operator unseal -format=json {k0}",
            Json,
            0,
        ),
        step("login root", Helper, "login {rt}", Table, 0),
        step("lookup root", Helper, "token lookup -format=json", Json, 0),
        step("secrets list", Helper, "secrets list -format=json", Json, 0),
        step(
            "enable kv",
            Helper,
            "secrets enable -path=secret kv-v2",
            Table,
            0,
        ),
        step(
            "kv put",
            Helper,
            "kv put -format=json secret/a b=c",
            Json,
            0,
        ),
        step("kv get", Helper, "kv get secret/a", Table, 0),
        step("seal", Helper, "operator seal", Table, 0),
        step("status resealed", Helper, "status", Table, 2),
        step("kv get sealed", Helper, "kv get secret/a", Code, 2),
    ]
}

const RAFT_KNOWN: &[(&str, &str)] = &[
    (
        "[unseal uninitialised short hex]",
        "sys/unseal `00` on an uninitialised node: OpenBao checks the key encoding first (`'key' must be a valid hex or base64 string`), Coffer says `Vault is not initialized`",
    ),
];

#[tokio::test]
async fn bao_cli_raft_init_unseal_matches_openbao() {
    let server = CofferServer::raft();
    let bao = OpenBao::raft();
    let mut coffer = Side::new("coffer", &server.url, "");
    let mut openbao = Side::new("openbao", &bao.url, "");
    let mut mm = Mismatches::new("bao CLI, raft nodes", RAFT_KNOWN);
    run_steps(&raft_steps(), &mut coffer, &mut openbao, &mut mm);
    // OpenBao becomes active a moment after the last key.
    wait_health(&server.url, 200, Duration::from_secs(60)).await;
    wait_health(&bao.url, 200, Duration::from_secs(60)).await;
    run_steps(&raft_unsealed_steps(), &mut coffer, &mut openbao, &mut mm);

    // Shapes the differential cannot see: 3 keys, threshold 2, distinct keys.
    let out = coffer
        .cli
        .run(&server.url, None, &["status", "-format=json"]);
    let v: Value = serde_json::from_str(&out.stdout).expect("status json");
    assert_eq!(
        (v["n"].as_u64(), v["t"].as_u64()),
        (Some(3), Some(2)),
        "{v}"
    );
    assert_eq!(v["sealed"], true);
    assert_ne!(coffer.vars["k0"], coffer.vars["k1"]);
    assert_eq!(coffer.vars["k0"].len(), 66, "33-byte shares in hex");
    mm.finish();
}

/// The table printed by `bao status` on a Coffer node, exactly, for each
/// state (the rows OpenBao prints too; `Version` aside).
#[tokio::test]
async fn bao_cli_status_tables_on_coffer() {
    let mut server = CofferServer::raft();
    let cli = BaoCli::new();
    let url = server.url.clone();
    let table = |out: &CliOut| normalize_table(&out.stdout, &url);
    let out = cli.run(&server.url, None, &["status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        table(&out),
        "Key                Value\n---                -----\nSeal Type          shamir\nInitialized        false\nSealed             true\nTotal Shares       0\nThreshold          0\nUnseal Progress    0/0\nUnseal Nonce       <V>\nStorage Type       raft\nHA Enabled         true"
    );
    let keys = harness::init(&mut server, 3, 2).await;
    let out = cli.run(&server.url, None, &["status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(table(&out).contains("Initialized        true\nSealed             true\nTotal Shares       3\nThreshold          2\nUnseal Progress    0/2"), "{}", out.stdout);
    let out = cli.run(&server.url, None, &["operator", "unseal", &keys.keys[0]]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("Unseal Progress    1/2"),
        "{}",
        out.stdout
    );
    let out = cli.run(
        &server.url,
        None,
        &["operator", "unseal", &keys.keys_base64[1]],
    );
    assert_eq!(out.code, 0, "{out:?}");
    // Column widths depend on the longest key (the Raft index rows), so
    // compare with runs of spaces collapsed.
    assert!(
        squash(&out.stdout).contains("Sealed false"),
        "{}",
        out.stdout
    );
    let out = cli.run(&server.url, None, &["status"]);
    assert_eq!(out.code, 0, "{out:?}");
    let squashed = squash(&out.stdout);
    assert!(squashed.contains("HA Mode active"), "{}", out.stdout);
    assert!(squashed.contains("Raft Committed Index "), "{}", out.stdout);
}

/// `s` with every run of spaces replaced by one space.
fn squash(s: &str) -> String {
    s.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
