package io.tokenbus.http;

import io.tokenbus.bus.Failure;
import io.tokenbus.config.TokenbusConfig;
import io.tokenbus.session.SessionEncoder;
import io.tokenbus.session.EncodedSessionEvent;
import io.tokenbus.session.SessionHub;
import io.tokenbus.session.SessionOutput;
import io.tokenbus.session.SessionState;
import io.tokenbus.session.SessionViewer;
import io.tokenbus.session.Sessions;
import io.tokenbus.fanout.Encoded;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.fanout.WireFormat;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationStore;
import io.vertx.core.Future;
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
 * {@code unsubscribe}, {@code generate}, {@code cancel}; and for chat sessions {@code join},
 * {@code leave} and {@code typing} (a joined session's events come as frames with {@code session}
 * and {@code seq}). A frame that is not valid gets an {@code error} frame without {@code seq} and
 * the socket stays open.
 */
final class WebSocketSession {

  private final ServerWebSocket socket;
  /** The socket's output: frames encoded once per node, written whole; its queue, drain and heartbeats. */
  private final ConnectionWriter writer;
  private final GenerationClient generations;
  private final GenerationStore store;
  private final FanOut fanOut;
  private final TokenbusConfig config;
  private final Map<String, Viewer> subscriptions = new HashMap<>();
  private final Sessions sessions;
  private final SessionHub sessionHub;
  /** Joined sessions: their viewers, and the name each was joined under. */
  private final Map<String, SessionViewer> joined = new HashMap<>();
  private final Map<String, String> joinedAs = new HashMap<>();
  /** {@code generate} frames whose generation has not started yet: they hold a subscription slot. */
  private int starting;

  WebSocketSession(ServerWebSocket socket, GenerationClient generations, GenerationStore store, FanOut fanOut,
                   TokenbusConfig config, Heartbeats heartbeats, Sessions sessions, SessionHub sessionHub) {
    this.socket = socket;
    this.writer = ConnectionWriter.webSocket(socket, config.viewer().writeQueueBytes(), heartbeats);
    this.sessions = sessions;
    this.sessionHub = sessionHub;
    this.generations = generations;
    this.store = store;
    this.fanOut = fanOut;
    this.config = config;
  }

