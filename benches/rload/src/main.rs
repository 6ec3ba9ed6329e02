//! rload: a closed-loop HTTP/1.1 load client on one thread.
//!
//!     rload --port P [--host 127.0.0.1] [--connections N] [--seconds S] [--warmup W]
//!           [--requests R] [--method GET] [--path /] [--body TEXT | --body-file F]
//!           [--header 'name: value']...
//!
//! N keep-alive connections over loopback, each sending its next request as soon as it
//! has read the previous response (closed loop), all driven by one thread with
//! nonblocking sockets and poll(2). Requests sent during the first W seconds are not
//! measured; then requests are sent for S seconds (or until R have been sent) and the
//! responses of the ones in flight are awaited. Responses are framed by Content-Length,
//! chunked transfer coding, or (without either) the end of the connection; a connection
//! the server closes is opened again. Prints one JSON object: requests, seconds, rps,
//! p50/p99/max/mean latency in ms, non_2xx and errors (connections that failed).
//!
//! Standard library only, so it builds in seconds with no download; poll(2) is declared
//! here (the C library std links anyway).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

#[repr(C)]
struct PollFd {
    fd: i32,
    events: i16,
    revents: i16,
}

extern "C" {
    fn poll(fds: *mut PollFd, nfds: std::ffi::c_ulong, timeout: i32) -> i32;
}

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;

struct Options {
    host: String,
    port: u16,
    connections: usize,
    seconds: f64,
    warmup: f64,
    requests: u64,
    method: String,
    path: String,
    body: Vec<u8>,
    headers: Vec<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("rload: {msg}");
    eprintln!(
        "usage: rload --port P [--host H] [--connections N] [--seconds S] [--warmup W] \
         [--requests R] [--method M] [--path P] [--body TEXT | --body-file F] [--header 'k: v']..."
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        host: "127.0.0.1".into(),
        port: 0,
        connections: 1,
        seconds: 5.0,
        warmup: 0.0,
        requests: 0,
        method: "GET".into(),
        path: "/".into(),
        body: Vec::new(),
        headers: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let num = |v: String| -> f64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("bad number {v:?}")))
        };
        match flag.as_str() {
            "--host" => o.host = value(),
            "--port" => o.port = num(value()) as u16,
            "--connections" | "-c" => o.connections = num(value()) as usize,
            "--seconds" | "-d" => o.seconds = num(value()),
            "--warmup" => o.warmup = num(value()),
            "--requests" | "-n" => o.requests = num(value()) as u64,
            "--method" | "-m" => o.method = value(),
            "--path" => o.path = value(),
            "--body" => o.body = value().into_bytes(),
            "--body-file" => {
                let f = value();
                o.body = std::fs::read(&f).unwrap_or_else(|e| usage(&format!("{f}: {e}")));
            }
            "--header" | "-H" => o.headers.push(value()),
            _ => usage(&format!("unknown argument {flag:?}")),
        }
    }
    if o.port == 0 || o.connections == 0 {
        usage("--port and --connections (>= 1) are required");
    }
    o
}

fn build_request(o: &Options) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}:{}\r\n",
        o.method, o.path, o.host, o.port
    );
    let has = |name: &str| {
        o.headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with(name))
    };
    for h in &o.headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if !o.body.is_empty() || o.method != "GET" {
        if !has("content-type:") {
            head.push_str("content-type: application/json\r\n");
        }
        head.push_str(&format!("content-length: {}\r\n", o.body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&o.body);
    out
}

/// A complete response at the start of `buf`: (bytes it takes, status, connection ends).
#[derive(Debug, PartialEq)]
struct Response {
    len: usize,
    status: u16,
    close: bool,
}

fn find(buf: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    if buf.len() < from + pat.len() {
        return None;
    }
    buf[from..]
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|i| i + from)
}

