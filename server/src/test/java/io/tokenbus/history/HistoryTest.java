package io.tokenbus.history;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.Poll;
import io.tokenbus.support.Postgres;
import io.tokenbus.support.SseClient;
import io.tokenbus.support.SseEvent;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The durable history on a real PostgreSQL started by the test: the schema migrated from empty,
 * sessions and finished generations that outlive the node, an answer cut by the node's end closed
 * as interrupted with its checkpoint, and a database that goes away and comes back.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("Durable history in PostgreSQL: migrations, restart, replay, outage")
class HistoryTest {

  private static Postgres pg;
  private String database;
  private final List<TestHub> hubs = new ArrayList<>();
  private HttpClientAgent client;

  @BeforeAll
  static void startPostgres() throws Exception {
    pg = Postgres.start();
  }

  @AfterAll
  static void stopPostgres() {
    if (pg != null) {
      pg.close();
    }
  }

  @BeforeEach
  void newDatabase(Vertx vertx) throws Exception {
    pg.restart(); // a test may have left it stopped
    database = pg.newDatabase();
    client = SseClient.client(vertx);
  }

  @AfterEach
  void closeHubs() {
    for (TestHub hub : hubs) {
      try {
        await(hub.node().close());
      } catch (RuntimeException | AssertionError e) {
        // closed already
      }
    }
  }

  private TestHub hub(Vertx vertx, String... env) {
    Map<String, String> all = new HashMap<>();
    all.put("TOKENBUS_DATABASE_URL", pg.url(database));
    all.put("TOKENBUS_DATABASE_CHECKPOINT_MS", "100");
    all.put("TOKENBUS_HTTP_DRAIN_SECONDS", "0");
    for (int i = 0; i < env.length; i += 2) {
      all.put(env[i], env[i + 1]);
    }
    // A Vert.x of its own, as a process has: closing the node closes it.
    TestHub hub = await(TestHub.start(Vertx.vertx(), all), 60);
    hubs.add(hub);
    return hub;
  }

  private String sql(String query) throws Exception {
    return pg.psql(database, query);
  }

  private static JsonObject created(HttpResponse<Buffer> response) {
    assertEquals(201, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject();
  }

  @Test
  @DisplayName("the schema is created from empty, once, by the first node; a second finds it")
  void migratesFromEmpty(Vertx vertx) throws Exception {
    assertEquals(
        "", sql("SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspname = 'tokenbus'"));
    hub(vertx);
    assertEquals(
        "generations,messages,sessions,usage",
        sql(
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables"
                + " WHERE table_schema = 'tokenbus' AND table_name <> 'flyway_schema_history'"));
    assertEquals(
        "1|t", sql("SELECT max(version), bool_and(success) FROM tokenbus.flyway_schema_history"));
    hub(vertx); // migrates nothing, fails nothing
    assertEquals(
        "1", sql("SELECT count(*) FROM tokenbus.flyway_schema_history WHERE version = '1'"));
  }

  @Test
  @DisplayName("a session's messages outlive the node; the answer cut off comes back interrupted")
  void sessionSurvivesRestart(Vertx vertx) throws Exception {
    TestHub first =
        hub(
            vertx,
            "TOKENBUS_MOCK_TOKENS_PER_SECOND",
            "100",
            "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
            "300");
    String id =
        created(await(first.post("/v1/sessions", new JsonObject().put("title", "Kept"))))
            .getString("id");
    assertEquals("Kept", sql("SELECT title FROM tokenbus.sessions WHERE id = '" + id + "'"));
    SseClient viewer =
        await(SseClient.get(client, first.port(), "/v1/sessions/" + id + "/events", Map.of()));
    var posted =
        await(
            first.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "ann").put("content", "first question")));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    // Acknowledged means committed: the row is there the moment the post answers.
    assertEquals(
        "first question",
        sql(
            "SELECT content FROM tokenbus.messages WHERE session_id = '"
                + id
                + "' AND role = 'user'"));
    await(viewer.events().whenAny(e -> "done".equals(e.event())), 30);
    String firstAnswer =
        answerText(viewer.events().items(), posted.bodyAsJsonObject().getString("answer"));
    assertFalse(firstAnswer.isEmpty());
    assertEquals(
        "completed|" + firstAnswer,
        sql(
            "SELECT status || '|' || content FROM tokenbus.messages WHERE id = '"
                + posted.bodyAsJsonObject().getString("answer")
                + "'"));

