package io.tokenbus.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Builds the configuration from three layers, later wins: the default file (conf/tokenbus.yaml,
 * embedded in the jar), an optional file named on the command line or by {@code TOKENBUS_CONFIG},
 * and environment variables. Every key of the default file has an environment variable: {@code
 * TOKENBUS_} + its path in upper case with '.' and '-' as '_'; a few have aliases.
 */
public final class ConfigLoader {

  public static final String DEFAULTS_RESOURCE = "io/tokenbus/config/tokenbus.yaml";
  public static final String CONFIG_FILE_ENV = "TOKENBUS_CONFIG";

  /** Names that other tools already use for the same setting. */
  private static final Map<String, String> ENV_ALIASES =
      Map.ofEntries(
          Map.entry("OPENAI_BASE_URL", "providers.openai.base-url"),
          Map.entry("OPENAI_API_KEY", "providers.openai.api-key"),
          Map.entry("ANTHROPIC_BASE_URL", "providers.anthropic.base-url"),
          Map.entry("ANTHROPIC_API_KEY", "providers.anthropic.api-key"),
          Map.entry("TOKENBUS_CLUSTER", "cluster.enabled"),
          Map.entry("TOKENBUS_API_KEYS", "auth.api-keys"),
          Map.entry("TOKENBUS_ADMIN_KEY", "auth.admin-key"),
          Map.entry("TOKENBUS_HTTP_CORS_ORIGINS", "http.cors.allowed-origins"),
          Map.entry("TOKENBUS_JWT_SECRET", "auth.jwt-secret"),
          Map.entry("TOKENBUS_JWT_PUBLIC_KEY", "auth.jwt-public-key"),
          Map.entry("TOKENBUS_TOKEN_SECRET", "auth.token-secret"));

  /**
   * The section whose entries a file may add to, each starting from the default entry of its type.
   */
  private static final String PROVIDERS = "providers";

  /** The section whose entries are tenants' own limits, each a few keys of {@code limits}. */
  private static final String TENANTS = "limits.tenants";

  private static final ObjectMapper YAML =
      new ObjectMapper(new YAMLFactory())
          .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  private ConfigLoader() {}

  /** Read by logback itself (logback.xml), which starts before the configuration is loaded. */
  static final String LOG_FORMAT_ENV = "TOKENBUS_LOG_FORMAT";

  /**
   * Logback includes {@code logback-<format>.xml}: any other value would leave every log line
   * unwritten, so it stops start-up instead.
   */
  private static void checkLogFormat(String format) {
    if (format != null && !format.equals("text") && !format.equals("json")) {
      throw new ConfigException(
          LOG_FORMAT_ENV, "is \"" + format + "\": it may be text (the default) or json");
    }
  }

  /** Read by logback too: a queue logback cannot make would drop every line. */
  static final String LOG_QUEUE_ENV = "TOKENBUS_LOG_QUEUE";

  private static void checkLogQueue(String queue) {
    if (queue != null && !queue.matches("[1-9][0-9]{0,6}")) {
      throw new ConfigException(
          LOG_QUEUE_ENV, "is \"" + queue + "\": it must be a number of lines, 1 to 9,999,999");
    }
  }

  /** Loads the configuration for a command line: its only argument, if any, is a YAML file. */
  public static TokenbusConfig load(String[] args, Map<String, String> env) {
    if (args.length > 1) {
      throw new ConfigException(
          "command line", "takes at most one argument, a configuration file; got " + args.length);
    }
    String file = args.length == 1 ? args[0] : env.get(CONFIG_FILE_ENV);
    return load(file == null || file.isBlank() ? null : Path.of(file), env);
  }

