package io.tokenbus.http;

import io.tokenbus.auth.Authenticator;
import io.tokenbus.auth.Grant;
import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.limits.Limits;
import io.tokenbus.provider.Upstreams;
import io.tokenbus.session.SessionEncoder;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.SessionLimitException;
import io.tokenbus.session.SessionQuery;
import io.tokenbus.session.SessionStorageFullException;
import io.tokenbus.session.SessionSummary;
import io.tokenbus.session.Sessions;
import io.tokenbus.session.TenantSessionLimitException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * {@code /v1/sessions}: create, list, read, delete, post, stop, typing, and the session's SSE event
 * stream. A participant who names themselves ({@code ?author=}) on the stream is present while
 * connected.
 */
final class SessionsHandler {

  private final Limits limits;
  private final Sessions sessions;
  private final Streams streams;
  private final Upstreams upstreams;
  private final TokenbusConfig.Sessions config;
  private final Authenticator authenticator;

  SessionsHandler(
      Sessions sessions,
      Streams streams,
      Upstreams upstreams,
      Authenticator authenticator,
      Limits limits) {
    this.limits = limits;
    this.sessions = sessions;
    this.streams = streams;
    this.upstreams = upstreams;
    this.config = sessions.config();
    this.authenticator = authenticator;
  }

  /**
   * Whether {@code caller} owns session {@code id}: an owner token for it, or a credential of its
   * tenant that is not restricted to one session (the app's own key).
   */
  private static boolean owns(Principal caller, String id) {
    Grant grant = caller.grant();
    return grant == null
        ? caller.may(Scope.SESSIONS)
        : grant.kind() == Grant.Kind.SESSION
            && grant.id().equals(id)
            && grant.role() == Grant.Role.OWNER;
  }

  /**
   * The links an owner hands out: the chat page with a join token ({@code share_url}) or a view
   * token ({@code view_url}) in the URL fragment, which browsers never send to the server, so no
   * access log holds it.
   */
  private void putLinks(JsonObject json, RoutingContext ctx, String id, String tenant) {
    String host =
        ctx.request().authority() == null
            ? ""
            : ctx.request().scheme() + "://" + ctx.request().authority();
    String page = host + "/?session=" + id + "#token=";
    String join = authenticator.sessionToken(tenant, id, Grant.Role.PARTICIPANT);
    String view = authenticator.sessionToken(tenant, id, Grant.Role.VIEWER);
    json.put("share_url", page + join).put("view_url", page + view);
    json.put("join_token", join).put("view_token", view);
  }

  private static ApiException notFound(String id) {
    return Access.sessionNotFound(id);
  }

  /**
   * Checks that the caller may do {@code need} to session {@code id}: fails with 403 for a
   * credential that may not, and with 404 for a session that is unknown or not the caller's.
   */
  private Future<Void> reach(Principal caller, String id, Access.SessionNeed need) {
    return owner(caller, id, need).mapEmpty();
  }

  /** The tenant of session {@code id}, once {@code caller} may reach it; else a 404. */
  private Future<String> owner(Principal caller, String id, Access.SessionNeed need) {
    Access.mayUseSessions(caller, need);
    return sessions
        .tenant(id)
        .compose(
            tenant ->
                tenant != null && Access.reaches(caller, id, tenant)
                    ? Future.succeededFuture(tenant)
                    : Future.failedFuture(notFound(id)));
  }

  /**
   * A 429 when {@code tenant}'s sessions hold its {@code limits.max-session-bytes}: its new
   * sessions and questions are refused, other tenants' are not.
   */
  private void checkTenantBytes(String tenant) {
    long max = limits.of(tenant).maxSessionBytes();
    if (max > 0 && sessions.bytesOf(tenant) >= max) {
      throw new ApiException(
          new Failure(
              429,
              "rate_limit_error",
              "session_storage_full",
              "Tenant "
                  + tenant
                  + "'s chat sessions hold "
                  + max
                  + " bytes, its limit (limits.max-session-bytes); retry when some have expired,"
                  + " or start fewer"),
          null,
          SessionStorageFullException.RETRY_AFTER_SECONDS);
    }
  }