    // A second, slow answer, cut by the node's end once a checkpoint has some of its text.
    await(
        first.post(
            "/v1/sessions/" + id + "/messages",
            new JsonObject().put("author", "ann").put("content", "second question")));
    String slow = answerOf(id, first, 2);
    await(
        Poll.until(
            vertx,
            () ->
                sqlFuture(
                    vertx,
                    "SELECT length(content) FROM tokenbus.messages WHERE id = '" + slow + "'"),
            length -> !length.isEmpty() && Integer.parseInt(length) > 0,
            20_000));
    viewer.close();
    await(first.node().close());
    hubs.remove(first);

    TestHub second = hub(vertx);
    JsonObject session = await(second.get("/v1/sessions/" + id)).bodyAsJsonObject();
    JsonArray messages = session.getJsonArray("messages");
    assertEquals(4, messages.size(), session.encodePrettily());
    assertEquals("first question", messages.getJsonObject(0).getString("content"));
    assertEquals(firstAnswer, messages.getJsonObject(1).getString("content"));
    assertEquals("completed", messages.getJsonObject(1).getString("status"));
    JsonObject cut = messages.getJsonObject(3);
    assertEquals("interrupted", cut.getString("status"));
    assertFalse(cut.getString("content").isEmpty());
    assertEquals(
        "interrupted",
        await(
            Poll.until(
                vertx,
                () ->
                    sqlFuture(
                        vertx, "SELECT status FROM tokenbus.messages WHERE id = '" + slow + "'"),
                "interrupted"::equals,
                10_000)));
    assertEquals(null, session.getString("answering"));

