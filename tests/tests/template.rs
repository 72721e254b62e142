//! The security properties of `template.yaml` (issue 7), read straight from the template:
//!
//! * every bucket blocks public access (all four settings) and disables ACLs;
//! * no bucket policy allows anyone but CloudFront, and CloudFront only for this distribution;
//! * each function's IAM statements are exactly the listed actions on the listed prefixes, and
//!   the one CloudFront action (invalidating a deleted image) names this distribution only;
//! * the upload bucket notifies the resize function for `uploads/` only, and no lifecycle rule
//!   expires the owner records under `owners/`;
//! * every CloudFront behaviour is HTTPS-only and S3 is reached through Origin Access Control;
//! * the API needs a caller by default (`AccessMode` cannot be `open`), the Cognito app client
//!   is a public code-flow (PKCE) client that returns only to the site, and the presign
//!   function's `FITBOX_OIDC_*` / `FITBOX_CDN_DISTRIBUTION_ID` settings come from the
//!   parameters and resources they name (issue 15);
//! * the CSP adds only the sign-in service's origins and the thumbnail bucket's S3 origin;
//! * in `private` mode CloudFront serves no thumbnails: the `/images/*` behaviour, the origin on
//!   the resized bucket, the bucket policy's CloudFront grant and the CDN base URL all exist only
//!   under the `PublicGallery` condition (`AccessMode` is `signed-in-upload`);
//! * nothing is kept for ever by accident (issue 16): originals whose resize never finished
//!   expire under `uploads/` after `UnfinishedUploadRetentionDays`, longer than a failed event can
//!   be retried (Lambda's retries + the dead-letter queue's retention); every bucket aborts
//!   incomplete uploads, old thumbnail versions and logs expire;
//! * alarms on the dead-letter queue and each function's errors and throttles exist in every
//!   stack, and mail only through the topic that exists with `AlarmEmail`;
//! * the WAF rate limit is off by default, one CloudFront-scope block rule when on, us-east-1 only;
//! * CloudFront's `X-Fitbox-Origin-Secret` header and the presign function's
//!   `FITBOX_ORIGIN_SECRET` are the same NoEcho parameter without a default, 32+ characters;
//! * `AllowedOrigin` accepts https:// and loopback origins only; every behaviour sends HSTS,
//!   nosniff and no-framing headers (`DENY`, CSP `frame-ancestors 'none'`).
//!
//! Each check returns the problems it finds. The `*_holds` tests assert there are none in the
//! real template; the `mutation_*` tests break the template in memory and assert the check
//! notices, so no check can silently pass everything.

use std::collections::BTreeSet;

use serde_json::{json, Value};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

/// Managed-CachingDisabled and Managed-AllViewerExceptHostHeader (fixed ids, same in every
/// account).
const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
const ALL_VIEWER_EXCEPT_HOST: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";

// ------------------------------------------------------------------------------------------------
// Reading the template
// ------------------------------------------------------------------------------------------------

fn template() -> Value {
    let text = std::fs::read_to_string(TEMPLATE).expect("read template.yaml");
    let yaml: serde_norway::Value = serde_norway::from_str(&text).expect("template.yaml is YAML");
    to_json(yaml)
}

/// YAML -> JSON, turning CloudFormation's short forms (`!Ref X`, `!GetAtt A.B`, `!Sub ...`) into
/// the long forms (`{"Ref": X}`, `{"Fn::GetAtt": [A, B]}`, `{"Fn::Sub": ...}`).
fn to_json(v: serde_norway::Value) -> Value {
    use serde_norway::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        other => serde_norway::to_string(&other)
                            .expect("key")
                            .trim()
                            .to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            match name {
                "Ref" => json!({ "Ref": inner }),
                "Condition" => json!({ "Condition": inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (res, attr) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [res, attr] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

fn resources(t: &Value) -> impl Iterator<Item = (&String, &Value)> {
    t["Resources"].as_object().expect("Resources").iter()
}

fn of_type<'a>(t: &'a Value, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    resources(t).filter(move |(_, r)| r["Type"] == ty)
}

/// A string or a list of strings, as IAM allows for `Action`.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().map(|i| i.to_string()).map(unquote).collect(),
        other => vec![other.to_string()],
    }
}

fn unquote(s: String) -> String {
    s.trim_matches('"').to_string()
}

/// A value or a list of values, as IAM allows for `Resource`.
fn one_or_many(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// One item of a CloudFormation list as deployed: `when` lists the conditions it needs (`C` for
/// the first branch of an `Fn::If [C, a, b]` item, `not C` for the second), `pointer` is its JSON
/// pointer below the list (`/0/Fn::If/1`).
struct Item {
    when: Vec<String>,
    value: Value,
    pointer: String,
}

impl Item {
    /// Present only when `condition` holds.
    fn needs(&self, condition: &str) -> bool {
        self.when.iter().any(|c| c == condition)
    }
}

/// The items of a list (or of a single value, as IAM allows for `Statement`), with each
/// `Fn::If` item expanded into its branches and `AWS::NoValue` branches dropped.
fn items(list: &Value) -> Vec<Item> {
    let mut out = Vec::new();
    match list {
        Value::Null => {}
        Value::Array(xs) => {
            for (i, x) in xs.iter().enumerate() {
                expand(x, Vec::new(), format!("/{i}"), &mut out);
            }
        }
        other => expand(other, Vec::new(), String::new(), &mut out),
    }
    out
}

fn expand(v: &Value, when: Vec<String>, pointer: String, out: &mut Vec<Item>) {
    if *v == ref_("AWS::NoValue") {
        return;
    }
    let branches = v.get("Fn::If").and_then(Value::as_array).map(Vec::as_slice);
    if let Some([Value::String(c), yes, no]) = branches {
        let mut w = when.clone();
        w.push(c.clone());
        expand(yes, w, format!("{pointer}/Fn::If/1"), out);
        let mut w = when;
        w.push(format!("not {c}"));
        expand(no, w, format!("{pointer}/Fn::If/2"), out);
        return;
    }
    out.push(Item {
        when,
        value: v.clone(),
        pointer,
    });
}

fn get_att(res: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [res, attr] })
}

fn ref_(name: &str) -> Value {
    json!({ "Ref": name })
}

/// The ARN of this stack's distribution, as bucket policies and the presign policy write it.
fn distribution_arn() -> Value {
    json!({
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:\
                    distribution/${Distribution}"
    })
}

// ------------------------------------------------------------------------------------------------
// Checks: each returns the problems it finds
// ------------------------------------------------------------------------------------------------

/// Every bucket: all four public-access blocks true, ACLs disabled, no canned ACL, encryption on.
fn bucket_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let mut n = 0;
    for (name, b) in of_type(t, "AWS::S3::Bucket") {
        n += 1;
        let props = &b["Properties"];
        let pab = &props["PublicAccessBlockConfiguration"];
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            if pab[key] != Value::Bool(true) {
                p.push(format!(
                    "{name}: PublicAccessBlockConfiguration.{key} is not true"
                ));
            }
        }
        if !props["AccessControl"].is_null() && props["AccessControl"] != "Private" {
            p.push(format!(
                "{name}: AccessControl {} grants access",
                props["AccessControl"]
            ));
        }
        let owner_enforced = props["OwnershipControls"]["Rules"]
            .as_array()
            .is_some_and(|rules| {
                rules
                    .iter()
                    .any(|r| r["ObjectOwnership"] == "BucketOwnerEnforced")
            });
        if !owner_enforced {
            p.push(format!(
                "{name}: ObjectOwnership is not BucketOwnerEnforced (ACLs stay enabled)"
            ));
        }
        let encrypted = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            .as_array()
            .is_some_and(|rules| {
                rules.iter().any(|r| {
                    let alg = &r["ServerSideEncryptionByDefault"]["SSEAlgorithm"];
                    alg == "AES256" || alg == "aws:kms" || alg == "aws:kms:dsse"
                })
            });
        if !encrypted {
            p.push(format!("{name}: no default encryption"));
        }
    }
    if n != 3 {
        p.push(format!(
            "expected 3 buckets (upload, resized, site), found {n}"
        ));
    }
    p
}

/// Bucket policies: `Allow` only for the CloudFront service principal, only `s3:GetObject`,
/// only on objects of the bucket the policy is attached to, and only for this distribution.
fn bucket_policy_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let distribution_arn = distribution_arn();
    for (name, pol) in of_type(t, "AWS::S3::BucketPolicy") {
        let bucket = pol["Properties"]["Bucket"]["Ref"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let statements = &pol["Properties"]["PolicyDocument"]["Statement"];
        for item in items(statements) {
            let s = &item.value;
            let at = format!("{name} Statement{}", item.pointer);
            if !s["NotPrincipal"].is_null() || !s["NotAction"].is_null() {
                p.push(format!("{at}: NotPrincipal/NotAction"));
            }
            match s["Effect"].as_str() {
                Some("Deny") => continue,
                Some("Allow") => {}
                other => {
                    p.push(format!("{at}: Effect {other:?}"));
                    continue;
                }
            }
            if s["Principal"] != json!({ "Service": "cloudfront.amazonaws.com" }) {
                p.push(format!(
                    "{at}: allows {} (only the CloudFront service principal may be allowed)",
                    s["Principal"]
                ));
            }
            if strings(&s["Action"]) != ["s3:GetObject"] {
                p.push(format!("{at}: allows {} (only s3:GetObject)", s["Action"]));
            }
            if s["Condition"] != json!({ "StringEquals": { "AWS:SourceArn": distribution_arn } }) {
                p.push(format!(
                    "{at}: condition {} does not restrict to this distribution",
                    s["Condition"]
                ));
            }
            for r in one_or_many(&s["Resource"]) {
                let ok = r["Fn::Sub"]
                    .as_str()
                    .is_some_and(|sub| sub.starts_with(&format!("${{{bucket}.Arn}}/")));
                if !ok {
                    p.push(format!("{at}: resource {r} is not an object of {bucket}"));
                }
            }
        }
    }
    p
}

/// Canonical name of an IAM resource: `UploadBucket/uploads/*`, `ResizedBucket`, `Distribution`
/// (this stack's CloudFront distribution), ...
/// The upload bucket is named by the same expression as its `BucketName` (see template.yaml).
fn canonical_resource(t: &Value, r: &Value) -> String {
    if *r == distribution_arn() {
        return "Distribution".into();
    }
    let upload_name = &t["Resources"]["UploadBucket"]["Properties"]["BucketName"]["Fn::Sub"];
    if let (Some(tmpl), Some(vars)) = (r["Fn::Sub"][0].as_str(), r["Fn::Sub"].get(1)) {
        if let (Some(name_tmpl), Some(name_vars)) = (upload_name[0].as_str(), upload_name.get(1)) {
            let arn = format!("arn:${{AWS::Partition}}:s3:::{name_tmpl}");
            if vars == name_vars {
                if let Some(rest) = tmpl.strip_prefix(&arn) {
                    return format!("UploadBucket{rest}");
                }
            }
        }
    }
    if let Some(sub) = r["Fn::Sub"].as_str() {
        if let Some((res, rest)) = sub.strip_prefix("${").and_then(|s| s.split_once(".Arn}")) {
            return format!("{res}{rest}");
        }
    }
    if let (Some(res), Some("Arn")) = (r["Fn::GetAtt"][0].as_str(), r["Fn::GetAtt"][1].as_str()) {
        return res.to_string();
    }
    format!("UNRECOGNISED {r}")
}

/// The function's statements as `action on resource [if condition]` lines.
fn grants(t: &Value, function: &str) -> Result<BTreeSet<String>, String> {
    let f = &t["Resources"][function];
    if f["Type"] != "AWS::Serverless::Function" {
        return Err(format!("{function} is not an AWS::Serverless::Function"));
    }
    if !f["Properties"]["Role"].is_null() {
        return Err(format!(
            "{function}: a Role property bypasses the listed Policies"
        ));
    }
    let policies = f["Properties"]["Policies"]
        .as_array()
        .ok_or(format!("{function}: no Policies list"))?;
    let mut out = BTreeSet::new();
    for policy in policies {
        // A string is a managed policy, a one-key mapping a SAM policy template: both grant
        // more than the statements here show.
        let statements = policy["Statement"].as_array().ok_or(format!(
            "{function}: policy {policy} is not an inline statement list"
        ))?;
        for s in statements {
            if s["Effect"] != "Allow" {
                return Err(format!("{function}: statement with Effect {}", s["Effect"]));
            }
            for key in ["NotAction", "NotResource", "Principal"] {
                if !s[key].is_null() {
                    return Err(format!("{function}: statement uses {key}"));
                }
            }
            let cond = if s["Condition"].is_null() {
                String::new()
            } else {
                format!(" if {}", s["Condition"])
            };
            for action in strings(&s["Action"]) {
                for r in one_or_many(&s["Resource"]) {
                    out.insert(format!("{action} on {}{cond}", canonical_resource(t, r)));
                }
            }
        }
    }
    Ok(out)
}

const IMAGES_PREFIX_ONLY: &str = r#" if {"StringLike":{"s3:prefix":"images/*"}}"#;

fn expected_grants(function: &str) -> BTreeSet<String> {
    let lines: Vec<String> = match function {
        // Read and delete originals, write rejected/, write thumbnails and the owner record.
        // ListBucket on the upload bucket makes S3 answer 404 (not 403) for an original already
        // gone (repeated delivery); the prefix-bound listing of images/ finds an existing
        // thumbnail.
        "ResizeFunction" => vec![
            "s3:GetObject on UploadBucket/uploads/*".into(),
            "s3:DeleteObject on UploadBucket/uploads/*".into(),
            "s3:PutObject on UploadBucket/rejected/*".into(),
            "s3:PutObject on UploadBucket/owners/*".into(),
            "s3:ListBucket on UploadBucket".into(),
            "s3:PutObject on ResizedBucket/images/*".into(),
            format!("s3:ListBucket on ResizedBucket{IMAGES_PREFIX_ONLY}"),
            // An image deleted mid-resize: take back the thumbnail and owner record just written.
            "s3:DeleteObject on ResizedBucket/images/*".into(),
            "s3:DeleteObject on UploadBucket/owners/*".into(),
        ],
        // Sign PUTs to uploads/, read status from uploads/ and rejected/ (404 for unknown ids
        // needs ListBucket), list and read thumbnails, read owner records; delete an image (its
        // thumbnails, original or refusal, owner record) and invalidate it on this distribution.
        "PresignFunction" => vec![
            "s3:PutObject on UploadBucket/uploads/*".into(),
            "s3:GetObject on UploadBucket/uploads/*".into(),
            "s3:GetObject on UploadBucket/rejected/*".into(),
            "s3:GetObject on UploadBucket/owners/*".into(),
            "s3:ListBucket on UploadBucket".into(),
            format!("s3:ListBucket on ResizedBucket{IMAGES_PREFIX_ONLY}"),
            "s3:GetObject on ResizedBucket/images/*".into(),
            "s3:DeleteObject on ResizedBucket/images/*".into(),
            "s3:DeleteObject on UploadBucket/uploads/*".into(),
            "s3:DeleteObject on UploadBucket/rejected/*".into(),
            "s3:DeleteObject on UploadBucket/owners/*".into(),
            // The tombstone deleted/{id}, written before anything is removed.
            "s3:PutObject on UploadBucket/deleted/*".into(),
            "cloudfront:CreateInvalidation on Distribution".into(),
        ],
        other => panic!("no expectation for {other}"),
    };
    lines.into_iter().collect()
}

fn iam_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    for function in ["ResizeFunction", "PresignFunction"] {
        match grants(t, function) {
            Err(e) => p.push(e),
            Ok(actual) => {
                let expected = expected_grants(function);
                for extra in actual.difference(&expected) {
                    p.push(format!("{function}: grants more than listed: {extra}"));
                }
                for cf in actual.iter().filter(|g| g.starts_with("cloudfront:")) {
                    if !cf.ends_with(" on Distribution") {
                        p.push(format!(
                            "{function}: {cf} is not limited to this stack's distribution"
                        ));
                    }
                }
                for missing in expected.difference(&actual) {
                    p.push(format!("{function}: lacks {missing}"));
                }
            }
        }
    }
    let functions: BTreeSet<&str> = of_type(t, "AWS::Serverless::Function")
        .chain(of_type(t, "AWS::Lambda::Function"))
        .map(|(n, _)| n.as_str())
        .collect();
    if functions != BTreeSet::from(["PresignFunction", "ResizeFunction"]) {
        p.push(format!("unexpected set of functions: {functions:?}"));
    }
    let globals = &t["Globals"]["Function"];
    for key in ["Policies", "Role"] {
        if !globals[key].is_null() {
            p.push(format!("Globals.Function.{key} adds to every function"));
        }
    }
    for (name, r) in resources(t) {
        let ty = r["Type"].as_str().unwrap_or("");
        if ty.starts_with("AWS::IAM::") || ty == "AWS::Lambda::Url" {
            p.push(format!(
                "{name}: {ty} outside the reviewed function policies"
            ));
        }
        if !r["Properties"]["FunctionUrlConfig"].is_null() {
            p.push(format!(
                "{name}: a function URL is reachable without CloudFront"
            ));
        }
    }
    p
}

