package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.Poll;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-tenant limits and quotas on one node: each over its limit gets OpenAI's answer and headers,
 * and one tenant's exhaustion leaves another's answers as they were. (Counting across nodes: {@code
 * ClusterLimitsTest}.)
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Tenant limits and quotas")
class LimitsTest {

  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";
  private static final String ADMIN = "sk-admin-1234567890abcdef";

  private static TestHub hub(Vertx vertx, String... env) {
    List<String> all =
        new ArrayList<>(
            List.of(
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ",globex:" + GLOBEX,
                "TOKENBUS_ADMIN_KEY",
                ADMIN));
    all.addAll(List.of(env));
    return await(TestHub.start(vertx, all.toArray(String[]::new)));
  }

  private static HttpResponse<Buffer> get(TestHub hub, String key, String path) {
    return await(hub.web().get(path).putHeader("Authorization", "Bearer " + key).send());
  }

  private static HttpResponse<Buffer> post(TestHub hub, String key, String path, JsonObject body) {
    return await(
        hub.web().post(path).putHeader("Authorization", "Bearer " + key).sendJsonObject(body));
  }

  private static void assertError(
      int status, String code, HttpResponse<Buffer> response, String param) {
    assertEquals(status, response.statusCode(), response.bodyAsString());
    JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
    assertEquals(code, error.getString("code"), response.bodyAsString());
    assertNotNull(error.getString("message"));
    assertEquals(param, error.getString("param"));
  }

  private static JsonObject chat(int maxTokens) {
    JsonObject request = TestHub.mockRequest(maxTokens, 1000);
    if (maxTokens <= 0) {
      request.remove("max_tokens");
    }
    return request;
  }

  @Test
  @DisplayName(
      "requests per minute: headers count down, the one past the limit gets 429 with Retry-After,"
          + " another tenant and the admin are unaffected")
  void requestsPerMinute(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE", "3");
    for (int remaining = 2; remaining >= 0; remaining--) {
      HttpResponse<Buffer> ok = get(hub, ACME, "/v1/models");
      assertEquals(200, ok.statusCode());
      assertEquals("3", ok.getHeader("x-ratelimit-limit-requests"));
      assertEquals(Integer.toString(remaining), ok.getHeader("x-ratelimit-remaining-requests"));
      assertTrue(
          ok.getHeader("x-ratelimit-reset-requests").matches("[0-9.]+(ms|s)|[0-9]+m[0-9.]+s"),
          ok.getHeader("x-ratelimit-reset-requests"));
      assertNull(ok.getHeader("x-ratelimit-limit-tokens"), "tokens are not limited");
    }
    HttpResponse<Buffer> refused = get(hub, ACME, "/v1/models");
    assertError(429, "rate_limit_exceeded", refused, null);
    assertEquals(
        "rate_limit_error", refused.bodyAsJsonObject().getJsonObject("error").getString("type"));
    long retryAfter = Long.parseLong(refused.getHeader("Retry-After"));
    // One request comes back every 20 s at 3 a minute.
    assertTrue(retryAfter >= 1 && retryAfter <= 20, "Retry-After " + retryAfter);
    assertEquals("0", refused.getHeader("x-ratelimit-remaining-requests"));
    // Any /v1 path counts, a POST too; the refusal comes before the body is looked at.
    assertError(429, "rate_limit_exceeded", post(hub, ACME, "/v1/chat/completions", chat(2)), null);

    HttpResponse<Buffer> other = get(hub, GLOBEX, "/v1/models");
    assertEquals(200, other.statusCode());
    assertEquals("2", other.getHeader("x-ratelimit-remaining-requests"));
    for (int i = 0; i < 5; i++) {
      HttpResponse<Buffer> admin = get(hub, ADMIN, "/v1/models");
      assertEquals(200, admin.statusCode());
      assertNull(admin.getHeader("x-ratelimit-limit-requests"), "the admin key is not limited");
    }
    // /health is not an API call.
    assertEquals(200, await(hub.web().get("/health").send()).statusCode());
  }

