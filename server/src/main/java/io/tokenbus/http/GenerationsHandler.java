package io.tokenbus.http;

import io.tokenbus.auth.Authenticator;
import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.Failure;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationQuery;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStatus;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;

/** {@code /v1/generations}: start without watching, list, status, the SSE event stream, cancel. */
final class GenerationsHandler {

  private final GenerationClient generations;
  private final GenerationStore store;
  private final Streams streams;
  private final Authenticator authenticator;

  GenerationsHandler(
      GenerationClient generations,
      GenerationStore store,
      Streams streams,
      Authenticator authenticator) {
    this.generations = generations;
    this.store = store;
    this.streams = streams;
    this.authenticator = authenticator;
  }

  /**
   * {@code POST /v1/generations}: 201 with the status, the URLs to watch it, and a watch token to
   * hand a browser.
   */
  void create(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayStart(caller, Scope.GENERATE, "start generations");
    generations
        .start(
            ChatRequests.parse(ChatRequests.json(ctx.body().buffer()), caller.creator()),
            AccessLog.receivedAt(ctx))
        .compose(info -> snapshot(info.id()))
        .onSuccess(
            snapshot ->
                ctx.response()
                    .setStatusCode(201)
                    .putHeader(HttpHeaders.LOCATION, "/v1/generations/" + snapshot.info().id())
                    .putHeader("X-Generation-Id", snapshot.info().id())
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(
                        GenerationJson.status(snapshot, streams.viewers(snapshot.info().id()))
                            .put("watch_token", watchToken(snapshot.info()))
                            .encode()))
        .onFailure(ctx::fail);
  }

  /** A token that lets a browser read this one generation, and nothing else. */
  private String watchToken(GenerationInfo info) {
    return authenticator.watchToken(info.request().creator().tenant(), info.id());
  }

  /**
   * {@code GET /v1/generations}: the generations the caller may see, newest first, filtered and
   * paged by the query string ({@link GenerationListing}): a tenant's own, every tenant's for the
   * admin.
   */
  void list(RoutingContext ctx) {
    Principal caller = Access.caller(ctx);
    Access.mayListGenerations(caller);
    GenerationListing.Request request = GenerationListing.parse(ctx.queryParams());
    String tenant = caller.admin() ? null : caller.tenant();
    cursor(caller, request.after())
        .compose(cursor -> store.list(request.query(tenant, cursor)))
        .onSuccess(
            found ->
                ctx.response()
                    .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .end(GenerationListing.page(found, request.limit(), streams::viewers).encode()))
        .onFailure(ctx::fail);
  }

  /**
   * Where the page after generation {@code after} starts: its creation time and id. One the caller
   * cannot see is refused exactly as an unknown one.
   */
  private Future<GenerationQuery.Cursor> cursor(Principal caller, String after) {
    if (after == null) {
      return Future.succeededFuture();
    }
    return store
        .info(after)
        .compose(
            info ->
                info != null && Access.reaches(caller, info)
                    ? Future.succeededFuture(new GenerationQuery.Cursor(info.created(), info.id()))
                    : Future.failedFuture(GenerationListing.unknownCursor(after)));
  }

  /** {@code GET /v1/generations/{id}}. */
  void status(RoutingContext ctx) {
    snapshot(ctx, Scope.WATCH, "watch generations")
        .onSuccess(snapshot -> json(ctx.response(), snapshot))
        .onFailure(ctx::fail);
  }

  /**
   * {@code GET /v1/generations/{id}/events}: every event from seq 1, or after {@code Last-Event-ID}
   * (which wins, since a reconnecting EventSource repeats the original URL) or {@code ?after=};
   * {@code ?snapshot=true} folds what exists into one delta first.
   */
  void events(RoutingContext ctx) {
    String lastEventId = ctx.request().getHeader("Last-Event-ID");
    long cursor =
        lastEventId != null
            ? Cursors.parse(lastEventId, "Last-Event-ID")
            : Cursors.parse(ctx.request().getParam("after"), "after");
    boolean snapshotJoin = Cursors.flag(ctx.request().getParam("snapshot"), "snapshot");
    snapshot(ctx, Scope.WATCH, "watch generations")
        .map(snapshot -> Cursors.checkWithin(cursor, snapshot))
        .onSuccess(
            snapshot -> {
              HttpServerResponse response = ctx.response();
              if (snapshot.terminal() != null && cursor >= snapshot.terminal().seq()) {
                // The client has everything, the end included; 204 also tells an EventSource not to
                // reconnect.
                response
                    .setStatusCode(204)
                    .putHeader("X-Generation-Id", snapshot.info().id())
                    .end();
                return;
              }
              SseOutput.prepare(response, snapshot.info().id());
              response.write("retry: 1000\n\n");
              SseOutput<GenerationEvent> output = new SseOutput<>(streams, ctx, WireFormat.SSE);
              output.watch(streams.generation(snapshot.info(), cursor, snapshotJoin, output));
            })
        .onFailure(ctx::fail);
  }

  /**
   * {@code POST /v1/generations/{id}/cancel}: 200 with the final status, 409 if it had already
   * ended.
   */
  void cancel(RoutingContext ctx) {
    String id = ctx.pathParam("id");
    snapshot(ctx, Scope.GENERATE, "cancel generations")
        .compose(
            before -> {
              if (before.status() != GenerationStatus.RUNNING) {
                return Future.failedFuture(finished(before));
              }
              return generations
                  .cancel(id)
                  .recover(
                      e ->
                          GenerationClient.noOwner(e)
                              ? Future
                                  .succeededFuture() // it ended meanwhile: the status below tells
                              // how
                              : Future.failedFuture(e));
            })
        .compose(v -> snapshot(id))
        .onSuccess(
            after -> {
              if (after.status() != GenerationStatus.CANCELLED) {
                ctx.fail(finished(after));
                return;
              }
              json(ctx.response(), after);
            })
        .onFailure(ctx::fail);
  }

  private static ApiException finished(GenerationSnapshot snapshot) {
    return new ApiException(
        new Failure(
            409,
            "invalid_request_error",
            "generation_finished",
            "Generation "
                + snapshot.info().id()
                + " had already ended with status "
                + snapshot.status().wireName()));
  }

  /**
   * The generation of the path, for a caller who may do {@code what} with it ({@code scope}); a
   * generation of another tenant fails exactly as an unknown one.
   */
  private Future<GenerationSnapshot> snapshot(RoutingContext ctx, Scope scope, String what) {
    Principal caller = Access.caller(ctx);
    Access.mayUseGenerations(caller, scope, what);
    String id = ctx.pathParam("id");
    return store
        .snapshot(id)
        .compose(
            snapshot -> {
              if (snapshot == null) {
                return Access.notFound(store, caller, id);
              }
              return Access.reaches(caller, snapshot.info())
                  ? Future.succeededFuture(snapshot)
                  : Future.failedFuture(Access.generationNotFound(id));
            });
  }

  private Future<GenerationSnapshot> snapshot(String id) {
    return store
        .snapshot(id)
        .compose(
            snapshot ->
                snapshot != null
                    ? Future.succeededFuture(snapshot)
                    : Future.failedFuture(Access.generationNotFound(id)));
  }

  private void json(HttpServerResponse response, GenerationSnapshot snapshot) {
    response
        .putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
        .end(GenerationJson.status(snapshot, streams.viewers(snapshot.info().id())).encode());
  }
}
