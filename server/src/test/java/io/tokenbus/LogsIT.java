package io.tokenbus;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The log of a real process with {@code TOKENBUS_LOG_FORMAT=json}: every line a JSON object with
 * the documented fields, the generation's lines carrying its MDC fields, one access line per
 * request, and no credential anywhere.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("JSON logs and the access log (one process)")
class LogsIT {

  private static final String KEY = "sk-acme-logs-secret-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  @DisplayName(
      "every line parses as JSON with timestamp, level, logger and message; audit and access lines"
          + " carry generation, tenant and node; the key never appears, in a query or elsewhere")
  void jsonLines(Vertx vertx) throws Exception {
    List<String> lines;
    String id;
    try (NodeProcess node =
        NodeProcess.start(
            "logs", Map.of("TOKENBUS_LOG_FORMAT", "json", "TOKENBUS_API_KEYS", "acme:" + KEY))) {
      await(node.ready(), 90);
      WebClient web =
          WebClient.create(
              vertx,
              new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort()));
      HttpResponse<Buffer> answer =
          await(
              web.post("/v1/chat/completions")
                  .putHeader("Authorization", "Bearer " + KEY)
                  .sendJsonObject(TestHub.mockRequest(5, 1000)));
      assertEquals(200, answer.statusCode(), answer.bodyAsString());
      id = answer.getHeader("X-Generation-Id");
      // The key in a query, as an EventSource sends it: the access line has the path only.
      HttpResponse<Buffer> replay =
          await(web.get("/v1/generations/" + id + "/events?access_token=" + KEY).send());
      assertEquals(200, replay.statusCode(), replay.bodyAsString());
      await(
          node.printed(l -> l.contains("io.tokenbus.access") && l.contains("/events")),
          30,
          "the replay's access line");
      node.sigterm();
      await(Future.fromCompletionStage(node.exited()), 60, "the process's exit");
      lines = node.lines(l -> true);
    }

    List<JsonNode> events = new ArrayList<>();
    for (String line : lines) {
      assertFalse(line.contains(KEY), "a credential reached the log: " + line);
      JsonNode event = JSON.readTree(line);
      for (String field : List.of("timestamp", "level", "logger", "thread", "message")) {
        assertTrue(event.hasNonNull(field), "no " + field + " in " + line);
      }
      events.add(event);
    }
    JsonNode started = only(events, "io.tokenbus.audit", "generation started");
    assertEquals(id, started.path("generation").asText());
    assertEquals("acme", started.path("tenant").asText());
    assertFalse(started.path("node").asText().isEmpty(), "no node in " + started);

    JsonNode posted = only(events, "io.tokenbus.access", "POST /v1/chat/completions 200");
    assertEquals(id, posted.path("generation").asText());
    assertEquals("acme", posted.path("tenant").asText());
    JsonNode replayed =
        only(events, "io.tokenbus.access", "GET /v1/generations/" + id + "/events 200");
    assertFalse(replayed.path("message").asText().contains("access_token"), replayed.toString());
  }

  private static JsonNode only(List<JsonNode> events, String logger, String messageStart) {
    List<JsonNode> found =
        events.stream()
            .filter(e -> e.path("logger").asText().equals(logger))
            .filter(e -> e.path("message").asText().startsWith(messageStart))
            .toList();
    assertEquals(
        1, found.size(), "lines of " + logger + " starting \"" + messageStart + "\": " + found);
    return found.get(0);
  }
}
