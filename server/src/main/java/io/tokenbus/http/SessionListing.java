package io.tokenbus.http;

import io.tokenbus.session.SessionSummary;
import io.vertx.core.MultiMap;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/**
 * {@code GET /v1/sessions}: its query string checked ({@code limit} and {@code after}, as {@link
 * GenerationListing} checks them; anything else is a 400 naming the parameter), and a page rendered
 * as OpenAI's list object.
 */
final class SessionListing {

  /**
   * What the query string asks for; {@code after} is an id, resolved to its place by the caller.
   */
  record Request(int limit, String after) {}

  private SessionListing() {}

  static Request parse(MultiMap params) {
    int limit = GenerationListing.DEFAULT_LIMIT;
    String after = null;
    for (String name : params.names()) {
      List<String> values = params.getAll(name);
      if (values.size() > 1) {
        throw GenerationListing.bad(
            name, "'" + GenerationListing.shown(name) + "' is given more than once");
      }
      String value = values.get(0);
      switch (name) {
        case "limit" -> limit = GenerationListing.limit(value);
        case "after" -> after = GenerationListing.nonEmpty(name, value);
        case "access_token" -> {} // a credential (AuthHandler), not a filter
        default ->
            throw ApiException.badRequest(
                "invalid_parameter",
                "Unknown query parameter '"
                    + GenerationListing.shown(name)
                    + "'; GET /v1/sessions takes limit and after",
                GenerationListing.shown(name));
      }
    }
    return new Request(limit, after);
  }

  /**
   * The page: the first {@code limit} of what the store found, and whether more follow; with each
   * session's tenant for the admin, who sees every tenant's.
   */
  static JsonObject page(List<SessionSummary> found, int limit, boolean withTenant) {
    List<SessionSummary> page = found.subList(0, Math.min(limit, found.size()));
    JsonArray data = new JsonArray();
    page.forEach(s -> data.add(item(s, withTenant)));
    return new JsonObject()
        .put("object", "list")
        .put("data", data)
        .put("first_id", page.isEmpty() ? null : page.get(0).id())
        .put("last_id", page.isEmpty() ? null : page.get(page.size() - 1).id())
        .put("has_more", found.size() > limit);
  }

  /** A session as a listing shows it: no transcript, no participants. */
  static JsonObject item(SessionSummary s, boolean withTenant) {
    JsonObject item =
        new JsonObject()
            .put("id", s.id())
            .put("object", "session")
            .put("title", s.title())
            .put("model", s.model())
            .put("created", s.created())
            .put("last_message_at", s.lastMessageAt())
            .put("message_count", s.messageCount())
            .put("answering", s.answering());
    if (withTenant) {
      item.put("tenant", s.tenant());
    }
    return item;
  }

  static ApiException unknownCursor(String after) {
    return ApiException.badRequest(
        "invalid_cursor",
        "'after' must be the id of a session this credential can list (the last one of the"
            + " previous page); '"
            + GenerationListing.shown(after)
            + "' is unknown, expired or not yours",
        "after");
  }
}
