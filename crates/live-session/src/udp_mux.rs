//! One UDP port for all WebRTC media (ICE UDP mux), so a firewall needs one rule.
//!
//! The `webrtc` crate binds a socket per connection and has no mux of its own, but it takes a
//! [`Runtime`] that wraps the sockets it binds. Each SFU connection gets a runtime whose
//! `wrap_udp_socket` hands back a virtual socket instead: it sends through the shared socket
//! and receives what the shared socket's reader routes to it. Routing: a datagram from a known
//! remote address goes to that address's connection; otherwise a STUN Binding request is
//! routed by the `USERNAME` attribute (`<our ufrag>:<their ufrag>`, our ufrag being unique per
//! connection), which also teaches the mux that remote address. Everything else is dropped.
//!
//! The connection's own (placeholder) address is what its ICE agent knows as the host
//! candidate; the answer's candidates are rewritten to the public address and the shared port
//! ([`rewrite_candidates`]).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, RecvMeta, Runtime, TokioRuntime,
    Transmit,
};

/// Datagrams a connection may have waiting before new ones are dropped.
const QUEUE: usize = 2048;

/// A connection's inbox.
#[derive(Debug, Default)]
struct Inbox {
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
    waker: Option<Waker>,
    closed: bool,
}

#[derive(Debug)]
struct Conn {
    ufrag: String,
    inbox: Mutex<Inbox>,
}

#[derive(Debug, Default)]
struct Routes {
    by_ufrag: HashMap<String, Weak<Conn>>,
    by_addr: HashMap<SocketAddr, Weak<Conn>>,
}

/// The shared socket and its routing table.
#[derive(Debug)]
pub struct UdpMux {
    sock: Arc<tokio::net::UdpSocket>,
    routes: Mutex<Routes>,
    /// Where clients reach the shared port (the host candidate of every answer).
    public: SocketAddr,
}

