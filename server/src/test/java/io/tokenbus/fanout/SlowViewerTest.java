package io.tokenbus.fanout;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Poll;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.tokenbus.support.WsClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(VertxExtension.class)
@DisplayName("Slow viewers, of generations and of chat sessions alike")
class SlowViewerTest {

  /**
   * About 10 MB of SSE: well past what the kernel buffers of a loopback connection absorb (up to 4
   * MB of send buffer here), so the hub's own write queue really fills.
   */
  private static final int TOKENS = 200_000;

  private static final Map<String, String> SMALL_QUEUE =
      Map.of(
          "TOKENBUS_VIEWER_WRITE_QUEUE_BYTES", "1024", "TOKENBUS_GENERATION_MAX_EVENTS", "300000");

  private static void assertIncreasing(List<SseEvent> events) {
    for (int i = 1; i < events.size(); i++) {
      assertTrue(
          events.get(i).seq() > events.get(i - 1).seq(),
          "seq " + events.get(i).seq() + " after " + events.get(i - 1).seq());
    }
  }

  /**
   * The text of the {@code delta} frames a WebSocket client received, checking on the way that the
   * seqs of the frames that have one only rise.
   */
  private static String deltaText(List<JsonObject> frames) {
    StringBuilder text = new StringBuilder();
    long last = -1;
    for (JsonObject frame : frames) {
      if (frame.containsKey("seq")) {
        assertTrue(frame.getLong("seq") > last, "seq " + frame.getLong("seq") + " after " + last);
        last = frame.getLong("seq");
      }
      if ("delta".equals(frame.getString("type"))) {
        text.append(frame.getString("text"));
      }
    }
    return text.toString();
  }

