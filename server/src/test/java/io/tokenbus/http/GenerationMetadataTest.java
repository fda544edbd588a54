package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A generation's {@code metadata}: checked against OpenAI's limits, kept with the generation and
 * shown in its status, and sent upstream only when the body asks OpenAI to store the answer.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Generation metadata")
class GenerationMetadataTest {

  private static JsonObject withMetadata(Object metadata) {
    return TestHub.mockRequest(3, 1000).put("metadata", metadata);
  }

  private static JsonObject keys(int count) {
    JsonObject keys = new JsonObject();
    for (int i = 0; i < count; i++) {
      keys.put("k" + i, "v");
    }
    return keys;
  }

  @Test
  @DisplayName(
      "anything but an object of at most 16 string keys of at most 64 characters to strings of at"
          + " most 512 is a 400 invalid_request_error naming metadata, on both endpoints")
  void validation(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    List<Object> bad =
        List.of(
            "team-a",
            42,
            new JsonArray().add("a"),
            keys(17),
            new JsonObject().put("k".repeat(65), "v"),
            new JsonObject().put("team", "a".repeat(513)),
            new JsonObject().put("team", 1),
            new JsonObject().put("team", true),
            new JsonObject().put("team", new JsonObject().put("a", "b")),
            new JsonObject().put("team", (Object) null));
    for (String path : List.of("/v1/generations", "/v1/chat/completions")) {
      for (Object metadata : bad) {
        HttpResponse<Buffer> response = await(hub.post(path, withMetadata(metadata)));
        String what = path + " with metadata " + metadata;
        assertEquals(400, response.statusCode(), what + ": " + response.bodyAsString());
        JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
        assertEquals("invalid_request_error", error.getString("type"), what);
        assertEquals("metadata", error.getString("param"), what);
        assertEquals("invalid_metadata", error.getString("code"), what);
        assertTrue(error.getString("message").contains("metadata"), error.getString("message"));
        assertFalse(response.bodyAsString().contains("Exception"), response.bodyAsString());
      }
    }
    // At the limits exactly, and in other scripts (characters, not bytes), it is taken.
    JsonObject full = keys(15).put("é".repeat(64), "🌍".repeat(512));
    for (String path : List.of("/v1/generations", "/v1/chat/completions")) {
      HttpResponse<Buffer> response = await(hub.post(path, withMetadata(full)));
      assertTrue(response.statusCode() < 300, path + ": " + response.bodyAsString());
    }
  }

  @Test
  @DisplayName(
      "GET /v1/generations/{id} shows the metadata, in its order, while it runs and once it ended;"
          + " {} when none was given")
  void shownInStatus(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    JsonObject metadata = new JsonObject().put("team", "a").put("ticket", "T-1").put("empty", "");
    String running =
        await(hub.startGeneration(TestHub.mockRequest(400, 20).put("metadata", metadata)));
    JsonObject status = await(hub.get("/v1/generations/" + running)).bodyAsJsonObject();
    assertEquals("running", status.getString("status"));
    assertEquals(metadata, status.getJsonObject("metadata"));
    assertEquals(
        List.of("team", "ticket", "empty"),
        List.copyOf(status.getJsonObject("metadata").fieldNames()));

    HttpResponse<Buffer> chat = await(hub.post("/v1/chat/completions", withMetadata(metadata)));
    assertEquals(200, chat.statusCode(), chat.bodyAsString());
    String finished = chat.getHeader("X-Generation-Id");
    JsonObject ended = await(hub.get("/v1/generations/" + finished)).bodyAsJsonObject();
    assertEquals("completed", ended.getString("status"));
    assertEquals(metadata, ended.getJsonObject("metadata"));

    String plain = await(hub.startGeneration(TestHub.mockRequest(3, 1000)));
    assertEquals(
        new JsonObject(),
        await(hub.get("/v1/generations/" + plain)).bodyAsJsonObject().getJsonObject("metadata"));
    String nulled = await(hub.startGeneration(withMetadata(null)));
    assertEquals(
        new JsonObject(),
        await(hub.get("/v1/generations/" + nulled)).bodyAsJsonObject().getJsonObject("metadata"));
  }

  @Test
  @DisplayName(
      "an OpenAI upstream gets no metadata (OpenAI refuses it without store: true) unless the body"
          + " says store: true, when it gets it as sent; tokenbus keeps it either way")
  void upstreamBody(Vertx vertx) {
    FakeOpenAi openai = await(FakeOpenAi.start(vertx));
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "OPENAI_BASE_URL",
                    openai.baseUrl(),
                    "OPENAI_API_KEY",
                    "sk-openai-test-0123456789")));
    JsonObject metadata = new JsonObject().put("team", "a");
    JsonObject request =
        new JsonObject()
            .put("model", "gpt-test")
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")))
            .put("metadata", metadata);

    HttpResponse<Buffer> unstored = await(hub.post("/v1/chat/completions", request.copy()));
    assertEquals(200, unstored.statusCode(), unstored.bodyAsString());
    JsonObject sent = openai.requests().items().get(0).body();
    assertFalse(sent.containsKey("metadata"), sent.encode());
    assertEquals(
        metadata,
        await(hub.get("/v1/generations/" + unstored.getHeader("X-Generation-Id")))
            .bodyAsJsonObject()
            .getJsonObject("metadata"));

    HttpResponse<Buffer> stored =
        await(hub.post("/v1/chat/completions", request.copy().put("store", true)));
    assertEquals(200, stored.statusCode(), stored.bodyAsString());
    JsonObject sentStored = openai.requests().items().get(1).body();
    assertEquals(metadata, sentStored.getJsonObject("metadata"));
    assertEquals(true, sentStored.getBoolean("store"));

    HttpResponse<Buffer> notStored =
        await(hub.post("/v1/chat/completions", request.copy().put("store", false)));
    assertEquals(200, notStored.statusCode(), notStored.bodyAsString());
    assertFalse(openai.requests().items().get(2).body().containsKey("metadata"));

    String started = await(hub.startGeneration(request.copy()));
    await(openai.requests().whenCount(4));
    assertFalse(openai.requests().items().get(3).body().containsKey("metadata"));
    assertEquals(
        metadata,
        await(hub.get("/v1/generations/" + started)).bodyAsJsonObject().getJsonObject("metadata"));
  }
}