/// Who may invoke the functions: S3 for the upload bucket only, API Gateway for this API only.
fn invoke_permission_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let upload_arn = {
        let name = &t["Resources"]["UploadBucket"]["Properties"]["BucketName"]["Fn::Sub"];
        json!({
            "Fn::Sub": [
                format!("arn:${{AWS::Partition}}:s3:::{}", name[0].as_str().unwrap_or("?")),
                name[1]
            ]
        })
    };
    let mut seen = BTreeSet::new();
    for (name, perm) in of_type(t, "AWS::Lambda::Permission") {
        let props = &perm["Properties"];
        let target = props["FunctionName"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or("?");
        seen.insert(target.to_string());
        match (target, props["Principal"].as_str()) {
            ("ResizeFunction", Some("s3.amazonaws.com")) => {
                if props["SourceArn"] != upload_arn {
                    p.push(format!(
                        "{name}: SourceArn {} is not the upload bucket",
                        props["SourceArn"]
                    ));
                }
                if props["SourceAccount"] != json!({ "Ref": "AWS::AccountId" }) {
                    p.push(format!("{name}: no SourceAccount"));
                }
            }
            ("PresignFunction", Some("apigateway.amazonaws.com")) => {
                let ok = props["SourceArn"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|s| s.contains(":${HttpApi}/"));
                if !ok {
                    p.push(format!(
                        "{name}: SourceArn {} is not this API",
                        props["SourceArn"]
                    ));
                }
            }
            (f, who) => p.push(format!("{name}: lets {who:?} invoke {f}")),
        }
    }
    if seen != BTreeSet::from(["PresignFunction".to_string(), "ResizeFunction".to_string()]) {
        p.push(format!("invoke permissions for {seen:?}"));
    }
    p
}

/// The upload bucket notifies ResizeFunction of ObjectCreated under `uploads/`, nothing else.
fn notification_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    for (name, b) in of_type(t, "AWS::S3::Bucket") {
        let n = &b["Properties"]["NotificationConfiguration"];
        if name != "UploadBucket" {
            if !n.is_null() {
                p.push(format!("{name}: has notifications"));
            }
            continue;
        }
        for other in [
            "QueueConfigurations",
            "TopicConfigurations",
            "EventBridgeConfiguration",
        ] {
            if !n[other].is_null() {
                p.push(format!("{name}: {other}"));
            }
        }
        let configs = n["LambdaConfigurations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if configs.len() != 1 {
            p.push(format!(
                "{name}: {} Lambda notifications, expected 1",
                configs.len()
            ));
        }
        for c in &configs {
            if c["Event"] != "s3:ObjectCreated:*" {
                p.push(format!("{name}: event {}", c["Event"]));
            }
            if c["Function"] != get_att("ResizeFunction", "Arn") {
                p.push(format!("{name}: notifies {}", c["Function"]));
            }
            let rules = c["Filter"]["S3Key"]["Rules"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let prefix_only = rules.len() == 1
                && rules[0]["Name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case("prefix"))
                && rules[0]["Value"] == "uploads/";
            if !prefix_only {
                p.push(format!(
                    "{name}: filter {} is not exactly prefix uploads/",
                    c["Filter"]
                ));
            }
        }
    }
    p
}

/// Upload bucket: CORS for PUT only from named origins with ETag exposed; lifecycle aborts
/// incomplete uploads and expires rejected/, and no rule expires owners/ (an owner record lives
/// as long as its image). Other buckets: no CORS.
fn upload_bucket_rule_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    for (name, b) in of_type(t, "AWS::S3::Bucket") {
        let cors = &b["Properties"]["CorsConfiguration"]["CorsRules"];
        if name != "UploadBucket" {
            if !cors.is_null() {
                p.push(format!("{name}: has CORS rules"));
            }
            continue;
        }
        let rules = cors.as_array().cloned().unwrap_or_default();
        if rules.is_empty() {
            p.push(format!("{name}: no CORS rule for the browser's PUT"));
        }
        for r in &rules {
            if strings(&r["AllowedMethods"]) != ["PUT"] {
                p.push(format!("{name}: CORS methods {}", r["AllowedMethods"]));
            }
            if r["AllowedOrigins"].to_string().contains("\"*\"") || r["AllowedOrigins"].is_null() {
                p.push(format!("{name}: CORS origins {}", r["AllowedOrigins"]));
            }
            if !strings(&r["ExposedHeaders"]).iter().any(|h| h == "ETag") {
                p.push(format!("{name}: CORS does not expose ETag"));
            }
        }
        let lifecycle = b["Properties"]["LifecycleConfiguration"]["Rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let aborts = lifecycle.iter().any(|r| {
            r["Status"] == "Enabled"
                && !r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"].is_null()
                && r["Prefix"].is_null()
                && r["Filter"].is_null()
        });
        if !aborts {
            p.push(format!(
                "{name}: no bucket-wide rule aborting incomplete uploads"
            ));
        }
        let expires_rejected = lifecycle.iter().any(|r| {
            r["Status"] == "Enabled"
                && (r["Prefix"] == "rejected/" || r["Filter"]["Prefix"] == "rejected/")
                && !r["ExpirationInDays"].is_null()
        });
        if !expires_rejected {
            p.push(format!("{name}: no rule expiring rejected/"));
        }
        for r in &lifecycle {
            if !expires_owners(r) {
                continue;
            }
            p.push(format!(
                "{name}: lifecycle rule {} expires owner records under owners/",
                r["Id"]
            ));
        }
    }
    p
}

/// Whether an enabled lifecycle rule deletes current objects under `owners/`: it expires objects
/// and its prefix (none, a shorter one like `o`, or a longer one) overlaps `owners/`. A rule
/// with a tag or size filter counts too: it could still match an owner record.
fn expires_owners(rule: &Value) -> bool {
    const OWNERS: &str = "owners/";
    let expires = ["ExpirationInDays", "ExpirationDate"]
        .iter()
        .any(|k| !rule[*k].is_null());
    if rule["Status"] != "Enabled" || !expires {
        return false;
    }
    let prefix = [
        &rule["Prefix"],
        &rule["Filter"]["Prefix"],
        &rule["Filter"]["And"]["Prefix"],
    ]
    .into_iter()
    .find_map(Value::as_str)
    .unwrap_or("");
    OWNERS.starts_with(prefix) || prefix.starts_with(OWNERS)
}

/// CloudFront: HTTPS-only behaviours, S3 through OAC, the three paths to the right origins.
fn cloudfront_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let dists: Vec<_> = of_type(t, "AWS::CloudFront::Distribution").collect();
    if dists.len() != 1 {
        return vec![format!("{} distributions, expected 1", dists.len())];
    }
    let cfg = &dists[0].1["Properties"]["DistributionConfig"];
    let origins: Vec<Value> = items(&cfg["Origins"])
        .into_iter()
        .map(|i| i.value)
        .collect();
    let origin = |id: &Value| origins.iter().find(|o| &o["Id"] == id).cloned();

    for o in &origins {
        let id = &o["Id"];
        if !o["S3OriginConfig"].is_null() {
            if o["OriginAccessControlId"].is_null() {
                p.push(format!("origin {id}: S3 without Origin Access Control"));
            }
            let oai = &o["S3OriginConfig"]["OriginAccessIdentity"];
            if !(oai.is_null() || oai == "") {
                p.push(format!("origin {id}: legacy origin access identity"));
            }
        } else if o["CustomOriginConfig"]["OriginProtocolPolicy"] != "https-only" {
            p.push(format!("origin {id}: CloudFront may reach it over HTTP"));
        }
    }

    let mut behaviours = vec![("default".to_string(), cfg["DefaultCacheBehavior"].clone())];
    for b in items(&cfg["CacheBehaviors"]).into_iter().map(|i| i.value) {
        behaviours.push((b["PathPattern"].as_str().unwrap_or("?").to_string(), b));
    }
    for (path, b) in &behaviours {
        let policy = b["ViewerProtocolPolicy"].as_str().unwrap_or("");
        if policy != "redirect-to-https" && policy != "https-only" {
            p.push(format!(
                "behaviour {path}: ViewerProtocolPolicy {} serves HTTP",
                b["ViewerProtocolPolicy"]
            ));
        }
        if b["ResponseHeadersPolicyId"].is_null() {
            p.push(format!("behaviour {path}: no security headers policy"));
        }
    }
    let find = |path: &str| {
        behaviours
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
    };
    let origin_domain = |b: &Option<Value>| {
        b.as_ref()
            .and_then(|b| origin(&b["TargetOriginId"]))
            .map(|o| o["DomainName"].clone())
            .unwrap_or(Value::Null)
    };
    if origin_domain(&find("default")) != get_att("SiteBucket", "RegionalDomainName") {
        p.push("default behaviour is not served from SiteBucket".into());
    }
    if origin_domain(&find("/images/*")) != get_att("ResizedBucket", "RegionalDomainName") {
        p.push("/images/* is not served from ResizedBucket".into());
    }
    let api_domain = origin_domain(&find("/api/*"));
    if !api_domain["Fn::Sub"]
        .as_str()
        .is_some_and(|s| s.starts_with("${HttpApi}.execute-api."))
    {
        p.push(format!("/api/* goes to {api_domain}, not the HTTP API"));
    }
    if let Some(api) = find("/api/*") {
        if api["CachePolicyId"] != CACHING_DISABLED {
            p.push("/api/* is cached".into());
        }
        if api["OriginRequestPolicyId"] != ALL_VIEWER_EXCEPT_HOST {
            p.push("/api/* does not forward all viewer headers except Host".into());
        }
    }
    let hsts = of_type(t, "AWS::CloudFront::ResponseHeadersPolicy").any(|(_, r)| {
        r["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
            ["StrictTransportSecurity"]["AccessControlMaxAgeSec"]
            .as_u64()
            .is_some_and(|s| s >= 31_536_000)
    });
    if !hsts {
        p.push("no response headers policy with HSTS of at least a year".into());
    }
    p
}

/// Both functions are arm64 `provided.al2023` builds of the right binary by cargo-lambda; the
/// resize function has a dead-letter queue; the API is throttled.
fn function_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let globals = &t["Globals"]["Function"];
    for (function, binary) in [
        ("ResizeFunction", "fitbox-resize"),
        ("PresignFunction", "fitbox-presign"),
    ] {
        let f = &t["Resources"][function];
        let prop = |k: &str| {
            let own = &f["Properties"][k];
            if own.is_null() {
                globals[k].clone()
            } else {
                own.clone()
            }
        };
        if prop("Runtime") != "provided.al2023" {
            p.push(format!("{function}: runtime {}", prop("Runtime")));
        }
        if prop("Architectures") != json!(["arm64"]) {
            p.push(format!(
                "{function}: architectures {}",
                prop("Architectures")
            ));
        }
        if prop("Handler") != "bootstrap" {
            p.push(format!("{function}: handler {}", prop("Handler")));
        }
        if f["Metadata"]["BuildMethod"] != "rust-cargolambda"
            || f["Metadata"]["BuildProperties"]["Binary"] != binary
        {
            p.push(format!("{function}: not a cargo-lambda build of {binary}"));
        }
    }
    let resize = &t["Resources"]["ResizeFunction"]["Properties"];
    let dlq = &resize["DeadLetterQueue"];
    let queue = dlq["TargetArn"]["Fn::GetAtt"][0].as_str().unwrap_or("?");
    if dlq["Type"] != "SQS" || t["Resources"][queue]["Type"] != "AWS::SQS::Queue" {
        p.push(format!(
            "ResizeFunction: dead-letter queue {dlq} is not an SQS queue here"
        ));
    }
    if resize["ReservedConcurrentExecutions"].is_null() {
        p.push("ResizeFunction: no reserved concurrency".into());
    }
    let throttled = of_type(t, "AWS::ApiGatewayV2::Stage").all(|(_, s)| {
        let r = &s["Properties"]["DefaultRouteSettings"];
        !r["ThrottlingRateLimit"].is_null() && !r["ThrottlingBurstLimit"].is_null()
    });
    if !throttled || of_type(t, "AWS::ApiGatewayV2::Stage").count() != 1 {
        p.push("the HTTP API stage is not throttled".into());
    }
    p
}

/// The presign function's environment.
fn presign_env(t: &Value) -> &Value {
    &t["Resources"]["PresignFunction"]["Properties"]["Environment"]["Variables"]
}

/// The deployed API needs a caller by default: `AccessMode` defaults to `signed-in-upload`, can be
/// only `signed-in-upload` or `private` (never `open`, the laptop mode), and is what the presign
/// function runs with.
fn access_mode_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let param = &t["Parameters"]["AccessMode"];
    if param["Type"] != "String" {
        p.push(format!(
            "AccessMode: type {}, expected String",
            param["Type"]
        ));
    }
    if param["Default"] != "signed-in-upload" {
        p.push(format!(
            "AccessMode: default {} is not signed-in-upload",
            param["Default"]
        ));
    }
    match param["AllowedValues"].as_array() {
        None => p.push("AccessMode: no AllowedValues, so `open` could be deployed".into()),
        Some(values) => {
            let values: BTreeSet<String> = values.iter().map(|v| unquote(v.to_string())).collect();
            if values.iter().any(|v| v.eq_ignore_ascii_case("open")) {
                p.push("AccessMode: allows open (no sign-in) in AWS".into());
            }
            let expected: BTreeSet<String> =
                ["signed-in-upload", "private"].map(String::from).into();
            if values != expected {
                p.push(format!(
                    "AccessMode: AllowedValues {values:?}, expected {expected:?}"
                ));
            }
        }
    }
    let mode = &presign_env(t)["FITBOX_ACCESS_MODE"];
    if *mode != ref_("AccessMode") {
        p.push(format!(
            "PresignFunction: FITBOX_ACCESS_MODE is {mode}, not !Ref AccessMode"
        ));
    }
    if !t["Globals"]["Function"]["Environment"].is_null() {
        p.push("Globals.Function.Environment sets variables for both functions".into());
    }
    p
}

/// Flows a browser client must not have: passwords sent to the API in plain text, custom
/// (Lambda-defined) challenges. Managed login needs none of them.
const FORBIDDEN_AUTH_FLOWS: [&str; 6] = [
    "ALLOW_USER_PASSWORD_AUTH",
    "USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ADMIN_NO_SRP_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "CUSTOM_AUTH_FLOW_ONLY",
];

/// The site's URL, and `AllowedOrigin`'s when that parameter is set: the only places Cognito may
/// send a code or a signed-out user back to.
fn site_urls() -> Value {
    json!([
        { "Fn::Sub": "https://${Distribution.DomainName}/" },
        {
            "Fn::If": [
                "HasAllowedOrigin",
                { "Fn::Sub": "${AllowedOrigin}/" },
                { "Ref": "AWS::NoValue" }
            ]
        },
    ])
}