/// The server's ufrag in a STUN Binding request's `USERNAME` (`<ours>:<theirs>`), if the
/// datagram is one.
pub fn stun_binding_ufrag(d: &[u8]) -> Option<&str> {
    // Header: type (0x0001 Binding request), length, magic cookie, transaction id.
    if d.len() < 20 || d[0..2] != [0x00, 0x01] || d[4..8] != [0x21, 0x12, 0xA4, 0x42] {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([d[2], d[3]]));
    let body = d.get(20..20 + len)?;
    let mut i = 0;
    while i + 4 <= body.len() {
        let typ = u16::from_be_bytes([body[i], body[i + 1]]);
        let alen = usize::from(u16::from_be_bytes([body[i + 2], body[i + 3]]));
        let value = body.get(i + 4..i + 4 + alen)?;
        if typ == 0x0006 {
            let user = std::str::from_utf8(value).ok()?;
            return user.split(':').next();
        }
        i += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// Replaces the address of every UDP candidate in `sdp` (a muxed connection has only its
/// placeholder host candidate) with the shared port's public address.
pub fn rewrite_candidates(sdp: &str, public: SocketAddr) -> String {
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        let ending = &line[body.len()..];
        if let Some(rest) = body.strip_prefix("a=candidate:") {
            let mut f: Vec<String> = rest.split(' ').map(str::to_owned).collect();
            // foundation component transport priority address port "typ" type …
            if f.len() >= 8 && f[2].eq_ignore_ascii_case("udp") {
                f[4] = public.ip().to_string();
                f[5] = public.port().to_string();
                out.push_str("a=candidate:");
                out.push_str(&f.join(" "));
                out.push_str(ending);
                continue;
            }
        }
        out.push_str(line);
    }
    out
}

impl UdpMux {
    /// Binds the shared port and starts routing what arrives on it.
    pub async fn bind(addr: SocketAddr, public: SocketAddr) -> io::Result<Arc<Self>> {
        let sock = tokio::net::UdpSocket::bind(addr).await?;
        let local = sock.local_addr()?;
        let public = if public.port() == 0 {
            SocketAddr::new(public.ip(), local.port())
        } else {
            public
        };
        let mux = Arc::new(Self {
            sock: Arc::new(sock),
            routes: Mutex::default(),
            public,
        });
        let weak = Arc::downgrade(&mux);
        let sock = mux.sock.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 1600];
            loop {
                let (n, from) = match sock.recv_from(&mut buf).await {
                    Ok(x) => x,
                    // ICMP errors of earlier sends surface here; they do not end the socket.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionRefused
                                | io::ErrorKind::ConnectionReset
                                | io::ErrorKind::Interrupted
                                | io::ErrorKind::WouldBlock
                        ) =>
                    {
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reading the shared media port failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        if weak.strong_count() == 0 {
                            return;
                        }
                        continue;
                    }
                };
                let Some(mux) = weak.upgrade() else { return };
                mux.route(&buf[..n], from);
            }
        });
        tracing::info!(%local, %public, "WebRTC media on one UDP port");
        Ok(mux)
    }

    /// Where clients reach the shared port.
    pub fn public_addr(&self) -> SocketAddr {
        self.public
    }

    /// Connections currently registered (for tests and metrics).
    pub fn connections(&self) -> usize {
        self.routes
            .lock()
            .map(|r| r.by_ufrag.values().filter(|c| c.strong_count() > 0).count())
            .unwrap_or(0)
    }

    fn route(&self, d: &[u8], from: SocketAddr) {
        let conn = {
            let Ok(mut r) = self.routes.lock() else { return };
            // A Binding request names its connection: it wins over an address that a connection
            // of the same client used before (a reloaded page, a new session).
            match stun_binding_ufrag(d)
                .and_then(|u| r.by_ufrag.get(u))
                .and_then(Weak::upgrade)
            {
                Some(c) => {
                    r.by_addr.insert(from, Arc::downgrade(&c));
                    Some(c)
                }
                None => r.by_addr.get(&from).and_then(Weak::upgrade),
            }
        };
        let Some(conn) = conn else { return };
        let waker = {
            let Ok(mut inbox) = conn.inbox.lock() else { return };
            if inbox.closed || inbox.queue.len() >= QUEUE {
                return;
            }
            inbox.queue.push_back((d.to_vec(), from));
            inbox.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn register(self: &Arc<Self>, ufrag: &str, placeholder: SocketAddr) -> Arc<MuxedSocket> {
        let conn = Arc::new(Conn {
            ufrag: ufrag.to_owned(),
            inbox: Mutex::default(),
        });
        if let Ok(mut r) = self.routes.lock() {
            r.by_ufrag.insert(ufrag.to_owned(), Arc::downgrade(&conn));
            // Forget routes of connections that are gone.
            r.by_addr.retain(|_, c| c.strong_count() > 0);
        }
        Arc::new(MuxedSocket {
            mux: self.clone(),
            conn,
            local: placeholder,
        })
    }

    fn unregister(&self, conn: &Arc<Conn>) {
        if let Ok(mut r) = self.routes.lock() {
            if r.by_ufrag
                .get(&conn.ufrag)
                .is_some_and(|c| c.as_ptr() == Arc::as_ptr(conn))
            {
                r.by_ufrag.remove(&conn.ufrag);
            }
            r.by_addr
                .retain(|_, c| c.strong_count() > 0 && c.as_ptr() != Arc::as_ptr(conn));
        }
    }
}

/// One connection's view of the shared socket.
#[derive(Debug)]
pub struct MuxedSocket {
    mux: Arc<UdpMux>,
    conn: Arc<Conn>,
    local: SocketAddr,
}

impl Drop for MuxedSocket {
    fn drop(&mut self) {
        if let Ok(mut inbox) = self.conn.inbox.lock() {
            inbox.closed = true;
            inbox.queue.clear();
        }
        self.mux.unregister(&self.conn);
    }
}

impl AsyncUdpSocket for MuxedSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn poll_send(&self, cx: &mut Context<'_>, t: &Transmit<'_>) -> Poll<io::Result<usize>> {
        self.mux.sock.poll_send_to(cx, t.contents, t.destination)
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let Ok(mut inbox) = self.conn.inbox.lock() else {
            return Poll::Ready(Err(io::Error::other("poisoned")));
        };
        let (Some(buf), Some(m)) = (bufs.first_mut(), meta.first_mut()) else {
            return Poll::Ready(Ok(0));
        };
        match inbox.queue.pop_front() {
            Some((data, from)) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                let mut rm = RecvMeta::default();
                rm.addr = from;
                rm.len = n;
                rm.stride = n.max(1);
                rm.dst_ip = Some(self.local.ip());
                *m = rm;
                Poll::Ready(Ok(1))
            }
            None => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// The tokio runtime, except that the UDP sockets a connection binds become views of the
/// shared socket, routed by the connection's ICE ufrag.
#[derive(Debug)]
pub struct MuxRuntime {
    inner: TokioRuntime,
    mux: Arc<UdpMux>,
    ufrag: String,
}

impl MuxRuntime {
    pub fn new(mux: Arc<UdpMux>, ufrag: String) -> Self {
        Self {
            inner: TokioRuntime,
            mux,
            ufrag,
        }
    }
}

impl Runtime for MuxRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn(future)
    }

    fn spawn_reactor(&self, size: usize, future: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        self.inner.spawn_reactor(size, future)
    }

    fn wrap_udp_socket(&self, socket: std::net::UdpSocket) -> io::Result<Arc<dyn AsyncUdpSocket>> {
        // The bound socket only lends its address (the connection's placeholder); it is
        // closed here and nothing is ever sent to it.
        let local = socket.local_addr()?;
        drop(socket);
        Ok(self.mux.register(&self.ufrag, local))
    }

    fn wrap_tcp_listener(&self, listener: std::net::TcpListener) -> io::Result<Arc<dyn AsyncTcpListener>> {
        self.inner.wrap_tcp_listener(listener)
    }

    fn connect_tcp<'a>(
        &'a self,
        remote: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        self.inner.connect_tcp(remote)
    }

    fn resolve_host<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        self.inner.resolve_host(host)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.sleep(d)
    }

    fn interval(&self, period: Duration) -> Box<dyn AsyncInterval> {
        self.inner.interval(period)
    }

    fn block_on(&self, future: Pin<Box<dyn Future<Output = ()> + '_>>) {
        self.inner.block_on(future)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.inner.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio+udp-mux"
    }
}

