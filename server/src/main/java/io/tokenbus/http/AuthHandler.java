package io.tokenbus.http;

import io.tokenbus.auth.Authenticator;
import io.tokenbus.auth.Principal;
import io.tokenbus.bus.Failure;
import io.tokenbus.limits.LimitExceeded;
import io.tokenbus.limits.Limits;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.function.BiConsumer;

/**
 * Authenticates every API request and WebSocket handshake: {@code Authorization: Bearer <key or
 * token>} (what the OpenAI SDKs send as their API key), or {@code ?access_token=<key or token>}
 * (RFC 6750) for clients that cannot set a header, a browser's {@code EventSource} or WebSocket.
 * The caller's {@link Principal} is put on the routing context, or handed to the socket. A missing,
 * unknown, expired or badly signed credential is a 401; the credential itself is never echoed or
 * logged.
 */
final class AuthHandler implements Handler<RoutingContext> {

  /** Where the caller's {@link Principal} is kept on the routing context. */
  static final String PRINCIPAL = "tokenbus.principal";

  private static final String ACCESS_TOKEN = "access_token";

  private final Authenticator authenticator;
  private final Limits limits;

  AuthHandler(Authenticator authenticator, Limits limits) {
    this.authenticator = authenticator;
    this.limits = limits;
  }

  @Override
  public void handle(RoutingContext ctx) {
    String accessToken;
    try {
      // The exact name, as the WebSocket handshake reads it: Vert.x's own parameters would also
      // take ACCESS_TOKEN or access%5Ftoken, which the logs' masks might not know.
      ctx.request().params(); // decodes the whole query once: a bad escape anywhere is a 400
      accessToken = queryParam(ctx.request().query(), ACCESS_TOKEN);
    } catch (IllegalArgumentException malformed) { // a bad %-escape: its message holds the URI
      ctx.fail(badQuery());
      return;
    }
    Future<Principal> principal =
        authenticate(ctx.request().headers(), accessToken)
            .compose(caller -> counted(caller, ctx.response()::putHeader, !stops(ctx)));
    boolean paused = !principal.isComplete();
    if (paused) {
      ctx.request().pause(); // nothing of the body is lost while the credential is checked
    }
    principal.onSuccess(
        caller -> {
          ctx.put(PRINCIPAL, caller);
          ctx.next(); // a body handler takes the body from here
          if (paused) {
            ctx.request().resume(); // once it listens, so that nothing is dropped
          }
        });
    principal.onFailure(ctx::fail);
  }

  /**
   * Whether the request stops something (a generation's cancel, a session's stop): counted, but
   * never refused for the rate, since it frees what the limits protect.
   */
  private static boolean stops(RoutingContext ctx) {
    String path = ctx.request().path();
    return ctx.request().method() == HttpMethod.POST
        && (path.endsWith("/cancel") || path.endsWith("/stop"));
  }

  /**
   * The caller of a handshake, or a failed future with the 401 to refuse it with (before any
   * upgrade).
   */
  Future<Principal> authenticate(HttpServerRequest handshake) {
    String accessToken;
    try {
      accessToken = queryParam(handshake.query(), ACCESS_TOKEN);
    } catch (IllegalArgumentException malformed) { // a bad %-escape: its message holds the query
      return Future.failedFuture(badQuery());
    }
    return authenticate(handshake.headers(), accessToken)
        .compose(caller -> counted(caller, handshake.response()::putHeader, true));
  }

  private static ApiException badQuery() {
    return ApiException.badRequest(
        "invalid_query", "The query string is not validly %-encoded", null);
  }

  /**
   * Counts the request against the caller's tenant's rate, giving its answer OpenAI's {@code
   * x-ratelimit-*} headers; a request over the rate fails with 429 (the headers still set).
   */
  private Future<Principal> counted(
      Principal caller, BiConsumer<String, String> header, boolean mayRefuse) {
    return limits
        .countRequest(caller)
        .map(
            headers -> {
              if (headers != null) {
                headers.writeTo(header);
              }
              return caller;
            })
        .recover(
            e -> {
              if (!(e instanceof LimitExceeded refused)) {
                return Future.failedFuture(e);
              }
              if (refused.headers() != null) {
                refused.headers().writeTo(header);
              }
              return mayRefuse
                  ? Future.failedFuture(ApiException.of(refused))
                  : Future.succeededFuture(caller);
            });
  }

  private Future<Principal> authenticate(MultiMap headers, String accessToken) {
    if (!authenticator.enabled()) {
      return Future.succeededFuture(Principal.ANONYMOUS);
    }
    String presented = bearer(headers.get(HttpHeaders.AUTHORIZATION));
    if (presented == null) {
      presented = accessToken;
    }
    if (presented == null || presented.isBlank()) {
      return Future.failedFuture(
          unauthorized(
              "No API key: send Authorization: Bearer <key>, or ?access_token=<key> where a"
                  + " header cannot be set"));
    }
    return authenticator
        .authenticate(presented.trim())
        .compose(
            principal ->
                principal != null
                    ? Future.succeededFuture(principal)
                    : Future.failedFuture(
                        unauthorized("Invalid API key, or an expired or badly signed token")));
  }

  /** The credential of an {@code Authorization: Bearer} header, or null. */
  private static String bearer(String authorization) {
    if (authorization == null) {
      return null;
    }
    String value = authorization.trim();
    return value.regionMatches(true, 0, "Bearer ", 0, 7) ? value.substring(7).trim() : null;
  }

  /** One parameter of a raw query string ({@code a=1&b=2}), decoded; null when absent. */
  static String queryParam(String query, String name) {
    if (query == null) {
      return null;
    }
    for (String pair : query.split("&")) {
      int equals = pair.indexOf('=');
      String key = equals < 0 ? pair : pair.substring(0, equals);
      if (key.equals(name)) {
        return equals < 0
            ? ""
            : URLDecoder.decode(pair.substring(equals + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private static ApiException unauthorized(String message) {
    return new ApiException(new Failure(401, "invalid_request_error", "invalid_api_key", message));
  }
}
