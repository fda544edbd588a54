package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tokenbus.provider.MockText;
import io.tokenbus.support.Poll;
import io.tokenbus.support.ScriptedStore;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.NetClient;
import io.vertx.junit5.VertxExtension;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The log as a replicated store behaves: answers that come later, appends that fail. */
@ExtendWith(VertxExtension.class)
@DisplayName("A slow or failing generation log")
class StoreFaultsTest {

  private SseClient watch(Vertx vertx, TestHub hub, String id, Map<String, String> headers) {
    return await(
        SseClient.get(
            SseClient.client(vertx), hub.port(), "/v1/generations/" + id + "/events", headers));
  }

  @Test
  @DisplayName(
      "a non-streaming completion is answered from the events it saw, even when its generation is"
          + " evicted the moment it finishes")
  void evictedAtOnce(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).forgetFinished()));
    var answer = await(hub.post("/v1/chat/completions", TestHub.mockRequest(30, 1000)));
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
    var completion = answer.bodyAsJsonObject();
    assertEquals(
        MockText.text(30),
        completion
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("message")
            .getString("content"));
    assertEquals(
        "length", completion.getJsonArray("choices").getJsonObject(0).getString("finish_reason"));
    assertEquals(30, completion.getJsonObject("usage").getInteger("completion_tokens"));
  }

  @Test
  @DisplayName(
      "with every store answer delayed, fan-out, late join and resume still deliver each event once")
  void asynchronousStore(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).delay(3)));
    String id = await(hub.startGeneration(TestHub.mockRequest(120, 400)));
    HttpClientAgent client = SseClient.client(vertx);
    List<Future<SseClient>> opening = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      opening.add(SseClient.get(client, hub.port(), "/v1/generations/" + id + "/events", Map.of()));
    }
    SseClient dropping = watch(vertx, hub, id, Map.of());
    List<SseEvent> kept = new ArrayList<>(await(dropping.events().whenCount(40)).subList(0, 40));
    dropping.close();
    SseClient late = watch(vertx, hub, id, Map.of());
    SseClient resumed = watch(vertx, hub, id, Map.of("Last-Event-ID", "40"));
    for (Future<SseClient> f : opening) {
      SseClient viewer = await(f);
      await(viewer.ended());
      assertEquals(121, viewer.events().size());
      assertEquals(MockText.text(120), SseEvent.text(viewer.events().items()));
    }
    await(late.ended());
    assertEquals(MockText.text(120), SseEvent.text(late.events().items()));
    await(resumed.ended());
    kept.addAll(resumed.events().items());
    for (int i = 0; i < kept.size(); i++) {
      assertEquals(i + 1, kept.get(i).seq());
    }
  }

  @Test
  @DisplayName("a cursor beyond the log is a 400 even when the store answers later")
  void cursorCheckWithAsynchronousStore(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).delay(5)));
    String id = await(hub.startGeneration(TestHub.mockRequest(3, 1000)));
    await(watch(vertx, hub, id, Map.of()).ended());
    var response = await(hub.get("/v1/generations/" + id + "/events?after=99"), 5);
    assertEquals(400, response.statusCode());
    assertEquals(
        "invalid_cursor", response.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName(
      "an append refused once is retried, and the generation completes as if nothing happened")
  void refusedAppendIsRetried(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).failAppends(5, 3)));
    String id = await(hub.startGeneration(TestHub.mockRequest(50, 100)));
    SseClient live = watch(vertx, hub, id, Map.of());
    await(live.ended());
    List<SseEvent> events = live.events().items();
    assertEquals(51, events.size());
    assertEquals("done", events.get(50).event());
    assertEquals(MockText.text(50), SseEvent.text(events));
  }

  @Test
  @DisplayName(
      "an append refused past its retries ends the generation with an error at the next seq, for live and late viewers")
  void appendFailureEndsTheGeneration(Vertx vertx) {
    TestHub hub =
        await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).failAppends(5, 10)));
    String id = await(hub.startGeneration(TestHub.mockRequest(50, 100)));
    SseClient live = watch(vertx, hub, id, Map.of());
    await(live.ended());
    List<SseEvent> events = live.events().items();
    SseEvent last = events.get(events.size() - 1);
    assertEquals("error", last.event());
    assertEquals(events.size(), last.seq());
    assertEquals("internal_error", last.json().getString("code"));
    assertEquals(MockText.text((int) last.seq() - 1), SseEvent.text(events));
    JsonObject status = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("failed", status.getString("status"));
    SseClient late = watch(vertx, hub, id, Map.of());
    await(late.ended());
    assertEquals(events, late.events().items());
  }

  @Test
  @DisplayName(
      "an append applied but answered as failed: its retry counts as written, and live viewers match the log")
  void appendAppliedButAnsweredAsFailed(Vertx vertx) {
    TestHub hub =
        await(TestHub.start(vertx, Map.of(), new ScriptedStore(vertx).loseAppendAnswers(5, 1)));
    String id = await(hub.startGeneration(TestHub.mockRequest(50, 100)));
    SseClient live = watch(vertx, hub, id, Map.of());
    await(live.ended());
    SseClient late = watch(vertx, hub, id, Map.of());
    await(late.ended());
    assertEquals(
        late.events().items(),
        live.events().items(),
        "live viewers saw exactly what the log holds");
    List<SseEvent> events = late.events().items();
    assertEquals("done", events.get(events.size() - 1).event());
    assertEquals(51, events.size());
    for (int i = 0; i < events.size(); i++) {
      assertEquals(i + 1, events.get(i).seq());
    }
  }

  @Test
  @DisplayName(
      "when the log refuses even the error, live viewers are still told the generation ended")
  void logThatKeepsFailing(Vertx vertx) {
    TestHub hub =
        await(
            TestHub.start(
                vertx, Map.of(), new ScriptedStore(vertx).failAppends(5, Integer.MAX_VALUE)));
    String id = await(hub.startGeneration(TestHub.mockRequest(50, 100)));
    SseClient live = watch(vertx, hub, id, Map.of());
    await(live.ended());
    List<SseEvent> events = live.events().items();
    assertEquals("error", events.get(events.size() - 1).event());
  }

  @Test
  @DisplayName(
      "a client that leaves while its generation is starting leaves no viewer and no open stream behind")
  void clientGoneBeforeAttach(Vertx vertx) {
    ScriptedStore store = new ScriptedStore(vertx);
    TestHub hub = await(TestHub.start(vertx, Map.of(), store));
    store.delay(300);
    NetClient net = vertx.createNetClient();
    String body = TestHub.mockRequest(10_000, 50).put("stream", true).encode();
    var socket = await(net.connect(hub.port(), "127.0.0.1"));
    await(
        socket.write(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + body.getBytes(StandardCharsets.UTF_8).length
                + "\r\n\r\n"
                + body));
    await(socket.close()); // long before the (delayed) store lets the generation start
    String id = await(store.infoAnswered().whenCount(1), 10).get(0);
    store.delay(0);
    long seqAtAttach = await(hub.get("/v1/generations/" + id)).bodyAsJsonObject().getLong("seq");
    JsonObject later =
        await(
            Poll.until(
                vertx,
                () -> hub.get("/v1/generations/" + id).map(r -> r.bodyAsJsonObject()),
                s -> s.getLong("seq") >= seqAtAttach + 3,
                5000));
    assertEquals(0, later.getInteger("subscribers"), later.encode());
    assertEquals(0, await(hub.get("/health")).bodyAsJsonObject().getInteger("streams"));
    await(hub.post("/v1/generations/" + id + "/cancel", new JsonObject()));
  }
}