  void start() {
    socket.textMessageHandler(this::onText);
    socket.binaryMessageHandler(b -> error(null, "invalid_frame", "Binary frames are not supported; send JSON text frames"));
    socket.closeHandler(v -> {
      writer.stop();
      new ArrayList<>(subscriptions.values()).forEach(Viewer::close);
      subscriptions.clear();
      new ArrayList<>(joined.keySet()).forEach(this::leaveSession);
    });
    socket.exceptionHandler(e -> socket.close());
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
      case "join" -> join(frame);
      case "leave" -> {
        if (frame.getValue("session") instanceof String session && joined.containsKey(session)) {
          leaveSession(session);
        } else {
          error(null, "invalid_frame", "'leave' needs the 'session' of a session this socket joined");
        }
      }
      case "typing" -> {
        if (frame.getValue("session") instanceof String session && joinedAs.containsKey(session)) {
          sessions.typing(session, joinedAs.get(session));
        } else {
          error(null, "invalid_frame", "'typing' needs the 'session' of a session this socket joined");
        }
      }
      default -> error(null, "invalid_frame", "Unknown frame type '" + type + "': expected subscribe, unsubscribe, generate, "
          + "cancel, join, leave or typing");
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

  /** Generations watched or starting and sessions joined: each takes one of websocket.max-subscriptions. */
  private int watching() {
    return subscriptions.size() + starting + joined.size();
  }

  /** True (after an error frame) when no subscription slot is free. */
  private boolean full(String id) {
    if (watching() >= config.websocket().maxSubscriptions()) {
      error(id, "too_many_subscriptions", "This socket already watches " + watching()
          + " generations and sessions (websocket.max-subscriptions)");
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

  /**
   * {@code {"type": "join", "session", "author", "after"}}: follows a chat session (the state first
   * without {@code after}), present as {@code author} while the socket is open.
   */
  private void join(JsonObject frame) {
    if (!(frame.getValue("session") instanceof String session) || session.isBlank()) {
      error(null, "invalid_frame", "'join' needs a string 'session'");
      return;
    }
    if (!(frame.getValue("author") instanceof String author) || author.isBlank() || author.length() > 64
        || author.chars().anyMatch(Character::isISOControl)) {
      sessionError(session, "invalid_author", "'author' (a display name) is required: 1 to 64 characters, no control characters");
      return;
    }
    if (joined.containsKey(session)) {
      sessionError(session, "already_joined", "This socket has already joined session '" + session + "'");
      return;
    }
    if (watching() >= config.websocket().maxSubscriptions()) {
      sessionError(session, "too_many_subscriptions", "This socket already watches " + config.websocket().maxSubscriptions()
          + " generations and sessions (websocket.max-subscriptions)");
      return;
    }
    long after;
    try {
      Object value = frame.getValue("after");
      after = value == null ? -1 : Cursors.parse(value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
          ? String.valueOf(n.longValue()) : String.valueOf(value), "after");
    } catch (ApiException e) {
      sessionError(session, e.failure().code(), e.getMessage());
      return;
    }
    String name = author.trim();
    SessionViewer viewer = new SessionViewer(sessionHub, sessions, session, after, new SessionFrames(session),
        io.vertx.core.Vertx.currentContext()); // frames are handled on the socket's event loop
    joined.put(session, viewer);
    sessions.view(session).compose(view -> {
      if (view == null) {
        return Future.failedFuture(new ApiException(Failure.notFound("session_not_found", "No session '" + session
            + "' (unknown or expired)")));
      }
      if (after > view.seq()) {
        return Future.failedFuture(ApiException.badRequest("invalid_cursor", "The session has no event " + after + " yet", "after"));
      }
      return sessions.presence(session, name, 1).compose(refused -> refused == null ? Future.succeededFuture()
          : Future.failedFuture(new ApiException(refused)));
    }).onComplete(ar -> {
      if (ar.failed()) {
        joined.remove(session, viewer);
        sessionError(session, ar.cause() instanceof ApiException e ? e.failure().code() : "internal_error", ar.cause().getMessage());
        return;
      }
      if (socket.isClosed() || joined.get(session) != viewer) {
        sessions.leave(session, name);
        return;
      }
      joinedAs.put(session, name);
      viewer.start();
    });
  }

  private void leaveSession(String session) {
    SessionViewer viewer = joined.remove(session);
    String name = joinedAs.remove(session);
    if (viewer != null) {
      viewer.close();
    }
    if (name != null) {
      sessions.leave(session, name);
    }
  }

  private void sessionError(String session, String code, String message) {
    if (!socket.isClosed()) {
      socket.writeTextMessage(new JsonObject().put("type", "error").put("code", code).put("message", message)
          .put("session", session).encode());
    }
  }

  /** A joined session's events, as frames on this socket. */
  private final class SessionFrames implements SessionOutput {
    private final String session;

    SessionFrames(String session) {
      this.session = session;
    }

    @Override
    public void state(SessionState.View view) {
      if (!socket.isClosed()) {
        socket.writeTextMessage(SessionEncoder.frameState(view));
      }
    }

    @Override
    public void events(List<EncodedSessionEvent> events) {
      writer.write(EncodedSessionEvent.joined(events, EncodedSessionEvent::frame));
    }

    @Override
    public boolean writeQueueFull() {
      return writer.queueFull();
    }

    @Override
    public void onDrain(Runnable action) {
      writer.whenDrained(action);
    }

    @Override
    public void fail(String reason) {
      leaveSession(session);
      sessionError(session, "session_lost", "Stopped following session '" + session + "': " + reason);
    }
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
      return writer.queueFull();
    }

    @Override
    public void write(Encoded events) {
      writer.write(events); // every frame of the batch, one write
    }

    @Override
    public void onDrain(Runnable action) {
      writer.whenDrained(action);
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
