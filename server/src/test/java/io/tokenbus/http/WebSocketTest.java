package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("GET /v1/ws")
class WebSocketTest {

  private TestHub hub;
  private WsClient ws;

  @BeforeEach
  void start(Vertx vertx) {
    hub = await(TestHub.start(vertx, Map.of("TOKENBUS_WEBSOCKET_MAX_SUBSCRIPTIONS", "3")));
    ws = await(WsClient.connect(vertx, hub.port()));
  }

  private static JsonObject subscribe(String id) {
    return new JsonObject().put("type", "subscribe").put("generation", id);
  }

  private static boolean ended(JsonObject frame, String id) {
    return id.equals(frame.getString("generation"))
        && frame.containsKey("seq")
        && List.of("done", "error", "cancelled").contains(frame.getString("type"));
  }

  private List<JsonObject> framesOf(String id) {
    return ws.frames().items().stream()
        .filter(f -> id.equals(f.getString("generation")) && f.containsKey("seq"))
        .toList();
  }

  private static String text(List<JsonObject> frames) {
    StringBuilder text = new StringBuilder();
    frames.stream()
        .filter(f -> f.getString("type").equals("delta"))
        .forEach(f -> text.append(f.getString("text")));
    return text.toString();
  }

  private static void assertContiguous(List<JsonObject> frames, long from) {
    for (int i = 0; i < frames.size(); i++) {
      assertEquals(from + i, frames.get(i).getLong("seq"));
    }
  }

  private JsonObject errorFrameAfter(JsonObject sent) {
    int before = ws.frames().size();
    await(ws.send(sent));
    return await(
            ws.frames()
                .when(
                    frames ->
                        frames.size() > before
                            && frames.subList(before, frames.size()).stream()
                                .anyMatch(
                                    f ->
                                        f.getString("type").equals("error")
                                            && !f.containsKey("seq"))))
        .stream()
        .skip(before)
        .filter(f -> f.getString("type").equals("error"))
        .findFirst()
        .orElseThrow();
  }

  @Test
  @DisplayName("one socket watches two generations at once, each complete and in order")
  void multiplexesTwoGenerations() {
    String a = await(hub.startGeneration(TestHub.mockRequest(50, 200)));
    String b = await(hub.startGeneration(TestHub.mockRequest(70, 300)));
    await(ws.send(subscribe(a)));
    await(ws.send(subscribe(b)));
    await(
        ws.frames()
            .when(
                frames ->
                    frames.stream().anyMatch(f -> ended(f, a))
                        && frames.stream().anyMatch(f -> ended(f, b))));
    List<JsonObject> ofA = framesOf(a);
    List<JsonObject> ofB = framesOf(b);
    assertContiguous(ofA, 1);
    assertContiguous(ofB, 1);
    assertEquals(MockText.text(50), text(ofA));
    assertEquals(MockText.text(70), text(ofB));
    assertEquals("done", ofA.get(ofA.size() - 1).getString("type"));
    assertEquals("length", ofB.get(ofB.size() - 1).getString("finish_reason"));
  }

  @Test
  @DisplayName("generate answers started, then the generation's events as if subscribed")
  void generate() {
    await(
        ws.send(
            new JsonObject().put("type", "generate").put("request", TestHub.mockRequest(20, 500))));
    JsonObject started = await(ws.frames().whenAny(f -> f.getString("type").equals("started")));
    String id = started.getString("generation");
    await(ws.frames().whenAny(f -> ended(f, id)));
    assertEquals(MockText.text(20), text(framesOf(id)));
    assertContiguous(framesOf(id), 1);
  }

  @Test
  @DisplayName(
      "subscribe with after resumes with no gap and no duplicate; snapshot folds what exists")
  void subscribeAfterAndSnapshot(Vertx vertx) {
    String id = await(hub.startGeneration(TestHub.mockRequest(30, 3000)));
    // A cursor can only name events that exist: let the generation finish first.
    await(
        await(
                SseClient.get(
                    SseClient.client(vertx),
                    hub.port(),
                    "/v1/generations/" + id + "/events",
                    Map.of()))
            .ended());
    await(ws.send(subscribe(id).put("after", 12)));
    await(ws.frames().whenAny(f -> ended(f, id)));
    assertContiguous(framesOf(id), 13);
    assertEquals(MockText.text(30).substring(MockText.text(12).length()), text(framesOf(id)));

    WsClient other = await(WsClient.connect(vertx, hub.port()));
    await(other.send(subscribe(id).put("snapshot", true)));
    List<JsonObject> frames = await(other.frames().whenCount(2));
    assertEquals(
        new JsonObject()
            .put("type", "delta")
            .put("generation", id)
            .put("seq", 30)
            .put("text", MockText.text(30)),
        frames.get(0));
    assertEquals("done", frames.get(1).getString("type"));
    assertEquals(31, frames.get(1).getLong("seq"));
  }

  @Test
  @DisplayName("cancel stops the generation and subscribers get cancelled")
  void cancel() {
    String id = await(hub.startGeneration(TestHub.mockRequest(1000, 50)));
    await(ws.send(subscribe(id)));
    await(ws.frames().whenCount(2));
    await(ws.send(new JsonObject().put("type", "cancel").put("generation", id)));
    JsonObject last = await(ws.frames().whenAny(f -> ended(f, id)));
    assertEquals("cancelled", last.getString("type"));
    assertEquals(
        text(framesOf(id)),
        await(hub.get("/v1/generations/" + id)).bodyAsJsonObject().getString("text"));
  }

