package io.tokenbus.history;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.Poll;
import io.tokenbus.support.Postgres;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The whole cluster dies at once (three real processes, SIGKILL) while answers stream, and a fresh
 * cluster on the same PostgreSQL carries on: every session comes back with the text its viewers
 * saw, the answers cut off come back interrupted with their last checkpoint, the conversations go
 * on, and every finished generation is still read and replayed.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 300, timeUnit = TimeUnit.SECONDS)
@DisplayName("Full restart of a three-process cluster on the durable history")
class FullRestartIT {

  /** A session's answer: 60 mock tokens at 15 a second, about four seconds. */
  private static final int ANSWER_TOKENS = 60;

  private static final int TOKENS_PER_SECOND = 15;
  private static final int SESSIONS = 3;

  /** Sessions whose second answer is cut by the restart; the others end their first answer. */
  private static final int INTERRUPTED = 2;

  private final List<NodeProcess> nodes = new ArrayList<>();
  private final List<SseClient> streams = new ArrayList<>();
  private Postgres pg;
  private String database;
  private HttpClientAgent client;
  private final Map<NodeProcess, WebClient> webs = new HashMap<>();

  @AfterEach
  void cleanUp() throws InterruptedException {
    try {
      streams.forEach(FullRestartIT::quietly);
      nodes.forEach(NodeProcess::close); // every one SIGKILLed before waiting for any
      for (NodeProcess node : nodes) {
        node.kill();
      }
    } finally {
      if (pg != null) {
        pg.close();
      }
    }
  }

  private static void quietly(SseClient stream) {
    try {
      stream.close();
    } catch (RuntimeException e) {
      // its node is gone already
    }
  }

  /** One session as its viewers saw it before the restart. */
  private static final class Watched {
    final String id;
    final List<String> questions = new ArrayList<>();
    final List<String> answerIds = new ArrayList<>();
    final List<String> answers = new ArrayList<>();
    final List<String> generations = new ArrayList<>();
    final List<SseClient> viewers = new ArrayList<>();

    Watched(String id) {
      this.id = id;
    }
  }

  /** A finished generation as seen before the restart: its text and its terminal event's seq. */
  private record Finished(String id, String text, long seq) {}

