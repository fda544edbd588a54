package io.tokenbus.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.impl.HttpServerConnection;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.core.internal.http.WebSocketInternal;
import java.util.function.BooleanSupplier;

/**
 * Fan-out's write path: bytes shared by every viewer of a node, written straight into one
 * connection's Netty pipeline. {@code HttpServerResponse.write} costs a Vert.x promise, a Netty
 * promise and a trip through Vert.x's outbound queue per call, several times the rest of a write
 * when one event reaches thousands of connections; this skips those and nothing else. The bytes
 * still pass every handler of the pipeline (the HTTP/1.1 encoder frames them as a chunk; TLS, if
 * any, encrypts them), and Netty's outbound buffer still counts them, so {@code writeQueueFull()}
 * and drain handlers keep working.
 *
 * <p>Only for writes on the connection's event loop, after its head was sent, and only while its
 * write queue is not full, so nothing Vert.x queued can be overtaken. Where the connection is not
 * HTTP/1.x (HTTP/2 streams share a connection), {@link #of} gives null and callers use the Vert.x
 * API instead.
 */
final class PipelineWriter {

  private final ChannelHandlerContext context;

  private PipelineWriter(ChannelHandlerContext context) {
    this.context = context;
  }

  /** For an SSE response on HTTP/1.x; null otherwise. */
  static PipelineWriter of(HttpServerRequest request) {
    if (request.version() != HttpVersion.HTTP_2 && request.connection() instanceof HttpServerConnection connection) {
      return new PipelineWriter(connection.channelHandlerContext());
    }
    return null;
  }

  /** For a WebSocket: the bytes must be whole frames. Null where Vert.x does not expose the pipeline. */
  static PipelineWriter of(ServerWebSocket socket) {
    return socket instanceof WebSocketInternal internal ? new PipelineWriter(internal.channelHandlerContext()) : null;
  }

  /**
   * False while the connection's outbound buffer is above its high-water mark (the write queue
   * size set on the response or socket). Vert.x's own {@code writeQueueFull()} only sees what
   * Vert.x wrote, so callers ask both.
   */
  boolean writable() {
    return context.channel().isWritable();
  }

  /**
   * Has {@code onDrain} run once the connection drains. Vert.x reports a drain only for a write it
   * had to queue, so while only this writer filled the buffer a heartbeat ({@code queueMarker},
   * harmless to the client) is written through Vert.x to be queued behind it. If the buffer has
   * drained already, {@code onDrain} runs on the next tick.
   */
  static void whenDrained(BooleanSupplier vertxQueueFull, Runnable queueMarker, Runnable onDrain) {
    if (!vertxQueueFull.getAsBoolean()) {
      queueMarker.run();
      if (!vertxQueueFull.getAsBoolean()) {
        Vertx.currentContext().runOnContext(v -> onDrain.run());
      }
    }
  }

  /** Writes and flushes; the buffer is not copied and may be written to other connections too. */
  void write(Buffer bytes) {
    ByteBuf buf = ((BufferInternal) bytes).getByteBuf(); // a slice: the shared buffer's indexes stay put
    context.writeAndFlush(buf, context.voidPromise());
  }
}
