package io.tokenbus.http;

import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.http.HttpServerOptions;

/** What the API's port speaks: HTTP/1.1, and h2c only when {@code http.h2c} asks for it. */
final class Listener {

  private Listener() {}

  /** The server's protocol options. */
  static HttpServerOptions options(TokenbusConfig.Http http) {
    // Vert.x serves h2c on every plain port unless told not to.
    return new HttpServerOptions().setHttp2ClearTextEnabled(http.h2c());
  }
}
