package io.tokenbus.http;

import io.vertx.core.Vertx;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Keeps idle streaming connections of one HTTP verticle alive through proxies: one timer per
 * event loop for all its connections, not one per connection. Touched only from that loop.
 */
final class Heartbeats {

  interface Beating {
    void beat();
  }

  private final Set<Beating> connections = new LinkedHashSet<>();
  private final Vertx vertx;
  private final long timer;

  Heartbeats(Vertx vertx, int intervalSeconds) {
    this.vertx = vertx;
    this.timer = vertx.setPeriodic(intervalSeconds * 1000L, id -> connections.forEach(Beating::beat));
  }

  void add(Beating connection) {
    connections.add(connection);
  }

  void remove(Beating connection) {
    connections.remove(connection);
  }

  void stop() {
    vertx.cancelTimer(timer);
  }
}
