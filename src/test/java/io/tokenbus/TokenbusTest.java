package io.tokenbus;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("Node start-up")
class TokenbusTest {

  @Test
  @DisplayName("with port 0, all HTTP verticle instances share the one port the node reports, and serve")
  void instancesShareOnePort(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_HTTP_INSTANCES", "4")));
    var client = SseClient.client(vertx);
    for (int i = 0; i < 8; i++) {
      String id = await(hub.startGeneration(TestHub.mockRequest(3, 5000)));
      SseClient viewer = await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
      await(viewer.ended());
      assertEquals(4, viewer.events().size());
    }
  }
}
