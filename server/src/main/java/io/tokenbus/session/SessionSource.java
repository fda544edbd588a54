package io.tokenbus.session;

import io.tokenbus.bus.Addresses;
import io.tokenbus.fanout.StreamSource;
import io.tokenbus.fanout.WebSocketFrames;
import io.tokenbus.fanout.WireFormat;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import java.util.List;

/**
 * A chat session as the fan-out carries it: its log in the session store, its batches on {@code
 * tokenbus.session.<id>.events}, SSE events and WebSocket frames ({@link SessionEncoder}). A
 * newcomer gets the whole session ({@code state}) first; one answer's deltas fold together for a
 * viewer that fell behind.
 */
public final class SessionSource implements StreamSource<SessionEvent> {

  private final String id;
  private final Sessions sessions;

  public SessionSource(String id, Sessions sessions) {
    this.id = id;
    this.sessions = sessions;
  }

  @Override
  public String address() {
    return Addresses.sessionEvents(id);
  }

  @Override
  public String id() {
    return id;
  }

  @Override
  public Future<List<SessionEvent>> readAfter(long cursor) {
    return sessions.readAfter(id, cursor);
  }

  @Override
  public Buffer encode(WireFormat format, SessionEvent event) {
    return switch (format) {
      case SSE -> SessionEncoder.sse(id, event);
      case WEBSOCKET -> WebSocketFrames.text(SessionEncoder.frame(id, event));
      default -> throw new IllegalArgumentException("a session has no " + format + " form");
    };
  }

  @Override
  public String foldKey(SessionEvent event) {
    return event.type().equals("delta") ? event.messageId() : null;
  }

  @Override
  public String text(SessionEvent event) {
    return event.text();
  }

  @Override
  public SessionEvent folded(SessionEvent last, String text) {
    return new SessionEvent(
        last.seq(),
        "delta",
        null,
        last.messageId(),
        last.generation(),
        text,
        null,
        null,
        null,
        null);
  }

  @Override
  public String goneReason() {
    return "the session no longer exists";
  }

  /** A newcomer (cursor -1) gets the session's state, and then what comes after it. */
  @Override
  public Future<Start> start(long cursor, WireFormat format) {
    if (cursor >= 0) {
      return Future.succeededFuture(new Start(cursor, null));
    }
    return sessions
        .view(id)
        .compose(
            view ->
                view == null
                    ? Future.failedFuture("no such session")
                    : Future.succeededFuture(
                        new Start(
                            view.seq(),
                            format == WireFormat.SSE
                                ? SessionEncoder.sseState(view)
                                : WebSocketFrames.text(SessionEncoder.frameState(view)))));
  }
}
