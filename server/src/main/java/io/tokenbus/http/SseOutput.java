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
 * A viewer's SSE response: its bytes go out through the connection's {@link ConnectionWriter}
 * (one write per batch, a bounded write queue, heartbeats while idle).
 */
class SseOutput implements ViewerOutput {

  protected final HttpServerResponse response;
  protected final ConnectionWriter writer;
  private final WireFormat format;

  SseOutput(HttpServerRequest request, WireFormat format, int writeQueueBytes, Heartbeats heartbeats) {
    this.response = request.response();
    this.writer = ConnectionWriter.sse(request, writeQueueBytes, heartbeats);
    this.format = format;
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
    return writer.queueFull();
  }

  @Override
  public void write(Encoded events) {
    writer.write(events);
  }

  @Override
  public void onDrain(Runnable action) {
    writer.whenDrained(action);
  }

  @Override
  public void end() {
    writer.stop();
    if (!writer.closed()) {
      response.end();
    }
  }

  @Override
  public void abort(String reason) {
    writer.stop();
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
    writer.stop();
  }
}
