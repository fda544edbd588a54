package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.HostAndPort;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.CorsHandler;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which browser pages may call the API: the hub's own, and the origins listed in {@code
 * http.cors.allowed-origins}, which get CORS answers from vertx-web's {@link CorsHandler}
 * (preflights, and the headers a script may read). A request or WebSocket handshake from any other
 * origin is refused with 403. A client that sends no {@code Origin} (an SDK, curl) is not a page
 * and is not affected. Runs before authentication, as a preflight carries no credentials.
 *
 * <p>With auth off (no key, on a loopback address) the hub also answers only to a loopback {@code
 * Host}: a page can rename its own server's address to 127.0.0.1 (DNS rebinding) and so pass as the
 * hub's own origin; its requests still carry its own name as {@code Host}, and are refused.
 */
final class Origins implements Handler<RoutingContext> {

  /** What a page may read of an answer: the generation's id, tokens, and back-off hints. */
  private static final Set<String> EXPOSED =
      Set.of(
          "X-Generation-Id",
          "X-Session-Id",
          "X-Watch-Token",
          "Retry-After",
          "x-ratelimit-limit-requests",
          "x-ratelimit-remaining-requests",
          "x-ratelimit-reset-requests",
          "x-ratelimit-limit-tokens",
          "x-ratelimit-remaining-tokens",
          "x-ratelimit-reset-tokens");

  private final List<String> allowed;
  private final CorsHandler cors;
  private final boolean loopbackOnly;

  /**
   * @param loopbackOnly refuse any {@code Host} that is not a loopback name or address (auth off)
   */
  Origins(List<String> allowed, boolean loopbackOnly) {
    this.allowed = allowed;
    this.loopbackOnly = loopbackOnly;
    this.cors =
        CorsHandler.create()
            .addOrigins(allowed)
            .allowedMethods(
                Set.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE, HttpMethod.OPTIONS))
            .allowedHeaders(Set.of("Authorization", "Content-Type", "Last-Event-ID"))
            .exposedHeaders(EXPOSED)
            .maxAgeSeconds(600);
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (loopbackOnly && !loopback(ctx.request().authority())) {
      ctx.fail(hostNotAllowed());
      return;
    }
    String origin = ctx.request().getHeader("Origin");
    if (origin == null || own(origin, ctx.request().authority())) {
      ctx.next();
    } else if (allowed.contains(origin.toLowerCase(Locale.ROOT))) {
      cors.handle(ctx); // a preflight is answered here; any other request gets its CORS headers
    } else {
      ctx.fail(forbidden(origin));
    }
  }

  /**
   * Why a WebSocket handshake is refused (403: a {@code Host} that is not loopback with auth off, a
   * page on an origin that is neither the hub's nor listed), or null to go on.
   */
  ApiException refusal(HttpServerRequest handshake) {
    if (loopbackOnly && !loopback(handshake.authority())) {
      return hostNotAllowed();
    }
    String origin = handshake.getHeader("Origin");
    if (origin == null
        || own(origin, handshake.authority())
        || allowed.contains(origin.toLowerCase(Locale.ROOT))) {
      return null;
    }
    return forbidden(origin);
  }

  /**
   * The page was served by this hub: its origin's host and port are the request's {@code Host}. The
   * scheme is not compared: behind a proxy that ends TLS, the page is https and the request that
   * reaches tokenbus is not.
   */
  private static boolean own(String origin, HostAndPort authority) {
    int scheme = origin.indexOf("://");
    return authority != null
        && scheme > 0
        && origin
            .substring(scheme + 3)
            .equalsIgnoreCase(
                authority.host() + (authority.port() >= 0 ? ":" + authority.port() : ""));
  }

  /**
   * A loopback {@code Host}: {@code localhost} (or a name under it) or a loopback address literal.
   * Names are never resolved: resolving is what a rebinding attack controls.
   */
  static boolean loopback(HostAndPort authority) {
    if (authority == null) {
      return false;
    }
    String host = authority.host().toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return host.equals("localhost")
        || host.endsWith(".localhost")
        || host.equals("::1")
        || host.equals("0:0:0:0:0:0:0:1")
        || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
  }

  private static ApiException hostNotAllowed() {
    return new ApiException(
        new Failure(
            403,
            "invalid_request_error",
            "host_not_allowed",
            "With auth off this hub answers only to a loopback Host (localhost, 127.0.0.1, [::1]):"
                + " set TOKENBUS_API_KEYS to serve it under another name"));
  }

  private static ApiException forbidden(String origin) {
    return new ApiException(
        new Failure(
            403,
            "invalid_request_error",
            "origin_not_allowed",
            "Pages on " + origin + " may not call this hub (http.cors.allowed-origins)"));
  }
}