/// The end of a chunked body starting at `pos`, if all of it (and its trailers) is here.
fn chunked_end(buf: &[u8], mut pos: usize) -> Result<Option<usize>, String> {
    loop {
        let Some(eol) = find(buf, pos, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[pos..eol]).map_err(|_| "bad chunk size")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        pos = eol + 2;
        if size == 0 {
            // trailer fields, then an empty line
            loop {
                let Some(eol) = find(buf, pos, b"\r\n") else {
                    return Ok(None);
                };
                if eol == pos {
                    return Ok(Some(eol + 2));
                }
                pos = eol + 2;
            }
        }
        if buf.len() < pos + size + 2 {
            return Ok(None);
        }
        if &buf[pos + size..pos + size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        pos += size + 2;
    }
}

/// Parses the response at the start of `buf`; `eof` says the peer has closed (a body
/// without Content-Length or chunked coding ends there).
fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, String> {
    let mut start = 0;
    loop {
        let Some(head_end) = find(buf, start, b"\r\n\r\n") else {
            return Ok(None);
        };
        let head = std::str::from_utf8(&buf[start..head_end]).map_err(|_| "non-UTF-8 head")?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(format!("bad status line {status_line:?}"));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let body_start = head_end + 4;
        if (100..200).contains(&status) {
            start = body_start; // interim response: the real one follows
            continue;
        }
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = version == "HTTP/1.0";
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    length = Some(value.parse().map_err(|_| "bad content-length")?);
                }
                "transfer-encoding" => {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
                "connection" => {
                    let v = value.to_ascii_lowercase();
                    if v.contains("close") {
                        close = true;
                    } else if v.contains("keep-alive") {
                        close = false;
                    }
                }
                _ => {}
            }
        }
        let end = if status == 204 || status == 304 {
            Some(body_start)
        } else if chunked {
            chunked_end(buf, body_start)?
        } else if let Some(n) = length {
            (buf.len() >= body_start + n).then_some(body_start + n)
        } else if eof {
            close = true;
            Some(buf.len())
        } else {
            None
        };
        return Ok(end.map(|len| Response { len, status, close }));
    }
}

#[derive(PartialEq)]
enum State {
    Writing,
    Reading,
    Done,
}

struct Conn {
    stream: TcpStream,
    state: State,
    written: usize,
    inbuf: Vec<u8>,
    sent_at: Instant,
}

