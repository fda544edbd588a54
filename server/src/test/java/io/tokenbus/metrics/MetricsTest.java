package io.tokenbus.metrics;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.Tokenbus;
import io.tokenbus.config.ConfigLoader;
import io.tokenbus.support.FakeOpenAi;
import io.tokenbus.support.Poll;
import io.tokenbus.support.Scrape;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.UpstreamScript.Answer;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.junit5.VertxExtension;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@code GET /metrics} on a real node: what moves, by how much, and who may read it. */
@ExtendWith(VertxExtension.class)
@DisplayName("Prometheus metrics")
class MetricsTest {

  private static final String ADMIN = "sk-admin-1234567890abcdef";
  private static final String ACME = "sk-acme-1234567890abcdef";
  private static final String GLOBEX = "sk-globex-1234567890abcdef";

  private static Scrape scrape(TestHub hub) {
    return scrape(hub, Map.of());
  }

  private static Scrape scrape(TestHub hub, Map<String, String> headers) {
    var request = hub.web().get("/metrics");
    headers.forEach(request::putHeader);
    HttpResponse<Buffer> answer = await(request.send(), 10, "GET /metrics");
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    assertEquals(
        "text/plain; version=0.0.4; charset=utf-8", answer.getHeader("Content-Type"), "type");
    return Scrape.parse(answer.bodyAsString());
  }

  private static Future<Scrape> scrapeLater(TestHub hub) {
    return hub.get("/metrics").map(answer -> Scrape.parse(answer.bodyAsString()));
  }

  /** The text chunks of a streamed chat completion, in order. */
  private static List<String> pieces(String body) {
    return body.lines()
        .filter(line -> line.startsWith("data: {"))
        .map(line -> new JsonObject(line.substring(6)).getJsonArray("choices"))
        .filter(choices -> !choices.isEmpty())
        .map(choices -> choices.getJsonObject(0).getJsonObject("delta").getString("content"))
        .filter(content -> content != null && !content.isEmpty())
        .toList();
  }

  private static JsonObject chat(String model, boolean stream) {
    return new JsonObject()
        .put("model", model)
        .put("stream", stream)
        .put(
            "messages",
            new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
  }

  @Test
  @DisplayName("one streamed generation moves the counters and histograms by exactly what it did")
  void countsOneGeneration(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    Scrape before = scrape(hub);
    HttpResponse<Buffer> answer =
        await(hub.post("/v1/chat/completions", TestHub.mockRequest(12, 2000).put("stream", true)));
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    int tokens = pieces(answer.bodyAsString()).size();
    assertTrue(tokens > 0, answer.bodyAsString());
    Scrape after = scrape(hub);

    String[] kind = {"tenant", "default", "model", "mock", "provider", "mock"};
    assertEquals(1, moved(before, after, "tokenbus_generations_started_total", kind));
    String[] completed = {"tenant", "default", "model", "mock", "status", "completed"};
    assertEquals(1, moved(before, after, "tokenbus_generations_finished_total", completed));
    assertEquals(0, after.sum("tokenbus_generations_active", kind));
    assertEquals(tokens, moved(before, after, "tokenbus_tokens_total", "direction", "in"));
    // The one viewer was written every event of the log: the tokens and the terminal one.
    assertEquals(tokens + 1, moved(before, after, "tokenbus_tokens_total", "direction", "out"));
    assertEquals(1, moved(before, after, "tokenbus_time_to_first_token_seconds_count", kind));
    assertEquals(
        1,
        moved(before, after, "tokenbus_time_to_first_token_seconds_bucket", "le", "+Inf"),
        "one histogram observation in the +Inf bucket");
    assertEquals(tokens - 1, moved(before, after, "tokenbus_inter_token_gap_seconds_count", kind));
    assertEquals(
        1,
        moved(
            before,
            after,
            "tokenbus_upstream_requests_total",
            "provider",
            "mock",
            "model",
            "mock",
            "status",
            "ok"));
    assertEquals(0, after.sum("tokenbus_viewers"));
    assertEquals(1, after.sum("tokenbus_cluster_members"));
    assertTrue(after.has("tokenbus_event_loop_delay_seconds"), "event-loop delay");
    assertTrue(after.has("tokenbus_sessions_active"), "sessions");
    for (Scrape.Sample sample : after.samples()) {
      assertFalse(
          sample.labels().containsKey("generation") || sample.labels().containsKey("id"),
          "no id is a label: " + sample);
    }
  }

  private static double moved(Scrape before, Scrape after, String name, String... labels) {
    return after.sum(name, labels) - before.sum(name, labels);
  }

  @Test
  @DisplayName(
      "viewers are counted by transport while they watch; one that leaves early is a client"
          + " disconnect")
  void viewers(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx));
    String id = await(hub.startGeneration(TestHub.mockRequest(2000, 20)));
    HttpClientAgent client = SseClient.client(vertx);
    SseClient sse =
        await(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    WsClient ws = await(WsClient.connect(vertx, hub.port()));
    ws.send(new JsonObject().put("type", "subscribe").put("generation", id));
    Scrape watching =
        await(
            Poll.until(
                vertx,
                () -> scrapeLater(hub),
                s ->
                    s.sum("tokenbus_viewers", "transport", "sse") == 1
                        && s.sum("tokenbus_viewers", "transport", "websocket") == 1,
                10_000));
    assertEquals(0, watching.sum("tokenbus_viewer_disconnects_total"));
    assertEquals(1, watching.sum("tokenbus_generations_active"));

    sse.close();
    Scrape left =
        await(
            Poll.until(
                vertx,
                () -> scrapeLater(hub),
                s -> s.sum("tokenbus_viewers", "transport", "sse") == 0,
                10_000));
    assertEquals(1, left.sum("tokenbus_viewer_disconnects_total", "reason", "client"));
    assertEquals(1, left.sum("tokenbus_viewers", "transport", "websocket"));

    assertEquals(200, await(hub.post("/v1/generations/" + id + "/cancel", null)).statusCode());
    Scrape ended =
        await(
            Poll.until(
                vertx,
                () -> scrapeLater(hub),
                s -> s.sum("tokenbus_viewers") == 0 && s.sum("tokenbus_generations_active") == 0,
                10_000));
    assertEquals(
        1, ended.sum("tokenbus_generations_finished_total", "status", "cancelled"), ended.text());
    // The WebSocket viewer saw its stream end: not a disconnect.
    assertEquals(1, ended.sum("tokenbus_viewer_disconnects_total"));
    ws.close();
  }

