package io.tokenbus.http;

import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.tokenbus.bus.Failure;
import io.tokenbus.generation.GenerationEncoder;
import io.tokenbus.session.HistoryUnavailableException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.HttpException;
import java.util.Arrays;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place failures become HTTP answers, in OpenAI's error shape {@code {"error": {"message",
 * "type", "param", "code"}}}. Unexpected failures are logged here, once, and answered without
 * internals.
 */
final class ErrorHandler {

  private static final Logger LOG = LoggerFactory.getLogger(ErrorHandler.class);

  private ErrorHandler() {}

  static void handle(RoutingContext ctx) {
    handle(ctx, ctx.statusCode());
  }

  /**
   * For the router's error handler of {@code status}: vertx-web calls it for its own failures (a
   * path with a bad %-escape is its 400) without always setting the context's status.
   */
  static Handler<RoutingContext> forStatus(int status) {
    return ctx -> handle(ctx, ctx.statusCode() > 0 ? ctx.statusCode() : status);
  }

  private static void handle(RoutingContext ctx, int status) {
    Throwable cause = ctx.failure();
    ApiException error;
    if (cause instanceof ApiException api) {
      error = api;
    } else if (cause instanceof HistoryUnavailableException unavailable) {
      error =
          new ApiException(
              new Failure(503, "api_error", "database_unavailable", unavailable.getMessage()),
              null,
              HistoryUnavailableException.RETRY_AFTER_SECONDS);
    } else if (cause instanceof HttpException http) {
      error = forStatus(http.getStatusCode(), ctx);
    } else if (cause == null) {
      error = forStatus(status > 0 ? status : 500, ctx);
    } else if (undecodable(ctx, cause)) {
      // A body the HTTP decoder could not read (a bad chunk size): the client's fault, and what
      // follows on the connection cannot be trusted to start a request.
      LOG.debug(
          "{} {}: the request could not be decoded: {}",
          ctx.request().method(),
          ctx.request().path(),
          redact(cause.toString()));
      if (!ctx.response().closed() && !ctx.response().headWritten()) {
        ctx.response().putHeader(HttpHeaders.CONNECTION, "close");
        render(
            ctx.response(),
            new Failure(
                400, "invalid_request_error", "bad_request", "The request could not be parsed"),
            null);
      }
      ctx.request().connection().close();
      return;
    } else if (ctx.response().closed()) {
      // The connection is gone (the client left, or a deadline closed it): nobody to answer.
      LOG.debug(
          "{} {} failed after its connection closed: {}",
          ctx.request().method(),
          ctx.request().path(),
          redact(cause.toString()));
      return;
    } else {
      LOG.error(
          "Unexpected failure on {} {}",
          ctx.request().method(),
          ctx.request().path(),
          redacted(cause));
      error = new ApiException(Failure.internal("Internal error"));
    }
    HttpServerResponse response = ctx.response();
    if (response.headWritten()) {
      if (!response.ended()) {
        response.reset();
      }
      return;
    }
    render(response, error.failure(), error.param(), error.retryAfterSeconds());
  }

  /**
   * Refuses a request outside the router (a WebSocket handshake): the answer in the API's shape,
   * with the connection closed after it.
   */
  static void refuse(HttpServerRequest request, ApiException refused) {
    HttpServerResponse response = request.response();
    if (response.headWritten()) {
      request.connection().close();
      return;
    }
    response.putHeader(HttpHeaders.CONNECTION, "close");
    render(response, refused.failure(), refused.param(), refused.retryAfterSeconds());
  }

  /** Whether {@code cause} is the HTTP decoder's: the request's bytes are not HTTP. */
  private static boolean undecodable(RoutingContext ctx, Throwable cause) {
    return cause instanceof DecoderException
        || ctx.request().decoderResult().isFailure()
        // Netty's chunk-size parser throws this one as it is; tokenbus's own parsing never does.
        || (cause instanceof NumberFormatException
            && cause.getStackTrace().length > 0
            && Arrays.stream(cause.getStackTrace())
                .anyMatch(f -> f.getClassName().startsWith("io.netty.handler.codec.http.")));
  }