fn connect(addr: &std::net::SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(addr, Duration::from_secs(5))?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

struct Stats {
    latencies_ns: Vec<u64>,
    non_2xx: u64,
    errors: u64,
    reconnects: u64,
    first_error: Option<String>,
}

fn main() {
    let o = parse_args();
    let addr = (o.host.as_str(), o.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| usage("cannot resolve host"));
    let request = build_request(&o);
    let mut conns: Vec<Conn> = Vec::with_capacity(o.connections);
    for _ in 0..o.connections {
        match connect(&addr) {
            Ok(stream) => conns.push(Conn {
                stream,
                state: State::Done,
                written: 0,
                inbuf: Vec::with_capacity(16384),
                sent_at: Instant::now(),
            }),
            Err(e) => {
                eprintln!("rload: connect {addr}: {e}");
                std::process::exit(1);
            }
        }
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(o.warmup);
    let stop_at = measure_from + Duration::from_secs_f64(o.seconds);
    let drain_limit = stop_at + Duration::from_secs(10);
    let mut sent_measured: u64 = 0;
    let mut stats = Stats {
        latencies_ns: Vec::with_capacity(1 << 16),
        non_2xx: 0,
        errors: 0,
        reconnects: 0,
        first_error: None,
    };
    let mut last_done = measure_from;
    let mut fds: Vec<PollFd> = Vec::with_capacity(o.connections);
    let mut readbuf = vec![0u8; 65536];

    // May this connection send another request now?
    let may_send = |now: Instant, sent: u64| -> bool {
        now < stop_at && (o.requests == 0 || now < measure_from || sent < o.requests)
    };
    for c in conns.iter_mut() {
        c.state = State::Writing;
        c.written = 0;
        c.sent_at = Instant::now();
        if c.sent_at >= measure_from {
            sent_measured += 1;
        }
    }
    loop {
        // Write what can be written without waiting.
        for c in conns.iter_mut() {
            if c.state == State::Writing {
                match c.stream.write(&request[c.written..]) {
                    Ok(n) => {
                        c.written += n;
                        if c.written == request.len() {
                            c.state = State::Reading;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => fail(c, &mut stats, &addr, e.to_string()),
                }
            }
        }
        if conns.iter().all(|c| c.state == State::Done) {
            break;
        }
        let now = Instant::now();
        if now > drain_limit {
            let left = conns.iter().filter(|c| c.state != State::Done).count();
            stats.errors += left as u64;
            stats
                .first_error
                .get_or_insert_with(|| format!("{left} responses not received in 10 s"));
            break;
        }
        fds.clear();
        for c in conns.iter() {
            let events = match c.state {
                State::Writing => POLLOUT,
                State::Reading => POLLIN,
                State::Done => 0,
            };
            fds.push(PollFd {
                fd: if events == 0 {
                    -1
                } else {
                    c.stream.as_raw_fd()
                },
                events,
                revents: 0,
            });
        }
        let timeout_ms = 100;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures.
        let n = unsafe { poll(fds.as_mut_ptr(), fds.len() as std::ffi::c_ulong, timeout_ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            eprintln!("rload: poll: {e}");
            std::process::exit(1);
        }
        for (i, c) in conns.iter_mut().enumerate() {
            if fds[i].revents == 0 || c.state != State::Reading {
                continue;
            }
            let mut eof = false;
            loop {
                match c.stream.read(&mut readbuf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => c.inbuf.extend_from_slice(&readbuf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        fail(c, &mut stats, &addr, e.to_string());
                        break;
                    }
                }
            }
            if c.state != State::Reading {
                continue;
            }
            match parse_response(&c.inbuf, eof) {
                Ok(Some(resp)) => {
                    let done = Instant::now();
                    if c.sent_at >= measure_from {
                        stats
                            .latencies_ns
                            .push(done.duration_since(c.sent_at).as_nanos() as u64);
                        if !(200..300).contains(&resp.status) {
                            stats.non_2xx += 1;
                        }
                        last_done = done;
                    }
                    c.inbuf.drain(..resp.len);
                    if resp.close || eof {
                        match connect(&addr) {
                            Ok(s) => {
                                c.stream = s;
                                c.inbuf.clear();
                                stats.reconnects += 1;
                            }
                            Err(e) => {
                                fail(c, &mut stats, &addr, e.to_string());
                                continue;
                            }
                        }
                    }
                    if may_send(done, sent_measured) {
                        c.state = State::Writing;
                        c.written = 0;
                        c.sent_at = Instant::now();
                        if c.sent_at >= measure_from {
                            sent_measured += 1;
                        }
                    } else {
                        c.state = State::Done;
                    }
                }
                Ok(None) if eof => fail(
                    c,
                    &mut stats,
                    &addr,
                    "connection closed mid-response".into(),
                ),
                Ok(None) => {}
                Err(e) => fail(c, &mut stats, &addr, e),
            }
        }
    }
    let seconds = last_done.duration_since(measure_from).as_secs_f64();
    let mut lat = std::mem::take(&mut stats.latencies_ns);
    lat.sort_unstable();
    let pct = |q: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((q * lat.len() as f64) as usize).min(lat.len() - 1);
        lat[i] as f64 / 1e6
    };
    let mean = if lat.is_empty() {
        0.0
    } else {
        lat.iter().map(|&v| v as f64).sum::<f64>() / lat.len() as f64 / 1e6
    };
    let rps = if seconds > 0.0 {
        lat.len() as f64 / seconds
    } else {
        0.0
    };
    let first_error = stats
        .first_error
        .as_deref()
        .map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "'")))
        .unwrap_or_else(|| "null".into());
    println!(
        "{{\"connections\": {}, \"requests\": {}, \"seconds\": {:.4}, \"rps\": {:.1}, \
         \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"max_ms\": {:.3}, \"mean_ms\": {:.3}, \
         \"non_2xx\": {}, \"errors\": {}, \"reconnects\": {}, \"first_error\": {}}}",
        o.connections,
        lat.len(),
        seconds,
        rps,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        mean,
        stats.non_2xx,
        stats.errors,
        stats.reconnects,
        first_error
    );
}

/// A connection failed: count it and stop using it (its request is not measured).
fn fail(c: &mut Conn, stats: &mut Stats, _addr: &std::net::SocketAddr, why: String) {
    stats.errors += 1;
    stats.first_error.get_or_insert(why);
    let _ = c.stream.shutdown(Shutdown::Both);
    c.state = State::Done;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcHTTP/1.1";
        assert_eq!(
            parse_response(r, false).unwrap(),
            Some(Response {
                len: 41,
                status: 200,
                close: false
            })
        );
        assert_eq!(parse_response(&r[..40], false).unwrap(), None);
    }

    #[test]
    fn chunked() {
        let r = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\nx-t: 1\r\n\r\n";
        let full = parse_response(r, false).unwrap().unwrap();
        assert_eq!((full.len, full.status), (r.len(), 201));
        for cut in 0..r.len() {
            assert_eq!(parse_response(&r[..cut], false).unwrap(), None, "cut {cut}");
        }
    }

    #[test]
    fn until_close_and_interim() {
        let r =
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\nnope";
        assert_eq!(parse_response(r, false).unwrap(), None);
        let resp = parse_response(r, true).unwrap().unwrap();
        assert_eq!((resp.status, resp.close, resp.len), (404, true, r.len()));
    }
}
