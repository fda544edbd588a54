package io.tokenbus.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.Http1xServerConnection;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.http.WebSocketInternal;

/**
 * Fan-out's write path: bytes shared by every viewer of a node, written straight into one
 * connection's Netty pipeline. {@code HttpServerResponse.write} costs a Vert.x promise, a Netty
 * promise and a trip through Vert.x's outbound queue per call, several times the rest of a write
 * when one event reaches thousands of connections; this skips those and nothing else. The bytes
 * still pass every handler of the pipeline (the HTTP/1.1 encoder frames them as a chunk; TLS, if
 * any, encrypts them), and Netty's outbound buffer still counts them against the connection's water
 * marks ({@link #writable()}; {@link #whenDrained} replaces Vert.x's drain handler).
 *
 * <p>Only for writes on the connection's event loop, after its head was sent, and only while its
 * write queue is not full, so nothing Vert.x queued can be overtaken. Where the connection is not
 * HTTP/1.x (HTTP/2 streams share a connection), {@link #of} gives null and callers use the Vert.x
 * API instead.
 */
final class PipelineWriter {

  /**
   * Vert.x's names for its HTTP/1.x response encoder and for the compressor it adds when
   * compression is on.
   */
  private static final String HTTP_ENCODER = "httpEncoder";

  private static final String DEFLATER = "deflater";

  private final ChannelHandlerContext context;

  /**
   * For {@link #writeChunk}: writes from here pass only the handlers below the HTTP encoder (TLS,
   * if any).
   */
  private final ChannelHandlerContext belowEncoder;

  private PipelineWriter(ChannelHandlerContext context, ChannelHandlerContext belowEncoder) {
    this.context = context;
    this.belowEncoder = belowEncoder;
  }

  /**
   * For an SSE response on HTTP/1.x; null otherwise, and where a compressor sits in the pipeline
   * (raw bytes would pass it uncompressed, under a {@code Content-Encoding} that says otherwise).
   * Over HTTP/2 (by ALPN or h2c, upgraded or not) the connection's pipeline carries the frames of
   * all its streams, and bytes written into it would break every one: only Vert.x's own HTTP/1.x
   * connection qualifies.
   */
  static PipelineWriter of(HttpServerRequest request) {
    if (request.version() != HttpVersion.HTTP_2
        && request.connection() instanceof Http1xServerConnection connection) {
      ChannelHandlerContext context = connection.channelHandlerContext();
      if (context.pipeline().get(DEFLATER) == null) {
        return new PipelineWriter(context, context.pipeline().context(HTTP_ENCODER));
      }
    }
    return null;
  }

  /**
   * For a WebSocket accepted by the server's handshake handler (not a router's wrapped one): the
   * bytes must be whole frames.
   */
  static PipelineWriter of(ServerWebSocket socket) {
    if (!(socket instanceof WebSocketInternal internal)) {
      throw new IllegalArgumentException(
          "not a server WebSocket of Vert.x's own: " + socket.getClass().getName());
    }
    return new PipelineWriter(internal.channelHandlerContext(), null);
  }

  /** True if {@link #writeChunk} can be used: the response's HTTP encoder was found. */
  boolean writesChunks() {
    return belowEncoder != null;
  }

  /**
   * Writes and flushes a whole HTTP/1.1 chunk (size line, bytes, CRLF) that was framed once for
   * every viewer, past the HTTP encoder: the encoder would frame it again, per connection, in three
   * writes. The encoder keeps its state (it is sending chunks, and Vert.x's last chunk still ends
   * the response through it); whatever Vert.x writes goes through it in order with these, as every
   * write happens on the connection's event loop.
   */
  void writeChunk(Buffer chunk) {
    belowEncoder.writeAndFlush(((BufferInternal) chunk).getByteBuf(), belowEncoder.voidPromise());
  }

  /**
   * False while the connection's outbound buffer is above its high-water mark (the write queue size
   * set on the response or socket). Vert.x's own {@code writeQueueFull()} only sees what Vert.x
   * wrote, so callers ask both.
   */
  boolean writable() {
    return context.channel().isWritable();
  }

  /**
   * Runs {@code onDrain} on the connection's loop once everything written so far has gone to the
   * socket: {@code marker} (a heartbeat, harmless to the client) is written behind it, and its
   * write completing is the signal. Vert.x's drain handler cannot serve: it fires only for writes
   * Vert.x itself had to queue. If the connection fails first, {@code onDrain} never runs (its
   * close handler takes over).
   */
  void whenDrained(Buffer marker, Runnable onDrain) {
    context
        .writeAndFlush(((BufferInternal) marker).getByteBuf())
        .addListener(
            written -> {
              if (written.isSuccess()) {
                // Next tick, after the flush that completed the marker has also let Vert.x write
                // what it queued.
                context.executor().execute(onDrain);
              }
            });
  }

  /** Writes and flushes; the buffer is not copied and may be written to other connections too. */
  void write(Buffer bytes) {
    ByteBuf buf =
        ((BufferInternal) bytes).getByteBuf(); // a slice: the shared buffer's indexes stay put
    context.writeAndFlush(buf, context.voidPromise());
  }
}
