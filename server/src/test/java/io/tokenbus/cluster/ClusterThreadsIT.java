package io.tokenbus.cluster;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.support.NodeProcess;
import io.tokenbus.support.TestCluster;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import io.vertx.junit5.Timeout;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A clustered node on a box with two CPUs, as real processes started the way users start them
 * (bin/tokenbus): Hazelcast's callbacks run on a pool, not on a thread started for each one
 * (Tokenbus.sizeCommonPool). Counted with the JVM's own counter of threads started.
 */
@ExtendWith(VertxExtension.class)
@Timeout(value = 180, timeUnit = TimeUnit.SECONDS)
@DisplayName("Threads of a clustered node on two CPUs (two processes)")
class ClusterThreadsIT {

  private static final int REQUESTS = 200;
  private static final Pattern STARTED = Pattern.compile("java\\.threads\\.started=(\\d+)");
  private final List<NodeProcess> nodes = new ArrayList<>();

  @AfterEach
  void stopNodes() {
    nodes.forEach(NodeProcess::close);
  }

  /** Threads the node's JVM has started since it began, from {@code jcmd PerfCounter.print}. */
  private static long threadsStarted(NodeProcess node) throws IOException, InterruptedException {
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Process process =
        new ProcessBuilder(jcmd, Long.toString(node.pid()), "PerfCounter.print")
            .redirectErrorStream(true)
            .start();
    String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(30, TimeUnit.SECONDS), "jcmd did not finish");
    Matcher started = STARTED.matcher(out);
    assertTrue(started.find(), "no java.threads.started in jcmd's output: " + out);
    return Long.parseLong(started.group(1));
  }

  @Test
  @DisplayName(
      "200 chat completions over two nodes that see two CPUs start a bounded number of threads,"
          + " not one per Hazelcast callback")
  void noThreadPerCallback(Vertx vertx) throws Exception {
    TestCluster cluster = new TestCluster(2);
    // Two CPUs: the JDK would give ForkJoinPool's common pool one thread, and Hazelcast would
    // then start a thread for every callback.
    Map<String, String> env = Map.of("JAVA_OPTS", "-XX:ActiveProcessorCount=2");
    for (int i = 0; i < 2; i++) {
      NodeProcess node = NodeProcess.start("threads-" + (char) ('a' + i), cluster.env(i, env));
      nodes.add(node);
      await(node.ready(), 90);
    }
    List<WebClient> clients = new ArrayList<>();
    for (NodeProcess node : nodes) {
      clients.add(
          WebClient.create(
              vertx,
              new WebClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(node.httpPort())));
    }
    // Warm up: the pools a node starts on its first requests are not what is counted.
    for (int i = 0; i < 20; i++) {
      complete(clients.get(i % 2));
    }
    long[] before = {threadsStarted(nodes.get(0)), threadsStarted(nodes.get(1))};
    for (int i = 0; i < REQUESTS; i++) {
      complete(clients.get(i % 2));
    }
    for (int n = 0; n < 2; n++) {
      long started = threadsStarted(nodes.get(n)) - before[n];
      // Each request takes a dozen Hazelcast operations or more on each node: a thread per
      // callback would be thousands. A pool may still grow by a few.
      assertTrue(
          started < 50,
          nodes.get(n).name()
              + " started "
              + started
              + " threads during "
              + REQUESTS
              + " requests");
    }
  }

  private static void complete(WebClient client) {
    HttpResponse<Buffer> answer =
        await(
            client.post("/v1/chat/completions").sendJsonObject(TestHub.mockRequest(5, 1000)),
            30,
            "a chat completion");
    assertEquals(200, answer.statusCode(), answer.bodyAsString());
  }
}