  @Test
  @DisplayName(
      "SIGKILL of every node mid-answer: a fresh cluster restores every session and generation")
  void everyNodeKilledMidAnswer(Vertx vertx) throws Exception {
    pg = Postgres.start();
    database = pg.newDatabase();
    client = SseClient.client(vertx);
    TestCluster before = new TestCluster(3);
    List<NodeProcess> first = startNodes("before", i -> before.env(i, history()));

    // Sessions created on different nodes, each watched from the other two.
    List<Watched> sessions = new ArrayList<>();
    for (int s = 0; s < SESSIONS; s++) {
      JsonObject created =
          body(
              await(
                  web(vertx, first.get(s))
                      .post("/v1/sessions")
                      .sendJsonObject(new JsonObject().put("title", "chat " + s)),
                  20,
                  "creating session " + s),
              201);
      Watched session = new Watched(created.getString("id"));
      for (int v = 1; v <= 2; v++) {
        session.viewers.add(watch(first.get((s + v) % 3), session.id));
      }
      sessions.add(session);
    }

    // One question and answer in each, and two plain generations, all at once.
    List<String> firstAnswers = new ArrayList<>();
    for (int s = 0; s < SESSIONS; s++) {
      firstAnswers.add(ask(vertx, first.get(s), sessions.get(s), "first question of " + s));
    }
    JsonObject posted =
        body(
            await(
                web(vertx, first.get(1))
                    .post("/v1/generations")
                    .sendJsonObject(TestHub.mockRequest(40, 30)),
                20,
                "starting a generation"),
            201);
    SseClient generationViewer =
        await(
            SseClient.get(
                client,
                first.get(2).httpPort(),
                "/v1/generations/" + posted.getString("id") + "/events",
                Map.of()),
            20,
            "watching the generation");
    streams.add(generationViewer);
    Future<HttpResponse<Buffer>> completion =
        web(vertx, first.get(2))
            .post("/v1/chat/completions")
            .sendJsonObject(TestHub.mockRequest(30, 30).put("stream", false));

    for (int s = 0; s < SESSIONS; s++) {
      Watched session = sessions.get(s);
      String text = finishedAnswer(session, firstAnswers.get(s));
      session.answers.add(text);
    }
    List<Finished> finished = new ArrayList<>();
    List<SseEvent> seen =
        await(
            generationViewer
                .events()
                .whenAny(SseEvent::terminal)
                .map(e -> generationViewer.events().items()),
            30,
            "the generation's end");
    SseEvent end = seen.get(seen.size() - 1);
    assertEquals("done", end.event(), seen.toString());
    finished.add(new Finished(posted.getString("id"), SseEvent.text(seen), end.seq()));
    JsonObject completed = body(await(completion, 30, "the chat completion"), 200);
    String completionText =
        completed
            .getJsonArray("choices")
            .getJsonObject(0)
            .getJsonObject("message")
            .getString("content");
    assertFalse(completionText.isEmpty());
    // The answers of the sessions are generations too: as their status says before the restart.
    List<String> generationIds = new ArrayList<>();
    generationIds.add(completed.getString("id"));
    sessions.forEach(s -> generationIds.addAll(s.generations));
    for (String id : generationIds) {
      JsonObject status = status(vertx, first.get(0), id);
      assertEquals("completed", status.getString("status"), status.encode());
      finished.add(new Finished(id, status.getString("text"), status.getLong("seq")));
    }
    assertEquals(completionText, finished.get(1).text());
    JsonObject plain = status(vertx, first.get(0), finished.get(0).id());
    assertEquals(finished.get(0).text(), plain.getString("text"));
    assertEquals(finished.get(0).seq(), plain.getLong("seq"));
    // A finished generation's record is written after its end, not before anyone hears of it.
    String ids = finished.stream().map(f -> "'" + f.id() + "'").collect(Collectors.joining(","));
    await(
        Poll.until(
            vertx,
            () -> sql(vertx, "SELECT count(*) FROM tokenbus.generations WHERE id IN (" + ids + ")"),
            count -> count.equals(Integer.toString(finished.size())),
            20_000),
        30,
        "the finished generations in the database");

    // A second question in some sessions, cut mid-answer once its viewers have some of its text
    // and a checkpoint has written some.
    List<String> cut = new ArrayList<>();
    for (int s = 0; s < INTERRUPTED; s++) {
      cut.add(ask(vertx, first.get((s + 1) % 3), sessions.get(s), "second question of " + s));
    }
    for (int s = 0; s < INTERRUPTED; s++) {
      String answer = cut.get(s);
      for (SseClient viewer : sessions.get(s).viewers) {
        await(
            viewer.events().when(events -> answerText(events, answer).length() >= 20),
            20,
            "some of answer " + answer);
      }
      await(
          Poll.until(
              vertx,
              () ->
                  sql(
                      vertx,
                      "SELECT length(content) FROM tokenbus.messages WHERE id = '" + answer + "'"),
              length -> !length.isEmpty() && Integer.parseInt(length) > 0,
              20_000),
          30,
          "a checkpoint of " + answer);
    }
    for (NodeProcess node : first) {
      node.close(); // SIGKILL to every node before waiting for any: no node outlives another
    }
    for (NodeProcess node : first) {
      node.kill();
    }
    for (int s = 0; s < INTERRUPTED; s++) {
      Watched session = sessions.get(s);
      String answer = cut.get(s);
      String saw = null;
      for (SseClient viewer : session.viewers) {
        await(viewer.ended().recover(e -> Future.succeededFuture()), 30, "a viewer cut off");
        List<SseEvent> events = viewer.events().items();
        assertTrue(
            events.stream()
                .noneMatch(e -> e.terminal() && answer.equals(e.json().getString("message_id"))),
            "answer " + answer + " ended before the nodes were killed: make it longer");
        String text = answerText(events, answer);
        // The longest text a viewer saw: a viewer on another node may be a few tokens behind.
        saw = saw == null || text.length() > saw.length() ? text : saw;
      }
      session.answers.add(saw);
    }

    // A fresh cluster on the same database: same name and secret, new ports (the old ones may
    // linger in TIME_WAIT).
    TestCluster ports = new TestCluster(3);
    List<NodeProcess> after = startNodes("after", i -> restartEnv(before, ports, i));

    // Every session asked for on every node at once: the first use rebuilds it, once.
    for (int s = 0; s < SESSIONS; s++) {
      Watched session = sessions.get(s);
      List<Future<HttpResponse<Buffer>>> reads = new ArrayList<>();
      for (NodeProcess node : after) {
        reads.add(web(vertx, node).get("/v1/sessions/" + session.id).send());
      }
      for (int n = 0; n < reads.size(); n++) {
        JsonObject view = body(await(reads.get(n), 30, "session " + s + " on node " + n), 200);
        assertRestored(session, s < INTERRUPTED, view);
      }
    }
    for (int s = 0; s < INTERRUPTED; s++) {
      String answer = cut.get(s);
      assertEquals(
          "interrupted",
          await(
              Poll.until(
                  vertx,
                  () ->
                      sql(
                          vertx,
                          "SELECT status FROM tokenbus.messages WHERE id = '" + answer + "'"),
                  "interrupted"::equals,
                  10_000),
              20,
              "answer " + answer + " interrupted in the database"));
    }

    // The conversations go on, watched from another node than the one posted to.
    for (int s = 0; s < SESSIONS; s++) {
      Watched session = sessions.get(s);
      session.viewers.clear();
      session.viewers.add(watch(after.get((s + 1) % 3), session.id));
      String answer = ask(vertx, after.get(s), session, "question after the restart, " + s);
      String text = finishedAnswer(session, answer);
      JsonObject view =
          body(
              await(web(vertx, after.get((s + 2) % 3)).get("/v1/sessions/" + session.id).send()),
              200);
      assertNull(view.getString("answering"), view.encode());
      JsonArray messages = view.getJsonArray("messages");
      JsonObject last = messages.getJsonObject(messages.size() - 1);
      assertEquals(answer, last.getString("id"));
      assertEquals("completed", last.getString("status"), last.encode());
      assertEquals(text, last.getString("content"));
      assertEquals(
          "question after the restart, " + s,
          messages.getJsonObject(messages.size() - 2).getString("content"));
      assertEquals(2 * session.questions.size(), messages.size(), view.encodePrettily());
    }

    // Every finished generation, read and replayed from the database on a fresh node.
    for (int g = 0; g < finished.size(); g++) {
      Finished generation = finished.get(g);
      NodeProcess node = after.get(g % 3);
      JsonObject status = status(vertx, node, generation.id());
      assertEquals("completed", status.getString("status"), status.encode());
      assertEquals(generation.text(), status.getString("text"), generation.id());
      assertEquals(generation.seq(), status.getLong("seq"), generation.id());
      SseClient replay =
          await(
              SseClient.get(
                  client,
                  node.httpPort(),
                  "/v1/generations/" + generation.id() + "/events",
                  Map.of()),
              20,
              "replaying " + generation.id());
      streams.add(replay);
      List<SseEvent> events =
          await(
              replay.events().whenAny(SseEvent::terminal).map(e -> replay.events().items()),
              20,
              "the replay of " + generation.id());
      SseEvent terminal = events.get(events.size() - 1);
      assertEquals("done", terminal.event(), events.toString());
      assertEquals(generation.seq(), terminal.seq(), events.toString());
      assertEquals(generation.text(), SseEvent.text(events), generation.id());
    }
  }