  @Test
  @DisplayName("unsubscribe stops watching: the generation's subscriber count drops")
  void unsubscribe(Vertx vertx) {
    String id = await(hub.startGeneration(TestHub.mockRequest(1000, 50)));
    await(ws.send(subscribe(id)));
    await(ws.frames().whenCount(1));
    assertEquals(
        1, await(hub.get("/v1/generations/" + id)).bodyAsJsonObject().getInteger("subscribers"));
    await(ws.send(new JsonObject().put("type", "unsubscribe").put("generation", id)));
    await(
        Poll.until(
            vertx,
            () ->
                hub.get("/v1/generations/" + id)
                    .map(r -> r.bodyAsJsonObject().getInteger("subscribers")),
            count -> count == 0,
            5000));
    await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject()));
  }

  @Test
  @DisplayName("invalid frames get an error frame and the socket stays open")
  void invalidFrames() {
    String id = await(hub.startGeneration(TestHub.mockRequest(1000, 50)));
    await(ws.send(subscribe(id)));
    record Case(String frame, String code) {}
    for (Case c :
        List.of(
            new Case("not json", "invalid_frame"),
            new Case("[1]", "invalid_frame"),
            new Case("{}", "invalid_frame"),
            new Case("{\"type\":\"dance\"}", "invalid_frame"),
            new Case("{\"type\":\"subscribe\"}", "invalid_frame"),
            new Case(
                "{\"type\":\"subscribe\",\"generation\":\"chatcmpl-nope\"}",
                "generation_not_found"),
            new Case(
                "{\"type\":\"subscribe\",\"generation\":\"" + id + "\"}", "already_subscribed"),
            new Case(
                "{\"type\":\"subscribe\",\"generation\":\"x\",\"after\":\"ten\"}",
                "invalid_cursor"),
            new Case(
                "{\"type\":\"subscribe\",\"generation\":\"x\",\"after\":-3}", "invalid_cursor"),
            new Case(
                "{\"type\":\"unsubscribe\",\"generation\":\"chatcmpl-other\"}", "not_subscribed"),
            new Case("{\"type\":\"generate\"}", "invalid_frame"),
            new Case(
                "{\"type\":\"generate\",\"request\":{\"model\":\"mock\"}}", "invalid_messages"),
            new Case(
                "{\"type\":\"generate\",\"request\":{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
                "model_not_found"),
            new Case(
                "{\"type\":\"cancel\",\"generation\":\"chatcmpl-nope\"}",
                "generation_not_found"))) {
      int before = ws.frames().size();
      await(ws.sendText(c.frame()));
      JsonObject error =
          await(
                  ws.frames()
                      .when(
                          frames ->
                              frames.stream()
                                  .skip(before)
                                  .anyMatch(
                                      f ->
                                          f.getString("type").equals("error")
                                              && !f.containsKey("seq"))))
              .stream()
              .skip(before)
              .filter(f -> f.getString("type").equals("error") && !f.containsKey("seq"))
              .findFirst()
              .orElseThrow();
      assertEquals(c.code(), error.getString("code"), c.frame() + " -> " + error);
      assertFalse(error.getString("message").isBlank());
    }
    assertFalse(ws.isClosed());
    String other = await(hub.startGeneration(TestHub.mockRequest(5, 1000)));
    await(ws.send(subscribe(other)));
    await(ws.frames().whenAny(f -> ended(f, other)));
    await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject()));
  }

  @Test
  @DisplayName("a socket watches at most websocket.max-subscriptions generations")
  void subscriptionLimit() {
    List<String> ids = longGenerations(4);
    subscribeAll(ids.subList(0, 3));
    JsonObject error = errorFrameAfter(subscribe(ids.get(3)));
    assertEquals("too_many_subscriptions", error.getString("code"));
    assertTrue(error.getString("message").contains("websocket.max-subscriptions"));
    JsonObject refused =
        errorFrameAfter(
            new JsonObject().put("type", "generate").put("request", TestHub.mockRequest(1000, 20)));
    assertEquals("too_many_subscriptions", refused.getString("code"));
    assertTrue(
        ws.frames().items().stream().noneMatch(f -> f.getString("type").equals("started")),
        "a generate past the limit starts nothing");
    ids.forEach(id -> await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject())));
  }

  @Test
  @DisplayName("a joined session takes one of the socket's websocket.max-subscriptions slots")
  void sessionsCountAgainstTheLimit() {
    String session =
        await(hub.post("/v1/sessions", new JsonObject())).bodyAsJsonObject().getString("id");
    await(
        ws.send(new JsonObject().put("type", "join").put("session", session).put("author", "Wes")));
    await(ws.frames().whenAny(f -> "state".equals(f.getString("type"))));
    List<String> ids = longGenerations(3);
    subscribeAll(ids.subList(0, 2));
    JsonObject error = errorFrameAfter(subscribe(ids.get(2)));
    assertEquals("too_many_subscriptions", error.getString("code"));
    ids.forEach(id -> await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject())));
  }

  /** {@code n} generations that outlast the test (1,000 tokens at 20/s); cancel them at the end. */
  private List<String> longGenerations(int n) {
    return IntStream.range(0, n)
        .mapToObj(i -> await(hub.startGeneration(TestHub.mockRequest(1000, 20))))
        .toList();
  }

  private void subscribeAll(List<String> ids) {
    ids.forEach(id -> await(ws.send(subscribe(id))));
  }
}
