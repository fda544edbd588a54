package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("Node capacity")
class CapacityTest {

  @Test
  @DisplayName(
      "past generation.max-concurrent a request gets 429 with Retry-After on every endpoint, and room returns when one ends")
  void refusesPastCapacity(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_GENERATION_MAX_CONCURRENT", "2")));
    String first = await(hub.startGeneration(TestHub.mockRequest(10_000, 20)));
    await(hub.startGeneration(TestHub.mockRequest(10_000, 20)));
    for (String path : List.of("/v1/generations", "/v1/chat/completions")) {
      var refused = await(hub.post(path, TestHub.mockRequest(5, 100).put("stream", true)));
      assertEquals(429, refused.statusCode(), path);
      assertEquals("1", refused.getHeader("Retry-After"));
      JsonObject error = refused.bodyAsJsonObject().getJsonObject("error");
      assertEquals("capacity_exceeded", error.getString("code"));
      assertEquals("rate_limit_error", error.getString("type"));
    }
    await(hub.post("/v1/generations/" + first + "/cancel", new JsonObject()));
    assertEquals(201, await(hub.post("/v1/generations", TestHub.mockRequest(5, 100))).statusCode());
  }
}
