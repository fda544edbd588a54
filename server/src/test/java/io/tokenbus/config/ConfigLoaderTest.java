package io.tokenbus.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

@DisplayName("Configuration")
class ConfigLoaderTest {

  @TempDir Path dir;

  private Path file(String yaml) throws IOException {
    Path file = dir.resolve("tokenbus.yaml");
    Files.writeString(file, yaml);
    return file;
  }

  @Test
  @DisplayName("with nothing given, serves the mock on 8080 with no upstream")
  void defaults() {
    TokenbusConfig config = ConfigLoader.load(new String[0], Map.of());
    assertEquals(8080, config.http().port());
    assertTrue(config.providers().values().stream().noneMatch(TokenbusConfig.Provider::enabled));
    assertEquals(List.of("openai", "anthropic"), List.copyOf(config.providers().keySet()));
    assertEquals(10, config.generation().idleCancelSeconds());
    assertEquals("mock", config.generation().streamModel());
    assertTrue(config.generation().retentionSeconds() >= 600);
  }

  @Test
  @DisplayName("precedence: defaults < file (command line or TOKENBUS_CONFIG) < environment")
  void precedence() throws IOException {
    Path file = file("http:\n  port: 9000\nmock:\n  tokens-per-second: 5\n");
    TokenbusConfig fromFile = ConfigLoader.load(new String[] {file.toString()}, Map.of());
    assertEquals(9000, fromFile.http().port());
    assertEquals(5, fromFile.mock().tokensPerSecond());
    assertEquals(
        "127.0.0.1", fromFile.http().host(), "keys the file leaves out keep their defaults");
    TokenbusConfig viaEnv =
        ConfigLoader.load(
            new String[0],
            Map.of("TOKENBUS_CONFIG", file.toString(), "TOKENBUS_HTTP_PORT", "9100"));
    assertEquals(9100, viaEnv.http().port());
    assertEquals(5, viaEnv.mock().tokensPerSecond());
  }

  @Test
  @DisplayName(
      "OPENAI_BASE_URL and OPENAI_API_KEY configure the upstream, and the key is never printed")
  void openAiVariables() {
    TokenbusConfig config =
        ConfigLoader.load(
            new String[0],
            Map.of(
                "OPENAI_BASE_URL",
                "http://localhost:11434/v1/",
                "OPENAI_API_KEY",
                "sk-secret-value"));
    assertEquals("http://localhost:11434/v1", config.providers().get("openai").baseUrl());
    assertEquals("sk-secret-value", config.providers().get("openai").apiKey());
    assertFalse(config.toString().contains("sk-secret-value"));
  }

  @Test
  @DisplayName(
      "ANTHROPIC_API_KEY enables the Anthropic provider on its public endpoint for claude-* models")
  void anthropicVariables() {
    TokenbusConfig config =
        ConfigLoader.load(new String[0], Map.of("ANTHROPIC_API_KEY", "sk-ant-secret-value"));
    TokenbusConfig.Provider anthropic = config.providers().get("anthropic");
    assertTrue(anthropic.enabled());
    assertEquals("https://api.anthropic.com", anthropic.effectiveBaseUrl());
    assertEquals(List.of("claude-*"), anthropic.modelPatterns());
    assertFalse(config.providers().get("openai").enabled());
    assertFalse(config.toString().contains("sk-ant-secret-value"));
  }

  @Test
  @DisplayName(
      "a file adds providers (from the defaults of their type), headers and fallback chains; env reaches them")
  void providersFromAFile() throws IOException {
    Path file =
        file(
            """
        providers:
          llama:
            type: openai
            models: "llama*, qwen*"
            base-url: http://gpu-box:8000/v1/
            headers:
              X-Team: search
            recovery:
              strategy: restart
          claude-eu:
            type: Anthropic
            models: claude-eu-*
            api-key: sk-ant-eu
        fallbacks:
          gpt-4.1: "claude-sonnet-4-5, llama3.1"
        """);
    TokenbusConfig config =
        ConfigLoader.load(file, Map.of("TOKENBUS_PROVIDERS_LLAMA_TIMEOUTS_IDLE_MS", "1234"));
    TokenbusConfig.Provider llama = config.providers().get("llama");
    assertEquals("http://gpu-box:8000/v1", llama.baseUrl());
    assertEquals(List.of("llama*", "qwen*"), llama.modelPatterns());
    assertEquals(Map.of("X-Team", "search"), llama.headers());
    assertEquals("restart", llama.recovery().strategy());
    assertEquals(
        3, llama.retry().maxAttempts(), "unset keys come from the default provider of the type");
    assertEquals(1234, llama.timeouts().idleMs());
    TokenbusConfig.Provider eu = config.providers().get("claude-eu");
    assertEquals("anthropic", eu.type(), "the type is read as validated, case and all");
    assertEquals("2023-06-01", eu.anthropic().version());
    assertEquals(List.of("claude-sonnet-4-5", "llama3.1"), config.fallbacksOf("gpt-4.1"));
    assertEquals(List.of(), config.fallbacksOf("gpt-4o"));
  }