  @Test
  @DisplayName(
      "a stalled viewer delays neither the generation nor a fast viewer, then catches up merged, losing nothing")
  void stalledViewerCatchesUpMerged(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, SMALL_QUEUE));
    String id = await(hub.startGeneration(TestHub.mockRequest(TOKENS, 400_000)));
    HttpClientAgent slowClient = SseClient.smallWindowClient(vertx);
    SseClient slow =
        await(SseClient.get(slowClient, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    slow.pause();
    SseClient fast =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events",
                Map.of()));

    await(fast.ended(), 30);
    List<SseEvent> all = fast.events().items();
    assertIncreasing(
        all); // at this rate even a fast reader may lag at moments and get merged deltas
    assertEquals(TOKENS + 1, all.get(all.size() - 1).seq());
    assertEquals(MockText.text(TOKENS), SseEvent.text(all));
    assertFalse(
        slow.ended().isComplete(),
        "the slow viewer is still behind while the fast one has everything");
    assertEquals(
        "completed",
        await(hub.get("/v1/generations/" + id)).bodyAsJsonObject().getString("status"));

    slow.resume();
    await(slow.ended(), 30);
    List<SseEvent> caughtUp = slow.events().items();
    assertIncreasing(caughtUp);
    assertEquals(MockText.text(TOKENS), SseEvent.text(caughtUp));
    assertEquals("done", caughtUp.get(caughtUp.size() - 1).event());
    assertEquals(TOKENS + 1, caughtUp.get(caughtUp.size() - 1).seq());
    assertTrue(
        caughtUp.size() < TOKENS / 2,
        "missed deltas were merged: " + caughtUp.size() + " events for " + TOKENS + " tokens");
  }

  @Test
  @DisplayName(
      "a stalled WebSocket subscriber is woken when its socket drains and catches up merged, losing nothing")
  void stalledWebSocketCatchesUpMerged(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, SMALL_QUEUE));
    String id = await(hub.startGeneration(TestHub.mockRequest(TOKENS, 400_000)));
    WsClient slow = await(WsClient.connectSmallWindow(vertx, hub.port()));
    await(slow.send(new JsonObject().put("type", "subscribe").put("generation", id)));
    slow.pause();
    SseClient fast =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events",
                Map.of()));
    await(fast.ended(), 30);
    assertTrue(
        slow.frames().items().stream().noneMatch(f -> "done".equals(f.getString("type"))),
        "the paused subscriber is still behind while a fast viewer has everything");

    slow.resume();
    // Through its 4 KB receive window the client reads the megabytes the kernel took before the
    // hub's queue filled slowly.
    JsonObject done = await(slow.frames().whenAny(f -> "done".equals(f.getString("type"))), 90);
    assertEquals(TOKENS + 1, done.getLong("seq"));
    List<JsonObject> frames = slow.frames().items();
    assertEquals(MockText.text(TOKENS), deltaText(frames));
    assertTrue(
        frames.size() < TOKENS / 2,
        "missed deltas were merged: " + frames.size() + " frames for " + TOKENS + " tokens");
  }

  @Test
  @DisplayName(
      "a viewer stalled past viewer.max-stall-seconds is disconnected and resumes with Last-Event-ID")
  void stalledTooLongIsClosedAndResumes(Vertx vertx) {
    Map<String, String> env = new HashMap<>(SMALL_QUEUE);
    env.put("TOKENBUS_VIEWER_MAX_STALL_SECONDS", "1");
    TestHub hub = await(TestHub.start(vertx, env));
    String id = await(hub.startGeneration(TestHub.mockRequest(TOKENS, 400_000)));
    SseClient slow =
        await(
            SseClient.get(
                SseClient.smallWindowClient(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events",
                Map.of()));
    slow.pause();
    await(
        Poll.until(
            vertx,
            () -> hub.get("/v1/generations/" + id).map(r -> r.bodyAsJsonObject()),
            status ->
                status.getString("status").equals("completed")
                    && status.getInteger("subscribers") == 0,
            10_000));

    slow.resume();
    assertTrue(
        await(slow.ended().map(v -> false).recover(e -> Future.succeededFuture(true)), 10),
        "the connection was broken off, not ended normally");
    List<SseEvent> before = slow.events().items();
    assertFalse(before.isEmpty() && before.get(before.size() - 1).terminal());
    String lastId = before.isEmpty() ? "0" : before.get(before.size() - 1).id();

    SseClient resumed =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/generations/" + id + "/events",
                Map.of("Last-Event-ID", lastId)));
    await(resumed.ended(), 30);
    List<SseEvent> all = new ArrayList<>(before);
    all.addAll(resumed.events().items());
    assertIncreasing(all);
    assertEquals(Long.parseLong(lastId) + 1, resumed.events().items().get(0).seq());
    assertEquals(MockText.text(TOKENS), SseEvent.text(all));
  }

  /**
   * Tokens of a session's answer: a session's delta event carries its message and generation ids,
   * about four times a generation's, so this is about as many bytes as {@link #TOKENS}.
   */
  private static final int SESSION_TOKENS = 60_000;

  /**
   * Chat sessions whose one answer is {@link #SESSION_TOKENS} mock tokens: a session's viewers ride
   * the same engine as a generation's, so they must pass the same tests.
   */
  private static Map<String, String> sessionsWith(Map<String, String> more) {
    Map<String, String> env = new HashMap<>(SMALL_QUEUE);
    env.put("TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", String.valueOf(SESSION_TOKENS));
    env.put("TOKENBUS_MOCK_TOKENS_PER_SECOND", "400000");
    env.put("TOKENBUS_SESSIONS_MAX_TRANSCRIPT_CHARS", "100000000");
    env.put("TOKENBUS_SESSIONS_PRESENCE_GRACE_SECONDS", "1");
    env.putAll(more);
    return env;
  }

  private static String createSession(TestHub hub) {
    var created = await(hub.post("/v1/sessions", new JsonObject().put("title", "slow")));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    return created.bodyAsJsonObject().getString("id");
  }

  private static void ask(TestHub hub, String session) {
    var posted =
        await(
            hub.post(
                "/v1/sessions/" + session + "/messages",
                new JsonObject().put("author", "Ann").put("content", "go")));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
  }

  private static boolean answerEnded(SseEvent event) {
    return event.event().equals("done")
        || event.event().equals("error")
        || event.event().equals("cancelled");
  }

  @Test
  @DisplayName(
      "a stalled session viewer delays neither the answer nor a fast viewer, then catches up merged, losing nothing")
  void stalledSessionViewerCatchesUpMerged(Vertx vertx) {
    // The stall limit well above the test's length: the slow viewer must catch up, not be closed.
    TestHub hub =
        await(
            TestHub.start(vertx, sessionsWith(Map.of("TOKENBUS_VIEWER_MAX_STALL_SECONDS", "120"))));
    String session = createSession(hub);
    String events = "/v1/sessions/" + session + "/events";
    SseClient slow =
        await(SseClient.get(SseClient.smallWindowClient(vertx), hub.port(), events, Map.of()));
    // Both have joined (their state is out) before the question: a viewer that joins later gets
    // the answer so far in its state's messages, not as deltas.
    await(slow.events().whenAny(e -> e.event().equals("state")), 10);
    slow.pause();
    SseClient fast = await(SseClient.get(SseClient.client(vertx), hub.port(), events, Map.of()));
    await(fast.events().whenAny(e -> e.event().equals("state")), 10);
    ask(hub, session);

    await(fast.events().whenAny(SlowViewerTest::answerEnded), 60);
    List<SseEvent> all = fast.events().items();
    assertIncreasing(all);
    assertEquals("done", all.get(all.size() - 1).event());
    assertEquals(MockText.text(SESSION_TOKENS), SseEvent.text(all));
    assertTrue(
        slow.events().items().stream().noneMatch(SlowViewerTest::answerEnded),
        "the slow viewer is still behind while the fast one has everything");

    slow.resume();
    await(slow.events().whenAny(SlowViewerTest::answerEnded), 60);
    List<SseEvent> caughtUp = slow.events().items();
    assertIncreasing(caughtUp);
    assertEquals(MockText.text(SESSION_TOKENS), SseEvent.text(caughtUp));
    assertEquals("done", caughtUp.get(caughtUp.size() - 1).event());
    assertEquals(all.get(all.size() - 1).seq(), caughtUp.get(caughtUp.size() - 1).seq());
    assertTrue(
        caughtUp.size() < SESSION_TOKENS / 2,
        "missed deltas were merged: "
            + caughtUp.size()
            + " events for "
            + SESSION_TOKENS
            + " tokens");
  }

  @Test
  @DisplayName(
      "a stalled WebSocket member of a session is woken when its socket drains and catches up"
          + " merged, losing nothing")
  void stalledSessionWebSocketCatchesUpMerged(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(vertx, sessionsWith(Map.of("TOKENBUS_VIEWER_MAX_STALL_SECONDS", "120"))));
    String session = createSession(hub);
    WsClient slow = await(WsClient.connectSmallWindow(vertx, hub.port()));
    await(
        slow.send(
            new JsonObject().put("type", "join").put("session", session).put("author", "Slow")));
    await(slow.frames().whenAny(f -> "state".equals(f.getString("type"))));
    slow.pause();
    SseClient fast =
        await(
            SseClient.get(
                SseClient.client(vertx),
                hub.port(),
                "/v1/sessions/" + session + "/events",
                Map.of()));
    ask(hub, session);
    SseEvent fastDone = await(fast.events().whenAny(SlowViewerTest::answerEnded), 60);
    assertTrue(
        slow.frames().items().stream().noneMatch(f -> "done".equals(f.getString("type"))),
        "the paused member is still behind while a fast viewer has everything");

    slow.resume();
    JsonObject done = await(slow.frames().whenAny(f -> "done".equals(f.getString("type"))), 90);
    assertEquals(fastDone.seq(), done.getLong("seq"));
    List<JsonObject> frames = slow.frames().items();
    assertEquals(MockText.text(SESSION_TOKENS), deltaText(frames));
    assertTrue(
        frames.size() < SESSION_TOKENS / 2,
        "missed deltas were merged: "
            + frames.size()
            + " frames for "
            + SESSION_TOKENS
            + " tokens");
  }

  @Test
  @DisplayName(
      "a session viewer stalled past viewer.max-stall-seconds is disconnected and resumes with Last-Event-ID")
  void stalledSessionViewerIsClosedAndResumes(Vertx vertx) {
    TestHub hub =
        await(TestHub.start(vertx, sessionsWith(Map.of("TOKENBUS_VIEWER_MAX_STALL_SECONDS", "1"))));
    String session = createSession(hub);
    String events = "/v1/sessions/" + session + "/events";
    SseClient slow =
        await(
            SseClient.get(
                SseClient.smallWindowClient(vertx), hub.port(), events + "?author=Slow", Map.of()));
    slow.pause();
    ask(hub, session);
    // The answer is over, and, closed by the stall limit, the slow viewer's author has left once
    // the reconnect grace ended.
    await(
        Poll.until(
            vertx,
            () -> hub.get("/v1/sessions/" + session).map(r -> r.bodyAsJsonObject()),
            state ->
                state.getValue("answering") == null
                    && state.getInteger("queued") == 0
                    && !state.getJsonArray("participants").contains("Slow"),
            30_000),
        40);

    slow.resume();
    assertTrue(
        await(slow.ended().map(v -> false).recover(e -> Future.succeededFuture(true)), 10),
        "the connection was broken off, not ended normally");
    List<SseEvent> before = slow.events().items();
    assertTrue(before.stream().noneMatch(SlowViewerTest::answerEnded));
    String lastId = before.get(before.size() - 1).id();

    SseClient resumed =
        await(
            SseClient.get(
                SseClient.client(vertx), hub.port(), events, Map.of("Last-Event-ID", lastId)));
    await(resumed.events().whenAny(SlowViewerTest::answerEnded), 60);
    List<SseEvent> all = new ArrayList<>(before);
    all.addAll(resumed.events().items());
    assertIncreasing(all);
    assertEquals(Long.parseLong(lastId) + 1, resumed.events().items().get(0).seq());
    assertEquals(MockText.text(SESSION_TOKENS), SseEvent.text(all));
  }
}