  /**
   * The session as a fresh node gives it: each question as posted, each finished answer exactly as
   * its viewers saw it, and an answer cut by the restart interrupted with a beginning of it.
   */
  private static void assertRestored(Watched session, boolean cut, JsonObject view) {
    String context = session.id + ": " + view.encodePrettily();
    assertNull(view.getString("answering"), context);
    JsonArray messages = view.getJsonArray("messages");
    assertEquals(2 * session.questions.size(), messages.size(), context);
    for (int q = 0; q < session.questions.size(); q++) {
      JsonObject question = messages.getJsonObject(2 * q);
      JsonObject answer = messages.getJsonObject(2 * q + 1);
      assertEquals("user", question.getString("role"), context);
      assertEquals(session.questions.get(q), question.getString("content"), context);
      assertEquals("assistant", answer.getString("role"), context);
      // Every mock answer has the same text: the ids tell one from another.
      assertEquals(session.answerIds.get(q), answer.getString("id"), context);
      assertEquals(session.generations.get(q), answer.getString("generation"), context);
      assertEquals(question.getString("id"), answer.getString("reply_to"), context);
      String saw = session.answers.get(q);
      if (cut && q == session.questions.size() - 1) {
        assertEquals("interrupted", answer.getString("status"), context);
        String kept = answer.getString("content");
        assertFalse(kept.isEmpty(), context);
        // The checkpoint reads the committed log, which may hold a batch that the kill cut off
        // before it was published: it and what the viewers saw are both beginnings of the whole
        // answer (every mock answer is the same text: the first one, finished, is it whole).
        String whole = session.answers.get(0);
        assertTrue(
            whole.startsWith(kept) && (saw.startsWith(kept) || kept.startsWith(saw)),
            "the checkpoint and what the viewers saw are beginnings of the answer: kept «"
                + kept
                + "», seen «"
                + saw
                + "»");
      } else {
        assertEquals("completed", answer.getString("status"), context);
        assertEquals(saw, answer.getString("content"), context);
      }
    }
  }

