package io.tokenbus.http;

import io.tokenbus.fanout.Encoded;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.ServerWebSocket;

/**
 * The output of one streaming connection, an SSE response or a WebSocket, whatever it carries
 * (generations, chat sessions, several of them on one socket): the one place that knows the write
 * path (straight into the pipeline where it can, see {@link PipelineWriter}; pre-framed HTTP chunks
 * on SSE), when the write queue is full, how to learn that it drained, and the heartbeat. Viewers
 * check {@link #queueFull()} before each write and never write past it. Touched only from the
 * connection's event loop.
 */
abstract sealed class ConnectionWriter implements Heartbeats.Beating {

  private final Heartbeats heartbeats;

  /**
   * Where bytes shared by many connections go without Vert.x's per-write costs; null: through
   * Vert.x only.
   */
  protected final PipelineWriter pipeline;

  /** Bytes went out since the last heartbeat tick. */
  private boolean wroteSinceBeat;

  /** Bytes written straight into the pipeline, which Vert.x does not count: for the access log. */
  private long piped;

  private ConnectionWriter(PipelineWriter pipeline, Heartbeats heartbeats) {
    this.pipeline = pipeline;
    this.heartbeats = heartbeats;
    heartbeats.add(this);
  }

  /** For an SSE response; its write queue holds {@code queueBytes} at most. */
  static ConnectionWriter sse(HttpServerRequest request, int queueBytes, Heartbeats heartbeats) {
    return new Sse(request, queueBytes, heartbeats);
  }

  /**
   * For a WebSocket accepted by the server's handshake handler; bytes written must be whole frames.
   */
  static ConnectionWriter webSocket(ServerWebSocket socket, int queueBytes, Heartbeats heartbeats) {
    return new WebSocket(socket, queueBytes, heartbeats);
  }

  /** Nothing can be written any more: the connection closed, or (SSE) the response ended. */
  abstract boolean closed();

  /** Vert.x's own write queue is full (it sees only what went through Vert.x). */
  protected abstract boolean vertxQueueFull();

  /** The bytes of a heartbeat, written also as the marker behind which a drain is noticed. */
  protected abstract Buffer ping();

  /** Writes through the Vert.x API: before the head is out, or with no pipeline path. */
  protected abstract void writeThroughVertx(Buffer bytes);

  /** Runs {@code action} once Vert.x's queue drained: for connections with no pipeline path. */
  protected abstract void onVertxDrain(Runnable action);

  /** True once the connection's head is out, so bytes may go straight into the pipeline. */
  protected abstract boolean headWritten();

  /**
   * The write queue is full: Vert.x's, or the channel's for what went straight into the pipeline.
   */
  final boolean queueFull() {
    return vertxQueueFull() || pipeline != null && !pipeline.writable();
  }

  /**
   * Encoded events: every frame in one write, shared with every viewer of the node that writes
   * them.
   */
  void write(Encoded<?> events) {
    write(events.joined());
  }

  /** Bytes that may be shared with other connections (they are not copied). */
  void write(Buffer bytes) {
    if (closed() || bytes.length() == 0) {
      return; // and an empty chunk would end an SSE response
    }
    wrote();
    if (pipeline != null && headWritten()) {
      piped(bytes.length());
      pipeline.write(bytes);
    } else {
      writeThroughVertx(bytes);
    }
  }

  /** Bytes written straight into the pipeline so far (not through Vert.x). */
  long piped() {
    return piped;
  }

  /** Counts body bytes written straight into the pipeline (an HTTP chunk's framing is not). */
  protected final void piped(long bytes) {
    piped += bytes;
  }

  /** Bytes went out: the next heartbeat tick skips this connection. */
  protected final void wrote() {
    wroteSinceBeat = true;
  }

  /**
   * Runs {@code action} on the connection's loop once what was written so far has gone to the
   * socket; never if the connection fails first (its close handler takes over).
   */
  void whenDrained(Runnable action) {
    if (pipeline != null) {
      pipeline.whenDrained(ping(), action);
    } else {
      onVertxDrain(action);
    }
  }

  /**
   * A heartbeat, unless the connection was written since the last tick: a busy stream needs none,
   * and 10,000 of them at once would delay the next tokens.
   */
  @Override
  public final void beat() {
    if (wroteSinceBeat) {
      wroteSinceBeat = false;
    } else if (headWritten() && !closed() && !queueFull()) {
      writeThroughVertx(ping());
    }
  }

  /** The connection is over (ended or gone): no more heartbeats. Safe to call more than once. */
  void stop() {
    heartbeats.remove(this);
  }

  /** An SSE response; on HTTP/1.1 a batch's bytes go out as an HTTP chunk framed once per node. */
  private static final class Sse extends ConnectionWriter {
    private static final Buffer PING = Buffer.buffer(": ping\n\n");
    private final HttpServerResponse response;

    Sse(HttpServerRequest request, int queueBytes, Heartbeats heartbeats) {
      super(PipelineWriter.of(request), heartbeats);
      this.response = request.response();
      response.setWriteQueueMaxSize(queueBytes);
    }

    @Override
    boolean closed() {
      return response.closed() || response.ended();
    }

    @Override
    protected boolean vertxQueueFull() {
      return response.writeQueueFull();
    }

    @Override
    protected Buffer ping() {
      return PING;
    }

    @Override
    protected void writeThroughVertx(Buffer bytes) {
      response.write(bytes);
    }

    @Override
    protected void onVertxDrain(Runnable action) {
      response.drainHandler(
          v -> {
            response.drainHandler(null);
            action.run();
          });
    }

    @Override
    protected boolean headWritten() {
      return response.headWritten();
    }

    @Override
    void write(Encoded<?> events) {
      if (chunksPastTheEncoder() && !closed() && events.joined().length() > 0) {
        wrote();
        piped(events.joined().length());
        pipeline.writeChunk(
            events
                .httpChunk()); // framed once for every viewer of the node that writes these events
      } else {
        super.write(events);
      }
    }

    /**
     * Once the head is out, on HTTP/1.1 (an HTTP/1.0 response is not chunked: Vert.x sends its body
     * as it is).
     */
    private boolean chunksPastTheEncoder() {
      return pipeline != null
          && pipeline.writesChunks()
          && response.headWritten()
          && response.isChunked();
    }
  }

  /** A WebSocket: everything is written as whole frames into the pipeline, pings included. */
  private static final class WebSocket extends ConnectionWriter {
    /** An empty ping frame, whole (RFC 6455 section 5.5.2). */
    private static final Buffer PING_FRAME = Buffer.buffer(new byte[] {(byte) 0x89, 0});

    private final ServerWebSocket socket;

    WebSocket(ServerWebSocket socket, int queueBytes, Heartbeats heartbeats) {
      super(PipelineWriter.of(socket), heartbeats);
      this.socket = socket;
      socket.setWriteQueueMaxSize(queueBytes);
    }

    @Override
    boolean closed() {
      return socket.isClosed();
    }

    @Override
    protected boolean vertxQueueFull() {
      return socket.writeQueueFull();
    }

    @Override
    protected Buffer ping() {
      return PING_FRAME;
    }

    @Override
    protected void writeThroughVertx(Buffer bytes) {
      pipeline.write(bytes); // whole frames, and a socket always has its pipeline
    }

    @Override
    protected void onVertxDrain(Runnable action) {
      throw new IllegalStateException("a WebSocket always has its pipeline");
    }

    @Override
    protected boolean headWritten() {
      return true;
    }
  }
}