  /** A store's refusal as an answer: 429 when sessions.max-sessions or max-bytes is reached. */
  private static <T> Future<T> refused(Throwable e) {
    if (e instanceof TenantSessionLimitException) {
      return Future.failedFuture(
          new ApiException(
              new Failure(429, "rate_limit_error", "session_limit_reached", e.getMessage()),
              null,
              SessionStorageFullException.RETRY_AFTER_SECONDS));
    }
    if (e instanceof SessionLimitException) {
      return Future.failedFuture(
          new ApiException(
              new Failure(429, "rate_limit_error", "session_limit_reached", e.getMessage())));
    }
    if (e instanceof SessionStorageFullException) {
      return Future.failedFuture(
          new ApiException(
              new Failure(429, "rate_limit_error", "session_storage_full", e.getMessage()),
              null,
              SessionStorageFullException.RETRY_AFTER_SECONDS));
    }
    return Future.failedFuture(e);
  }

  private static String optionalString(JsonObject body, String key, int max) {
    Object value = body.getValue(key);
    if (value == null) {
      return null;
    }
    if (!(value instanceof String text) || text.length() > max) {
      throw ApiException.badRequest(
          "invalid_" + key,
          "'" + key + "' must be a string of at most " + max + " characters",
          key);
    }
    return text;
  }

  private static JsonObject body(RoutingContext ctx, boolean required) {
    Buffer buffer = ctx.body().buffer();
    return buffer == null || buffer.length() == 0
        ? (required ? ChatRequests.json(buffer) : new JsonObject())
        : ChatRequests.json(buffer);
  }

  /**
   * {@code POST /v1/sessions}: 201 with the session, its owner, join and view tokens, and the chat
   * page's links carrying them.
   */
  void create(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayStart(caller, Scope.SESSIONS, "start chat sessions");
    JsonObject body = body(ctx, false);
    String title = optionalString(body, "title", config.maxTitleChars());
    String model = optionalString(body, "model", 200);
    String system = optionalString(body, "system", config.maxMessageChars());
    String chosen = model == null || model.isBlank() ? config.defaultModel() : model;
    Failure unserved = upstreams.route(chosen).failure();
    if (unserved != null) {
      throw new ApiException(unserved, "model");
    }
    checkTenantBytes(caller.creator().tenant());
    sessions
        .create(
            caller.creator().tenant(),
            title == null ? "" : title,
            chosen,
            system == null ? "" : system,
            limits.of(caller.creator().tenant()).maxSessions())
        .recover(SessionsHandler::refused)
        .onSuccess(
            view -> {
              JsonObject json = SessionEncoder.view(view);
              String owner = authenticator.sessionToken(view.tenant(), view.id(), Grant.Role.OWNER);
              putLinks(json, ctx, view.id(), view.tenant());
              json.put("owner_token", owner);
              json.put(
                  "owner_url",
                  json.getString("share_url").replaceFirst("#token=.*", "#token=" + owner));
              ctx.response()
                  .setStatusCode(201)
                  .putHeader(HttpHeaders.LOCATION, "/v1/sessions/" + view.id())
                  .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                  .end(json.encode());
            })
        .onFailure(ctx::fail);
  }

  /**
   * {@code GET /v1/sessions}: the caller's sessions, newest first, paged with {@code limit} and
   * {@code after} ({@link SessionListing}): a tenant's own, every tenant's for the admin, only its
   * own for a token restricted to one session (read without a scan).
   */
  void list(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayUseSessions(caller, Access.SessionNeed.READ);
    SessionListing.Request request = SessionListing.parse(ctx.queryParams());
    String tenant = caller.admin() ? null : caller.tenant();
    Grant grant = caller.grant();
    cursor(caller, request.after())
        .compose(
            cursor -> {
              SessionQuery query = new SessionQuery(tenant, cursor, request.limit());
              if (grant == null) {
                return sessions.list(query);
              }
              return sessions
                  .summary(grant.id())
                  .map(
                      s ->
                          s != null
                                  && Access.reaches(caller, s.id(), s.tenant())
                                  && query.matches(s)
                              ? List.of(s)
                              : List.<SessionSummary>of());
            })
        .onSuccess(
            found ->
                ctx.response()
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(SessionListing.page(found, request.limit(), caller.admin()).encode()))
        .onFailure(ctx::fail);
  }

