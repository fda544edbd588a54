package io.tokenbus.bench;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetSocket;

/**
 * One subscriber of the load tool on a raw TCP socket: it writes its handshake by hand, parses what
 * comes back with a minimal parser of its protocol (SSE or WebSocket), and feeds the bench tokens
 * it finds to its {@link TokenScanner}.
 */
abstract class Subscriber {

  final TokenScanner tokens;
  protected final Promise<Void> connected = Promise.promise();
  private final Promise<Void> ended = Promise.promise();
  private boolean failed;
  protected NetSocket socket;

  Subscriber(Latencies latencies) {
    this.tokens = new TokenScanner(latencies);
  }

  /** The request that opens the stream: an SSE GET, or a WebSocket upgrade. */
  protected abstract String handshake(String host, int port);

  /** Bytes from the hub, as they come. */
  protected abstract void onData(Buffer buffer);

  /**
   * Connects and subscribes from {@code loop}, whose event loop then reads this subscriber's
   * socket; completes once the stream is open.
   */
  final Future<Void> connect(Context loop, NetClient client, String host, int port) {
    Vertx vertx = loop.owner();
    // A hub out of file descriptors completes the TCP handshake (the kernel does) but never
    // answers.
    long timer =
        vertx.setTimer(
            30_000,
            t ->
                connected.tryFail(
                    "no answer to the handshake within 30 s (is the hub's open-file "
                        + "limit, ulimit -n, high enough?)"));
    connected.future().onComplete(ar -> vertx.cancelTimer(timer));
    loop.runOnContext(
        go ->
            client
                .connect(port, host)
                .onSuccess(
                    s -> {
                      socket = s;
                      s.handler(this::onData);
                      s.closeHandler(
                          v -> {
                            connected.tryFail("closed before the stream started");
                            ended.tryComplete();
                          });
                      s.write(handshake(host, port));
                    })
                .onFailure(connected::tryFail));
    return connected.future();
  }

  /** The generation ended: with {@code done}, or (failed) with an error or a cancel. */
  protected final void end(boolean withFailure) {
    failed |= withFailure;
    ended.tryComplete();
  }

  /** Completes at the generation's terminal event, or when the connection closes. */
  final Future<Void> ended() {
    return ended.future();
  }

  /** True if the generation ended with an error or a cancel instead of done. */
  final boolean failed() {
    return failed;
  }
}
