//! A minimal HTTP/1.1 client for the load: one keep-alive connection, each request written with one `write`,
//! each response read by `Content-Length` (or chunks) into a reused buffer.
//!
//! Why not a general-purpose client: the load generator runs on the machine it measures, so every microsecond it
//! spends per request is taken from the server and PostgreSQL. ureq spent about 40 µs of CPU per request here
//! (URL parsing, header maps, allocations), several times what pgbench spends on the floor's side; this client
//! keeps the two sides' drivers comparable. It speaks only what the benchmark needs: plain HTTP to one host.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A status and a body.
pub struct Response<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

pub struct Client {
    /// `host:port`.
    address: String,
    timeout: Duration,
    conn: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
    body: Vec<u8>,
    line: String,
}

impl Client {
    /// A client for `http://host:port` (a path after it is ignored).
    ///
    /// # Errors
    /// When the URL is not plain `http://`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, String> {
        let rest = base_url.strip_prefix("http://").ok_or_else(|| format!("{base_url}: only http:// is supported"))?;
        let address = rest.split('/').next().unwrap_or(rest).to_owned();
        Ok(Self { address, timeout, conn: None, request: Vec::new(), body: Vec::new(), line: String::new() })
    }

    /// Sends one request and reads the whole response. After an error the connection is dropped and the next
    /// request opens a new one; nothing is retried (a merge must not be sent twice).
    ///
    /// # Errors
    /// Any I/O or protocol error.
    pub fn send(&mut self, method: &str, path: &str, token: &str, json: Option<&str>) -> io::Result<Response<'_>> {
        let result = self.exchange(method, path, token, json);
        if result.is_err() {
            self.conn = None;
        }
        let (status, close) = result?;
        if close {
            self.conn = None;
        }
        Ok(Response { status, body: &self.body })
    }

    fn exchange(&mut self, method: &str, path: &str, token: &str, json: Option<&str>) -> io::Result<(u16, bool)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.address)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            self.conn = Some(BufReader::with_capacity(16 * 1024, stream));
        }
        let conn = self.conn.as_mut().ok_or_else(|| io::Error::other("no connection"))?;

        self.request.clear();
        write!(self.request, "{method} {path} HTTP/1.1\r\nHost: {}\r\napi_access_token: {token}\r\n", self.address)?;
        if let Some(json) = json {
            write!(self.request, "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}", json.len())?;
        } else {
            self.request.extend_from_slice(b"\r\n");
        }
        conn.get_mut().write_all(&self.request)?;

        self.line.clear();
        conn.read_line(&mut self.line)?;
        let status = self
            .line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {:?}", self.line)))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            self.line.clear();
            if conn.read_line(&mut self.line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let header = self.line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else { continue };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }

        self.body.clear();
        if chunked {
            loop {
                self.line.clear();
                conn.read_line(&mut self.line)?;
                let size_text = self.line.trim_end().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size_text, 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                let start = self.body.len();
                self.body.resize(start + size, 0);
                conn.read_exact(&mut self.body[start..])?;
                let mut crlf = [0u8; 2];
                conn.read_exact(&mut crlf)?;
                if size == 0 {
                    break;
                }
            }
        } else if let Some(length) = length {
            self.body.resize(length, 0);
            conn.read_exact(&mut self.body)?;
        } else {
            // No length: the body runs to the end of the connection.
            conn.read_to_end(&mut self.body)?;
            close = true;
        }
        Ok((status, close))
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

    /// A server that answers each request on one connection with the next canned response, and records what
    /// it was sent.
    fn serve(responses: Vec<&'static str>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            let mut seen = Vec::new();
            for response in responses {
                let mut request = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    if let Some(v) = line.strip_prefix("Content-Length: ") {
                        length = v.trim().parse().unwrap();
                    }
                    request.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                request.push_str(std::str::from_utf8(&body).unwrap());
                seen.push(request);
                writer.write_all(response.as_bytes()).unwrap();
            }
            seen
        });
        (url, handle)
    }

    #[test]
    fn reads_sized_and_chunked_bodies_on_one_connection() {
        let (url, server) = serve(vec![
            "HTTP/1.1 200 OK\r\ncontent-length: 11\r\ncontent-type: application/json\r\n\r\n{\"id\": 42}\n",
            "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n",
        ]);
        let mut client = Client::new(&url, Duration::from_secs(5)).unwrap();
        let r = client.send("POST", "/merge", "t0k", Some("{\"x\":1}")).unwrap();
        assert_eq!((r.status, r.body), (200, &b"{\"id\": 42}\n"[..]));
        let r = client.send("GET", "/contacts/search?q=a%20b", "t0k", None).unwrap();
        assert_eq!((r.status, r.body), (404, &b"{\"a\":1}"[..]));
        let seen = server.join().unwrap();
        assert!(seen[0].starts_with("POST /merge HTTP/1.1\r\n"), "{}", seen[0]);
        assert!(seen[0].contains("api_access_token: t0k\r\n"));
        assert!(seen[0].ends_with("Content-Length: 7\r\n\r\n{\"x\":1}"), "{}", seen[0]);
        assert!(seen[1].starts_with("GET /contacts/search?q=a%20b HTTP/1.1\r\n"));
    }

    #[test]
    fn a_dead_connection_is_an_error_and_the_next_request_reconnects() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            // The first connection is closed without an answer; the second gets one.
            drop(listener.accept().unwrap());
            let (mut stream, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        });
        let mut client = Client::new(&url, Duration::from_secs(5)).unwrap();
        assert!(client.send("GET", "/", "t", None).is_err());
        let r = client.send("GET", "/", "t", None).unwrap();
        assert_eq!((r.status, r.body), (200, &b"{}"[..]));
        server.join().unwrap();
    }

    #[test]
    fn only_plain_http_urls() {
        assert!(Client::new("https://example.invalid", Duration::from_secs(1)).is_err());
        let c = Client::new("http://127.0.0.1:8080/ignored", Duration::from_secs(1)).unwrap();
        assert_eq!(c.address, "127.0.0.1:8080");
    }
}
