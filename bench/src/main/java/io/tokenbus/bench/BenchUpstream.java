package io.tokenbus.bench;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * The load tool's upstream: an OpenAI-compatible server on 127.0.0.1 that streams tokens at a
 * steady rate, each token being {@code <seq>:<emit nanoTime> } (so subscribers in the same process
 * measure the delay from emit to receive, and check order). The emit time is the token's scheduled
 * time, start + (seq − 1) / rate, so a source held back by the server under test still counts its
 * delay. It waits for {@link #go()} before the first token, so every subscriber is connected when
 * the stream starts.
 */
public final class BenchUpstream {

  private final Vertx vertx;
  private final double rate;
  private final long tokens;
  private final Promise<Void> go = Promise.promise();
  private HttpServer server;

  public BenchUpstream(Vertx vertx, double rate, long tokens) {
    this.vertx = vertx;
    this.rate = rate;
    this.tokens = tokens;
  }

  public Future<Integer> start(int port) {
    server = vertx.createHttpServer().requestHandler(this::handle);
    return server.listen(port, "127.0.0.1").map(HttpServer::actualPort);
  }

  /** Starts every stream waiting for it. */
  public void go() {
    go.tryComplete();
  }

  /** The Vert.x it runs on (the tool's source loop). */
  public Vertx vertx() {
    return vertx;
  }

  public Future<Void> close() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  private static String chunk(String content) {
    return "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\""
        + content
        + "\"},\"finish_reason\":null}]}\n\n";
  }

  private void handle(HttpServerRequest request) {
    Context context = vertx.getOrCreateContext(); // the connection's
    request
        .body()
        .onSuccess(
            body -> {
              HttpServerResponse response =
                  request
                      .response()
                      .setChunked(true)
                      .putHeader("content-type", "text/event-stream");
              response.write(chunk(""));
              // go() is called from the tool's other loops: the stream must start on the
              // connection's, or its
              // first token is written from a foreign thread and can land after the next ones.
              go.future().onSuccess(v -> context.runOnContext(x -> stream(response)));
            });
  }

  private void stream(HttpServerResponse response) {
    long start = System.nanoTime();
    long period = Math.max(1, (long) (1000 / rate));
    long[] sent = {0};
    Handler<Long> tick =
        timer -> {
          if (response.closed()) {
            vertx.cancelTimer(timer);
            return;
          }
          long due = Math.min(tokens, (long) ((System.nanoTime() - start) / 1e9 * rate) + 1);
          Buffer out = Buffer.buffer();
          while (sent[0] < due) {
            sent[0]++;
            out.appendString(
                chunk(sent[0] + ":" + (start + (long) ((sent[0] - 1) * 1e9 / rate)) + " "));
          }
          if (out.length() > 0) {
            response.write(out);
          }
          if (sent[0] >= tokens) {
            vertx.cancelTimer(timer);
            response.end(
                "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
          }
        };
    long timer = vertx.setPeriodic(period, period, tick);
    tick.handle(timer); // the first token at once: it is due at start
  }
}