  /**
   * Where the page after session {@code after} starts: its creation time and id. One the caller
   * cannot see is refused exactly as an unknown one.
   */
  private Future<SessionQuery.Cursor> cursor(Principal caller, String after) {
    if (after == null) {
      return Future.succeededFuture();
    }
    return sessions
        .summary(after)
        .compose(
            s ->
                s != null && Access.reaches(caller, after, s.tenant())
                    ? Future.succeededFuture(new SessionQuery.Cursor(s.created(), s.id()))
                    : Future.failedFuture(SessionListing.unknownCursor(after)));
  }

  /**
   * {@code GET /v1/sessions/{id}}: the session and its transcript; for its owner, the join and view
   * links too.
   */
  void get(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    Access.mayUseSessions(caller, Access.SessionNeed.READ);
    sessions
        .view(id)
        .onSuccess(
            view -> {
              if (view == null || !Access.reaches(caller, id, view.tenant())) {
                ctx.fail(notFound(id));
                return;
              }
              JsonObject json = SessionEncoder.view(view);
              if (owns(caller, id)) {
                putLinks(json, ctx, id, view.tenant());
              }
              ctx.response()
                  .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                  .end(json.encode());
            })
        .onFailure(ctx::fail);
  }

  /**
   * {@code POST /v1/sessions/{id}/messages}: 202 with the message and the answer started (or
   * queued) for it.
   */
  void post(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    Access.mayUseSessions(caller, Access.SessionNeed.TAKE_PART);
    JsonObject body = body(ctx, true);
    String author = Participants.author(caller, body.getValue("author"));
    if (!(body.getValue("content") instanceof String content) || content.isBlank()) {
      throw ApiException.badRequest(
          "invalid_content", "'content' is required: a non-empty string", "content");
    }
    if (content.length() > config.maxMessageChars()) {
      throw ApiException.badRequest(
          "message_too_long",
          "'content' is longer than "
              + config.maxMessageChars()
              + " characters (sessions.max-message-chars)",
          "content");
    }
    owner(caller, id, Access.SessionNeed.TAKE_PART)
        .compose(
            tenant -> {
              checkTenantBytes(tenant);
              return sessions.post(id, author, content);
            })
        .recover(SessionsHandler::refused)
        .onSuccess(
            post -> {
              if (post == null) {
                ctx.fail(notFound(id));
              } else if (post.refused() != null) {
                ctx.fail(new ApiException(post.refused()));
              } else {
                ctx.response()
                    .setStatusCode(202)
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(
                        new JsonObject()
                            .put("message", SessionEncoder.message(post.message()))
                            .put("answer", post.answer())
                            .put("generation", post.generation())
                            .put("queued", post.queued())
                            .encode());
              }
            })
        .onFailure(ctx::fail);
  }

  /**
   * {@code POST /v1/sessions/{id}/stop}: stops the answer in progress for everyone; queued
   * questions are given up.
   */
  void stop(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    reach(caller, id, Access.SessionNeed.TAKE_PART)
        .compose(v -> sessions.stop(id))
        .onSuccess(
            stopped ->
                ctx.response()
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(
                        new JsonObject()
                            .put("stopped", stopped == null ? null : stopped.id())
                            .encode()))
        .onFailure(ctx::fail);
  }