  public static TokenbusConfig load(Path file, Map<String, String> env) {
    checkLogFormat(env.get(LOG_FORMAT_ENV));
    checkLogQueue(env.get(LOG_QUEUE_ENV));
    ObjectNode tree = defaults();
    ObjectNode templates = ((ObjectNode) tree.get(PROVIDERS)).deepCopy();
    if (file != null) {
      overlay(tree, readFile(file), "", file.toString(), templates);
    }
    Map<String, String> fromEnv = overlayEnvironment(tree, env);
    try {
      return YAML.treeToValue(tree, TokenbusConfig.class).validated();
    } catch (JsonMappingException e) {
      String key =
          e.getPath().stream()
              .map(JsonMappingException.Reference::getFieldName)
              .collect(Collectors.joining("."));
      String source = fromEnv.containsKey(key) ? " (from " + fromEnv.get(key) + ")" : "";
      if (e instanceof ValueInstantiationException
          && e.getCause() instanceof IllegalArgumentException refused) {
        // A setting that parses itself (an enum such as recovery.strategy) says in its own words
        // what it accepts.
        throw new ConfigException(key, refused.getMessage() + source);
      }
      String value = tree.at("/" + key.replace('.', '/')).asText();
      throw new ConfigException(
          key,
          "has an invalid value \""
              + value
              + "\""
              + source
              + ": "
              + e.getOriginalMessage().split("\n")[0]);
    } catch (JsonProcessingException e) {
      throw new ConfigException("configuration", e.getOriginalMessage());
    } catch (ConfigException e) {
      String source = fromEnv.get(e.key());
      throw source == null
          ? e
          : new ConfigException(
              e.key(), e.getMessage().substring(e.key().length() + 1) + " (from " + source + ")");
    }
  }

  /** The environment variable that sets a key, for documentation and error messages. */
  public static String envName(String key) {
    return "TOKENBUS_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  private static ObjectNode defaults() {
    try (InputStream in =
        ConfigLoader.class.getClassLoader().getResourceAsStream(DEFAULTS_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(
            "embedded default configuration " + DEFAULTS_RESOURCE + " is missing");
      }
      return (ObjectNode) YAML.readTree(in);
    } catch (IOException e) {
      throw new IllegalStateException("embedded default configuration is unreadable", e);
    }
  }