  /** The database and a mock slow enough that an answer lasts seconds. */
  private Map<String, String> history() {
    Map<String, String> env = new LinkedHashMap<>();
    env.put("TOKENBUS_DATABASE_URL", pg.url(database));
    env.put("TOKENBUS_DATABASE_CHECKPOINT_MS", "200");
    env.put("TOKENBUS_MOCK_TOKENS_PER_SECOND", Integer.toString(TOKENS_PER_SECOND));
    env.put("TOKENBUS_MOCK_DEFAULT_MAX_TOKENS", Integer.toString(ANSWER_TOKENS));
    return env;
  }

  /** Node {@code i} of the cluster {@code before}, on the Hazelcast ports of {@code ports}. */
  private Map<String, String> restartEnv(TestCluster before, TestCluster ports, int i) {
    Map<String, String> env = before.env(i, history());
    Map<String, String> fresh = ports.env(i);
    env.put("TOKENBUS_CLUSTER_PORT", fresh.get("TOKENBUS_CLUSTER_PORT"));
    env.put("TOKENBUS_CLUSTER_MEMBERS", fresh.get("TOKENBUS_CLUSTER_MEMBERS"));
    return env;
  }

  private List<NodeProcess> startNodes(String name, IntFunction<Map<String, String>> env)
      throws Exception {
    List<NodeProcess> started = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      NodeProcess node = NodeProcess.start(name + "-" + (char) ('a' + i), env.apply(i));
      nodes.add(node);
      started.add(node);
      await(node.ready(), 90, node.name() + " ready"); // one after another, as Hazelcast prefers
    }
    return started;
  }

  private SseClient watch(NodeProcess node, String session) {
    SseClient viewer =
        await(
            SseClient.get(client, node.httpPort(), "/v1/sessions/" + session + "/events", Map.of()),
            20,
            "watching " + session + " on " + node.name());
    streams.add(viewer);
    await(viewer.events().whenAny(e -> "state".equals(e.event())), 20, "the state of " + session);
    return viewer;
  }

  /** Posts a question; the id of the answer started for it (none may wait in a queue here). */
  private String ask(Vertx vertx, NodeProcess node, Watched session, String question) {
    JsonObject posted =
        body(
            await(
                web(vertx, node)
                    .post("/v1/sessions/" + session.id + "/messages")
                    .sendJsonObject(new JsonObject().put("author", "ann").put("content", question)),
                20,
                "posting to " + session.id),
            202);
    assertFalse(posted.getBoolean("queued"), posted.encode());
    session.questions.add(question);
    session.generations.add(posted.getString("generation"));
    session.answerIds.add(posted.getString("answer"));
    return posted.getString("answer");
  }

  /** Waits for every viewer of the session to see the answer end; the text they all saw. */
  private static String finishedAnswer(Watched session, String answer) {
    String text = null;
    for (SseClient viewer : session.viewers) {
      List<SseEvent> events =
          await(
              viewer
                  .events()
                  .when(
                      all ->
                          all.stream()
                              .anyMatch(
                                  e ->
                                      e.terminal()
                                          && answer.equals(e.json().getString("message_id")))),
              30,
              "the end of answer " + answer);
      SseEvent end =
          events.stream()
              .filter(e -> e.terminal() && answer.equals(e.json().getString("message_id")))
              .findFirst()
              .orElseThrow();
      assertEquals("done", end.event(), end.data());
      String seen = answerText(events, answer);
      assertFalse(seen.isEmpty(), "answer " + answer + " has text");
      if (text != null) {
        assertEquals(text, seen, "every viewer saw the same answer " + answer);
      }
      text = seen;
    }
    return text;
  }

  /** The text of one answer in a session's events, as a client builds it. */
  private static String answerText(List<SseEvent> events, String messageId) {
    StringBuilder text = new StringBuilder();
    for (SseEvent e : events) {
      if (("delta".equals(e.event()) || "reset".equals(e.event()))
          && messageId.equals(e.json().getString("message_id"))) {
        if ("reset".equals(e.event())) {
          text.setLength(0);
        } else {
          text.append(e.json().getString("text"));
        }
      }
    }
    return text.toString();
  }

  private JsonObject status(Vertx vertx, NodeProcess node, String id) {
    return body(
        await(
            web(vertx, node).get("/v1/generations/" + id).send(),
            20,
            "generation " + id + " on " + node.name()),
        200);
  }

  private static JsonObject body(HttpResponse<Buffer> response, int status) {
    assertEquals(status, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject();
  }

  private Future<String> sql(Vertx vertx, String query) {
    return vertx.executeBlocking(() -> pg.psql(database, query));
  }

  /** One client per node, held: Vert.x closes a client nobody holds, even mid-request. */
  private WebClient web(Vertx vertx, NodeProcess node) {
    return webs.computeIfAbsent(
        node,
        n ->
            WebClient.create(
                vertx,
                new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(n.httpPort())));
  }
}
