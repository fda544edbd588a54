package io.tokenbus.support;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * Malformed inputs for the fuzz suite, as JSON text (so they can hold what no JSON library writes:
 * 2^63, a lone surrogate, a number of 2,000 digits) and as bodies built from a valid request with
 * one to three fields replaced or removed.
 */
public final class FuzzValues {

  private FuzzValues() {}

  /** JSON values of every type, at and past the edges. */
  private static final List<String> VALUES =
      List.of(
          "null",
          "true",
          "false",
          "0",
          "-0",
          "1",
          "2",
          "-1",
          "1.5",
          "1e308",
          "-1e308",
          "1e309",
          "4.9e-324",
          "1E2",
          "2147483647",
          "2147483648",
          "9223372036854775807",
          "9223372036854775808",
          "-9223372036854775809",
          "18446744073709551616",
          "\"\"",
          "\" \"",
          "\"mock\"",
          "\"gpt-4o\"",
          "\"claude-3\"",
          "\"true\"",
          "\"1\"",
          "\"\\ud800\"",
          "\"\\u0000\"",
          "\"\\n\\r\\t\"",
          "\"é🚀 你好\"",
          "[]",
          "[1,2]",
          "[null]",
          "[\"a\"]",
          "[{}]",
          "[{\"role\":\"user\"}]",
          "[{\"role\":1,\"content\":\"x\"}]",
          "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}]}]",
          "{}",
          "{\"a\":1}",
          "{\"include_usage\":\"yes\"}",
          "{\"include_usage\":true}");

  /** Any of {@link #VALUES}, or now and then a very long, very deep or very precise one. */
  public static String value(Random random) {
    return switch (random.nextInt(20)) {
      case 0 -> "\"" + "x".repeat(1 + random.nextInt(20_000)) + "\"";
      case 1 -> nested(random, 1 + random.nextInt(300));
      case 2 -> "1" + "0".repeat(20 + random.nextInt(2_000));
      case 3 -> "0." + "1".repeat(20 + random.nextInt(2_000));
      default -> VALUES.get(random.nextInt(VALUES.size()));
    };
  }

  /** Arrays or objects {@code depth} deep. */
  public static String nested(Random random, int depth) {
    boolean arrays = random.nextBoolean();
    return (arrays ? "[" : "{\"a\":").repeat(depth) + "1" + (arrays ? "]" : "}").repeat(depth);
  }

  /** A valid chat completion request for the mock: short and fast. */
  public static Map<String, String> chatRequest() {
    Map<String, String> body = new LinkedHashMap<>();
    body.put("model", "\"mock\"");
    body.put("messages", "[{\"role\":\"user\",\"content\":\"hello\"}]");
    body.put("max_tokens", "3");
    body.put("mock_tokens_per_second", "5000");
    return body;
  }

  /** The fields of a chat completion request a client may get wrong. */
  public static final List<String> CHAT_FIELDS =
      List.of(
          "model",
          "messages",
          "max_tokens",
          "max_completion_tokens",
          "n",
          "stream",
          "stream_options",
          "mock_tokens_per_second",
          "tools",
          "tool_choice",
          "temperature",
          "stop",
          "user",
          "response_format",
          "seed");

  /** {@code body} with one to three of {@code fields} replaced by odd values or removed. */
  public static String mutate(Map<String, String> body, List<String> fields, Random random) {
    Map<String, String> copy = new LinkedHashMap<>(body);
    int changes = 1 + random.nextInt(3);
    for (int i = 0; i < changes; i++) {
      String field = fields.get(random.nextInt(fields.size()));
      if (random.nextInt(6) == 0) {
        copy.remove(field);
      } else {
        copy.put(field, value(random));
      }
    }
    return encode(copy);
  }

  public static String encode(Map<String, String> body) {
    return body.entrySet().stream()
        .map(e -> "\"" + e.getKey() + "\":" + e.getValue())
        .collect(Collectors.joining(",", "{", "}"));
  }

  /** Bodies that are not a JSON object at all, or not JSON. */
  public static String junk(Random random) {
    return switch (random.nextInt(24)) {
      case 0 -> "";
      case 1 -> "{";
      case 2 -> "{\"model\":";
      case 3 -> "null";
      case 4 -> "[]";
      case 5 -> "123";
      case 6 -> "\"text\"";
      case 7 -> "true";
      case 8 -> nested(random, 1_000 + random.nextInt(20_000));
      case 9 -> "[" + "1".repeat(2_000 + random.nextInt(20_000)) + "]";
      case 10 -> "{\"model\":\"mock\"}xyz";
      case 11 -> "{\"model\":\"mock\",\"model\":1}";
      case 12 -> "/* comment */ {}";
      case 13 -> "{\"model\": NaN}";
      case 14 -> "{'model': 'mock'}";
      case 15 -> "\uFEFF{}";
      case 16 -> "{\"a\":\"\\u12\"}";
      case 17 -> "{\"a\":\"\\x\"}";
      case 18 -> "{\"a\":1,}";
      case 19 -> "{\"" + "k".repeat(10_000) + "\":1}";
      case 20 -> "not json at all";
      case 21 -> "{\"messages\":[" + "{},".repeat(5_000) + "{}]}";
      case 22 -> "\u0000\u0001\u0002";
      default ->
          "{\"model\":\"mock\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "é" + "\"}]";
    };
  }
}