  private static JsonNode readFile(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new ConfigException("configuration file", file + " does not exist or is not a file");
    }
    try {
      JsonNode node = YAML.readTree(file.toFile());
      if (node == null || node.isMissingNode() || node.isNull()) {
        return YAML.createObjectNode();
      }
      if (!node.isObject()) {
        throw new ConfigException(
            "configuration file", file + " must hold a YAML mapping of sections");
      }
      return node;
    } catch (IOException e) {
      throw new ConfigException(
          "configuration file", file + " is not valid YAML: " + e.getMessage().split("\n")[0]);
    }
  }

  /**
   * Copies {@code from} over {@code into}, refusing keys the defaults do not have (typos). Two
   * kinds of section take new keys: one that is empty in the defaults is a free map of strings
   * (headers, fallbacks), and a new provider starts as a copy of the default provider of its type.
   */
  private static void overlay(
      ObjectNode into, JsonNode from, String prefix, String source, ObjectNode templates) {
    Iterator<Map.Entry<String, JsonNode>> fields = from.fields();
    boolean freeMap = into.isEmpty() && !prefix.isEmpty();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String key = prefix + field.getKey();
      JsonNode existing = into.get(field.getKey());
      if (existing == null && prefix.equals(PROVIDERS + ".") && field.getValue().isObject()) {
        existing = providerTemplate(field.getValue(), templates, key, source);
        into.set(field.getKey(), existing);
      }
      if (existing == null && prefix.equals(TENANTS + ".")) {
        into.set(field.getKey(), tenantLimits(field.getValue(), key, source));
        continue;
      }
      if (existing == null && freeMap) {
        if (field.getValue().isContainerNode()) {
          throw new ConfigException(key, "must be a single value (in " + source + ")");
        }
        into.put(field.getKey(), field.getValue().isNull() ? "" : field.getValue().asText());
        continue;
      }
      if (existing == null) {
        throw new ConfigException(key, "is not a known configuration key (in " + source + ")");
      }
      if (existing.isObject()) {
        if (!field.getValue().isObject()) {
          throw new ConfigException(key, "must be a section with keys (in " + source + ")");
        }
        overlay((ObjectNode) existing, field.getValue(), key + ".", source, templates);
      } else {
        if (field.getValue().isContainerNode()) {
          throw new ConfigException(key, "must be a single value (in " + source + ")");
        }
        into.set(field.getKey(), field.getValue());
      }
    }
  }

  /** One tenant's overrides, checked: only the limit keys, each a single value. */
  private static ObjectNode tenantLimits(JsonNode entry, String key, String source) {
    if (!entry.isObject()) {
      throw new ConfigException(
          key,
          "must be a section of the tenant's limits ("
              + String.join(", ", TokenbusConfig.Limits.KEYS)
              + ") (in "
              + source
              + ")");
    }
    Iterator<Map.Entry<String, JsonNode>> limits = entry.fields();
    while (limits.hasNext()) {
      Map.Entry<String, JsonNode> limit = limits.next();
      if (!TokenbusConfig.Limits.KEYS.contains(limit.getKey())) {
        throw new ConfigException(
            key + "." + limit.getKey(),
            "is not a tenant limit; a tenant may set "
                + String.join(", ", TokenbusConfig.Limits.KEYS)
                + " (in "
                + source
                + ")");
      }
      if (limit.getValue().isContainerNode()) {
        throw new ConfigException(
            key + "." + limit.getKey(), "must be a single value (in " + source + ")");
      }
    }
    return (ObjectNode) entry.deepCopy();
  }

  /**
   * A new provider's starting point: the default provider of the type it names (openai if none).
   */
  private static ObjectNode providerTemplate(
      JsonNode entry, ObjectNode templates, String key, String source) {
    String type =
        entry
            .path("type")
            .asText(TokenbusConfig.Provider.OPENAI)
            .trim()
            .toLowerCase(Locale.ROOT); // as validated
    Iterator<Map.Entry<String, JsonNode>> defaults = templates.fields();
    while (defaults.hasNext()) {
      JsonNode candidate = defaults.next().getValue();
      if (candidate.path("type").asText().equals(type)) {
        return ((ObjectNode) candidate).deepCopy();
      }
    }
    throw new ConfigException(
        key + ".type", "must be openai or anthropic, got \"" + type + "\" (in " + source + ")");
  }

  /** Applies environment variables; returns key → the variable that set it. */
  private static Map<String, String> overlayEnvironment(ObjectNode tree, Map<String, String> env) {
    Map<String, String> applied = new LinkedHashMap<>();
    ENV_ALIASES.forEach(
        (name, key) -> {
          if (env.get(name) != null) {
            set(tree, List.of(key.split("\\.")), env.get(name));
            applied.put(key, name);
          }
        });
    // A tenant named in a file takes every limit key from the environment, set there or not.
    JsonNode tenants = tree.at("/" + TENANTS.replace('.', '/'));
    tenants
        .fieldNames()
        .forEachRemaining(
            tenant ->
                TokenbusConfig.Limits.KEYS.forEach(
                    limit -> {
                      String key = TENANTS + "." + tenant + "." + limit;
                      if (env.get(envName(key)) != null) {
                        ((ObjectNode) tenants.get(tenant)).put(limit, env.get(envName(key)));
                      }
                    }));
    forEachLeaf(
        tree,
        List.of(),
        path -> {
          String key = String.join(".", path);
          String name = envName(key);
          if (env.get(name) != null) {
            set(tree, path, env.get(name));
            applied.put(key, name);
          }
        });
    return applied;
  }

  private static void forEachLeaf(JsonNode node, List<String> path, Consumer<List<String>> action) {
    List<Map.Entry<String, JsonNode>> fields = new ArrayList<>();
    node.fields().forEachRemaining(fields::add);
    for (Map.Entry<String, JsonNode> field : fields) {
      List<String> fieldPath = new ArrayList<>(path);
      fieldPath.add(field.getKey());
      if (field.getValue().isObject()) {
        forEachLeaf(field.getValue(), fieldPath, action);
      } else {
        action.accept(fieldPath);
      }
    }
  }

  private static void set(ObjectNode tree, List<String> path, String value) {
    ObjectNode section = tree;
    for (int i = 0; i < path.size() - 1; i++) {
      section = (ObjectNode) section.get(path.get(i));
    }
    section.set(path.get(path.size() - 1), TextNode.valueOf(value));
  }
}
