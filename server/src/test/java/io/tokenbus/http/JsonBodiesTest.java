package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Bodies that are not JSON, and what every response tells a browser not to guess. */
@ExtendWith(VertxExtension.class)
@DisplayName("Request bodies and content types")
class JsonBodiesTest {

  private static final String CHAT =
      new JsonObject()
          .put("model", "gpt-test")
          .put(
              "messages",
              new io.vertx.core.json.JsonArray()
                  .add(new JsonObject().put("role", "user").put("content", "hi")))
          .encode();

  @Test
  @DisplayName(
      "a body sent as text/plain or a form is a 415 in OpenAI's shape on every JSON endpoint, and"
          + " the upstream hears nothing")
  void nonJsonBodiesAreRefused(Vertx vertx) {
    FakeOpenAi upstream = await(FakeOpenAi.start(vertx));
    TestHub hub = await(TestHub.start(vertx, Map.of("OPENAI_BASE_URL", upstream.baseUrl())));
    String session =
        await(hub.post("/v1/sessions", new JsonObject())).bodyAsJsonObject().getString("id");
    for (String type : List.of("text/plain;charset=UTF-8", "application/x-www-form-urlencoded")) {
      for (String path :
          List.of(
              "/v1/chat/completions",
              "/v1/generations",
              "/v1/sessions",
              "/v1/sessions/" + session + "/messages",
              "/v1/sessions/" + session + "/typing",
              "/v1/sessions/" + session + "/stop",
              "/stream")) {
        HttpResponse<Buffer> response =
            await(
                hub.web()
                    .post(path)
                    .putHeader("Content-Type", type)
                    .sendBuffer(Buffer.buffer(CHAT)));
        assertEquals(415, response.statusCode(), path + " as " + type);
        JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
        assertEquals("unsupported_media_type", error.getString("code"), path);
        assertEquals("invalid_request_error", error.getString("type"), path);
        assertNull(response.getHeader("X-Generation-Id"), path);
      }
    }
    assertEquals(0, upstream.requests().size(), "nothing was started");
    assertEquals(
        List.of(),
        await(hub.get("/v1/sessions/" + session))
            .bodyAsJsonObject()
            .getJsonArray("messages")
            .getList());
  }

  @Test
  @DisplayName("JSON with a charset is taken, and an empty body needs no type at all")
  void jsonAndEmptyBodiesPass(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    HttpResponse<Buffer> json =
        await(
            hub.web()
                .post("/v1/chat/completions")
                .putHeader("Content-Type", "application/json; charset=utf-8")
                .sendBuffer(TestHub.mockRequest(3, 1000).toBuffer()));
    assertEquals(200, json.statusCode(), json.bodyAsString());
    assertEquals(201, await(hub.web().post("/v1/sessions").send()).statusCode());
    SseClient seed =
        await(SseClient.post(SseClient.client(vertx), hub.port(), "/stream?prompt=hi", ""));
    await(seed.ended(), 10);
    assertEquals(200, seed.status());
  }

  @Test
  @DisplayName("every response says X-Content-Type-Options: nosniff, errors and streams included")
  void noSniffing(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    for (String path : List.of("/v1/models", "/v1/nothing-here", "/", "/health")) {
      assertEquals("nosniff", await(hub.get(path)).getHeader("X-Content-Type-Options"), path);
    }
    SseClient seed =
        await(SseClient.post(SseClient.client(vertx), hub.port(), "/stream?prompt=hi", ""));
    assertEquals("nosniff", seed.headers().get("X-Content-Type-Options"));
  }
}
