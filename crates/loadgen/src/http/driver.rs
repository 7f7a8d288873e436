//! The event loop behind `http`: some clients' keep-alive connections driven over one thread with non-blocking
//! sockets and one `poll` for all, each client writing its next request when its previous answer is read. What a
//! client sends and how an answer is judged live in the parent module (`ClientState`).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::{ClientResult, ClientState, Plan, ANSWER_TIMEOUT};
use crate::client::{address, parse_response, Parsed};

/// A client's keep-alive connection and its buffers.
struct Conn {
    state: ClientState,
    stream: Option<TcpStream>,
    out: Vec<u8>,
    written: usize,
    input: Vec<u8>,
    done: bool,
}

/// Drives some clients over one thread: non-blocking sockets, one `poll` for all (as pgbench's `-j` threads do).
/// A request is written as soon as the previous answer is read; nothing is retried (a merge must not be sent
/// twice): a connection that fails counts the request in flight as an error and is opened again.
pub(super) fn run_clients(plan: &Arc<Plan>, clients: &[i64]) -> Result<Vec<ClientResult>, String> {
    let address = address(&plan.target.base_url)?;
    let socket: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&address)
        .map_err(|e| format!("{address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address}: no address"))?;
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(64);
    let mut conns = Vec::with_capacity(clients.len());
    for &client in clients {
        let state = ClientState::new(Arc::clone(plan), client)?;
        conns.push(Conn { state, stream: None, out: Vec::new(), written: 0, input: Vec::new(), done: false });
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        start_next(conn, &address, socket, &poll, Token(i));
    }
    let mut buf = vec![0u8; 64 * 1024];
    while conns.iter().any(|c| !c.done) {
        poll.poll(&mut events, Some(Duration::from_millis(100))).map_err(|e| e.to_string())?;
        for event in &events {
            let i = event.token().0;
            let Some(conn) = conns.get_mut(i) else { continue };
            if conn.done {
                continue;
            }
            let progress = pump(conn, &mut buf);
            match progress {
                Ok(None) => {}
                Ok(Some(parsed)) => {
                    let keep_going = conn.state.answered(Ok((parsed.status, &parsed.body)));
                    conn.input.drain(..parsed.consumed);
                    if parsed.close {
                        close(conn, &poll);
                    }
                    if keep_going {
                        start_next(conn, &address, socket, &poll, Token(i));
                    } else {
                        finish(conn, &poll);
                    }
                }
                Err(e) => {
                    let keep_going = conn.state.answered(Err(e));
                    close(conn, &poll);
                    if keep_going {
                        start_next(conn, &address, socket, &poll, Token(i));
                    } else {
                        finish(conn, &poll);
                    }
                }
            }
        }
        // An answer that never comes ends as an error, as a client's timeout would.
        for (i, conn) in conns.iter_mut().enumerate() {
            let stuck = conn.state.in_flight.as_ref().is_some_and(|(at, _)| at.elapsed() > ANSWER_TIMEOUT);
            if !conn.done && stuck {
                close(conn, &poll);
                if conn.state.answered(Err("timeout".to_owned())) {
                    start_next(conn, &address, socket, &poll, Token(i));
                } else {
                    finish(conn, &poll);
                }
            }
        }
    }
    Ok(conns.into_iter().map(|c| c.state.result).collect())
}

/// Queues the client's next request and sends what the socket takes now; the rest goes when it is writable. A
/// request that cannot be sent is counted as an error and the next one tries a new connection.
fn start_next(conn: &mut Conn, host: &str, socket: std::net::SocketAddr, poll: &Poll, token: Token) {
    loop {
        conn.out.clear();
        conn.written = 0;
        if !conn.state.next(host, &mut conn.out) {
            finish(conn, poll);
            return;
        }
        let sent = match conn.stream {
            // A new connection: the request goes with its first writable event.
            None => connect(socket, poll, token).map(|stream| conn.stream = Some(stream)),
            Some(_) => write_pending(conn),
        };
        let Err(e) = sent else { return };
        close(conn, poll);
        if !conn.state.answered(Err(e)) {
            finish(conn, poll);
            return;
        }
    }
}

fn connect(socket: std::net::SocketAddr, poll: &Poll, token: Token) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(socket).map_err(|e| format!("connect {:?}", e.kind()))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay {:?}", e.kind()))?;
    poll.registry()
        .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        .map_err(|e| format!("register {:?}", e.kind()))?;
    Ok(stream)
}

/// Writes what is left of the request.
fn write_pending(conn: &mut Conn) -> Result<(), String> {
    let Some(stream) = conn.stream.as_mut() else { return Err("not connected".to_owned()) };
    while conn.written < conn.out.len() {
        match stream.write(&conn.out[conn.written..]) {
            Ok(0) => return Err("connection closed".to_owned()),
            Ok(n) => conn.written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{:?}", e.kind())),
        }
    }
    Ok(())
}

/// Moves bytes both ways after an event; a complete response once one has arrived.
fn pump(conn: &mut Conn, buf: &mut [u8]) -> Result<Option<Parsed>, String> {
    write_pending(conn)?;
    let Some(stream) = conn.stream.as_mut() else { return Err("not connected".to_owned()) };
    loop {
        match stream.read(buf) {
            Ok(0) => return Err("UnexpectedEof".to_owned()),
            Ok(n) => {
                conn.input.extend_from_slice(&buf[..n]);
                if conn.state.in_flight.is_none() {
                    return Err("an answer nobody asked for".to_owned());
                }
                // Nothing follows a complete answer until the next request, so there is no need to read on
                // until the socket says it is empty: that would be one more system call per request.
                if let Some(parsed) = parse_response(&conn.input)? {
                    return Ok(Some(parsed));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // A connection still being opened reports nothing to read yet.
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => return Ok(None),
            Err(e) => return Err(format!("{:?}", e.kind())),
        }
    }
}

fn close(conn: &mut Conn, poll: &Poll) {
    if let Some(mut stream) = conn.stream.take() {
        let _ = poll.registry().deregister(&mut stream);
    }
    conn.input.clear();
}

fn finish(conn: &mut Conn, poll: &Poll) {
    close(conn, poll);
    conn.done = true;
}