/// Cognito: one app client, the web app's: public (no secret), the authorization code flow only
/// (PKCE; no implicit, no client credentials), Cognito's own sign-in only, callback and logout
/// URLs only the site's; token revocation on, user-existence errors hidden. The user pool lets
/// only admins create accounts (no self sign-up).
fn cognito_client_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let clients: Vec<_> = of_type(t, "AWS::Cognito::UserPoolClient").collect();
    if clients.len() != 1 {
        p.push(format!(
            "{} Cognito app clients, expected 1 (the web app)",
            clients.len()
        ));
    }
    for (name, c) in clients {
        let props = &c["Properties"];
        if strings(&props["AllowedOAuthFlows"]) != ["code"] {
            p.push(format!(
                "{name}: OAuth flows {} (only the code flow)",
                props["AllowedOAuthFlows"]
            ));
        }
        if props["AllowedOAuthFlowsUserPoolClient"] != true {
            p.push(format!(
                "{name}: AllowedOAuthFlowsUserPoolClient is not true (OAuth flows off)"
            ));
        }
        if !(props["GenerateSecret"].is_null() || props["GenerateSecret"] == false) {
            p.push(format!(
                "{name}: GenerateSecret {} (a browser cannot keep a client secret)",
                props["GenerateSecret"]
            ));
        }
        for key in ["CallbackURLs", "LogoutURLs"] {
            if props[key] != site_urls() {
                p.push(format!(
                    "{name}: {key} {} are not only the site's",
                    props[key]
                ));
            }
        }
        if !props["DefaultRedirectURI"].is_null() {
            p.push(format!("{name}: DefaultRedirectURI set"));
        }
        if strings(&props["SupportedIdentityProviders"]) != ["COGNITO"] {
            p.push(format!(
                "{name}: identity providers {}",
                props["SupportedIdentityProviders"]
            ));
        }
        if props["ExplicitAuthFlows"].is_null() {
            p.push(format!(
                "{name}: ExplicitAuthFlows unset (Cognito's default adds ALLOW_CUSTOM_AUTH)"
            ));
        }
        for flow in props["ExplicitAuthFlows"].as_array().into_iter().flatten() {
            if FORBIDDEN_AUTH_FLOWS.iter().any(|f| flow == f) {
                p.push(format!("{name}: ExplicitAuthFlows allows {flow}"));
            }
        }
        if props["EnableTokenRevocation"] != true {
            p.push(format!("{name}: token revocation off"));
        }
        if props["PreventUserExistenceErrors"] != "ENABLED" {
            p.push(format!(
                "{name}: PreventUserExistenceErrors {} tells who has an account",
                props["PreventUserExistenceErrors"]
            ));
        }
    }
    let pools: Vec<_> = of_type(t, "AWS::Cognito::UserPool").collect();
    if pools.len() != 1 {
        p.push(format!("{} Cognito user pools, expected 1", pools.len()));
    }
    for (name, pool) in pools {
        if pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] != true {
            p.push(format!(
                "{name}: anyone may sign up (AllowAdminCreateUserOnly is not true)"
            ));
        }
    }
    p
}

/// The presign function's sign-in settings come from the parameters and resources they name:
/// this stack's Cognito pool and client unless `OidcIssuer` is given, then the parameters; the
/// role claim, admin group and upload key hashes from their parameters; the CDN distribution is
/// this stack's. Cognito resources exist only when `OidcIssuer` is empty, and the admin group is
/// named by `OidcAdminGroup`; the web app's client has a managed-login style.
fn oidc_wiring_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let env = presign_env(t);
    let cognito_or =
        |cognito: Value, external: Value| json!({ "Fn::If": ["UseCognito", cognito, external] });
    let expected = [
        (
            "FITBOX_OIDC_ISSUER",
            cognito_or(
                json!({
                    "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"
                }),
                ref_("OidcIssuer"),
            ),
        ),
        (
            "FITBOX_OIDC_CLIENT_ID",
            cognito_or(ref_("UserPoolClient"), ref_("OidcClientId")),
        ),
        (
            "FITBOX_OIDC_AUDIENCES",
            cognito_or(
                ref_("UserPoolClient"),
                json!({
                    "Fn::If": ["HasOidcAudiences", ref_("OidcAudiences"), ref_("OidcClientId")]
                }),
            ),
        ),
        ("FITBOX_OIDC_ROLE_CLAIM", ref_("OidcRoleClaim")),
        ("FITBOX_OIDC_ADMIN_GROUP", ref_("OidcAdminGroup")),
        ("FITBOX_UPLOAD_KEYS", ref_("UploadKeys")),
        ("FITBOX_CDN_DISTRIBUTION_ID", ref_("Distribution")),
    ];
    for (key, want) in expected {
        if env[key] != want {
            p.push(format!(
                "PresignFunction: {key} is {}, expected {want}",
                env[key]
            ));
        }
    }
    let conditions = &t["Conditions"];
    if conditions["UseCognito"] != json!({ "Fn::Equals": [ref_("OidcIssuer"), ""] }) {
        p.push(format!(
            "condition UseCognito is {}, not `OidcIssuer is empty`",
            conditions["UseCognito"]
        ));
    }
    if conditions["HasOidcAudiences"]
        != json!({ "Fn::Not": [{ "Fn::Equals": [ref_("OidcAudiences"), ""] }] })
    {
        p.push(format!(
            "condition HasOidcAudiences is {}, not `OidcAudiences is set`",
            conditions["HasOidcAudiences"]
        ));
    }
    for (param, default) in [
        ("OidcIssuer", ""),
        ("OidcClientId", ""),
        ("OidcAudiences", ""),
        ("OidcRoleClaim", "cognito:groups"),
        ("OidcAdminGroup", "admin"),
        ("UploadKeys", ""),
    ] {
        let d = &t["Parameters"][param]["Default"];
        if d != default {
            p.push(format!(
                "parameter {param}: default {d}, expected {default:?}"
            ));
        }
    }
    for (name, r) in resources(t) {
        let cognito = r["Type"]
            .as_str()
            .is_some_and(|ty| ty.starts_with("AWS::Cognito::"));
        if cognito && r["Condition"] != "UseCognito" {
            p.push(format!(
                "{name}: created even with an external issuer (Condition {})",
                r["Condition"]
            ));
        }
        if cognito
            && !r["Properties"]["UserPoolId"].is_null()
            && r["Properties"]["UserPoolId"] != ref_("UserPool")
        {
            p.push(format!(
                "{name}: in user pool {}, not this stack's",
                r["Properties"]["UserPoolId"]
            ));
        }
    }
    // Managed login version 2 shows no sign-in page to a client without a branding style.
    let managed_login = of_type(t, "AWS::Cognito::UserPoolDomain")
        .any(|(_, d)| d["Properties"]["ManagedLoginVersion"] == 2);
    let styled = of_type(t, "AWS::Cognito::ManagedLoginBranding")
        .any(|(_, b)| b["Properties"]["ClientId"] == ref_("UserPoolClient"));
    if managed_login && !styled {
        p.push("UserPoolClient: managed login without a branding style (no sign-in page)".into());
    }
    let groups: Vec<_> = of_type(t, "AWS::Cognito::UserPoolGroup").collect();
    let admin_group = groups
        .iter()
        .any(|(_, g)| g["Properties"]["GroupName"] == ref_("OidcAdminGroup"));
    if groups.len() != 1 || !admin_group {
        p.push(format!(
            "Cognito groups {:?}: expected one, named by OidcAdminGroup",
            groups
                .iter()
                .map(|(_, g)| g["Properties"]["GroupName"].to_string())
                .collect::<Vec<_>>()
        ));
    }
    p
}

/// The CSP's sources: no wildcard anywhere; img-src adds only the thumbnail bucket's regional S3
/// origin (private mode's signed links); connect-src adds the sign-in service: with Cognito the
/// cognito-idp endpoint and this stack's managed-login domain, else the issuer's origin.
fn csp_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let csp = &t["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"];
    let (Some(text), Some(vars)) = (csp[0].as_str(), csp.get(1)) else {
        return vec![format!("CSP {csp} is not a !Sub [text, variables]")];
    };
    let directive = |name: &str| -> Vec<String> {
        text.split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .map(|rest| rest.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    for d in text.split(';') {
        for source in d.split_whitespace().skip(1) {
            if source.contains('*') || ["https:", "http:", "wss:", "ws:"].contains(&source) {
                p.push(format!("CSP: {} allows {source}", d.trim()));
            }
        }
    }
    let thumbnails = "https://${Thumbnails}.s3.${AWS::Region}.amazonaws.com".to_string();
    if !directive("img-src").contains(&thumbnails) || vars["Thumbnails"] != ref_("ResizedBucket") {
        p.push(format!(
            "CSP: img-src {:?} (Thumbnails = {}) lacks the resized bucket's S3 origin",
            directive("img-src"),
            vars["Thumbnails"]
        ));
    }
    if !directive("connect-src").contains(&"${SignIn}".to_string()) {
        p.push(format!(
            "CSP: connect-src {:?} lacks the sign-in service",
            directive("connect-src")
        ));
    }
    let sign_in = json!({ "Fn::If": [
        "UseCognito",
        {
            "Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com \
                        https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
        },
        {
            "Fn::Sub": [
                "https://${Host}",
                {
                    "Host": {
                        "Fn::Select": [
                            2,
                            { "Fn::Split": ["/", { "Fn::Sub": "${OidcIssuer}///" }] }
                        ]
                    }
                }
            ]
        },
    ] });
    if vars["SignIn"] != sign_in {
        p.push(format!(
            "CSP: SignIn is {}, not the Cognito endpoints or the issuer's origin",
            vars["SignIn"]
        ));
    }
    p
}

/// The condition for a public gallery, under which alone CloudFront serves thumbnails.
const PUBLIC_GALLERY: &str = "PublicGallery";

/// In `private` mode nothing serves the resized bucket through CloudFront, so a thumbnail's CDN
/// path is useless to whoever learns it: `PublicGallery` means `AccessMode` is
/// `signed-in-upload`, and only under it are there an origin on the resized bucket, a behaviour
/// (`/images/*` or any other) routed to such an origin, an `Allow` in the resized bucket's policy
/// (its CloudFront grant), and the presign function's `FITBOX_CDN_BASE_URL`. The default
/// behaviour never goes to the resized bucket, and its TLS-only deny stays in both modes.
fn private_mode_cdn_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let mode = ref_("AccessMode");
    let cond = &t["Conditions"][PUBLIC_GALLERY];
    let public = [
        json!({ "Fn::Equals": [mode, "signed-in-upload"] }),
        json!({ "Fn::Equals": ["signed-in-upload", mode] }),
    ];
    if !public.contains(cond) {
        p.push(format!(
            "condition {PUBLIC_GALLERY} is {cond}, not `AccessMode is signed-in-upload`"
        ));
    }

    let cfg = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let mut thumbnail_origins = Vec::new();
    for o in items(&cfg["Origins"]) {
        if !o.value["DomainName"].to_string().contains("ResizedBucket") {
            continue;
        }
        thumbnail_origins.push(o.value["Id"].clone());
        if !o.needs(PUBLIC_GALLERY) {
            p.push(format!(
                "origin {} on the resized bucket exists in private mode \
                 (not under {PUBLIC_GALLERY})",
                o.value["Id"]
            ));
        }
    }
    let default_target = &cfg["DefaultCacheBehavior"]["TargetOriginId"];
    if thumbnail_origins.contains(default_target) {
        p.push(format!(
            "the default behaviour serves the resized bucket (origin {default_target})"
        ));
    }
    for b in items(&cfg["CacheBehaviors"]) {
        let path = &b.value["PathPattern"];
        let thumbnails = thumbnail_origins.contains(&b.value["TargetOriginId"])
            || path.as_str().is_some_and(|p| p.starts_with("/images"));
        if thumbnails && !b.needs(PUBLIC_GALLERY) {
            p.push(format!(
                "behaviour {path} serves thumbnails in private mode (not under {PUBLIC_GALLERY})"
            ));
        }
    }

    let mut tls_deny_always = false;
    for (name, pol) in of_type(t, "AWS::S3::BucketPolicy") {
        if pol["Properties"]["Bucket"] != ref_("ResizedBucket") {
            continue;
        }
        let policy_gated = pol["Condition"] == PUBLIC_GALLERY;
        for s in items(&pol["Properties"]["PolicyDocument"]["Statement"]) {
            let v = &s.value;
            let gated = policy_gated || s.needs(PUBLIC_GALLERY);
            if v["Effect"] != "Deny" && !gated {
                p.push(format!(
                    "{name} Statement{} ({}) lets {} read the resized bucket in private mode \
                     (not under {PUBLIC_GALLERY})",
                    s.pointer, v["Sid"], v["Principal"]
                ));
            }
            let tls_deny = v["Effect"] == "Deny"
                && v["Principal"] == "*"
                && v["Condition"] == json!({ "Bool": { "aws:SecureTransport": "false" } });
            if tls_deny && s.when.is_empty() && pol["Condition"].is_null() {
                tls_deny_always = true;
            }
        }
    }
    if !tls_deny_always {
        p.push("ResizedBucket: no TLS-only deny that applies in both modes".into());
    }

    let base = &presign_env(t)["FITBOX_CDN_BASE_URL"];
    let want = json!({ "Fn::If": [
        PUBLIC_GALLERY,
        { "Fn::Sub": "https://${Distribution.DomainName}" },
        ref_("AWS::NoValue"),
    ] });
    if *base != want {
        p.push(format!(
            "PresignFunction: FITBOX_CDN_BASE_URL is {base}, expected {want} \
             (no CDN path in private mode)"
        ));
    }
    p
}

// ------------------------------------------------------------------------------------------------
// Abuse and leaks (issue 16)
// ------------------------------------------------------------------------------------------------

/// A number as the template writes it: a YAML number or a numeric string (`Default: "0"`).
fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Lambda's default for `MaximumEventAgeInSeconds`: an asynchronous event is retried for up to
/// 6 hours before it goes to the dead-letter queue.
const DEFAULT_EVENT_AGE_SECS: f64 = 21_600.0;

