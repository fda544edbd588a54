package io.tokenbus.http;

import io.tokenbus.auth.Principal;
import io.tokenbus.auth.Scope;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.bus.GenerationRequest;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSnapshot;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;

/**
 * The generations one WebSocket watches ({@code subscribe}, {@code unsubscribe}), starts ({@code
 * generate}) and stops ({@code cancel}): each watched one is a {@link Viewer} of its own over the
 * socket's writer. Touched only from the socket's event loop.
 */
final class GenerationSubscriptions {

  private static final String KIND = "generation";

  private final WebSocketConnection connection;
  private final GenerationClient generations;
  private final GenerationStore store;
  private final Streams streams;

  /** Watched generations; null while one is being looked up (it holds its slot already). */
  private final Map<String, Viewer<GenerationEvent>> watched = new HashMap<>();

  /** {@code generate} frames whose generation has not started yet: they hold a slot too. */
  private int starting;

  GenerationSubscriptions(
      WebSocketConnection connection,
      GenerationClient generations,
      GenerationStore store,
      Streams streams) {
    this.connection = connection;
    this.generations = generations;
    this.store = store;
    this.streams = streams;
  }

  /** Slots taken: generations watched or starting. */
  int count() {
    return watched.size() + starting;
  }

  /** {@code {"type": "subscribe", "generation", "after", "snapshot"}}. */
  void subscribe(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    long cursor;
    boolean snapshot;
    try {
      Long after = Cursors.parse(frame.getValue("after"), "after");
      cursor = after == null ? 0 : after;
      Object flag = frame.getValue("snapshot");
      if (flag != null && !(flag instanceof Boolean)) {
        throw ApiException.badRequest(
            "invalid_snapshot", "snapshot must be true or false", "snapshot");
      }
      snapshot = Boolean.TRUE.equals(flag);
    } catch (ApiException e) {
      connection.error(KIND, id, e.failure().code(), e.getMessage());
      return;
    }
    if (watched.containsKey(id)) {
      connection.error(
          KIND, id, "already_subscribed", "This socket already watches generation '" + id + "'");
      return;
    }
    Principal caller = connection.caller();
    try {
      Access.mayUseGenerations(caller, Scope.WATCH, "watch generations");
    } catch (ApiException e) {
      connection.error(KIND, id, e.failure().code(), e.getMessage());
      return;
    }
    if (connection.full(KIND, id)) {
      return;
    }
    watched.put(id, null);
    store
        .snapshot(id)
        .compose(
            found ->
                found == null
                    ? Access.<GenerationSnapshot>notFound(store, caller, id)
                    : Future.succeededFuture(found))
        .onComplete(
            ar -> {
              try {
                if (ar.failed() && ar.cause() instanceof ApiException refused) {
                  throw refused;
                }
                if (ar.failed() || !Access.reaches(caller, ar.result().info())) {
                  throw Access.generationNotFound(id);
                }
                Cursors.checkWithin(cursor, ar.result());
              } catch (ApiException e) {
                watched.remove(id);
                connection.error(KIND, id, e.failure().code(), e.getMessage());
                return;
              }
              if (ar.result().terminal() != null && cursor >= ar.result().terminal().seq()) {
                watched.remove(id); // the client already has everything, the end included
                return;
              }
              watch(ar.result().info(), cursor, snapshot);
            });
  }

  private void watch(GenerationInfo info, long cursor, boolean snapshot) {
    if (connection.closed() || !watched.containsKey(info.id())) {
      return;
    }
    Viewer<GenerationEvent> viewer =
        streams.generation(info, cursor, snapshot, new Subscription(info.id()));
    watched.put(info.id(), viewer);
    viewer.start();
  }

  /** {@code {"type": "unsubscribe", "generation"}}. */
  void unsubscribe(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    if (!watched.containsKey(id)) {
      connection.error(
          KIND, id, "not_subscribed", "This socket does not watch generation '" + id + "'");
      return;
    }
    Viewer<GenerationEvent> viewer = watched.remove(id);
    if (viewer != null) {
      viewer.close();
    }
  }

  /**
   * {@code {"type": "generate", "request"}}: starts a generation and watches it; {@code started}
   * names it.
   */
  void generate(JsonObject frame) {
    if (!(frame.getValue("request") instanceof JsonObject body)) {
      connection.error(
          null,
          null,
          "invalid_frame",
          "generate needs a 'request' object: a Chat Completions request body");
      return;
    }
    Future<GenerationInfo> started;
    try {
      Principal caller = connection.caller();
      Access.mayStart(caller, Scope.GENERATE, "start generations");
      GenerationRequest request = ChatRequests.parse(body, caller.creator());
      if (connection.full(null, null)) {
        return; // refuse before starting: a generation nobody watches would only burn tokens
      }
      started = generations.startCounted(caller, request);
    } catch (ApiException e) {
      connection.error(null, null, e.failure().code(), e.getMessage());
      return;
    }
    starting++;
    started
        .onComplete(ar -> starting--)
        .onSuccess(
            info -> {
              if (connection.closed()) {
                return;
              }
              connection.send(new JsonObject().put("type", "started").put("generation", info.id()));
              watched.put(info.id(), null);
              watch(info, 0, false);
            })
        .onFailure(
            e ->
                connection.error(
                    null,
                    null,
                    e instanceof ApiException api ? api.failure().code() : "internal_error",
                    e.getMessage()));
  }

  /** {@code {"type": "cancel", "generation"}}: stops it for every viewer. */
  void cancel(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    Principal caller = connection.caller();
    try {
      Access.mayUseGenerations(caller, Scope.GENERATE, "cancel generations");
    } catch (ApiException e) {
      connection.error(KIND, id, e.failure().code(), e.getMessage());
      return;
    }
    store
        .info(id)
        .compose(
            info -> {
              if (info == null || !Access.reaches(caller, info)) {
                return Future.failedFuture(Access.generationNotFound(id));
              }
              return generations.cancel(id);
            })
        .onFailure(
            e -> {
              if (e instanceof ApiException refused) {
                connection.error(KIND, id, refused.failure().code(), refused.getMessage());
              } else if (GenerationClient.noOwner(e)) {
                connection.error(
                    KIND, id, "generation_finished", "Generation '" + id + "' has already ended");
              } else {
                connection.error(
                    KIND,
                    id,
                    "cancel_failed",
                    "Could not cancel generation '" + id + "': " + e.getMessage());
              }
            });
  }

  /** The socket closed. */
  void closeAll() {
    new ArrayList<>(watched.values())
        .forEach(
            viewer -> {
              if (viewer != null) {
                viewer.close();
              }
            });
    watched.clear();
  }

  private String generationId(JsonObject frame) {
    if (frame.getValue("generation") instanceof String id && !id.isBlank()) {
      return id;
    }
    connection.error(
        null,
        null,
        "invalid_frame",
        "'" + frame.getValue("type") + "' needs a string 'generation'");
    return null;
  }

  /** One generation watched over this socket. */
  private final class Subscription extends WriterOutput<GenerationEvent> {
    private final String generation;

    Subscription(String generation) {
      super(connection.writer(), WireFormat.WEBSOCKET);
      this.generation = generation;
    }

    @Override
    public void end() {
      watched.remove(generation);
    }

    @Override
    public void stalled() {
      watched.remove(generation);
      connection.closeStalled();
    }

    @Override
    public void lost(String reason) {
      watched.remove(generation);
      connection.error(
          KIND,
          generation,
          "subscription_lost",
          "Stopped watching generation '" + generation + "': " + reason);
    }
  }
}