  @Test
  @DisplayName(
      "limits.requests-burst: that many at once from rest, the next gets 429 with Retry-After 1"
          + " (one every 60/N s), and the headers still say the minute's limit")
  void requestsBurst(Vertx vertx) {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE",
            "60",
            "TOKENBUS_LIMITS_REQUESTS_BURST",
            "3");
    for (int remaining = 2; remaining >= 0; remaining--) {
      HttpResponse<Buffer> ok = get(hub, ACME, "/v1/models");
      assertEquals(200, ok.statusCode());
      assertEquals("60", ok.getHeader("x-ratelimit-limit-requests"));
      assertEquals(Integer.toString(remaining), ok.getHeader("x-ratelimit-remaining-requests"));
    }
    HttpResponse<Buffer> refused = get(hub, ACME, "/v1/models");
    assertError(429, "rate_limit_exceeded", refused, null);
    assertEquals("1", refused.getHeader("Retry-After"), "one comes back every second");
  }

  @Test
  @DisplayName(
      "concurrent generations: one past the limit gets 429, a slot is freed when a generation"
          + " ends, and another tenant starts meanwhile")
  void concurrentGenerations(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS", "2");
    JsonObject slow = TestHub.mockRequest(1000, 20);
    String first = created(post(hub, ACME, "/v1/generations", slow));
    created(post(hub, ACME, "/v1/generations", slow));
    HttpResponse<Buffer> refused = post(hub, ACME, "/v1/generations", slow);
    assertError(429, "rate_limit_exceeded", refused, null);
    assertEquals("1", refused.getHeader("Retry-After"));
    assertTrue(
        refused.bodyAsJsonObject().getJsonObject("error").getString("message").contains("2"));
    // Streaming chat completions and WebSocket generate frames are held to the same count.
    assertError(
        429,
        "rate_limit_exceeded",
        post(hub, ACME, "/v1/chat/completions", slow.copy().put("stream", true)),
        null);
    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME));
    socket.send(new JsonObject().put("type", "generate").put("request", slow));
    JsonObject frame = await(socket.frames().whenAny(f -> "error".equals(f.getString("type"))));
    assertEquals("rate_limit_exceeded", frame.getString("code"));

    created(post(hub, GLOBEX, "/v1/generations", slow));
    created(post(hub, GLOBEX, "/v1/generations", slow));

    HttpResponse<Buffer> cancelled =
        post(hub, ACME, "/v1/generations/" + first + "/cancel", new JsonObject());
    assertEquals(200, cancelled.statusCode(), cancelled.bodyAsString());
    // The cancel answers once the generation has ended: its slot is free.
    created(post(hub, ACME, "/v1/generations", slow));
  }

  @Test
  @DisplayName(
      "max tokens and n: over the limit is a 400 naming the field; a request asking none is"
          + " capped, with finish_reason length")
  void maxTokensAndN(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_MAX_TOKENS", "5", "TOKENBUS_LIMITS_MAX_N", "2");
    assertError(
        400, "max_tokens_exceeded", post(hub, ACME, "/v1/chat/completions", chat(6)), "max_tokens");
    JsonObject newer = chat(0).put("max_completion_tokens", 50);
    assertError(
        400,
        "max_tokens_exceeded",
        post(hub, ACME, "/v1/chat/completions", newer),
        "max_completion_tokens");
    assertError(
        400, "n_exceeded", post(hub, ACME, "/v1/chat/completions", chat(3).put("n", 3)), "n");
    assertEquals(200, post(hub, ACME, "/v1/chat/completions", chat(3).put("n", 2)).statusCode());

    HttpResponse<Buffer> capped = post(hub, ACME, "/v1/chat/completions", chat(0));
    assertEquals(200, capped.statusCode(), capped.bodyAsString());
    JsonObject body = capped.bodyAsJsonObject();
    assertEquals(5, body.getJsonObject("usage").getInteger("completion_tokens"));
    assertEquals(
        "length", body.getJsonArray("choices").getJsonObject(0).getString("finish_reason"));

    // The admin key has no limits: the mock's own default length (64).
    HttpResponse<Buffer> admin = post(hub, ADMIN, "/v1/chat/completions", chat(0).put("n", 4));
    assertEquals(200, admin.statusCode(), admin.bodyAsString());
    assertEquals(
        64, admin.bodyAsJsonObject().getJsonObject("usage").getInteger("completion_tokens"));
  }

  @Test
  @DisplayName(
      "an OpenAI-compatible upstream's answer is ended by tokenbus at the cap; the body it gets is"
          + " the client's own")
  void capOnAnOpenAiUpstream(Vertx vertx) {
    FakeOpenAi openai = await(FakeOpenAi.start(vertx));
    List<String> tokens = IntStream.range(0, 40).mapToObj(i -> "w" + i + " ").toList();
    openai.respond(UpstreamScript.Answer.of(tokens).interval(5));
    TestHub hub =
        hub(
            vertx,
            "OPENAI_BASE_URL",
            openai.baseUrl(),
            "OPENAI_API_KEY",
            "sk-openai-test-0123456789",
            "TOKENBUS_LIMITS_MAX_TOKENS",
            "7");
    JsonObject request =
        new JsonObject()
            .put("model", "gpt-test")
            .put(
                "messages",
                new JsonArray().add(new JsonObject().put("role", "user").put("content", "count")));
    HttpResponse<Buffer> answer = post(hub, ACME, "/v1/chat/completions", request);
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    JsonObject choice = answer.bodyAsJsonObject().getJsonArray("choices").getJsonObject(0);
    assertEquals("length", choice.getString("finish_reason"));
    assertEquals(
        String.join("", tokens.subList(0, 7)),
        choice.getJsonObject("message").getString("content"));
    JsonObject sent = openai.requests().items().get(0).body();
    assertFalse(sent.containsKey("max_tokens") || sent.containsKey("max_completion_tokens"));
    // Its connection is closed, not read to the end.
    await(openai.requests().items().get(0).closedAtNanos());

    // An upstream that ignores the client's own max_tokens is held to it too.
    HttpResponse<Buffer> own =
        post(hub, ACME, "/v1/chat/completions", request.put("max_tokens", 3));
    assertEquals(200, own.statusCode(), own.bodyAsString());
    JsonObject ownChoice = own.bodyAsJsonObject().getJsonArray("choices").getJsonObject(0);
    assertEquals("length", ownChoice.getString("finish_reason"));
    assertEquals(
        String.join("", tokens.subList(0, 3)),
        ownChoice.getJsonObject("message").getString("content"));
    assertEquals(3, openai.requests().items().get(1).body().getInteger("max_tokens"));
  }

  @Test
  @DisplayName(
      "daily quota: a generation is capped at what is left, the headers count down, then 429"
          + " quota_exceeded until midnight UTC; another tenant keeps its own")
  void dailyQuota(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_COMPLETION_TOKENS_PER_DAY", "12");
    HttpResponse<Buffer> first = post(hub, ACME, "/v1/chat/completions", chat(8));
    assertEquals(200, first.statusCode());
    assertEquals("12", first.getHeader("x-ratelimit-limit-tokens"));
    assertEquals("12", first.getHeader("x-ratelimit-remaining-tokens"), "counted at the request");
    HttpResponse<Buffer> second = post(hub, ACME, "/v1/chat/completions", chat(0));
    assertEquals(200, second.statusCode(), second.bodyAsString());
    assertEquals("4", second.getHeader("x-ratelimit-remaining-tokens"));
    assertEquals(
        4,
        second.bodyAsJsonObject().getJsonObject("usage").getInteger("completion_tokens"),
        "capped at what was left of the day");
    HttpResponse<Buffer> refused = post(hub, ACME, "/v1/chat/completions", chat(1));
    assertError(429, "quota_exceeded", refused, null);
    assertEquals("0", refused.getHeader("x-ratelimit-remaining-tokens"));
    long untilMidnight = 86_400 - (System.currentTimeMillis() / 1000) % 86_400;
    long retryAfter = Long.parseLong(refused.getHeader("Retry-After"));
    assertTrue(
        Math.abs(retryAfter - untilMidnight) <= 5, retryAfter + " vs " + untilMidnight + " s");
    String reset = refused.getHeader("x-ratelimit-reset-tokens");
    assertTrue(reset.matches("([0-9]+h)?([0-9]+m)?[0-9.]+s|[0-9]+ms"), reset);

    HttpResponse<Buffer> other = post(hub, GLOBEX, "/v1/chat/completions", chat(3));
    assertEquals(200, other.statusCode());
    assertEquals("12", other.getHeader("x-ratelimit-remaining-tokens"));
  }

  @Test
  @DisplayName("a tenant's own limits in the config file override the defaults")
  void perTenantOverrides(Vertx vertx, @TempDir Path dir) throws Exception {
    Path file = dir.resolve("tokenbus.yaml");
    Files.writeString(file, "limits:\n  tenants:\n    globex:\n      requests-per-minute: 100\n");
    TestHub hub =
        hub(vertx, "TOKENBUS_CONFIG", file.toString(), "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE", "1");
    assertEquals(200, get(hub, ACME, "/v1/models").statusCode());
    assertEquals(429, get(hub, ACME, "/v1/models").statusCode());
    HttpResponse<Buffer> globex = get(hub, GLOBEX, "/v1/models");
    assertEquals(200, globex.statusCode());
    assertEquals("100", globex.getHeader("x-ratelimit-limit-requests"));
  }

  @Test
  @DisplayName("a WebSocket counts its handshake and each generate frame")
  void webSocketFrames(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE", "2");
    WsClient socket = await(WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME));
    socket.send(new JsonObject().put("type", "generate").put("request", chat(2)));
    await(socket.frames().whenAny(f -> "started".equals(f.getString("type"))));
    socket.send(new JsonObject().put("type", "generate").put("request", chat(2)));
    JsonObject frame = await(socket.frames().whenAny(f -> "error".equals(f.getString("type"))));
    assertEquals("rate_limit_exceeded", frame.getString("code"));
    // A handshake over the rate is refused before the upgrade.
    Throwable refused =
        await(
            WsClient.connect(vertx, hub.port(), "/v1/ws?access_token=" + ACME)
                .map(s -> (Throwable) null)
                .otherwise(e -> e));
    assertNotNull(refused, "the handshake was accepted");
    assertTrue(refused.getMessage().contains("429"), refused.getMessage());
  }

  @Test
  @DisplayName("a generation ends at generation.max-duration-seconds, its text kept")
  void maxDuration(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_GENERATION_MAX_DURATION_SECONDS", "1");
    long start = System.nanoTime();
    HttpResponse<Buffer> answer =
        post(hub, ACME, "/v1/chat/completions", TestHub.mockRequest(1000, 20));
    long tookMs = (System.nanoTime() - start) / 1_000_000;
    assertTrue(tookMs >= 1000 && tookMs < 5000, "ended after " + tookMs + " ms");
    assertEquals(504, answer.statusCode(), answer.bodyAsString());
    assertEquals(
        "duration_limit_reached",
        answer.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName(
      "a session's queued answers each start as the one before ends, at a concurrency limit of 1")
  void sessionQueueAtTheLimit(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS", "1");
    HttpResponse<Buffer> session = post(hub, ACME, "/v1/sessions", new JsonObject());
    assertEquals(201, session.statusCode(), session.bodyAsString());
    String id = session.bodyAsJsonObject().getString("id");
    for (int i = 0; i < 3; i++) {
      HttpResponse<Buffer> posted =
          post(
              hub,
              ACME,
              "/v1/sessions/" + id + "/messages",
              new JsonObject().put("author", "ann").put("content", "question " + i));
      assertEquals(202, posted.statusCode(), posted.bodyAsString());
    }
    JsonArray messages =
        await(
                Poll.until(
                    vertx,
                    () ->
                        hub.web()
                            .get("/v1/sessions/" + id)
                            .putHeader("Authorization", "Bearer " + ACME)
                            .send()
                            .map(r -> r.bodyAsJsonObject().getJsonArray("messages")),
                    m ->
                        m.stream()
                                .map(JsonObject.class::cast)
                                .filter(x -> x.getString("role").equals("assistant"))
                                .filter(x -> !"streaming".equals(x.getString("status")))
                                .count()
                            == 3,
                    20_000))
            .copy();
    messages.stream()
        .map(JsonObject.class::cast)
        .filter(m -> m.getString("role").equals("assistant"))
        .forEach(m -> assertEquals("completed", m.getString("status"), m.encode()));
  }

  @Test
  @DisplayName(
      "a start that fails frees its slot; a cancel is never refused for the rate; both token"
          + " fields are checked")
  void slotsAndCancels(Vertx vertx) {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS",
            "1",
            "TOKENBUS_LIMITS_REQUESTS_PER_MINUTE",
            "4",
            "TOKENBUS_LIMITS_MAX_TOKENS",
            "10");
    HttpResponse<Buffer> unknown =
        post(hub, ACME, "/v1/generations", chat(5).put("model", "gpt-nowhere"));
    assertEquals(404, unknown.statusCode(), unknown.bodyAsString());
    assertError(
        400,
        "max_tokens_exceeded",
        post(
            hub,
            ACME,
            "/v1/generations",
            chat(0).put("max_completion_tokens", 5).put("max_tokens", 99)),
        "max_tokens");
    String id = created(post(hub, ACME, "/v1/generations", TestHub.mockRequest(10, 1)));
    assertEquals(200, get(hub, ACME, "/v1/generations/" + id).statusCode());
    assertError(429, "rate_limit_exceeded", get(hub, ACME, "/v1/generations/" + id), null);
    HttpResponse<Buffer> cancelled =
        post(hub, ACME, "/v1/generations/" + id + "/cancel", new JsonObject());
    assertEquals(200, cancelled.statusCode(), cancelled.bodyAsString());
    assertEquals("0", cancelled.getHeader("x-ratelimit-remaining-requests"));
  }

  @Test
  @DisplayName(
      "a tenant at limits.max-sessions gets 429 session_limit_reached; another tenant still"
          + " creates sessions")
  void sessionsPerTenant(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_MAX_SESSIONS", "2");
    for (int i = 0; i < 2; i++) {
      assertEquals(201, post(hub, ACME, "/v1/sessions", new JsonObject()).statusCode());
    }
    HttpResponse<Buffer> refused = post(hub, ACME, "/v1/sessions", new JsonObject());
    assertError(429, "session_limit_reached", refused, null);
    assertEquals("60", refused.getHeader("Retry-After"));
    assertTrue(
        refused
            .bodyAsJsonObject()
            .getJsonObject("error")
            .getString("message")
            .contains("limits.max-sessions"));
    assertEquals(201, post(hub, GLOBEX, "/v1/sessions", new JsonObject()).statusCode());
    assertEquals(201, post(hub, ADMIN, "/v1/sessions", new JsonObject()).statusCode());
  }

  @Test
  @DisplayName(
      "a tenant whose sessions hold limits.max-session-bytes gets 429 session_storage_full for"
          + " new sessions and questions; another tenant does not")
  void sessionBytesPerTenant(Vertx vertx) {
    TestHub hub = hub(vertx, "TOKENBUS_LIMITS_MAX_SESSION_BYTES", "40000");
    String id =
        post(hub, ACME, "/v1/sessions", new JsonObject()).bodyAsJsonObject().getString("id");
    JsonObject question =
        new JsonObject().put("author", "ann").put("content", "a long question ".repeat(500));
    HttpResponse<Buffer> refused = null;
    for (int i = 0; i < 10 && refused == null; i++) {
      HttpResponse<Buffer> posted = post(hub, ACME, "/v1/sessions/" + id + "/messages", question);
      if (posted.statusCode() == 429) {
        refused = posted;
      } else {
        assertEquals(202, posted.statusCode(), posted.bodyAsString());
      }
    }
    assertNotNull(refused, "ten 8,000-character questions fit in 40,000 bytes");
    assertError(429, "session_storage_full", refused, null);
    assertEquals("60", refused.getHeader("Retry-After"));
    assertTrue(
        refused
            .bodyAsJsonObject()
            .getJsonObject("error")
            .getString("message")
            .contains("limits.max-session-bytes"));
    assertError(
        429, "session_storage_full", post(hub, ACME, "/v1/sessions", new JsonObject()), null);
    // The session can still be read, and another tenant still talks.
    assertEquals(200, get(hub, ACME, "/v1/sessions/" + id).statusCode());
    String other =
        post(hub, GLOBEX, "/v1/sessions", new JsonObject()).bodyAsJsonObject().getString("id");
    assertEquals(
        202, post(hub, GLOBEX, "/v1/sessions/" + other + "/messages", question).statusCode());
  }

  private static String created(HttpResponse<Buffer> response) {
    assertEquals(201, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject().getString("id");
  }
}