/// Nothing is kept for ever by accident: an original whose resize never finished expires under
/// `uploads/` after `UnfinishedUploadRetentionDays`, and that is longer (by its `MinValue` and
/// its `Default`) than its failed event can still be retried: the resize function's retries
/// (`MaximumEventAgeInSeconds`) plus the dead-letter queue's explicit `MessageRetentionPeriod`.
/// Every bucket aborts incomplete multipart uploads, a versioned bucket expires old versions,
/// and every log group has a retention. (`rejected/` expiring and `owners/` never expiring are
/// `upload_bucket_rule_problems`' part.)
fn retention_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    const PARAM: &str = "UnfinishedUploadRetentionDays";
    let upload_rules =
        items(&t["Resources"]["UploadBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]);
    let expires_unfinished = upload_rules.iter().any(|r| {
        let r = &r.value;
        let prefix = [&r["Prefix"], &r["Filter"]["Prefix"]]
            .into_iter()
            .find_map(Value::as_str);
        r["Status"] == "Enabled"
            && prefix == Some("uploads/")
            && r["Filter"]["Tag"].is_null()
            && r["Filter"]["And"].is_null()
            && r["ExpirationInDays"] == ref_(PARAM)
    });
    if !expires_unfinished {
        p.push(format!(
            "UploadBucket: no enabled lifecycle rule expiring uploads/ after {PARAM} days \
             (unfinished originals kept for ever)"
        ));
    }

    let resize = &t["Resources"]["ResizeFunction"]["Properties"];
    let queue = resize["DeadLetterQueue"]["TargetArn"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or("?");
    let retention = number(&t["Resources"][queue]["Properties"]["MessageRetentionPeriod"]);
    let event_age = match &resize["EventInvokeConfig"]["MaximumEventAgeInSeconds"] {
        Value::Null => Some(DEFAULT_EVENT_AGE_SECS),
        v => number(v),
    };
    match (retention, event_age) {
        (None, _) => p.push(format!(
            "{queue}: MessageRetentionPeriod is not an explicit number of seconds"
        )),
        (_, None) => p.push(format!(
            "ResizeFunction: MaximumEventAgeInSeconds {} is not a number",
            resize["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
        )),
        (Some(retention), Some(age)) => {
            let param = &t["Parameters"][PARAM];
            if param["Type"] != "Number" {
                p.push(format!(
                    "parameter {PARAM}: type {}, expected Number",
                    param["Type"]
                ));
            }
            for key in ["MinValue", "Default"] {
                match number(&param[key]) {
                    None => p.push(format!("parameter {PARAM}: no numeric {key}")),
                    Some(days) if days * 86_400.0 <= retention + age => p.push(format!(
                        "parameter {PARAM}: {key} {days} days is not longer than a failed \
                         event can be retried ({age} s of retries + {retention} s in {queue})"
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    for (name, b) in of_type(t, "AWS::S3::Bucket") {
        let rules = items(&b["Properties"]["LifecycleConfiguration"]["Rules"]);
        let aborts = rules.iter().any(|r| {
            let r = &r.value;
            r["Status"] == "Enabled"
                && number(&r["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]).is_some()
                && r["Prefix"].as_str().unwrap_or("").is_empty()
                && r["Filter"].is_null()
        });
        if !aborts {
            p.push(format!(
                "{name}: no bucket-wide rule aborting incomplete multipart uploads"
            ));
        }
        let versioned = b["Properties"]["VersioningConfiguration"]["Status"] == "Enabled";
        let old_versions_expire = rules.iter().any(|r| {
            r.value["Status"] == "Enabled"
                && number(&r.value["NoncurrentVersionExpiration"]["NoncurrentDays"]).is_some()
        });
        if versioned && !old_versions_expire {
            p.push(format!("{name}: versioned, but old versions never expire"));
        }
    }
    for (name, g) in of_type(t, "AWS::Logs::LogGroup") {
        if g["Properties"]["RetentionInDays"].is_null() {
            p.push(format!("{name}: no RetentionInDays (logs kept for ever)"));
        }
    }
    p
}

/// Both functions log JSON lines: their binaries use lambda_runtime's own subscriber set-up,
/// which writes JSON only when the function's `LoggingConfig` says `LogFormat: JSON` (Lambda then
/// sets `AWS_LAMBDA_LOG_FORMAT`), and each writes to its own log group (with a retention).
fn logging_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    for (name, f) in of_type(t, "AWS::Serverless::Function") {
        let logging = &f["Properties"]["LoggingConfig"];
        if logging["LogFormat"] != "JSON" {
            p.push(format!("{name}: LoggingConfig.LogFormat is not JSON"));
        }
        if logging["LogGroup"].is_null() {
            p.push(format!("{name}: no LoggingConfig.LogGroup"));
        }
    }
    p
}

/// The condition under which alarms mail someone.
const HAS_ALARM_EMAIL: &str = "HasAlarmEmail";

/// Alarms: one on the dead-letter queue's visible messages and one on each function's `Errors`
/// and `Throttles`, each firing on the first occurrence in one period. They exist in every stack
/// (no `Condition`); their only action is the alarm topic, under `HasAlarmEmail` (an email address
/// is given), and that topic and its one email subscription to `AlarmEmail` exist only then.
fn alarm_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let cond = &t["Conditions"][HAS_ALARM_EMAIL];
    if *cond != json!({ "Fn::Not": [{ "Fn::Equals": [ref_("AlarmEmail"), ""] }] }) {
        p.push(format!(
            "condition {HAS_ALARM_EMAIL} is {cond}, not `AlarmEmail is set`"
        ));
    }
    if t["Parameters"]["AlarmEmail"]["Default"] != "" {
        p.push(format!(
            "parameter AlarmEmail: default {}, expected \"\" (optional)",
            t["Parameters"]["AlarmEmail"]["Default"]
        ));
    }

    let topics: Vec<_> = of_type(t, "AWS::SNS::Topic").collect();
    if topics.len() != 1 {
        p.push(format!("{} SNS topics, expected 1 (alarms)", topics.len()));
    }
    let topic = topics.first().map(|(n, _)| n.as_str()).unwrap_or("?");
    for (name, tp) in &topics {
        if tp["Condition"] != HAS_ALARM_EMAIL {
            p.push(format!(
                "{name}: exists without AlarmEmail (Condition {}, not {HAS_ALARM_EMAIL})",
                tp["Condition"]
            ));
        }
        if !tp["Properties"]["Subscription"].is_null() {
            p.push(format!("{name}: inline subscriptions"));
        }
    }
    let subs: Vec<_> = of_type(t, "AWS::SNS::Subscription").collect();
    if subs.len() != 1 {
        p.push(format!(
            "{} SNS subscriptions, expected 1 (AlarmEmail)",
            subs.len()
        ));
    }
    for (name, s) in &subs {
        let props = &s["Properties"];
        if s["Condition"] != HAS_ALARM_EMAIL {
            p.push(format!(
                "{name}: Condition {}, not {HAS_ALARM_EMAIL}",
                s["Condition"]
            ));
        }
        if props["Protocol"] != "email"
            || props["Endpoint"] != ref_("AlarmEmail")
            || props["TopicArn"] != ref_(topic)
        {
            p.push(format!(
                "{name}: Protocol {} Endpoint {} TopicArn {}: \
                 not an email to AlarmEmail from {topic}",
                props["Protocol"], props["Endpoint"], props["TopicArn"]
            ));
        }
    }

    let queue = t["Resources"]["ResizeFunction"]["Properties"]["DeadLetterQueue"]["TargetArn"]
        ["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let mut wanted = vec![(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        json!([{ "Name": "QueueName", "Value": get_att(&queue, "QueueName") }]),
        queue.clone(),
    )];
    for function in ["ResizeFunction", "PresignFunction"] {
        for metric in ["Errors", "Throttles"] {
            wanted.push((
                "AWS/Lambda",
                metric,
                json!([{ "Name": "FunctionName", "Value": ref_(function) }]),
                function.to_string(),
            ));
        }
    }
    let actions = json!({ "Fn::If": [HAS_ALARM_EMAIL, [ref_(topic)], ref_("AWS::NoValue")] });
    let alarms: Vec<_> = of_type(t, "AWS::CloudWatch::Alarm").collect();
    for (namespace, metric, dimensions, what) in &wanted {
        let found: Vec<_> = alarms
            .iter()
            .filter(|(_, a)| {
                let props = &a["Properties"];
                props["Namespace"] == *namespace
                    && props["MetricName"] == *metric
                    && props["Dimensions"] == *dimensions
            })
            .collect();
        if found.is_empty() {
            p.push(format!("no alarm on {metric} of {what}"));
        }
        for (name, a) in found {
            let props = &a["Properties"];
            if !a["Condition"].is_null() {
                p.push(format!(
                    "{name}: exists only with {} (alarms must exist without an email too)",
                    a["Condition"]
                ));
            }
            let first = match (
                props["ComparisonOperator"].as_str(),
                number(&props["Threshold"]),
            ) {
                (Some("GreaterThanThreshold"), Some(x)) => x == 0.0,
                (Some("GreaterThanOrEqualToThreshold"), Some(x)) => x <= 1.0 && x > 0.0,
                _ => false,
            };
            if !first {
                p.push(format!(
                    "{name}: fires only when {metric} is {} {} (expected > 0)",
                    props["ComparisonOperator"], props["Threshold"]
                ));
            }
            if !matches!(props["Statistic"].as_str(), Some("Sum" | "Maximum")) {
                p.push(format!(
                    "{name}: statistic {} can miss a single event (Sum or Maximum)",
                    props["Statistic"]
                ));
            }
            let datapoints = match &props["DatapointsToAlarm"] {
                Value::Null => number(&props["EvaluationPeriods"]),
                v => number(v),
            };
            if datapoints != Some(1.0) {
                p.push(format!(
                    "{name}: needs {datapoints:?} breaching periods, expected 1"
                ));
            }
            if props["ActionsEnabled"] == false {
                p.push(format!("{name}: actions disabled"));
            }
            if props["AlarmActions"] != actions {
                p.push(format!(
                    "{name}: AlarmActions {} are not {actions}",
                    props["AlarmActions"]
                ));
            }
            for key in ["OKActions", "InsufficientDataActions"] {
                if !props[key].is_null() && props[key] != actions {
                    p.push(format!("{name}: {key} {} are not {actions}", props[key]));
                }
            }
        }
    }
    p
}

/// The condition under which the (billed) WAF web ACL exists.
const HAS_WAF: &str = "HasWaf";

/// `WafRateLimit` is off by default (0; its description gives WAF's price); above 0 there is one
/// CloudFront-scope web ACL (condition `HasWaf`) that allows by default and has exactly one rule:
/// block an IP address above `WafRateLimit` requests per 5 minutes. The distribution uses it only
/// then, and a template rule requires us-east-1 (where CloudFront web ACLs live) when it is on.
fn waf_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let param = &t["Parameters"]["WafRateLimit"];
    if param["Type"] != "Number" || number(&param["Default"]) != Some(0.0) {
        p.push(format!(
            "parameter WafRateLimit: type {} default {}, expected a Number defaulting to 0 (off)",
            param["Type"], param["Default"]
        ));
    }
    if !param["Description"]
        .as_str()
        .is_some_and(|d| d.contains("USD") && d.contains("us-east-1"))
    {
        p.push(
            "parameter WafRateLimit: description lacks WAF's price (USD) \
             or the us-east-1 constraint"
                .into(),
        );
    }
    let on = [
        json!({ "Fn::Not": [{ "Fn::Equals": [ref_("WafRateLimit"), 0] }] }),
        json!({ "Fn::Not": [{ "Fn::Equals": [ref_("WafRateLimit"), "0"] }] }),
    ];
    if !on.contains(&t["Conditions"][HAS_WAF]) {
        p.push(format!(
            "condition {HAS_WAF} is {}, not `WafRateLimit is not 0`",
            t["Conditions"][HAS_WAF]
        ));
    }

    let acls: Vec<_> = of_type(t, "AWS::WAFv2::WebACL").collect();
    if acls.len() != 1 {
        p.push(format!("{} WAF web ACLs, expected 1", acls.len()));
    }
    let acl = acls.first().map(|(n, _)| n.as_str()).unwrap_or("?");
    for (name, a) in &acls {
        let props = &a["Properties"];
        if a["Condition"] != HAS_WAF {
            p.push(format!(
                "{name}: created with WafRateLimit 0 (Condition {}, not {HAS_WAF}): billed monthly",
                a["Condition"]
            ));
        }
        if props["Scope"] != "CLOUDFRONT" {
            p.push(format!(
                "{name}: Scope {}, expected CLOUDFRONT",
                props["Scope"]
            ));
        }
        if props["DefaultAction"] != json!({ "Allow": {} }) {
            p.push(format!("{name}: DefaultAction {}", props["DefaultAction"]));
        }
        let rules = props["Rules"].as_array().cloned().unwrap_or_default();
        if rules.len() != 1 {
            p.push(format!(
                "{name}: {} rules, expected 1 (each rule is billed)",
                rules.len()
            ));
        }
        for r in &rules {
            let rate = &r["Statement"]["RateBasedStatement"];
            if r["Action"] != json!({ "Block": {} }) {
                p.push(format!(
                    "{name}: rule {} action {}, expected Block",
                    r["Name"], r["Action"]
                ));
            }
            if rate["Limit"] != ref_("WafRateLimit") {
                p.push(format!(
                    "{name}: rule {} Limit {} is not WafRateLimit",
                    r["Name"], rate["Limit"]
                ));
            }
            if rate["AggregateKeyType"] != "IP" {
                p.push(format!(
                    "{name}: rule {} counts by {}, expected IP",
                    r["Name"], rate["AggregateKeyType"]
                ));
            }
            if !(rate["EvaluationWindowSec"].is_null()
                || number(&rate["EvaluationWindowSec"]) == Some(300.0))
            {
                p.push(format!(
                    "{name}: rule {} window {} s, expected 300 (5 minutes)",
                    r["Name"], rate["EvaluationWindowSec"]
                ));
            }
        }
    }
    let web_acl_id =
        &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"];
    let want = json!({ "Fn::If": [HAS_WAF, get_att(acl, "Arn"), ref_("AWS::NoValue")] });
    if *web_acl_id != want {
        p.push(format!(
            "Distribution: WebACLId {web_acl_id}, expected {want}"
        ));
    }

    let us_east_1 = [
        json!({ "Fn::Equals": [ref_("AWS::Region"), "us-east-1"] }),
        json!({ "Fn::Equals": ["us-east-1", ref_("AWS::Region")] }),
    ];
    let region_rule = t["Rules"].as_object().into_iter().flatten().any(|(_, r)| {
        on.contains(&r["RuleCondition"])
            && r["Assertions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| us_east_1.contains(&a["Assert"])))
    });
    if !region_rule {
        p.push("no template rule requiring us-east-1 when WafRateLimit is above 0".into());
    }
    p
}

/// The header CloudFront adds to every API request, and the presign function's variable for it.
const ORIGIN_SECRET_HEADER: &str = "X-Fitbox-Origin-Secret";
const ORIGIN_SECRET_ENV: &str = "FITBOX_ORIGIN_SECRET";

/// An `AllowedPattern` as CloudFormation applies it. Accepting is checked as a whole-value match,
/// refusing as "matches nowhere in the value", so a pattern passes only if it is right under
/// either reading (an unanchored pattern fails).
struct Pattern {
    whole: regex::Regex,
    anywhere: regex::Regex,
}

impl Pattern {
    fn of(t: &Value, param: &str) -> Result<Self, String> {
        let text = t["Parameters"][param]["AllowedPattern"]
            .as_str()
            .ok_or(format!("parameter {param}: no AllowedPattern"))?;
        let compile = |re: &str| {
            regex::Regex::new(re)
                .map_err(|e| format!("parameter {param}: AllowedPattern {text:?}: {e}"))
        };
        Ok(Pattern {
            whole: compile(&format!("^(?:{text})$"))?,
            anywhere: compile(text)?,
        })
    }

    /// Problems with values the pattern must accept and values it must refuse.
    fn examples(&self, param: &str, accept: &[&str], refuse: &[&str]) -> Vec<String> {
        let mut p = Vec::new();
        for v in accept {
            if !self.whole.is_match(v) {
                p.push(format!("parameter {param}: AllowedPattern refuses {v:?}"));
            }
        }
        for v in refuse {
            if self.anywhere.is_match(v) {
                p.push(format!("parameter {param}: AllowedPattern accepts {v:?}"));
            }
        }
        p
    }
}

/// The direct API Gateway URL does not go around CloudFront: `OriginSecret` (NoEcho, no default,
/// 32+ letters and digits) is both the header CloudFront's `api` origin sends and the presign
/// function's `FITBOX_ORIGIN_SECRET`; no output shows it, and `DirectApiUrl` says the header is
/// needed.
fn origin_secret_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let param = &t["Parameters"]["OriginSecret"];
    if param["Type"] != "String" || param["NoEcho"] != true {
        p.push(format!(
            "parameter OriginSecret: Type {} NoEcho {}, expected a NoEcho String",
            param["Type"], param["NoEcho"]
        ));
    }
    if !param["Default"].is_null() {
        p.push(format!(
            "parameter OriginSecret: Default {} \
             (a default secret is no secret, an empty one turns the check off)",
            param["Default"]
        ));
    }
    match Pattern::of(t, "OriginSecret") {
        Err(e) => p.push(e),
        Ok(pattern) => {
            let a31 = "a".repeat(31);
            let a32 = "A1".repeat(16);
            let hex64 = "0123456789abcdef".repeat(4);
            let long = "x".repeat(129);
            p.extend(pattern.examples(
                "OriginSecret",
                &[&a32, &hex64],
                &[
                    "",
                    "secret",
                    &a31,
                    &long,
                    &format!("{hex64} "),
                    &format!("{a32}\""),
                ],
            ));
        }
    }

    let cfg = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let api_origins: Vec<Value> = items(&cfg["Origins"])
        .into_iter()
        .map(|i| i.value)
        .filter(|o| o["DomainName"].to_string().contains("${HttpApi}"))
        .collect();
    if api_origins.is_empty() {
        p.push("no CloudFront origin on the HTTP API".into());
    }
    for o in &api_origins {
        let headers = o["OriginCustomHeaders"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let sends = headers.iter().any(|h| {
            h["HeaderName"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(ORIGIN_SECRET_HEADER))
                && h["HeaderValue"] == ref_("OriginSecret")
        });
        if !sends {
            p.push(format!(
                "origin {}: does not send {ORIGIN_SECRET_HEADER}: !Ref OriginSecret \
                 (custom headers {})",
                o["Id"], o["OriginCustomHeaders"]
            ));
        }
    }
    let env = &presign_env(t)[ORIGIN_SECRET_ENV];
    if *env != ref_("OriginSecret") {
        p.push(format!(
            "PresignFunction: {ORIGIN_SECRET_ENV} is {env}, not !Ref OriginSecret \
             (the header's value)"
        ));
    }
    for (name, o) in t["Outputs"].as_object().into_iter().flatten() {
        if o["Value"].to_string().contains("OriginSecret") {
            p.push(format!("output {name} shows OriginSecret"));
        }
    }
    let direct = t["Outputs"]["DirectApiUrl"]["Description"]
        .as_str()
        .unwrap_or("");
    if !t["Outputs"]["DirectApiUrl"].is_null() && !direct.contains(ORIGIN_SECRET_HEADER) {
        p.push(format!(
            "output DirectApiUrl: description {direct:?} \
             does not say requests need {ORIGIN_SECRET_HEADER}"
        ));
    }
    p
}

/// `AllowedOrigin` is empty or an https:// origin; plain http:// only for the loopback host
/// (`localhost`, `127.0.0.1`), with or without a port, and never a path, a list or a wildcard.
fn allowed_origin_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if t["Parameters"]["AllowedOrigin"]["Default"] != "" {
        p.push(format!(
            "parameter AllowedOrigin: default {}, expected \"\"",
            t["Parameters"]["AllowedOrigin"]["Default"]
        ));
    }
    match Pattern::of(t, "AllowedOrigin") {
        Err(e) => p.push(e),
        Ok(pattern) => p.extend(pattern.examples(
            "AllowedOrigin",
            &[
                "",
                "https://example.com",
                "https://photos.example.co.uk:8443",
                "http://localhost",
                "http://localhost:8080",
                "http://127.0.0.1",
                "http://127.0.0.1:8080",
            ],
            &[
                "http://example.com",
                "http://example.com:8080",
                "http://localhost.example.com",
                "http://localhostx",
                "http://127.0.0.1.nip.io",
                "http://127.0.0.2:8080",
                "http://127x0x0x1",
                "http://10.0.0.1",
                "http://[::1]:8080",
                "https://example.com/",
                "https://example.com/app",
                "http://localhost:8080/",
                "https://example.com,https://evil.example",
                "https://*.example.com",
                "*",
                "ftp://example.com",
                "HTTP://example.com",
                "javascript:alert(1)",
                "example.com",
            ],
        )),
    }
    p
}

/// The one response headers policy on every behaviour: HSTS for at least a year with
/// subdomains, nosniff, no framing (`X-Frame-Options: DENY` and CSP `frame-ancestors 'none'`),
/// a referrer policy that never sends paths to other origins, and the CSP's `object-src 'none'`;
/// each header overrides the origin's.
fn security_headers_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    const POLICY: &str = "SecurityHeadersPolicy";
    let cfg = &t["Resources"][POLICY]["Properties"]["ResponseHeadersPolicyConfig"]
        ["SecurityHeadersConfig"];
    let hsts = &cfg["StrictTransportSecurity"];
    if !number(&hsts["AccessControlMaxAgeSec"]).is_some_and(|s| s >= 31_536_000.0)
        || hsts["IncludeSubdomains"] != true
    {
        p.push(format!(
            "{POLICY}: HSTS {hsts} is not a year or more with subdomains"
        ));
    }
    if cfg["FrameOptions"]["FrameOption"] != "DENY" {
        p.push(format!(
            "{POLICY}: X-Frame-Options {}, expected DENY",
            cfg["FrameOptions"]["FrameOption"]
        ));
    }
    let referrer = cfg["ReferrerPolicy"]["ReferrerPolicy"]
        .as_str()
        .unwrap_or("");
    if ![
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ]
    .contains(&referrer)
    {
        p.push(format!(
            "{POLICY}: Referrer-Policy {referrer:?} leaks paths"
        ));
    }
    for header in [
        "StrictTransportSecurity",
        "ContentTypeOptions",
        "FrameOptions",
        "ReferrerPolicy",
        "ContentSecurityPolicy",
    ] {
        if cfg[header]["Override"] != true {
            p.push(format!(
                "{POLICY}: {header} missing or not overriding the origin's"
            ));
        }
    }
    let csp = &cfg["ContentSecurityPolicy"]["ContentSecurityPolicy"];
    let text = csp["Fn::Sub"][0]
        .as_str()
        .or(csp["Fn::Sub"].as_str())
        .or(csp.as_str())
        .unwrap_or("");
    let directive = |name: &str| -> Option<Vec<String>> {
        text.split(';').map(str::trim).find_map(|d| {
            let mut words = d.split_whitespace();
            (words.next() == Some(name)).then(|| words.map(String::from).collect())
        })
    };
    for name in ["frame-ancestors", "object-src"] {
        let got = directive(name);
        if got != Some(vec!["'none'".to_string()]) {
            p.push(format!("{POLICY}: CSP {name} is {got:?}, expected 'none'"));
        }
    }
    // Scripts from the page's origin only: Trunk's loader is a file
    // (scripts/trunk-loader-hook.mjs), so no inline script needs 'unsafe-inline' (or a hash); the
    // same policy as `fitbox serve`.
    let script = directive("script-src");
    if script != Some(vec!["'self'".into(), "'wasm-unsafe-eval'".into()]) {
        p.push(format!(
            "{POLICY}: CSP script-src is {script:?}, expected 'self' 'wasm-unsafe-eval'"
        ));
    }
    let dist = &t["Resources"]["Distribution"]["Properties"]["DistributionConfig"];
    let mut behaviours = vec![("default".to_string(), dist["DefaultCacheBehavior"].clone())];
    for b in items(&dist["CacheBehaviors"]) {
        behaviours.push((b.value["PathPattern"].to_string(), b.value));
    }
    for (path, b) in behaviours {
        if b["ResponseHeadersPolicyId"] != ref_(POLICY) {
            p.push(format!(
                "behaviour {path}: response headers policy {}, not {POLICY}",
                b["ResponseHeadersPolicyId"]
            ));
        }
    }
    p
}

// ------------------------------------------------------------------------------------------------
// The real template
// ------------------------------------------------------------------------------------------------

fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "template.yaml:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn short_form_tags_become_long_form() {
    let yaml =
        "a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub \"${X}\"\nd: !If [C, !Ref Y, !Ref AWS::NoValue]\n";
    let v = to_json(serde_norway::from_str(yaml).unwrap());
    assert_eq!(v["a"], json!({"Ref": "X"}));
    assert_eq!(v["b"], json!({"Fn::GetAtt": ["R", "Arn"]}));
    assert_eq!(v["c"], json!({"Fn::Sub": "${X}"}));
    assert_eq!(
        v["d"],
        json!({"Fn::If": ["C", {"Ref": "Y"}, {"Ref": "AWS::NoValue"}]})
    );
}

#[test]
fn every_bucket_blocks_public_access_holds() {
    assert_none(bucket_problems(&template()));
}

#[test]
fn bucket_policies_allow_only_cloudfront_holds() {
    assert_none(bucket_policy_problems(&template()));
}

#[test]
fn function_iam_is_exactly_the_listed_grants_holds() {
    assert_none(iam_problems(&template()));
}

#[test]
fn only_s3_and_the_api_invoke_the_functions_holds() {
    assert_none(invoke_permission_problems(&template()));
}

#[test]
fn notification_filters_on_uploads_holds() {
    assert_none(notification_problems(&template()));
}

#[test]
fn upload_bucket_cors_and_lifecycle_holds() {
    assert_none(upload_bucket_rule_problems(&template()));
}

#[test]
fn cloudfront_is_https_only_with_oac_holds() {
    assert_none(cloudfront_problems(&template()));
}

#[test]
fn functions_are_arm64_cargo_lambda_builds_holds() {
    assert_none(function_problems(&template()));
}

#[test]
fn api_needs_a_caller_by_default_holds() {
    assert_none(access_mode_problems(&template()));
}

#[test]
fn cognito_client_is_code_flow_for_the_site_only_holds() {
    assert_none(cognito_client_problems(&template()));
}

#[test]
fn oidc_and_cdn_settings_are_wired_holds() {
    assert_none(oidc_wiring_problems(&template()));
}

#[test]
fn csp_adds_only_sign_in_and_thumbnail_origins_holds() {
    assert_none(csp_problems(&template()));
}

#[test]
fn private_mode_cdn_serves_no_thumbnails_holds() {
    assert_none(private_mode_cdn_problems(&template()));
}

#[test]
fn functions_log_json_holds() {
    assert_none(logging_problems(&template()));
}

#[test]
fn mutation_function_logs_text() {
    let check: Check = logging_problems;
    let format = format!("{RES}/ResizeFunction/Properties/LoggingConfig/LogFormat");
    assert_caught("text logs", check, "LogFormat is not JSON", |t| {
        set(t, &format, json!("Text"))
    });
    assert_caught("no log format", check, "LogFormat is not JSON", |t| {
        remove(t, &format)
    });
}

#[test]
fn unfinished_uploads_expire_after_the_dead_letter_queue_holds() {
    assert_none(retention_problems(&template()));
}

#[test]
fn alarms_exist_and_mail_only_with_an_address_holds() {
    assert_none(alarm_problems(&template()));
}

#[test]
fn waf_rate_limit_is_optional_holds() {
    assert_none(waf_problems(&template()));
}

#[test]
fn origin_secret_reaches_cloudfront_and_the_function_holds() {
    assert_none(origin_secret_problems(&template()));
}

#[test]
fn allowed_origin_is_https_or_loopback_holds() {
    assert_none(allowed_origin_problems(&template()));
}

#[test]
fn security_headers_forbid_framing_holds() {
    assert_none(security_headers_problems(&template()));
}

// ------------------------------------------------------------------------------------------------
// Mutations: each check must notice a broken template
// ------------------------------------------------------------------------------------------------

type Check = fn(&Value) -> Vec<String>;

fn set(t: &mut Value, pointer: &str, v: Value) {
    *t.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in template.yaml")) = v;
}

fn push(t: &mut Value, pointer: &str, v: Value) {
    t.pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("no list at {pointer}"))
        .push(v);
}

/// JSON pointer of the item of the list at `list` whose `key` is `want`, through `Fn::If`
/// wrappers (`.../Origins/1/Fn::If/1`).
fn item(t: &Value, list: &str, key: &str, want: &str) -> String {
    let items = items(
        t.pointer(list)
            .unwrap_or_else(|| panic!("no {list} in template.yaml")),
    );
    let found = items.into_iter().find(|i| i.value[key] == want);
    let found = found.unwrap_or_else(|| panic!("no item with {key} {want} in {list}"));
    format!("{list}{}", found.pointer)
}

const CF: &str = "/Resources/Distribution/Properties/DistributionConfig";

fn origin(t: &Value, id: &str) -> String {
    item(t, &format!("{CF}/Origins"), "Id", id)
}

fn behaviour(t: &Value, path: &str) -> String {
    item(t, &format!("{CF}/CacheBehaviors"), "PathPattern", path)
}

/// Replace the `Fn::If` whose first branch is at `pointer` (`.../Fn::If/1`) by that branch: the
/// item then exists whatever the condition.
fn ungate(t: &mut Value, pointer: &str) {
    let wrapper = pointer
        .strip_suffix("/Fn::If/1")
        .unwrap_or_else(|| panic!("{pointer} is not the first branch of an Fn::If"));
    let branch = t.pointer(pointer).unwrap().clone();
    set(t, wrapper, branch);
}

/// Apply `mutate` to a fresh copy of the template and require `check` to report something
/// containing `expect`.
fn assert_caught(what: &str, check: Check, expect: &str, mutate: impl FnOnce(&mut Value)) {
    let mut t = template();
    assert_none(check(&t));
    mutate(&mut t);
    let problems = check(&t);
    assert!(
        problems.iter().any(|p| p.contains(expect)),
        "mutation '{what}' went unnoticed \
         (wanted a problem containing {expect:?}, got {problems:?})"
    );
}

const RES: &str = "/Resources";

#[test]
fn mutation_public_access_block() {
    for key in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        for bucket in ["UploadBucket", "ResizedBucket", "SiteBucket"] {
            assert_caught(
                &format!("{bucket} {key} false"),
                bucket_problems,
                key,
                |t| {
                    set(
                        t,
                        &format!("{RES}/{bucket}/Properties/PublicAccessBlockConfiguration/{key}"),
                        json!(false),
                    )
                },
            );
        }
    }
    assert_caught("block removed", bucket_problems, "SiteBucket", |t| {
        t["Resources"]["SiteBucket"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("PublicAccessBlockConfiguration");
    });
    assert_caught("canned ACL", bucket_problems, "AccessControl", |t| {
        t["Resources"]["ResizedBucket"]["Properties"]["AccessControl"] = json!("PublicRead");
    });
    assert_caught("ACLs enabled", bucket_problems, "ObjectOwnership", |t| {
        set(
            t,
            &format!("{RES}/UploadBucket/Properties/OwnershipControls/Rules/0/ObjectOwnership"),
            json!("ObjectWriter"),
        )
    });
    assert_caught("no encryption", bucket_problems, "encryption", |t| {
        t["Resources"]["UploadBucket"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("BucketEncryption");
    });
    assert_caught(
        "fourth bucket",
        bucket_problems,
        "expected 3 buckets",
        |t| {
            t["Resources"]["Extra"] = json!({
                "Type": "AWS::S3::Bucket",
                "Properties": t["Resources"]["SiteBucket"]["Properties"].clone(),
            });
        },
    );
}

#[test]
fn mutation_bucket_policy() {
    let check: Check = bucket_policy_problems;
    let stmt = item(
        &template(),
        &format!("{RES}/ResizedBucketPolicy/Properties/PolicyDocument/Statement"),
        "Sid",
        "CloudFrontReadsThumbnails",
    );
    assert_caught("anonymous principal", check, "allows \"*\"", |t| {
        set(t, &format!("{stmt}/Principal"), json!("*"))
    });
    assert_caught("AWS * principal", check, "only the CloudFront", |t| {
        set(t, &format!("{stmt}/Principal"), json!({"AWS": "*"}))
    });
    assert_caught("condition dropped", check, "does not restrict", |t| {
        t.pointer_mut(&stmt)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("Condition");
    });
    assert_caught("another distribution", check, "does not restrict", |t| {
        set(
            t,
            &format!("{stmt}/Condition/StringEquals/AWS:SourceArn"),
            json!("arn:aws:cloudfront::111122223333:distribution/EXAMPLE"),
        )
    });
    assert_caught("write access", check, "only s3:GetObject", |t| {
        set(
            t,
            &format!("{stmt}/Action"),
            json!(["s3:GetObject", "s3:PutObject"]),
        )
    });
    assert_caught("other bucket's objects", check, "not an object of", |t| {
        set(
            t,
            &format!("{stmt}/Resource"),
            json!({"Fn::Sub": "${UploadBucket.Arn}/*"}),
        )
    });
    assert_caught(
        "public allow on the upload bucket",
        check,
        "allows \"*\"",
        |t| {
            push(
                t,
                &format!("{RES}/UploadBucketPolicy/Properties/PolicyDocument/Statement"),
                json!({"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
                   "Resource": {"Fn::Sub": "${UploadBucket.Arn}/uploads/*"}}),
            )
        },
    );
}

#[test]
fn mutation_iam() {
    let check: Check = iam_problems;
    let resize = format!("{RES}/ResizeFunction/Properties/Policies/0/Statement");
    let presign = format!("{RES}/PresignFunction/Properties/Policies/0/Statement");
    assert_caught("extra action", check, "grants more than listed", |t| {
        set(
            t,
            &format!("{resize}/0/Action"),
            json!(["s3:GetObject", "s3:DeleteObject", "s3:PutObject"]),
        )
    });
    assert_caught("wildcard action", check, "s3:* on", |t| {
        set(t, &format!("{presign}/0/Action"), json!("s3:*"))
    });
    assert_caught("whole upload bucket", check, "UploadBucket/*", |t| {
        set(
            t,
            &format!("{presign}/0/Resource"),
            json!({"Fn::Sub": "${UploadBucket.Arn}/*"}),
        )
    });
    assert_caught(
        "delete from rejected/",
        check,
        "grants more than listed",
        |t| {
            let s = &mut t.pointer_mut(&resize).unwrap()[0]["Resource"]["Fn::Sub"][0];
            *s = json!(s.as_str().unwrap().replace("/uploads/*", "/*"));
        },
    );
    assert_caught("missing grant", check, "lacks", |t| {
        t.pointer_mut(&resize)
            .unwrap()
            .as_array_mut()
            .unwrap()
            .remove(1);
    });
    assert_caught(
        "listing condition dropped",
        check,
        "grants more than listed",
        |t| {
            t.pointer_mut(&presign).unwrap()[3]
                .as_object_mut()
                .unwrap()
                .remove("Condition");
        },
    );
    assert_caught(
        "managed policy",
        check,
        "not an inline statement list",
        |t| {
            push(
                t,
                &format!("{RES}/ResizeFunction/Properties/Policies"),
                json!("AmazonS3FullAccess"),
            )
        },
    );
    assert_caught(
        "SAM policy template",
        check,
        "not an inline statement list",
        |t| {
            push(
                t,
                &format!("{RES}/PresignFunction/Properties/Policies"),
                json!({"S3CrudPolicy": {"BucketName": {"Ref": "ResizedBucket"}}}),
            )
        },
    );
    assert_caught("own role", check, "Role property", |t| {
        t["Resources"]["ResizeFunction"]["Properties"]["Role"] = json!("arn:aws:iam::1:role/admin");
    });
    assert_caught("IAM resource", check, "AWS::IAM::Policy", |t| {
        t["Resources"]["Sneaky"] = json!({"Type": "AWS::IAM::Policy", "Properties": {}});
    });
    assert_caught("function URL", check, "function URL", |t| {
        t["Resources"]["PresignFunction"]["Properties"]["FunctionUrlConfig"] =
            json!({"AuthType": "NONE"});
    });
    assert_caught("global policies", check, "Globals.Function.Policies", |t| {
        t["Globals"]["Function"]["Policies"] = json!(["AmazonS3FullAccess"]);
    });
}

#[test]
fn mutation_invoke_permissions() {
    let check: Check = invoke_permission_problems;
    assert_caught(
        "any bucket may invoke",
        check,
        "not the upload bucket",
        |t| {
            t["Resources"]["ResizeInvokePermission"]["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("SourceArn");
        },
    );
    assert_caught("any account", check, "SourceAccount", |t| {
        t["Resources"]["ResizeInvokePermission"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("SourceAccount");
    });
    assert_caught("anyone may invoke", check, "lets Some(\"*\")", |t| {
        t["Resources"]["PresignInvokePermission"]["Properties"]["Principal"] = json!("*");
    });
}

#[test]
fn mutation_notification() {
    let check: Check = notification_problems;
    let cfg =
        format!("{RES}/UploadBucket/Properties/NotificationConfiguration/LambdaConfigurations/0");
    assert_caught("prefix widened", check, "prefix uploads/", |t| {
        set(t, &format!("{cfg}/Filter/S3Key/Rules/0/Value"), json!(""))
    });
    assert_caught("rejected/ too", check, "prefix uploads/", |t| {
        set(
            t,
            &format!("{cfg}/Filter/S3Key/Rules/0/Value"),
            json!("rejected/"),
        )
    });
    assert_caught("filter removed", check, "prefix uploads/", |t| {
        t.pointer_mut(&cfg)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("Filter");
    });
    assert_caught("suffix rule instead", check, "prefix uploads/", |t| {
        set(
            t,
            &format!("{cfg}/Filter/S3Key/Rules/0/Name"),
            json!("suffix"),
        )
    });
    assert_caught("wrong event", check, "event", |t| {
        set(t, &format!("{cfg}/Event"), json!("s3:ObjectRemoved:*"))
    });
    assert_caught("wrong function", check, "notifies", |t| {
        set(
            t,
            &format!("{cfg}/Function"),
            get_att("PresignFunction", "Arn"),
        )
    });
    assert_caught(
        "second notification",
        check,
        "2 Lambda notifications",
        |t| {
            let c = t.pointer(&cfg).unwrap().clone();
            push(
                t,
                &format!(
                    "{RES}/UploadBucket/Properties/NotificationConfiguration/LambdaConfigurations"
                ),
                c,
            )
        },
    );
    assert_caught(
        "resized bucket triggers",
        check,
        "ResizedBucket: has notifications",
        |t| {
            t["Resources"]["ResizedBucket"]["Properties"]["NotificationConfiguration"] =
                t["Resources"]["UploadBucket"]["Properties"]["NotificationConfiguration"].clone();
        },
    );
}

#[test]
fn mutation_upload_bucket_rules() {
    let check: Check = upload_bucket_rule_problems;
    let rule = format!("{RES}/UploadBucket/Properties/CorsConfiguration/CorsRules/0");
    assert_caught("any origin", check, "CORS origins", |t| {
        set(t, &format!("{rule}/AllowedOrigins/0"), json!("*"))
    });
    assert_caught("GET and DELETE", check, "CORS methods", |t| {
        set(
            t,
            &format!("{rule}/AllowedMethods"),
            json!(["PUT", "GET", "DELETE"]),
        )
    });
    assert_caught("ETag hidden", check, "ETag", |t| {
        set(t, &format!("{rule}/ExposedHeaders"), json!([]))
    });
    assert_caught("no abort rule", check, "aborting incomplete", |t| {
        set(
            t,
            &format!("{RES}/UploadBucket/Properties/LifecycleConfiguration/Rules/0/Status"),
            json!("Disabled"),
        )
    });
    assert_caught("rejected/ kept forever", check, "expiring rejected/", |t| {
        set(
            t,
            &format!("{RES}/UploadBucket/Properties/LifecycleConfiguration/Rules/1/Prefix"),
            json!("uploads/"),
        )
    });
    assert_caught(
        "CORS on the site bucket",
        check,
        "SiteBucket: has CORS",
        |t| {
            t["Resources"]["SiteBucket"]["Properties"]["CorsConfiguration"] =
                t["Resources"]["UploadBucket"]["Properties"]["CorsConfiguration"].clone();
        },
    );
}

#[test]
fn mutation_cloudfront() {
    let check: Check = cloudfront_problems;
    let cfg = CF;
    assert_caught("default allows HTTP", check, "serves HTTP", |t| {
        set(
            t,
            &format!("{cfg}/DefaultCacheBehavior/ViewerProtocolPolicy"),
            json!("allow-all"),
        )
    });
    for path in ["/images/*", "/api/*"] {
        assert_caught("behaviour allows HTTP", check, "serves HTTP", |t| {
            let b = behaviour(t, path);
            set(t, &format!("{b}/ViewerProtocolPolicy"), json!("allow-all"))
        });
        assert_caught("no security headers", check, "no security headers", |t| {
            let b = behaviour(t, path);
            remove(t, &format!("{b}/ResponseHeadersPolicyId"))
        });
    }
    for id in ["site", "images"] {
        assert_caught(
            "S3 without OAC",
            check,
            "without Origin Access Control",
            |t| {
                let o = origin(t, id);
                remove(t, &format!("{o}/OriginAccessControlId"))
            },
        );
    }
    assert_caught("OAI", check, "legacy origin access identity", |t| {
        let o = origin(t, "site");
        set(
            t,
            &format!("{o}/S3OriginConfig/OriginAccessIdentity"),
            json!("origin-access-identity/cloudfront/E123"),
        )
    });
    assert_caught("API over HTTP", check, "over HTTP", |t| {
        let o = origin(t, "api");
        set(
            t,
            &format!("{o}/CustomOriginConfig/OriginProtocolPolicy"),
            json!("match-viewer"),
        )
    });
    assert_caught("images from the upload bucket", check, "/images/*", |t| {
        let o = origin(t, "images");
        set(
            t,
            &format!("{o}/DomainName"),
            get_att("UploadBucket", "RegionalDomainName"),
        )
    });
    assert_caught("site from elsewhere", check, "default behaviour", |t| {
        set(
            t,
            &format!("{cfg}/DefaultCacheBehavior/TargetOriginId"),
            json!("images"),
        )
    });
    assert_caught("API to S3", check, "/api/* goes to", |t| {
        let b = behaviour(t, "/api/*");
        set(t, &format!("{b}/TargetOriginId"), json!("site"))
    });
    assert_caught("API cached", check, "/api/* is cached", |t| {
        let b = behaviour(t, "/api/*");
        set(
            t,
            &format!("{b}/CachePolicyId"),
            json!("658327ea-f89d-4fab-a63d-7e88639e58f6"),
        )
    });
    assert_caught(
        "API headers dropped",
        check,
        "forward all viewer headers",
        |t| {
            let b = behaviour(t, "/api/*");
            remove(t, &format!("{b}/OriginRequestPolicyId"))
        },
    );
    assert_caught("short HSTS", check, "HSTS", |t| {
        set(
            t,
            &format!(
                "{RES}/SecurityHeadersPolicy/Properties/ResponseHeadersPolicyConfig/\
                 SecurityHeadersConfig/StrictTransportSecurity/AccessControlMaxAgeSec"
            ),
            json!(300),
        )
    });
}

#[test]
fn mutation_functions() {
    let check: Check = function_problems;
    assert_caught("x86", check, "architectures", |t| {
        t["Globals"]["Function"]["Architectures"] = json!(["x86_64"]);
    });
    assert_caught("old runtime", check, "runtime", |t| {
        t["Resources"]["PresignFunction"]["Properties"]["Runtime"] = json!("provided.al2");
    });
    assert_caught(
        "wrong binary",
        check,
        "cargo-lambda build of fitbox-resize",
        |t| {
            t["Resources"]["ResizeFunction"]["Metadata"]["BuildProperties"]["Binary"] =
                json!("fitbox-presign");
        },
    );
    assert_caught("no DLQ", check, "dead-letter queue", |t| {
        t["Resources"]["ResizeFunction"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("DeadLetterQueue");
    });
    assert_caught(
        "no reserved concurrency",
        check,
        "reserved concurrency",
        |t| {
            t["Resources"]["ResizeFunction"]["Properties"]
                .as_object_mut()
                .unwrap()
                .remove("ReservedConcurrentExecutions");
        },
    );
    assert_caught("unthrottled API", check, "not throttled", |t| {
        t["Resources"]["HttpApiStage"]["Properties"]
            .as_object_mut()
            .unwrap()
            .remove("DefaultRouteSettings");
    });
}

/// Remove the member or list item at `pointer` (which must exist).
fn remove(t: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer below the root");
    match t.pointer_mut(parent) {
        Some(Value::Array(items)) => {
            items.remove(key.parse().expect("a list index"));
        }
        Some(Value::Object(map)) => {
            map.remove(key)
                .unwrap_or_else(|| panic!("no {pointer} in template.yaml"));
        }
        _ => panic!("no {parent} in template.yaml"),
    }
}

/// JSON pointer of the statement with this `Sid` in a function's inline policy.
fn statement(t: &Value, function: &str, sid: &str) -> String {
    let list = format!("{RES}/{function}/Properties/Policies/0/Statement");
    let i = t
        .pointer(&list)
        .and_then(Value::as_array)
        .and_then(|s| s.iter().position(|s| s["Sid"] == sid))
        .unwrap_or_else(|| panic!("no statement {sid} in {function}"));
    format!("{list}/{i}")
}

#[test]
fn mutation_iam_delete_and_invalidate() {
    let check: Check = iam_problems;
    let distribution = "not limited to this stack's distribution";
    assert_caught("invalidate anything", check, distribution, |t| {
        let s = statement(t, "PresignFunction", "InvalidateDeletedImages");
        set(t, &format!("{s}/Resource"), json!("*"))
    });
    assert_caught("every distribution", check, distribution, |t| {
        let s = statement(t, "PresignFunction", "InvalidateDeletedImages");
        set(
            t,
            &format!("{s}/Resource"),
            json!({
                "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*"
            }),
        )
    });
    assert_caught("another distribution", check, distribution, |t| {
        let s = statement(t, "PresignFunction", "InvalidateDeletedImages");
        set(
            t,
            &format!("{s}/Resource"),
            json!("arn:aws:cloudfront::111122223333:distribution/EXAMPLE"),
        )
    });
    assert_caught(
        "all CloudFront actions",
        check,
        "grants more than listed: cloudfront:* on Distribution",
        |t| {
            let s = statement(t, "PresignFunction", "InvalidateDeletedImages");
            set(t, &format!("{s}/Action"), json!("cloudfront:*"))
        },
    );
    assert_caught(
        "delete anything in the upload bucket",
        check,
        "s3:DeleteObject on UploadBucket/*",
        |t| {
            let s = statement(t, "PresignFunction", "DeleteImages");
            set(
                t,
                &format!("{s}/Resource/1"),
                json!({"Fn::Sub": "${UploadBucket.Arn}/*"}),
            )
        },
    );
    assert_caught(
        "delete the web app",
        check,
        "s3:DeleteObject on SiteBucket/*",
        |t| {
            let s = statement(t, "PresignFunction", "DeleteImages");
            push(
                t,
                &format!("{s}/Resource"),
                json!({"Fn::Sub": "${SiteBucket.Arn}/*"}),
            )
        },
    );
    assert_caught(
        "old thumbnail versions deletable",
        check,
        "s3:DeleteObjectVersion on ResizedBucket/images/*",
        |t| {
            let s = statement(t, "PresignFunction", "DeleteImages");
            set(
                t,
                &format!("{s}/Action"),
                json!(["s3:DeleteObject", "s3:DeleteObjectVersion"]),
            )
        },
    );
    assert_caught(
        "owner records unreadable",
        check,
        "lacks s3:GetObject on UploadBucket/owners/*",
        |t| {
            let s = statement(t, "PresignFunction", "ReadOwners");
            remove(t, &s)
        },
    );
    assert_caught(
        "deleted images stay cached",
        check,
        "lacks cloudfront:CreateInvalidation on Distribution",
        |t| {
            let s = statement(t, "PresignFunction", "InvalidateDeletedImages");
            remove(t, &s)
        },
    );
    assert_caught(
        "no owner records written",
        check,
        "ResizeFunction: lacks s3:PutObject on UploadBucket/owners/*",
        |t| {
            let s = statement(t, "ResizeFunction", "WriteOwners");
            remove(t, &s)
        },
    );
    assert_caught(
        "resize writes the whole upload bucket",
        check,
        "ResizeFunction: grants more than listed: s3:PutObject on UploadBucket/*",
        |t| {
            let s = statement(t, "ResizeFunction", "WriteOwners");
            let sub = &mut t.pointer_mut(&s).unwrap()["Resource"]["Fn::Sub"][0];
            *sub = json!(sub.as_str().unwrap().replace("/owners/*", "/*"));
        },
    );
}

#[test]
fn mutation_owner_records_expire() {
    let check: Check = upload_bucket_rule_problems;
    let rules = format!("{RES}/UploadBucket/Properties/LifecycleConfiguration/Rules");
    let expires = "expires owner records";
    assert_caught("owners/ expire", check, expires, |t| {
        push(
            t,
            &rules,
            json!({
                "Id": "ExpireOwners",
                "Status": "Enabled",
                "Prefix": "owners/",
                "ExpirationInDays": 30
            }),
        )
    });
    assert_caught("everything expires", check, expires, |t| {
        push(
            t,
            &rules,
            json!({"Id": "ExpireAll", "Status": "Enabled", "ExpirationInDays": 365}),
        )
    });
    assert_caught("a shorter prefix", check, expires, |t| {
        push(
            t,
            &rules,
            json!({
                "Id": "ExpireO",
                "Status": "Enabled",
                "Filter": {"Prefix": "o"},
                "ExpirationDate": "2030-01-01T00:00:00Z"
            }),
        )
    });
    assert_caught("abort rule gains an expiry", check, expires, |t| {
        t.pointer_mut(&format!("{rules}/0")).unwrap()["ExpirationInDays"] = json!(30);
    });
}

#[test]
fn mutation_access_mode() {
    let check: Check = access_mode_problems;
    let param = "/Parameters/AccessMode";
    let env = format!("{RES}/PresignFunction/Properties/Environment/Variables");
    assert_caught("open by default", check, "default", |t| {
        set(t, &format!("{param}/Default"), json!("open"))
    });
    assert_caught("open allowed", check, "allows open", |t| {
        push(t, &format!("{param}/AllowedValues"), json!("open"))
    });
    assert_caught("Open allowed", check, "allows open", |t| {
        set(
            t,
            &format!("{param}/AllowedValues"),
            json!(["signed-in-upload", "private", "Open"]),
        )
    });
    assert_caught("any value allowed", check, "no AllowedValues", |t| {
        remove(t, &format!("{param}/AllowedValues"))
    });
    assert_caught("hard-coded open", check, "FITBOX_ACCESS_MODE", |t| {
        set(t, &format!("{env}/FITBOX_ACCESS_MODE"), json!("open"))
    });
    assert_caught("mode not set", check, "FITBOX_ACCESS_MODE", |t| {
        remove(t, &format!("{env}/FITBOX_ACCESS_MODE"))
    });
    assert_caught("set for every function", check, "Globals", |t| {
        t["Globals"]["Function"]["Environment"] =
            json!({"Variables": {"FITBOX_ACCESS_MODE": "open"}});
    });
}

#[test]
fn mutation_cognito_client() {
    let check: Check = cognito_client_problems;
    let client = format!("{RES}/UserPoolClient/Properties");
    assert_caught("implicit flow", check, "OAuth flows", |t| {
        push(t, &format!("{client}/AllowedOAuthFlows"), json!("implicit"))
    });
    assert_caught("client credentials", check, "OAuth flows", |t| {
        set(
            t,
            &format!("{client}/AllowedOAuthFlows"),
            json!(["client_credentials"]),
        )
    });
    assert_caught("OAuth off", check, "AllowedOAuthFlowsUserPoolClient", |t| {
        set(
            t,
            &format!("{client}/AllowedOAuthFlowsUserPoolClient"),
            json!(false),
        )
    });
    assert_caught("client secret", check, "GenerateSecret", |t| {
        set(t, &format!("{client}/GenerateSecret"), json!(true))
    });
    assert_caught("foreign callback", check, "CallbackURLs", |t| {
        push(
            t,
            &format!("{client}/CallbackURLs"),
            json!("https://evil.example/callback"),
        )
    });
    assert_caught("callback to any path", check, "CallbackURLs", |t| {
        set(
            t,
            &format!("{client}/CallbackURLs/0"),
            json!({"Fn::Sub": "https://${Distribution.DomainName}/*"}),
        )
    });
    assert_caught("extra origin always", check, "CallbackURLs", |t| {
        set(
            t,
            &format!("{client}/CallbackURLs/1"),
            json!({"Fn::Sub": "${AllowedOrigin}/"}),
        )
    });
    assert_caught("foreign logout", check, "LogoutURLs", |t| {
        set(
            t,
            &format!("{client}/LogoutURLs/0"),
            json!("http://localhost:8080/"),
        )
    });
    assert_caught("default redirect", check, "DefaultRedirectURI", |t| {
        t["Resources"]["UserPoolClient"]["Properties"]["DefaultRedirectURI"] =
            json!("https://evil.example/");
    });
    assert_caught(
        "plain password flow",
        check,
        "ALLOW_USER_PASSWORD_AUTH",
        |t| {
            push(
                t,
                &format!("{client}/ExplicitAuthFlows"),
                json!("ALLOW_USER_PASSWORD_AUTH"),
            )
        },
    );
    assert_caught("default flows", check, "ExplicitAuthFlows unset", |t| {
        remove(t, &format!("{client}/ExplicitAuthFlows"))
    });
    assert_caught(
        "another identity provider",
        check,
        "identity providers",
        |t| {
            push(
                t,
                &format!("{client}/SupportedIdentityProviders"),
                json!("Google"),
            )
        },
    );
    assert_caught("no revocation", check, "token revocation", |t| {
        set(t, &format!("{client}/EnableTokenRevocation"), json!(false))
    });
    assert_caught(
        "user existence told",
        check,
        "PreventUserExistenceErrors",
        |t| {
            set(
                t,
                &format!("{client}/PreventUserExistenceErrors"),
                json!("LEGACY"),
            )
        },
    );
    assert_caught("second client", check, "2 Cognito app clients", |t| {
        t["Resources"]["CliClient"] = t["Resources"]["UserPoolClient"].clone();
    });
    assert_caught("self sign-up", check, "anyone may sign up", |t| {
        set(
            t,
            &format!("{RES}/UserPool/Properties/AdminCreateUserConfig/AllowAdminCreateUserOnly"),
            json!(false),
        )
    });
}

#[test]
fn mutation_oidc_wiring() {
    let check: Check = oidc_wiring_problems;
    let env = format!("{RES}/PresignFunction/Properties/Environment/Variables");
    assert_caught("another pool", check, "FITBOX_OIDC_ISSUER", |t| {
        set(
            t,
            &format!("{env}/FITBOX_OIDC_ISSUER/Fn::If/1"),
            json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE"),
        )
    });
    assert_caught(
        "issuer ignores the parameter",
        check,
        "FITBOX_OIDC_ISSUER",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_OIDC_ISSUER"),
                json!({"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}),
            )
        },
    );
    assert_caught(
        "client id from the audiences",
        check,
        "FITBOX_OIDC_CLIENT_ID",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_OIDC_CLIENT_ID/Fn::If/2"),
                ref_("OidcAudiences"),
            )
        },
    );
    assert_caught("no audiences", check, "FITBOX_OIDC_AUDIENCES", |t| {
        remove(t, &format!("{env}/FITBOX_OIDC_AUDIENCES"))
    });
    assert_caught(
        "no fallback audience",
        check,
        "FITBOX_OIDC_AUDIENCES",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_OIDC_AUDIENCES/Fn::If/2"),
                ref_("OidcAudiences"),
            )
        },
    );
    assert_caught("any audience", check, "FITBOX_OIDC_AUDIENCES", |t| {
        set(t, &format!("{env}/FITBOX_OIDC_AUDIENCES"), json!("*"))
    });
    assert_caught("role claim fixed", check, "FITBOX_OIDC_ROLE_CLAIM", |t| {
        set(t, &format!("{env}/FITBOX_OIDC_ROLE_CLAIM"), json!("groups"))
    });
    assert_caught("admin group fixed", check, "FITBOX_OIDC_ADMIN_GROUP", |t| {
        set(t, &format!("{env}/FITBOX_OIDC_ADMIN_GROUP"), json!("users"))
    });
    assert_caught("keys fixed", check, "FITBOX_UPLOAD_KEYS", |t| {
        set(
            t,
            &format!("{env}/FITBOX_UPLOAD_KEYS"),
            json!("ci:admin:0000000000000000000000000000000000000000000000000000000000000000"),
        )
    });
    assert_caught(
        "another distribution",
        check,
        "FITBOX_CDN_DISTRIBUTION_ID",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_CDN_DISTRIBUTION_ID"),
                json!("E2EXAMPLE"),
            )
        },
    );
    assert_caught(
        "no distribution",
        check,
        "FITBOX_CDN_DISTRIBUTION_ID",
        |t| remove(t, &format!("{env}/FITBOX_CDN_DISTRIBUTION_ID")),
    );
    assert_caught(
        "Cognito with an external issuer",
        check,
        "condition UseCognito",
        |t| {
            set(
                t,
                "/Conditions/UseCognito",
                json!({"Fn::Not": [{"Fn::Equals": [ref_("OidcIssuer"), ""]}]}),
            )
        },
    );
    assert_caught(
        "audiences condition",
        check,
        "condition HasOidcAudiences",
        |t| {
            set(
                t,
                "/Conditions/HasOidcAudiences",
                json!({"Fn::Equals": [ref_("OidcAudiences"), ""]}),
            )
        },
    );
    assert_caught("issuer by default", check, "parameter OidcIssuer", |t| {
        set(
            t,
            "/Parameters/OidcIssuer/Default",
            json!("https://evil.example/"),
        )
    });
    assert_caught(
        "role claim default",
        check,
        "parameter OidcRoleClaim",
        |t| set(t, "/Parameters/OidcRoleClaim/Default", json!("roles")),
    );
    assert_caught("keys by default", check, "parameter UploadKeys", |t| {
        set(
            t,
            "/Parameters/UploadKeys/Default",
            json!("ci:admin:0000000000000000000000000000000000000000000000000000000000000000"),
        )
    });
    assert_caught(
        "pool always created",
        check,
        "created even with an external issuer",
        |t| remove(t, &format!("{RES}/UserPool/Condition")),
    );
    assert_caught("client in another pool", check, "not this stack's", |t| {
        set(
            t,
            &format!("{RES}/UserPoolClient/Properties/UserPoolId"),
            json!("us-east-1_EXAMPLE"),
        )
    });
    assert_caught("no sign-in page", check, "without a branding style", |t| {
        remove(t, &format!("{RES}/ManagedLoginBranding"))
    });
    assert_caught(
        "admin group fixed name",
        check,
        "named by OidcAdminGroup",
        |t| {
            set(
                t,
                &format!("{RES}/AdminGroup/Properties/GroupName"),
                json!("admins"),
            )
        },
    );
}

#[test]
fn mutation_csp() {
    let check: Check = csp_problems;
    let csp = format!(
        "{RES}/SecurityHeadersPolicy/Properties/ResponseHeadersPolicyConfig/\
         SecurityHeadersConfig/ContentSecurityPolicy/ContentSecurityPolicy/Fn::Sub"
    );
    let edit_text = |t: &mut Value, from: &str, to: &str| {
        let text = t.pointer_mut(&format!("{csp}/0")).unwrap();
        let s = text.as_str().unwrap();
        assert!(s.contains(from), "{from:?} not in the CSP");
        *text = json!(s.replace(from, to));
    };
    assert_caught("connect anywhere", check, "allows https:", |t| {
        edit_text(t, "${SignIn}", "${SignIn} https:")
    });
    assert_caught(
        "images from any bucket",
        check,
        "allows https://*.s3",
        |t| {
            edit_text(
                t,
                "https://${Thumbnails}",
                "https://*.s3.amazonaws.com https://${Thumbnails}",
            )
        },
    );
    assert_caught("sign-in dropped", check, "lacks the sign-in service", |t| {
        edit_text(t, " ${SignIn}", "")
    });
    assert_caught(
        "thumbnails dropped",
        check,
        "lacks the resized bucket",
        |t| {
            edit_text(
                t,
                " https://${Thumbnails}.s3.${AWS::Region}.amazonaws.com",
                "",
            )
        },
    );
    assert_caught(
        "originals as images",
        check,
        "lacks the resized bucket",
        |t| set(t, &format!("{csp}/1/Thumbnails"), ref_("UploadBucket")),
    );
    assert_caught("any Cognito domain", check, "SignIn is", |t| {
        set(
            t,
            &format!("{csp}/1/SignIn/Fn::If/1"),
            json!("https://cognito-idp.us-east-1.amazonaws.com https://*.amazoncognito.com"),
        )
    });
    assert_caught("issuer path in the CSP", check, "SignIn is", |t| {
        set(t, &format!("{csp}/1/SignIn/Fn::If/2"), ref_("OidcIssuer"))
    });
}

#[test]
fn mutation_private_mode_cdn() {
    let check: Check = private_mode_cdn_problems;
    let grant = |t: &Value| {
        item(
            t,
            &format!("{RES}/ResizedBucketPolicy/Properties/PolicyDocument/Statement"),
            "Sid",
            "CloudFrontReadsThumbnails",
        )
    };
    let env = format!("{RES}/PresignFunction/Properties/Environment/Variables");
    assert_caught(
        "/images/* in private mode",
        check,
        "behaviour \"/images/*\" serves thumbnails in private mode",
        |t| {
            let b = behaviour(t, "/images/*");
            ungate(t, &b)
        },
    );
    assert_caught(
        "images origin in private mode",
        check,
        "origin \"images\" on the resized bucket exists in private mode",
        |t| {
            let o = origin(t, "images");
            ungate(t, &o)
        },
    );
    assert_caught(
        "CloudFront grant in private mode",
        check,
        "(\"CloudFrontReadsThumbnails\") lets {\"Service\":\"cloudfront.amazonaws.com\"} read",
        |t| {
            let g = grant(t);
            ungate(t, &g)
        },
    );
    // The condition removed everywhere: each of the three is reported.
    let mut t = template();
    for pointer in [behaviour(&t, "/images/*"), origin(&t, "images"), grant(&t)] {
        ungate(&mut t, &pointer);
    }
    let problems = check(&t);
    for expect in [
        "behaviour \"/images/*\"",
        "origin \"images\"",
        "CloudFrontReadsThumbnails",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "condition removed: no problem about {expect} in {problems:?}"
        );
    }
    assert_caught(
        "gated on another condition",
        check,
        "behaviour \"/images/*\" serves thumbnails in private mode",
        |t| {
            let b = behaviour(t, "/images/*");
            let wrapper = b.strip_suffix("/Fn::If/1").unwrap().to_string();
            set(t, &format!("{wrapper}/Fn::If/0"), json!("HasAllowedOrigin"))
        },
    );
    assert_caught(
        "served in private mode only",
        check,
        "origin \"images\" on the resized bucket exists in private mode",
        |t| {
            // Fn::If [PublicGallery, NoValue, origin]: the origin moved to the other branch.
            let o = origin(t, "images");
            let wrapper = o.strip_suffix("/Fn::If/1").unwrap().to_string();
            let branch = t.pointer(&o).unwrap().clone();
            set(t, &format!("{wrapper}/Fn::If/1"), ref_("AWS::NoValue"));
            set(t, &format!("{wrapper}/Fn::If/2"), branch);
        },
    );
    assert_caught(
        "condition always true",
        check,
        "condition PublicGallery",
        |t| {
            set(
                t,
                "/Conditions/PublicGallery",
                json!({"Fn::Not": [{"Fn::Equals": [ref_("AccessMode"), "open"]}]}),
            )
        },
    );
    assert_caught("condition removed", check, "condition PublicGallery", |t| {
        remove(t, "/Conditions/PublicGallery")
    });
    assert_caught(
        "thumbnails through another path",
        check,
        "behaviour \"/thumbs/*\" serves thumbnails in private mode",
        |t| {
            let mut b = t.pointer(&behaviour(t, "/images/*")).unwrap().clone();
            b["PathPattern"] = json!("/thumbs/*");
            push(t, &format!("{CF}/CacheBehaviors"), b)
        },
    );
    assert_caught(
        "thumbnails as the default",
        check,
        "the default behaviour serves the resized bucket",
        |t| {
            set(
                t,
                &format!("{CF}/DefaultCacheBehavior/TargetOriginId"),
                json!("images"),
            )
        },
    );
    assert_caught(
        "CDN base URL in private mode",
        check,
        "FITBOX_CDN_BASE_URL",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_CDN_BASE_URL"),
                json!({"Fn::Sub": "https://${Distribution.DomainName}"}),
            )
        },
    );
    assert_caught(
        "TLS-only deny dropped with the grant",
        check,
        "no TLS-only deny that applies in both modes",
        |t| t["Resources"]["ResizedBucketPolicy"]["Condition"] = json!(PUBLIC_GALLERY),
    );
}