    // The conversation goes on.
    SseClient again =
        await(SseClient.get(client, second.port(), "/v1/sessions/" + id + "/events", Map.of()));
    var third =
        await(
            second.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "ann").put("content", "third question")));
    assertEquals(202, third.statusCode(), third.bodyAsString());
    await(again.events().whenAny(e -> "done".equals(e.event())), 30);
    JsonArray after =
        await(second.get("/v1/sessions/" + id)).bodyAsJsonObject().getJsonArray("messages");
    assertEquals(6, after.size());
    assertEquals("completed", after.getJsonObject(5).getString("status"));
    // Its events are numbered past anything given before the restart.
    long seq = again.events().items().get(again.events().size() - 1).seq();
    assertTrue(seq > 1_000_000_000L, "seq " + seq);
    again.close();
  }

  private Future<String> sqlFuture(Vertx vertx, String query) {
    return vertx.executeBlocking(() -> sql(query));
  }

  /** The id of the {@code n}th assistant message of the session. */
  private static String answerOf(String id, TestHub hub, int n) {
    JsonArray messages =
        await(hub.get("/v1/sessions/" + id)).bodyAsJsonObject().getJsonArray("messages");
    int seen = 0;
    for (int i = 0; i < messages.size(); i++) {
      if (messages.getJsonObject(i).getString("role").equals("assistant") && ++seen == n) {
        return messages.getJsonObject(i).getString("id");
      }
    }
    throw new AssertionError("no answer " + n + " in " + messages.encode());
  }

  private static String answerText(List<SseEvent> events, String messageId) {
    StringBuilder text = new StringBuilder();
    for (SseEvent e : events) {
      if ("delta".equals(e.event()) && messageId.equals(e.json().getString("message_id"))) {
        text.append(e.json().getString("text"));
      }
    }
    return text.toString();
  }

  @Test
  @DisplayName("a finished generation is read, replayed and listed from the database after restart")
  void generationOutlivesNode(Vertx vertx) throws Exception {
    TestHub first = hub(vertx);
    String id =
        await(
            first.startGeneration(
                TestHub.mockRequest(30, 500).put("metadata", new JsonObject().put("app", "kept"))));
    SseClient live =
        await(SseClient.get(client, first.port(), "/v1/generations/" + id + "/events", Map.of()));
    List<SseEvent> seen =
        await(live.events().whenAny(SseEvent::terminal).map(e -> live.events().items()), 30);
    String text = SseEvent.text(seen);
    long lastSeq = seen.get(seen.size() - 1).seq();
    await(
        Poll.until(
            vertx,
            () ->
                sqlFuture(
                    vertx, "SELECT count(*) FROM tokenbus.generations WHERE id = '" + id + "'"),
            "1"::equals,
            10_000));
    await(first.node().close());
    hubs.remove(first);

    TestHub second = hub(vertx);
    JsonObject status = await(second.get("/v1/generations/" + id)).bodyAsJsonObject();
    assertEquals("completed", status.getString("status"), status.encode());
    assertEquals(text, status.getString("text"));
    assertEquals(lastSeq, status.getLong("seq"));
    assertEquals("kept", status.getJsonObject("metadata").getString("app"));
    assertNotNull(status.getJsonObject("usage"));

    SseClient replay =
        await(SseClient.get(client, second.port(), "/v1/generations/" + id + "/events", Map.of()));
    List<SseEvent> events =
        await(replay.events().whenAny(SseEvent::terminal).map(e -> replay.events().items()), 10);
    List<SseEvent> payload = events.stream().filter(e -> e.id() != null).toList();
    assertEquals(2, payload.size(), events.toString());
    assertEquals("delta", payload.get(0).event());
    assertEquals(lastSeq - 1, payload.get(0).seq());
    assertEquals(text, payload.get(0).json().getString("text"));
    assertEquals("done", payload.get(1).event());
    assertEquals(lastSeq, payload.get(1).seq());

    // Resuming from the middle gives exactly the rest.
    long middle = seen.stream().filter(e -> "delta".equals(e.event())).toList().get(5).seq();
    String had =
        SseEvent.text(seen.stream().filter(e -> e.id() != null && e.seq() <= middle).toList());
    SseClient resumed =
        await(
            SseClient.get(
                client,
                second.port(),
                "/v1/generations/" + id + "/events",
                Map.of("Last-Event-ID", Long.toString(middle))));
    List<SseEvent> rest =
        await(resumed.events().whenAny(SseEvent::terminal).map(e -> resumed.events().items()), 10);
    assertEquals(text, had + SseEvent.text(rest));

    JsonObject listed = await(second.get("/v1/generations?metadata.app=kept")).bodyAsJsonObject();
    assertEquals(1, listed.getJsonArray("data").size(), listed.encode());
    assertEquals(id, listed.getJsonArray("data").getJsonObject(0).getString("id"));
    assertEquals("completed", listed.getJsonArray("data").getJsonObject(0).getString("status"));
  }

  @Test
  @DisplayName("GET /v1/sessions lists from the database, per tenant; DELETE removes it everywhere")
  void sessionsListedAndDeleted(Vertx vertx) throws Exception {
    String acme = "sk-acme-0123456789abcdef";
    String beta = "sk-beta-0123456789abcdef";
    String[] env = {
      "TOKENBUS_API_KEYS",
      "acme:" + acme + ",beta:" + beta,
      "TOKENBUS_MOCK_TOKENS_PER_SECOND",
      "1000"
    };
    TestHub first = hub(vertx, env);
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      ids.add(
          created(
                  await(
                      first
                          .web()
                          .post("/v1/sessions")
                          .bearerTokenAuthentication(acme)
                          .sendJsonObject(new JsonObject().put("title", "acme " + i))))
              .getString("id"));
    }
    String theirs =
        created(
                await(
                    first
                        .web()
                        .post("/v1/sessions")
                        .bearerTokenAuthentication(beta)
                        .sendJsonObject(new JsonObject().put("title", "beta"))))
            .getString("id");
    HttpResponse<Buffer> posted =
        await(
            first
                .web()
                .post("/v1/sessions/" + ids.get(0) + "/messages")
                .bearerTokenAuthentication(acme)
                .sendJsonObject(new JsonObject().put("author", "ann").put("content", "hello")));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    await(first.node().close());
    hubs.remove(first);

    TestHub second = hub(vertx, env);
    JsonObject listed =
        await(second.web().get("/v1/sessions").bearerTokenAuthentication(acme).send())
            .bodyAsJsonObject();
    JsonArray data = listed.getJsonArray("data");
    assertEquals(3, data.size(), listed.encode());
    List<String> newestFirst = new ArrayList<>();
    data.forEach(item -> newestFirst.add(((JsonObject) item).getString("id")));
    assertTrue(newestFirst.containsAll(ids));
    JsonObject withMessages =
        data.stream()
            .map(JsonObject.class::cast)
            .filter(item -> item.getString("id").equals(ids.get(0)))
            .findFirst()
            .orElseThrow();
    assertTrue(withMessages.getInteger("message_count") >= 1, withMessages.encode());
    assertNotNull(withMessages.getLong("last_message_at"));
    JsonArray betas =
        await(second.web().get("/v1/sessions").bearerTokenAuthentication(beta).send())
            .bodyAsJsonObject()
            .getJsonArray("data");
    assertEquals(1, betas.size());
    assertEquals(theirs, betas.getJsonObject(0).getString("id"));

    HttpResponse<Buffer> deleted =
        await(
            second
                .web()
                .delete("/v1/sessions/" + ids.get(0))
                .bearerTokenAuthentication(acme)
                .send());
    assertEquals(204, deleted.statusCode(), deleted.bodyAsString());
    assertEquals(
        "0", sql("SELECT count(*) FROM tokenbus.sessions WHERE id = '" + ids.get(0) + "'"));
    assertEquals(
        "0", sql("SELECT count(*) FROM tokenbus.messages WHERE session_id = '" + ids.get(0) + "'"));
    // Another tenant's session is not theirs to delete, whether in memory or not.
    assertEquals(
        404,
        await(second.web().delete("/v1/sessions/" + theirs).bearerTokenAuthentication(acme).send())
            .statusCode());
    await(second.node().close());
    hubs.remove(second);

    TestHub third = hub(vertx, env);
    assertEquals(
        404,
        await(third.web().get("/v1/sessions/" + ids.get(0)).bearerTokenAuthentication(acme).send())
            .statusCode());
    assertEquals(
        2,
        await(third.web().get("/v1/sessions").bearerTokenAuthentication(acme).send())
            .bodyAsJsonObject()
            .getJsonArray("data")
            .size());
  }

  @Test
  @DisplayName("a session rebuilt twice numbers its events past everything given before")
  void rebuiltTwice(Vertx vertx) throws Exception {
    String[] env = {"TOKENBUS_MOCK_TOKENS_PER_SECOND", "1000"};
    TestHub first = hub(vertx, env);
    String id = created(await(first.post("/v1/sessions", new JsonObject()))).getString("id");
    await(
        first.post(
            "/v1/sessions/" + id + "/messages",
            new JsonObject().put("author", "ann").put("content", "one")));
    await(first.node().close());
    hubs.remove(first);

    TestHub second = hub(vertx, env);
    // Seen after the first rebuild: a presence event, which the history does not keep.
    SseClient viewer =
        await(SseClient.get(client, second.port(), "/v1/sessions/" + id + "/events", Map.of()));
    await(viewer.events().whenAny(e -> "state".equals(e.event())), 10);
    SseClient bob =
        await(
            SseClient.get(
                client, second.port(), "/v1/sessions/" + id + "/events?author=bob", Map.of()));
    SseEvent joined =
        await(viewer.events().whenAny(e -> "presence".equals(e.event()) && e.id() != null), 10);
    viewer.close();
    bob.close();
    await(second.node().close());
    hubs.remove(second);

    TestHub third = hub(vertx, env);
    SseClient resumed =
        await(
            SseClient.get(
                client,
                third.port(),
                "/v1/sessions/" + id + "/events",
                Map.of("Last-Event-ID", joined.id())));
    var posted =
        await(
            third.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "ann").put("content", "two")));
    assertEquals(202, posted.statusCode());
    // The resumed client is given the new question, not skipped past it.
    SseEvent question =
        await(
            resumed
                .events()
                .whenAny(
                    e ->
                        "message".equals(e.event())
                            && "two"
                                .equals(e.json().getJsonObject("message").getString("content"))),
            10);
    assertTrue(question.seq() > joined.seq(), question.seq() + " after " + joined.seq());
    resumed.close();
  }

  @Test
  @DisplayName("text PostgreSQL cannot hold (U+0000) is kept with a replacement, not lost")
  void nulCharacters(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx);
    String id = created(await(hub.post("/v1/sessions", new JsonObject()))).getString("id");
    var posted =
        await(
            hub.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "ann").put("content", "a\u0000b")));
    assertEquals(202, posted.statusCode(), posted.bodyAsString());
    assertEquals(
        "a\ufffdb",
        sql(
            "SELECT content FROM tokenbus.messages WHERE session_id = '"
                + id
                + "' AND role = 'user'"));
    assertEquals(
        "1",
        sql(
            "SELECT count(*) FROM tokenbus.messages WHERE session_id = '"
                + id
                + "' AND role = 'assistant'"));
  }

  @Test
  @DisplayName("a session in use is never expired in the database before it expires in memory")
  void keptAliveWhileUsed(Vertx vertx) throws Exception {
    TestHub hub = hub(vertx, "TOKENBUS_SESSIONS_UNUSED_EXPIRY_SECONDS", "10");
    String id = created(await(hub.post("/v1/sessions", new JsonObject()))).getString("id");
    // The live expiry is 10 s from the last change; the database's at least a minute past it.
    long seconds =
        Long.parseLong(
            sql(
                "SELECT extract(epoch FROM expires_at - now())::bigint FROM tokenbus.sessions"
                    + " WHERE id = '"
                    + id
                    + "'"));
    assertTrue(seconds >= 65, seconds + " s");
  }

  @Test
  @DisplayName("a tenant's day of tokens outlives every node: its quota still holds after restart")
  void quotaOutlivesNode(Vertx vertx) throws Exception {
    String[] env = {
      "TOKENBUS_API_KEYS", "acme:sk-acme-0123456789abcdef",
      "TOKENBUS_LIMITS_COMPLETION_TOKENS_PER_DAY", "30"
    };
    TestHub first = hub(vertx, env);
    HttpResponse<Buffer> used =
        await(
            first
                .web()
                .post("/v1/chat/completions")
                .bearerTokenAuthentication("sk-acme-0123456789abcdef")
                .sendJsonObject(TestHub.mockRequest(30, 1000).put("stream", false)));
    assertEquals(200, used.statusCode(), used.bodyAsString());
    assertEquals(
        30, used.bodyAsJsonObject().getJsonObject("usage").getInteger("completion_tokens"));
    await(
        Poll.until(
            vertx,
            () ->
                sqlFuture(
                    vertx, "SELECT completion_tokens FROM tokenbus.usage WHERE tenant = 'acme'"),
            "30"::equals,
            10_000));
    await(first.node().close());
    hubs.remove(first);

    TestHub second = hub(vertx, env);
    // The first request reads the day's count in; from then on the quota is spent.
    HttpResponse<Buffer> refused =
        await(
            Poll.until(
                vertx,
                () ->
                    second
                        .web()
                        .post("/v1/chat/completions")
                        .bearerTokenAuthentication("sk-acme-0123456789abcdef")
                        .sendJsonObject(TestHub.mockRequest(1, 1000).put("stream", false)),
                r -> r.statusCode() == 429,
                10_000));
    assertEquals(
        "quota_exceeded", refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
  }

  @Test
  @DisplayName("with the database down, posts wait, then land when it returns; past the bound, 503")
  void databaseOutage(Vertx vertx) throws Exception {
    // Four writes at most: the test's client keeps five connections, one left for the checks.
    TestHub hub = hub(vertx, "TOKENBUS_DATABASE_MAX_QUEUED_WRITES", "4");
    String id = created(await(hub.post("/v1/sessions", new JsonObject()))).getString("id");
    pg.stop();
    Future<HttpResponse<Buffer>> waiting =
        hub.post(
            "/v1/sessions/" + id + "/messages",
            new JsonObject().put("author", "ann").put("content", "while it is away"));
    List<Future<HttpResponse<Buffer>>> creations = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      creations.add(hub.post("/v1/sessions", new JsonObject().put("title", "t" + i)));
    }
    JsonObject health =
        await(
            Poll.until(
                vertx,
                () -> hub.get("/health/ready").map(r -> r.bodyAsJsonObject()),
                h -> historyCheck(h).getJsonObject("data").getInteger("queued_writes") >= 4,
                10_000));
    assertFalse(historyCheck(health).getJsonObject("data").getBoolean("reachable"));
    assertFalse(waiting.isComplete(), "a post is acknowledged only once committed");
    HttpResponse<Buffer> refused = await(hub.post("/v1/sessions", new JsonObject()));
    assertEquals(503, refused.statusCode(), refused.bodyAsString());
    assertEquals(
        "database_unavailable",
        refused.bodyAsJsonObject().getJsonObject("error").getString("code"));
    assertNotNull(refused.getHeader("Retry-After"));

    pg.restart();
    assertEquals(202, await(waiting, 30).statusCode());
    for (Future<HttpResponse<Buffer>> creation : creations) {
      assertEquals(201, await(creation, 30).statusCode());
    }
    assertEquals("4", sql("SELECT count(*) FROM tokenbus.sessions"));
    assertEquals(
        "while it is away",
        sql(
            "SELECT content FROM tokenbus.messages WHERE session_id = '"
                + id
                + "' AND role = 'user'"));
    JsonObject drained =
        await(
            Poll.until(
                vertx,
                () -> hub.get("/health/ready").map(r -> r.bodyAsJsonObject()),
                h -> historyCheck(h).getJsonObject("data").getInteger("queued_writes") == 0,
                10_000));
    assertTrue(historyCheck(drained).getJsonObject("data").getBoolean("reachable"));
  }

  @Test
  @DisplayName(
      "with the database away mid-answer, tokens stream on; the session's done waits for it")
  void streamingGoesOnWithoutTheDatabase(Vertx vertx) throws Exception {
    TestHub hub =
        hub(
            vertx,
            "TOKENBUS_MOCK_TOKENS_PER_SECOND",
            "50",
            "TOKENBUS_MOCK_DEFAULT_MAX_TOKENS",
            "40");
    String id = created(await(hub.post("/v1/sessions", new JsonObject()))).getString("id");
    SseClient viewer =
        await(SseClient.get(client, hub.port(), "/v1/sessions/" + id + "/events", Map.of()));
    var posted =
        await(
            hub.post(
                "/v1/sessions/" + id + "/messages",
                new JsonObject().put("author", "ann").put("content", "a question")));
    assertEquals(202, posted.statusCode());
    await(viewer.events().whenAny(e -> "delta".equals(e.event())), 10);
    pg.stop();
    int before = viewer.events().size();
    // Tokens keep coming while the database is away...
    await(viewer.events().when(events -> events.size() > before + 5), 10);
    // ...to the end of the answer, whose generation ends: the session's done waits for the commit.
    String generation = posted.bodyAsJsonObject().getString("generation");
    await(
        Poll.until(
            vertx,
            () -> hub.get("/v1/generations/" + generation).map(r -> r.bodyAsJsonObject()),
            status -> "completed".equals(status.getString("status")),
            10_000));
    assertFalse(
        viewer.events().items().stream().anyMatch(e -> "done".equals(e.event())),
        "done before the answer was kept");
    pg.restart();
    await(viewer.events().whenAny(e -> "done".equals(e.event())), 30);
    String answer = posted.bodyAsJsonObject().getString("answer");
    assertEquals(
        "completed|" + answerText(viewer.events().items(), answer),
        sql("SELECT status || '|' || content FROM tokenbus.messages WHERE id = '" + answer + "'"));
    viewer.close();
  }

  private static JsonObject historyCheck(JsonObject health) {
    for (Object check : health.getJsonArray("checks")) {
      if (((JsonObject) check).getString("id").equals("history")) {
        return (JsonObject) check;
      }
    }
    throw new AssertionError("no history check in " + health.encode());
  }
}
