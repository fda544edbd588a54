package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * One line per HTTP request and per WebSocket connection, on the logger {@code io.tokenbus.access}
 * ({@code http.access-log}): method, path without its query (where an {@code access_token} may be),
 * status, duration, bytes of the body sent, and the generation and tenant where there are some
 * (also as the MDC fields {@code generation} and {@code tenant}, which the JSON log format writes
 * as fields). A request's line is written when its answer ends or its connection closes, so a
 * stream's line comes at its end, with its whole duration; an answer cut short by its connection
 * closing is marked {@code unfinished} after its status, and one that closed before any status was
 * sent has {@code -} for it.
 *
 * <p>Bytes count the body as written through Vert.x plus what the stream engine wrote straight into
 * the connection (a stream's events); headers and WebSocket framing of Vert.x's own frames are not
 * counted.
 */
final class AccessLog {

  private static final Logger LOG = LoggerFactory.getLogger("io.tokenbus.access");

  private final boolean enabled;

  /**
   * The request's data key of an SSE response's byte count: kept with the request, so that it goes
   * when the request goes, whether or not its line is ever written.
   */
  private static final String STREAMED = "tokenbus.access.streamed";

  private static final String RECEIVED_AT = "tokenbus.access.received-at";

  AccessLog(boolean enabled) {
    this.enabled = enabled;
  }

  /** The router's first handler: the request's line is written when it ends. */
  void begin(RoutingContext ctx) {
    ctx.put(RECEIVED_AT, System.currentTimeMillis());
    if (enabled) {
      long started = System.nanoTime();
      ctx.addEndHandler(ended -> requestEnded(ctx, started));
    }
    ctx.next();
  }

  /**
   * When the request reached the router (Unix ms), headers read: where a generation's time to first
   * token starts.
   */
  static long receivedAt(RoutingContext ctx) {
    Long at = ctx.get(RECEIVED_AT);
    return at == null ? System.currentTimeMillis() : at;
  }

  /** An SSE response's bytes that do not go through Vert.x's response: counted by its writer. */
  static void streaming(RoutingContext ctx, LongSupplier bytes) {
    ctx.put(STREAMED, bytes);
  }

  private void requestEnded(RoutingContext ctx, long started) {
    HttpServerRequest request = ctx.request();
    HttpServerResponse response = ctx.response();
    LongSupplier piped = ctx.get(STREAMED);
    long bytes = response.bytesWritten() + (piped == null ? 0 : piped.getAsLong());
    Principal caller = ctx.get(AuthHandler.PRINCIPAL);
    write(
        request.method().name(),
        request.path(),
        !response.headWritten()
            ? "-"
            : response.getStatusCode() + (response.ended() ? "" : " unfinished"),
        started,
        bytes,
        response.headers().get("X-Generation-Id"),
        caller);
  }

  /**
   * A refused WebSocket handshake (taken before the router, so no end handler of the router's logs
   * it): its line is written when the refusal's answer ends, without a tenant.
   */
  void handshakeRefused(HttpServerRequest request, long started) {
    if (enabled) {
      HttpServerResponse response = request.response();
      response.endHandler(
          v ->
              write(
                  request.method().name(),
                  request.path(),
                  Integer.toString(response.getStatusCode()),
                  started,
                  response.bytesWritten(),
                  null,
                  null));
    }
  }

  /** A WebSocket's line, when it closes: its status is the handshake's 101. */
  void webSocketClosed(String path, long started, long bytes, Principal caller) {
    if (enabled) {
      write("GET", path, "101", started, bytes, null, caller);
    }
  }

  /** Longest path written; a longer one is cut, with "...". */
  static final int MAX_PATH = 512;

  /**
   * The path as a line may hold it: control characters (a bare CR, an HTTP/2 path's ESC) and
   * backslashes written as {@code \\xNN}, so that no path can forge or hide a line of the text
   * format.
   */
  static String printable(String path) {
    StringBuilder out = new StringBuilder(Math.min(path.length(), MAX_PATH) + 8);
    for (int i = 0; i < path.length() && out.length() < MAX_PATH; i++) {
      char c = path.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\\') {
        out.append(String.format("\\x%02x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.length() >= MAX_PATH ? out.append("...").toString() : out.toString();
  }

  private static void write(
      String method,
      String path,
      String status,
      long started,
      long bytes,
      String generation,
      Principal caller) {
    if (!LOG.isInfoEnabled()) {
      return; // the logger turned off: nothing to format
    }
    String tenant = caller == null ? null : caller.tenant();
    long micros = (System.nanoTime() - started) / 1000;
    try (MDC.MDCCloseable g =
            generation == null ? null : MDC.putCloseable("generation", generation);
        MDC.MDCCloseable t = tenant == null ? null : MDC.putCloseable("tenant", tenant)) {
      LOG.info(
          "{} {} {} {}.{} ms {} B{}{}",
          method,
          printable(path),
          status,
          micros / 1000,
          String.format("%03d", micros % 1000),
          bytes,
          generation == null ? "" : " generation=" + generation,
          tenant == null ? "" : " tenant=" + tenant);
    }
  }
}
