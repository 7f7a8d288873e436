//! The load's HTTP/1.1: requests written in one buffer, responses parsed from the bytes read so far (by
//! `Content-Length` or chunks), for the event-driven driver in `http.rs`.
//!
//! Why not a general-purpose client: the load generator runs on the machine it measures, so every microsecond it
//! spends per request is taken from the server and PostgreSQL. A blocking client with one thread per connection
//! (ureq) spent about 40 µs of CPU per request here and woke one of 16 threads for every response; the floor's
//! driver, pgbench, multiplexes its connections over two threads (`-j 2`). This driver does the same, so the two
//! sides are driven alike. It speaks only what the benchmark needs: plain HTTP to one host.

use std::io::Write;

/// A complete response found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub status: u16,
    /// The body (de-chunked when it was sent in chunks).
    pub body: Vec<u8>,
    /// How many bytes of the buffer the response took.
    pub consumed: usize,
    /// The server said `Connection: close`.
    pub close: bool,
}

/// `host:port` of a plain `http://` base URL (a path after it is ignored).
///
/// # Errors
/// When the URL is not plain `http://`.
pub fn address(base_url: &str) -> Result<String, String> {
    let rest = base_url.strip_prefix("http://").ok_or_else(|| format!("{base_url}: only http:// is supported"))?;
    Ok(rest.split('/').next().unwrap_or(rest).to_owned())
}

/// Appends one request to `out`.
pub fn write_request(out: &mut Vec<u8>, host: &str, method: &str, path: &str, token: &str, json: Option<&str>) {
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{method} {path} HTTP/1.1\r\nHost: {host}\r\napi_access_token: {token}\r\n");
    match json {
        Some(json) => {
            let _ = write!(out, "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len());
        }
        None => out.extend_from_slice(b"\r\n"),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The response at the start of `buf`: `Ok(None)` while it is incomplete.
///
/// # Errors
/// When the bytes are not an HTTP/1.1 response this client understands (a body without a length or chunks
/// included: the server always sends one or the other).
pub fn parse_response(buf: &[u8]) -> Result<Option<Parsed>, String> {
    let Some(head_len) = find(buf, b"\r\n\r\n") else { return Ok(None) };
    let head = std::str::from_utf8(&buf[..head_len]).map_err(|_| "response head is not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    for header in lines {
        let Some((name, value)) = header.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| format!("bad content-length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        }
    }
    let start = head_len + 4;
    if chunked {
        return Ok(dechunk(&buf[start..])?.map(|(body, used)| Parsed { status, body, consumed: start + used, close }));
    }
    let length = length.ok_or("a response without Content-Length or chunks")?;
    if buf.len() < start + length {
        return Ok(None);
    }
    Ok(Some(Parsed { status, body: buf[start..start + length].to_vec(), consumed: start + length, close }))
}

/// A chunked body at the start of `buf` and the bytes it took, once the last chunk has arrived.
fn dechunk(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, String> {
    let mut body = Vec::new();
    let mut at = 0;
    loop {
        let Some(line_len) = find(&buf[at..], b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&buf[at..at + line_len]).map_err(|_| "bad chunk size".to_owned())?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        let data = at + line_len + 2;
        if buf.len() < data + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&buf[data..data + size]);
        at = data + size + 2;
        if size == 0 {
            return Ok(Some((body, at)));
        }
    }
}

/// `s` percent-encoded for a query string value.
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("zabc"), "zabc");
        assert_eq!(query_value("a b&c=%"), "a%20b%26c%3D%25");
        assert_eq!(query_value("é"), "%C3%A9");
    }

    #[test]
    fn only_plain_http_urls() {
        assert!(address("https://example.invalid").is_err());
        assert_eq!(address("http://127.0.0.1:8080/ignored").unwrap(), "127.0.0.1:8080");
    }

    #[test]
    fn requests_carry_the_token_and_the_body_length() {
        let mut out = Vec::new();
        write_request(&mut out, "h:1", "POST", "/m", "t0k", Some("{\"x\":1}"));
        write_request(&mut out, "h:1", "GET", "/c?q=a%20b", "t0k", None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /m HTTP/1.1\r\nHost: h:1\r\napi_access_token: t0k\r\nContent-Type: application/json\r\n\
             Content-Length: 7\r\n\r\n{\"x\":1}GET /c?q=a%20b HTTP/1.1\r\nHost: h:1\r\napi_access_token: t0k\r\n\r\n"
        );
    }

    #[test]
    fn sized_responses_are_complete_only_with_their_whole_body() {
        let r =
            b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\ncontent-type: application/json\r\n\r\n{\"id\": 42}\nHTTP/1.1";
        for cut in [10, 60, r.len() - 9] {
            assert_eq!(parse_response(&r[..cut]), Ok(None), "cut at {cut}");
        }
        let parsed = parse_response(r).unwrap().unwrap();
        assert_eq!((parsed.status, &parsed.body[..], parsed.close), (200, &b"{\"id\": 42}\n"[..], false));
        assert_eq!(parsed.consumed, r.len() - 8, "the next response's bytes are left");
    }

    #[test]
    fn chunked_responses_are_joined() {
        let r = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(&r[..r.len() - 2]), Ok(None));
        let parsed = parse_response(r).unwrap().unwrap();
        assert_eq!((parsed.status, &parsed.body[..], parsed.close), (404, &b"{\"a\":1}"[..], true));
        assert_eq!(parsed.consumed, r.len());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n").is_err(), "no length");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
    }
}
