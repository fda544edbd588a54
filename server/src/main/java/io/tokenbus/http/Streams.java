package io.tokenbus.http;

import io.tokenbus.bus.Addresses;
import io.tokenbus.bus.GenerationEvent;
import io.tokenbus.fanout.FanOut;
import io.tokenbus.fanout.Viewer;
import io.tokenbus.fanout.ViewerOutput;
import io.tokenbus.generation.GenerationInfo;
import io.tokenbus.generation.GenerationSource;
import io.tokenbus.generation.GenerationStore;
import io.tokenbus.session.SessionEvent;
import io.tokenbus.session.SessionSource;
import io.tokenbus.session.Sessions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.ext.web.RoutingContext;

/**
 * Where every stream one HTTP verticle serves begins: the connection writers (each with the
 * configured write queue and this loop's heartbeats) and the viewers of the node's one engine, for
 * generations and chat sessions alike. A new kind of stream, or a check of who may watch what, is
 * added here once rather than in each endpoint.
 */
final class Streams {

  private final FanOut fanOut;
  private final GenerationStore generations;
  private final Sessions sessions;
  private final int writeQueueBytes;
  private final Heartbeats heartbeats;
  private final AccessLog access;

  Streams(
      FanOut fanOut,
      GenerationStore generations,
      Sessions sessions,
      int writeQueueBytes,
      Heartbeats heartbeats,
      AccessLog access) {
    this.access = access;
    this.fanOut = fanOut;
    this.generations = generations;
    this.sessions = sessions;
    this.writeQueueBytes = writeQueueBytes;
    this.heartbeats = heartbeats;
  }

  /** The access log, for the WebSocket connections that begin here. */
  AccessLog access() {
    return access;
  }

  /** The writer of an SSE response. */
  ConnectionWriter sse(RoutingContext ctx) {
    ConnectionWriter writer = ConnectionWriter.sse(ctx.request(), writeQueueBytes, heartbeats);
    AccessLog.streaming(ctx, writer::piped);
    return writer;
  }

  /** The writer of a WebSocket, shared by every stream it carries. */
  ConnectionWriter webSocket(ServerWebSocket socket) {
    return ConnectionWriter.webSocket(socket, writeQueueBytes, heartbeats);
  }

  /**
   * A viewer of a generation from {@code cursor} (merged first if {@code snapshot}); not started.
   */
  Viewer<GenerationEvent> generation(
      GenerationInfo info, long cursor, boolean snapshot, ViewerOutput<GenerationEvent> output) {
    return new Viewer<>(fanOut, new GenerationSource(info, generations), cursor, snapshot, output);
  }

  /** A viewer of a chat session from {@code cursor} (-1: its state first); not started. */
  Viewer<SessionEvent> session(String id, long cursor, ViewerOutput<SessionEvent> output) {
    return new Viewer<>(fanOut, new SessionSource(id, sessions), cursor, false, output);
  }

  /** Viewers of a generation on this node, as its status shows them. */
  int viewers(String generation) {
    return fanOut.viewers(Addresses.events(generation));
  }
}
