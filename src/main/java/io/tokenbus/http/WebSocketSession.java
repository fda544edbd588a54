package io.tokenbus.http;

import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code /v1/ws} socket: watches any number of generations at once (up to the limit), each a
 * {@link Viewer} of its own sharing the socket's write queue. Client frames: {@code subscribe},
 * {@code unsubscribe}, {@code generate}, {@code cancel}. A frame that is not valid gets an
 * {@code error} frame without {@code seq} and the socket stays open.
 */
final class WebSocketSession implements Heartbeats.Beating {

  private final ServerWebSocket socket;
  private final GenerationClient generations;
  private final GenerationStore store;
  private final FanOut fanOut;
  private final TokenbusConfig config;
  private final Heartbeats heartbeats;
  private final Map<String, Viewer> subscriptions = new HashMap<>();
  private final List<Runnable> waitingForDrain = new ArrayList<>();
  /** {@code generate} frames whose generation has not started yet: they hold a subscription slot. */
  private int starting;

  WebSocketSession(ServerWebSocket socket, GenerationClient generations, GenerationStore store, FanOut fanOut,
                   TokenbusConfig config, Heartbeats heartbeats) {
    this.socket = socket;
    this.generations = generations;
    this.store = store;
    this.fanOut = fanOut;
    this.config = config;
    this.heartbeats = heartbeats;
  }

  void start() {
    socket.setWriteQueueMaxSize(config.viewer().writeQueueBytes());
    socket.textMessageHandler(this::onText);
    socket.binaryMessageHandler(b -> error(null, "invalid_frame", "Binary frames are not supported; send JSON text frames"));
    socket.drainHandler(v -> {
      List<Runnable> actions = new ArrayList<>(waitingForDrain);
      waitingForDrain.clear();
      actions.forEach(Runnable::run);
    });
    socket.closeHandler(v -> {
      heartbeats.remove(this);
      new ArrayList<>(subscriptions.values()).forEach(Viewer::close);
      subscriptions.clear();
    });
    socket.exceptionHandler(e -> socket.close());
    heartbeats.add(this);
  }

  @Override
  public void beat() {
    if (!socket.isClosed() && !socket.writeQueueFull()) {
      socket.writePing(Buffer.buffer());
    }
  }

  private void onText(String text) {
    JsonObject frame;
    try {
      frame = new JsonObject(text);
    } catch (DecodeException | ClassCastException e) {
      error(null, "invalid_frame", "Frames must be JSON objects");
      return;
    }
    Object type = frame.getValue("type");
    if (!(type instanceof String)) {
      error(null, "invalid_frame", "A frame needs a string 'type': subscribe, unsubscribe, generate or cancel");
      return;
    }
    switch ((String) type) {
      case "subscribe" -> subscribe(frame);
      case "unsubscribe" -> unsubscribe(frame);
      case "generate" -> generate(frame);
      case "cancel" -> cancel(frame);
      default -> error(null, "invalid_frame", "Unknown frame type '" + type + "': expected subscribe, unsubscribe, generate or cancel");
    }
  }

  private void subscribe(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    long cursor;
    boolean snapshot;
    try {
      Object after = frame.getValue("after");
      cursor = after == null ? 0 : Cursors.parse(after instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
          ? String.valueOf(n.longValue()) : String.valueOf(after), "after");
      Object flag = frame.getValue("snapshot");
      if (flag != null && !(flag instanceof Boolean)) {
        throw ApiException.badRequest("invalid_snapshot", "snapshot must be true or false", "snapshot");
      }
      snapshot = Boolean.TRUE.equals(flag);
    } catch (ApiException e) {
      error(id, e.failure().code(), e.getMessage());
      return;
    }
    if (!reserve(id)) {
      return;
    }
    store.snapshot(id).onComplete(ar -> {
      if (ar.failed() || ar.result() == null) {
        subscriptions.remove(id);
        error(id, "generation_not_found", "No generation with id '" + id + "' (unknown or expired)");
        return;
      }
      try {
        Cursors.checkWithin(cursor, ar.result());
      } catch (ApiException e) {
        subscriptions.remove(id);
        error(id, e.failure().code(), e.getMessage());
        return;
      }
      if (ar.result().terminal() != null && cursor >= ar.result().terminal().seq()) {
        subscriptions.remove(id); // the client already has everything, the end included
        return;
      }
      watch(ar.result().info(), cursor, snapshot);
    });
  }

  /** Claims a subscription slot for {@code id}; false (after an error frame) if taken or full. */
  private boolean reserve(String id) {
    if (subscriptions.containsKey(id)) {
      error(id, "already_subscribed", "This socket already watches generation '" + id + "'");
      return false;
    }
    if (full(id)) {
      return false;
    }
    subscriptions.put(id, null);
    return true;
  }

