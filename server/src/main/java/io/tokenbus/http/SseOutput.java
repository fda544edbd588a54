package io.tokenbus.http;

import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * A viewer's SSE response: one write per batch (straight into the pipeline on HTTP/1.x, see
 * {@link PipelineWriter}), a bounded write queue, heartbeats while idle.
 */
class SseOutput implements ViewerOutput, Heartbeats.Beating {

  private static final Buffer PING = Buffer.buffer(": ping\n\n");

  protected final HttpServerResponse response;
  private final PipelineWriter pipeline;
  private final WireFormat format;
  private final Heartbeats heartbeats;
  /** Bytes went out since the last heartbeat tick; loop only. */
  private boolean wroteSinceBeat;

  SseOutput(HttpServerRequest request, WireFormat format, int writeQueueBytes, Heartbeats heartbeats) {
    this.response = request.response();
    this.pipeline = PipelineWriter.of(request);
    this.format = format;
    this.heartbeats = heartbeats;
    response.setWriteQueueMaxSize(writeQueueBytes);
    heartbeats.add(this);
  }

  /** The headers of a generation's SSE answer; written at once so the client sees the stream open. */
  static void prepare(HttpServerResponse response, String generationId) {
    prepare(response, "X-Generation-Id", generationId);
  }

  /** The headers of every SSE answer, with the header naming what it streams ({@code X-Generation-Id}, {@code X-Session-Id}). */
  static void prepare(HttpServerResponse response, String idHeader, String id) {
    response.setStatusCode(200).setChunked(true)
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
        .putHeader("X-Accel-Buffering", "no")
        .putHeader(idHeader, id);
  }

  @Override
  public WireFormat format() {
    return format;
  }

  @Override
  public boolean writeQueueFull() {
    return response.writeQueueFull() || pipeline != null && !pipeline.writable();
  }

  @Override
  public void write(Encoded events) {
    if (writable(events.joined()) && chunksPastTheEncoder()) {
      wroteSinceBeat = true;
      pipeline.writeChunk(events.httpChunk()); // framed once for every viewer of the node that writes these events
    } else {
      write(events.joined());
    }
  }

  /** Nothing may follow the end of a response, and an empty chunk would be the last one. */
  private boolean writable(Buffer bytes) {
    return !response.closed() && !response.ended() && bytes.length() > 0;
  }

  /** Once the head is out, on HTTP/1.1 (an HTTP/1.0 response is not chunked: Vert.x sends its body as it is). */
  private boolean chunksPastTheEncoder() {
    return pipeline != null && pipeline.writesChunks() && response.headWritten() && response.isChunked();
  }

  /** Bytes shared by many viewers: straight into the pipeline once the head is out. */
  protected void write(Buffer bytes) {
    if (!writable(bytes)) {
      return;
    }
    wroteSinceBeat = true;
    if (pipeline != null && response.headWritten()) {
      pipeline.write(bytes);
    } else {
      response.write(bytes);
    }
  }

  @Override
  public void onDrain(Runnable action) {
    if (pipeline != null) {
      pipeline.whenDrained(PING, action);
      return;
    }
    response.drainHandler(v -> {
      response.drainHandler(null);
      action.run();
    });
  }

  @Override
  public void end() {
    heartbeats.remove(this);
    if (!response.closed() && !response.ended()) {
      response.end();
    }
  }

  @Override
  public void abort(String reason) {
    heartbeats.remove(this);
    if (!response.closed()) {
      response.reset();
    }
  }

  /** Starts {@code viewer} on this response; when the client goes away, both stop. */
  void watch(Viewer viewer) {
    if (response.closed()) {
      closed(); // the client left while the generation was starting: the close handler would never run
      return;
    }
    response.closeHandler(v -> {
      closed();
      viewer.close();
    });
    viewer.start();
  }

  /** Stops heartbeats, once the response is over or the client has gone. */
  void closed() {
    heartbeats.remove(this);
  }

  /**
   * A heartbeat, unless the stream was written since the last tick: a busy stream needs none, and
   * 10,000 of them at once (each through Vert.x's slower write path) would delay the next tokens.
   */
  @Override
  public void beat() {
    if (wroteSinceBeat) {
      wroteSinceBeat = false;
      return;
    }
    if (response.headWritten() && !response.closed() && !writeQueueFull()) {
      response.write(PING);
    }
  }
}
