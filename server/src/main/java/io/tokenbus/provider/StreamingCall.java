package io.tokenbus.provider;

import io.tokenbus.bus.Failure;
import io.tokenbus.bus.Usage;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One streamed upstream attempt over HTTP, what every provider shares: the POST with the provider's
 * headers, an error status read into a classified {@link UpstreamFailure} (the body's message
 * redacted, {@code Retry-After} honoured), the SSE body fed to a {@link SseDecoder}, and a broken
 * connection, a malformed stream or a cancel ending it exactly once. A provider says what its
 * events mean ({@link #onData}) and what a clean end of the body means ({@link #onBodyEnd}).
 */
abstract class StreamingCall implements UpstreamCall {

  private static final Logger LOG = LoggerFactory.getLogger(StreamingCall.class);

  /** What of an error answer's body is read; past it the connection is closed. */
  private static final int MAX_ERROR_BODY_BYTES = 16 * 1024;

  /**
   * A provider's HTTP side: its clients, endpoint and redactor. There is one client per event loop,
   * made by the first call from that loop, each a pool as large as the node's running generations
   * (a connection is only opened when a call needs one), so a generation's call stays on the loop
   * of the worker that runs it. With one shared pool, a connection opened from one loop served the
   * next call from another, and every step of the call (acquire, send, each response chunk) crossed
   * threads.
   */
  record Http(
      String name,
      TokenbusConfig.Provider config,
      Vertx vertx,
      int maxConnections,
      Map<Object, HttpClientAgent> clients,
      String endpoint,
      Redactor redactor) {

    static Http create(
        Vertx vertx, String name, TokenbusConfig.Provider config, String path, int maxConnections) {
      return new Http(
          name,
          config,
          vertx,
          maxConnections,
          new ConcurrentHashMap<>(),
          config.effectiveBaseUrl() + path,
          new Redactor(config));
    }

    /**
     * The calling event loop's client; off an event loop, one shared client (so no other thread
     * adds clients). A client lives as long as the deployment that made it, the node's.
     */
    HttpClientAgent client() {
      return clients.computeIfAbsent(
          Context.isOnEventLoopThread() ? Thread.currentThread() : OFF_LOOP,
          key ->
              vertx.createHttpClient(
                  new HttpClientOptions()
                      .setConnectTimeout(config.timeouts().connectMs())
                      .setKeepAlive(true),
                  new PoolOptions().setHttp1MaxSize(maxConnections)));
    }

    /** The key of the client used off event loops. */
    private static final Object OFF_LOOP = "off-loop";
  }

  protected final Http http;
  protected final UpstreamListener listener;
  private HttpClientRequest request;
  private boolean ended;
  private final SseDecoder decoder;

  StreamingCall(Http http, UpstreamListener listener) {
    this.http = http;
    this.listener = listener;
    this.decoder =
        new SseDecoder(
            http.config().maxLineBytes(),
            http.config().maxEventBytes(),
            data -> {
              if (!ended) {
                onData(data);
              }
            },
            value -> {
              if (!ended) {
                onErrorField(value);
              }
            });
  }

  /** Sends {@code body} with the common headers plus {@code auth}; returns this call. */
  final StreamingCall send(JsonObject body, RequestOptions auth) {
    RequestOptions options =
        auth.setMethod(HttpMethod.POST)
            .setAbsoluteURI(http.endpoint())
            .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
            .putHeader(HttpHeaders.ACCEPT, "text/event-stream");
    http.config().headers().forEach(options::putHeader);
    http.client()
        .request(options)
        .compose(
            req -> {
              request = req;
              if (ended) {
                req.reset();
              }
              return req.send(body.toBuffer());
            })
        .onSuccess(this::onResponse)
        .onFailure(
            e -> {
              LOG.warn(
                  "Upstream {} ({}) could not be reached: {}",
                  http.name(),
                  http.config().effectiveBaseUrl(),
                  http.redactor().redact(e.getMessage()));
              fail(
                  UpstreamFailure.broken(
                      Failure.upstream(
                          "The upstream could not be reached: " + e.getClass().getSimpleName())),
                  false);
            });
    return this;
  }

  /** One event's data; called only while the call lives. */
  protected abstract void onData(String data);

  /** The body ended cleanly (no more events). */
  protected abstract void onBodyEnd();

  /** A non-standard {@code error:} SSE field (llama.cpp's); by default not an event. */
  protected void onErrorField(String value) {}

  protected final boolean ended() {
    return ended;
  }

  protected final String redact(String text) {
    return http.redactor().redact(text);
  }

  private void onResponse(HttpClientResponse response) {
    if (ended) {
      return;
    }
    if (response.statusCode() / 100 != 2) {
      Buffer errorBody = Buffer.buffer();
      long retryAfter =
          RetryAfter.parseMillis(
              response.getHeader(HttpHeaders.RETRY_AFTER), response.getHeader("retry-after-ms"));
      // Enough of the body for its message; an endless one is not waited for.
      response.handler(
          chunk -> {
            if (ended) {
              return;
            }
            errorBody.appendBuffer(chunk);
            if (errorBody.length() >= MAX_ERROR_BODY_BYTES) {
              fail(statusFailure(response.statusCode(), errorBody, retryAfter), true);
            }
          });
      response.endHandler(
          v -> {
            if (!ended) {
              fail(statusFailure(response.statusCode(), errorBody, retryAfter), false);
            }
          });
      response.exceptionHandler(
          e -> {
            if (!ended) {
              fail(statusFailure(response.statusCode(), errorBody, retryAfter), false);
            }
          });
      return;
    }
    response.handler(
        chunk -> {
          if (ended) {
            return;
          }
          try {
            decoder.feed(chunk);
          } catch (SseDecoder.TooLarge e) {
            fail(UpstreamFailure.broken(Failure.upstream(tooLarge(e))), true);
          }
        });
    response.exceptionHandler(
        e ->
            fail(
                UpstreamFailure.broken(
                    Failure.upstream("The upstream connection broke: " + redact(e.getMessage()))),
                true));
    response.endHandler(
        v -> {
          if (!ended) {
            onBodyEnd();
          }
        });
  }

  /** Names the bound and its key, so whoever reads it knows what to raise, if anything. */
  private String tooLarge(SseDecoder.TooLarge e) {
    return e.event()
        ? "The upstream sent an SSE event larger than providers."
            + http.name()
            + ".max-event-bytes ("
            + e.limit()
            + " bytes)"
        : "The upstream sent an SSE line longer than providers."
            + http.name()
            + ".max-line-bytes ("
            + e.limit()
            + " bytes)";
  }

  private UpstreamFailure statusFailure(int status, Buffer errorBody, long retryAfterMs) {
    String message = ErrorBodies.message(errorBody);
    message = redact(message.length() > 500 ? message.substring(0, 500) + "…" : message);
    LOG.warn(
        "Upstream {} ({}) answered {}: {}",
        http.name(),
        http.config().effectiveBaseUrl(),
        status,
        message);
    return UpstreamFailure.status(status, message, retryAfterMs);
  }

  /** Ends with {@code onFinish}, once. */
  protected final void finish(String finishReason, Usage usage) {
    if (!ended) {
      end(false);
      listener.onFinish(finishReason, usage);
    }
  }

  /** Ends with {@code onFailure}, once; closes the connection when it may still carry data. */
  protected final void fail(UpstreamFailure failure, boolean closeConnection) {
    if (!ended) {
      end(closeConnection);
      listener.onFailure(failure);
    }
  }

  /** A call that never reached the upstream (the request could not be built): ended already. */
  protected final void endUnsent() {
    ended = true;
  }

  private void end(boolean closeConnection) {
    ended = true;
    if (closeConnection && request != null) {
      request.reset();
    }
  }

  @Override
  public final void cancel() {
    if (!ended) {
      end(true);
    }
  }
}