/// A random ICE ufrag (ICE allows 4–256 characters of `ice-char`).
pub fn new_ufrag() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..16).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding_request(username: &str) -> Vec<u8> {
        let mut attr = vec![0x00, 0x06];
        attr.extend((username.len() as u16).to_be_bytes());
        attr.extend(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        // A PRIORITY attribute first, so the parser has to skip one.
        let mut body = vec![0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4];
        body.extend(attr);
        let mut d = vec![0x00, 0x01];
        d.extend((body.len() as u16).to_be_bytes());
        d.extend([0x21, 0x12, 0xA4, 0x42]);
        d.extend([7u8; 12]);
        d.extend(body);
        d
    }

    #[test]
    fn stun_usernames() {
        assert_eq!(stun_binding_ufrag(&binding_request("srvUfrag:cli")), Some("srvUfrag"));
        // A Binding success response, RTP and garbage are not routed by name.
        let mut resp = binding_request("a:b");
        resp[0..2].copy_from_slice(&[0x01, 0x01]);
        assert_eq!(stun_binding_ufrag(&resp), None);
        assert_eq!(stun_binding_ufrag(&[0x80, 0x60, 0, 1]), None);
        let mut cut = binding_request("abc:def");
        cut.truncate(30);
        assert_eq!(stun_binding_ufrag(&cut), None);
    }

    #[test]
    fn candidates_point_at_the_shared_port() {
        let sdp = "v=0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 43210 typ host\r\na=candidate:2 1 tcp 1 \
                   10.0.0.1 \
                   5555 typ host\r\na=end-of-candidates\r\n";
        let out = rewrite_candidates(sdp, "203.0.113.7:50000".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(
            out,
            "v=0\r\na=candidate:1 1 udp 2130706431 203.0.113.7 50000 typ host\r\na=candidate:2 1 tcp \
             1 10.0.0.1 5555 \
             typ host\r\na=end-of-candidates\r\n"
        );
    }

    #[tokio::test]
    async fn datagrams_reach_the_connection_that_owns_the_ufrag() {
        let mux = UdpMux::bind(
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        let a = mux.register("ufragA", "127.0.0.1:1".parse().unwrap_or_else(|e| panic!("{e}")));
        let b = mux.register("ufragB", "127.0.0.1:2".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(mux.connections(), 2);
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // Unknown sender, not STUN: dropped. Then a Binding request for B, then RTP from the
        // same address: both reach B.
        client
            .send_to(b"noise", mux.public_addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .send_to(&binding_request("ufragB:x"), mux.public_addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        client
            .send_to(b"\x80\x60rtp", mux.public_addr())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let recv = |s: Arc<MuxedSocket>| async move {
            let mut buf = [0u8; 1600];
            let mut meta = [RecvMeta::default()];
            let n = std::future::poll_fn(|cx| {
                let mut bufs = [IoSliceMut::new(&mut buf)];
                s.poll_recv(cx, &mut bufs, &mut meta)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(n, 1);
            buf[..meta[0].len].to_vec()
        };
        let first = tokio::time::timeout(Duration::from_secs(2), recv(b.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, binding_request("ufragB:x"));
        let second = tokio::time::timeout(Duration::from_secs(2), recv(b.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(second, b"\x80\x60rtp");
        // A got nothing.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), recv(a.clone()))
                .await
                .is_err()
        );
        drop(b);
        assert_eq!(mux.connections(), 1);
    }
}
