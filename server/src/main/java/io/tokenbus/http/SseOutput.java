package io.tokenbus.http;

import io.tokenbus.bus.StreamEvent;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/**
 * A viewer's SSE response. The terminal event ends it; a viewer stalled too long or a stream that
 * cannot be followed any more resets it, so the client reconnects with {@code Last-Event-ID} and
 * resumes (or learns the stream is gone).
 */
class SseOutput<E extends StreamEvent> extends WriterOutput<E> {

  protected final HttpServerResponse response;

  SseOutput(Streams streams, RoutingContext ctx, WireFormat format) {
    super(streams.sse(ctx), format);
    this.response = ctx.response();
  }

  /**
   * The headers of a generation's SSE answer; written at once so the client sees the stream open.
   */
  static void prepare(HttpServerResponse response, String generationId) {
    prepare(response, "X-Generation-Id", generationId);
  }

  /**
   * The headers of every SSE answer, with the header naming what it streams ({@code
   * X-Generation-Id}, {@code X-Session-Id}).
   */
  static void prepare(HttpServerResponse response, String idHeader, String id) {
    response
        .setStatusCode(200)
        .setChunked(true)
        .putHeader(HttpHeaders.CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .putHeader(HttpHeaders.CACHE_CONTROL, "no-cache")
        .putHeader("X-Accel-Buffering", "no")
        .putHeader(idHeader, id);
  }

  @Override
  public void end() {
    writer.stop();
    if (!writer.closed()) {
      response.end();
    }
  }

  @Override
  public void stalled() {
    reset();
  }

  @Override
  public void lost(String reason) {
    reset();
  }

  private void reset() {
    writer.stop();
    if (!response.closed()) {
      response.reset();
    }
  }

  /** Starts {@code viewer} on this response; when the client goes away, both stop. */
  void watch(Viewer<E> viewer) {
    if (response.closed()) {
      closed(); // the client left while the stream was starting: the close handler would never run
      return;
    }
    response.closeHandler(
        v -> {
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
