//! The security properties of `template.yaml` (issue 7), read straight from the template:
//!
//! * every bucket blocks public access (all four settings) and disables ACLs;
//! * no bucket policy allows anyone but CloudFront, and CloudFront only for this distribution;
//! * each function's IAM statements are exactly the listed actions on the listed prefixes;
//! * the upload bucket notifies the resize function for `uploads/` only;
//! * every CloudFront behaviour is HTTPS-only and S3 is reached through Origin Access Control.
//!
//! Each check returns the problems it finds. The `*_holds` tests assert there are none in the
//! real template; the `mutation_*` tests break the template in memory and assert the check
//! notices, so no check can silently pass everything.

use std::collections::BTreeSet;

use serde_json::{json, Value};

const TEMPLATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");

/// Managed-CachingDisabled and Managed-AllViewerExceptHostHeader (fixed ids, same in every account).
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

fn get_att(res: &str, attr: &str) -> Value {
    json!({ "Fn::GetAtt": [res, attr] })
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
    let distribution_arn = json!({
        "Fn::Sub": "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}"
    });
    for (name, pol) in of_type(t, "AWS::S3::BucketPolicy") {
        let bucket = pol["Properties"]["Bucket"]["Ref"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        let statements = &pol["Properties"]["PolicyDocument"]["Statement"];
        for (i, s) in one_or_many(statements).into_iter().enumerate() {
            let at = format!("{name} statement {i}");
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

/// Canonical name of an IAM resource: `UploadBucket/uploads/*`, `ResizedBucket`, ...
/// The upload bucket is named by the same expression as its `BucketName` (see template.yaml).
fn canonical_resource(t: &Value, r: &Value) -> String {
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
        // Read and delete originals, write rejected/, write thumbnails. ListBucket on the upload
        // bucket makes S3 answer 404 (not 403) for an original already gone (repeated delivery);
        // the prefix-bound listing of images/ finds an existing thumbnail.
        "ResizeFunction" => vec![
            "s3:GetObject on UploadBucket/uploads/*".into(),
            "s3:DeleteObject on UploadBucket/uploads/*".into(),
            "s3:PutObject on UploadBucket/rejected/*".into(),
            "s3:ListBucket on UploadBucket".into(),
            "s3:PutObject on ResizedBucket/images/*".into(),
            format!("s3:ListBucket on ResizedBucket{IMAGES_PREFIX_ONLY}"),
        ],
        // Sign PUTs to uploads/, read status from uploads/ and rejected/ (404 for unknown ids
        // needs ListBucket), list and read thumbnails.
        "PresignFunction" => vec![
            "s3:PutObject on UploadBucket/uploads/*".into(),
            "s3:GetObject on UploadBucket/uploads/*".into(),
            "s3:GetObject on UploadBucket/rejected/*".into(),
            "s3:ListBucket on UploadBucket".into(),
            format!("s3:ListBucket on ResizedBucket{IMAGES_PREFIX_ONLY}"),
            "s3:GetObject on ResizedBucket/images/*".into(),
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
        json!({ "Fn::Sub": [format!("arn:${{AWS::Partition}}:s3:::{}", name[0].as_str().unwrap_or("?")), name[1]] })
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
/// incomplete uploads and expires rejected/. Other buckets: no CORS.
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
    }
    p
}

/// CloudFront: HTTPS-only behaviours, S3 through OAC, the three paths to the right origins.
fn cloudfront_problems(t: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let dists: Vec<_> = of_type(t, "AWS::CloudFront::Distribution").collect();
    if dists.len() != 1 {
        return vec![format!("{} distributions, expected 1", dists.len())];
    }
    let cfg = &dists[0].1["Properties"]["DistributionConfig"];
    let origins = cfg["Origins"].as_array().cloned().unwrap_or_default();
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
    for b in cfg["CacheBehaviors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
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

/// Apply `mutate` to a fresh copy of the template and require `check` to report something
/// containing `expect`.
fn assert_caught(what: &str, check: Check, expect: &str, mutate: impl FnOnce(&mut Value)) {
    let mut t = template();
    assert_none(check(&t));
    mutate(&mut t);
    let problems = check(&t);
    assert!(
        problems.iter().any(|p| p.contains(expect)),
        "mutation '{what}' went unnoticed (wanted a problem containing {expect:?}, got {problems:?})"
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
    let stmt = format!("{RES}/ResizedBucketPolicy/Properties/PolicyDocument/Statement/0");
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
    let cfg = format!("{RES}/Distribution/Properties/DistributionConfig");
    assert_caught("default allows HTTP", check, "serves HTTP", |t| {
        set(
            t,
            &format!("{cfg}/DefaultCacheBehavior/ViewerProtocolPolicy"),
            json!("allow-all"),
        )
    });
    for i in 0..2 {
        assert_caught("behaviour allows HTTP", check, "serves HTTP", |t| {
            set(
                t,
                &format!("{cfg}/CacheBehaviors/{i}/ViewerProtocolPolicy"),
                json!("allow-all"),
            )
        });
        assert_caught("no security headers", check, "no security headers", |t| {
            t.pointer_mut(&format!("{cfg}/CacheBehaviors/{i}"))
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("ResponseHeadersPolicyId");
        });
    }
    assert_caught(
        "S3 without OAC",
        check,
        "without Origin Access Control",
        |t| {
            t.pointer_mut(&format!("{cfg}/Origins/1"))
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("OriginAccessControlId");
        },
    );
    assert_caught("OAI", check, "legacy origin access identity", |t| {
        set(
            t,
            &format!("{cfg}/Origins/0/S3OriginConfig/OriginAccessIdentity"),
            json!("origin-access-identity/cloudfront/E123"),
        )
    });
    assert_caught("API over HTTP", check, "over HTTP", |t| {
        set(
            t,
            &format!("{cfg}/Origins/2/CustomOriginConfig/OriginProtocolPolicy"),
            json!("match-viewer"),
        )
    });
    assert_caught("images from the upload bucket", check, "/images/*", |t| {
        set(
            t,
            &format!("{cfg}/Origins/1/DomainName"),
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
        set(
            t,
            &format!("{cfg}/CacheBehaviors/1/TargetOriginId"),
            json!("site"),
        )
    });
    assert_caught("API cached", check, "/api/* is cached", |t| {
        set(
            t,
            &format!("{cfg}/CacheBehaviors/1/CachePolicyId"),
            json!("658327ea-f89d-4fab-a63d-7e88639e58f6"),
        )
    });
    assert_caught(
        "API headers dropped",
        check,
        "forward all viewer headers",
        |t| {
            t.pointer_mut(&format!("{cfg}/CacheBehaviors/1"))
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove("OriginRequestPolicyId");
        },
    );
    assert_caught("short HSTS", check, "HSTS", |t| {
        set(
            t,
            &format!("{RES}/SecurityHeadersPolicy/Properties/ResponseHeadersPolicyConfig/SecurityHeadersConfig/StrictTransportSecurity/AccessControlMaxAgeSec"),
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
