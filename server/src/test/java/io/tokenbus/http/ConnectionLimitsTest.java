package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.Poll;
import io.tokenbus.support.Raw;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * More connections than a node should hold, from one address or many: the API is refused, {@code
 * /health} still answers, and connections are served again once others close.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Connection limits")
class ConnectionLimitsTest {

  private static final String HEALTH = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

  private static TestHub hub(Vertx vertx, String... env) {
    return await(TestHub.start(vertx, env));
  }

  @Test
  @DisplayName(
      "at http.max-connections the next connection's API request gets 503 too_many_connections"
          + " and is closed, /health still answers, and once connections close others are served")
  void nodeLimit(Vertx vertx) {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_HTTP_MAX_CONNECTIONS",
            "5",
            "TOKENBUS_HTTP_HEALTH_RESERVE_CONNECTIONS",
            "2");
    List<Raw> held = hold(vertx, hub.port(), null, 5);

    Raw refused = Raw.open(vertx, hub.port(), null);
    refused.socket.write("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await(refused.closed, 5, "the connection over the limit closed");
    assertTrue(refused.text().startsWith("HTTP/1.1 503 "), refused.text());
    assertTrue(refused.text().contains("\"code\":\"too_many_connections\""), refused.text());
    assertTrue(refused.text().toLowerCase().contains("retry-after: 1"), refused.text());

    Raw health = Raw.open(vertx, hub.port(), null);
    health.socket.write(HEALTH);
    await(health.closed, 5, "the health check answered and closed");
    assertTrue(health.text().startsWith("HTTP/1.1 200 "), health.text());
    assertTrue(health.text().contains("\"connections\":5"), health.text());

    // A health-reserve connection may not sneak to the API through a normalised path.
    Raw sneaky = Raw.open(vertx, hub.port(), null);
    sneaky.socket.write("GET /health/../v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await(sneaky.closed, 5, "the sneaky request closed");
    assertTrue(sneaky.text().startsWith("HTTP/1.1 503 "), sneaky.text());

    // The reserve held by connections that never send a head: a probe takes the oldest's place.
    Raw silent1 = Raw.open(vertx, hub.port(), null);
    Raw silent2 = Raw.open(vertx, hub.port(), null);
    Raw probe = Raw.open(vertx, hub.port(), null);
    probe.socket.write(HEALTH);
    await(probe.closed, 5, "the probe answered and closed");
    assertTrue(probe.text().startsWith("HTTP/1.1 200 "), probe.text());
    // Which silent connection is the oldest in the reserve is the order the server counted them
    // in, which its two event loops need not keep (nor the release of the connections above): one
    // of them, and only one, made room.
    List<Raw> silent = new ArrayList<>(held);
    silent.add(silent1);
    silent.add(silent2);
    await(
        Future.any(silent.stream().map(raw -> raw.closed).toList()),
        5,
        "a silent reserve connection closed for the probe");
    assertEquals(
        1,
        silent.stream().filter(raw -> raw.closed.isComplete()).count(),
        "only one silent connection made room");

    silent1.socket.close();
    silent2.socket.close();
    held.forEach(raw -> raw.socket.close());
    served(vertx, hub.port(), null);
  }

  @Test
  @DisplayName(
      "at http.max-connections-per-address that address's next API request gets 503 while"
          + " another address is served and /health answers to both")
  void addressLimit(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_HTTP_MAX_CONNECTIONS_PER_ADDRESS", "3");
    List<Raw> held = hold(vertx, hub.port(), "127.0.0.1", 3);

    Raw refused = Raw.open(vertx, hub.port(), "127.0.0.1");
    refused.socket.write("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await(refused.closed, 5, "the connection over the address's limit closed");
    assertTrue(refused.text().startsWith("HTTP/1.1 503 "), refused.text());

    Raw health = Raw.open(vertx, hub.port(), "127.0.0.1");
    health.socket.write(HEALTH);
    await(health.closed, 5, "the health check answered and closed");
    assertTrue(health.text().startsWith("HTTP/1.1 200 "), health.text());

    Raw other = Raw.open(vertx, hub.port(), "127.0.0.2");
    other.socket.write("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await(other.received("\"object\":\"list\""), 5, "another address served");
    other.socket.close();

    held.forEach(raw -> raw.socket.close());
    served(vertx, hub.port(), "127.0.0.1");
  }

  /** {@code n} kept-alive connections from {@code local}, each answered once (so admitted). */
  private static List<Raw> hold(Vertx vertx, int port, String local, int n) {
    List<Raw> held = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Raw raw = Raw.open(vertx, port, local);
      raw.socket.write(HEALTH);
      await(raw.received("\"status\":\"UP\""), 5, "held connection " + i + " admitted");
      held.add(raw);
    }
    return held;
  }

  /** Waits until a new connection from {@code local} gets the model list again. */
  private static void served(Vertx vertx, int port, String local) {
    await(
        Poll.until(
            vertx,
            // Probes after the first run on a timer, on an event loop: nothing in them may block.
            () ->
                Raw.connect(vertx, port, local)
                    .compose(
                        raw -> {
                          raw.socket.write(
                              "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection:"
                                  + " close\r\n\r\n");
                          return raw.closed.map(v -> raw.text());
                        }),
            text -> text.startsWith("HTTP/1.1 200 "),
            5000),
        10,
        "served again once the held connections closed");
  }
}