  /**
   * {@code DELETE /v1/sessions/{id}}: 204 once the session is gone for everyone (its viewers told,
   * its answer cancelled). Only its owner may: its owner token, or a credential of its tenant not
   * restricted to one session; a participant's or viewer's token is 403 whatever the id.
   */
  void delete(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    Access.mayUseSessions(caller, Access.SessionNeed.TAKE_PART);
    if (caller.grant() != null && caller.grant().role() != Grant.Role.OWNER) {
      throw Access.denied("Only the session's owner may delete it");
    }
    reach(caller, id, Access.SessionNeed.TAKE_PART)
        .compose(v -> sessions.delete(id))
        .compose(deleted -> deleted ? Future.succeededFuture() : Future.failedFuture(notFound(id)))
        .onSuccess(v -> ctx.response().setStatusCode(204).end())
        .onFailure(ctx::fail);
  }

  /**
   * {@code POST /v1/sessions/{id}/typing}: {@code {"author"}}; everyone gets a presence {@code
   * typing} event.
   */
  void typing(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    Access.mayUseSessions(caller, Access.SessionNeed.TAKE_PART);
    String author = Participants.author(caller, body(ctx, true).getValue("author"));
    // Not a view first: typing comes every few seconds per typist, and a view copies the whole
    // transcript.
    reach(caller, id, Access.SessionNeed.TAKE_PART)
        .compose(v -> sessions.typing(id, author))
        .compose(found -> found ? Future.succeededFuture() : Future.failedFuture(notFound(id)))
        .onSuccess(v -> ctx.response().setStatusCode(204).end())
        .onFailure(ctx::fail);
  }

  /**
   * {@code GET /v1/sessions/{id}/events}: a newcomer gets {@code state} (the whole session) and
   * then live events; {@code Last-Event-ID} (or {@code ?after=}) resumes after that seq instead.
   */
  void events(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    String id = ctx.pathParam("id");
    String lastEventId = ctx.request().getHeader("Last-Event-ID");
    String afterParam = ctx.request().getParam("after");
    long after =
        lastEventId != null
            ? Cursors.parse(lastEventId, "Last-Event-ID")
            : afterParam != null ? Cursors.parse(afterParam, "after") : -1;
    String authorParam = ctx.request().getParam("author");
    String author =
        authorParam == null && caller.subject() == null
            ? null
            : Participants.author(caller, authorParam);
    HttpServerResponse response = ctx.response();
    Participants.admit(sessions, caller, id, after, author)
        .onSuccess(
            v -> {
              if (response.closed()) { // gone while joining
                if (author != null) {
                  sessions.leave(id, author);
                }
                return;
              }
              SseOutput.prepare(response, "X-Session-Id", id);
              response.write(Buffer.buffer(": session " + id + "\n\n"));
              SessionStream output =
                  new SessionStream(ctx, author == null ? null : () -> sessions.leave(id, author));
              output.watch(streams.session(id, after, output));
            })
        .onFailure(ctx::fail);
  }

  /**
   * A session's SSE stream. A participant named on it leaves once it is over, whichever way it
   * ends; a deleted session's last event is {@code deleted}, one that is gone otherwise is said in
   * an {@code error} event before the stream ends.
   */
  private final class SessionStream extends SseOutput<SessionEvent> {
    /** Run once when the stream is over, or null. */
    private Runnable onOver;

    SessionStream(RoutingContext ctx, Runnable onOver) {
      super(streams, ctx, WireFormat.SSE);
      this.onOver = onOver;
    }

    @Override
    void closed() {
      super.closed();
      if (onOver != null) {
        Runnable action = onOver;
        onOver = null;
        action.run();
      }
    }

    @Override
    public void end() {
      closed();
      super.end();
    }

    @Override
    public void stalled() {
      closed();
      super.stalled();
    }

    @Override
    public void lost(String reason) {
      closed();
      if (!response.closed() && !response.ended()) {
        response.write(
            Buffer.buffer(
                "event: error\ndata: "
                    + new JsonObject()
                        .put("message", "The session stream ended: " + reason)
                        .put("type", "invalid_request_error")
                        .put("code", "session_not_found")
                        .encode()
                    + "\n\n"));
        response.end();
      }
    }
  }
}
