package io.tokenbus;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.Poll;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * SIGTERM on a real process (bin/tokenbus): the node says it is not ready before it goes, for as
 * long as {@code http.drain-seconds}, and then exits.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("A node draining on SIGTERM (one process)")
class DrainIT {

  @Test
  @DisplayName(
      "after SIGTERM, /health/ready answers 503 while /health/live and the API still answer, and"
          + " the process exits once http.drain-seconds have passed")
  void readyTurns503BeforeExit(Vertx vertx) throws Exception {
    try (NodeProcess node =
        NodeProcess.start("drain", Map.of("TOKENBUS_HTTP_DRAIN_SECONDS", "4"))) {
      await(node.ready(), 90);
      WebClient web =
          WebClient.create(
              vertx,
              new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort()));
      assertEquals(200, await(web.get("/health/ready").send()).statusCode());

      long signalled = System.nanoTime();
      node.sigterm();
      int status =
          await(
              Poll.until(
                  vertx,
                  () -> web.get("/health/ready").send().map(r -> r.statusCode()),
                  s -> s != 200,
                  10_000),
              15);
      assertEquals(503, status, "not ready once SIGTERM is in");
      assertFalse(node.exited().isDone(), "the process left before it said it was not ready");
      assertEquals(200, await(web.get("/health/live").send()).statusCode());
      assertEquals(200, await(web.get("/v1/models").send()).statusCode());

      Future<Process> exited = Future.fromCompletionStage(node.exited());
      await(exited, 60, "the process's exit");
      long tookMs = (System.nanoTime() - signalled) / 1_000_000;
      // It drains for 4 s before it closes; then it closes in well under a minute.
      assertEquals(
          true, tookMs >= 4_000, "exited " + tookMs + " ms after SIGTERM, before its drain");
    }
  }
}