#[test]
fn mutation_unfinished_uploads_kept_for_ever() {
    let check: Check = retention_problems;
    let rules = format!("{RES}/UploadBucket/Properties/LifecycleConfiguration/Rules");
    let rule = |t: &Value| item(t, &rules, "Id", "ExpireUnfinishedUploads");
    let param = "/Parameters/UnfinishedUploadRetentionDays";
    let retention = format!("{RES}/ResizeDeadLetterQueue/Properties/MessageRetentionPeriod");
    let no_rule = "no enabled lifecycle rule expiring uploads/";
    assert_caught("rule removed", check, no_rule, |t| {
        let r = rule(t);
        remove(t, &r)
    });
    assert_caught("rule disabled", check, no_rule, |t| {
        let r = rule(t);
        set(t, &format!("{r}/Status"), json!("Disabled"))
    });
    assert_caught("another prefix", check, no_rule, |t| {
        let r = rule(t);
        set(t, &format!("{r}/Prefix"), json!("upload/"))
    });
    assert_caught("hard-coded days", check, no_rule, |t| {
        let r = rule(t);
        set(t, &format!("{r}/ExpirationInDays"), json!(3650))
    });
    assert_caught("only tagged originals", check, no_rule, |t| {
        let r = rule(t);
        remove(t, &format!("{r}/Prefix"));
        t.pointer_mut(&r).unwrap()["Filter"] =
            json!({"And": {"Prefix": "uploads/", "Tags": [{"Key": "k", "Value": "v"}]}});
    });
    // The dead-letter queue back at 14 days: the default (14 days) no longer outlasts it.
    assert_caught(
        "queue keeps events as long as the default",
        check,
        "Default 14 days is not longer",
        |t| set(t, &retention, json!(1_209_600)),
    );
    assert_caught(
        "MinValue too low",
        check,
        "MinValue 1 days is not longer",
        |t| set(t, &format!("{param}/MinValue"), json!(1)),
    );
    assert_caught(
        "MinValue 4 days",
        check,
        "MinValue 4 days is not longer",
        |t| {
            // 4 days = the queue's retention, without the 6 hours of retries before it.
            set(t, &format!("{param}/MinValue"), json!(4))
        },
    );
    assert_caught("no MinValue", check, "no numeric MinValue", |t| {
        remove(t, &format!("{param}/MinValue"))
    });
    assert_caught("Default too low", check, "Default 2 days", |t| {
        set(t, &format!("{param}/Default"), json!(2))
    });
    assert_caught(
        "queue retention implicit",
        check,
        "not an explicit number",
        |t| remove(t, &retention),
    );
    assert_caught(
        "site bucket keeps multipart uploads",
        check,
        "SiteBucket: no bucket-wide rule aborting",
        |t| {
            set(
                t,
                &format!("{RES}/SiteBucket/Properties/LifecycleConfiguration/Rules/0/Status"),
                json!("Disabled"),
            )
        },
    );
    assert_caught(
        "old thumbnails kept",
        check,
        "ResizedBucket: versioned, but old versions never expire",
        |t| {
            remove(
                t,
                &format!(
                    "{RES}/ResizedBucket/Properties/LifecycleConfiguration/\
                     Rules/0/NoncurrentVersionExpiration"
                ),
            )
        },
    );
    assert_caught(
        "logs kept for ever",
        check,
        "HttpApiLogGroup: no RetentionInDays",
        |t| {
            remove(
                t,
                &format!("{RES}/HttpApiLogGroup/Properties/RetentionInDays"),
            )
        },
    );
}

