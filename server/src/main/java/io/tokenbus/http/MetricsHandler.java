package io.tokenbus.http;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /metrics}: the node's registry in Prometheus's text format (or OpenMetrics, when the
 * scraper asks for it). Only the admin key may read it when auth is on, unless {@code
 * metrics.public}; with metrics off, the path is not served (404). The scrape walks every meter, so
 * it runs off the event loop.
 */
final class MetricsHandler {

  static final String TEXT = "text/plain; version=0.0.4; charset=utf-8";
  static final String OPEN_METRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8";

  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;
  private final boolean open;

  MetricsHandler(Vertx vertx, PrometheusMeterRegistry registry, boolean open) {
    this.vertx = vertx;
    this.registry = registry;
    this.open = open;
  }

  /** Whether {@code /metrics} is served at all. */
  boolean served() {
    return registry != null;
  }

  /** Whether the caller must be authenticated first (it then needs the admin key). */
  boolean needsAuth() {
    return !open;
  }

  void handle(RoutingContext ctx) {
    if (!open) {
      Principal caller = ctx.get(AuthHandler.PRINCIPAL);
      Access.require(caller, Scope.ADMIN, "read the metrics (or set metrics.public: true)");
    }
    String accept = ctx.request().getHeader(HttpHeaders.ACCEPT);
    String type =
        accept != null && accept.contains("application/openmetrics-text") ? OPEN_METRICS : TEXT;
    vertx
        .executeBlocking(() -> registry.scrape(type), false)
        .onSuccess(text -> ctx.response().putHeader(HttpHeaders.CONTENT_TYPE, type).end(text))
        .onFailure(ctx::fail);
  }
}
