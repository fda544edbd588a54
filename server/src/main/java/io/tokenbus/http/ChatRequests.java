package io.tokenbus.http;

import io.tokenbus.bus.Creator;
import io.tokenbus.bus.GenerationRequest;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Validates a Chat Completions request body at the edge. Fields tokenbus does not read are kept
 * untouched, so they reach an OpenAI-compatible upstream as the client sent them.
 */
final class ChatRequests {

  /** OpenAI's limits on {@code metadata}. */
  static final int MAX_METADATA_KEYS = 16;

  static final int MAX_METADATA_KEY_CHARS = 64;
  static final int MAX_METADATA_VALUE_CHARS = 512;

  private ChatRequests() {}

  static JsonObject json(Buffer body) {
    if (body == null || body.length() == 0) {
      throw ApiException.badRequest(
          "invalid_json", "The request body is empty; expected a JSON object", null);
    }
    Object value;
    try {
      value = Json.decodeValue(body);
    } catch (DecodeException e) {
      throw ApiException.badRequest(
          "invalid_json", "The request body is not valid JSON: " + firstLine(e.getMessage()), null);
    }
    if (value instanceof JsonObject object) {
      return object;
    }
    throw ApiException.badRequest("invalid_json", "The request body must be a JSON object", null);
  }

  /** The request in {@code body}, started by {@code creator}; a 400 for anything not valid. */
  static GenerationRequest parse(JsonObject body, Creator creator) {
    Object model = body.getValue("model");
    if (!(model instanceof String name) || name.isBlank()) {
      throw ApiException.badRequest(
          "invalid_model", "'model' is required and must be a non-empty string", "model");
    }
    if (!(body.getValue("messages") instanceof JsonArray messages) || messages.isEmpty()) {
      throw ApiException.badRequest(
          "invalid_messages", "'messages' is required and must be a non-empty array", "messages");
    }
    for (int i = 0; i < messages.size(); i++) {
      if (!(messages.getValue(i) instanceof JsonObject message)
          || !(message.getValue("role") instanceof String)) {
        throw ApiException.badRequest(
            "invalid_messages",
            "messages[" + i + "] must be an object with a string 'role'",
            "messages");
      }
    }
    optionalBoolean(body, "stream");
    if (body.containsKey("stream_options") && body.getValue("stream_options") != null) {
      if (!(body.getValue("stream_options") instanceof JsonObject options)) {
        throw ApiException.badRequest(
            "invalid_stream_options", "'stream_options' must be an object", "stream_options");
      }
      optionalBoolean(options, "include_usage");
    }
    Integer maxTokens = positiveInt(body, "max_completion_tokens");
    if (maxTokens == null) {
      maxTokens = positiveInt(body, "max_tokens");
    }
    Double rate = null;
    if (body.getValue("mock_tokens_per_second") != null) {
      if (!(body.getValue("mock_tokens_per_second") instanceof Number n)
          || !(n.doubleValue() > 0)
          || n.doubleValue() > 1_000_000) {
        throw ApiException.badRequest(
            "invalid_mock_tokens_per_second",
            "'mock_tokens_per_second' must be a number above 0 and at most 1000000",
            "mock_tokens_per_second");
      }
      rate = n.doubleValue();
    }
    Map<String, String> metadata = metadata(body);
    if (!Boolean.TRUE.equals(body.getValue("store"))) {
      // OpenAI refuses metadata without store: true; tokenbus keeps it for itself instead.
      body.remove("metadata");
    }
    return new GenerationRequest(name, body, maxTokens, rate, null, creator, metadata);
  }

  /**
   * The body's {@code metadata}, checked against OpenAI's limits: an object of at most {@value
   * #MAX_METADATA_KEYS} keys of at most {@value #MAX_METADATA_KEY_CHARS} characters, each value a
   * string of at most {@value #MAX_METADATA_VALUE_CHARS}. Absent or null is none.
   */
  static Map<String, String> metadata(JsonObject body) {
    Object value = body.getValue("metadata");
    if (value == null) {
      return Map.of();
    }
    if (!(value instanceof JsonObject object)) {
      throw badMetadata("'metadata' must be an object of string keys to string values");
    }
    if (object.size() > MAX_METADATA_KEYS) {
      throw badMetadata(
          "'metadata' has "
              + object.size()
              + " keys; at most "
              + MAX_METADATA_KEYS
              + " are allowed");
    }
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Map.Entry<String, Object> entry : object) {
      String key = entry.getKey();
      if (chars(key) > MAX_METADATA_KEY_CHARS) {
        throw badMetadata(
            "'metadata' key '"
                + key.substring(0, key.offsetByCodePoints(0, 16))
                + "...' has "
                + chars(key)
                + " characters; at most "
                + MAX_METADATA_KEY_CHARS
                + " are allowed");
      }
      if (!(entry.getValue() instanceof String text)) {
        throw badMetadata("'metadata." + key + "' must be a string");
      }
      if (chars(text) > MAX_METADATA_VALUE_CHARS) {
        throw badMetadata(
            "'metadata."
                + key
                + "' has "
                + chars(text)
                + " characters; at most "
                + MAX_METADATA_VALUE_CHARS
                + " are allowed");
      }
      metadata.put(key, text);
    }
    return metadata;
  }

  private static ApiException badMetadata(String message) {
    return ApiException.badRequest("invalid_metadata", message, "metadata");
  }

  private static int chars(String text) {
    return text.codePointCount(0, text.length());
  }

  static boolean stream(JsonObject body) {
    return Boolean.TRUE.equals(body.getValue("stream"));
  }

  static boolean includeUsage(JsonObject body) {
    return body.getValue("stream_options") instanceof JsonObject options
        && Boolean.TRUE.equals(options.getValue("include_usage"));
  }

  private static void optionalBoolean(JsonObject body, String key) {
    Object value = body.getValue(key);
    if (value != null && !(value instanceof Boolean)) {
      throw ApiException.badRequest("invalid_" + key, "'" + key + "' must be true or false", key);
    }
  }

  private static Integer positiveInt(JsonObject body, String key) {
    Object value = body.getValue(key);
    if (value == null) {
      return null;
    }
    if (!(value instanceof Number n)
        || n.doubleValue() != Math.rint(n.doubleValue())
        || n.longValue() < 1
        || n.longValue() > Integer.MAX_VALUE) {
      throw ApiException.badRequest(
          "invalid_" + key, "'" + key + "' must be a positive integer", key);
    }
    return n.intValue();
  }

  private static String firstLine(String message) {
    return message == null ? "" : message.split("\n")[0];
  }
}
