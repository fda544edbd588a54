package io.tokenbus.deploy;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tokenbus.support.Postgres;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Every health-check command of docker-compose.yml and the Dockerfile, run as the container would
 * run it (exec form as its own argv, shell form under {@code /bin/dash}, the image's {@code
 * /bin/sh}) against a real node: it passes while the node serves and fails once it is gone. The
 * only thing changed is the port, 8080 in the container.
 */
@DisplayName("The health checks of docker-compose.yml and the Dockerfile")
class HealthCheckCommandsTest {

  private static final String CONTAINER_ADDRESS = "127.0.0.1:8080";
  private static final Pattern DOCKERFILE_CHECK =
      Pattern.compile("^HEALTHCHECK\\b.*?\\bCMD\\s+(.+)$", Pattern.MULTILINE);

  /** A command as the container runs it, with the port still the container's. */
  private record Check(String where, List<String> argv) {}

  @Test
  @DisplayName(
      "each passes against a serving node and fails against a draining one and a stopped one")
  void checksPassAndFail() throws Exception {
    List<Check> checks = new ArrayList<>(composeChecks());
    checks.removeIf(c -> c.where().startsWith(POSTGRES));
    checks.addAll(dockerfileChecks());
    assertTrue(
        checks.stream().anyMatch(c -> c.where().startsWith("docker-compose.yml")),
        "no health check in docker-compose.yml");
    assertTrue(
        checks.stream().anyMatch(c -> c.where().startsWith("Dockerfile")),
        "no HEALTHCHECK in the Dockerfile");

    // A node of its own Vert.x, so that it can be stopped: the keys make it answer as a
    // container's node does (auth on; the health endpoint needs none).
    Vertx own = Vertx.vertx();
    TestHub hub =
        await(
            TestHub.start(
                own,
                "TOKENBUS_API_KEYS",
                "acme:sk-acme-1234567890abcdef",
                "TOKENBUS_HTTP_DRAIN_SECONDS",
                "60"),
            30,
            "the hub");
    int port = hub.port();
    for (Check check : checks) {
      assertEquals(0, run(check, port), check.where() + " failed against a serving node");
    }
    // Draining (SIGTERM): still serving, but a load balancer must stop sending.
    hub.node().close();
    for (Check check : checks) {
      assertNotEquals(0, run(check, port), check.where() + " passed on a draining node");
    }
    await(own.close(), 30, "the hub's close");
    for (Check check : checks) {
      assertNotEquals(0, run(check, port), check.where() + " passed with no node serving");
    }
  }

  /** The database's service, whose check is its own: {@link #postgresCheck}. */
  private static final String POSTGRES = "docker-compose.yml services.postgres";

  @Test
  @DisplayName(
      "the postgres service's check passes against a serving PostgreSQL, fails once stopped")
  void postgresCheck() throws Exception {
    List<Check> checks =
        composeChecks().stream().filter(c -> c.where().startsWith(POSTGRES)).toList();
    assertEquals(1, checks.size(), "the postgres service has one health check: " + checks);
    List<String> argv = checks.get(0).argv();
    assertEquals("pg_isready", argv.get(0), argv.toString());
    try (Postgres pg = Postgres.start()) {
      // In its container the check asks the local server; here, the test's, by address and port.
      List<String> here = new ArrayList<>(List.of(pg.binary("pg_isready").toString()));
      here.addAll(argv.subList(1, argv.size()));
      here.addAll(List.of("-h", "127.0.0.1", "-p", Integer.toString(pg.port())));
      assertEquals(0, exec(here), "the postgres check failed against a serving PostgreSQL");
      pg.stop();
      assertNotEquals(0, exec(here), "the postgres check passed with PostgreSQL stopped");
    }
  }

  private static int exec(List<String> argv) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(argv).redirectErrorStream(true).start();
    assertTrue(process.waitFor(10, TimeUnit.SECONDS), "hung: " + argv);
    process.getInputStream().readAllBytes();
    return process.exitValue();
  }

  /** The {@code healthcheck.test} of every service (and extension) of docker-compose.yml. */
  private static List<Check> composeChecks() throws IOException {
    JsonNode compose =
        new ObjectMapper(new YAMLFactory()).readTree(Path.of("docker-compose.yml").toFile());
    List<Check> checks = new ArrayList<>();
    compose
        .fields()
        .forEachRemaining(
            top -> findTests(top.getValue(), "docker-compose.yml " + top.getKey(), checks));
    return checks;
  }

  private static void findTests(JsonNode node, String where, List<Check> into) {
    if (node.isObject()) {
      JsonNode test = node.path("healthcheck").path("test");
      if (!test.isMissingNode()) {
        List<String> words = new ArrayList<>();
        test.forEach(word -> words.add(word.asText()));
        assertFalse(words.isEmpty(), where + ": an empty health check");
        into.add(
            switch (words.get(0)) {
              case "CMD" -> new Check(where, words.subList(1, words.size()));
              case "CMD-SHELL" -> new Check(where, List.of("/bin/dash", "-c", words.get(1)));
              default -> throw new AssertionError(where + ": unknown health check " + words);
            });
      }
      node.fields().forEachRemaining(f -> findTests(f.getValue(), where + "." + f.getKey(), into));
    }
  }

  /** The Dockerfile's HEALTHCHECK: exec form (a JSON array) or shell form, run under dash. */
  private static List<Check> dockerfileChecks() throws IOException {
    String dockerfile =
        Files.readString(Path.of("Dockerfile"), StandardCharsets.UTF_8).replace("\\\n", " ");
    List<Check> checks = new ArrayList<>();
    Matcher matcher = DOCKERFILE_CHECK.matcher(dockerfile);
    while (matcher.find()) {
      String command = matcher.group(1).trim();
      if (command.startsWith("[")) {
        List<String> argv = new ArrayList<>();
        new ObjectMapper().readTree(command).forEach(word -> argv.add(word.asText()));
        checks.add(new Check("Dockerfile HEALTHCHECK", argv));
      } else {
        checks.add(new Check("Dockerfile HEALTHCHECK", List.of("/bin/dash", "-c", command)));
      }
    }
    return checks;
  }

  /** Runs a check with the node's port in place of the container's; its exit status. */
  private static int run(Check check, int port) throws IOException, InterruptedException {
    assertTrue(
        check.argv().stream().anyMatch(word -> word.contains(CONTAINER_ADDRESS)),
        check.where() + " does not ask " + CONTAINER_ADDRESS + ": " + check.argv());
    List<String> argv =
        check.argv().stream()
            .map(word -> word.replace(CONTAINER_ADDRESS, "127.0.0.1:" + port))
            .toList();
    Process process = new ProcessBuilder(argv).redirectErrorStream(true).start();
    // The health checks' own timeout is 3 s.
    assertTrue(process.waitFor(10, TimeUnit.SECONDS), check.where() + " hung: " + argv);
    process.getInputStream().readAllBytes();
    return process.exitValue();
  }
}
