package io.tokenbus.deploy;

import static io.tokenbus.support.Await.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.tokenbus.support.Scrape;
import io.tokenbus.support.TestHub;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.client.HttpResponse;
import io.vertx.junit5.VertxExtension;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * deploy/prometheus.yml, the scrape job of docker-compose.yml's prometheus service: it names every
 * node, reads the key file the service writes, and its request is one a node answers.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("The Prometheus service of docker-compose.yml")
class PrometheusConfigTest {

  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  @Test
  @DisplayName("scrapes every tokenbus node of the compose file, with the key file it writes")
  void scrapesEveryNode() throws IOException {
    JsonNode compose = YAML.readTree(Path.of("docker-compose.yml").toFile());
    JsonNode prometheus = YAML.readTree(Path.of("deploy/prometheus.yml").toFile());
    JsonNode job = prometheus.get("scrape_configs").get(0);
    Set<String> nodes = new TreeSet<>();
    compose
        .get("services")
        .fieldNames()
        .forEachRemaining(
            name -> {
              if (name.startsWith("tokenbus-")) {
                nodes.add(name + ":8080");
              }
            });
    Set<String> targets = new TreeSet<>();
    job.get("static_configs").get(0).get("targets").forEach(t -> targets.add(t.asText()));
    assertEquals(nodes, targets);
    assertEquals("/metrics", job.get("metrics_path").asText());
    String keyFile = job.get("authorization").get("credentials_file").asText();
    JsonNode service = compose.get("services").get("prometheus");
    String command = service.get("entrypoint").get(2).asText();
    assertTrue(
        command.contains("\"$$TOKENBUS_ADMIN_KEY\" > " + keyFile),
        "the service writes the admin key where the job reads it: " + command);
    assertTrue(
        service.get("volumes").get(0).asText().startsWith("./deploy/prometheus.yml:"),
        "the service mounts this file");
  }

  @Test
  @DisplayName("its request (Bearer admin key on /metrics) is answered with metrics")
  void nodeAnswersTheJob(Vertx vertx) {
    String admin = "sk-admin-1234567890abcdef";
    TestHub hub =
        await(
            TestHub.start(
                vertx,
                "TOKENBUS_API_KEYS",
                "acme:sk-acme-1234567890abcdef",
                "TOKENBUS_ADMIN_KEY",
                admin));
    HttpResponse<Buffer> scrape =
        await(
            hub.web()
                .get("/metrics")
                .putHeader("Authorization", "Bearer " + admin)
                .putHeader(
                    "Accept",
                    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4")
                .send());
    assertEquals(200, scrape.statusCode(), scrape.bodyAsString());
    assertTrue(
        scrape.getHeader("Content-Type").startsWith("application/openmetrics-text"),
        scrape.getHeader("Content-Type"));
    assertTrue(scrape.bodyAsString().endsWith("# EOF\n"), "OpenMetrics ends with # EOF");
    assertTrue(
        Scrape.parse(scrape.bodyAsString()).has("tokenbus_viewers", "transport", "sse"),
        "tokenbus's metrics");
  }
}