  @Test
  @DisplayName(
      "a tenant's own limits come from a file, any subset of the keys, over the defaults;"
          + " the environment reaches them")
  void tenantLimitsFromAFile() throws IOException {
    Path file =
        file(
            """
        limits:
          requests-per-minute: 100
          tenants:
            acme:
              max-n: 4
              completion-tokens-per-day: 5000000
            globex:
              requests-per-minute: 0
        """);
    TokenbusConfig config =
        ConfigLoader.load(
            file,
            Map.of(
                "TOKENBUS_LIMITS_MAX_CONCURRENT_GENERATIONS", "7",
                "TOKENBUS_LIMITS_TENANTS_GLOBEX_MAX_TOKENS", "900"));
    assertEquals(
        new io.tokenbus.limits.TenantLimits(100, 0, 7, 0, 4, 5_000_000, 1000, 33_554_432),
        config.limits().of("acme"));
    assertEquals(
        new io.tokenbus.limits.TenantLimits(0, 0, 7, 900, 1, 0, 1000, 33_554_432),
        config.limits().of("globex"));
    assertEquals(
        new io.tokenbus.limits.TenantLimits(100, 0, 7, 0, 1, 0, 1000, 33_554_432),
        config.limits().of("initech"));
    assertMessage(
        () ->
            ConfigLoader.load(
                file("limits:\n  tenants:\n    acme:\n      max-tokenz: 3\n"), Map.of()),
        "limits.tenants.acme.max-tokenz",
        "requests-per-minute");
    assertMessage(
        () -> ConfigLoader.load(file("limits:\n  tenants:\n    acme: 3\n"), Map.of()),
        "limits.tenants.acme",
        "section");
    assertMessage(
        () ->
            ConfigLoader.load(file("limits:\n  tenants:\n    acme:\n      max-n: -1\n"), Map.of()),
        "limits.tenants.acme.max-n");
  }

  @Test
  @DisplayName("the README's example configuration (conf/examples/upstreams.yaml) loads")
  void exampleConfiguration() {
    TokenbusConfig config =
        ConfigLoader.load(
            Path.of("conf", "examples", "upstreams.yaml"),
            Map.of("OPENAI_API_KEY", "sk-x-0123456789", "ANTHROPIC_API_KEY", "sk-ant-0123456789"));
    assertEquals(List.of("openai", "anthropic", "llama"), List.copyOf(config.providers().keySet()));
    assertTrue(config.providers().values().stream().allMatch(TokenbusConfig.Provider::enabled));
    assertEquals("restart", config.providers().get("llama").recovery().strategy());
    assertFalse(config.fallbacksOf("gpt-4o").isEmpty());
  }

  @Test
  @DisplayName(
      "a clustered node batches appends over cluster.batch-window-ms unless a window is set; a single node does not wait")
  void batchWindow() {
    assertEquals(0, ConfigLoader.load(new String[0], Map.of()).batchWindowMs());
    assertEquals(
        10,
        ConfigLoader.load(
                new String[0],
                Map.of("TOKENBUS_CLUSTER", "true", "TOKENBUS_CLUSTER_INSECURE", "true"))
            .batchWindowMs());
    assertEquals(
        3,
        ConfigLoader.load(
                new String[0],
                Map.of(
                    "TOKENBUS_CLUSTER",
                    "true",
                    "TOKENBUS_CLUSTER_INSECURE",
                    "true",
                    "TOKENBUS_GENERATION_BATCH_WINDOW_MS",
                    "3"))
            .batchWindowMs());
  }

