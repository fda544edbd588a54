package io.tokenbus.http;

import io.vertx.core.Vertx;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The open streaming connections (SSE and WebSocket) of one HTTP verticle: keeps them alive through
 * proxies with one timer per event loop, not one per connection, and counts them for the node.
 * Touched only from that loop.
 */
final class Heartbeats {

  interface Beating {
    void beat();
  }

  private final Set<Beating> connections = new LinkedHashSet<>();
  private final Vertx vertx;
  private final AtomicInteger open;
  private final long timer;

  /**
   * @param open the node's count of open streaming connections, shared by all HTTP verticles
   */
  Heartbeats(Vertx vertx, int intervalSeconds, AtomicInteger open) {
    this.vertx = vertx;
    this.open = open;
    this.timer =
        vertx.setPeriodic(intervalSeconds * 1000L, id -> connections.forEach(Beating::beat));
  }

  void add(Beating connection) {
    if (connections.add(connection)) {
      open.incrementAndGet();
    }
  }

  void remove(Beating connection) {
    if (connections.remove(connection)) {
      open.decrementAndGet();
    }
  }

  void stop() {
    vertx.cancelTimer(timer);
  }
}
