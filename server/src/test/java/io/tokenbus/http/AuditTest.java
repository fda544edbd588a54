package io.tokenbus.http;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tokenbus.support.Poll;
import io.tokenbus.support.TestHub;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.junit5.VertxExtension;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.LoggerFactory;

/** The audit trail: a line per generation start and end, naming the credential, never a secret. */
@ExtendWith(VertxExtension.class)
@DisplayName("Audit log")
class AuditTest {

  private static final String ACME = "sk-acme-1234567890abcdef";

  private final ListAppender<ILoggingEvent> everything = new ListAppender<>();
  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);

  @BeforeEach
  void capture() {
    everything.start();
    root.addAppender(everything);
  }

  @AfterEach
  void release() {
    root.detachAppender(everything);
  }

  private synchronized List<String> lines() {
    synchronized (everything.list) {
      return everything.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  @Test
  @DisplayName(
      "a generation's start and end are logged with tenant, credential, model and status; no key"
          + " or token reaches any log line")
  void startAndEnd(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_API_KEYS", "acme:" + ACME)));
    var created =
        await(
            hub.web()
                .post("/v1/generations")
                .putHeader("Authorization", "Bearer " + ACME)
                .sendJsonObject(TestHub.mockRequest(3, 1000).put("model", "mock-x\nforged line")));
    assertEquals(201, created.statusCode(), created.bodyAsString());
    String id = created.bodyAsJsonObject().getString("id");
    String watch = created.bodyAsJsonObject().getString("watch_token");
    await(
        hub.web()
            .get("/v1/generations/" + id + "?access_token=" + watch)
            .send()
            .compose(r -> Future.succeededFuture()));
    await(
        Poll.until(
            vertx,
            () -> Future.succeededFuture(lines()),
            l -> l.stream().anyMatch(line -> line.startsWith("generation ended id=\"" + id)),
            10_000));
    String started =
        lines().stream()
            .filter(l -> l.startsWith("generation started id=\"" + id))
            .findFirst()
            .orElseThrow();
    assertTrue(started.contains("tenant=\"acme\" credential=\"acme#1\""), started);
    assertTrue(started.contains("model=\"mock-xforged line\""), "no line break: " + started);
    String ended =
        lines().stream()
            .filter(l -> l.startsWith("generation ended id=\"" + id))
            .findFirst()
            .orElseThrow();
    assertTrue(ended.endsWith("status=completed"), ended);
    for (String line : lines()) {
      assertFalse(line.contains(ACME), "a key in a log line: " + line);
      assertFalse(line.contains(watch), "a token in a log line: " + line);
    }
  }

  @Test
  @DisplayName(
      "a malformed query holding an access token is a 400 that logs nothing of it, and a logged"
          + " failure has its access_token values cut out")
  void malformedQuery(Vertx vertx) {
    TestHub hub = await(TestHub.start(vertx, Map.of("TOKENBUS_API_KEYS", "acme:" + ACME)));
    var response = await(hub.web().get("/v1/models?access_token=" + ACME + "&x=%zz").send());
    assertEquals(400, response.statusCode(), response.bodyAsString());
    assertEquals(
        "invalid_query", response.bodyAsJsonObject().getJsonObject("error").getString("code"));
    assertFalse(response.bodyAsString().contains(ACME));
    synchronized (everything.list) {
      for (ILoggingEvent event : everything.list) {
        assertFalse(event.getFormattedMessage().contains(ACME), event.getFormattedMessage());
        assertTrue(
            event.getThrowableProxy() == null
                || !event.getThrowableProxy().getMessage().contains(ACME),
            event.getFormattedMessage());
      }
    }
    Throwable logged =
        ErrorHandler.redacted(
            new IllegalStateException(
                "failed on /v1/x?a=1&access_token=" + ACME + "&b=2",
                new IllegalArgumentException("access_token=" + ACME)));
    assertFalse(logged.getMessage().contains(ACME), logged.getMessage());
    assertTrue(
        logged.getMessage().startsWith("java.lang.IllegalStateException"), logged.getMessage());
    assertFalse(logged.getCause().getMessage().contains(ACME), logged.getCause().getMessage());
    // However the name is written: upper case, or with its underscore %-escaped.
    for (String name :
        List.of("ACCESS_TOKEN", "Access_Token", "access%5Ftoken", "access%5ftoken")) {
      String message =
          ErrorHandler.redacted(new IllegalStateException("/v1/x?" + name + "=" + ACME + "\tat"))
              .getMessage();
      assertFalse(message.contains(ACME), message);
      assertTrue(message.endsWith("access_token=<redacted>\tat"), message);
    }
  }
}