  @Test
  @DisplayName(
      "a bad value or unknown key stops loading with a message naming the key and its source")
  void errorsNameTheKey() throws IOException {
    assertMessage(
        () -> ConfigLoader.load(new String[0], Map.of("TOKENBUS_HTTP_PORT", "abc")),
        "http.port",
        "TOKENBUS_HTTP_PORT");
    assertMessage(
        () -> ConfigLoader.load(new String[0], Map.of("TOKENBUS_HTTP_PORT", "70000")),
        "http.port",
        "65535");
    assertMessage(
        () -> ConfigLoader.load(new String[0], Map.of("OPENAI_BASE_URL", "localhost:8000")),
        "providers.openai.base-url",
        "OPENAI_BASE_URL");
    assertMessage(
        () -> ConfigLoader.load(file("providers:\n  x:\n    type: gemini\n"), Map.of()),
        "providers.x.type",
        "openai or anthropic");
    assertMessage(
        () ->
            ConfigLoader.load(
                file("providers:\n  openai:\n    recovery:\n      strategy: retry\n"), Map.of()),
        "providers.openai.recovery.strategy",
        "continue");
    assertMessage(
        () -> ConfigLoader.load(file("providers:\n  openai:\n    timeoutz: 1\n"), Map.of()),
        "providers.openai.timeoutz",
        "not a known");
    assertMessage(
        () ->
            ConfigLoader.load(
                new String[0], Map.of("TOKENBUS_PROVIDERS_ANTHROPIC_RETRY_MAX_ATTEMPTS", "0")),
        "providers.anthropic.retry.max-attempts",
        "TOKENBUS_PROVIDERS_ANTHROPIC_RETRY_MAX_ATTEMPTS");
    assertMessage(
        () -> ConfigLoader.load(file("fallbacks:\n  gpt-4o: \" , \"\n"), Map.of()),
        "fallbacks.gpt-4o",
        "at least one");
    assertMessage(
        () -> ConfigLoader.load(file("http:\n  prot: 1\n"), Map.of()), "http.prot", "not a known");
    assertMessage(() -> ConfigLoader.load(file("viewer: 3\n"), Map.of()), "viewer", "section");
    assertMessage(
        () -> ConfigLoader.load(file("mock:\n  tokens-per-second: 0\n"), Map.of()),
        "mock.tokens-per-second",
        "above 0");
    assertMessage(
        () -> ConfigLoader.load((Path) null, Map.of("TOKENBUS_SESSIONS_MAX_BYTES", "1000")),
        "sessions.max-bytes",
        "at least 1048576");
    assertMessage(
        () -> ConfigLoader.load(file("http: [\n"), Map.of()), "configuration file", "YAML");
    assertMessage(
        () -> ConfigLoader.load(dir.resolve("missing.yaml"), Map.of()),
        "configuration file",
        "does not exist");
  }

  @Test
  @DisplayName(
      "TOKENBUS_LOG_FORMAT may be text or json, TOKENBUS_LOG_QUEUE a positive number; anything"
          + " else stops start-up")
  void logFormat() {
    ConfigLoader.load(new String[0], Map.of("TOKENBUS_LOG_FORMAT", "json"));
    ConfigLoader.load(new String[0], Map.of("TOKENBUS_LOG_FORMAT", "text"));
    assertMessage(
        () -> ConfigLoader.load(new String[0], Map.of("TOKENBUS_LOG_FORMAT", "xml")),
        "TOKENBUS_LOG_FORMAT",
        "\"xml\"",
        "text",
        "json");
    ConfigLoader.load(new String[0], Map.of("TOKENBUS_LOG_QUEUE", "100"));
    for (String queue : new String[] {"0", "abc", "-1", "99999999"}) {
      assertMessage(
          () -> ConfigLoader.load(new String[0], Map.of("TOKENBUS_LOG_QUEUE", queue)),
          "TOKENBUS_LOG_QUEUE",
          "\"" + queue + "\"");
    }
  }