  static void render(HttpServerResponse response, Failure failure, String param) {
    render(response, failure, param, 1);
  }

  static void render(
      HttpServerResponse response, Failure failure, String param, long retryAfterSeconds) {
    JsonObject body = GenerationEncoder.errorBody(failure);
    if (param != null) {
      body.getJsonObject("error").put("param", param);
    }
    response
        .setStatusCode(failure.status())
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
    if (failure.status() == 429 || failure.status() == 503) {
      response.putHeader(HttpHeaders.RETRY_AFTER, Long.toString(retryAfterSeconds));
    }
    if (failure.status() == 401) {
      response.putHeader("WWW-Authenticate", "Bearer"); // RFC 6750: how to present one
    }
    response.end(body.encode());
  }

  /**
   * What the HTTP server answers a request it could not parse (before any route), in the same
   * shape: a request line over the limit is a 414, headers over it a 431, anything else a 400. The
   * connection is closed after it: what follows cannot be trusted to start a request.
   */
  static void invalidRequest(HttpServerRequest request) {
    Throwable cause = request.decoderResult().cause();
    Failure failure =
        cause instanceof TooLongHttpLineException
            ? new Failure(
                414,
                "invalid_request_error",
                "uri_too_long",
                "The request line is longer than the server accepts")
            : cause instanceof TooLongHttpHeaderException
                ? new Failure(
                    431,
                    "invalid_request_error",
                    "request_header_too_large",
                    "The request's headers are larger than the server accepts")
                : new Failure(
                    400, "invalid_request_error", "bad_request", "The request could not be parsed");
    HttpServerResponse response = request.response();
    response.putHeader(HttpHeaders.CONNECTION, "close");
    render(response, failure, null);
    request.connection().close();
  }

  /**
   * {@code cause} as it may be logged: its messages (and its causes') with every {@code
   * access_token=} value cut out, as some hold the request's URI; the stack trace kept.
   */
  static Throwable redacted(Throwable cause) {
    if (cause == null) {
      return null;
    }
    String message = cause.getMessage() == null ? "" : ": " + redact(cause.getMessage());
    Redacted copy = new Redacted(cause.getClass().getName() + message, redacted(cause.getCause()));
    copy.setStackTrace(cause.getStackTrace());
    return copy;
  }

  /** A failure as logged: the original's class and redacted message, and its stack. */
  private static final class Redacted extends RuntimeException {
    Redacted(String message, Throwable cause) {
      super(message, cause, false, true);
    }
  }

  /** {@code text} with every {@code access_token=} value replaced. */
  static String redact(String text) {
    return ACCESS_TOKEN.matcher(text).replaceAll("access_token=<redacted>");
  }

  private static final Pattern ACCESS_TOKEN = Pattern.compile("(?i)access(_|%5f)token=[^&\\s\"']*");

  private static ApiException forStatus(int status, RoutingContext ctx) {
    String path = ctx.request().path();
    return switch (status) {
      case 404 ->
          new ApiException(
              new Failure(404, "invalid_request_error", "not_found", "No such endpoint: " + path));
      case 405 ->
          new ApiException(
              new Failure(
                  405,
                  "invalid_request_error",
                  "method_not_allowed",
                  ctx.request().method() + " is not allowed on " + path));
      case 413 ->
          new ApiException(
              new Failure(
                  413,
                  "invalid_request_error",
                  "request_too_large",
                  "The request body is larger than http.max-body-bytes"));
      case 400 -> ApiException.badRequest("bad_request", "Bad request", null);
      default -> {
        if (status >= 500) {
          LOG.error("Failure with status {} on {} {}", status, ctx.request().method(), path);
          yield new ApiException(Failure.internal("Internal error"));
        }
        yield new ApiException(
            new Failure(status, "invalid_request_error", "http_" + status, "Request failed"));
      }
    };
  }
}