#[test]
fn mutation_alarms() {
    let check: Check = alarm_problems;
    let alarm = |name: &str| format!("{RES}/{name}/Properties");
    assert_caught(
        "no dead-letter alarm",
        check,
        "no alarm on ApproximateNumberOfMessagesVisible of ResizeDeadLetterQueue",
        |t| remove(t, &format!("{RES}/ResizeDeadLetterAlarm")),
    );
    assert_caught(
        "dead letters counted as they arrive only",
        check,
        "no alarm on ApproximateNumberOfMessagesVisible",
        |t| {
            set(
                t,
                &format!("{}/MetricName", alarm("ResizeDeadLetterAlarm")),
                json!("NumberOfMessagesSent"),
            )
        },
    );
    assert_caught(
        "another queue watched",
        check,
        "no alarm on ApproximateNumberOfMessagesVisible",
        |t| {
            set(
                t,
                &format!("{}/Dimensions/0/Value", alarm("ResizeDeadLetterAlarm")),
                json!("some-other-queue"),
            )
        },
    );
    for (name, function, metric) in [
        ("ResizeErrorsAlarm", "ResizeFunction", "Errors"),
        ("ResizeThrottlesAlarm", "ResizeFunction", "Throttles"),
        ("PresignErrorsAlarm", "PresignFunction", "Errors"),
        ("PresignThrottlesAlarm", "PresignFunction", "Throttles"),
    ] {
        assert_caught(
            &format!("{name} removed"),
            check,
            &format!("no alarm on {metric} of {function}"),
            |t| remove(t, &format!("{RES}/{name}")),
        );
    }
    assert_caught(
        "errors alarm watches the other function",
        check,
        "no alarm on Errors of PresignFunction",
        |t| {
            set(
                t,
                &format!("{}/Dimensions/0/Value", alarm("PresignErrorsAlarm")),
                ref_("ResizeFunction"),
            )
        },
    );
    assert_caught("fires at 5 errors", check, "fires only when Errors", |t| {
        set(
            t,
            &format!("{}/Threshold", alarm("ResizeErrorsAlarm")),
            json!(5),
        )
    });
    assert_caught("fires below", check, "fires only when Throttles", |t| {
        set(
            t,
            &format!("{}/ComparisonOperator", alarm("PresignThrottlesAlarm")),
            json!("LessThanThreshold"),
        )
    });
    assert_caught("average hides one error", check, "statistic", |t| {
        set(
            t,
            &format!("{}/Statistic", alarm("PresignErrorsAlarm")),
            json!("Minimum"),
        )
    });
    assert_caught(
        "three bad periods needed",
        check,
        "breaching periods",
        |t| {
            set(
                t,
                &format!("{}/EvaluationPeriods", alarm("ResizeDeadLetterAlarm")),
                json!(3),
            )
        },
    );
    assert_caught(
        "alarm only with an email",
        check,
        "ResizeDeadLetterAlarm: exists only with",
        |t| t["Resources"]["ResizeDeadLetterAlarm"]["Condition"] = json!(HAS_ALARM_EMAIL),
    );
    assert_caught(
        "action to a missing topic",
        check,
        "ResizeErrorsAlarm: AlarmActions",
        |t| {
            set(
                t,
                &format!("{}/AlarmActions", alarm("ResizeErrorsAlarm")),
                json!([ref_("AlarmTopic")]),
            )
        },
    );
    assert_caught(
        "no actions",
        check,
        "PresignThrottlesAlarm: AlarmActions",
        |t| {
            remove(
                t,
                &format!("{}/AlarmActions", alarm("PresignThrottlesAlarm")),
            )
        },
    );
    assert_caught("actions disabled", check, "actions disabled", |t| {
        t["Resources"]["ResizeThrottlesAlarm"]["Properties"]["ActionsEnabled"] = json!(false);
    });
    assert_caught(
        "topic without an email",
        check,
        "AlarmTopic: exists without AlarmEmail",
        |t| remove(t, &format!("{RES}/AlarmTopic/Condition")),
    );
    assert_caught(
        "mails a fixed address",
        check,
        "AlarmEmailSubscription: Protocol",
        |t| {
            set(
                t,
                &format!("{RES}/AlarmEmailSubscription/Properties/Endpoint"),
                json!("ops@example.com"),
            )
        },
    );
    assert_caught(
        "mail over HTTP",
        check,
        "AlarmEmailSubscription: Protocol",
        |t| {
            set(
                t,
                &format!("{RES}/AlarmEmailSubscription/Properties/Protocol"),
                json!("http"),
            )
        },
    );
    assert_caught(
        "condition always true",
        check,
        "condition HasAlarmEmail",
        |t| {
            set(
                t,
                "/Conditions/HasAlarmEmail",
                json!({"Fn::Equals": [ref_("AlarmEmail"), ref_("AlarmEmail")]}),
            )
        },
    );
    assert_caught(
        "an address by default",
        check,
        "parameter AlarmEmail: default",
        |t| {
            set(
                t,
                "/Parameters/AlarmEmail/Default",
                json!("ops@example.com"),
            )
        },
    );
}