  private static void assertMessage(Executable load, String... parts) {
    ConfigException e = assertThrows(ConfigException.class, load);
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), e.getMessage() + " should mention " + part);
    }
  }

  @Test
  @DisplayName(
      "README documents every key of conf/tokenbus.yaml with its default and environment variable")
  void readmeDocumentsEveryKey() throws IOException {
    String readme = Files.readString(Path.of("README.md"));
    JsonNode defaults =
        new ObjectMapper(new YAMLFactory()).readTree(Path.of("conf", "tokenbus.yaml").toFile());
    List<String> missing = new ArrayList<>();
    leaves(
        defaults,
        "",
        (name, value) -> {
          // Provider keys are documented once, as providers.<name>.…, with the openai entry's
          // defaults.
          String documented =
              name.startsWith("providers.") ? "providers.<name>." + name.split("\\.", 3)[2] : name;
          if (name.startsWith("providers.") && !name.startsWith("providers.openai.")) {
            if (!readme.contains("| `" + documented + "` |")) {
              missing.add(name);
            }
            return;
          }
          String row =
              "| `" + documented + "` | " + (value.isEmpty() ? "empty" : "`" + value + "`") + " | ";
          String env = ConfigLoader.envName(documented);
          // A free map ({} in the defaults) is set from a file; its entries have no variables of
          // their own.
          if (!readme.contains(row) || (!value.equals("{}") && !readme.contains(env))) {
            missing.add(name);
          }
        });
    assertTrue(missing.isEmpty(), "README's configuration table lacks or mis-states: " + missing);
  }

  private static void leaves(JsonNode node, String prefix, BiConsumer<String, String> action) {
    node.fields()
        .forEachRemaining(
            field -> {
              if (field.getValue().isObject() && !field.getValue().isEmpty()) {
                leaves(field.getValue(), prefix + field.getKey() + ".", action);
              } else {
                action.accept(
                    prefix + field.getKey(),
                    field.getValue().isObject() ? "{}" : field.getValue().asText());
              }
            });
  }

  @Test
  @DisplayName("the real process refuses an invalid configuration at start-up, naming the key")
  void processExitsOnInvalidConfiguration() throws Exception {
    Process process = java(Map.of("TOKENBUS_HTTP_PORT", "eighty"));
    try {
      assertTrue(process.waitFor(30, TimeUnit.SECONDS));
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(2, process.exitValue(), output);
      assertTrue(output.contains("http.port") && output.contains("TOKENBUS_HTTP_PORT"), output);
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  @DisplayName(
      "the real process refuses to serve a non-loopback address without a key (exit 2, naming"
          + " TOKENBUS_API_KEYS), and never binds it")
  void processRefusesAPublicAddressWithoutKeys() throws Exception {
    Process process = java(Map.of("TOKENBUS_HTTP_HOST", "0.0.0.0", "TOKENBUS_HTTP_PORT", "0"));
    try {
      assertTrue(process.waitFor(30, TimeUnit.SECONDS));
      String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(2, process.exitValue(), output);
      assertTrue(output.contains("TOKENBUS_API_KEYS"), output);
      assertFalse(output.contains("tokenbus listening"), output);
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  @DisplayName(
      "the real process starts on its defaults plus environment, and never logs the upstream key")
  void processStartsWithoutLoggingTheKey() throws Exception {
    Process process =
        java(
            Map.of(
                "TOKENBUS_HTTP_PORT",
                "0",
                "TOKENBUS_HTTP_HOST",
                "127.0.0.1",
                "OPENAI_BASE_URL",
                "http://127.0.0.1:9/v1",
                "OPENAI_API_KEY",
                "sk-never-log-me-123456",
                "TOKENBUS_LOG_LEVEL",
                "DEBUG"));
    List<String> lines = new ArrayList<>();
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        lines.add(line);
        if (line.contains("tokenbus listening")) {
          break;
        }
      }
    } finally {
      process.destroy();
      process.waitFor(10, TimeUnit.SECONDS);
      process.destroyForcibly();
    }
    String output = String.join("\n", lines);
    assertTrue(output.contains("tokenbus listening on http://127.0.0.1:"), output);
    assertFalse(output.contains("sk-never-log-me"), output);
  }

  private static Process java(Map<String, String> env) throws IOException {
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder builder =
        new ProcessBuilder(
                javaBin, "-cp", System.getProperty("java.class.path"), "io.tokenbus.Tokenbus")
            .redirectErrorStream(true);
    builder
        .environment()
        .keySet()
        .removeIf(k -> k.startsWith("TOKENBUS_") || k.startsWith("OPENAI_"));
    builder.environment().putAll(env);
    return builder.start();
  }
}
