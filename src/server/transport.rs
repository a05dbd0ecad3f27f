//! How a connection's bytes reach the socket: what the server tells hyper about the stream
//! beneath it (plain or TLS), and how long a request body may stall. Must not know routes,
//! faces or the index.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::tls::TlsStream;

/// A connection's stream: one type for plain text and TLS, so that one code path serves both.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Plain($s) => {
                let $s = Pin::new($s);
                $e
            }
            Stream::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $e
            }
        }
    };
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        both!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => s.poll_shutdown(cx))
    }
}

/// A request body that fails when no byte of it arrives for `limit`: a client that opens a
/// body and stops sending would otherwise hold its handler, and over HTTP/2 its stream, for
/// ever. The handler answers the error, and hyper resets the stream.
pub struct Stalling<B> {
    inner: B,
    limit: Duration,
    /// Armed when the body first makes the handler wait: most bodies never do.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> Stalling<B> {
    pub fn new(inner: B, limit: Duration) -> Stalling<B> {
        Stalling {
            inner,
            limit,
            timer: None,
        }
    }
}

/// What a stalled body fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body stalled: no byte of it arrived for {0:?}")]
pub struct Stalled(Duration);

impl<B> Body for Stalling<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let me = self.get_mut();
        match Pin::new(&mut me.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(timer) = &mut me.timer {
                    timer.as_mut().reset(Instant::now() + me.limit);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let limit = me.limit;
                let timer = me
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Stalled(limit).into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What an HTTP/2 connection opens with (RFC 9113, 3.4); HTTP/1.1 requests never do.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The most an HTTP/2 connection holds back until hyper flushes. h2 copies frames under
/// 1 KiB into its buffer and writes larger ones' payloads on their own; those leave with
/// what is held in one vectored write rather than be copied.
const HOLD_BYTES: usize = 4 << 10;

/// One connection's stream, which sends what HTTP/2 writes in one flush as one write.
///
/// h2 writes each frame of 256 bytes or more on its own when the stream writes vectored,
/// and a gRPC answer of one task (a few hundred bytes) left as two TCP segments, the message
/// and then its trailers: the client woke twice, and gRPC GetTask ran at 57% of the rate of
/// JSON GetTask. So over HTTP/2 the stream says it writes one buffer at a time, and h2 copies
/// frames under 1 KiB into its own buffer; and the small writes h2 makes before it flushes
/// (a larger frame's head, then its payload) are held here, to leave in one write when hyper
/// flushes or with the next large write.
///
/// HTTP/1.1 writes a response's head and body in one vectored write already, so a connection
/// that does not open with the HTTP/2 preface is passed through untouched.
pub struct Socket<S> {
    inner: S,
    /// How many bytes of the HTTP/2 preface the connection has sent so far, until it is told.
    preface: usize,
    protocol: Protocol,
    /// Bytes written over HTTP/2 and not yet sent.
    pending: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Unknown,
    Http1,
    Http2,
}

impl<S> Socket<S> {
    pub fn new(inner: S) -> Socket<S> {
        Socket {
            inner,
            preface: 0,
            protocol: Protocol::Unknown,
            pending: Vec::new(),
        }
    }

    /// Tells the protocol from the connection's first bytes, as hyper does.
    fn sniff(&mut self, read: &[u8]) {
        if self.protocol != Protocol::Unknown {
            return;
        }
        let expected = &H2_PREFACE[self.preface..];
        let n = read.len().min(expected.len());
        if read[..n] != expected[..n] {
            self.protocol = Protocol::Http1;
            return;
        }
        self.preface += n;
        if self.preface == H2_PREFACE.len() {
            self.protocol = Protocol::Http2;
        }
    }
}

impl<S: AsyncWrite + Unpin> Socket<S> {
    /// Sends what is held back.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Socket<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.sniff(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Socket<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = &mut *self;
        if me.protocol != Protocol::Http2 {
            return Pin::new(&mut me.inner).poll_write(cx, buf);
        }
        if me.pending.len() + buf.len() <= HOLD_BYTES {
            me.pending.extend_from_slice(buf);
            return Poll::Ready(Ok(buf.len()));
        }
        // Too much to hold: what is held and this buffer leave together.
        while !me.pending.is_empty() {
            let both = [IoSlice::new(&me.pending), IoSlice::new(buf)];
            let n = ready!(Pin::new(&mut me.inner).poll_write_vectored(cx, &both))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            if n > me.pending.len() {
                let of_buf = n - me.pending.len();
                me.pending.clear();
                return Poll::Ready(Ok(of_buf));
            }
            me.pending.drain(..n);
        }
        Pin::new(&mut me.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.protocol == Protocol::Http2 {
            let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.protocol != Protocol::Http2 && self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body that holds `guard` until it is sent or dropped: a connection counts as
/// busy while its answers are still streaming.
pub struct Holding<B, G> {
    inner: B,
    _guard: G,
}

impl<B, G> Holding<B, G> {
    pub fn new(inner: B, guard: G) -> Holding<B, G> {
        Holding {
            inner,
            _guard: guard,
        }
    }
}

impl<B: Body + Unpin, G: Unpin> Body for Holding<B, G> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// The protocol told from the reads a connection opens with.
    fn check(reads: &[&[u8]], expected: Protocol) {
        let mut socket = Socket::new(());
        for read in reads {
            socket.sniff(read);
        }
        assert!(socket.protocol == expected, "reads {reads:?}");
    }

    #[test]
    fn the_protocol_is_told_by_the_preface() {
        use Protocol::*;
        check(&[H2_PREFACE], Http2);
        check(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\x12\x04"], Http2);
        check(&[b"PRI", b" * HTTP/2.0\r\n", b"\r\nSM\r\n\r\n"], Http2);
        check(&[b"PRI * HTTP/2"], Unknown);
        check(&[b"GET / HTTP/1.1\r\n"], Http1);
        check(&[b"P", b"OST /v2/tasks HTTP/1.1\r\n"], Http1);
        check(&[b"PRI * HTTP/1.1\r\n"], Http1);
        check(&[b"GET / HTTP/1.1\r\n", H2_PREFACE], Http1);
    }

    /// A socket that opens with `opening` and records each write it is asked for.
    struct Recorder {
        opening: &'static [u8],
        writes: Vec<Vec<u8>>,
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            let n = self.opening.len().min(buf.remaining());
            buf.put_slice(&self.opening[..n]);
            self.opening = &self.opening[n..];
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes.push(buf.to_vec());
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.writes
                .push(bufs.iter().flat_map(|b| b.iter().copied()).collect());
            Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// The sizes of the writes that reach the socket when the connection opens with
    /// `opening` and then writes `sizes` (0 stands for a flush).
    async fn sent(opening: &'static [u8], sizes: &[usize]) -> (bool, Vec<usize>) {
        let mut socket = Socket::new(Recorder {
            opening,
            writes: Vec::new(),
        });
        socket
            .read_exact(&mut vec![0; opening.len()])
            .await
            .unwrap();
        let vectored = socket.is_write_vectored();
        for &size in sizes {
            match size {
                0 => socket.flush().await.unwrap(),
                n => assert_eq!(socket.write(&vec![7; n]).await.unwrap(), n),
            }
        }
        (vectored, socket.inner.writes.iter().map(Vec::len).collect())
    }

    #[tokio::test]
    async fn http2_writes_leave_together_and_http1_writes_as_they_come() {
        // A gRPC answer h2 copied into its buffer: one write at the flush.
        assert_eq!(sent(H2_PREFACE, &[391, 0]).await, (false, vec![391]));
        // A large frame's head, then its payload: one write, nothing copied.
        assert_eq!(
            sent(H2_PREFACE, &[1033, 15360, 0]).await,
            (false, vec![16393])
        );
        // Small writes are held until the flush, or until they would pass the limit.
        assert_eq!(
            sent(H2_PREFACE, &[10, 20, 0, 30, 0]).await,
            (false, vec![30, 30])
        );
        assert_eq!(
            sent(H2_PREFACE, &[4000, 4000, 0]).await,
            (false, vec![8000])
        );
        assert_eq!(sent(H2_PREFACE, &[20000, 0]).await, (false, vec![20000]));
        // HTTP/1.1 is passed through: hyper writes head and body in one vectored write.
        assert_eq!(
            sent(b"GET / HTTP/1.1\r\n\r\n", &[10, 20, 0]).await,
            (true, vec![10, 20])
        );
    }

    #[tokio::test]
    async fn a_connection_is_busy_until_its_answer_is_sent() {
        let connections = super::super::connections::Connections::new(4);
        let place = connections.admit().await;
        let answer = Holding::new(axum::body::Body::from("answer"), place.request());
        assert!(place.idle_until(Duration::ZERO).is_none());
        let sent = axum::body::to_bytes(axum::body::Body::new(answer), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&sent[..], b"answer");
        assert!(place.idle_until(Duration::ZERO).is_some());
    }
}
