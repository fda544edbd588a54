package io.tokenbus.provider;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tokenbus.config.ConfigLoader;
import io.tokenbus.config.TokenbusConfig;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpstreamsTest {

  private final Vertx vertx = Vertx.vertx();

  @TempDir Path dir;

  @AfterEach
  void close() {
    vertx.close();
  }

  @Test
  @DisplayName("model patterns: * matches any run of characters, anywhere")
  void patterns() {
    assertTrue(Upstreams.matches("*", "gpt-4o"));
    assertTrue(Upstreams.matches("gpt-*", "gpt-4o"));
    assertFalse(Upstreams.matches("gpt-*", "chatgpt-4o"));
    assertTrue(Upstreams.matches("*-instruct", "llama-3-instruct"));
    assertTrue(Upstreams.matches("llama*70b*", "llama-3.1-70b-q4"));
    assertFalse(Upstreams.matches("llama*70b*", "llama-3.1-8b"));
    assertTrue(Upstreams.matches("gpt-4o", "gpt-4o"));
    assertFalse(Upstreams.matches("gpt-4o", "gpt-4o-mini"));
  }

  @Test
  @DisplayName(
      "the most specific pattern wins; fallbacks follow the model; an unknown model lists what is served")
  void routing() throws IOException {
    Path file = dir.resolve("t.yaml");
    Files.writeString(
        file,
        """
        providers:
          openai:
            base-url: http://127.0.0.1:1/v1
          anthropic:
            api-key: sk-ant-test
          llama:
            models: "llama*"
            base-url: http://127.0.0.1:2/v1
        fallbacks:
          gpt-4o: "claude-sonnet-4-5, llama3.1, nowhere-*"
        """);
    TokenbusConfig config = ConfigLoader.load(file, Map.of());
    Upstreams upstreams = new Upstreams(vertx, config);
    assertEquals(
        "anthropic", upstreams.route("claude-sonnet-4-5").chain().get(0).provider().name());
    assertEquals("llama", upstreams.route("llama3.1").chain().get(0).provider().name());
    assertEquals(
        "openai",
        upstreams.route("anything-else").chain().get(0).provider().name(),
        "* takes what nobody claims");
    assertEquals("mock", upstreams.route("mock-fast").chain().get(0).provider().name());
    List<Upstreams.Target> chain = upstreams.route("gpt-4o").chain();
    assertEquals(
        List.of("gpt-4o", "claude-sonnet-4-5", "llama3.1", "nowhere-*"),
        chain.stream().map(Upstreams.Target::model).toList(),
        "openai's * serves even a strange fallback name");

    Upstreams mockOnly = new Upstreams(vertx, ConfigLoader.load((Path) null, Map.of()));
    Upstreams.Route unknown = mockOnly.route("gpt-4o");
    assertTrue(unknown.chain().isEmpty());
    assertEquals(404, unknown.failure().status());
    assertTrue(unknown.failure().message().contains("mock, mock-*"), unknown.failure().message());
    assertTrue(
        unknown.failure().message().contains("OPENAI_BASE_URL"), unknown.failure().message());
  }

  @Test
  @DisplayName("Retry-After is read in seconds, as an HTTP date, or from OpenAI's retry-after-ms")
  void retryAfter() {
    assertEquals(2000, RetryAfter.parseMillis("2", null));
    assertEquals(1500, RetryAfter.parseMillis("2", "1500"));
    assertEquals(-1, RetryAfter.parseMillis(null, null));
    assertEquals(-1, RetryAfter.parseMillis("soon", null));
    long fromDate =
        RetryAfter.parseMillis(
            DateTimeFormatter.RFC_1123_DATE_TIME.format(
                ZonedDateTime.now(ZoneOffset.UTC).plusSeconds(30)),
            null);
    assertTrue(fromDate > 25_000 && fromDate <= 30_000, String.valueOf(fromDate));
  }
}
