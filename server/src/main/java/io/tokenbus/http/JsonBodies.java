package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.PlatformHandler;
import java.util.Locale;

/**
 * In front of every endpoint that reads a JSON body, before the body handler (so vertx-web counts
 * it a platform handler, which it lets run first): a body sent as anything but JSON is a 415,
 * before it is read and before anything is started. Besides telling a client its mistake, this
 * closes the cross-site POST a browser sends without asking first ({@code text/plain}, a form):
 * such a request cannot carry {@code Content-Type: application/json}.
 */
final class JsonBodies implements PlatformHandler {

  @Override
  public void handle(RoutingContext ctx) {
    // Before the body is read: a form or multipart body would otherwise be parsed first (and a
    // long form field fail as a 500).
    if (hasBody(ctx) && !isJson(ctx.request().getHeader(HttpHeaders.CONTENT_TYPE))) {
      throw new ApiException(
          new Failure(
              415,
              "invalid_request_error",
              "unsupported_media_type",
              "The body must be JSON, sent with Content-Type: application/json"));
    }
    ctx.next();
  }

  /** The request announces a body: a {@code Content-Length} above 0, or chunks. */
  private static boolean hasBody(RoutingContext ctx) {
    String length = ctx.request().getHeader(HttpHeaders.CONTENT_LENGTH);
    if (length != null) {
      return !length.trim().equals("0");
    }
    return ctx.request().getHeader(HttpHeaders.TRANSFER_ENCODING) != null;
  }

  /** {@code application/json} or a {@code +json} type, with or without parameters. */
  private static boolean isJson(String contentType) {
    if (contentType == null) {
      return false;
    }
    int semicolon = contentType.indexOf(';');
    String type =
        (semicolon < 0 ? contentType : contentType.substring(0, semicolon))
            .trim()
            .toLowerCase(Locale.ROOT);
    return type.equals("application/json")
        || (type.startsWith("application/") && type.endsWith("+json"));
  }
}
