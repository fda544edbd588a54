package io.tokenbus;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.NodeProcess;
import io.vertx.core.Future;
import io.vertx.junit5.Timeout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * A node that cannot start says why before it exits, though its lines reach stderr through a queue
 * (logback.xml's async appender) that a plain exit would drop.
 */
@Timeout(value = 120, timeUnit = TimeUnit.SECONDS)
@DisplayName("A node that cannot start (one process)")
class StartupFailureIT {

  @Test
  @DisplayName("its port taken: exit code 1, and the reason is on stderr")
  void portTaken() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        NodeProcess node =
            NodeProcess.start(
                "taken", Map.of("TOKENBUS_HTTP_PORT", Integer.toString(taken.getLocalPort())))) {
      Process exited = await(Future.fromCompletionStage(node.exited()), 90, "the process's exit");
      assertEquals(1, exited.exitValue());
      // The output is read to its end by a thread of its own: wait for the line, not just the exit.
      String reason =
          await(
              node.printed(line -> line.contains("tokenbus failed to start")),
              30,
              "the reason, in: " + node.lines(line -> true));
      assertTrue(reason.contains("ERROR"), reason);
    }
  }
}
