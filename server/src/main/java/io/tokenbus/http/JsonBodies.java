package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;

/**
 * In front of every endpoint that reads a JSON body: a body sent as anything but JSON is a 415,
 * before anything is started. Besides telling a client its mistake, this closes the cross-site POST
 * a browser sends without asking first ({@code text/plain}, a form): such a request cannot carry
 * {@code Content-Type: application/json}.
 */
final class JsonBodies implements Handler<RoutingContext> {

  @Override
  public void handle(RoutingContext ctx) {
    if (ctx.body().length() > 0 && !isJson(ctx.request().getHeader(HttpHeaders.CONTENT_TYPE))) {
      throw new ApiException(
          new Failure(
              415,
              "invalid_request_error",
              "unsupported_media_type",
              "The body must be JSON, sent with Content-Type: application/json"));
    }
    ctx.next();
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