  /** True (after an error frame) when no subscription slot is free. */
  private boolean full(String id) {
    if (subscriptions.size() + starting >= config.websocket().maxSubscriptions()) {
      error(id, "too_many_subscriptions", "This socket already watches " + (subscriptions.size() + starting)
          + " generations (websocket.max-subscriptions)");
      return true;
    }
    return false;
  }

  private void watch(GenerationInfo info, long cursor, boolean snapshot) {
    if (socket.isClosed() || !subscriptions.containsKey(info.id())) {
      return;
    }
    Viewer viewer = new Viewer(fanOut, info, cursor, snapshot, new Subscription(info.id()));
    subscriptions.put(info.id(), viewer);
    viewer.start();
  }

  private void unsubscribe(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    if (!subscriptions.containsKey(id)) {
      error(id, "not_subscribed", "This socket does not watch generation '" + id + "'");
      return;
    }
    Viewer viewer = subscriptions.remove(id);
    if (viewer != null) {
      viewer.close();
    }
  }

  private void generate(JsonObject frame) {
    if (!(frame.getValue("request") instanceof JsonObject body)) {
      error(null, "invalid_frame", "generate needs a 'request' object: a Chat Completions request body");
      return;
    }
    Future<GenerationInfo> started;
    try {
      io.tokenbus.bus.GenerationRequest request = ChatRequests.parse(body);
      if (full(null)) {
        return; // refuse before starting: a generation nobody watches would only burn tokens
      }
      started = generations.start(request);
    } catch (ApiException e) {
      error(null, e.failure().code(), e.getMessage());
      return;
    }
    starting++;
    started.onComplete(ar -> starting--).onSuccess(info -> {
      if (socket.isClosed()) {
        return;
      }
      socket.writeTextMessage(new JsonObject().put("type", "started").put("generation", info.id()).encode());
      subscriptions.put(info.id(), null);
      watch(info, 0, false);
    }).onFailure(e -> error(null, e instanceof ApiException api ? api.failure().code() : "internal_error", e.getMessage()));
  }

  private void cancel(JsonObject frame) {
    String id = generationId(frame);
    if (id == null) {
      return;
    }
    generations.cancel(id).onFailure(e -> {
      if (GenerationClient.noOwner(e)) {
        store.info(id).onComplete(ar -> error(id, ar.succeeded() && ar.result() != null ? "generation_finished" : "generation_not_found",
            ar.succeeded() && ar.result() != null ? "Generation '" + id + "' has already ended" : "No generation with id '" + id + "'"));
      } else {
        error(id, "cancel_failed", "Could not cancel generation '" + id + "': " + e.getMessage());
      }
    });
  }

  private String generationId(JsonObject frame) {
    if (frame.getValue("generation") instanceof String id && !id.isBlank()) {
      return id;
    }
    error(null, "invalid_frame", "'" + frame.getValue("type") + "' needs a string 'generation'");
    return null;
  }

  /** A protocol error: it has no {@code seq}, which tells it apart from a generation's terminal {@code error} event. */
  private void error(String generation, String code, String message) {
    if (socket.isClosed()) {
      return;
    }
    JsonObject frame = new JsonObject().put("type", "error").put("code", code).put("message", message);
    if (generation != null) {
      frame.put("generation", generation);
    }
    socket.writeTextMessage(frame.encode());
  }

  /** One generation watched over this socket. */
  private final class Subscription implements ViewerOutput {
    private final String generation;

    Subscription(String generation) {
      this.generation = generation;
    }

    @Override
    public WireFormat format() {
      return WireFormat.WEBSOCKET;
    }

    @Override
    public boolean writeQueueFull() {
      return socket.writeQueueFull();
    }

    @Override
    public void write(Encoded events) {
      if (socket.isClosed()) {
        return;
      }
      for (int i = 0; i < events.size(); i++) {
        socket.writeTextMessage(events.text(i));
      }
    }

    @Override
    public void onDrain(Runnable action) {
      waitingForDrain.add(action);
    }

    @Override
    public void end() {
      subscriptions.remove(generation);
    }

    @Override
    public void abort(String reason) {
      subscriptions.remove(generation);
      if (reason.equals("stalled")) {
        // The whole socket is stuck: close it so the client reconnects and resubscribes with 'after'.
        socket.close((short) 1013, "stalled; resubscribe with 'after'");
      } else {
        error(generation, "subscription_lost", "Stopped watching generation '" + generation + "': " + reason);
      }
    }
  }
}
