package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetSocket;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("GET /v1/generations/{id}/events")
class GenerationEventsTest {

  private TestHub hub;
  private HttpClientAgent client;

  @BeforeEach
  void start(Vertx vertx) {
    hub = await(TestHub.start(vertx));
    client = SseClient.client(vertx);
  }

  private SseClient watch(String id, Map<String, String> headers, String query) {
    return await(
        SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events" + query, headers));
  }

  private static void assertContiguous(List<SseEvent> events, long from) {
    for (int i = 0; i < events.size(); i++) {
      assertEquals(from + i, events.get(i).seq(), "seq of event " + i);
    }
  }

  private static List<SseEvent> untilEnd(SseClient sse) {
    await(sse.ended());
    return sse.events().items();
  }

  @Test
  @DisplayName(
      "200 subscribers of one generation all get every event once, in order, ending with the same text")
  void fanOutToManySubscribers() {
    int tokens = 150;
    String id = await(hub.startGeneration(TestHub.mockRequest(tokens, 300)));
    List<Future<SseClient>> opening = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      opening.add(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    }
    List<SseClient> viewers = new ArrayList<>();
    opening.forEach(f -> viewers.add(await(f)));
    for (SseClient viewer : viewers) {
      List<SseEvent> events = untilEnd(viewer);
      assertEquals(tokens + 1, events.size());
      assertContiguous(events, 1);
      assertEquals(MockText.text(tokens), SseEvent.text(events));
      assertEquals("done", events.get(tokens).event());
      assertEquals("length", events.get(tokens).json().getString("finish_reason"));
      assertEquals(
          tokens, events.get(tokens).json().getJsonObject("usage").getInteger("completion_tokens"));
    }
  }

  @Test
  @DisplayName("a subscriber that arrives after the end replays every event from seq 1")
  void lateJoinerReplaysEverything() {
    String id = await(hub.startGeneration(TestHub.mockRequest(40, 2000)));
    await(watch(id, Map.of(), "").ended());
    List<SseEvent> late = untilEnd(watch(id, Map.of(), ""));
    assertEquals(41, late.size());
    assertContiguous(late, 1);
    assertEquals(MockText.text(40), SseEvent.text(late));
  }

  @Test
  @DisplayName("a reconnect with Last-Event-ID mid-stream continues with no gap and no duplicate")
  void resumeWithLastEventId() {
    String id = await(hub.startGeneration(TestHub.mockRequest(60, 100)));
    SseClient first = watch(id, Map.of(), "");
    List<SseEvent> before = await(first.events().whenCount(10)).subList(0, 10);
    first.close();
    List<SseEvent> after = untilEnd(watch(id, Map.of("Last-Event-ID", "10"), "?after=3"));
    assertContiguous(after, 11);
    List<SseEvent> all = new ArrayList<>(before);
    all.addAll(after);
    assertContiguous(all, 1);
    assertEquals(MockText.text(60), SseEvent.text(all));
  }

  @Test
  @DisplayName("?after=<seq> resumes after that event")
  void resumeWithAfter() {
    String id = await(hub.startGeneration(TestHub.mockRequest(30, 100)));
    await(watch(id, Map.of(), "").events().whenCount(5));
    List<SseEvent> after = untilEnd(watch(id, Map.of(), "?after=5"));
    assertContiguous(after, 6);
    assertEquals(MockText.text(30).substring(MockText.text(5).length()), SseEvent.text(after));
  }

  @Test
  @DisplayName(
      "?snapshot=true sends the text so far as one delta carrying the last seq it covers, then live events")
  void snapshotJoin() {
    String id = await(hub.startGeneration(TestHub.mockRequest(80, 100)));
    await(watch(id, Map.of(), "").events().whenCount(20));
    List<SseEvent> events = untilEnd(watch(id, Map.of(), "?snapshot=true"));
    SseEvent snapshot = events.get(0);
    assertTrue(snapshot.seq() >= 20, "the snapshot covers at least what was already streamed");
    assertEquals(MockText.text((int) snapshot.seq()), snapshot.json().getString("text"));
    assertContiguous(events.subList(1, events.size()), snapshot.seq() + 1);
    assertEquals(MockText.text(80), SseEvent.text(events));
  }

  @Test
  @DisplayName(
      "a cursor at or past the terminal event gets 204, so an EventSource stops reconnecting")
  void resumeAfterTheEndIs204() {
    String id = await(hub.startGeneration(TestHub.mockRequest(5, 2000)));
    await(watch(id, Map.of(), "").ended());
    SseClient done = watch(id, Map.of("Last-Event-ID", "6"), "");
    assertEquals(204, done.status());
  }

  @Test
  @DisplayName(
      "a bad Last-Event-ID, after or snapshot is a 400 in OpenAI's error shape, never a silent full replay")
  void badCursors() {
    String id = await(hub.startGeneration(TestHub.mockRequest(5, 2000)));
    await(watch(id, Map.of(), "").ended());
    for (String query :
        List.of(
            "?after=abc", "?after=-1", "?after=1.5", "?after=", "?snapshot=maybe", "?after=99")) {
      var response = await(hub.get("/v1/generations/" + id + "/events" + query));
      assertEquals(400, response.statusCode(), query);
      JsonObject error = response.bodyAsJsonObject().getJsonObject("error");
      assertEquals("invalid_request_error", error.getString("type"), query);
      assertTrue(error.getString("message").length() > 10, query);
    }
    var header =
        await(
            hub.web()
                .get("/v1/generations/" + id + "/events")
                .putHeader("Last-Event-ID", "x7")
                .send());
    assertEquals(400, header.statusCode());
    assertEquals(
        "invalid_cursor", header.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName("unknown generations are 404 on status, events and cancel")
  void unknownGeneration() {
    for (var response :
        List.of(
            await(hub.get("/v1/generations/chatcmpl-nope")),
            await(hub.get("/v1/generations/chatcmpl-nope/events")),
            await(hub.post("/v1/generations/chatcmpl-nope/cancel", new JsonObject())))) {
      assertEquals(404, response.statusCode());
      assertEquals(
          "generation_not_found",
          response.bodyAsJsonObject().getJsonObject("error").getString("code"));
    }
  }

  @Test
  @DisplayName("status reports text, last seq, finish reason, usage and live subscribers")
  void status() {
    String id = await(hub.startGeneration(TestHub.mockRequest(200, 50)));
    SseClient viewer = watch(id, Map.of(), "");
    await(viewer.events().whenCount(3));
    JsonObject running = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("running", running.getString("status"));
    assertEquals(1, running.getInteger("subscribers"));
    assertTrue(running.getLong("seq") >= 3);
    assertTrue(MockText.text(200).startsWith(running.getString("text")));
    JsonObject cancelled =
        await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject())).bodyAsJsonObject();
    assertEquals("cancelled", cancelled.getString("status"));
    List<SseEvent> events = untilEnd(viewer);
    SseEvent last = events.get(events.size() - 1);
    assertEquals("cancelled", last.event());
    assertEquals(cancelled.getLong("seq"), last.seq());
    assertEquals(cancelled.getString("text"), SseEvent.text(events));
    assertEquals(
        events.size() - 1, last.json().getJsonObject("usage").getInteger("completion_tokens"));
    var again = await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject()));
    assertEquals(409, again.statusCode());
  }

  @Test
  @DisplayName("POST /v1/generations answers 201 with the id, status and the URLs to watch it")
  void create() {
    var response = await(hub.post("/v1/generations", TestHub.mockRequest(3, 10)));
    assertEquals(201, response.statusCode());
    JsonObject body = response.bodyAsJsonObject();
    String id = body.getString("id");
    assertTrue(id.startsWith("chatcmpl-"));
    assertEquals("running", body.getString("status"));
    assertEquals(
        "/v1/generations/" + id + "/events", body.getJsonObject("urls").getString("events"));
    assertEquals("/v1/generations/" + id, response.getHeader("Location"));
    assertEquals(id, response.getHeader("X-Generation-Id"));
  }

  @Test
  @DisplayName(
      "an HTTP/1.0 client (nginx's default to upstreams) gets the events unchunked, as Vert.x answers 1.0, with no chunk size lines")
  void http10(Vertx vertx) {
    String id =
        await(
            hub.startGeneration(
                TestHub.mockRequest(10, 20))); // live batches, written straight into the pipeline
    StringBuilder raw = new StringBuilder();
    Promise<Void> closed = Promise.promise();
    NetSocket socket = await(vertx.createNetClient().connect(hub.port(), "127.0.0.1"));
    socket.handler(bytes -> raw.append(bytes.toString()));
    socket.closeHandler(v -> closed.complete());
    socket.write("GET /v1/generations/" + id + "/events HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    await(closed.future(), 15);
    String body = raw.substring(raw.indexOf("\r\n\r\n") + 4);
    assertTrue(raw.toString().startsWith("HTTP/1.0 200"), raw.toString());
    assertTrue(body.startsWith("retry: ") && body.contains("event: done"), body);
    assertFalse(
        body.contains("\r"),
        "chunk framing (size lines end in CRLF; events only in LF) in an HTTP/1.0 body: " + body);
  }

  @Test
  @DisplayName(
      "idle SSE connections get ': ping' comments; busy ones, written since the last tick, get none")
  void heartbeats() {
    Vertx vertx = Vertx.vertx(); // one node per Vertx
    try {
      heartbeatsOn(vertx);
    } finally {
      await(vertx.close());
    }
  }

  private void heartbeatsOn(Vertx vertx) {
    TestHub beating =
        await(
            TestHub.start(
                vertx,
                Map.of(
                    "TOKENBUS_VIEWER_HEARTBEAT_SECONDS",
                    "1",
                    "TOKENBUS_MOCK_MIN_TOKENS_PER_SECOND",
                    "0.1")));
    String id =
        await(
            beating.startGeneration(
                TestHub.mockRequest(2, 0.2))); // 5 s between tokens: two ticks of quiet
    SseClient viewer =
        await(
            SseClient.get(
                SseClient.client(vertx),
                beating.port(),
                "/v1/generations/" + id + "/events",
                Map.of()));
    await(viewer.events().whenCount(1));
    await(viewer.lines().whenAny(line -> line.equals(": ping")), 5);
    assertTrue(viewer.raw().contains(": ping\n"), viewer.raw());
    viewer.close();

    String busy =
        await(
            beating.startGeneration(
                TestHub.mockRequest(40, 10))); // a token every 100 ms for 4 s: four ticks
    SseClient watcher =
        await(
            SseClient.get(
                SseClient.client(vertx),
                beating.port(),
                "/v1/generations/" + busy + "/events",
                Map.of()));
    await(watcher.events().whenAny(e -> "done".equals(e.event())), 15);
    String afterFirstTokens =
        watcher
            .raw()
            .substring(watcher.raw().indexOf("id: 3\n")); // the stream may open just before a tick
    assertFalse(afterFirstTokens.contains(": ping"), afterFirstTokens);
    watcher.close();
  }
}