#[test]
fn mutation_waf() {
    let check: Check = waf_problems;
    let acl = format!("{RES}/CdnWebAcl");
    let rule = format!("{acl}/Properties/Rules/0");
    assert_caught("on by default", check, "parameter WafRateLimit", |t| {
        set(t, "/Parameters/WafRateLimit/Default", json!(1000))
    });
    assert_caught("price not said", check, "WAF's price", |t| {
        set(
            t,
            "/Parameters/WafRateLimit/Description",
            json!("Requests per IP in 5 minutes (us-east-1 only)."),
        )
    });
    assert_caught(
        "web ACL always created",
        check,
        "created with WafRateLimit 0",
        |t| remove(t, &format!("{acl}/Condition")),
    );
    assert_caught("regional scope", check, "Scope", |t| {
        set(t, &format!("{acl}/Properties/Scope"), json!("REGIONAL"))
    });
    assert_caught("blocks by default", check, "DefaultAction", |t| {
        set(
            t,
            &format!("{acl}/Properties/DefaultAction"),
            json!({"Block": {}}),
        )
    });
    assert_caught("only counts", check, "expected Block", |t| {
        set(t, &format!("{rule}/Action"), json!({"Count": {}}))
    });
    assert_caught("hard-coded limit", check, "is not WafRateLimit", |t| {
        set(
            t,
            &format!("{rule}/Statement/RateBasedStatement/Limit"),
            json!(2000),
        )
    });
    assert_caught("per forwarded IP", check, "expected IP", |t| {
        set(
            t,
            &format!("{rule}/Statement/RateBasedStatement/AggregateKeyType"),
            json!("FORWARDED_IP"),
        )
    });
    assert_caught("per hour", check, "expected 300", |t| {
        set(
            t,
            &format!("{rule}/Statement/RateBasedStatement/EvaluationWindowSec"),
            json!(3600),
        )
    });
    assert_caught("a second (billed) rule", check, "2 rules", |t| {
        let mut second = t.pointer(&rule).unwrap().clone();
        second["Name"] = json!("Another");
        second["Priority"] = json!(1);
        push(t, &format!("{acl}/Properties/Rules"), second)
    });
    assert_caught("not attached", check, "WebACLId", |t| {
        remove(t, &format!("{CF}/WebACLId"))
    });
    assert_caught("attached unconditionally", check, "WebACLId", |t| {
        set(t, &format!("{CF}/WebACLId"), get_att("CdnWebAcl", "Arn"))
    });
    assert_caught("condition always true", check, "condition HasWaf", |t| {
        set(
            t,
            "/Conditions/HasWaf",
            json!({"Fn::Not": [{"Fn::Equals": [ref_("WafRateLimit"), -1]}]}),
        )
    });
    assert_caught("region not asserted", check, "requiring us-east-1", |t| {
        remove(t, "/Rules/WafNeedsUsEast1")
    });
    assert_caught(
        "another region asserted",
        check,
        "requiring us-east-1",
        |t| {
            set(
                t,
                "/Rules/WafNeedsUsEast1/Assertions/0/Assert",
                json!({"Fn::Equals": [ref_("AWS::Region"), "eu-west-1"]}),
            )
        },
    );
}

