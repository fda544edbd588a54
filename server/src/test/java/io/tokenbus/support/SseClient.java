package io.tokenbus.support;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A real SSE client over Vert.x's HTTP client, with its own small parser written from the SSE spec
 * (independent of the hub's), recording every event and the stream's end.
 */
public final class SseClient {

  private final HttpClientAgent
      client; // held: Vert.x closes an unreachable client, even mid-request
  private final HttpClientRequest request;
  private final HttpClientResponse response;
  private final Recorder<SseEvent> events = new Recorder<>();
  private final Recorder<String> lines = new Recorder<>();
  private final Promise<Void> ended = Promise.promise();
  private final StringBuilder pending = new StringBuilder();
  private Buffer partial = Buffer.buffer();
  private String id;
  private String event;
  private StringBuilder data;

  private SseClient(
      HttpClientAgent client, HttpClientRequest request, HttpClientResponse response) {
    this.client = client;
    this.request = request;
    this.response = response;
  }

  public static Future<SseClient> get(
      HttpClientAgent client, int port, String path, Map<String, String> headers) {
    return open(
        client,
        new RequestOptions()
            .setMethod(HttpMethod.GET)
            .setPort(port)
            .setHost("127.0.0.1")
            .setURI(path),
        headers,
        null);
  }

  public static Future<SseClient> post(HttpClientAgent client, int port, String path, String body) {
    return open(
        client,
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setPort(port)
            .setHost("127.0.0.1")
            .setURI(path)
            .putHeader("content-type", "application/json"),
        Map.of(),
        body);
  }

  private static Future<SseClient> open(
      HttpClientAgent client, RequestOptions options, Map<String, String> headers, String body) {
    headers.forEach(options::putHeader);
    return client
        .request(options)
        .compose(
            req ->
                (body == null ? req.send() : req.send(body))
                    .map(
                        resp -> {
                          SseClient sse = new SseClient(client, req, resp);
                          resp.handler(sse::feed);
                          resp.endHandler(v -> sse.ended.tryComplete());
                          resp.exceptionHandler(e -> sse.ended.tryFail(e));
                          return sse;
                        }));
  }

  public int status() {
    return response.statusCode();
  }

  public MultiMap headers() {
    return response.headers();
  }

  /** The protocol the response came over (HTTP/2 by ALPN or h2c, or HTTP/1.x). */
  public HttpVersion version() {
    return response.version();
  }

  /** The connection the response came over: HTTP/2 streams share one. */
  public HttpConnection connection() {
    return request.connection();
  }

  /**
   * The response's hop-by-hop headers, which HTTP/2 forbids (RFC 9113 section 8.2.2): none is right
   * on an HTTP/2 response.
   */
  public List<String> connectionHeaders() {
    return Stream.of("connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection")
        .filter(name -> response.headers().contains(name))
        .toList();
  }

  public Recorder<SseEvent> events() {
    return events;
  }

  /** Completes when the server ends the response (fails if the connection breaks). */
  public Future<Void> ended() {
    return ended.future();
  }

  /** Every line received, for raw-format assertions. */
  public synchronized String raw() {
    return pending.toString();
  }

  /** Every line received, comments included. */
  public Recorder<String> lines() {
    return lines;
  }

  public void close() {
    request.reset();
  }

  /** Stops reading: the socket's receive window fills and the server sees a stalled viewer. */
  public void pause() {
    response.pause();
  }

  public void resume() {
    response.resume();
  }

  private synchronized void feed(Buffer chunk) {
    partial.appendBuffer(chunk);
    int start = 0;
    for (int i = 0; i < partial.length(); i++) {
      if (partial.getByte(i) == '\n') {
        line(partial.getString(start, i, StandardCharsets.UTF_8.name()));
        start = i + 1;
      }
    }
    partial = partial.getBuffer(start, partial.length());
  }

  private void line(String line) {
    pending.append(line).append('\n');
    lines.add(line);
    if (line.isEmpty()) {
      if (data != null) {
        events.add(new SseEvent(id, event == null ? "message" : event, data.toString()));
      }
      event = null;
      data = null;
      return;
    }
    if (line.startsWith(":")) {
      return;
    }
    int colon = line.indexOf(':');
    String field = colon < 0 ? line : line.substring(0, colon);
    String value = colon < 0 ? "" : line.substring(colon + 1);
    if (value.startsWith(" ")) {
      value = value.substring(1);
    }
    switch (field) {
      case "id" -> id = value;
      case "event" -> event = value;
      case "data" ->
          data = data == null ? new StringBuilder(value) : data.append('\n').append(value);
      default -> {}
    }
  }

  public static HttpClientAgent client(Vertx vertx) {
    return vertx.createHttpClient(new HttpClientOptions(), new PoolOptions().setHttp1MaxSize(2000));
  }

  /**
   * A client with a tiny receive buffer, so that a paused response backs up into the server
   * quickly.
   */
  public static HttpClientAgent smallWindowClient(Vertx vertx) {
    return vertx.createHttpClient(
        new HttpClientOptions().setReceiveBufferSize(4096), new PoolOptions().setHttp1MaxSize(10));
  }
}
