package io.tokenbus.support;

import static io.tokenbus.support.Await.await;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A raw TCP connection to a hub on 127.0.0.1, for what no HTTP client sends: heads dribbled a byte
 * at a time, bodies shorter than their Content-Length, connections held open. Knows what it
 * received and when it closed.
 */
public final class Raw {

  public final NetSocket socket;

  /** Completes when the connection closes, whichever side closed it. */
  public final Future<Void> closed;

  private final Buffer in = Buffer.buffer();
  private final List<Runnable> watchers = new CopyOnWriteArrayList<>();

  private Raw(NetSocket socket) {
    this.socket = socket;
    Promise<Void> closing = Promise.promise();
    this.closed = closing.future();
    socket.handler(
        chunk -> {
          synchronized (in) {
            in.appendBuffer(chunk);
          }
          watchers.forEach(Runnable::run);
        });
    socket.closeHandler(v -> closing.tryComplete());
  }

  /** Connects to {@code port}, from {@code local} if not null (any 127.x.y.z works on Linux). */
  public static Raw open(Vertx vertx, int port, String local) {
    return await(connect(vertx, port, local));
  }

  /** The same without waiting: for code that runs on an event loop (a poll's probe). */
  public static Future<Raw> connect(Vertx vertx, int port, String local) {
    NetClientOptions options = new NetClientOptions();
    if (local != null) {
      options.setLocalAddress(local);
    }
    return vertx.createNetClient(options).connect(port, "127.0.0.1").map(Raw::new);
  }

  /** Everything received so far, one char per byte. */
  public String text() {
    synchronized (in) {
      return in.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** Completes once {@code needle} has been received. */
  public Future<Void> received(String needle) {
    return count(needle, 1);
  }

  /** Completes once {@code needle} has been received {@code times} times. */
  public Future<Void> count(String needle, int times) {
    Promise<Void> seen = Promise.promise();
    Runnable check =
        () -> {
          String text = text();
          int found = 0;
          for (int at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
            found++;
          }
          if (found >= times) {
            seen.tryComplete();
          }
        };
    watchers.add(check);
    check.run();
    return seen.future();
  }
}
