package io.tokenbus.http;

import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationSummary;
import io.vertx.core.MultiMap;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;
import java.util.stream.Collectors;

/**
 * {@code GET /v1/generations}: its query string checked into a {@link GenerationQuery} (anything
 * unknown or malformed is a 400 naming the parameter, never a silently wider listing), and a page
 * rendered as OpenAI's list object.
 */
final class GenerationListing {

  static final int DEFAULT_LIMIT = 20;
  static final int MAX_LIMIT = 100;

  private static final String METADATA = "metadata.";

  /**
   * What the query string asks for; {@code after} is an id, resolved to its place by the caller.
   */
  record Request(
      GenerationStatus status,
      String model,
      Map<String, String> metadata,
      int limit,
      String after) {

    /**
     * The store's query for {@code tenant} (null: every tenant), after {@code cursor} (or null).
     */
    GenerationQuery query(String tenant, GenerationQuery.Cursor cursor) {
      return new GenerationQuery(tenant, status, model, metadata, limit, cursor);
    }
  }

  private GenerationListing() {}

  static Request parse(MultiMap params) {
    GenerationStatus status = null;
    String model = null;
    Map<String, String> metadata = new LinkedHashMap<>();
    int limit = DEFAULT_LIMIT;
    String after = null;
    for (String name : params.names()) {
      List<String> values = params.getAll(name);
      if (values.size() > 1) {
        throw bad(name, "'" + shown(name) + "' is given more than once");
      }
      String value = values.get(0);
      switch (name) {
        case "status" -> status = status(value);
        case "model" -> model = nonEmpty(name, value);
        case "limit" -> limit = limit(value);
        case "after" -> after = nonEmpty(name, value);
        case "access_token" -> {} // a credential (AuthHandler), not a filter
        default -> {
          if (!name.startsWith(METADATA)) {
            throw bad(
                name,
                "Unknown query parameter '"
                    + shown(name)
                    + "'; GET /v1/generations takes status, model, metadata.<key>, limit and"
                    + " after");
          }
          String key = name.substring(METADATA.length());
          if (key.isEmpty() || chars(key) > ChatRequests.MAX_METADATA_KEY_CHARS) {
            throw bad(
                name,
                "'"
                    + shown(name)
                    + "' must name a metadata key of 1 to "
                    + ChatRequests.MAX_METADATA_KEY_CHARS
                    + " characters");
          }
          if (chars(value) > ChatRequests.MAX_METADATA_VALUE_CHARS) {
            throw bad(
                name,
                "'"
                    + shown(name)
                    + "' is longer than a metadata value may be ("
                    + ChatRequests.MAX_METADATA_VALUE_CHARS
                    + " characters)");
          }
          metadata.put(key, value);
        }
      }
    }
    if (metadata.size() > ChatRequests.MAX_METADATA_KEYS) {
      throw bad(
          "metadata",
          "At most "
              + ChatRequests.MAX_METADATA_KEYS
              + " metadata.<key> filters (a generation has at most that many keys)");
    }
    return new Request(status, model, metadata, limit, after);
  }

  /** The page: the first {@code limit} of what the store found, and whether more follow. */
  static JsonObject page(
      List<GenerationSummary> found, int limit, ToIntFunction<String> subscribers) {
    List<GenerationSummary> page = found.subList(0, Math.min(limit, found.size()));
    JsonArray data = new JsonArray();
    page.forEach(g -> data.add(item(g, subscribers.applyAsInt(g.id()))));
    return new JsonObject()
        .put("object", "list")
        .put("data", data)
        .put("first_id", page.isEmpty() ? null : page.get(0).id())
        .put("last_id", page.isEmpty() ? null : page.get(page.size() - 1).id())
        .put("has_more", found.size() > limit);
  }

  /** A generation as its status object shows it, without what only its log knows. */
  static JsonObject item(GenerationSummary g, int subscribers) {
    return new JsonObject()
        .put("id", g.id())
        .put("object", "generation")
        .put("model", g.model())
        .put("tenant", g.tenant())
        .put("created", g.created())
        .put("metadata", GenerationJson.metadata(g.metadata()))
        .put("status", g.status().wireName())
        .put("subscribers", subscribers)
        .put("owner", g.owner())
        .put("node", g.owner())
        .put("urls", GenerationJson.urls(g.id()));
  }

  static ApiException unknownCursor(String after) {
    return ApiException.badRequest(
        "invalid_cursor",
        "'after' must be the id of a generation this credential can list (the last one of the"
            + " previous page); '"
            + shown(after)
            + "' is unknown, expired or not yours",
        "after");
  }

  private static GenerationStatus status(String value) {
    return Arrays.stream(GenerationStatus.values())
        .filter(s -> s.wireName().equals(value))
        .findFirst()
        .orElseThrow(
            () ->
                bad(
                    "status",
                    "'status' must be one of "
                        + Arrays.stream(GenerationStatus.values())
                            .map(GenerationStatus::wireName)
                            .collect(Collectors.joining(", "))));
  }

  static int limit(String value) {
    int limit;
    try {
      limit = Integer.parseInt(value);
    } catch (NumberFormatException e) {
      limit = 0;
    }
    if (limit < 1 || limit > MAX_LIMIT) {
      throw bad("limit", "'limit' must be an integer from 1 to " + MAX_LIMIT);
    }
    return limit;
  }

  static String nonEmpty(String name, String value) {
    if (value.isEmpty()) {
      throw bad(name, "'" + name + "' must not be empty");
    }
    return value;
  }

  static ApiException bad(String param, String message) {
    return ApiException.badRequest("invalid_" + codeName(param), message, shown(param));
  }

  /**
   * The error code's noun: the parameter ({@code cursor} for {@code after}, as for the other
   * cursors), or {@code metadata} for any metadata filter.
   */
  private static String codeName(String param) {
    return switch (param) {
      case "status", "model", "limit" -> param;
      case "after" -> "cursor";
      default -> param.startsWith("metadata") ? "metadata" : "parameter";
    };
  }

  /** A name or value echoed in a message: what the client sent, cut short. */
  static String shown(String text) {
    return chars(text) <= 80 ? text : text.substring(0, text.offsetByCodePoints(0, 80)) + "...";
  }

  private static int chars(String text) {
    return text.codePointCount(0, text.length());
  }
}
