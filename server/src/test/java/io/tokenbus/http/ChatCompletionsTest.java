package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("POST /v1/chat/completions against an OpenAI-compatible upstream")
class ChatCompletionsTest {

  private static final String KEY = "sk-test-SECRET0123456789abcdef";
  private static final List<String> TOKENS = List.of("Hel", "lo", " wörld 🌍", "\n\n", "你好", "\n");

  private FakeOpenAi upstream;
  private TestHub hub;
  private HttpClientAgent client;

  @BeforeEach
  void start(Vertx vertx) {
    upstream = await(FakeOpenAi.start(vertx));
    // No retries, no recovery, no breaker: these tests pin what reaches clients when a failure is
    // final.
    // UpstreamRecoveryTest covers what happens when it is not.
    hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "OPENAI_BASE_URL",
                    upstream.baseUrl(),
                    "OPENAI_API_KEY",
                    KEY,
                    "TOKENBUS_PROVIDERS_OPENAI_TIMEOUTS_FIRST_TOKEN_MS",
                    "1000",
                    "TOKENBUS_PROVIDERS_OPENAI_TIMEOUTS_IDLE_MS",
                    "1000",
                    "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_ATTEMPTS",
                    "1",
                    "TOKENBUS_PROVIDERS_OPENAI_RECOVERY_STRATEGY",
                    "fail",
                    "TOKENBUS_PROVIDERS_OPENAI_CIRCUIT_BREAKER_FAILURE_THRESHOLD",
                    "0")));
    client = SseClient.client(vertx);
  }

  private static JsonObject request(boolean stream) {
    return new JsonObject()
        .put("model", "gpt-fake")
        .put("stream", stream)
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "Say hello")))
        .put("temperature", 0.2)
        .put(
            "tools",
            new JsonArray()
                .add(
                    new JsonObject()
                        .put("type", "function")
                        .put("function", new JsonObject().put("name", "noop"))));
  }

  private SseClient stream(JsonObject request) {
    return await(SseClient.post(client, hub.port(), "/v1/chat/completions", request.encode()));
  }

  private static List<JsonObject> chunks(List<SseEvent> events) {
    return events.stream().filter(e -> !e.data().equals("[DONE]")).map(SseEvent::json).toList();
  }

  private static String content(List<JsonObject> chunks) {
    StringBuilder text = new StringBuilder();
    for (JsonObject chunk : chunks) {
      JsonArray choices = chunk.getJsonArray("choices");
      if (choices != null && !choices.isEmpty()) {
        text.append(choices.getJsonObject(0).getJsonObject("delta").getString("content", ""));
      }
    }
    return text.toString();
  }

  @Test
  @DisplayName(
      "streams the upstream's answer as chat.completion.chunk lines with one id, usage chunk and [DONE]")
  void streamsInOpenAiFormat() {
    upstream.respond(FakeOpenAi.Stream.of(TOKENS, 5));
    SseClient sse =
        stream(request(true).put("stream_options", new JsonObject().put("include_usage", true)));
    await(sse.ended());
    assertEquals(200, sse.status());
    assertTrue(sse.headers().get("content-type").startsWith("text/event-stream"));
    String id = sse.headers().get("X-Generation-Id");
    List<SseEvent> events = sse.events().items();
    assertEquals("[DONE]", events.get(events.size() - 1).data());
    List<JsonObject> chunks = chunks(events);
    chunks.forEach(
        chunk -> {
          assertEquals(id, chunk.getString("id"));
          assertEquals("chat.completion.chunk", chunk.getString("object"));
        });
    assertEquals(
        "assistant",
        chunks
            .get(0)
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("delta")
            .getString("role"));
    assertEquals(String.join("", TOKENS), content(chunks));
    JsonObject finish = chunks.get(chunks.size() - 2).getJsonArray("choices").getJsonObject(0);
    assertEquals("stop", finish.getString("finish_reason"));
    JsonObject usage = chunks.get(chunks.size() - 1);
    assertTrue(usage.getJsonArray("choices").isEmpty());
    assertEquals(
        new JsonObject()
            .put("prompt_tokens", 11)
            .put("completion_tokens", TOKENS.size())
            .put("total_tokens", 11 + TOKENS.size()),
        usage.getJsonObject("usage"));

    FakeOpenAi.Received sent = upstream.requests().items().get(0);
    assertEquals("Bearer " + KEY, sent.headers().get("Authorization"));
    assertEquals(true, sent.body().getBoolean("stream"));
    assertEquals(true, sent.body().getJsonObject("stream_options").getBoolean("include_usage"));
    assertEquals(0.2, sent.body().getDouble("temperature"));
    assertEquals(
        "noop",
        sent.body()
            .getJsonArray("tools")
            .getJsonObject(0)
            .getJsonObject("function")
            .getString("name"));

    JsonObject status = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("completed", status.getString("status"));
    assertEquals(String.join("", TOKENS), status.getString("text"));
  }

  @Test
  @DisplayName("without stream_options.include_usage the client gets no usage chunk")
  void noUsageChunkUnlessAsked() {
    upstream.respond(FakeOpenAi.Stream.of(TOKENS, 0));
    SseClient sse = stream(request(true));
    await(sse.ended());
    List<JsonObject> chunks = chunks(sse.events().items());
    assertTrue(chunks.stream().noneMatch(c -> c.getJsonArray("choices").isEmpty()));
    assertEquals(String.join("", TOKENS), content(chunks));
  }

  @Test
  @DisplayName("stream: false answers one chat.completion with the generation id")
  void nonStreaming() {
    upstream.respond(FakeOpenAi.Stream.of(TOKENS, 0));
    var response = await(hub.post("/v1/chat/completions", request(false)));
    assertEquals(200, response.statusCode());
    JsonObject body = response.bodyAsJsonObject();
    assertEquals("chat.completion", body.getString("object"));
    assertEquals(response.getHeader("X-Generation-Id"), body.getString("id"));
    JsonObject choice = body.getJsonArray("choices").getJsonObject(0);
    assertEquals(String.join("", TOKENS), choice.getJsonObject("message").getString("content"));
    assertEquals("assistant", choice.getJsonObject("message").getString("role"));
    assertEquals("stop", choice.getString("finish_reason"));
    assertEquals(17, body.getJsonObject("usage").getInteger("total_tokens"));
  }

  @Test
  @DisplayName(
      "upstream failures before the first token answer with the right status, never the key")
  void upstreamErrorStatuses(Vertx vertx) {
    record Case(FakeOpenAi.Behavior behavior, int status, String code) {}
    String auth =
        "{\"error\":{\"message\":\"Incorrect API key provided: "
            + KEY
            + ". You can find your API key at https://platform.openai.com.\","
            + "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}";
    for (Case c :
        List.of(
            new Case(new FakeOpenAi.Status(401, auth), 502, "upstream_auth_failed"),
            new Case(
                new FakeOpenAi.Status(500, "{\"error\":{\"message\":\"The server had an error\"}}"),
                502,
                "upstream_error"),
            new Case(new FakeOpenAi.Status(503, "upstream overloaded"), 502, "upstream_error"),
            new Case(
                new FakeOpenAi.Status(429, "{\"error\":{\"message\":\"Rate limit reached\"}}"),
                429,
                "upstream_rate_limited"),
            new Case(
                new FakeOpenAi.Status(400, "{\"error\":{\"message\":\"Invalid 'temperature'\"}}"),
                400,
                "upstream_rejected_request"),
            new Case(new FakeOpenAi.Hang(), 504, "upstream_timeout"))) {
      upstream.respond(c.behavior());
      for (boolean stream : List.of(true, false)) {
        var response = await(hub.post("/v1/chat/completions", request(stream)));
        String body = response.bodyAsString();
        assertEquals(c.status(), response.statusCode(), c + " " + body);
        assertEquals(
            c.code(), response.bodyAsJsonObject().getJsonObject("error").getString("code"), body);
        assertFalse(body.contains(KEY), body);
        assertFalse(body.contains("SECRET"), body);
      }
    }
  }

  @Test
  @DisplayName("an unreachable upstream is a 502")
  void unreachableUpstream(Vertx vertx) {
    Vertx other = Vertx.vertx();
    try {
      TestHub nowhere =
          await(TestHub.start(other, Map.of("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")));
      var response = await(nowhere.post("/v1/chat/completions", request(true)));
      assertEquals(502, response.statusCode());
      assertEquals(
          "upstream_error", response.bodyAsJsonObject().getJsonObject("error").getString("type"));
    } finally {
      await(other.close());
    }
  }

  @Test
  @DisplayName(
      "a stream that breaks mid-answer ends with an error chunk; the partial text stays in the status")
  void midStreamBreaks() {
    record Case(FakeOpenAi.Stream behavior, String cause) {}
    for (Case c :
        List.of(
            new Case(new FakeOpenAi.Stream(TOKENS, 0, "stop", -1, 3), "connection broke"),
            new Case(
                new FakeOpenAi.Stream(TOKENS.subList(0, 3), 0, null, -1, -1),
                "ended before the answer finished"))) {
      upstream.respond(c.behavior());
      SseClient sse = stream(request(true));
      await(sse.ended());
      List<SseEvent> events = sse.events().items();
      JsonObject last = events.get(events.size() - 1).json();
      assertEquals("upstream_error", last.getJsonObject("error").getString("type"), c.cause());
      assertEquals(
          String.join("", TOKENS.subList(0, 3)),
          content(chunks(events.subList(0, events.size() - 1))));
      JsonObject status =
          await(hub.get("/v1/generations/" + sse.headers().get("X-Generation-Id")))
              .bodyAsJsonObject();
      assertEquals("failed", status.getString("status"));
      assertEquals(String.join("", TOKENS.subList(0, 3)), status.getString("text"));
      assertTrue(
          status.getJsonObject("error").getString("message").contains(c.cause()), status.encode());
    }
  }

  @Test
  @DisplayName(
      "a mid-stream failure reaches WebSocket subscribers as a terminal error frame with its seq")
  void midStreamFailureOverWebSocket(Vertx vertx) {
    upstream.respond(new FakeOpenAi.Stream(TOKENS, 0, "stop", -1, 2));
    WsClient ws = await(WsClient.connect(vertx, hub.port()));
    await(ws.send(new JsonObject().put("type", "generate").put("request", request(true))));
    JsonObject error =
        await(
            ws.frames().whenAny(f -> f.containsKey("seq") && !f.getString("type").equals("delta")));
    assertEquals("error", error.getString("type"));
    assertEquals(3, error.getLong("seq"));
    assertEquals("upstream_error", error.getString("error_type"));
    assertEquals("upstream_error", error.getString("code"));
    assertTrue(error.getString("message").contains("connection broke"), error.encode());
  }

  @Test
  @DisplayName(
      "llama.cpp's error: line, and a [DONE] with no finish reason, fail the generation instead of completing it")
  void upstreamErrorFieldAndIncompleteDone() {
    String partial = FakeOpenAi.chunk("{\"content\":\"Partial\"}", null);
    for (String body :
        List.of(
            partial
                + "error: {\"code\":500,\"message\":\"context shift failed\",\"type\":\"server_error\"}\n\ndata: [DONE]\n\n",
            partial + "data: [DONE]\n\n")) {
      upstream.respond(new FakeOpenAi.Raw(body));
      SseClient sse = stream(request(true));
      await(sse.ended());
      JsonObject status =
          await(hub.get("/v1/generations/" + sse.headers().get("X-Generation-Id")))
              .bodyAsJsonObject();
      assertEquals("failed", status.getString("status"), body);
      assertEquals("Partial", status.getString("text"));
      assertTrue(
          !body.contains("error:")
              || status
                  .getJsonObject("error")
                  .getString("message")
                  .contains("context shift failed"));
    }
  }

  @Test
  @DisplayName(
      "cancel closes the upstream connection within a second and every subscriber gets cancelled")
  void cancelClosesUpstream() {
    upstream.respond(FakeOpenAi.Stream.of(Collections.nCopies(10_000, "tok "), 20));
    SseClient requester = stream(request(true));
    String id = requester.headers().get("X-Generation-Id");
    SseClient watcher =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    await(watcher.events().whenCount(3));
    FakeOpenAi.Received call = upstream.requests().items().get(0);
    long cancelAt = System.nanoTime();
    var response = await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject()));
    assertEquals(200, response.statusCode());
    long closedAt = await(call.closedAtNanos(), 2);
    assertTrue(
        closedAt - cancelAt < 1_000_000_000L,
        "upstream connection closed " + (closedAt - cancelAt) / 1_000_000 + " ms after cancel");
    await(watcher.ended());
    assertEquals("cancelled", watcher.events().items().get(watcher.events().size() - 1).event());
    await(requester.ended());
    JsonObject last = requester.events().items().get(requester.events().size() - 1).json();
    assertEquals("generation_cancelled", last.getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName("bad requests get 4xx in OpenAI's error shape")
  void badRequests() {
    record Case(String body, int status, String code) {}
    for (Case c :
        List.of(
            new Case("{not json", 400, "invalid_json"),
            new Case("", 400, "invalid_json"),
            new Case("[1,2]", 400, "invalid_json"),
            new Case("{\"model\":\"mock\"}", 400, "invalid_messages"),
            new Case("{\"model\":\"mock\",\"messages\":[]}", 400, "invalid_messages"),
            new Case("{\"model\":\"mock\",\"messages\":\"hi\"}", 400, "invalid_messages"),
            new Case("{\"model\":\"mock\",\"messages\":[\"hi\"]}", 400, "invalid_messages"),
            new Case(
                "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 400, "invalid_model"),
            new Case(
                "{\"model\":\"mock\",\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                400,
                "invalid_stream"),
            new Case(
                "{\"model\":\"mock\",\"max_tokens\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                400,
                "invalid_max_tokens"),
            new Case(
                "{\"model\":\"mock\",\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                400,
                "invalid_max_tokens"),
            new Case(
                "{\"model\":\"mock\",\"mock_tokens_per_second\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                400,
                "invalid_mock_tokens_per_second"),
            new Case(
                "{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\""
                    + "x".repeat(1_100_000)
                    + "\"}]}",
                413,
                "request_too_large"))) {
      for (String path : List.of("/v1/chat/completions", "/v1/generations")) {
        var response = await(hub.postRaw(path, c.body()));
        assertEquals(c.status(), response.statusCode(), path + " " + c.code());
        JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
        assertEquals(c.code(), error.getString("code"), path + " " + response.bodyAsString());
        assertTrue(error.containsKey("type") && error.containsKey("message"));
      }
    }
    var wrongMethod = await(hub.get("/v1/chat/completions"));
    assertEquals(405, wrongMethod.statusCode());
    assertEquals(
        "method_not_allowed",
        wrongMethod.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName("without an upstream, only mock models are served: any other model is a 404")
  void unknownModelWithoutUpstream() {
    Vertx other = Vertx.vertx();
    try {
      TestHub mockOnly = await(TestHub.start(other));
      var response = await(mockOnly.post("/v1/chat/completions", request(true)));
      assertEquals(404, response.statusCode());
      JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
      assertEquals("model_not_found", error.getString("code"));
      assertTrue(error.getString("message").contains("OPENAI_BASE_URL"));
      assertNull(response.getHeader("X-Generation-Id"));
    } finally {
      await(other.close());
    }
  }
}