#[test]
fn mutation_origin_secret() {
    let check: Check = origin_secret_problems;
    let param = "/Parameters/OriginSecret";
    let env = format!("{RES}/PresignFunction/Properties/Environment/Variables");
    let headers = |t: &Value| format!("{}/OriginCustomHeaders", origin(t, "api"));
    assert_caught(
        "header dropped",
        check,
        "does not send X-Fitbox-Origin-Secret",
        |t| {
            let h = headers(t);
            remove(t, &h)
        },
    );
    assert_caught("header value hard-coded", check, "does not send", |t| {
        let h = headers(t);
        set(
            t,
            &format!("{h}/0/HeaderValue"),
            json!("0123456789abcdef0123456789abcdef"),
        )
    });
    assert_caught("another header name", check, "does not send", |t| {
        let h = headers(t);
        set(t, &format!("{h}/0/HeaderName"), json!("X-Origin-Verify"))
    });
    assert_caught("env dropped", check, "FITBOX_ORIGIN_SECRET is null", |t| {
        remove(t, &format!("{env}/FITBOX_ORIGIN_SECRET"))
    });
    assert_caught(
        "env from another parameter",
        check,
        "FITBOX_ORIGIN_SECRET",
        |t| {
            set(
                t,
                &format!("{env}/FITBOX_ORIGIN_SECRET"),
                ref_("UploadKeys"),
            )
        },
    );
    assert_caught("shown in the console", check, "NoEcho", |t| {
        remove(t, &format!("{param}/NoEcho"))
    });
    assert_caught("empty default", check, "Default \"\"", |t| {
        t["Parameters"]["OriginSecret"]["Default"] = json!("");
    });
    assert_caught("short secrets allowed", check, "accepts \"secret\"", |t| {
        set(
            t,
            &format!("{param}/AllowedPattern"),
            json!("^[A-Za-z0-9]{6,128}$"),
        )
    });
    assert_caught("31 characters allowed", check, "accepts \"aaaa", |t| {
        set(
            t,
            &format!("{param}/AllowedPattern"),
            json!("^[A-Za-z0-9]{31,128}$"),
        )
    });
    assert_caught("empty allowed", check, "accepts \"\"", |t| {
        set(
            t,
            &format!("{param}/AllowedPattern"),
            json!("^$|^[A-Za-z0-9]{32,128}$"),
        )
    });
    assert_caught("unanchored", check, "accepts", |t| {
        set(
            t,
            &format!("{param}/AllowedPattern"),
            json!("[A-Za-z0-9]{32,128}"),
        )
    });
    assert_caught("no pattern", check, "no AllowedPattern", |t| {
        remove(t, &format!("{param}/AllowedPattern"))
    });
    assert_caught(
        "in an output",
        check,
        "output Leak shows OriginSecret",
        |t| {
            t["Outputs"]["Leak"] = json!({"Value": ref_("OriginSecret")});
        },
    );
    assert_caught("direct URL sounds open", check, "DirectApiUrl", |t| {
        set(
            t,
            "/Outputs/DirectApiUrl/Description",
            json!("The same API straight from API Gateway (throttled, no CloudFront)."),
        )
    });
}

#[test]
fn mutation_allowed_origin() {
    let check: Check = allowed_origin_problems;
    let pattern = "/Parameters/AllowedOrigin/AllowedPattern";
    assert_caught(
        "any http:// origin (the old pattern)",
        check,
        "accepts \"http://example.com\"",
        |t| set(t, pattern, json!("^$|^https?://[A-Za-z0-9.-]+(:[0-9]+)?$")),
    );
    assert_caught(
        "loopback prefix only",
        check,
        "accepts \"http://localhost.example.com\"",
        |t| {
            set(
                t,
                pattern,
                json!(
                    "^$|^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^http://(localhost|127[.]0[.]0[.]1)"
                ),
            )
        },
    );
    assert_caught(
        "unescaped dots",
        check,
        "accepts \"http://127x0x0x1\"",
        |t| {
            set(
                t,
                pattern,
                json!(
                    "^$|^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|\
                     ^http://(localhost|127.0.0.1)(:[0-9]{1,5})?$"
                ),
            )
        },
    );
    assert_caught(
        "paths allowed",
        check,
        "accepts \"https://example.com/app\"",
        |t| {
            set(
                t,
                pattern,
                json!(
                    "^$|^https://[A-Za-z0-9./-]+(:[0-9]{1,5})?$|\
                     ^http://(localhost|127[.]0[.]0[.]1)(:[0-9]{1,5})?$"
                ),
            )
        },
    );
    assert_caught("anything", check, "accepts \"*\"", |t| {
        set(t, pattern, json!(".*"))
    });
    assert_caught(
        "localhost refused",
        check,
        "refuses \"http://localhost:8080\"",
        |t| {
            set(
                t,
                pattern,
                json!("^$|^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$"),
            )
        },
    );
    assert_caught(
        "ports refused",
        check,
        "refuses \"https://photos.example.co.uk:8443\"",
        |t| {
            set(
                t,
                pattern,
                json!(
                    "^$|^https://[A-Za-z0-9.-]+$|\
                     ^http://(localhost|127[.]0[.]0[.]1)(:[0-9]{1,5})?$"
                ),
            )
        },
    );
    assert_caught("empty refused", check, "refuses \"\"", |t| {
        set(
            t,
            pattern,
            json!(
                "^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|\
                 ^http://(localhost|127[.]0[.]0[.]1)(:[0-9]{1,5})?$"
            ),
        )
    });
    assert_caught("no pattern", check, "no AllowedPattern", |t| {
        remove(t, pattern)
    });
}

#[test]
fn mutation_security_headers() {
    let check: Check = security_headers_problems;
    let cfg = format!(
        "{RES}/SecurityHeadersPolicy/Properties/ResponseHeadersPolicyConfig/SecurityHeadersConfig"
    );
    let csp = format!("{cfg}/ContentSecurityPolicy/ContentSecurityPolicy/Fn::Sub/0");
    let edit_csp = |t: &mut Value, from: &str, to: &str| {
        let text = t.pointer_mut(&csp).unwrap();
        let s = text.as_str().unwrap();
        assert!(s.contains(from), "{from:?} not in the CSP");
        *text = json!(s.replace(from, to));
    };
    assert_caught(
        "frame-ancestors dropped",
        check,
        "frame-ancestors is None",
        |t| edit_csp(t, "; frame-ancestors 'none'", ""),
    );
    assert_caught("framed by itself", check, "frame-ancestors is Some", |t| {
        edit_csp(t, "frame-ancestors 'none'", "frame-ancestors 'self'")
    });
    assert_caught("plugins allowed", check, "object-src", |t| {
        edit_csp(t, "object-src 'none'", "object-src 'self'")
    });
    assert_caught("inline scripts allowed", check, "script-src is Some", |t| {
        edit_csp(t, "script-src 'self'", "script-src 'self' 'unsafe-inline'")
    });
    assert_caught("any script origin", check, "script-src is None", |t| {
        edit_csp(t, "script-src 'self' 'wasm-unsafe-eval';", "")
    });
    assert_caught(
        "framing by the same origin",
        check,
        "X-Frame-Options",
        |t| {
            set(
                t,
                &format!("{cfg}/FrameOptions/FrameOption"),
                json!("SAMEORIGIN"),
            )
        },
    );
    assert_caught("short HSTS", check, "HSTS", |t| {
        set(
            t,
            &format!("{cfg}/StrictTransportSecurity/AccessControlMaxAgeSec"),
            json!(86_400),
        )
    });
    assert_caught("HSTS without subdomains", check, "HSTS", |t| {
        set(
            t,
            &format!("{cfg}/StrictTransportSecurity/IncludeSubdomains"),
            json!(false),
        )
    });
    assert_caught("full referrer", check, "leaks paths", |t| {
        set(
            t,
            &format!("{cfg}/ReferrerPolicy/ReferrerPolicy"),
            json!("unsafe-url"),
        )
    });
    assert_caught(
        "origin may turn sniffing back on",
        check,
        "ContentTypeOptions",
        |t| {
            set(
                t,
                &format!("{cfg}/ContentTypeOptions/Override"),
                json!(false),
            )
        },
    );
    assert_caught("nosniff dropped", check, "ContentTypeOptions", |t| {
        remove(t, &format!("{cfg}/ContentTypeOptions"))
    });
    assert_caught(
        "API with the managed policy",
        check,
        "behaviour \"/api/*\": response headers policy",
        |t| {
            let b = behaviour(t, "/api/*");
            // Managed-SecurityHeadersPolicy: no CSP at all.
            set(
                t,
                &format!("{b}/ResponseHeadersPolicyId"),
                json!("67f7725c-6f97-4210-82d7-5512b31e9d03"),
            )
        },
    );
}
