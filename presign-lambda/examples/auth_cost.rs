//! What checking the caller costs per request: `POST /api/uploads` (a ticket: the request the
//! web app and scripts make per file) timed over loopback in `open` mode, with an upload key, and
//! with an OpenID Connect access token verified against a real provider's keys (npm's
//! `oidc-provider` on loopback, `tests/oidc/provider.mjs`). The same process, the same in-process
//! S3, requests one after another.
//!
//! ```sh
//! cargo run --release -p fitbox-presign --example auth_cost [-- --requests 400]
//! ```
//!
//! Needs `node` and `tests/e2e/node_modules` (scripts/setup.sh). Prints the median and 90th
//! percentile per mode, the first (key-fetching) token request, and a request while the issuer is
//! down (cached keys). A benchmark, not a test: numbers go to bench/RESULTS.md.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fitbox_local_s3::{LocalS3, Options};
use fitbox_presign::auth::{new_key, AccessMode, OidcConfig, UploadKeys, LEEWAY_SECS};
use fitbox_presign::{router, AppState, Config, Role};

const UPLOADS: &str = "fitbox-uploads";
const RESIZED: &str = "fitbox-resized";

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn serve(cfg: Config, s3: &LocalS3) -> Result<String, Error> {
    let state = AppState::new(s3.client(), Arc::new(cfg))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router(state)).await });
    Ok(format!("http://{addr}"))
}

async fn ticket(http: &reqwest::Client, api: &str, token: Option<&str>) -> Result<Duration, Error> {
    let mut req = http.post(format!("{api}/api/uploads")).json(
        &serde_json::json!({"filename": "cat.jpg", "content_type": "image/jpeg", "size": 1000}),
    );
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let t0 = Instant::now();
    let r = req.send().await?;
    let status = r.status();
    let _ = r.bytes().await?;
    let took = t0.elapsed();
    if status != reqwest::StatusCode::CREATED {
        return Err(format!("ticket answered {status}").into());
    }
    Ok(took)
}

fn stats(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(v[v.len() / 2]), ms(v[v.len() * 9 / 10]))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut requests = 400usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--requests" => requests = args.next().ok_or("--requests N")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut provider = Command::new("node")
        .arg(root.join("tests/oidc/provider.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(provider.stdout.take().ok_or("stdout")?).read_line(&mut line)?;
    let ready: serde_json::Value = serde_json::from_str(&line)?;
    let issuer = ready["issuer"].as_str().ok_or("issuer")?.to_string();
    let out = Command::new("node")
        .arg(root.join("tests/oidc/token.mjs"))
        .args(["--issuer", &issuer, "--login", "alice"])
        .output()?;
    let tokens: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let access = tokens["access_token"]
        .as_str()
        .ok_or("access_token")?
        .to_string();

    let dir = tempfile::tempdir()?;
    let mut opts = Options::new(dir.path());
    opts.buckets = vec![UPLOADS.into(), RESIZED.into()];
    let (s3, _events) = LocalS3::start(opts).await.map_err(|e| format!("{e:#}"))?;
    let key = new_key("bench", Role::Uploader)?;
    let base = |mode| {
        let mut c = Config::new(UPLOADS, RESIZED);
        c.access_mode = mode;
        c.rate_limit_per_minute = 0; // the limiter's own cost is in every mode alike otherwise
        c
    };
    let open = serve(base(AccessMode::Open), &s3).await?;
    let mut keyed = base(AccessMode::SignedInUpload);
    keyed.upload_keys = UploadKeys::parse(&key.key.config_entry())?;
    let keyed = serve(keyed, &s3).await?;
    let mut oidc = base(AccessMode::SignedInUpload);
    oidc.oidc = Some(OidcConfig {
        issuer: issuer.clone(),
        client_id: "fitbox-web".into(),
        audiences: vec!["fitbox-web".into(), "fitbox-api".into()],
        role_claim: "cognito:groups".into(),
        admin_group: "admin".into(),
        leeway_secs: LEEWAY_SECS,
    });
    let oidc = serve(oidc, &s3).await?;

    let http = reqwest::Client::new();
    let first = ticket(&http, &oidc, Some(&access)).await?;
    for _ in 0..20 {
        ticket(&http, &open, None).await?;
        ticket(&http, &keyed, Some(&key.secret)).await?;
        ticket(&http, &oidc, Some(&access)).await?;
    }
    let (mut o, mut k, mut t) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..requests {
        // Interleaved, so a busy moment of the machine hits all three alike.
        o.push(ticket(&http, &open, None).await?);
        k.push(ticket(&http, &keyed, Some(&key.secret)).await?);
        t.push(ticket(&http, &oidc, Some(&access)).await?);
    }
    let _ = provider.kill();
    let _ = provider.wait();
    let down = ticket(&http, &oidc, Some(&access)).await?;

    let (om, o9) = stats(o);
    let (km, k9) = stats(k);
    let (tm, t9) = stats(t);
    println!("POST /api/uploads, {requests} requests per mode, loopback, median / p90 ms:");
    println!("  open                       {om:.3} / {o9:.3}");
    println!(
        "  upload key                 {km:.3} / {k9:.3}  (+{:.3} ms median)",
        km - om
    );
    println!(
        "  OIDC access token (RS256)  {tm:.3} / {t9:.3}  (+{:.3} ms median)",
        tm - om
    );
    println!(
        "  first OIDC request (discovery + JWKS fetch): {:.3} ms",
        first.as_secs_f64() * 1000.0
    );
    println!(
        "  OIDC request with the issuer down (cached keys): {:.3} ms",
        down.as_secs_f64() * 1000.0
    );
    s3.shutdown().await;
    Ok(())
}