  @Test
  @DisplayName(
      "a failed upstream attempt and its retry are counted by status, the retry as a recovery")
  void upstreamFailures(Vertx vertx) {
    FakeOpenAi upstream = await(FakeOpenAi.start(vertx));
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                "OPENAI_BASE_URL",
                upstream.baseUrl(),
                "OPENAI_API_KEY",
                "sk-test-upstream-key",
                "TOKENBUS_PROVIDERS_OPENAI_RETRY_INITIAL_BACKOFF_MS",
                "5",
                "TOKENBUS_PROVIDERS_OPENAI_RETRY_MAX_BACKOFF_MS",
                "20"));
    upstream.respondInOrder(
        new FakeOpenAi.Status(500, "{\"error\":{\"message\":\"boom\"}}"),
        Answer.of(List.of("Hello", " there")));
    Scrape before = scrape(hub);
    HttpResponse<Buffer> answer = await(hub.post("/v1/chat/completions", chat("gpt-4o", false)));
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    Scrape after = scrape(hub);
    String[] gpt = {"provider", "openai", "model", "gpt-4o"};
    assertEquals(
        1,
        moved(before, after, "tokenbus_upstream_requests_total", with(gpt, "status", "ok")),
        after.text());
    assertEquals(
        1,
        moved(
            before,
            after,
            "tokenbus_upstream_requests_total",
            with(gpt, "status", "upstream_error")));
    assertEquals(1, moved(before, after, "tokenbus_upstream_recoveries_total", "kind", "retry"));
    assertEquals(
        1,
        moved(
            before,
            after,
            "tokenbus_generations_finished_total",
            "provider",
            "openai",
            "status",
            "completed"));
    // The model's circuit is closed, and said so.
    assertEquals(0, after.sum("tokenbus_circuit_breaker_state", gpt), after.text());
    assertTrue(after.has("tokenbus_circuit_breaker_state", gpt), after.text());
  }

  private static String[] with(String[] labels, String... more) {
    String[] all = new String[labels.length + more.length];
    System.arraycopy(labels, 0, all, 0, labels.length);
    System.arraycopy(more, 0, all, labels.length, more.length);
    return all;
  }

  @Test
  @DisplayName(
      "with auth on, only the admin key reads /metrics (401 without a key, 403 with a tenant's),"
          + " unless metrics.public")
  void access(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(vertx, "TOKENBUS_API_KEYS", "acme:" + ACME, "TOKENBUS_ADMIN_KEY", ADMIN));
    assertEquals(401, await(hub.get("/metrics")).statusCode());
    HttpResponse<Buffer> tenant =
        await(hub.web().get("/metrics").putHeader("Authorization", "Bearer " + ACME).send());
    assertEquals(403, tenant.statusCode());
    assertEquals(
        "permission_denied",
        tenant.bodyAsJsonObject().getJsonObject("error").getString("code"),
        tenant.bodyAsString());
    assertTrue(scrape(hub, Map.of("Authorization", "Bearer " + ADMIN)).has("tokenbus_viewers"));
    assertFalse(
        scrape(hub, Map.of("Authorization", "Bearer " + ADMIN)).text().contains(ACME),
        "no key in the metrics");
  }

  @Test
  @DisplayName("metrics.public: true lets anyone read /metrics while auth is on")
  void open(Vertx vertx) {
    TestHub open =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_API_KEYS",
                "acme:" + ACME,
                "TOKENBUS_ADMIN_KEY",
                ADMIN,
                "TOKENBUS_METRICS_PUBLIC",
                "true"));
    assertTrue(scrape(open).has("tokenbus_viewers"));
  }

  @Test
  @DisplayName("models past metrics.max-model-labels (clients choose mock-* names) are other")
  void modelLabelsAreBounded(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_METRICS_MAX_MODEL_LABELS", "2"));
    for (String model : List.of("mock", "mock-a", "mock-b", "mock-c")) {
      HttpResponse<Buffer> answer = await(hub.post("/v1/chat/completions", chat(model, false)));
      assertEquals(200, answer.statusCode(), answer.bodyAsString());
    }
    Scrape after = scrape(hub);
    assertEquals(1, after.sum("tokenbus_generations_started_total", "model", "mock"));
    assertEquals(1, after.sum("tokenbus_generations_started_total", "model", "mock-a"));
    assertEquals(2, after.sum("tokenbus_generations_started_total", "model", "other"));
    assertEquals(
        2, after.sum("tokenbus_upstream_requests_total", "model", "other", "status", "ok"));
  }

  @Test
  @DisplayName("metrics.enabled: false serves no /metrics (404) and still serves the API")
  void disabled(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, "TOKENBUS_METRICS_ENABLED", "false"));
    HttpResponse<Buffer> answer = await(hub.get("/metrics"));
    assertEquals(404, answer.statusCode(), answer.bodyAsString());
    assertEquals(200, await(hub.post("/v1/chat/completions", chat("mock", false))).statusCode());
  }

  @Test
  @DisplayName("tenants past metrics.max-tenant-labels are labelled other")
  void tenantLabelsAreBounded(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_API_KEYS",
                "acme:" + ACME + ",globex:" + GLOBEX,
                "TOKENBUS_ADMIN_KEY",
                ADMIN,
                "TOKENBUS_METRICS_MAX_TENANT_LABELS",
                "1"));
    for (String key : List.of(ACME, GLOBEX)) {
      HttpResponse<Buffer> answer =
          await(
              hub.web()
                  .post("/v1/chat/completions")
                  .putHeader("Authorization", "Bearer " + key)
                  .sendJsonObject(chat("mock", false)));
      assertEquals(200, answer.statusCode(), answer.bodyAsString());
    }
    Scrape after = scrape(hub, Map.of("Authorization", "Bearer " + ADMIN));
    assertEquals(1, after.sum("tokenbus_generations_started_total", "tenant", "acme"));
    assertEquals(1, after.sum("tokenbus_generations_started_total", "tenant", "other"));
    assertFalse(after.has("tokenbus_generations_started_total", "tenant", "globex"));
  }

  @Test
  @DisplayName("a node started as the jar starts it adds Vert.x's own HTTP server and JVM metrics")
  void vertxMetrics(Vertx vertx) {
    Tokenbus.Node node =
        await(Tokenbus.start(ConfigLoader.load((Path) null, Map.of("TOKENBUS_HTTP_PORT", "0"))));
    try {
      WebClient web = WebClient.create(vertx);
      assertEquals(200, await(web.get(node.port(), "127.0.0.1", "/v1/models").send()).statusCode());
      Scrape scrape =
          Scrape.parse(await(web.get(node.port(), "127.0.0.1", "/metrics").send()).bodyAsString());
      assertTrue(
          scrape.sum("vertx_http_server_requests_total", "method", "GET", "code", "200") >= 1,
          scrape.text());
      assertTrue(scrape.has("jvm_memory_used_bytes"), "JVM metrics");
      assertTrue(scrape.has("tokenbus_viewers"), "tokenbus's own");
    } finally {
      await(node.close());
    }
  }
}
