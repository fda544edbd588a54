package io.tokenbus.session;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Chat sessions through their HTTP API and SSE stream, with several participants. */
@ExtendWith(VertxExtension.class)
@DisplayName("Chat sessions: API, one ordered stream, resume, stop, presence, limits")
class SessionsTest {

  private TestHub hub;
  private HttpClientAgent client;

  @BeforeEach
  void start(Vertx vertx) {
    hub =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                    "200",
                    "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                    "40",
                    "TOKENBUS_SESSIONS_PRESENCE_GRACE_SECONDS",
                    "1",
                    "TOKENBUS_SESSIONS_MAX_PARTICIPANTS",
                    "3",
                    "TOKENBUS_SESSIONS_MAX_MESSAGE_CHARS",
                    "100",
                    "TOKENBUS_SESSIONS_MAX_TRANSCRIPT_CHARS",
                    "2000")));
    client = SseClient.client(vertx);
  }

  private String create() {
    var response =
        await(
            hub.post(
                "/v1/sessions",
                new JsonObject().put("title", "Team chat").put("system", "Be brief.")));
    assertEquals(201, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject().getString("id");
  }

  private JsonObject post(String id, String author, String content) {
    var response =
        await(
            hub.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", author).put("content", content)));
    assertEquals(202, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject();
  }

  private SseClient watch(String id, String query, Map<String, String> headers) {
    return await(
        SseClient.get(client, hub.port(), "/v1/sessions/" + id + "/events" + query, headers));
  }

  private JsonObject session(String id) {
    return await(hub.get("/v1/sessions/" + id)).bodyAsJsonObject();
  }

  /** The transcript a client builds from its stream: the state, then messages and deltas. */
  private static List<JsonObject> transcript(List<SseEvent> events) {
    List<JsonObject> messages = new ArrayList<>();
    for (SseEvent event : events) {
      JsonObject data = event.json();
      switch (event.event()) {
        case "state" ->
            data.getJsonObject("session")
                .getJsonArray("messages")
                .forEach(m -> messages.add(((JsonObject) m).copy()));
        case "message" -> messages.add(data.getJsonObject("message").copy());
        case "delta" ->
            find(messages, data.getString("message_id"))
                .put(
                    "content",
                    find(messages, data.getString("message_id")).getString("content")
                        + data.getString("text"));
        case "reset" -> find(messages, data.getString("message_id")).put("content", "");
        case "done", "error", "cancelled" ->
            find(messages, data.getString("message_id")).put("ended", event.event());
        default -> {}
      }
    }
    return messages;
  }

  private static JsonObject find(List<JsonObject> messages, String id) {
    return messages.stream().filter(m -> m.getString("id").equals(id)).findFirst().orElseThrow();
  }

  private static void assertGapFree(List<SseEvent> events) {
    long previous = -1;
    for (SseEvent event : events) {
      long seq = event.seq();
      if (previous >= 0) {
        assertEquals(previous + 1, seq, "seq after " + previous + " in " + events);
      }
      previous = seq;
    }
  }

  private static List<String> contents(JsonArray messages) {
    return messages.stream()
        .map(m -> ((JsonObject) m).getString("role") + ":" + ((JsonObject) m).getString("content"))
        .toList();
  }

  private static List<String> contents(List<JsonObject> messages) {
    return messages.stream().map(m -> m.getString("role") + ":" + m.getString("content")).toList();
  }

  private Future<List<SseEvent>> answersEnded(SseClient viewer, int answers) {
    return viewer
        .events()
        .when(events -> events.stream().filter(e -> e.event().equals("done")).count() >= answers);
  }

  @Test
  @DisplayName(
      "participants watch the same answers stream; concurrent posts are answered in one order; a late joiner starts from the state")
  void participantsShareOneOrder() {
    String id = create();
    SseClient ann = watch(id, "?author=Ann", Map.of());
    SseClient bob = watch(id, "?author=Bob", Map.of());
    await(ann.events().whenAny(e -> e.event().equals("state")));
    await(bob.events().whenAny(e -> e.event().equals("state")));
    List<Future<?>> posts = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      posts.add(
          hub.post(
              "/v1/sessions/" + id + "/messages",
              new JsonObject()
                  .put("author", i % 2 == 0 ? "Ann" : "Bob")
                  .put("content", "question " + i)));
    }
    await(Future.all(posts));
    SseClient late = watch(id, "?author=Cy", Map.of()); // joins while answers stream
    await(answersEnded(ann, 3), 20, "three answers");
    await(answersEnded(bob, 3), 20, "three answers");
    await(answersEnded(late, 1), 20, "the late joiner's view");

    JsonObject final_ = session(id);
    JsonArray messages = final_.getJsonArray("messages");
    assertEquals(6, messages.size());
    List<String> roles = messages.stream().map(m -> ((JsonObject) m).getString("role")).toList();
    int asked = 0;
    int answered = 0;
    for (String role : roles) {
      asked += role.equals("user") ? 1 : 0;
      answered += role.equals("assistant") ? 1 : 0;
      assertTrue(answered <= asked, "an answer never comes before its question: " + roles);
    }
    assertEquals(3, answered);
    assertTrue(
        messages.stream()
            .allMatch(
                m ->
                    !"assistant".equals(((JsonObject) m).getString("role"))
                        || "completed".equals(((JsonObject) m).getString("status"))),
        messages.encode());
    for (SseClient viewer : List.of(ann, bob, late)) {
      List<SseEvent> events = viewer.events().items();
      assertGapFree(events);
      assertEquals(
          contents(messages),
          contents(transcript(events)),
          "every participant ends with the same transcript");
    }
    assertEquals(
        MockText.text(40), messages.getJsonObject(messages.size() - 1).getString("content"));
    assertEquals("completed", messages.getJsonObject(1).getString("status"));
  }

  @Test
  @DisplayName(
      "a participant who drops mid-answer and comes back with Last-Event-ID misses nothing and sees nothing twice")
  void resumeMidAnswer() {
    String id = create();
    SseClient first = watch(id, "?author=Ann", Map.of());
    post(id, "Ann", "Tell me");
    await(
        first
            .events()
            .when(events -> events.stream().filter(e -> e.event().equals("delta")).count() >= 5));
    first.close();
    List<SseEvent> before = first.events().items();
    String last = before.get(before.size() - 1).id();
    SseClient again = watch(id, "?author=Ann", Map.of("Last-Event-ID", last));
    await(answersEnded(again, 1), 20, "the answer's end");
    List<SseEvent> all = new ArrayList<>(before);
    all.addAll(again.events().items());
    assertGapFree(all);
    assertEquals(contents(session(id).getJsonArray("messages")), contents(transcript(all)));
  }

  @Test
  @DisplayName(
      "stop ends the answer in progress for everyone, its partial text kept, and gives up queued questions")
  void stop() {
    String id = create();
    SseClient viewer = watch(id, "", Map.of());
    await(
        hub.post(
            "/v1/sessions/" + id + "/messages",
            new JsonObject().put("author", "Ann").put("content", "long one")));
    JsonObject queued = post(id, "Bob", "and then?");
    assertTrue(queued.getBoolean("queued"));
    assertNull(queued.getString("generation"));
    await(viewer.events().whenAny(e -> e.event().equals("delta")));
    var stopped = await(hub.post("/v1/sessions/" + id + "/stop", new JsonObject()));
    assertEquals(200, stopped.statusCode());
    await(viewer.events().whenAny(e -> e.event().equals("cancelled")));
    JsonArray messages = session(id).getJsonArray("messages");
    JsonObject answer = messages.getJsonObject(1);
    assertEquals("stopped", answer.getString("status"));
    assertTrue(
        MockText.text(40).startsWith(answer.getString("content"))
            && !answer.getString("content").isEmpty());
    assertEquals(3, messages.size(), "the queued question stays, unanswered");
    assertEquals(contents(messages), contents(transcript(viewer.events().items())));
  }

  @Test
  @DisplayName(
      "presence: joined once per person, no flap on a quick reconnect, left after the grace period")
  void presence() {
    String id = create();
    SseClient observer = watch(id, "", Map.of());
    await(observer.events().whenAny(e -> e.event().equals("state")));
    SseClient tab1 = watch(id, "?author=Ann", Map.of());
    SseClient tab2 = watch(id, "?author=Ann", Map.of());
    await(observer.events().whenAny(e -> e.event().equals("presence")));
    tab1.close();
    SseClient reload = watch(id, "?author=Ann", Map.of());
    tab2.close();
    reload.close();
    await(
        observer
            .events()
            .whenAny(
                e -> e.event().equals("presence") && e.json().getString("state").equals("left")),
        5);
    List<String> presence =
        observer.events().items().stream()
            .filter(e -> e.event().equals("presence"))
            .map(e -> e.json().getString("author") + " " + e.json().getString("state"))
            .toList();
    assertEquals(List.of("Ann joined", "Ann left"), presence);
    SseClient bob = watch(id, "?author=Bob", Map.of());
    await(
        observer
            .events()
            .whenAny(
                e -> e.event().equals("presence") && e.json().getString("author").equals("Bob")));
    assertEquals(
        204,
        await(hub.post("/v1/sessions/" + id + "/typing", new JsonObject().put("author", "Bob")))
            .statusCode());
    await(
        observer
            .events()
            .whenAny(
                e -> e.event().equals("presence") && e.json().getString("state").equals("typing")));
    assertTrue(
        observer
            .raw()
            .contains("\n\nevent: presence\ndata: {\"author\":\"Bob\",\"state\":\"typing\"}"),
        "typing passes by with no id line, so it never moves a client's Last-Event-ID: "
            + observer.raw());
    bob.close();
  }

  @Test
  @DisplayName("bad input and limits get OpenAI-shaped errors with the right status")
  void limitsAndBadInput() {
    String id = create();
    record Case(String path, String body, int status, String code) {}
    for (Case c :
        List.of(
            new Case(
                "/v1/sessions/" + id + "/messages",
                "{\"author\":\"Ann\",\"content\":\"" + "x".repeat(101) + "\"}",
                400,
                "message_too_long"),
            new Case(
                "/v1/sessions/" + id + "/messages",
                "{\"author\":\"\",\"content\":\"hi\"}",
                400,
                "invalid_author"),
            new Case(
                "/v1/sessions/" + id + "/messages", "{\"author\":\"Ann\"}", 400, "invalid_content"),
            new Case("/v1/sessions/" + id + "/messages", "not json", 400, "invalid_json"),
            new Case(
                "/v1/sessions/sess_missing/messages",
                "{\"author\":\"Ann\",\"content\":\"hi\"}",
                404,
                "session_not_found"),
            new Case(
                "/v1/sessions/sess_missing/typing",
                "{\"author\":\"Ann\"}",
                404,
                "session_not_found"),
            new Case("/v1/sessions", "{\"model\":\"gpt-nowhere\"}", 404, "model_not_found"),
            new Case("/v1/sessions", "{\"title\":42}", 400, "invalid_title"))) {
      var response = await(hub.postRaw(c.path(), c.body()));
      assertEquals(c.status(), response.statusCode(), c + " " + response.bodyAsString());
      assertEquals(
          c.code(),
          response.bodyAsJsonObject().getJsonObject("error").getString("code"),
          c.toString());
    }
    assertEquals(404, await(hub.get("/v1/sessions/sess_missing")).statusCode());
    // Participants past the limit (3) are refused; the transcript's limit (2000 characters) too.
    for (String name : List.of("A", "B", "C")) {
      assertEquals(
          200, watch(id, "?author=" + name, Map.of()).status(), name + " is within the limit");
    }
    SseClient fourth = watch(id, "?author=D", Map.of());
    assertEquals(409, fourth.status());
    for (int i = 0;
        i < 20
            && session(id).getJsonArray("messages").stream()
                    .mapToInt(m -> ((JsonObject) m).getString("content").length())
                    .sum()
                < 1900;
        i++) {
      await(
          hub.post(
              "/v1/sessions/" + id + "/messages",
              new JsonObject().put("author", "A").put("content", "y".repeat(100))));
    }
    var full =
        await(
            hub.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "A").put("content", "y".repeat(100))));
    assertEquals(409, full.statusCode(), full.bodyAsString());
    assertEquals("session_full", full.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName(
      "over the WebSocket: join gets the state then live frames, typing reaches the others, bad joins get error frames")
  void webSocket(Vertx vertx) {
    String id = create();
    SseClient observer = watch(id, "", Map.of());
    WsClient ws = await(WsClient.connect(vertx, hub.port()));
    await(ws.send(new JsonObject().put("type", "join").put("session", id).put("author", "Wes")));
    JsonObject state = await(ws.frames().whenAny(f -> "state".equals(f.getString("type"))));
    assertEquals(id, state.getString("session"));
    post(id, "Wes", "hello over ws");
    await(ws.frames().whenAny(f -> "done".equals(f.getString("type"))), 20);
    StringBuilder text = new StringBuilder();
    ws.frames().items().stream()
        .filter(f -> "delta".equals(f.getString("type")))
        .forEach(f -> text.append(f.getString("text")));
    assertEquals(MockText.text(40), text.toString());
    List<Long> seqs =
        ws.frames().items().stream()
            .filter(f -> f.containsKey("seq") && !"state".equals(f.getString("type")))
            .map(f -> f.getLong("seq"))
            .toList();
    for (int i = 1; i < seqs.size(); i++) {
      assertEquals(seqs.get(i - 1) + 1, seqs.get(i));
    }
    await(ws.send(new JsonObject().put("type", "typing").put("session", id)));
    await(
        observer
            .events()
            .whenAny(
                e ->
                    e.event().equals("presence")
                        && e.json().getString("author").equals("Wes")
                        && e.json().getString("state").equals("typing")));

    await(
        ws.send(
            new JsonObject().put("type", "join").put("session", "sess_nope").put("author", "Wes")));
    JsonObject error =
        await(
            ws.frames()
                .whenAny(
                    f ->
                        "error".equals(f.getString("type"))
                            && "sess_nope".equals(f.getString("session"))));
    assertEquals("session_not_found", error.getString("code"));
    await(ws.send(new JsonObject().put("type", "join").put("session", id).put("author", " ")));
    assertEquals(
        "invalid_author",
        await(
                ws.frames()
                    .whenAny(
                        f ->
                            "error".equals(f.getString("type"))
                                && id.equals(f.getString("session"))
                                && !f.containsKey("seq")))
            .getString("code"));
  }

  @Test
  @DisplayName(
      "a session's answer is not idle-cancelled: it belongs to the transcript, watched or not")
  void answersOutliveIdleCancel() {
    Vertx other = Vertx.vertx();
    try {
      TestHub slow =
          await(
              TestHub.start(
                  other,
                  Map.of(
                      "TOKENBUS_GENERATION_IDLE_CANCEL_SECONDS",
                      "1",
                      "TOKENBUS_MOCK_TOKENS_PER_SECOND",
                      "25",
                      "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
                      "50")));
      String id =
          await(slow.post("/v1/sessions", new JsonObject())).bodyAsJsonObject().getString("id");
      await(
          slow.post(
              "/v1/sessions/" + id + "/messages",
              new JsonObject().put("author", "Ann").put("content", "take your time")));
      SseClient viewer =
          await(
              SseClient.get(
                  SseClient.client(other),
                  slow.port(),
                  "/v1/sessions/" + id + "/events",
                  Map.of()));
      SseEvent end =
          await(
              viewer
                  .events()
                  .whenAny(e -> e.event().equals("done") || e.event().equals("cancelled")),
              10);
      assertEquals("done", end.event(), "two seconds of answer with no generation viewer");
    } finally {
      await(other.close());
    }
  }
}
