//! The hostile-input table: malformed and conflicting headers, absurd
//! lengths and ranges, broken JSON for every JSON endpoint, bad paths and
//! wrong methods, each sent raw on its own connection. Every case gets a
//! 4xx (with a message, unless the HTTP parser itself refused the bytes),
//! none a 5xx, a panic or a hang, and the server goes on serving.

use std::ops::RangeInclusive;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hostile::hostile_paths;
use crate::support::{TOKEN, TestServer, entries_below, make_pack};

/// What a case must be answered with.
#[derive(Clone)]
enum Expect {
    /// This status range, with a one-line plain-text message.
    Message(RangeInclusive<u16>),
    /// A bare 4xx from the HTTP parser (which writes no body), or the
    /// connection closed without an answer when the bytes are not HTTP.
    Parser,
    /// A success: the input is odd but valid (for example a range whose
    /// end lies past the object, which is clamped).
    Success(u16),
}

struct Case {
    name: String,
    request: Vec<u8>,
    expect: Expect,
}

const OBJECT: &[u8] = b"0123456789abcdefghij"; // `r/index`, 20 bytes

fn exactly(code: u16) -> Expect {
    Expect::Message(code..=code)
}

/// A request with the token, the given extra header lines and body.
fn req(method: &str, target: &str, headers: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("{method} {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n");
    let has_length = headers.iter().any(|h| {
        let h = h.to_ascii_lowercase();
        h.starts_with("content-length") || h.starts_with("transfer-encoding")
    });
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    if !has_length {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn case(name: impl Into<String>, request: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        request,
        expect,
    }
}

fn header_cases() -> Vec<Case> {
    let put = |name: &str, headers: &[&str], body: &[u8], expect: Expect| {
        case(
            format!("PUT header: {name}"),
            req("PUT", "/r/manifest", headers, body),
            expect,
        )
    };
    let big = u64::MAX.to_string();
    let over_u64 = format!("{big}0");
    let huge_declared = format!("Content-Length: {}", (1u64 << 30) + 1);
    let mut v = vec![
        put(
            "Content-Length not a number",
            &["Content-Length: abc"],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length negative",
            &["Content-Length: -1"],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length fractional",
            &["Content-Length: 1.5"],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length hex",
            &["Content-Length: 0x10"],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length u64::MAX",
            &[&format!("Content-Length: {big}")],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length overflowing u64",
            &[&format!("Content-Length: {over_u64}")],
            b"",
            Expect::Parser,
        ),
        put(
            "Content-Length over max_object_bytes",
            &[&huge_declared],
            b"",
            exactly(413),
        ),
        put(
            "two different Content-Lengths",
            &["Content-Length: 3", "Content-Length: 4"],
            b"abcd",
            Expect::Parser,
        ),
        put(
            "Content-Length list",
            &["Content-Length: 3, 4"],
            b"abcd",
            Expect::Parser,
        ),
        // hyper lets Transfer-Encoding win and drops Content-Length, as
        // RFC 9112 section 6.3 says, so the body ends where chunking says.
        put(
            "Content-Length and chunked together",
            &["Content-Length: 3", "Transfer-Encoding: chunked"],
            b"3\r\nabc\r\n0\r\n\r\n",
            Expect::Success(201),
        ),
        put(
            "unknown Transfer-Encoding",
            &["Transfer-Encoding: gzip"],
            b"",
            Expect::Parser,
        ),
        put(
            "chunked not last",
            &["Transfer-Encoding: chunked, gzip"],
            b"",
            Expect::Parser,
        ),
        put(
            "bad chunk size",
            &["Transfer-Encoding: chunked"],
            b"zz\r\nabc\r\n0\r\n\r\n",
            exactly(400),
        ),
        put(
            "overflowing chunk size",
            &["Transfer-Encoding: chunked"],
            b"fffffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            exactly(400),
        ),
        put(
            "chunk longer than its size",
            &["Transfer-Encoding: chunked"],
            b"2\r\nabcdef\r\n0\r\n\r\n",
            exactly(400),
        ),
        put(
            "body shorter than Content-Length",
            &["Content-Length: 10"],
            b"abc",
            exactly(400),
        ),
        put(
            "X-Content-BLAKE2b not hex",
            &["X-Content-BLAKE2b: zz"],
            b"abc",
            exactly(400),
        ),
        put(
            "X-Content-BLAKE2b too short",
            &[&format!("X-Content-BLAKE2b: {}", "a".repeat(63))],
            b"abc",
            exactly(400),
        ),
        put(
            "X-Content-BLAKE2b too long",
            &[&format!("X-Content-BLAKE2b: {}", "a".repeat(65))],
            b"abc",
            exactly(400),
        ),
        put(
            "X-Content-BLAKE2b empty",
            &["X-Content-BLAKE2b: "],
            b"abc",
            exactly(400),
        ),
        put(
            "X-Content-BLAKE2b wrong digest",
            &[&format!("X-Content-BLAKE2b: {}", "a".repeat(64))],
            b"abc",
            exactly(409),
        ),
        put(
            "two X-Content-BLAKE2b",
            &[
                &format!("X-Content-BLAKE2b: {}", "a".repeat(64)),
                &format!("X-Content-BLAKE2b: {}", "b".repeat(64)),
            ],
            b"abc",
            exactly(400),
        ),
        put(
            "header without a colon",
            &["NoColonHere"],
            b"",
            Expect::Parser,
        ),
        put(
            "space before the colon",
            &["Bad Name : x"],
            b"",
            Expect::Parser,
        ),
        put(
            "obsolete line folding",
            &["X-A: one", " folded"],
            b"",
            Expect::Parser,
        ),
        put("NUL in a header value", &["X-A: a\0b"], b"", Expect::Parser),
        put(
            "header of 1 MiB",
            &[&format!("X-A: {}", "a".repeat(1 << 20))],
            b"",
            Expect::Parser,
        ),
    ];
    let many: Vec<String> = (0..300).map(|i| format!("X-H{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    v.push(put("300 headers", &many, b"", Expect::Parser));
    let mut raw = |name: &str, bytes: &[u8], expect: Expect| {
        v.push(case(format!("raw: {name}"), bytes.to_vec(), expect));
    };
    raw(
        "not HTTP at all",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        Expect::Parser,
    );
    raw(
        "lowercase method",
        b"get /health HTTP/1.1\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw(
        "unknown HTTP version",
        b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw(
        "garbage after the version",
        b"GET /health HTTP/1.1 x\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw(
        "no version",
        b"GET /health\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw("empty request line", b"\r\n\r\n\r\n", Expect::Parser);
    raw(
        "URI of 1 MiB",
        format!("GET /r/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(1 << 20)).as_bytes(),
        Expect::Parser,
    );
    raw(
        "space in the target",
        b"GET /r/con fig HTTP/1.1\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw(
        "control byte in the target",
        b"GET /r/con\x01fig HTTP/1.1\r\nHost: x\r\n\r\n",
        Expect::Parser,
    );
    raw(
        "bare LF line ends",
        b"GET /health HTTP/1.1\nHost: x\n\n",
        Expect::Success(200),
    );
    raw(
        "headers cut short",
        b"GET /r/config HTTP/1.1\r\nHost: x\r\nAuthoriz",
        Expect::Parser,
    );
    raw(
        "asterisk target",
        format!("OPTIONS * HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n")
            .as_bytes(),
        exactly(400),
    );
    raw("CONNECT", format!("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes(), Expect::Message(400..=405));
    raw("absolute-form target outside", format!("GET http://elsewhere/../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n").as_bytes(), exactly(400));
    // Authentication.
    let auth = |name: &str, header: &str| {
        case(
            format!("auth: {name}"),
            format!("GET /r/index HTTP/1.1\r\nHost: x\r\n{header}Connection: close\r\n\r\n")
                .into_bytes(),
            exactly(401),
        )
    };
    v.push(auth("none", ""));
    v.push(auth("scheme only", "Authorization: Bearer\r\n"));
    v.push(auth("empty token", "Authorization: Bearer \r\n"));
    v.push(auth(
        "Basic scheme",
        &format!("Authorization: Basic {TOKEN}\r\n"),
    ));
    v.push(auth("no scheme", &format!("Authorization: {TOKEN}\r\n")));
    v.push(auth(
        "token with a suffix",
        &format!("Authorization: Bearer {TOKEN}x\r\n"),
    ));
    v.push(auth(
        "token prefix",
        &format!("Authorization: Bearer {}\r\n", &TOKEN[..10]),
    ));
    v.push(auth(
        "non-ASCII token",
        "Authorization: Bearer t\u{f6}ken\r\n",
    ));
    v.push(auth(
        "token of 60 KiB",
        &format!("Authorization: Bearer {}\r\n", "t".repeat(60 << 10)),
    ));
    v.push(auth(
        "two Authorization headers, one wrong",
        &format!("Authorization: Bearer wrong\r\nAuthorization: Bearer {TOKEN}\r\n"),
    ));
    v
}

fn range_cases() -> Vec<Case> {
    let get = |range: &str, expect: Expect| {
        case(
            format!("Range: {range:?}"),
            req("GET", "/r/index", &[&format!("Range: {range}")], b""),
            expect,
        )
    };
    let mut v = vec![
        get("bytes=abc", exactly(400)),
        get("bytes=5-3", exactly(400)),
        get("bytes=-0", exactly(416)),
        get("bytes=20-", exactly(416)),
        get("bytes=99999999999999999999999-", exactly(400)),
        get("bytes=0-99999999999999999999999", exactly(400)),
        get("bytes=-99999999999999999999999", exactly(400)),
        get("bytes=18446744073709551615-", exactly(416)),
        get("bytes=0-18446744073709551615", Expect::Success(206)),
        get("bytes=-18446744073709551615", Expect::Success(206)),
        get("bytes=1-2,3-4", exactly(400)),
        get("bytes=0-1,", exactly(400)),
        get("items=0-1", exactly(400)),
        get("bytes 0-1", exactly(400)),
        get("bytes=--1", exactly(400)),
        // Whitespace around the numbers is tolerated.
        get("bytes=- 1", Expect::Success(206)),
        get("bytes=0x10-", exactly(400)),
        get("bytes=+1-2", exactly(400)),
        get("bytes=", exactly(400)),
        get("bytes=-", exactly(400)),
        get("=0-1", exactly(400)),
        get("", exactly(400)),
        get("bytes=1-2-3", exactly(400)),
        get("bytes=\u{662}-\u{663}", exactly(400)),
        get("BYTES=0-1", Expect::Success(206)),
        get("bytes=5-100", Expect::Success(206)),
    ];
    v.push(case(
        "two Range headers",
        req(
            "GET",
            "/r/index",
            &["Range: bytes=0-1", "Range: bytes=2-3"],
            b"",
        ),
        exactly(400),
    ));
    v.push(case(
        "Range on an absent object",
        req("GET", "/r/absent-no", &["Range: bytes=abc"], b""),
        exactly(400),
    ));
    v
}

/// Broken bodies for one JSON endpoint.
fn json_cases(endpoint: &str, limit: usize) -> Vec<Case> {
    let post = |name: &str, body: Vec<u8>, expect: Expect| {
        case(
            format!("POST {endpoint}: {name}"),
            req("POST", endpoint, &[], &body),
            expect,
        )
    };
    let nested = |depth: usize| {
        let mut b = "[".repeat(depth).into_bytes();
        b.extend(std::iter::repeat_n(b']', depth));
        b
    };
    let overflow = if endpoint.contains("locks") {
        r#"{"hostname":"h","pid":1e999}"#
    } else {
        r#"{"protocol_version":1e999}"#
    };
    let mut huge = b"[\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', limit + 16));
    huge.extend_from_slice(b"\"]");
    vec![
        post("truncated", b"{\"packs\": [".to_vec(), exactly(400)),
        post("not JSON", b"hello".to_vec(), exactly(400)),
        post("invalid UTF-8", b"[\"\xff\xfe\"]".to_vec(), exactly(400)),
        post(
            "lone surrogate escape",
            br#"["\ud800"]"#.to_vec(),
            exactly(400),
        ),
        // Batch-delete skips entries that are not strings, however deep.
        post(
            "nested far too deep",
            nested((limit / 4).min(100_000)),
            if endpoint.contains("batch-delete") {
                Expect::Success(204)
            } else {
                exactly(400)
            },
        ),
        post("over the size limit", huge, exactly(413)),
        post("trailing garbage", b"[] []".to_vec(), exactly(400)),
        post("NUL byte", b"[\0]".to_vec(), exactly(400)),
        post(
            "number overflowing",
            overflow.as_bytes().to_vec(),
            exactly(400),
        ),
    ]
}

/// Structurally valid JSON that breaks a plan's rules.
fn plan_cases() -> Vec<Case> {
    let (pack, _) = make_pack(&[b"x"]);
    let post = |endpoint: &str, name: &str, body: String, expect: Expect| {
        case(
            format!("POST {endpoint}: {name}"),
            req("POST", endpoint, &[], body.as_bytes()),
            expect,
        )
    };
    let repack = |name: &str, body: String| post("/r?repack", name, body, exactly(400));
    let verify = |name: &str, body: String| post("/r?verify-packs", name, body, exactly(400));
    let op = |source: &str, blobs: &str| {
        format!(
            r#"{{"operations":[{{"source_pack":{source},"keep_blobs":{blobs},"delete_after":false}}],"protocol_version":1}}"#
        )
    };
    let p = format!("{pack:?}");
    let pv = |packs: &str| format!(r#"{{"packs":{packs},"protocol_version":1}}"#);
    let many_ops = format!(
        r#"{{"operations":[{}],"protocol_version":1}}"#,
        vec![format!(r#"{{"source_pack":{p},"keep_blobs":[]}}"#); 10_001].join(",")
    );
    let many_packs = pv(&format!(
        "[{}]",
        vec![format!(r#"{{"pack_key":{p},"expected_size":10,"expected_blobs":[]}}"#); 101]
            .join(",")
    ));
    vec![
        repack("null", "null".into()),
        repack("empty object", "{}".into()),
        repack("operations not a list", r#"{"operations":"all"}"#.into()),
        repack(
            "protocol_version 2",
            r#"{"operations":[],"protocol_version":2}"#.into(),
        ),
        repack(
            "protocol_version negative",
            r#"{"operations":[],"protocol_version":-1}"#.into(),
        ),
        repack("source not a pack key", op("\"config\"", "[]")),
        repack("source escaping", op("\"../../etc/passwd\"", "[]")),
        repack("source a number", op("7", "[]")),
        repack(
            "blob offset negative",
            op(&p, r#"[{"offset":-1,"length":1}]"#),
        ),
        repack(
            "blob offset over u64",
            op(&p, r#"[{"offset":18446744073709551616,"length":1}]"#),
        ),
        repack("blob length zero", op(&p, r#"[{"offset":13,"length":0}]"#)),
        repack(
            "blob length over u32",
            op(&p, r#"[{"offset":13,"length":4294967296}]"#),
        ),
        repack(
            "blob offset inside the header",
            op(&p, r#"[{"offset":5,"length":1}]"#),
        ),
        repack("blob as a string", op(&p, r#"["13:1"]"#)),
        repack("too many operations", many_ops),
        verify("null", "null".into()),
        verify("packs not a list", pv("{}")),
        verify(
            "pack key not a pack",
            pv(r#"[{"pack_key":"index","expected_size":1,"expected_blobs":[]}]"#),
        ),
        verify(
            "pack key escaping",
            pv(r#"[{"pack_key":"packs/../../x","expected_size":1,"expected_blobs":[]}]"#),
        ),
        verify(
            "expected_size zero",
            pv(&format!(
                r#"[{{"pack_key":{p},"expected_size":0,"expected_blobs":[]}}]"#
            )),
        ),
        verify(
            "expected_size negative",
            pv(&format!(
                r#"[{{"pack_key":{p},"expected_size":-5,"expected_blobs":[]}}]"#
            )),
        ),
        verify(
            "sizes summing past 2 GiB",
            pv(&format!(
                r#"[{{"pack_key":{p},"expected_size":3000000000,"expected_blobs":[]}}]"#
            )),
        ),
        verify(
            "blob length zero",
            pv(&format!(
                r#"[{{"pack_key":{p},"expected_size":10,"expected_blobs":[{{"offset":13,"length":0}}]}}]"#
            )),
        ),
        verify(
            "protocol_version 9",
            r#"{"packs":[],"protocol_version":9}"#.into(),
        ),
        verify("too many packs", many_packs),
        post(
            "/r?batch-delete",
            "an object",
            r#"{"keys":["index"]}"#.into(),
            exactly(400),
        ),
        post(
            "/r?batch-delete",
            "a string",
            r#""index""#.into(),
            exactly(400),
        ),
        post(
            "/r?batch-delete",
            "non-string entries are skipped",
            "[1, null, {}, [\"index\"]]".into(),
            Expect::Success(204),
        ),
        post(
            "/r?batch-delete",
            "escaping keys are skipped",
            r#"["../../etc/passwd", "/etc/passwd", "packs/../../x"]"#.into(),
            Expect::Success(204),
        ),
        post(
            "/r/locks/repo-lock",
            "pid not a number",
            r#"{"hostname":"h","pid":"x"}"#.into(),
            exactly(400),
        ),
        post(
            "/r/locks/repo-lock",
            "pid negative",
            r#"{"hostname":"h","pid":-1}"#.into(),
            exactly(400),
        ),
        post(
            "/r/locks/repo-lock",
            "pid over u64",
            r#"{"hostname":"h","pid":18446744073709551616}"#.into(),
            exactly(400),
        ),
        post(
            "/r/locks/repo-lock",
            "hostname an array",
            r#"{"hostname":[],"pid":1}"#.into(),
            exactly(400),
        ),
    ]
}

fn method_cases() -> Vec<Case> {
    let m = |method: &str, target: &str, expect: Expect| {
        case(
            format!("{method} {target}"),
            req(method, target, &[], b""),
            expect,
        )
    };
    vec![
        m("PATCH", "/r/config", exactly(405)),
        m("OPTIONS", "/r/config", exactly(405)),
        m("TRACE", "/r/config", exactly(405)),
        m("POST", "/r/config", exactly(405)),
        m("POST", "/r/index", exactly(405)),
        m("PUT", "/", exactly(405)),
        m("DELETE", "/", exactly(405)),
        m("POST", "/", exactly(405)),
        m("PUT", "/r?list", exactly(400)),
        m("DELETE", "/r?stats", exactly(400)),
        m("GET", "/r?init", exactly(400)),
        m("GET", "/r?repack", exactly(400)),
        m("PUT", "/r?batch-delete", exactly(400)),
        m("GET", "/r?no-such-op", exactly(400)),
        m("GET", "/r/config?list", exactly(400)),
        m("GET", "/r/config?stats", exactly(400)),
        m("POST", "/r/packs/ab/?list", exactly(400)),
        m("PUT", "/r/packs/ab/?mkdir", exactly(400)),
        m("POST", "/r/config?mkdir", exactly(400)),
        m("BREW", "/r/config", exactly(405)),
        // Documented: the first operation flag wins and values are ignored.
        m("GET", "/r?list&stats", Expect::Success(200)),
        m("GET", "/r?list=%ff", Expect::Success(200)),
        m("DELETE", "/r", exactly(400)),
        m("PUT", "/r", exactly(400)),
    ]
}

/// Every bad path of the path table, for each method.
fn path_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for path in hostile_paths() {
        for method in ["GET", "PUT", "DELETE", "HEAD", "POST"] {
            v.push(case(
                format!("{method} {path}"),
                req(method, &path, &[], b"x"),
                Expect::Message(400..=405),
            ));
        }
    }
    v
}

/// Every endpoint with a JSON body, and its body limit.
const JSON_ENDPOINTS: [(&str, usize); 4] = [
    ("/r?batch-delete", 64 << 20),
    ("/r?repack", 64 << 20),
    ("/r?verify-packs", 64 << 20),
    ("/r/locks/repo-lock", 64 << 10),
];

fn table() -> Vec<Case> {
    let mut v = header_cases();
    v.extend(range_cases());
    for (endpoint, limit) in JSON_ENDPOINTS {
        v.extend(json_cases(endpoint, limit));
    }
    v.extend(plan_cases());
    v.extend(method_cases());
    v.extend(path_cases());
    v
}

/// Sends `request` on a fresh connection, closes the sending side, and
/// reads the answer: `None` when the server closed without one.
async fn send(s: &TestServer, request: &[u8]) -> (Option<u16>, Vec<u8>, Vec<u8>) {
    let mut c = TcpStream::connect(s.addr).await.unwrap();
    // The server may answer and close before it has read everything.
    let _ = c.write_all(request).await;
    let _ = c.shutdown().await;
    let mut buf = Vec::new();
    let done = tokio::time::timeout(Duration::from_secs(20), async {
        let mut chunk = vec![0u8; 64 << 10];
        loop {
            match c.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "the server hung on: {}",
        String::from_utf8_lossy(&request[..request.len().min(200)])
    );
    let text = String::from_utf8_lossy(&buf);
    let code = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|c| c.parse().ok());
    let (head, body) = match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (buf[..i].to_vec(), buf[i + 4..].to_vec()),
        None => (buf.clone(), Vec::new()),
    };
    (code, head, body)
}

#[test]
fn the_table_has_at_least_two_hundred_cases() {
    let json: usize = JSON_ENDPOINTS
        .iter()
        .map(|(e, l)| json_cases(e, *l).len())
        .sum();
    let groups = [
        ("headers", header_cases().len()),
        ("ranges", range_cases().len()),
        ("json", json),
        ("plans", plan_cases().len()),
        ("methods", method_cases().len()),
        ("paths", path_cases().len()),
    ];
    // Shown with --nocapture; docs/reliability.md quotes it.
    eprintln!("hostile-input table: {groups:?}");
    let n = table().len();
    assert_eq!(n, groups.iter().map(|(_, c)| c).sum::<usize>());
    assert!(n >= 200, "{n} cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_request_gets_a_clear_4xx_and_the_server_goes_on() {
    let s = TestServer::start_with("max_object_bytes = 1073741824\n").await;
    assert_eq!(s.put("r/index", OBJECT).await, reqwest::StatusCode::CREATED);
    assert_eq!(s.put("r/config", "cfg").await, reqwest::StatusCode::CREATED);
    // The plans' source pack exists, so their checks reach the blobs.
    let (pack, bytes) = make_pack(&[b"x"]);
    assert_eq!(
        s.put(&format!("r/{pack}"), bytes).await,
        reqwest::StatusCode::CREATED
    );
    let outside = entries_below(s.dir.path());
    let mut failures = Vec::new();
    let cases = table();
    for c in &cases {
        let (code, head, body) = send(&s, &c.request).await;
        let head = String::from_utf8_lossy(&head).into_owned();
        let body_text = String::from_utf8_lossy(&body).into_owned();
        let ok = match (&c.expect, code) {
            (Expect::Message(range), Some(code)) => {
                let is_head = c.request.starts_with(b"HEAD ");
                range.contains(&code)
                    && (is_head || !body_text.trim().is_empty())
                    && !body_text.trim_end().contains('\n')
            }
            (Expect::Message(_), None) => false,
            (Expect::Parser, Some(code)) => (400..500).contains(&code),
            (Expect::Parser, None) => true,
            (Expect::Success(want), Some(code)) => *want == code,
            (Expect::Success(_), None) => false,
        };
        if !ok {
            failures.push(format!(
                "{}: answered {code:?} {:?}",
                c.name,
                format!(
                    "{} | {}",
                    head.lines().next().unwrap_or(""),
                    body_text.trim()
                )
            ));
        }
        if let Some(code) = code {
            assert!(code < 500, "{} got {code}: {body_text}", c.name);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Nothing was created but the one valid chunked PUT of `manifest`,
    // and the server still serves.
    for e in entries_below(s.dir.path()) {
        let expected = outside.contains(&e) || e.contains(".vger-server") || e == "data/r/manifest";
        assert!(expected, "created: {e}");
    }
    assert_eq!(s.get_bytes("r/config").await.1, b"cfg");
    assert_eq!(s.get_bytes("r/index").await.1, OBJECT);
}
