package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("POST /stream, the classic tutorial endpoint")
class SeedStreamTest {

  private TestHub hub;
  private Vertx vertx;

  @BeforeEach
  void start(Vertx vertx) {
    this.vertx = vertx;
    hub = await(TestHub.start(vertx, Map.of("TOKENBUS_MOCK_TOKENS_PER_SECOND", "2000")));
  }

  private List<SseEvent> stream(String path, String body) {
    SseClient sse = await(SseClient.post(SseClient.client(vertx), hub.port(), path, body));
    assertEquals(200, sse.status());
    await(sse.ended());
    return sse.events().items();
  }

  @Test
  @DisplayName(
      "answers data: <token> events and data: [DONE]; multi-line and non-ASCII tokens rebuild exactly")
  void promptInQuery() {
    List<SseEvent> events = stream("/stream?prompt=hello", null);
    assertEquals("[DONE]", events.get(events.size() - 1).data());
    StringBuilder text = new StringBuilder();
    events.subList(0, events.size() - 1).forEach(e -> text.append(e.data()));
    String expected = MockText.text(hub.config().mock().defaultMaxTokens());
    assertTrue(
        expected.contains("\n\n") && expected.contains("🚀") && expected.contains("你好"),
        "the mock text exercises them");
    assertEquals(expected, text.toString());
    assertEquals(hub.config().mock().defaultMaxTokens(), events.size() - 1, "one event per token");
  }

  @Test
  @DisplayName("takes the prompt from a JSON body too")
  void promptInBody() {
    List<SseEvent> events = stream("/stream", new JsonObject().put("prompt", "hello").encode());
    assertEquals("[DONE]", events.get(events.size() - 1).data());
    assertEquals("Hello", events.get(0).data());
  }

  /**
   * The tutorial's fetch reader, as it is written: each chunk split on line breaks, every line that
   * starts with {@code data: } handed on, until {@code [DONE]}.
   */
  private static List<String> naiveReader(String body) {
    List<String> handed = new java.util.ArrayList<>();
    for (String line : body.split("\n")) {
      if (line.startsWith("data: ")) {
        String data = line.substring(6);
        if (data.equals("[DONE]")) {
          break;
        }
        handed.add(data);
      }
    }
    return handed;
  }

  @Test
  @DisplayName(
      "a naive line-splitting reader loses the line breaks of data: <token>, and none of"
          + " ?format=json's")
  void naiveReaders() {
    String expected = MockText.text(hub.config().mock().defaultMaxTokens());
    String text = await(hub.postRaw("/stream?prompt=hello", "")).bodyAsString();
    String naive = String.join("", naiveReader(text));
    // What README says: the tutorial's reader drops every line break of the answer (a token "\n"
    // arrives as two empty data lines, which it hands on as ""), where an SSE parser does not.
    assertEquals(expected.replace("\n", ""), naive);

    var json = await(hub.postRaw("/stream?format=json&prompt=hello", ""));
    assertEquals(200, json.statusCode());
    StringBuilder rebuilt = new StringBuilder();
    List<String> tokens = naiveReader(json.bodyAsString());
    tokens.forEach(data -> rebuilt.append(new JsonObject(data).getString("token")));
    assertEquals(expected, rebuilt.toString());
    assertEquals(hub.config().mock().defaultMaxTokens(), tokens.size(), "one line per token");
    assertTrue(json.bodyAsString().endsWith("data: [DONE]\n\n"), json.bodyAsString());

    var bad = await(hub.postRaw("/stream?format=xml&prompt=hello", ""));
    assertEquals(400, bad.statusCode());
    assertEquals("invalid_format", bad.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName("without a prompt, or with a bad body, it is a 400")
  void badInput() {
    for (String body : List.of("", "{}", "{\"prompt\": 3}", "{\"prompt\": \"  \"}", "not json")) {
      var response = await(hub.postRaw("/stream", body));
      assertEquals(400, response.statusCode(), body);
      assertTrue(
          response.bodyAsJsonObject().getJsonObject("error").getString("message").length() > 5);
    }
  }
}
