package io.tokenbus.bench;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;

/** One subscriber of the load tool, over SSE or WebSocket. */
interface Subscriber {

  /**
   * Connects to {@code path} and subscribes; completes once the stream is open.
   *
   * @param subscribe a WebSocket text frame to send once connected, or null
   */
  Future<Void> connect(Vertx vertx, NetClient client, String host, int port, String path, String subscribe);

  /** Completes at the generation's terminal event, or when the connection closes. */
  Future<Void> ended();

  TokenScanner tokens();

  /** True if the generation ended with an error or a cancel instead of done. */
  boolean failed();
}
