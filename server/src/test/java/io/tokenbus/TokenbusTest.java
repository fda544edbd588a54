package io.tokenbus;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("Node start-up")
class TokenbusTest {

  @Test
  @DisplayName(
      "GET /health counts open streams, and a client leaving mid-stream on any endpoint is let go")
  void streamsAreReleasedWhenClientsLeave(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    var client = SseClient.client(vertx);
    String id = await(hub.startGeneration(TestHub.mockRequest(10_000, 50)));
    JsonObject chat = TestHub.mockRequest(10_000, 50).put("stream", true);
    List<SseClient> streams =
        List.of(
            await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of())),
            await(SseClient.post(client, hub.port(), "/v1/chat/completions", chat.encode())),
            await(SseClient.post(client, hub.port(), "/stream?prompt=hi", null)));
    WsClient ws = await(WsClient.connect(vertx, hub.port()));
    await(ws.send(new JsonObject().put("type", "subscribe").put("generation", id)));
    for (SseClient stream : streams) {
      await(stream.events().whenCount(2));
    }
    await(ws.frames().whenCount(2));
    assertEquals(4, await(hub.get("/health")).bodyAsJsonObject().getInteger("streams"));
    streams.forEach(SseClient::close);
    await(ws.close());
    await(
        Poll.until(
            vertx,
            () -> hub.get("/health").map(r -> r.bodyAsJsonObject().getInteger("streams")),
            n -> n == 0,
            5000));
  }

  @Test
  @DisplayName(
      "with port 0, all HTTP verticle instances share the one port the node reports, and serve")
  void instancesShareOnePort(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_HTTP_INSTANCES", "4")));
    var client = SseClient.client(vertx);
    for (int i = 0; i < 8; i++) {
      String id = await(hub.startGeneration(TestHub.mockRequest(3, 5000)));
      SseClient viewer =
          await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
      await(viewer.ended());
      assertEquals(4, viewer.events().size());
    }
  }
}
